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
from collections.abc import Callable, Mapping
from typing import Any

from ..language import ast
from ..language.diagnostics import did_you_mean
from ..language.model import DemandModel, JurisdictionModel, Kind, Value
from .compile import CompiledPolicy, CompiledRule, compile_condition, literal_value
from .decision import Decision, Fact, MarketDecision, Outcome, Reason, Request, Undetermined, show_value
from .market import market_outcome
from .memo import Memo
from .requests import (
    DECLINED,
    JURISDICTION,
    MISSING,
    STANDING_ID,
    DemandChecks,
    RequestError,
    normalize_demand,
    parse_request,
)

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
            fact = facts.put(key, Fact(attribute=dotted, value=value, test=test, origin=origin))
        out.append(fact)

    return atom


def _compile_because(template: ast.Template) -> _BecauseFn:
    """A rule's `because` text as a closure over (demand, jurisdiction)."""
    parts = tuple(p if isinstance(p, str) else (p.ref.scope == "demand", p.ref.name) for p in template.parts)
    if all(isinstance(p, str) for p in parts):
        text = "".join(parts)  # type: ignore[arg-type]
        return lambda d, j: text

    def fill(d: Mapping[str, Value], j: Mapping[str, Value]) -> str:
        return "".join(p if isinstance(p, str) else show_value((d if p[0] else j).get(p[1])) for p in parts)

    return fill


class Explanations:
    """The compiled explanations of one policy set and the memos of what they built.

    One per engine.  The closures of a rule and the origins of a jurisdiction
    are keyed by the policy set (so their memos are sized to hold them all);
    Reasons and Undetermined objects are keyed by request values, so that
    memo is bounded, and off with ``memo=False``.
    """

    __slots__ = ("_origins", "_reasons", "_rules")

    def __init__(self, compiled: CompiledPolicy, memo: bool = True):
        self._rules: Memo[int, tuple[_FactsFn, _BecauseFn]] = Memo(len(compiled.rules))
        self._origins: Memo[str, dict[str, str]] = Memo(len(compiled.jurisdictions))
        self._reasons: Memo[tuple[Any, ...], Any] | None = Memo(REASON_CACHE_SIZE) if memo else None

    def _compiled(self, rule: CompiledRule) -> tuple[_FactsFn, _BecauseFn]:
        found = self._rules.get(rule.index)
        if found is None:
            m = rule.model
            found = self._rules.put(rule.index, (_compile_facts(m.condition), _compile_because(m.because)))
        return found

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
        facts_of, because_of = self._compiled(rule)
        jattrs = jurisdiction.attrs
        facts: list[Fact] = []
        facts_of(demand, jattrs, self.origins(jurisdiction), facts)
        m = rule.model
        return Reason(
            principle=m.principle,
            statement=m.statement,
            rule=m.rule,
            outcome=_OUTCOMES[m.outcome],
            because=because_of(demand, jattrs),
            source=rule.source,
            facts=tuple(facts),
        )

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
            found = Undetermined(
                principle=m.principle, rule=m.rule, outcome=_OUTCOMES[m.outcome], source=rule.source, unknown=missing
            )
            if memo is not None:
                memo.put(key, found)
        return found


# --- decisions ---------------------------------------------------------------------------


def evaluate(
    compiled: CompiledPolicy,
    explanations: Explanations,
    jurisdiction: JurisdictionModel,
    demand: Mapping[str, Value],
    demand_id: str | None = None,
) -> Decision:
    """Decide a checked, normalised demand for a known jurisdiction."""
    jattrs = jurisdiction.attrs
    matched: list[CompiledRule] = []
    unknown: list[CompiledRule] = []
    for rule, condition in compiled.index.candidates(jurisdiction, demand).select(demand):
        r = condition(demand, jattrs)
        if r is True:
            matched.append(rule)
        elif r is None:
            unknown.append(rule)
    undetermined = tuple(explanations.undetermined(r, demand, jattrs) for r in unknown) if unknown else ()
    chain = jurisdiction.chain
    shown = dict(demand)
    # id and description are shown only when given.
    if shown.get("id", 0) is None:
        del shown["id"]
    if shown.get("description", 0) is None:
        del shown["description"]
    if not matched:
        summary = "negotiate: no principle covers this demand, so a person reviews it"
        if undetermined:
            names = sorted({a for u in undetermined for a in u.unknown})
            summary += f" ({', '.join(names)} unknown)"
        return Decision(
            outcome=Outcome.NEGOTIATE,
            jurisdiction=jurisdiction.code,
            demand=demand_id,
            summary=summary,
            reasons=(),
            outranked=(),
            undetermined=undetermined,
            default_applied=True,
            jurisdiction_chain=chain,
            request=shown,
            policy_version=compiled.version,
        )
    if len(matched) == 1:  # the common case
        deciding: tuple[Reason, ...] = (explanations.reason(matched[0], jurisdiction, demand),)
        outranked: tuple[Reason, ...] = ()
        top_rule = matched[0]
    else:
        top = max(r.severity for r in matched)
        explained = [explanations.reason(r, jurisdiction, demand) for r in matched]
        deciding = tuple(x for r, x in zip(matched, explained) if r.severity == top)
        outranked = tuple(x for r, x in zip(matched, explained) if r.severity != top)
        top_rule = next(r for r in matched if r.severity == top)
    first = deciding[0]
    more = f" (+{len(deciding) - 1} more)" if len(deciding) > 1 else ""
    return Decision(
        outcome=first.outcome,
        jurisdiction=jurisdiction.code,
        demand=demand_id,
        summary=f"{top_rule.model.outcome}: {first.principle}.{first.rule}{more}: {first.because}",
        reasons=deciding,
        outranked=outranked,
        undetermined=undetermined,
        default_applied=False,
        jurisdiction_chain=chain,
        request=shown,
        policy_version=compiled.version,
    )


def unknown_jurisdiction(compiled: CompiledPolicy, code: str, demand: Mapping[str, Value], hint: str | None) -> Decision:
    """Negotiate, and say why: the policy set does not know this jurisdiction
    (``hint``: the "did you mean" for ``code``, or None)."""
    because = f"no jurisdiction `{code}` is defined in the policy set, so a person must look at this demand"
    if hint:
        because += f" ({hint})"
    reason = Reason(
        principle="policyengine",
        statement="What the policy set does not cover is reviewed by a person",
        rule="unknown_jurisdiction",
        outcome=Outcome.NEGOTIATE,
        because=because,
        source=ENGINE_SOURCE,
        facts=(Fact(attribute="jurisdiction.code", value=code, test="is not a loaded jurisdiction"),),
    )
    return Decision(
        outcome=Outcome.NEGOTIATE,
        jurisdiction=code,
        summary=f"negotiate: {because}",
        reasons=(reason,),
        default_applied=True,
        request={k: v for k, v in demand.items() if v is not None or k not in ("id", "description")},
        policy_version=compiled.version,
    )


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
        #: The memo key's order: the settable attributes, then the two texts.
        self._names = (*tuple(a.name for a in compiled.demand_attrs), "id", "description")
        self._keys = self._checks.keys
        self._absent = (MISSING,) * len(self._names)
        self._bools = tuple(a.name for a in compiled.demand_attrs if a.kind is Kind.BOOL)
        # ``True == 1 == 1.0`` also collides the other way: a bool given for a
        # number must miss the memo, or it would be accepted after a 1 was.
        self._numbers = tuple(a.name for a in compiled.demand_attrs if a.kind is Kind.NUMBER)
        self._memo: Memo[tuple[Any, ...], Decision] = Memo(CACHE_SIZE if memo else 0)
        #: id(decision) → (decision, its JSON once serialised), for the decisions
        #: the memo holds: only those come back to :meth:`to_json`.  An entry
        #: holds its decision, so the id cannot be reused while it lives.
        self._json: Memo[int, tuple[Decision, str | None]] = Memo(JSON_CACHE_SIZE if memo else 0)
        texts_read = any(n in ("id", "description") for r in compiled.rules for n in r.demand_reads)
        self._shapes: Memo[tuple[Any, ...], Decision] | None = Memo(CACHE_SIZE) if memo and not texts_read else None
        self._explanations = Explanations(compiled, memo)
        #: unknown code → its "did you mean" ("" for none).
        self._hints: Memo[str, str] = Memo(HINT_CACHE_SIZE)

    def decide(self, request: Any) -> Decision:
        kind = type(request)
        if kind is dict:
            if len(request) != 2:
                return self._decide_slow(request)
            jurisdiction = request.get("jurisdiction")
            demand = request.get("demand")
        elif kind is Request:
            # Already shaped by pydantic (not yet checked against the
            # vocabulary): same path as a dict, no re-validation of its shape.
            jurisdiction = request.jurisdiction
            demand = request.demand
        else:
            return self._decide_slow(request)
        if type(demand) is not dict or type(jurisdiction) is not str or not demand.keys() <= self._keys:
            return self._decide_slow(request)
        get = demand.get
        key = (jurisdiction, *map(get, self._names, self._absent))
        try:
            hit = self._memo.get(key)
        except TypeError:  # an unhashable value: let the checks explain it
            return self._decide_slow(request)
        if hit is not None:
            for name in self._bools:
                if type(get(name)) is not bool and get(name) is not None:
                    hit = None
            for name in self._numbers:
                if type(get(name)) is bool:
                    hit = None
            if hit is not None:
                return hit
        normal = self._checks.fast(demand)
        if normal is None or self._code(jurisdiction) is DECLINED:
            return self._decide_slow(request)
        decision = self._evaluate(jurisdiction, normal)
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
        """``decision.model_dump_json()``, serialised once per decision the memo hands out."""
        entry = self._json.get(id(decision))
        if entry is None or entry[0] is not decision:
            return decision.model_dump_json()
        text = entry[1]
        if text is None:
            text = decision.model_dump_json()
            self._json.put(id(decision), (decision, text))
        return text

    def _evaluate(self, code: str, demand: dict[str, Value]) -> Decision:
        if self._shapes is not None and (demand["id"] is not None or demand["description"] is not None):
            # A demand's id and description change nothing but the request the
            # decision echoes (no rule reads them: checked in __init__), so the
            # decision of the bare demand is made once per shape and copied
            # with this request: requests that all carry a fresh id still reuse it.
            bare = {**demand, "id": None, "description": None}
            key = (code, *bare.values())  # a normalised demand: the same keys, in the same order
            base = self._shapes.get(key)
            if base is None:
                base = self._shapes.put(key, self._evaluate_bare(code, bare))
            shown = {k: v for k, v in demand.items() if v is not None or k not in ("id", "description")}
            return base.model_copy(update={"request": shown})
        return self._evaluate_bare(code, demand)

    def _evaluate_bare(self, code: str, demand: dict[str, Value]) -> Decision:
        j = self.compiled.jurisdictions.get(code)
        if j is None:
            return unknown_jurisdiction(self.compiled, code, demand, self._hint(code))
        return evaluate(self.compiled, self._explanations, j, demand)

    def _hint(self, code: str) -> str | None:
        """ "did you mean" for a code the set does not define, computed once per code."""
        found = self._hints.get(code)
        if found is None:
            found = self._hints.put(code, did_you_mean(code, self.compiled.jurisdictions) or "")
        return found or None

    def _decide_slow(self, request: Any) -> Decision:
        code, raw = parse_request(request)
        demand = self._checks.normalize(raw)
        decision = self._evaluate(code, demand)
        if isinstance(raw, dict) and self._memoisable(demand):
            # A value can be valid but not hashable (an odd str subclass): then it is not kept.
            with contextlib.suppress(TypeError):
                self._remember((code, *[raw.get(n, MISSING) for n in self._names]), decision)
        return decision

    def decide_standing(self, jurisdiction: JurisdictionModel, demand: DemandModel) -> Decision:
        attrs = {a.name: demand.attrs.get(a.name) for a in self.compiled.demand_attrs}
        attrs["id"] = demand.id
        attrs["description"] = demand.description
        # Validation already held these to the vocabulary; the same checks as a
        # request's keep any disagreement out of the reason memo.
        checked = self._checks.standing(attrs)
        return evaluate(self.compiled, self._explanations, jurisdiction, checked, demand_id=demand.id)

    def jurisdiction(self, code: Any) -> JurisdictionModel:
        """The loaded jurisdiction ``code``; a :class:`RequestError` (with a did-you-mean) if there is none."""
        code = JURISDICTION.check(code)
        j = self.compiled.jurisdictions.get(code)
        if j is None:
            raise RequestError(
                "jurisdiction",
                f"`{code}` is not a loaded jurisdiction",
                tuple(self.compiled.jurisdictions),
                self._hint(code),
                code="request.unknown-jurisdiction",
            )
        return j

    def standing(self, code: Any, demand_id: Any) -> Decision:
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
        return self.decide_standing(j, d)

    def market(self, code: Any) -> MarketDecision:
        j = self.jurisdiction(code)
        decisions = tuple(self.decide_standing(j, d) for d in j.demands)
        return market_outcome(j, decisions, self.compiled.version)
