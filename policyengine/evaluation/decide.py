"""Compiled policy + request → :class:`~policyengine.decision.Decision`.

Stage contract: pure functions over a :class:`~policyengine.compile.CompiledPolicy`;
no parsing, validation of policy files, rendering or I/O.  Bad requests raise
:class:`RequestError`, naming the field and the allowed values.

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
repeated request costs a dictionary lookup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import PolicyEngineError
from ..language import ast
from ..language.diagnostics import did_you_mean, one_of
from ..language.model import AttributeType, DemandModel, JurisdictionModel, Kind, Value
from .compile import CompiledPolicy, CompiledRule, compile_condition, evaluate_atom, literal_value
from .decision import Decision, Fact, MarketDecision, Outcome, Reason, Request, Undetermined, show_value

#: Longest text value accepted in a request, in characters.
MAX_TEXT = 10_000
#: Most memoised decisions per engine; past it, decisions are computed anew.
CACHE_SIZE = 100_000
#: Most decisions whose JSON is kept (``Decider.to_json``); a batch of unique
#: requests stops growing the table here.
JSON_CACHE_SIZE = 50_000

_OUTCOMES = {"comply": Outcome.COMPLY, "negotiate": Outcome.NEGOTIATE, "withdraw": Outcome.WITHDRAW}
ENGINE_SOURCE = "<engine>"
#: Marks an attribute absent from a request in memo keys, so that an explicit
#: null (an error for most attributes) never hits the entry of an omission.
_MISSING = object()
#: Integers beyond this do not convert to a float: left to the slow path.
_FLOAT_INTS = 10**300


class RequestError(PolicyEngineError, ValueError):
    """A request that does not fit the vocabulary.  ``field`` names the culprit
    (``demand.kind``), ``allowed`` lists the values it may take."""

    code = "request"

    def __init__(self, field: str, message: str, allowed: tuple[str, ...] = (), hint: str | None = None):
        self.field = field
        self.allowed = allowed
        super().__init__(message, hint)
        # str() names the field first: `demand.kind: ... (did you mean ...)`.
        self.args = (f"{field}: {message}" + (f" ({hint})" if hint else ""),)


# --- requests ------------------------------------------------------------------


def _json_type(value: Any) -> str:
    """What a value is, in the words of JSON (requests are JSON; Python's ``str``
    or ``dict`` would mean nothing to the sender)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"`{'true' if value else 'false'}`"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return type(value).__name__


def _check_value(attr: AttributeType, value: Any) -> Value:
    field = f"demand.{attr.name}"
    if value is None:
        if attr.unknown_allowed:
            return None
        raise RequestError(field, "must not be null", attr.values)
    if attr.kind is Kind.ENUM:
        if not isinstance(value, str):
            raise RequestError(field, f"must be one of {one_of(attr.values)}, not {_json_type(value)}", attr.values)
        if value not in attr.values:
            shown = value if len(value) <= 40 else value[:37] + "…"
            raise RequestError(
                field,
                f"`{shown}` is not a `{attr.enum}` value; allowed: {one_of(attr.values, limit=20)}",
                attr.values,
                did_you_mean(value, attr.values) if len(value) <= 100 else None,
            )
        return value
    if attr.kind is Kind.BOOL:
        if type(value) is not bool:
            raise RequestError(field, f"must be true or false, not {_json_type(value)}")
        return value
    if attr.kind is Kind.NUMBER:
        if type(value) not in (int, float):
            raise RequestError(field, f"must be a number, not {_json_type(value)}")
        try:
            number = float(value)
        except OverflowError:  # an integer past the largest float, e.g. 10**400 in JSON
            raise RequestError(field, "is too large: numbers must be below 1e308") from None
        if not math.isfinite(number):
            raise RequestError(field, "must be a finite number")
        if (attr.lo is not None and number < attr.lo) or (attr.hi is not None and number > attr.hi):
            raise RequestError(field, f"must be between {show_value(attr.lo)} and {show_value(attr.hi)}")
        return number
    if not isinstance(value, str):
        raise RequestError(field, f"must be a text, not {_json_type(value)}")
    if len(value) > MAX_TEXT:
        raise RequestError(field, f"is {len(value):,} characters long; the limit is {MAX_TEXT:,}")
    if _not_unicode(value):
        raise RequestError(field, "contains an unpaired surrogate, which no UTF-8 output can carry")
    return value


def _not_unicode(text: str) -> bool:
    """True for a str that holds lone surrogates (e.g. from ``"\\ud800"`` in JSON):
    a decision that echoed it could not be written as JSON or UTF-8 text."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def normalize_demand(compiled: CompiledPolicy, demand: Any) -> dict[str, Value]:
    """Check a demand's attributes against the vocabulary and apply defaults."""
    if not isinstance(demand, Mapping):
        raise RequestError("demand", f"must be an object of attributes, not {_json_type(demand)}")
    known = {a.name: a for a in compiled.demand_attrs}
    voc = compiled.policy_set.vocabulary
    out: dict[str, Value] = {}
    for key in demand:
        if not isinstance(key, str) or (key not in known and key not in ("id", "description")):
            name = str(key)[:40]
            raise RequestError(
                f"demand.{name}" if name else "demand",
                "is not a demand attribute" if name else "has an attribute with an empty name",
                tuple(sorted(known)),
                did_you_mean(name, known) or f"demand attributes: {one_of(known)}",
            )
    # Values first, missing attributes second: a misspelled value is the more
    # useful message when a request has both problems.
    for name, attr in known.items():
        if name in demand:
            out[name] = _check_value(attr, demand[name])
    for name, attr in known.items():
        if name in demand:
            continue
        if attr.required:
            raise RequestError(
                f"demand.{name}", "is required", attr.values, f"one of {one_of(attr.values)}" if attr.values else None
            )
        else:
            out[name] = attr.default if attr.has_default else None
    for name in ("id", "description"):
        builtin = voc.attribute("demand", name)
        out[name] = _check_value(builtin, demand[name]) if builtin is not None and name in demand else None
    return dict(sorted(out.items()))


def parse_request(request: Any) -> tuple[str, Mapping[str, Any]]:
    """Split a request (dict or :class:`Request`) into jurisdiction and demand."""
    if isinstance(request, Request):
        return request.jurisdiction, request.demand
    if not isinstance(request, Mapping):
        raise RequestError("request", f"must be an object with `jurisdiction` and `demand`, not {_json_type(request)}")
    extra = [k for k in request if k not in ("jurisdiction", "demand")]
    if extra:
        name = str(extra[0])[:40]
        if not name:
            raise RequestError("request", "has a field with an empty name", ("demand", "jurisdiction"))
        raise RequestError(
            name, "is not a request field", ("demand", "jurisdiction"), did_you_mean(name, ["jurisdiction", "demand"])
        )
    if "jurisdiction" not in request:
        raise RequestError(
            "jurisdiction", "is required", hint="an ISO 3166-1 alpha-2 code such as `FR`, or a group code such as `EU`"
        )
    jurisdiction = request["jurisdiction"]
    if not isinstance(jurisdiction, str):
        raise RequestError("jurisdiction", f"must be a text code such as `FR`, not {_json_type(jurisdiction)}")
    if len(jurisdiction) > 64:
        raise RequestError("jurisdiction", "is longer than any jurisdiction code")
    if _not_unicode(jurisdiction):
        raise RequestError("jurisdiction", "contains an unpaired surrogate, which no UTF-8 output can carry")
    if "demand" not in request:
        raise RequestError(
            "demand",
            "is required",
            hint='an object such as {"kind": "user_data", "category": "fraud", "legal_basis": "court_order"}',
        )
    return jurisdiction, request["demand"]


# --- explanations ---------------------------------------------------------------------


def _show(value: Value) -> str:
    return show_value(value)


def describe_test(node: ast.Condition, negated: bool = False) -> str:
    """The test an atom applies, as an author would write it (``in {a, b}``, ``< 0.6``)."""
    if isinstance(node, ast.Comparison):
        op = node.op
        if negated:
            op = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}[op]
        return f"{op} {_show(literal_value(node.value))}"
    if isinstance(node, ast.Membership):
        inside = ", ".join(_show(literal_value(v)) for v in node.values)
        return f"{'not in' if node.negated != negated else 'in'} {{{inside}}}"
    if isinstance(node, ast.KnownTest):
        return f"is {'known' if node.known != negated else 'unknown'}"
    return "is false" if negated else "is true"


def collect_facts(node: ast.Condition, env: Mapping[str, Value], origins: Mapping[str, str], negated: bool = False) -> list[Fact]:
    """The atoms that make ``node`` evaluate to ``not negated``, as facts."""
    if isinstance(node, ast.Not):
        return collect_facts(node.operand, env, origins, not negated)
    if isinstance(node, (ast.AllOf, ast.AnyOf)):
        # An `and` that holds needs all its parts; an `or` that holds, the
        # parts that hold.  Negated, the roles swap (De Morgan).
        need_all = isinstance(node, ast.AllOf) != negated
        out: list[Fact] = []
        for operand in node.operands:
            if need_all or _truth(operand, env) is (not negated):
                out.extend(collect_facts(operand, env, origins, negated))
        return out
    ref = node.ref
    value = env.get(ref.dotted)
    if evaluate_atom(node, value) is not (not negated):
        return []
    origin = origins.get(ref.dotted)
    return [Fact(attribute=ref.dotted, value=value, test=describe_test(node, negated), origin=origin or None)]


def _truth(node: ast.Condition, env: Mapping[str, Value]) -> bool | None:
    if isinstance(node, ast.Not):
        inner = _truth(node.operand, env)
        return None if inner is None else not inner
    if isinstance(node, (ast.AllOf, ast.AnyOf)):
        decisive = isinstance(node, ast.AnyOf)
        unknown = False
        for operand in node.operands:
            r = _truth(operand, env)
            if r is decisive:
                return decisive
            unknown = unknown or r is None
        return None if unknown else not decisive
    return evaluate_atom(node, env.get(node.ref.dotted))


def fill_template(template: ast.Template, env: Mapping[str, Value]) -> str:
    return "".join(p if isinstance(p, str) else _show(env.get(p.ref.dotted)) for p in template.parts)


def _env(jurisdiction: JurisdictionModel, demand: Mapping[str, Value]) -> tuple[dict[str, Value], dict[str, str]]:
    env: dict[str, Value] = {f"jurisdiction.{k}": v for k, v in jurisdiction.attrs.items()}
    env.update((f"demand.{k}", v) for k, v in demand.items())
    origins = {f"jurisdiction.{k}": o for k, o in jurisdiction.attr_origin.items() if o and o != jurisdiction.code}
    return env, origins


# --- compiled explanations -------------------------------------------------------------
#
# collect_facts and fill_template above are the definitions; what follows
# compiles them once per rule (lazily, into CompiledPolicy.explainers), so that
# explaining a match does not walk the AST, describe each test again or build
# an environment of dotted names.  Facts are immutable values: each atom
# keeps the few it has produced (one per value and origin) and hands the same
# object out again.

#: Facts kept per atom: enumerations have a handful of values, numbers may not.
FACTS_PER_ATOM = 256
_FactsFn = Callable[[Mapping[str, Value], Mapping[str, Value], Mapping[str, str], list[Fact]], None]


def _compile_facts(node: ast.Condition, negated: bool = False) -> _FactsFn:
    """collect_facts(node, …, negated) as a closure over (demand, jurisdiction, origins, out)."""
    if isinstance(node, ast.Not):
        return _compile_facts(node.operand, not negated)
    if isinstance(node, (ast.AllOf, ast.AnyOf)):
        parts = tuple(_compile_facts(op, negated) for op in node.operands)
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
    known: dict[tuple[type, Value, str | None], Fact] = {}
    holds = compile_condition(node)  # the atom alone: evaluate_atom, without re-reading the AST

    def atom(d: Mapping[str, Value], j: Mapping[str, Value], origins: Mapping[str, str], out: list[Fact]) -> None:
        value = (d if on_demand else j).get(name)
        if holds(d, j) is not want:
            return
        origin = origins.get(dotted) or None
        key = (type(value), value, origin)  # the type too: True == 1
        fact = known.get(key)
        if fact is None:
            fact = Fact(attribute=dotted, value=value, test=test, origin=origin)
            if len(known) < FACTS_PER_ATOM:
                known[key] = fact
        out.append(fact)

    return atom


def _compile_because(template: ast.Template) -> Callable[[Mapping[str, Value], Mapping[str, Value]], str]:
    """fill_template as a closure over (demand, jurisdiction)."""
    parts = tuple(p if isinstance(p, str) else (p.ref.scope == "demand", p.ref.name) for p in template.parts)
    if all(isinstance(p, str) for p in parts):
        text = "".join(parts)  # type: ignore[arg-type]
        return lambda d, j: text

    def fill(d: Mapping[str, Value], j: Mapping[str, Value]) -> str:
        return "".join(p if isinstance(p, str) else show_value((d if p[0] else j).get(p[1])) for p in parts)

    return fill


def _explainer(compiled: CompiledPolicy, rule: CompiledRule) -> tuple[_FactsFn, Callable[..., str]]:
    found = compiled.explainers.get(rule.index)
    if found is None:
        m = rule.model
        found = compiled.explainers[rule.index] = (_compile_facts(m.condition), _compile_because(m.because))
    return found


def _origins(compiled: CompiledPolicy, jurisdiction: JurisdictionModel) -> dict[str, str]:
    """Jurisdiction attributes inherited from a group → that group's code (per jurisdiction, once)."""
    key = ("origins", jurisdiction.code)
    found = compiled.explainers.get(key)
    if found is None:
        found = compiled.explainers[key] = {
            f"jurisdiction.{k}": o for k, o in jurisdiction.attr_origin.items() if o and o != jurisdiction.code
        }
    return found


def explain_rule(
    compiled: CompiledPolicy, rule: CompiledRule, jurisdiction: JurisdictionModel, demand: Mapping[str, Value]
) -> Reason:
    """The Reason of a rule that holds: the same as _reason(rule, *_env(jurisdiction, demand)), compiled."""
    facts_of, because_of = _explainer(compiled, rule)
    jattrs = jurisdiction.attrs
    facts: list[Fact] = []
    facts_of(demand, jattrs, _origins(compiled, jurisdiction), facts)
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


#: Most memoised Reason/Undetermined objects per engine; past it, they are built anew.
REASON_CACHE_SIZE = 100_000


def _cached_reason(
    compiled: CompiledPolicy,
    rule: CompiledRule,
    jurisdiction: JurisdictionModel,
    demand: Mapping[str, Value],
    cache: dict[tuple[Any, ...], Any] | None,
) -> Reason:
    if cache is None:
        return explain_rule(compiled, rule, jurisdiction, demand)
    key = _reason_key(rule, jurisdiction, demand)
    found = cache.get(key)
    if found is None:
        found = explain_rule(compiled, rule, jurisdiction, demand)
        if len(cache) < REASON_CACHE_SIZE:
            cache[key] = found
    return found


def _undetermined(
    rule: CompiledRule, demand: Mapping[str, Value], jurisdiction: Mapping[str, Value], cache: dict[tuple[Any, ...], Any] | None
) -> Undetermined:
    missing = tuple(a for a in rule.refs if (demand if a.startswith("demand.") else jurisdiction).get(a.split(".", 1)[1]) is None)
    key = ("undetermined", rule.index, missing)
    found = cache.get(key) if cache is not None else None
    if found is None:
        m = rule.model
        found = Undetermined(
            principle=m.principle, rule=m.rule, outcome=_OUTCOMES[m.outcome], source=rule.source, unknown=missing
        )
        if cache is not None and len(cache) < REASON_CACHE_SIZE:
            cache[key] = found
    return found


def _reason(rule: CompiledRule, env: Mapping[str, Value], origins: Mapping[str, str]) -> Reason:
    m = rule.model
    return Reason(
        principle=m.principle,
        statement=m.statement,
        rule=m.rule,
        outcome=_OUTCOMES[m.outcome],
        because=fill_template(m.because, env),
        source=rule.source,
        facts=tuple(collect_facts(m.condition, env, origins)),
    )


def _reason_key(rule: CompiledRule, jurisdiction: JurisdictionModel, demand: Mapping[str, Value]) -> tuple[Any, ...]:
    """What a rule's Reason depends on: the rule, the jurisdiction (its values and
    their origins) and the demand attributes read by its condition and its text."""
    return (rule.index, jurisdiction.code, *[demand.get(n) for n in rule.demand_reads])


def evaluate(
    compiled: CompiledPolicy,
    jurisdiction: JurisdictionModel,
    demand: Mapping[str, Value],
    demand_id: str | None = None,
    reasons: dict[tuple[Any, ...], Any] | None = None,
) -> Decision:
    """Decide a normalised demand for a known jurisdiction.

    ``reasons``, when given, memoises the Reason and Undetermined objects
    (keyed by everything they depend on), so that decisions that differ only
    in attributes a rule does not read share that rule's explanation.
    """
    jattrs = jurisdiction.attrs
    matched: list[CompiledRule] = []
    unknown: list[CompiledRule] = []
    for rule, condition in compiled.index.candidates(jurisdiction, demand).select(demand):
        r = condition(demand, jattrs)
        if r is True:
            matched.append(rule)
        elif r is None:
            unknown.append(rule)
    undetermined = tuple(_undetermined(r, demand, jattrs, reasons) for r in unknown) if unknown else ()
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
        deciding: tuple[Reason, ...] = (_cached_reason(compiled, matched[0], jurisdiction, demand, reasons),)
        outranked: tuple[Reason, ...] = ()
        top_rule = matched[0]
    else:
        top = max(r.severity for r in matched)
        explained = [_cached_reason(compiled, r, jurisdiction, demand, reasons) for r in matched]
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


def unknown_jurisdiction(compiled: CompiledPolicy, code: str, demand: Mapping[str, Value]) -> Decision:
    """Negotiate, and say why: the policy set does not know this jurisdiction."""
    hint = did_you_mean(code, compiled.jurisdictions)
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

    The memo maps (jurisdiction, raw attribute values) to a finished, frozen
    Decision.  Only requests that passed validation are stored, and a hit is
    re-checked for the one thing a dict lookup cannot see: ``True == 1``.
    A second, finer memo keeps each rule's Reason per (rule, jurisdiction,
    values the rule reads), so a miss still reuses explanations.

    A third keeps, per demand shape, the decision of the demand without its
    id and description, which only change the request a decision echoes;
    requests that each carry a fresh id then cost a copy, not a decision.
    (It is off when a rule's text reads the id or the description.)

    ``memo=False`` turns the memos off: every decision is validated, indexed,
    evaluated and explained from scratch (for benchmarks, or for callers whose
    requests never repeat and who would rather not hold the memory).  The
    compiled index is kept either way.
    """

    def __init__(self, compiled: CompiledPolicy, memo: bool = True):
        self.compiled = compiled
        self.memo = memo
        self._names = (*tuple(a.name for a in compiled.demand_attrs), "id", "description")
        self._keys = frozenset(self._names)
        self._absent = (_MISSING,) * len(self._names)
        self._bools = tuple(a.name for a in compiled.demand_attrs if a.kind is Kind.BOOL)
        # ``True == 1 == 1.0`` also collides the other way: a bool given for a
        # number must miss the memo, or it would be accepted after a 1 was.
        self._numbers = tuple(a.name for a in compiled.demand_attrs if a.kind is Kind.NUMBER)
        self._memo: dict[tuple[Any, ...], Decision] = {}
        self._reasons: dict[tuple[Any, ...], Any] | None = {} if memo else None
        self._json: dict[int, tuple[Decision, str]] = {}
        #: ids of the decisions in the memo (which keeps them alive, so an id
        #: here always names the memoised object)
        self._memoised: set[int] = set()
        texts_read = any(n in ("id", "description") for r in compiled.rules for n in r.demand_reads)
        self._shapes: dict[tuple[Any, ...], Decision] | None = {} if memo and not texts_read else None
        self._checks = _fast_checks(compiled)

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
        except TypeError:  # an unhashable value: let validation explain it
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
        normal = self._fast_normalize(demand)
        if normal is None or len(jurisdiction) > 64 or _not_unicode(jurisdiction):
            return self._decide_slow(request)
        decision = self._evaluate(jurisdiction, normal)
        if self._memoisable(normal):
            self._memo[key] = decision
            self._memoised.add(id(decision))
        return decision

    def _memoisable(self, demand: Mapping[str, Value]) -> bool:
        """Whether to keep a new decision in the memo.  Not when the shape memo
        made it from an id or a description: those rarely repeat, and keeping
        them would fill the memo with entries that are never hit."""
        if not self.memo or len(self._memo) >= CACHE_SIZE:
            return False
        return self._shapes is None or (demand["id"] is None and demand["description"] is None)

    def to_json(self, decision: Decision) -> str:
        """``decision.model_dump_json()``, serialised once per decision the memo hands out.

        Only decisions held by the memo are kept (another one cannot come
        back); entries are keyed by the decision object and hold it, so an id
        is never reused while its entry lives; at most :data:`JSON_CACHE_SIZE`.
        """
        entry = self._json.get(id(decision))
        if entry is not None and entry[0] is decision:
            return entry[1]
        text = decision.model_dump_json()
        if id(decision) in self._memoised and len(self._json) < JSON_CACHE_SIZE:
            self._json[id(decision)] = (decision, text)
        return text

    def _fast_normalize(self, demand: dict[str, Any]) -> dict[str, Value] | None:
        """:func:`normalize_demand` for the common, valid case, or None to take the
        slow path (which gives the same result or raises the precise error)."""
        out: dict[str, Value] = {}
        for name, check in self._checks:
            value = demand.get(name, _MISSING)
            checked = check(value)
            if checked is _MISSING:
                return None
            out[name] = checked
        return out

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
                base = self._evaluate_bare(code, bare)
                if len(self._shapes) < CACHE_SIZE:
                    self._shapes[key] = base
            shown = {k: v for k, v in demand.items() if v is not None or k not in ("id", "description")}
            return base.model_copy(update={"request": shown})
        return self._evaluate_bare(code, demand)

    def _evaluate_bare(self, code: str, demand: dict[str, Value]) -> Decision:
        j = self.compiled.jurisdictions.get(code)
        if j is None:
            return unknown_jurisdiction(self.compiled, code, demand)
        return evaluate(self.compiled, j, demand, reasons=self._reasons)

    def _decide_slow(self, request: Any) -> Decision:
        code, raw = parse_request(request)
        demand = normalize_demand(self.compiled, raw)
        decision = self._evaluate(code, demand)
        if isinstance(raw, dict) and self._memoisable(demand):
            try:
                key = (code, *[raw.get(n, _MISSING) for n in self._names])
                self._memo[key] = decision
                self._memoised.add(id(decision))
            except TypeError:
                pass
        return decision

    def decide_standing(self, jurisdiction: JurisdictionModel, demand: DemandModel) -> Decision:
        attrs = {a.name: demand.attrs.get(a.name) for a in self.compiled.demand_attrs}
        attrs["id"] = demand.id
        attrs["description"] = demand.description
        return evaluate(self.compiled, jurisdiction, attrs, demand_id=demand.id, reasons=self._reasons)

    def jurisdiction(self, code: str) -> JurisdictionModel:
        """The loaded jurisdiction ``code``; a :class:`RequestError` with a did-you-mean if there is none."""
        j = self.compiled.jurisdictions.get(code)
        if j is None:
            raise RequestError(
                "jurisdiction",
                f"`{code[:64]}` is not a loaded jurisdiction",
                tuple(self.compiled.jurisdictions),
                did_you_mean(code[:64], self.compiled.jurisdictions),
            )
        return j

    def market(self, code: str) -> MarketDecision:
        j = self.jurisdiction(code)
        decisions = tuple(self.decide_standing(j, d) for d in j.demands)
        return market_outcome(j, decisions, self.compiled.version)


def _fast_checks(compiled: CompiledPolicy) -> tuple[tuple[str, Any], ...]:
    """One checker per demand attribute, in the sorted order of a normalised demand.

    Each takes the raw value (``_MISSING`` when absent) and returns the
    normalised value, or ``_MISSING`` for anything it does not accept at a
    glance: the slow path then decides, with the precise error message.
    They accept exactly what :func:`_check_value` accepts, minus its errors.
    """
    voc = compiled.policy_set.vocabulary
    attrs = {a.name: a for a in compiled.demand_attrs}
    for name in ("id", "description"):
        builtin = voc.attribute("demand", name)
        if builtin is not None:
            attrs[name] = builtin
    checks = []
    for name in sorted(attrs):
        checks.append((name, _fast_check(attrs[name])))
    return tuple(checks)


def _fast_check(attr: AttributeType) -> Any:
    if attr.builtin:
        absent: Any = None
    elif attr.has_default:
        absent = attr.default
    elif attr.unknown_allowed:
        absent = None
    else:
        absent = _MISSING  # required
    null: Any = None if attr.unknown_allowed or attr.builtin else _MISSING
    if attr.builtin:
        # Texts given as null are unknown, like an omission (see normalize_demand).
        null = _MISSING

    if attr.kind is Kind.ENUM:
        allowed = frozenset(attr.values)

        def check_enum(v: Any) -> Any:
            if type(v) is str and v in allowed:
                return v
            return absent if v is _MISSING else null if v is None else _MISSING

        return check_enum
    if attr.kind is Kind.BOOL:

        def check_bool(v: Any) -> Any:
            if v is True or v is False:
                return v
            return absent if v is _MISSING else null if v is None else _MISSING

        return check_bool
    if attr.kind is Kind.NUMBER:
        lo = -math.inf if attr.lo is None else attr.lo
        hi = math.inf if attr.hi is None else attr.hi

        def check_number(v: Any) -> Any:
            t = type(v)
            if t is float:
                if lo <= v <= hi and math.isfinite(v):
                    return v
            elif t is int and lo <= v <= hi and -_FLOAT_INTS <= v <= _FLOAT_INTS:
                return float(v)
            return absent if v is _MISSING else null if v is None else _MISSING

        return check_number

    def check_text(v: Any) -> Any:
        if type(v) is str and len(v) <= MAX_TEXT and not _not_unicode(v):
            return v
        return absent if v is _MISSING else null if v is None else _MISSING

    return check_text


def market_outcome(j: JurisdictionModel, decisions: tuple[Decision, ...], version: str) -> MarketDecision:
    """The market rule (docs/semantics.md):

    * withdraw when a *mandatory* standing demand is decided withdraw: the
      platform cannot stay without breaking either the law or its principles;
    * otherwise negotiate when any standing demand is decided negotiate or
      withdraw (a refusable demand that the platform refuses);
    * otherwise comply (every standing demand complied with, or none made).
    """
    by_id = {d.demand: d for d in decisions}
    demands = {d.id: d for d in j.demands}
    forced = [i for i, d in by_id.items() if d.outcome is Outcome.WITHDRAW and demands[i or ""].attrs.get("mandatory") is True]
    if forced:
        outcome, decisive = Outcome.WITHDRAW, forced
        names = ", ".join(f"`{i}`" for i in forced)
        why = f"the mandatory demand{'s' if len(forced) > 1 else ''} {names} cannot be reconciled with the principles"
    else:
        open_ = [i for i, d in by_id.items() if d.outcome is not Outcome.COMPLY]
        if open_:
            outcome, decisive = Outcome.NEGOTIATE, open_
            many = len(open_) > 1
            names = ", ".join(f"`{i}`" for i in open_)
            why = f"{len(open_)} standing demand{'s' if many else ''} need{'' if many else 's'} review or refusal: {names}"
        elif decisions:
            outcome, decisive = Outcome.COMPLY, []
            why = "every standing demand can be complied with"
        else:
            outcome, decisive = Outcome.COMPLY, []
            why = "no standing demands"
    return MarketDecision(
        jurisdiction=j.code,
        name=j.name,
        outcome=outcome,
        summary=f"{outcome.value}: {why}",
        decisive=tuple(i or "" for i in decisive),
        decisions=decisions,
        jurisdiction_chain=j.chain,
        policy_version=version,
    )
