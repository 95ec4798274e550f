"""A plain reference builder of the whole :class:`Decision`, for tests only.

Why it exists: the engine decides through an index, compiled closures, a
memo per request shape, a memo per reason and a fast and a slow path for
checking requests (policyengine/evaluation/decide.py, compile.py,
requests.py).  Every one of those is an optimisation that must not change a
byte of any decision.  This module is the referee: it builds the same
``Decision`` the slow, obvious way, from docs/semantics.md and the policy set
as validation resolved it (``policyengine.language.model.PolicySet``) and its
syntax trees, and nothing from ``policyengine.evaluation`` but the output
types of ``decision.py``.  Per request it:

* normalises the demand (§2, §9): every declared attribute, the value given
  (numbers as floats, dates as dates, lists as tuples), else its default,
  else unknown; ``id`` and ``description`` unknown unless given;
* resolves the jurisdiction's attributes from its declaration and its
  groups' declarations in the syntax trees (§6: nearest link, then the
  default, then unknown, with the origin of inherited values), not from the
  model's resolved ``attrs``; a well-formed code the set does not define
  gets every attribute unknown but its code (§7);
* evaluates *every* rule with plain Kleene logic
  (:func:`reference_evaluator.truth`), no index, no candidate list;
* applies §4 (most severe match, reasons, outranked, default), §7 (the
  engine's ``unknown_jurisdiction`` reason as one more negotiate match),
  §10 (facts, ``because`` texts, sources), §11 (claims decided both ways)
  and §12 (actions merged by name, deadlines, the engine's own actions).

What the docs leave open and this module had to pin (the engine's choice in
each case; see the report of tests/test_fast_path_reference.py):

* the ``summary`` texts (docs: "one line: outcome, first deciding rule and
  its because text, or the default"): written out in :func:`_summary`;
* the engine reason's ``statement`` and the ``because`` of a stranger's
  rules: ``{jurisdiction.name}`` of a code the set does not define shows the
  code (§7 says every attribute but the code is unknown, which would print
  ``unknown``);
* ``considered`` (docs: "the principles whose rules were considered for the
  demand"): :func:`considered` — a rule is considered unless a single fact
  known before the demand's details are looked at (one of the
  jurisdiction's known enumeration or bool attributes, its code when the
  set defines it, or the demand's ``kind``) makes its condition false
  whatever every other attribute is;
* the default decision of a code the set does not define carries one
  ``human_review``, by ``policyengine.unknown_jurisdiction`` (§7), not also
  one by ``policyengine.default`` (§12 read alone would merge the two and
  keep ``policyengine.default``, the first by name).
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reference_evaluator import Value, atom_truth, model_reason, truth

from policyengine.evaluation.decision import (
    Action,
    Claim,
    ContextDemand,
    Decision,
    Fact,
    MarketDecision,
    Outcome,
    Reason,
    Undetermined,
)
from policyengine.language import ast
from policyengine.language.diagnostics import did_you_mean
from policyengine.language.model import AttributeType, Kind, PolicySet, RuleModel

SEVERITY = {"comply": 0, "negotiate": 1, "withdraw": 2}
ENGINE_PRINCIPLE = "policyengine"
ENGINE_RULE = "policyengine.unknown_jurisdiction"
DEFAULT_RULE = "policyengine.default"
ENGINE_SOURCE = "<engine>"
ENGINE_STATEMENT = "What the policy set does not cover is reviewed by a person"
HUMAN_REVIEW = "human_review"
ASSESSED, CLAIMED = "category", "claimed_category"


# --- values -------------------------------------------------------------------------------------


def literal(lit: ast.Literal) -> Value:
    """A literal of a jurisdiction's assignment as the value rules see."""
    if isinstance(lit, ast.Symbol):
        return lit.name
    if isinstance(lit, ast.Unknown):
        return None
    if isinstance(lit, ast.Number):
        return float(lit.value)
    return lit.value


def request_value(attr: AttributeType, raw: Any) -> Value:
    """A (valid) request value as the rules see it (§2): numbers are numbers, a
    date is written ``YYYY-MM-DD``, a list of texts is a list."""
    if raw is None:
        return None
    if attr.kind is Kind.NUMBER:
        assert type(raw) in (int, float) and raw is not True and raw is not False, (attr.dotted, raw)
        return float(raw)
    if attr.kind is Kind.DATE:
        return raw if isinstance(raw, datetime.date) else datetime.date.fromisoformat(raw)
    if attr.kind is Kind.TEXTS:
        return tuple(raw)
    if attr.kind is Kind.BOOL:
        assert raw is True or raw is False, (attr.dotted, raw)
    if attr.kind is Kind.ENUM:
        assert raw in attr.values, (attr.dotted, raw)
    return raw  # type: ignore[no-any-return]


def normalise(policy_set: PolicySet, raw: Mapping[str, Any]) -> dict[str, Value]:
    """A valid request's demand with every declared attribute: the value given,
    else the default, else unknown (``id`` and ``description``: unknown unless given)."""
    attrs = {a.name: a for a in policy_set.vocabulary.scoped("demand")}
    assert set(raw) <= set(attrs), f"not demand attributes: {sorted(set(raw) - set(attrs))}"
    out: dict[str, Value] = {}
    for name, attr in attrs.items():
        if name in raw:
            out[name] = request_value(attr, raw[name])
        elif attr.has_default:
            out[name] = attr.default
        else:
            assert attr.unknown_allowed or attr.builtin, f"demand.{name} is required"
            out[name] = None
    return out


# --- memos of pure functions of a policy set ------------------------------------------------------------
#
# Only for speed (100,000 requests must fit the suite's budget): each memo holds
# results of a pure function of the policy set and the arguments in its key,
# never anything computed from a request's values but the jurisdiction code and
# the demand's kind.

_MEMOS: dict[int, tuple[PolicySet, dict[Any, Any]]] = {}


def _memo(policy_set: PolicySet) -> dict[Any, Any]:
    found = _MEMOS.get(id(policy_set))
    if found is None or found[0] is not policy_set:
        if len(_MEMOS) > 64:
            _MEMOS.clear()
        found = _MEMOS[id(policy_set)] = (policy_set, {})
    return found[1]


# --- jurisdictions, from their declarations ---------------------------------------------------------


def declarations(policy_set: PolicySet) -> dict[str, ast.Jurisdiction]:
    memo = _memo(policy_set)
    if "declarations" not in memo:
        memo["declarations"] = {
            d.code.name: d for f in policy_set.files for d in f.declarations if isinstance(d, ast.Jurisdiction)
        }
    return memo["declarations"]  # type: ignore[no-any-return]


def chain(decls: Mapping[str, ast.Jurisdiction], code: str) -> tuple[str, ...]:
    """``FR → EU → …``: the jurisdiction, then its group, that group's group (§6)."""
    links = [code]
    while (member_of := decls[links[-1]].member_of) is not None:
        links.append(member_of.name)
    return tuple(links)


def jurisdiction_environment(policy_set: PolicySet, code: str) -> tuple[dict[str, Value], dict[str, str], tuple[str, ...]]:
    """:func:`resolve_jurisdiction`, once per code (the caller must not change what it returns)."""
    memo = _memo(policy_set)
    if ("jurisdiction", code) not in memo:
        memo["jurisdiction", code] = resolve_jurisdiction(policy_set, code)
    return memo["jurisdiction", code]  # type: ignore[no-any-return]


def resolve_jurisdiction(policy_set: PolicySet, code: str) -> tuple[dict[str, Value], dict[str, str], tuple[str, ...]]:
    """(``jurisdiction.*`` → value, attribute → the group it was inherited from, chain)
    for a jurisdiction or group the set defines, from the declarations (§6)."""
    decls = declarations(policy_set)
    links = chain(decls, code)
    env: dict[str, Value] = {}
    origins: dict[str, str] = {}
    for attr in policy_set.vocabulary.scoped("jurisdiction"):
        if attr.builtin:
            continue
        for link in links:
            found = [a for a in decls[link].assignments if a.name.name == attr.name]
            if found:
                env[attr.dotted] = literal(found[0].value)
                if link != code:
                    origins[attr.dotted] = link
                break
        else:
            env[attr.dotted] = attr.default if attr.has_default else None
    env["jurisdiction.code"] = code
    env["jurisdiction.name"] = decls[code].display_name.value
    return env, origins, links


def stranger_environment(policy_set: PolicySet, code: str) -> dict[str, Value]:
    """A well-formed code the set does not define (§7): every attribute unknown,
    defaults included, but its code (and, for `because` texts, its name is the code)."""
    env: dict[str, Value] = {a.dotted: None for a in policy_set.vocabulary.scoped("jurisdiction")}
    env["jurisdiction.code"] = code
    env["jurisdiction.name"] = code
    return env


# --- considered ------------------------------------------------------------------------------------


def possible(node: ast.Condition, fixed: str, value: Value) -> set[bool | None]:
    """Every truth value ``node`` can take when attribute ``fixed`` is ``value`` and every
    other attribute is anything (a value of its type, or unknown)."""
    if isinstance(node, ast.Not):
        return {None if r is None else not r for r in possible(node.operand, fixed, value)}
    if isinstance(node, (ast.AllOf, ast.AnyOf)):
        out: set[bool | None] = set()
        for combo in itertools.product(*(possible(op, fixed, value) for op in node.operands)):
            out.add(_junction(isinstance(node, ast.AllOf), combo))
        return out
    if node.ref.dotted == fixed:
        return {atom_truth(node, value)}
    return {True, False, None}


def _junction(conjunction: bool, results: Iterable[bool | None]) -> bool | None:
    values = list(results)
    decisive = not conjunction
    if decisive in values:
        return decisive
    return None if None in values else not decisive


def considered(policy_set: PolicySet, env: Mapping[str, Value], known: bool) -> tuple[str, ...]:
    """The principles of the rules not ruled out by one fact known before the demand's
    details: the jurisdiction's known enumeration or bool attributes, its code (when the
    set defines it) and the demand's kind."""
    facts: list[tuple[str, Value]] = []
    for attr in policy_set.vocabulary.scoped("jurisdiction"):
        value = env.get(attr.dotted)
        if value is None:
            continue
        if attr.kind in (Kind.ENUM, Kind.BOOL) or (attr.kind is Kind.CODE and known):
            facts.append((attr.dotted, value))
    kind = policy_set.vocabulary.attribute("demand", "kind")
    if kind is not None and kind.kind is Kind.ENUM and env.get("demand.kind") is not None:
        facts.append(("demand.kind", env["demand.kind"]))
    memo = _memo(policy_set)
    key = ("considered", tuple(facts))
    if key not in memo:
        memo[key] = _considered(policy_set, facts)
    return memo[key]  # type: ignore[no-any-return]


def _considered(policy_set: PolicySet, facts: list[tuple[str, Value]]) -> tuple[str, ...]:
    return tuple(sorted({r.principle for r in policy_set.rules if all(_not_ruled_out(policy_set, r, f) for f in facts)}))


def _not_ruled_out(policy_set: PolicySet, rule: RuleModel, fact: tuple[str, Value]) -> bool:
    """Whether ``rule`` can still hold with the one ``fact`` known (memoised per rule and fact)."""
    memo = _memo(policy_set)
    name, value = fact
    key = ("possible", _qualified(rule), name, type(value), value)  # the type too: True == 1
    if key not in memo:
        memo[key] = possible(rule.condition, name, value) != {False}
    return memo[key]  # type: ignore[no-any-return]


# --- one decision --------------------------------------------------------------------------------


def engine_reason(code: str, hint: str | None) -> Reason:
    because = f"no jurisdiction `{code}` is defined in the policy set, so a person must look at this demand"
    if hint:
        because += f" ({hint})"
    return Reason(
        principle=ENGINE_PRINCIPLE,
        statement=ENGINE_STATEMENT,
        rule="unknown_jurisdiction",
        outcome=Outcome.NEGOTIATE,
        because=because,
        source=ENGINE_SOURCE,
        facts=(Fact(attribute="jurisdiction.code", value=code, test="is not a loaded jurisdiction"),),
    )


def merged_actions(asked: list[tuple[str, float | None, str]]) -> tuple[Action, ...]:
    """§12: (action, hours, rule) in ``principle.rule`` order → one per action, the
    shortest deadline (any beats none), the first rule on a tie; sorted by action."""
    best: dict[str, tuple[str, float | None, str]] = {}
    for name, hours, rule in asked:
        old = best.get(name)
        if old is None or (hours is not None and (old[1] is None or hours < old[1])):
            best[name] = (name, hours, rule)
    return tuple(Action(action=n, within_hours=best[n][1], rule=best[n][2]) for n in sorted(best))


def unknown_reads(condition: ast.Condition, env: Mapping[str, Value]) -> tuple[str, ...]:
    """The attributes a condition reads whose value is unknown, by name (§4)."""
    reads = {n.ref.dotted for n in ast.walk_condition(condition) if not isinstance(n, (ast.Not, ast.AllOf, ast.AnyOf))}
    return tuple(sorted(a for a in reads if env.get(a) is None))


def _qualified(rule: RuleModel) -> str:
    return f"{rule.principle}.{rule.rule}"


def _one_way(
    policy_set: PolicySet,
    jenv: Mapping[str, Value],
    origins: Mapping[str, str],
    demand: Mapping[str, Value],
    code: str,
    known: bool,
    hint: str | None,
) -> dict[str, Any]:
    """The fields of a decision of one demand (one way of a claim), §4, §7, §10, §12."""
    env: dict[str, Value] = {**jenv, **{f"demand.{k}": v for k, v in demand.items()}}
    memo = _memo(policy_set)
    if "rules" not in memo:
        memo["rules"] = sorted(policy_set.rules, key=_qualified)
    rules: list[RuleModel] = memo["rules"]
    results = {_qualified(r): (r, truth(r.condition, env)) for r in rules}
    matched = {q: r for q, (r, t) in results.items() if t is True}
    undetermined = tuple(
        Undetermined(
            principle=r.principle,
            rule=r.rule,
            outcome=Outcome(r.outcome),
            source=r.span.short_location(),
            unknown=unknown_reads(r.condition, env),
        )
        for q, (r, t) in results.items()
        if t is None
    )
    stranger = None if known else engine_reason(code, hint)
    fields: dict[str, Any] = {"undetermined": undetermined, "considered": ()}
    if not matched:
        fields["considered"] = considered(policy_set, env, known)
        fields["default_applied"] = True
        fields["outcome"] = Outcome.NEGOTIATE
        fields["outranked"] = ()
        if stranger is None:
            fields["reasons"] = ()
            fields["actions"] = merged_actions([(HUMAN_REVIEW, None, DEFAULT_RULE)])
            extra = []
            if fields["considered"]:
                extra.append(f"principles considered: {', '.join(fields['considered'])}")
            if undetermined:
                extra.append(f"{', '.join(sorted({a for u in undetermined for a in u.unknown}))} unknown")
            fields["summary"] = "negotiate: no rule matched this demand, so a person reviews it" + (
                f" ({'; '.join(extra)})" if extra else ""
            )
        else:
            fields["reasons"] = (stranger,)
            fields["actions"] = merged_actions([(HUMAN_REVIEW, None, ENGINE_RULE)])
            fields["summary"] = f"negotiate: {stranger.because}"
        return fields
    explained: dict[str, Reason] = {q: model_reason(r, env, origins) for q, r in matched.items()}
    severity = {q: SEVERITY[r.outcome] for q, r in matched.items()}
    if stranger is not None:
        explained[ENGINE_RULE] = stranger
        severity[ENGINE_RULE] = SEVERITY["negotiate"]
    top = max(severity.values())
    reasons = sorted(q for q in explained if severity[q] == top)
    asked: list[tuple[str, float | None, str]] = []
    for q in reasons:
        if q == ENGINE_RULE:
            asked.append((HUMAN_REVIEW, None, ENGINE_RULE))
            continue
        for a in matched[q].actions:
            # An unknown condition keeps the action: doing too much is the cautious side.
            if a.condition is None or truth(a.condition, env) is not False:
                asked.append((a.name, a.within_hours, q))
    fields["default_applied"] = False
    fields["outcome"] = next(Outcome(o) for o, s in SEVERITY.items() if s == top)
    fields["reasons"] = tuple(explained[q] for q in reasons)
    fields["outranked"] = tuple(explained[q] for q in sorted(explained) if severity[q] < top)
    fields["actions"] = merged_actions(asked)
    fields["summary"] = _summary(fields["outcome"], [explained[q] for q in sorted(matched)], severity, stranger)
    return fields


def _summary(outcome: Outcome, by_rules: list[Reason], severity: Mapping[str, int], stranger: Reason | None) -> str:
    """The one line for people: ``outcome: principle.rule (+N more): because``; for a
    stranger, the engine's because first and what the rules alone say after it."""
    rules_top = max(SEVERITY[r.outcome.value] for r in by_rules)
    deciding = [r for r in by_rules if SEVERITY[r.outcome.value] == rules_top]
    first = deciding[0]
    more = f" (+{len(deciding) - 1} more)" if len(deciding) > 1 else ""
    plain = f"{first.qualified}{more}: {first.because}"
    if stranger is None or outcome is Outcome.WITHDRAW:
        return f"{outcome.value}: {plain}"
    if rules_top == SEVERITY["comply"]:
        return f"negotiate: {stranger.because} (the rules alone would comply: {first.qualified})"
    return f"negotiate: {stranger.because} (and {plain})"


def _echo(demand: Mapping[str, Value]) -> dict[str, Value]:
    """The request a decision echoes: every attribute decided, sorted; id and description only when given."""
    return {k: v for k, v in sorted(demand.items()) if not (k in ("id", "description") and v is None)}


def reference_decide(policy_set: PolicySet, request: Mapping[str, Any], as_of: datetime.date) -> Decision:
    """The whole Decision for a valid ``request`` (a dict in the JSON shape); ``as_of``
    is used when the request gives none of its own."""
    assert set(request) <= {"jurisdiction", "demand", "as_of"}, request
    when = datetime.date.fromisoformat(request["as_of"]) if "as_of" in request else as_of
    demand = normalise(policy_set, request["demand"])
    return _decision(policy_set, request["jurisdiction"], demand, when, None, _echo)


def reference_standing(policy_set: PolicySet, code: str, demand_id: str, as_of: datetime.date) -> Decision:
    """The whole Decision of standing demand ``demand_id`` of ``code`` (§8): decided like a
    request of the demand's own attributes as declared (defaults for the others), its id and
    its description, found on the jurisdiction or, inherited, on one of its groups (§6)."""
    decls = declarations(policy_set)
    found = [d for link in chain(decls, code) for d in decls[link].demands if d.name.name == demand_id]
    assert len(found) == 1, (code, demand_id)
    declared = found[0]
    raw: dict[str, Any] = {a.name.name: literal(a.value) for a in declared.assignments}
    raw["id"] = declared.name.name
    raw["description"] = declared.description.value
    return _decision(policy_set, code, normalise(policy_set, raw), as_of, demand_id, _standing_echo)


def _standing_echo(demand: Mapping[str, Value]) -> dict[str, Value]:
    """A standing demand's echo: its attributes by name, then its id and description.
    (Not sorted as a request's echo is: the engine's choice, pinned by the golden
    standing case; the docs say nothing of the order of keys.)"""
    shown = {k: v for k, v in sorted(demand.items()) if k not in ("id", "description")}
    return {**shown, "id": demand["id"], "description": demand["description"]}


Echo = Callable[[Mapping[str, Value]], dict[str, Value]]


def _decision(
    policy_set: PolicySet, code: str, demand: dict[str, Value], when: datetime.date, demand_id: str | None, echo: Echo
) -> Decision:
    """§4–§12 for a normalised demand: the claim decided both ways when it differs."""
    known = code in policy_set.jurisdictions
    if known:
        jenv, origins, links = jurisdiction_environment(policy_set, code)
        hint = None
    else:
        assert len(code) == 2 and code.isascii() and code.isalpha() and code.isupper(), f"not a well-formed code: {code!r}"
        jenv, origins, links = stranger_environment(policy_set, code), {}, ()
        memo = _memo(policy_set)
        if ("hint", code) not in memo:
            memo["hint", code] = did_you_mean(code, policy_set.jurisdictions)
        hint = memo["hint", code]

    def decide(d: Mapping[str, Value]) -> dict[str, Any]:
        return _one_way(policy_set, jenv, origins, d, code, known, hint)

    names = {a.name for a in policy_set.vocabulary.scoped("demand") if not a.builtin}
    claim: Claim | None = None
    if ASSESSED in names and CLAIMED in names and demand[CLAIMED] != demand[ASSESSED]:
        if demand[CLAIMED] is None:
            # An absent claim is the assessment, and the decision echoes it so (§11).
            demand = {**demand, CLAIMED: demand[ASSESSED]}
            fields = decide(demand)
        else:
            as_given = decide(demand)
            as_assessed = decide({**demand, CLAIMED: demand[ASSESSED]})
            # The more protective outcome; on a tie, the assessment's decision.
            given_wins = as_given["outcome"].severity > as_assessed["outcome"].severity
            fields = as_given if given_wins else as_assessed
            assessed, claimed = str(demand[ASSESSED]), str(demand[CLAIMED])
            decisive = claimed if given_wins else assessed
            claim = Claim(assessed=assessed, claimed=claimed, decisive=decisive)
            fields = {
                **fields,
                "summary": f"{fields['summary']} (labelled `{claimed}` by the authority, assessed `{assessed}`; "
                f"decided as `{decisive}`)",
            }
    else:
        fields = decide(demand)
    return Decision(
        outcome=fields["outcome"],
        jurisdiction=code,
        demand=demand_id,
        summary=fields["summary"],
        reasons=fields["reasons"],
        outranked=fields["outranked"],
        undetermined=fields["undetermined"],
        default_applied=fields["default_applied"],
        jurisdiction_chain=links,
        request=echo(demand),
        policy_version=policy_set.version,
        as_of=when,
        actions=fields["actions"],
        claim=claim,
        considered=fields["considered"],
        jurisdiction_known=known,
    )


# --- markets (§8) -------------------------------------------------------------------------------

#: §8's words for a status that is not (or no longer) law.
STATUS_WORDS = {"proposed": "proposed, not law", "suspended": "suspended", "lifted": "lifted", "overturned": "overturned"}


def standing_ids(policy_set: PolicySet, code: str) -> list[str]:
    """The standing demands of ``code``, its own and its groups', by id (§5, §6)."""
    decls = declarations(policy_set)
    return sorted(d.name.name for link in chain(decls, code) for d in decls[link].demands)


def why_not_counted(request: Mapping[str, Value], as_of: datetime.date) -> str | None:
    """§8's table, row by row: None when the demand counts on ``as_of``, else why not."""
    addressee, issued, status, lifted = (request.get(k) for k in ("addressee", "issued", "status", "lifted"))
    if addressee is not None and addressee not in ("this_platform", "all_platforms"):
        return "made of another platform"
    if isinstance(issued, datetime.date) and issued > as_of:
        return f"issued after {as_of.isoformat()}"
    if status in ("lifted", "overturned") and isinstance(lifted, datetime.date):
        # In force until the day it was lifted or overturned.
        return None if lifted > as_of else f"{status} {lifted.isoformat()}"
    if status is not None and status != "in_force":
        return STATUS_WORDS[str(status)]
    if isinstance(lifted, datetime.date) and lifted <= as_of:
        return f"lifted {lifted.isoformat()}"
    return None


def reference_market(policy_set: PolicySet, code: str, as_of: datetime.date) -> MarketDecision:
    """The market of ``code`` as of ``as_of`` (§8), from the reference's standing decisions."""
    decisions = tuple(reference_standing(policy_set, code, i, as_of) for i in standing_ids(policy_set, code))
    counted, context = [], []
    for d in decisions:
        why = why_not_counted(d.request, as_of)
        if why is None:
            counted.append(d)
        else:
            context.append(ContextDemand(demand=str(d.demand), reason=why))
    forced = [str(d.demand) for d in counted if d.outcome is Outcome.WITHDRAW and d.request.get("mandatory") is True]
    not_complied = [str(d.demand) for d in counted if d.outcome is not Outcome.COMPLY]
    if forced:
        outcome, decisive = Outcome.WITHDRAW, forced
        names = ", ".join(f"`{i}`" for i in forced)
        why_text = f"the mandatory demand{'s' if len(forced) > 1 else ''} {names} cannot be reconciled with the principles"
    elif not_complied:
        outcome, decisive = Outcome.NEGOTIATE, not_complied
        n = len(not_complied)
        names = ", ".join(f"`{i}`" for i in not_complied)
        why_text = f"{n} standing demand{'s need' if n > 1 else ' needs'} review or refusal: {names}"
    else:
        outcome, decisive = Outcome.COMPLY, []
        if counted:
            why_text = "every standing demand can be complied with"
        elif decisions:
            why_text = f"no standing demand in force on {as_of.isoformat()} is made of this platform"
        else:
            why_text = "no standing demands"
    if context:
        why_text += f" ({len(context)} not counted, listed as context)"
    env, _, links = jurisdiction_environment(policy_set, code)
    return MarketDecision(
        jurisdiction=code,
        name=str(env["jurisdiction.name"]),
        outcome=outcome,
        summary=f"{outcome.value}: {why_text}",
        decisive=tuple(decisive),
        decisions=decisions,
        jurisdiction_chain=links,
        policy_version=policy_set.version,
        as_of=as_of,
        counted=tuple(str(d.demand) for d in counted),
        context=tuple(context),
    )
