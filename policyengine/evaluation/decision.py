"""The public data types at the boundary: requests in, decisions out.

Stage contract: pydantic v2 models, used only at the edge of the engine (the
internal AST and compiled forms are plain Python objects).  A
:class:`Decision` is immutable and complete: the outcome, the deciding
rules with their facts and source lines, the rules they outranked, the rules
that could not be evaluated because a value was unknown, whether the default
applied, the jurisdiction chain and the policy set's version.  Its JSON form
is the contract documented in docs/embedding.md.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

#: A value as decisions carry it: the language's values (docs/semantics.md §2),
#: a date for a `date` attribute and a tuple of texts for a `list of text`.
AttributeValue = bool | float | str | datetime.date | tuple[str, ...] | None


class Outcome(str, enum.Enum):
    """What the platform does: ``comply`` < ``negotiate`` < ``withdraw`` in severity."""

    COMPLY = "comply"
    NEGOTIATE = "negotiate"
    WITHDRAW = "withdraw"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    def __str__(self) -> str:
        return self.value


_SEVERITY = {Outcome.COMPLY: 0, Outcome.NEGOTIATE: 1, Outcome.WITHDRAW: 2}


def show_value(value: AttributeValue) -> str:
    """An attribute value as policy text writes it: ``unknown``, ``true``, ``0.43``, ``1234567``.

    Numbers are shown exactly (shortest round-trip form, whole numbers without
    a fraction): a fact such as ``users = 1234567: > 1000000`` must not be
    rounded into ``1.23457e+06``, which would misstate what was compared.
    """
    if type(value) is str:  # the common case: an enumeration's value
        return value
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return "[" + ", ".join(_quoted(v) for v in value) + "]"
    return str(value)


def _quoted(text: str) -> str:
    """A text inside a list as the policy language writes it: in double quotes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Frozen(BaseModel):
    # defer_build: a model's validator and serialiser are built on its first use, not at import;
    # most processes (a command line's human output) use a few models or none.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Request(_Frozen):
    """A demand made by the authorities of one jurisdiction.

    ``demand`` carries attributes declared in the vocabulary (``kind``,
    ``category``, ``legal_basis``, ``mandatory`` …).  Values are checked
    against the vocabulary by the engine, which names the field and the
    allowed values when one does not fit.
    """

    jurisdiction: str = Field(description="ISO 3166-1 alpha-2 code or group code, e.g. `FR` or `EU`")
    demand: dict[str, AttributeValue] = Field(
        description="demand attributes from the vocabulary, e.g. kind, category, legal_basis"
    )
    as_of: datetime.date | None = Field(
        default=None, description="decide as of this date (`YYYY-MM-DD`); the caller's `as_of`, else today (UTC)"
    )


class Fact(_Frozen):
    """One piece of the request or jurisdiction that made a condition hold."""

    attribute: str = Field(description="e.g. `demand.kind` or `jurisdiction.rule_of_law`")
    value: AttributeValue = Field(description="its value; null when unknown")
    test: str = Field(description="the test it passed, as written in the rule, e.g. `< 0.6`")
    origin: str | None = Field(default=None, description="for a jurisdiction attribute inherited from a group, that group's code")

    def __str__(self) -> str:
        via = f" (from {self.origin})" if self.origin else ""
        return f"{self.attribute} = {show_value(self.value)}{via}: {self.test}"


class Reason(_Frozen):
    """A rule whose condition held, with why."""

    principle: str
    statement: str = Field(description="the principle's one-line statement")
    rule: str
    outcome: Outcome
    because: str = Field(description="the rule's `because` text with attribute values filled in")
    source: str = Field(description="`path:line` of the rule")
    facts: tuple[Fact, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.principle}.{self.rule}"


class Undetermined(_Frozen):
    """A rule that could not be evaluated because a value it tests is unknown."""

    principle: str
    rule: str
    outcome: Outcome = Field(description="the outcome the rule would have given")
    source: str
    unknown: tuple[str, ...] = Field(description="the attributes whose value is unknown")


class Action(_Frozen):
    """Something the platform does with the outcome (XACML's obligations): review, notify, narrow …

    Merged by name over the deciding rules: the shortest deadline wins, and
    ``rule`` names the rule that set it."""

    action: str = Field(description="a value of the vocabulary's `action` enumeration, e.g. `human_review`")
    within_hours: float | None = Field(default=None, description="the deadline in hours; null when none")
    rule: str = Field(
        description="`principle.rule` that asked for it, or `policyengine.default` / `policyengine.unknown_jurisdiction`"
    )


class Claim(_Frozen):
    """The authority's label and the platform's assessment, when they differ, and which one decided."""

    assessed: str = Field(description="`demand.category`: the platform's assessment")
    claimed: str = Field(description="`demand.claimed_category`: the authority's own label")
    decisive: str = Field(description="the label whose decision was taken (the more protective; the assessment on a tie)")


class Decision(_Frozen):
    """The engine's answer for one demand."""

    outcome: Outcome
    jurisdiction: str
    demand: str | None = Field(default=None, description="the standing demand's id, when one was decided")
    summary: str = Field(description="one line a person can read")
    reasons: tuple[Reason, ...] = Field(description="the deciding rules: every match with the most severe outcome")
    outranked: tuple[Reason, ...] = Field(default=(), description="matching rules with a less severe outcome")
    undetermined: tuple[Undetermined, ...] = Field(default=(), description="rules not evaluated for lack of a value")
    default_applied: bool = Field(description="no rule matched, so the default (negotiate) applied")
    jurisdiction_chain: tuple[str, ...] = Field(
        default=(), description="the jurisdiction and the groups it inherits from, e.g. FR, EU"
    )
    request: dict[str, AttributeValue] = Field(
        default_factory=dict, description="the demand attributes decided, defaults applied"
    )
    policy_version: str = Field(description="content hash of the policy set that decided")
    source_root: str | None = Field(
        default=None,
        description="the directory (absolute) that every `source` path is relative to; set by the command line, "
        "null from the API (whose caller knows where its set lives)",
    )
    decision_id: str | None = Field(
        default=None, description="the id of the decision's journal entry (a UUIDv7) when a journal recorded it"
    )
    as_of: datetime.date = Field(description="the date the demand was decided as of")
    actions: tuple[Action, ...] = Field(default=(), description="what goes with the outcome, sorted by action; empty when none")
    claim: Claim | None = Field(default=None, description="the authority's label and the assessment, when they differ")
    considered: tuple[str, ...] = Field(
        default=(), description="for the default decision: the principles whose rules were considered and did not match"
    )
    jurisdiction_known: bool = Field(
        default=True, description="false for a well-formed code the policy set does not define (every attribute unknown)"
    )


class ContextDemand(_Frozen):
    """A standing demand that does not count for the market, and why."""

    demand: str
    reason: str = Field(description="e.g. `made of another platform`, `proposed, not law`, `lifted 2018-04-13`")


class MarketDecision(_Frozen):
    """A jurisdiction as a market: every standing demand and the overall outcome."""

    jurisdiction: str
    name: str
    outcome: Outcome
    summary: str
    decisive: tuple[str, ...] = Field(description="ids of the standing demands that set the market outcome")
    decisions: tuple[Decision, ...] = Field(description="every standing demand's decision, counted or not")
    jurisdiction_chain: tuple[str, ...] = ()
    policy_version: str
    source_root: str | None = Field(default=None, description="as in `Decision`: what `source` paths are relative to")
    as_of: datetime.date = Field(description="the date the market was decided as of")
    counted: tuple[str, ...] = Field(
        default=(), description="ids of the standing demands in force and addressed to this platform"
    )
    context: tuple[ContextDemand, ...] = Field(default=(), description="the other standing demands, with why they do not count")


M = TypeVar("M", bound=BaseModel)


def trusted_constructor(cls: type[M]) -> Callable[..., M]:
    """A constructor of ``cls`` that skips validation, for values the engine already checked.

    Why: on a decision that is not memoised (``memo=False``, or a request
    shape never seen before), validating the finished ``Decision`` and its
    ``Reason`` objects again was a large share of the work, although every
    value in them comes from a checked request or the compiled set.  The
    object built is the one validation would build (same ``__dict__`` in
    field order, same ``model_fields_set``, no extra, no private state), so
    equality, ``repr``, ``model_dump`` and JSON are identical:
    ``tests/test_decision_build.py`` compares the two on every field of
    every model built this way.  ``pydantic.BaseModel.model_construct`` does
    the same but walks the fields in Python and is slower than validating.
    Never use it for caller input.
    """
    fields = cls.model_fields
    defaults: dict[str, Any] = {n: None if f.default_factory else f.default for n, f in fields.items()}
    factories = tuple((n, f.default_factory) for n, f in fields.items() if f.default_factory is not None)
    new = object.__new__
    setattr_ = object.__setattr__

    def build(**values: Any) -> M:
        model = new(cls)
        state = {**defaults, **values}
        for name, factory in factories:
            if name not in values:
                state[name] = factory()  # type: ignore[call-arg]
        setattr_(model, "__dict__", state)
        setattr_(model, "__pydantic_fields_set__", set(values))
        setattr_(model, "__pydantic_extra__", None)
        setattr_(model, "__pydantic_private__", None)
        return model

    return build


def decision_of(
    outcome: Outcome,
    jurisdiction: str,
    demand: str | None,
    summary: str,
    reasons: tuple[Reason, ...],
    outranked: tuple[Reason, ...],
    undetermined: tuple[Undetermined, ...],
    default_applied: bool,
    jurisdiction_chain: tuple[str, ...],
    request: dict[str, AttributeValue],
    policy_version: str,
    as_of: datetime.date,
    actions: tuple[Action, ...],
    claim: Claim | None,
    considered: tuple[str, ...],
    jurisdiction_known: bool,
    given: frozenset[str],
) -> Decision:
    """The engine's own :class:`Decision` constructor: every field by position, ``given`` the fields set.

    Why: this is the last step of every decision that is not memoised, and
    building it through keyword arguments merged with the defaults (as
    :func:`trusted_constructor` does) was a fifth of such a decision on the
    peer workload.  A call site passes the names it means as given (a
    constant per call site), so the object is the one validation builds from
    those keyword arguments (``tests/test_decision_build.py``)."""
    decision = _new(Decision)
    _setattr(
        decision,
        "__dict__",
        {
            "outcome": outcome,
            "jurisdiction": jurisdiction,
            "demand": demand,
            "summary": summary,
            "reasons": reasons,
            "outranked": outranked,
            "undetermined": undetermined,
            "default_applied": default_applied,
            "jurisdiction_chain": jurisdiction_chain,
            "request": request,
            "policy_version": policy_version,
            "source_root": None,
            "decision_id": None,
            "as_of": as_of,
            "actions": actions,
            "claim": claim,
            "considered": considered,
            "jurisdiction_known": jurisdiction_known,
        },
    )
    _setattr(decision, "__pydantic_fields_set__", set(given))
    _setattr(decision, "__pydantic_extra__", None)
    _setattr(decision, "__pydantic_private__", None)
    return decision


_new = object.__new__
_setattr = object.__setattr__


def trusted_copy(model: M, **changes: Any) -> M:
    """``model.model_copy(update=changes)`` for values the engine already checked.

    Why: pydantic's copy goes through ``copy.copy`` of the whole object and
    its state, a large share of a decision the shape memo otherwise makes for
    the price of a copy.  The result is the same object: the fields as
    ``model``'s with ``changes`` applied, the changed names added to the
    fields set (``tests/test_decision_build.py`` compares the two)."""
    copied = object.__new__(type(model))
    setattr_ = object.__setattr__
    setattr_(copied, "__dict__", {**model.__dict__, **changes})
    setattr_(copied, "__pydantic_fields_set__", model.__pydantic_fields_set__ | changes.keys())
    setattr_(copied, "__pydantic_extra__", None)
    setattr_(copied, "__pydantic_private__", None)
    return copied


def reason_maker(
    principle: str, statement: str, rule: str, outcome: Outcome, source: str
) -> Callable[[str, tuple[Fact, ...]], Reason]:
    """A trusted constructor of one rule's :class:`Reason`s, given its ``because`` text and facts.

    Why: a rule's Reason differs from one decision to the next only in those
    two fields; with the others bound once, building one is a dict display
    instead of merging keyword arguments with defaults (the explanation is a
    large share of a decision that is not memoised).  The object is the one
    :func:`trusted_constructor` builds with every field given, held to
    validation by ``tests/test_decision_build.py``."""
    new = object.__new__
    setattr_ = object.__setattr__
    names = tuple(Reason.model_fields)

    def make(because: str, facts: tuple[Fact, ...]) -> Reason:
        reason = new(Reason)
        setattr_(
            reason,
            "__dict__",
            {
                "principle": principle,
                "statement": statement,
                "rule": rule,
                "outcome": outcome,
                "because": because,
                "source": source,
                "facts": facts,
            },
        )
        setattr_(reason, "__pydantic_fields_set__", set(names))
        setattr_(reason, "__pydantic_extra__", None)
        setattr_(reason, "__pydantic_private__", None)
        return reason

    return make


#: Trusted constructors for the engine's hot path (see :func:`trusted_constructor`).
build_decision = trusted_constructor(Decision)
build_reason = trusted_constructor(Reason)
build_undetermined = trusted_constructor(Undetermined)
build_claim = trusted_constructor(Claim)
build_fact = trusted_constructor(Fact)
build_action = trusted_constructor(Action)
build_context = trusted_constructor(ContextDemand)
build_market = trusted_constructor(MarketDecision)


# --- what-if: computed by policyengine.analysis.whatif, returned by Engine.what_if ---


class ChangedAttribute(_Frozen):
    """One demand attribute set to other values."""

    attribute: str = Field(description="e.g. `demand.legal_basis`")
    values: tuple[AttributeValue, ...] = Field(
        description="values with this effect; for a number, one value from each class of numbers with this effect"
    )
    description: str = Field(description="as an author writes it, e.g. `legal_basis = court_order` or `category in {a, b}`")


class Change(_Frozen):
    """A change of one or two attributes and the decision it leads to."""

    attributes: tuple[ChangedAttribute, ...]
    outcome: Outcome
    decided_by: tuple[str, ...] = Field(description="`principle.rule` of the deciding rules; empty when the default applies")
    default_applied: bool
    summary: str = Field(description="e.g. `would comply if legal_basis = court_order (by lawful_access.court_order)`")


class Alternative(_Frozen):
    """Every smallest change that leads to one outcome."""

    outcome: Outcome
    attributes_changed: int = Field(description="1 or 2 attributes per change; 0 when no change of one or two leads here")
    changes: tuple[Change, ...]


class WhatIf(_Frozen):
    """A decision and the smallest changes that would change its outcome, by outcome."""

    decision: Decision
    alternatives: tuple[Alternative, ...] = Field(description="one per outcome other than the decision's, comply to withdraw")
    incomplete: str | None = Field(
        default=None,
        description="set when the search stopped at its budget (analysis incomplete: …): other changes may exist",
    )

    def alternative(self, outcome: Outcome | str) -> Alternative | None:
        wanted = Outcome(outcome)
        return next((a for a in self.alternatives if a.outcome is wanted), None)
