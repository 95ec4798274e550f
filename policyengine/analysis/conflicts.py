"""PE412: two things a ``conflict`` declaration says cannot both hold, in one decision.

Stage contract: :func:`contradictions` takes a compiled policy set and returns
one finding per (declaration, rule that asks for the first action, rule or
attribute that gives the second), each as a
:class:`~policyengine.language.diagnostics.Diagnostic` with its subject (for
``# lint: allow PE412 principle.rule``).  It never raises on a valid set.

A vocabulary says ``conflict notify_user, demand.gag_order "the gag order
wins: …"``: telling the user would break the order.  A decision carries the
actions of its deciding rules (``evaluation/decide.py``, ``merge_actions``):
an action whose own condition is false is dropped, one whose condition is
unknown is kept.  So the question is exact and finite, like the rest of
lint: is there a loaded jurisdiction and a demand for which a rule that asks
for ``notify_user`` decides, its ``when`` is not false, and the gag order
holds (or a deciding rule asks for the second action)?  The demand space
answers it: the rules' conditions, the actions' conditions and the
conflicting attributes go into one split (:func:`~.space.joint_split`), and
each leaf says which rules decide and which actions survive.  The first
example found is reported, with the declared resolution, so the author can
make one action's condition exclude the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..evaluation.compile import CompiledPolicy
from ..language import ast
from ..language.diagnostics import Diagnostic
from ..language.model import SEVERITY, Kind, RuleModel
from ..language.source import Source, Span
from .budget import Meter
from .space import (
    Residual,
    Side,
    ValueClass,
    _jurisdiction_classes,
    demand_attributes,
    joint_split,
    jurisdiction_env,
    kind_values,
    lower,
    specialise,
)

#: The span of a test made from a declaration that has none (a vocabulary built in Python).
_NOWHERE = Span(Source("<conflict>", ""), 0, 0)


@dataclass(frozen=True)
class _Entry:
    """One residual in the split besides the rules: an action's condition or a conflicting flag."""

    rule: int | None  # the rule whose action this is; None for an attribute
    name: str  # the action, or the dotted attribute


def _is_attribute(name: str) -> bool:
    return "." in name


def contradictions(compiled: CompiledPolicy, meter: Meter | None = None) -> list[tuple[Diagnostic, str]]:
    """Every declared conflict that some jurisdiction and demand make hold in one decision."""
    ps = compiled.policy_set
    conflicts = ps.vocabulary.conflicts
    if not conflicts:
        return []
    rules = ps.rules
    wanted = {c.first for c in conflicts} | {c.second for c in conflicts if not _is_attribute(c.second)}
    n = len(rules)
    lowered: list[Residual] = [lower(r.condition) for r in rules]
    entries: list[_Entry] = []
    # The rules that ask for an action a conflict names, and that action's index in `lowered`
    # (None: the action has no condition, so it holds wherever the rule decides).
    asks: dict[int, list[tuple[str, int | None]]] = {}
    for i, rule in enumerate(rules):
        for action in rule.actions:
            if action.name not in wanted:
                continue
            index = None
            if action.condition is not None:
                index = n + len(entries)
                entries.append(_Entry(i, action.name))
                lowered.append(lower(action.condition))
            asks.setdefault(i, []).append((action.name, index))
    flags: dict[str, int] = {}
    for c in conflicts:
        if _is_attribute(c.second) and c.second not in flags:
            scope, _, attr_name = c.second.partition(".")
            flags[c.second] = n + len(entries)
            entries.append(_Entry(None, c.second))
            where = c.span if c.span is not None else _NOWHERE
            lowered.append(lower(ast.TruthTest(ast.AttributeRef(scope, attr_name, where), where)))
    if not asks:
        return []
    extra = list(range(n, len(lowered)))
    attributes = demand_attributes(compiled)
    for name in flags:
        attr = ps.vocabulary.attributes.get(name)
        if attr is not None and attr.kind is Kind.BOOL:
            attributes.setdefault(name, attr)
    # (conflict index, rule asking first, rule asking second or -1 for the attribute) → example
    found: dict[tuple[int, int, int], str] = {}
    for jc in _jurisdiction_classes(ps, lowered):
        env = jurisdiction_env(jc.representative)
        for kind in kind_values(ps):
            env["demand.kind"] = kind
            side: Side = []
            for i in compiled.by_kind.get(kind, compiled.all_rules):
                r = specialise(lowered[i], env)
                if r is not False:
                    side.append((i, r))
            if not any(i in asks for i, _ in side):
                continue
            side.extend((k, specialise(lowered[k], env)) for k in extra)
            for assigned, (verdict,) in joint_split([side], attributes, meter):
                matched, unknown = set(verdict[0]), set(verdict[1])
                deciding = _deciding([i for i in verdict[0] if i < n], rules)
                fired: dict[str, int] = {}
                for i in deciding:
                    for name, index in asks.get(i, ()):
                        if index is None or index in matched or index in unknown:
                            fired.setdefault(name, i)
                if not fired:
                    continue
                for ci, c in enumerate(conflicts):
                    if c.first not in fired:
                        continue
                    if _is_attribute(c.second):
                        if flags[c.second] not in matched:
                            continue
                        key = (ci, fired[c.first], -1)
                    elif c.second in fired:
                        key = (ci, fired[c.first], fired[c.second])
                    else:
                        continue
                    if key not in found:
                        found[key] = _example(jc.codes, kind, assigned)
    out = []
    for (ci, first_rule, second_rule), example in sorted(found.items()):
        c = conflicts[ci]
        rule = rules[first_rule]
        span = _action_span(rule, c.first) or rule.span
        if second_rule < 0:
            what = f"`{c.second}` holds"
        elif second_rule == first_rule:
            what = f"it also asks for `{c.second}`"
        else:
            what = f"`{rules[second_rule].qualified}` asks for `{c.second}`"
        message = (
            f"rule `{rule.qualified}` asks for `{c.first}` where {what}, "
            f"and a conflict declaration says they contradict ({example})"
        )
        hint = (
            f'declared resolution: "{c.why}"; make one action\'s `when` exclude the other, e.g. `{c.first} when not {c.second}`'
        )
        if not _is_attribute(c.second):
            hint = f'declared resolution: "{c.why}"; make one action\'s `when` exclude the other'
        out.append(
            (Diagnostic("PE412", message, span, hint=hint, label=f"`{c.first}` and `{c.second}` together"), rule.qualified)
        )
    return out


def _deciding(matched: Sequence[int], rules: Sequence[RuleModel]) -> list[int]:
    """The most severe of the matched rules: those whose actions a decision carries."""
    if not matched:
        return []
    top = max(SEVERITY[rules[i].outcome] for i in matched)
    return [i for i in matched if SEVERITY[rules[i].outcome] == top]


def _action_span(rule: RuleModel, name: str) -> Span | None:
    """Where the rule asks for the action: the finding points there."""
    return next((a.span for a in rule.actions if a.name == name and a.span is not None), None)


def _example(codes: Sequence[str], kind: str, assigned: Sequence[ValueClass]) -> str:
    where = f"`{codes[0]}`" + (f" and {len(codes) - 1} more" if len(codes) > 1 else "")
    classes = sorted(assigned, key=lambda c: c.attribute)
    described = ", ".join([f"kind = {kind}", *(c.describe() for c in classes)])
    return f"e.g. in {where} with {described}"
