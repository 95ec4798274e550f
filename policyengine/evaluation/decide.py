"""Compiled policy + request → :class:`~policyengine.evaluation.decision.Decision`.

Stage contract: the hot path.  :class:`Decider` takes a request, has it
checked by :mod:`~policyengine.evaluation.requests` (which raises
:class:`~policyengine.evaluation.requests.RequestError` for a bad one),
evaluates the rules that :class:`~policyengine.evaluation.compile.RuleIndex`
says can apply, and explains the result with explanations compiled once per
rule.  No parsing, no validation of policy files, no rendering, no I/O.  The
market rule is :mod:`~policyengine.evaluation.market`; every table kept
between decisions is a :class:`~policyengine.evaluation.memo.Memo`.

Semantics (docs/semantics.md is the long form):

* every rule whose condition is true matches; the outcome is the most severe
  match (withdraw > negotiate > comply); all matches with that outcome are
  the reasons, the others are listed as outranked;
* no match → negotiate, with ``default_applied``;
* a condition that is unknown (it needs a value nobody knows) does not match,
  and the rule is listed as undetermined with the unknown attributes;
* everything is sorted by ``principle.rule``, so neither the order of files
  nor that of rules can change a decision or its explanation.

The explanation of a decision depends only on the jurisdiction and the demand
attributes, so decisions are memoised per (jurisdiction, attributes): a
repeated request costs a dictionary lookup.  Only requests that passed every
check enter a memo, whatever the path they came by (a dict, a ``Request``, a
standing demand).
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..language import ast
from ..language.diagnostics import did_you_mean
from ..language.model import DemandModel, JurisdictionModel, Value
from ..language.source import Source, Span
from .codes import JurisdictionCodes
from .compile import Candidates, CompiledPolicy, CompiledRule, compile_condition, condition_refs, literal_value
from .decision import (
    Action,
    AttributeValue,
    Claim,
    Decision,
    Fact,
    MarketDecision,
    Outcome,
    Reason,
    Request,
    Undetermined,
    build_action,
    build_claim,
    build_fact,
    build_reason,
    build_undetermined,
    decision_of,
    reason_maker,
    show_value,
    trusted_copy,
)
from .market import market_outcome
from .memo import Memo
from .requests import (
    DECLINED,
    JURISDICTION,
    STANDING_ID,
    DemandChecks,
    RequestError,
    normalize_demand,
    parse_request,
    split_request,
)

#: The demand attributes of a claim: the platform's assessment and the authority's label.
ASSESSED = "category"
CLAIMED = "claimed_category"

# Importable from here for the callers written before requests.py existed
# (analysis.whatif, analysis.testing, analysis.matrix).
__all__ = ["Decider", "Explanations", "RequestError", "evaluate", "normalize_demand", "parse_request", "unknown_jurisdiction"]

#: Most memoised decisions per engine (and decisions of bare demand shapes);
#: a full memo is emptied and refills (:class:`~policyengine.evaluation.memo.Memo`).
CACHE_SIZE = 100_000
#: Most memoised decisions whose JSON is kept (``Decider.to_json``).
JSON_CACHE_SIZE = 50_000
#: Most memoised Reason/Undetermined objects per engine.
REASON_CACHE_SIZE = 100_000
#: Facts kept per atom: enumerations have a handful of values, numbers may not.
FACTS_PER_ATOM = 256
#: Unknown jurisdiction codes whose "did you mean" is kept: computing it
#: compares the code with every loaded one (difflib), ten times the cost of
#: a whole decision, and a code that is not loaded is usually seen again.
HINT_CACHE_SIZE = 4_096

#: Distinct (assessed, claimed, decisive) labels whose Claim object is shared.
CLAIM_CACHE_SIZE = 4_096
#: Candidate lists whose default summary is kept (one per jurisdiction and kind in use).
CONSIDERED_CACHE_SIZE = 100_000
_NO_MATCH = "negotiate: no rule matched this demand, so a person reviews it"

_OUTCOMES = {"comply": Outcome.COMPLY, "negotiate": Outcome.NEGOTIATE, "withdraw": Outcome.WITHDRAW}
ENGINE_SOURCE = "<engine>"


# --- compiled explanations ---------------------------------------------------------------
#
# A rule's explanation (its facts and its `because` text) is compiled once,
# on first use, into closures over (demand, jurisdiction attributes): explaining
# a match then walks no AST, describes no test again and builds no
# environment of dotted names.  tests/reference_evaluator.py is the plain
# definition these are held to.  Facts are immutable values: each atom keeps
# the few it has produced (one per value and origin) and hands the same object
# out again.

_FactsFn = Callable[[Mapping[str, Value], Mapping[str, Value], Mapping[str, str], list[Fact]], None]
_BecauseFn = Callable[[Mapping[str, Value], Mapping[str, Value]], str]


def describe_test(node: ast.Condition, negated: bool = False) -> str:
    """The test an atom applies, as an author would write it (``in {a, b}``, ``< 0.6``)."""
    if isinstance(node, ast.Comparison):
        op = node.op
        if negated:
            op = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}[op]
        return f"{op} {show_value(literal_value(node.value))}"
    if isinstance(node, ast.Membership):
        inside = ", ".join(show_value(literal_value(v)) for v in node.values)
        return f"{'not in' if node.negated != negated else 'in'} {{{inside}}}"
    if isinstance(node, ast.KnownTest):
        return f"is {'known' if node.known != negated else 'unknown'}"
    return "is false" if negated else "is true"


def _compile_facts(node: ast.Condition, negated: bool = False) -> _FactsFn:
    """A closure over (demand, jurisdiction, origins, out) that appends the facts
    of the atoms that make ``node`` evaluate to ``not negated``."""
    if isinstance(node, ast.Not):
        return _compile_facts(node.operand, not negated)
    if isinstance(node, (ast.AllOf, ast.AnyOf)):
        parts = tuple(_compile_facts(op, negated) for op in node.operands)
        # An `and` that holds needs all its parts; an `or` that holds, the
        # parts that hold.  Negated, the roles swap (De Morgan).
        if isinstance(node, ast.AllOf) != negated:

            def every_part(d: Mapping[str, Value], j: Mapping[str, Value], origins: Mapping[str, str], out: list[Fact]) -> None:
                for part in parts:
                    part(d, j, origins, out)

            return every_part
        truths = tuple(compile_condition(op) for op in node.operands)
        want_part = not negated

        def parts_that_hold(d: Mapping[str, Value], j: Mapping[str, Value], origins: Mapping[str, str], out: list[Fact]) -> None:
            for truth, part in zip(truths, parts):
                if truth(d, j) is want_part:
                    part(d, j, origins, out)

        return parts_that_hold
    ref = node.ref
    dotted, name, on_demand = ref.dotted, ref.name, ref.scope == "demand"
    test = describe_test(node, negated)
    want = not negated
    facts: Memo[tuple[type, Value, str | None], Fact] = Memo(FACTS_PER_ATOM)
    holds = compile_condition(node)  # the atom alone, without re-reading the AST

    def atom(d: Mapping[str, Value], j: Mapping[str, Value], origins: Mapping[str, str], out: list[Fact]) -> None:
        value = (d if on_demand else j).get(name)
        if holds(d, j) is not want:
            return
        origin = origins.get(dotted) or None
        key = (type(value), value, origin)  # the type too: True == 1
        fact = facts.get(key)
        if fact is None:
            fact = facts.put(key, build_fact(attribute=dotted, value=value, test=test, origin=origin))
        out.append(fact)

    return atom


def _compile_because(template: ast.Template) -> _BecauseFn:
    """A rule's `because` text as a closure over (demand, jurisdiction)."""
    parts = tuple(p if isinstance(p, str) else (p.ref.scope == "demand", p.ref.name) for p in template.parts)
    if all(isinstance(p, str) for p in parts):
        text = "".join(parts)  # type: ignore[arg-type]
        return lambda d, j: text

    def fill(d: Mapping[str, Value], j: Mapping[str, Value]) -> str:
        return "".join([p if type(p) is str else show_value((d if p[0] else j).get(p[1])) for p in parts])

    return fill


class Explanations:
    """The compiled explanations of one policy set and the memos of what they built.

    One per engine.  The closures of a rule and the origins of a jurisdiction
    are keyed by the policy set (so their memos are sized to hold them all);
    Reasons and Undetermined objects are keyed by request values, so that
    memo is bounded, and off with ``memo=False``.
    """

    __slots__ = ("_considered", "_origins", "_reasons", "_rules")

    def __init__(self, compiled: CompiledPolicy, memo: bool = True):
        self._rules: Memo[int, tuple[_FactsFn, _BecauseFn, Callable[[str, tuple[Fact, ...]], Reason]]] = Memo(len(compiled.rules))
        self._origins: Memo[str, dict[str, str]] = Memo(len(compiled.jurisdictions))
        #: id(candidate list) → (the list, its principles, the default summary).
        self._considered: Memo[int, tuple[Candidates, tuple[str, ...], str]] = Memo(CONSIDERED_CACHE_SIZE)
        self._reasons: Memo[tuple[Any, ...], Any] | None = Memo(REASON_CACHE_SIZE) if memo else None

    def _compiled(self, rule: CompiledRule) -> tuple[_FactsFn, _BecauseFn, Callable[[str, tuple[Fact, ...]], Reason]]:
        found = self._rules.get(rule.index)
        if found is None:
            m = rule.model
            make = reason_maker(m.principle, m.statement, m.rule, _OUTCOMES[m.outcome], rule.source)
            found = self._rules.put(rule.index, (_compile_facts(m.condition), _compile_because(m.because), make))
        return found

    def considered(self, candidates: Candidates) -> tuple[tuple[str, ...], str]:
        """The principles a default decision considered, and its summary when no rule was undetermined.

        Both depend only on the candidate list, which the index keeps for the
        life of the policy set, so they are made once per list (the entry
        holds the list, so its id is not reused while the entry lives)."""
        found = self._considered.get(id(candidates))
        if found is None or found[0] is not candidates:
            considered = tuple(sorted({r.model.principle for r, _ in candidates.rules}))
            summary = f"{_NO_MATCH} (principles considered: {', '.join(considered)})" if considered else _NO_MATCH
            found = self._considered.put(id(candidates), (candidates, considered, summary))
        return found[1], found[2]

    def origins(self, jurisdiction: JurisdictionModel) -> dict[str, str]:
        """Jurisdiction attributes inherited from a group → that group's code."""
        found = self._origins.get(jurisdiction.code)
        if found is None:
            found = self._origins.put(
                jurisdiction.code,
                {f"jurisdiction.{k}": o for k, o in jurisdiction.attr_origin.items() if o and o != jurisdiction.code},
            )
        return found

    def explain(self, rule: CompiledRule, jurisdiction: JurisdictionModel, demand: Mapping[str, Value]) -> Reason:
        """The Reason of a rule that holds, built anew (its facts interned)."""
        facts_of, because_of, make = self._compiled(rule)
        jattrs = jurisdiction.attrs
        facts: list[Fact] = []
        facts_of(demand, jattrs, self.origins(jurisdiction), facts)
        return make(because_of(demand, jattrs), tuple(facts))

    def reason(self, rule: CompiledRule, jurisdiction: JurisdictionModel, demand: Mapping[str, Value]) -> Reason:
        """:meth:`explain`, memoised per what a Reason depends on: the rule, the
        jurisdiction (its values and their origins) and the demand attributes
        read by the rule's condition and its text."""
        memo = self._reasons
        if memo is None:
            return self.explain(rule, jurisdiction, demand)
        key = (rule.index, jurisdiction.code, *[demand.get(n) for n in rule.demand_reads])
        found: Reason | None = memo.get(key)
        if found is None:
            found = memo.put(key, self.explain(rule, jurisdiction, demand))
        return found

    def undetermined(self, rule: CompiledRule, demand: Mapping[str, Value], jurisdiction: Mapping[str, Value]) -> Undetermined:
        missing = tuple(
            a for a in rule.refs if (demand if a.startswith("demand.") else jurisdiction).get(a.split(".", 1)[1]) is None
        )
        memo = self._reasons
        key = ("undetermined", rule.index, missing)
        found: Undetermined | None = memo.get(key) if memo is not None else None
        if found is None:
            m = rule.model
            found = build_undetermined(
                principle=m.principle, rule=m.rule, outcome=_OUTCOMES[m.outcome], source=rule.source, unknown=missing
            )
            if memo is not None:
                memo.put(key, found)
        return found


# --- decisions ---------------------------------------------------------------------------

#: The engine's own rules, as the ``rule`` of an action or a reason.
DEFAULT_RULE = "policyengine.default"
UNKNOWN_JURISDICTION_RULE = "policyengine.unknown_jurisdiction"
#: The action every decision that a person must take carries.
HUMAN_REVIEW = "human_review"

_DEFAULT_ACTIONS: tuple[Action, ...] = (build_action(action=HUMAN_REVIEW, within_hours=None, rule=DEFAULT_RULE),)
_UNKNOWN_ACTIONS: tuple[Action, ...] = (build_action(action=HUMAN_REVIEW, within_hours=None, rule=UNKNOWN_JURISDICTION_RULE),)


def merge_actions(rules: Sequence[CompiledRule], demand: Mapping[str, Value], jattrs: Mapping[str, Value]) -> tuple[Action, ...]:
    """The actions of the deciding ``rules`` (in ``principle.rule`` order), merged by name.

    An action whose condition is false is dropped; one whose condition is
    unknown is kept (doing too much is the cautious side: a review or a notice
    that was not needed costs less than one that was skipped).  Two rules
    asking for the same action make one, with the shorter deadline (a deadline
    beats none), recorded as the rule that set it; on a tie the first rule.
    Sorted by action name, so neither file nor rule order shows.
    """
    merged: dict[str, Action] = {}
    for rule in rules:
        for compiled in rule.actions:
            if compiled.condition is not None and compiled.condition(demand, jattrs) is False:
                continue
            found = merged.get(compiled.name)
            if found is not None and not _sooner(compiled.within_hours, found.within_hours):
                continue
            merged[compiled.name] = compiled.action
    if not merged:
        return ()
    return tuple(merged[name] for name in sorted(merged))


def _sooner(hours: float | None, than: float | None) -> bool:
    if hours is None:
        return False
    return than is None or hours < than


# The fields :func:`evaluate` gives a decision, as validation would record them.
_GIVEN_MATCHED = frozenset(
    (
        "outcome",
        "jurisdiction",
        "demand",
        "summary",
        "reasons",
        "outranked",
        "undetermined",
        "default_applied",
        "jurisdiction_chain",
        "request",
        "policy_version",
        "as_of",
        "actions",
        "jurisdiction_known",
    )
)
_GIVEN_MATCHED_CLAIM = _GIVEN_MATCHED | {"claim"}
_GIVEN_DEFAULT = _GIVEN_MATCHED | {"considered"}
_GIVEN_DEFAULT_CLAIM = _GIVEN_DEFAULT | {"claim"}

#: What the rules said of one demand: the candidates considered, the rules
#: that matched and those left undetermined (both in rule order).
Matches = tuple[Candidates, list[CompiledRule], list[CompiledRule]]


def match(compiled: CompiledPolicy, jurisdiction: JurisdictionModel, demand: Mapping[str, Value]) -> Matches:
    """Evaluate the candidate rules' conditions, and nothing else.

    Split from :func:`evaluate` so that a claim (docs/semantics.md, "Claims")
    can compare the outcomes of its two readings before anything is explained:
    only the reading taken is explained."""
    jattrs = jurisdiction.attrs
    matched: list[CompiledRule] = []
    unknown: list[CompiledRule] = []
    candidates = compiled.index.candidates(jurisdiction, demand)
    for rule, condition in candidates.select(demand):
        r = condition(demand, jattrs)
        if r is True:
            matched.append(rule)
        elif r is None:
            unknown.append(rule)
    return candidates, matched, unknown


def severity_of(matches: Matches, known: bool = True) -> int:
    """The severity of the outcome :func:`evaluate` gives for ``matches`` (0 comply … 2 withdraw)."""
    matched = matches[1]
    if not matched:
        return 1  # the default: negotiate
    top = max(r.severity for r in matched)
    return 1 if top == 0 and not known else top  # no unknown requester is complied with


def echo(demand: Mapping[str, Value]) -> dict[str, AttributeValue]:
    """The request a decision echoes: the demand decided, its id and description only when given."""
    shown: dict[str, AttributeValue] = dict(demand)
    if shown.get("id", 0) is None:
        del shown["id"]
    if shown.get("description", 0) is None:
        del shown["description"]
    return shown


def evaluate(
    compiled: CompiledPolicy,
    explanations: Explanations,
    jurisdiction: JurisdictionModel,
    demand: Mapping[str, Value],
    demand_id: str | None = None,
    as_of: datetime.date | None = None,
    known: bool = True,
    hint: str | None = None,
    *,
    matches: Matches | None = None,
    claim: tuple[Claim, str] | None = None,
    shown: dict[str, AttributeValue] | None = None,
) -> Decision:
    """Decide a checked, normalised demand.

    ``known`` is False for a well-formed code the set does not define:
    ``jurisdiction`` is then :func:`unknown_jurisdiction_model` (every
    attribute unknown), the rules that need no jurisdiction fact decide, and
    an outcome below negotiate is raised to negotiate by the engine's
    ``policyengine.unknown_jurisdiction`` reason (``hint``: its did-you-mean).

    ``matches`` is :func:`match` of the demand when the caller has it;
    ``claim`` the claim and the words added to the summary, and ``shown``
    the request echoed, when a claim decided (they are the as-given
    demand's, whichever reading was taken).
    """
    when = as_of if as_of is not None else today()
    jattrs = jurisdiction.attrs
    candidates, matched, unknown = match(compiled, jurisdiction, demand) if matches is None else matches
    undetermined = tuple(explanations.undetermined(r, demand, jattrs) for r in unknown) if unknown else ()
    chain = jurisdiction.chain
    if shown is None:
        shown = echo(demand)
    claimed, said = (None, "") if claim is None else claim
    if not matched:
        considered, summary = explanations.considered(candidates)
        if known:
            if undetermined:
                names = sorted({a for u in undetermined for a in u.unknown})
                extra = [f"principles considered: {', '.join(considered)}"] if considered else []
                extra.append(f"{', '.join(names)} unknown")
                summary = f"{_NO_MATCH} ({'; '.join(extra)})"
            reasons: tuple[Reason, ...] = ()
            fallback = _DEFAULT_ACTIONS
        else:
            engine_reason = unknown_jurisdiction_reason(jurisdiction.code, hint)
            summary = f"negotiate: {engine_reason.because}"
            reasons = (engine_reason,)
            fallback = _UNKNOWN_ACTIONS
        return decision_of(
            Outcome.NEGOTIATE,
            jurisdiction.code,
            demand_id,
            summary + said,
            reasons,
            (),
            undetermined,
            True,
            chain,
            shown,
            compiled.version,
            when,
            fallback,
            claimed,
            considered,
            known,
            _GIVEN_DEFAULT if claimed is None else _GIVEN_DEFAULT_CLAIM,
        )
    if len(matched) == 1:  # the common case
        deciding: tuple[Reason, ...] = (explanations.reason(matched[0], jurisdiction, demand),)
        outranked: tuple[Reason, ...] = ()
        top_rules: list[CompiledRule] = matched
    else:
        top = max(r.severity for r in matched)
        explained = [explanations.reason(r, jurisdiction, demand) for r in matched]
        deciding = tuple(x for r, x in zip(matched, explained) if r.severity == top)
        outranked = tuple(x for r, x in zip(matched, explained) if r.severity != top)
        top_rules = [r for r in matched if r.severity == top]
    first = deciding[0]
    actions: tuple[Action, ...] = merge_actions(top_rules, demand, jattrs) if any(r.actions for r in top_rules) else ()
    more = f" (+{len(deciding) - 1} more)" if len(deciding) > 1 else ""
    summary = f"{top_rules[0].model.outcome}: {first.principle}.{first.rule}{more}: {first.because}"
    outcome = first.outcome
    if not known:
        # The engine's reason counts as a negotiate match: it outranks what
        # the rules would comply with (no unknown requester is complied with
        # automatically), joins the negotiate reasons, and a withdraw outranks it.
        engine_reason = unknown_jurisdiction_reason(jurisdiction.code, hint)
        if outcome is Outcome.WITHDRAW:
            outranked = tuple(sorted((*outranked, engine_reason), key=_qualified))
        else:
            if outcome is Outcome.COMPLY:
                outranked = tuple(sorted((*deciding, *outranked), key=_qualified))
                summary = f"negotiate: {engine_reason.because} (the rules alone would comply: {first.principle}.{first.rule})"
                deciding, actions, outcome = (engine_reason,), (), Outcome.NEGOTIATE
            else:
                deciding = tuple(sorted((*deciding, engine_reason), key=_qualified))
                summary = f"negotiate: {engine_reason.because} (and {first.principle}.{first.rule}{more}: {first.because})"
            actions = _with_action(actions, _UNKNOWN_ACTIONS[0])
    return decision_of(
        outcome,
        jurisdiction.code,
        demand_id,
        summary + said,
        deciding,
        outranked,
        undetermined,
        False,
        chain,
        shown,
        compiled.version,
        when,
        actions,
        claimed,
        (),
        known,
        _GIVEN_MATCHED if claimed is None else _GIVEN_MATCHED_CLAIM,
    )


def _qualified(reason: Reason) -> str:
    return reason.qualified


def _with_action(actions: tuple[Action, ...], extra: Action) -> tuple[Action, ...]:
    """``actions`` with the engine's ``extra`` merged in by name, as :func:`merge_actions` merges
    a rule's (docs/semantics.md §12): the shorter deadline wins, and on a tie the first rule by
    ``principle.rule`` (``policyengine.…`` before a principle that sorts after it)."""
    for a in actions:
        if a.action == extra.action and (
            _sooner(a.within_hours, extra.within_hours)
            or (not _sooner(extra.within_hours, a.within_hours) and a.rule <= extra.rule)
        ):
            return actions
    kept = [a for a in actions if a.action != extra.action]
    return tuple(sorted((*kept, extra), key=lambda a: a.action))


def unknown_jurisdiction_reason(code: str, hint: str | None) -> Reason:
    """The engine's reason for a code the policy set does not define (``hint``: its did-you-mean)."""
    because = f"no jurisdiction `{code}` is defined in the policy set, so a person must look at this demand"
    if hint:
        because += f" ({hint})"
    return build_reason(
        principle="policyengine",
        statement="What the policy set does not cover is reviewed by a person",
        rule="unknown_jurisdiction",
        outcome=Outcome.NEGOTIATE,
        because=because,
        source=ENGINE_SOURCE,
        facts=(build_fact(attribute="jurisdiction.code", value=code, test="is not a loaded jurisdiction"),),
    )


_ENGINE_SPAN = Span(Source(ENGINE_SOURCE, ""), 0, 0)


def unknown_jurisdiction_model(compiled: CompiledPolicy, code: str) -> JurisdictionModel:
    """A jurisdiction the set does not define, as the rules see it: its code, and every other attribute unknown."""
    attrs: dict[str, Value] = {a.name: None for a in compiled.policy_set.vocabulary.scoped("jurisdiction")}
    attrs["code"] = code
    attrs["name"] = code  # for a `because` text: "the rule of law in ZZ"; no condition tests a name
    return JurisdictionModel(
        code=code, name=code, is_group=False, chain=(), attrs=attrs, attr_origin={}, demands=(), members=(), span=_ENGINE_SPAN
    )


def unknown_jurisdiction(compiled: CompiledPolicy, code: str, demand: Mapping[str, Value], hint: str | None) -> Decision:
    """The decision of ``demand`` for a code the set does not define (explanations not memoised)."""
    return evaluate(
        compiled, Explanations(compiled, memo=False), unknown_jurisdiction_model(compiled, code), demand, known=False, hint=hint
    )


#: [(the UTC timestamp at which today ends, today)]: one list item, replaced whole,
#: so that threads never see an end paired with another day.
_DAY: list[tuple[float, datetime.date]] = [(-1.0, datetime.date(1970, 1, 1))]
_clock = time.time


def today() -> datetime.date:
    """Today's date in UTC, computed once a day (a memo hit must not pay for a calendar)."""
    cached = _DAY[0]
    if _clock() >= cached[0]:
        cached = _new_day()
    return cached[1]


def _new_day() -> tuple[float, datetime.date]:
    day = int(_clock() // 86_400)
    cached = _DAY[0] = ((day + 1) * 86_400.0, datetime.date(1970, 1, 1) + datetime.timedelta(days=day))
    return cached


def memo_key(code: str, as_of: datetime.date, demand: dict[str, Any]) -> tuple[Any, ...]:
    """The decision memo's key of a raw demand: its names, its values and their types, as given.

    Why this form: it is built by the interpreter from the few attributes a
    request gives, without a lookup per declared attribute, so a memo hit
    costs little more than the dict lookup.  The types are part of it because
    ``True == 1 == 1.0`` and they hash alike: a 1 given for a bool, or a bool
    for a number, must not find the decision of the value it equals (the
    checks refuse it).  Names come before values, so demands with different
    names never share a key.  The same demand written in another key order is
    another key: it is decided once more and kept under both (requests from
    one sender keep one order)."""
    values = demand.values()
    return (code, as_of, *demand, *values, *map(type, values))


class Decider:
    """decide() with memoisation; one per engine, safe to share between threads.

    The decision memo maps (jurisdiction, raw attribute values) to a finished,
    frozen Decision.  Only requests that passed every check are stored, and a
    hit is re-checked for the one thing a dict lookup cannot see: ``True == 1``.
    :class:`Explanations` keeps each rule's Reason per (rule, jurisdiction,
    values the rule reads), so a miss still reuses explanations.

    A shape memo keeps, per demand shape, the decision of the demand without
    its id and description, which only change the request a decision echoes;
    requests that each carry a fresh id then cost a copy, not a decision.
    (It is off when a rule's text reads the id or the description.)

    ``memo=False`` turns the memos of decisions and reasons off: every decision
    is checked, indexed, evaluated and explained from scratch (for benchmarks,
    or for callers whose requests never repeat and who would rather not hold
    the memory).  What is compiled once per policy set is kept either way:
    the index, the explanation closures, the interned facts, and the "did you
    mean" of unknown jurisdiction codes.
    """

    def __init__(self, compiled: CompiledPolicy, memo: bool = True):
        self.compiled = compiled
        self.memo = memo
        self._checks = DemandChecks(compiled)
        self._code = JURISDICTION.accept
        self._codes = JurisdictionCodes(compiled.jurisdictions)
        self._keys = self._checks.keys
        self._jurisdictions = compiled.jurisdictions
        self._memo: Memo[tuple[Any, ...], Decision] = Memo(CACHE_SIZE if memo else 0)
        #: The memo's lookup, bound once (the table is emptied in place, never replaced).
        self._lookup = self._memo.get
        #: id(decision) → (decision, its JSON once serialised), for the decisions
        #: the memo holds: only those come back to :meth:`to_json`.  An entry
        #: holds its decision, so the id cannot be reused while it lives.
        self._json: Memo[int, tuple[Decision, str | None]] = Memo(JSON_CACHE_SIZE if memo else 0)
        texts_read = any(n in ("id", "description") for r in compiled.rules for n in r.demand_reads)
        self._shapes: Memo[tuple[Any, ...], Decision] | None = Memo(CACHE_SIZE) if memo and not texts_read else None
        self._explanations = Explanations(compiled, memo)
        #: Explanations for the jurisdictions the set does not define.
        self._strangers_explained = Explanations(compiled, memo)
        #: unknown code → its "did you mean" ("" for none).
        self._hints: Memo[str, str] = Memo(HINT_CACHE_SIZE)
        #: well-formed code the set does not define → its all-unknown jurisdiction
        #: (at most 26 × 26 of them: the shape bounds the table).
        self._strangers: dict[str, JurisdictionModel] = {}
        names = {a.name for a in compiled.demand_attrs}
        #: (assessed, claimed, decisive) → its Claim: immutable values, interned
        #: like facts (a handful of label pairs recur; a decision that keeps a
        #: new Claim alive is three more objects for the collector to walk).
        self._claim_objects: Memo[tuple[str, str, str], Claim] = Memo(CLAIM_CACHE_SIZE)
        #: Whether any rule's condition, text or action condition reads the
        #: authority's label.  When none does, both readings of a claim match
        #: the same rules and explain the same way: one match serves both.
        self._label_read = any(
            CLAIMED in r.demand_reads
            or any(a.condition is not None and f"demand.{CLAIMED}" in condition_refs(a.condition) for a in r.model.actions)
            for r in compiled.rules
        )
        #: Whether the vocabulary has both labels (docs/semantics.md, "Claims").
        self._claims = CLAIMED in names and ASSESSED in names

    def decide(self, request: Any, as_of: datetime.date | None = None) -> Decision:
        """Decide ``request``; ``as_of`` is the date for a request that gives none (None: today, UTC)."""
        kind = type(request)
        if kind is dict:
            if len(request) != 2:
                return self._decide_slow(request, as_of)
            jurisdiction = request.get("jurisdiction")
            demand = request.get("demand")
        elif kind is Request:
            # Already shaped by pydantic (not yet checked against the
            # vocabulary): same path as a dict, no re-validation of its shape.
            if request.as_of is not None:
                return self._decide_slow(request, as_of)
            jurisdiction = request.jurisdiction
            demand = request.demand
        else:
            return self._decide_slow(request, as_of)
        if type(demand) is not dict or type(jurisdiction) is not str:
            return self._decide_slow(request, as_of)
        if as_of is None:
            # today(), inlined: this is the memo-hit path.
            day = _DAY[0]
            when = (day if _clock() < day[0] else _new_day())[1]
        else:
            when = as_of
        if self.memo:
            values = demand.values()
            key = (jurisdiction, when, *demand, *values, *map(type, values))  # memo_key(), inlined
            try:
                hit = self._lookup(key)
            except TypeError:  # an unhashable value: let the checks explain it
                return self._decide_slow(request, as_of)
            if hit is not None:
                return hit
        if not demand.keys() <= self._keys:
            return self._decide_slow(request, as_of)
        normal = self._checks.fast(demand)
        if normal is None:
            return self._decide_slow(request, as_of)
        j = self._jurisdictions.get(jurisdiction)
        if j is None:  # not a loaded code: is it well-formed and exact?
            if self._code(jurisdiction) is DECLINED or not self._codes.exact(jurisdiction):
                return self._decide_slow(request, as_of)
            decision = self._evaluate(jurisdiction, normal, when)
        elif self._shapes is None or (normal["id"] is None and normal["description"] is None):
            decision = self._decide_claim(j, normal, when)
        else:
            decision = self._evaluate(jurisdiction, normal, when)
        if self._memoisable(normal):
            self._remember(key, decision)
        return decision

    def _memoisable(self, demand: Mapping[str, Value]) -> bool:
        """Whether to keep a new decision in the memo.  Not when the shape memo
        made it from an id or a description: those rarely repeat, and keeping
        them would fill the memo with entries that are never hit."""
        if not self.memo:
            return False
        return self._shapes is None or (demand["id"] is None and demand["description"] is None)

    def _remember(self, key: tuple[Any, ...], decision: Decision) -> None:
        self._memo.put(key, decision)
        if id(decision) not in self._json:
            self._json.put(id(decision), (decision, None))

    def to_json(self, decision: Decision) -> str:
        """``decision.model_dump_json()``, serialised once per decision the memo hands out
        (written from the fields, with the parts shared between decisions written once:
        :mod:`.json_out`)."""
        from .json_out import decision_json

        entry = self._json.get(id(decision))
        if entry is None or entry[0] is not decision:
            return decision_json(decision)
        text = entry[1]
        if text is None:
            text = decision_json(decision)
            self._json.put(id(decision), (decision, text))
        return text

    def exact_code(self, code: str) -> str:
        """``code`` when it is exact (docs/semantics.md §7), else the :class:`RequestError` naming the code meant."""
        if self._codes.exact(code):
            return code
        shown = code if len(code) <= 16 else code[:13] + "…"
        raise RequestError(
            "jurisdiction",
            f"`{shown}` is not a jurisdiction code: a code is exactly an ISO 3166-1 alpha-2 code in capitals, "
            "such as `FR`, or a group code of the policy set, such as `EU`",
            tuple(sorted(self.compiled.jurisdictions)),
            self._codes.hint(code),
            code="request.bad-jurisdiction",
        )

    def _evaluate(self, code: str, demand: dict[str, Value], as_of: datetime.date) -> Decision:
        if self._shapes is not None and (demand["id"] is not None or demand["description"] is not None):
            # A demand's id and description change nothing but the request the
            # decision echoes (no rule reads them: checked in __init__), so the
            # decision of the bare demand is made once per shape and copied
            # with this request: requests that all carry a fresh id still reuse it.
            bare = {**demand, "id": None, "description": None}
            key = (code, as_of, *bare.values())  # a normalised demand: the same keys, in the same order
            base = self._shapes.get(key)
            if base is None:
                base = self._shapes.put(key, self._evaluate_bare(code, bare, as_of))
            # The bare demand's echo (the claim filled in, no id, no
            # description) over this demand, in this demand's (sorted) order.
            shown: dict[str, AttributeValue] = {**demand, **base.request}
            if shown["id"] is None:
                del shown["id"]
            if shown["description"] is None:
                del shown["description"]
            return trusted_copy(base, request=shown)
        return self._evaluate_bare(code, demand, as_of)

    def _evaluate_bare(self, code: str, demand: dict[str, Value], as_of: datetime.date) -> Decision:
        j = self.compiled.jurisdictions.get(code)
        if j is not None:
            return self._decide_claim(j, demand, as_of)
        stranger = self._strangers.get(code)
        if stranger is None:
            stranger = self._strangers[code] = unknown_jurisdiction_model(self.compiled, code)
        return self._decide_claim(stranger, demand, as_of, known=False, hint=self._hint(code))

    def _decide_claim(
        self,
        j: JurisdictionModel,
        demand: dict[str, Value],
        as_of: datetime.date,
        demand_id: str | None = None,
        known: bool = True,
        hint: str | None = None,
    ) -> Decision:
        """Decide, with the authority's label held to the platform's assessment.

        An absent ``claimed_category`` is the assessment (so a claim equal to
        the category decides exactly what no claim does).  A claim that
        differs is decided both ways, as given and with the claim replaced by
        the assessment, and the more protective decision is taken (the
        assessment on a tie): no label makes an outcome less protective.

        ``demand`` is the caller's own (normalised for this call): an absent
        claim is filled in where it stands rather than in a copy."""
        explanations = self._explanations if known else self._strangers_explained
        if not self._claims:
            return evaluate(self.compiled, explanations, j, demand, demand_id, as_of, known, hint)
        assessed, claimed = demand.get(ASSESSED), demand.get(CLAIMED)
        if claimed is None or claimed == assessed:
            if claimed is None and assessed is not None:
                demand[CLAIMED] = assessed  # every caller passes a demand of its own
            return evaluate(self.compiled, explanations, j, demand, demand_id, as_of, known, hint)
        # Both readings are matched; only the one taken is explained.
        reassessed = {**demand, CLAIMED: assessed}
        given = match(self.compiled, j, demand)
        if self._label_read:
            other = match(self.compiled, j, reassessed)
            given_wins = severity_of(given, known) > severity_of(other, known)
        else:  # the same rules match either way: a tie, so the assessment decides
            other, given_wins = given, False
        decisive = claimed if given_wins else assessed
        labels = (str(assessed), str(claimed), str(decisive))
        claim = self._claim_objects.get(labels)
        if claim is None:
            claim = self._claim_objects.put(labels, build_claim(assessed=labels[0], claimed=labels[1], decisive=labels[2]))
        said = f" (labelled `{claimed}` by the authority, assessed `{assessed}`; decided as `{decisive}`)"
        return evaluate(
            self.compiled,
            explanations,
            j,
            demand if given_wins else reassessed,
            demand_id,
            as_of,
            known,
            hint,
            matches=given if given_wins else other,
            claim=(claim, said),
            shown=echo(demand),
        )

    def _hint(self, code: str) -> str | None:
        """ "did you mean" for a code the set does not define, computed once per code."""
        found = self._hints.get(code)
        if found is None:
            found = self._hints.put(code, did_you_mean(code, self.compiled.jurisdictions) or "")
        return found or None

    def _decide_slow(self, request: Any, as_of: datetime.date | None = None) -> Decision:
        code, raw, own = split_request(request)
        code = self.exact_code(code)
        demand = self._checks.normalize(raw)
        when = own if own is not None else as_of if as_of is not None else today()
        decision = self._evaluate(code, demand, when)
        if type(raw) is dict and self._memoisable(demand):
            # A value can be valid but not hashable (an odd str subclass): then it is not kept.
            with contextlib.suppress(TypeError):
                self._remember(memo_key(code, when, raw), decision)
        return decision

    def decide_standing(
        self, jurisdiction: JurisdictionModel, demand: DemandModel, as_of: datetime.date | None = None
    ) -> Decision:
        attrs = {a.name: demand.attrs.get(a.name) for a in self.compiled.demand_attrs}
        attrs["id"] = demand.id
        attrs["description"] = demand.description
        # Validation already held these to the vocabulary; the same checks as a
        # request's keep any disagreement out of the reason memo.
        checked = self._checks.standing(attrs)
        return self._decide_claim(jurisdiction, checked, today() if as_of is None else as_of, demand_id=demand.id)

    def jurisdiction(self, code: Any) -> JurisdictionModel:
        """The loaded jurisdiction ``code``; a :class:`RequestError` (with a did-you-mean) if there is none."""
        code = JURISDICTION.check(code)
        j = self.compiled.jurisdictions.get(code)
        if j is None:
            self.exact_code(code)
            raise RequestError(
                "jurisdiction",
                f"`{code}` is not a loaded jurisdiction",
                tuple(self.compiled.jurisdictions),
                self._hint(code),
                code="request.unknown-jurisdiction",
            )
        return j

    def standing(self, code: Any, demand_id: Any, as_of: datetime.date | None = None) -> Decision:
        """Standing demand ``demand_id`` of jurisdiction ``code`` (inherited ones included)."""
        j = self.jurisdiction(code)
        wanted: str = STANDING_ID.check(demand_id)  # type: ignore[assignment]
        d = j.demand(wanted)
        if d is None:
            ids = tuple(x.id for x in j.demands)
            raise RequestError(
                "demand",
                f"`{j.code}` makes no standing demand `{wanted[:64]}`",
                ids,
                did_you_mean(wanted[:64], ids),
                code="request.unknown-demand",
            )
        return self.decide_standing(j, d, as_of)

    def market(self, code: Any, as_of: datetime.date | None = None) -> MarketDecision:
        j = self.jurisdiction(code)
        when = today() if as_of is None else as_of
        decisions = tuple(self.decide_standing(j, d, when) for d in j.demands)
        return market_outcome(j, decisions, self.compiled.version, when)
