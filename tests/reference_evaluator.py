"""A plain reference evaluator and explainer, for tests only.

Written from docs/semantics.md straight over the AST, with no index, no
closures, no memo and nothing imported from the engine's evaluation code: the
package keeps one implementation (compiled, memoised) and the tests compare
it with this one.

* :func:`truth` — Kleene three-valued logic: a test of an unknown value is
  unknown; ``and``/``or``/``not`` follow Kleene's tables; only
  ``is known``/``is unknown`` look at unknown values;
* :func:`facts` — the atoms that make a condition hold, as facts (an ``and``
  that holds needs all its parts, an ``or`` the parts that hold; negation
  swaps the two, De Morgan);
* :func:`fill` — a ``because`` text with its placeholders filled;
* :func:`reason` — a matching rule's Reason built from the two;
* :func:`environment` — dotted names → values, and the group each inherited
  jurisdiction value came from.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from policyengine.evaluation.compile import CompiledRule
from policyengine.evaluation.decision import Fact, Outcome, Reason
from policyengine.language import ast
from policyengine.language.model import JurisdictionModel, RuleModel

#: A value as the language has them: enumeration values and texts, bools,
#: numbers, dates, lists of texts; None for unknown.
Value = str | bool | float | datetime.date | tuple[str, ...] | None

_NEGATE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def literal(lit: Any) -> Value:
    if isinstance(lit, ast.Symbol):
        return lit.name
    if isinstance(lit, ast.Unknown):
        return None
    return lit.value  # type: ignore[no-any-return]


def show(value: Value) -> str:
    """As policy text writes a value (docs/semantics.md, "Explanations")."""
    if value is None:
        return "unknown"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, tuple):
        # A list of texts as the language writes it: ["a", "b \"quoted\""].
        return "[" + ", ".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value) + "]"
    return str(value)


def atom_truth(node: Any, value: Value) -> bool | None:
    if isinstance(node, ast.KnownTest):
        return (value is not None) == node.known
    if value is None:
        return None
    if isinstance(node, ast.TruthTest):
        return bool(value)
    if isinstance(node, ast.Membership):
        return (value in [literal(v) for v in node.values]) != node.negated
    op, other = node.op, literal(node.value)
    if op == "==":
        return value == other
    if op == "!=":
        return value != other
    if op == "<":
        return value < other  # type: ignore[operator]
    if op == "<=":
        return value <= other  # type: ignore[operator]
    if op == ">":
        return value > other  # type: ignore[operator]
    assert op == ">=", op
    return value >= other  # type: ignore[operator]


def truth(node: Any, env: Mapping[str, Value]) -> bool | None:
    if isinstance(node, ast.Not):
        inner = truth(node.operand, env)
        return None if inner is None else not inner
    if isinstance(node, (ast.AllOf, ast.AnyOf)):
        # Kleene: one false part makes an `and` false (one true part an `or` true),
        # whatever the others are, known or not; else unknown if any part is.
        decisive = isinstance(node, ast.AnyOf)
        results = []
        for op in node.operands:
            r = truth(op, env)
            if r is decisive:
                return decisive
            results.append(r)
        return None if None in results else not decisive
    return atom_truth(node, env.get(node.ref.dotted))


def describe(node: Any, negated: bool = False) -> str:
    """The test an atom applies, as written (negated: as its negation reads)."""
    if isinstance(node, ast.Comparison):
        return f"{_NEGATE[node.op] if negated else node.op} {show(literal(node.value))}"
    if isinstance(node, ast.Membership):
        word = "not in" if node.negated != negated else "in"
        return f"{word} {{{', '.join(show(literal(v)) for v in node.values)}}}"
    if isinstance(node, ast.KnownTest):
        return "is known" if node.known != negated else "is unknown"
    return "is false" if negated else "is true"


def facts(node: Any, env: Mapping[str, Value], origins: Mapping[str, str], negated: bool = False) -> list[Fact]:
    """The atoms that make ``node`` evaluate to ``not negated``."""
    if isinstance(node, ast.Not):
        return facts(node.operand, env, origins, not negated)
    if isinstance(node, (ast.AllOf, ast.AnyOf)):
        need_all = isinstance(node, ast.AllOf) != negated
        out: list[Fact] = []
        for operand in node.operands:
            if need_all or truth(operand, env) is (not negated):
                out.extend(facts(operand, env, origins, negated))
        return out
    dotted = node.ref.dotted
    value = env.get(dotted)
    if atom_truth(node, value) is not (not negated):
        return []
    return [Fact(attribute=dotted, value=value, test=describe(node, negated), origin=origins.get(dotted) or None)]


def fill(template: ast.Template, env: Mapping[str, Value]) -> str:
    return "".join(p if isinstance(p, str) else show(env.get(p.ref.dotted)) for p in template.parts)


def reason(rule: CompiledRule, env: Mapping[str, Value], origins: Mapping[str, str]) -> Reason:
    return model_reason(rule.model, env, origins)


def model_reason(m: RuleModel, env: Mapping[str, Value], origins: Mapping[str, str]) -> Reason:
    """A matching rule's Reason from the rule as the policy set holds it (no compiled form)."""
    return Reason(
        principle=m.principle,
        statement=m.statement,
        rule=m.rule,
        outcome=Outcome(m.outcome),
        because=fill(m.because, env),
        source=m.span.short_location(),
        facts=tuple(facts(m.condition, env, origins)),
    )


def environment(jurisdiction: JurisdictionModel, demand: Mapping[str, Value]) -> tuple[dict[str, Value], dict[str, str]]:
    env: dict[str, Value] = {f"jurisdiction.{k}": v for k, v in jurisdiction.attrs.items()}
    env.update((f"demand.{k}", v) for k, v in demand.items())
    origins = {f"jurisdiction.{k}": o for k, o in jurisdiction.attr_origin.items() if o and o != jurisdiction.code}
    return env, origins


ENGINE_RULE = "policyengine.unknown_jurisdiction"
_SEVERITY = {"comply": 0, "negotiate": 1, "withdraw": 2}


def outline(matched: Mapping[str, str], known: bool) -> tuple[str, list[str], list[str], bool, list[tuple[str, str]]]:
    """The shape of a decision from docs/semantics.md §4 and §7, given the matching
    rules (``principle.rule`` → outcome) and whether the jurisdiction is in the set:
    (outcome, reasons, outranked, default applied, [(action, rule)] of the engine's own).

    For a code the set does not define, the engine's reason is one more match with
    the outcome negotiate: it outranks comply, joins negotiate, and withdraw outranks it.
    """
    everything = dict(matched)
    if not known:
        everything[ENGINE_RULE] = "negotiate"
    if not everything:
        return "negotiate", [], [], True, [("human_review", "policyengine.default")]
    top = max(_SEVERITY[o] for o in everything.values())
    outcome = next(o for o, s in _SEVERITY.items() if s == top)
    reasons = sorted(n for n, o in everything.items() if _SEVERITY[o] == top)
    outranked = sorted(n for n, o in everything.items() if _SEVERITY[o] < top)
    engine_actions = [("human_review", ENGINE_RULE)] if ENGINE_RULE in reasons else []
    return outcome, reasons, outranked, not matched, engine_actions


def merged_actions(asked: list[tuple[str, float | None, str]]) -> list[tuple[str, float | None, str]]:
    """Actions (name, hours, rule) asked for by the deciding rules, in ``principle.rule``
    order, merged by name as docs/semantics.md ("Actions") says: the shortest deadline
    wins (any deadline beats none), the first rule on a tie; sorted by name."""
    best: dict[str, tuple[str, float | None, str]] = {}
    for name, hours, rule in asked:
        old = best.get(name)
        if old is None or (hours is not None and (old[1] is None or hours < old[1])):
            best[name] = (name, hours, rule)
    return [best[n] for n in sorted(best)]
