"""What-if explanations: the smallest changes to a demand that would change its outcome.

Stage contract: :func:`what_if` takes an :class:`~policyengine.engine.Engine`
and a request (as :meth:`Engine.decide <policyengine.engine.Engine.decide>`
takes it) and returns a :class:`WhatIf`: the decision and, for every other
outcome, the changes that reach it.  Bad requests raise
:class:`~policyengine.decide.RequestError` exactly as ``decide`` does.

Minimal means: for each outcome, the changes of one demand attribute that
reach it; only when no single change does, the changes of two attributes.
Every candidate is decided by the engine itself, so what-if never disagrees
with ``decide``.  Candidates come from the demand space
(:mod:`policyengine.analysis`): every value of an enumeration or boolean,
``unknown`` where the vocabulary allows it, and for a number one value from
each class that the rules' constants cut its range into.  For a negotiate
decision this is the negotiation envelope: what the authority would have to
change for the platform to comply, and what would make it withdraw.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..evaluation.decide import parse_request
from ..evaluation.decision import Alternative, AttributeValue, Change, ChangedAttribute, Decision, MarketDecision, Outcome, WhatIf
from ..language import ast
from ..language.model import AttributeType, Kind
from ..language.text import json_safe
from .space import ValueClass, partition

if TYPE_CHECKING:
    from ..evaluation.engine import Engine


#: One candidate: an attribute and a class of its values (the representative is decided).
_Candidate = tuple[AttributeType, ValueClass]
_Effect = tuple[Outcome, tuple[str, ...], bool]


def _tests(engine: Engine, dotted: str) -> list[ast.Condition]:
    out: list[ast.Condition] = []
    for rule in engine.policy_set.rules:
        for node in ast.walk_condition(rule.condition):
            ref = getattr(node, "ref", None)
            if ref is not None and ref.dotted == dotted:
                out.append(node)
    return out


def _values(attr: AttributeType) -> list[AttributeValue]:
    values: list[AttributeValue] = []
    if attr.kind is Kind.ENUM:
        values.extend(attr.values)
    elif attr.kind is Kind.BOOL:
        values.extend((True, False))
    if attr.unknown_allowed:
        values.append(None)
    return values


def candidates(engine: Engine, demand: Mapping[str, Any]) -> list[list[_Candidate]]:
    """Per attribute, the classes of other values worth trying (the current value's class left out).

    ``kind`` comes last: changing it asks for something else altogether, so
    the changes that keep the demand what it is are read first.
    """
    out = []
    for attr in sorted(engine.compiled.demand_attrs, key=lambda a: (a.name == "kind", a.name)):
        if not attr.testable:
            continue
        current = demand.get(attr.name)
        if attr.kind is Kind.NUMBER:
            classes = partition(attr, _tests(engine, attr.dotted))
        else:
            # Every value on its own: an author asks "what if it were a court
            # order", not "what if it were in this class".
            classes = [ValueClass(attr.dotted, (v,), (), v) for v in _values(attr)]
        options = [(attr, c) for c in classes if current not in c]
        if options:
            out.append(options)
    return out


def _describe(attr: AttributeType, classes: Sequence[ValueClass]) -> ChangedAttribute:
    values = tuple(c.representative for c in classes)
    if attr.kind is Kind.NUMBER:
        description = " or ".join(c.describe() for c in classes)
    else:
        description = ValueClass(attr.dotted, values, (), values[0]).describe()
    return ChangedAttribute(attribute=attr.dotted, values=values, description=description)


def _change(attrs: tuple[ChangedAttribute, ...], decision: Decision) -> Change:
    rules = () if decision.default_applied else tuple(r.qualified for r in decision.reasons)
    by = f"by {', '.join(rules)}" if rules else "no rule decides it: the default"
    return Change(
        attributes=attrs,
        outcome=decision.outcome,
        decided_by=rules,
        default_applied=decision.default_applied,
        summary=f"would {decision.outcome.value} if {' and '.join(a.description for a in attrs)} ({by})",
    )


def _effect(d: Decision) -> _Effect:
    return d.outcome, tuple(r.qualified for r in d.reasons), d.default_applied


def what_if(engine: Engine, request: Any, decision: Decision | None = None) -> WhatIf:
    """The smallest changes to ``request``'s demand attributes that change its outcome.

    ``decision`` may be given when it is already known (a standing demand
    decided with :meth:`Engine.standing`); it must be the decision of ``request``.
    """
    base = decision if decision is not None else engine.decide(request)
    code, _ = parse_request(request)
    others = [o for o in Outcome if o is not base.outcome]
    if code not in engine.compiled.jurisdictions:
        # An unknown jurisdiction is reviewed whatever the demand says.
        return WhatIf(decision=base, alternatives=tuple(Alternative(outcome=o, attributes_changed=0, changes=()) for o in others))
    demand = dict(base.request)
    per_attribute = candidates(engine, demand)

    def decide(changes: Sequence[_Candidate]) -> Decision:
        modified = dict(demand)
        for attr, cls in changes:
            modified[attr.name] = cls.representative
        return engine.decide({"jurisdiction": code, "demand": modified})

    found: dict[Outcome, list[Change]] = {o: [] for o in others}
    for options in per_attribute:
        # Values of one attribute with the same effect are one change: `category in {a, b}`.
        effects: dict[_Effect, tuple[list[ValueClass], Decision]] = {}
        for attr, cls in options:
            d = decide([(attr, cls)])
            if d.outcome is not base.outcome:
                effects.setdefault(_effect(d), ([], d))[0].append(cls)
        for classes, d in effects.values():
            found[d.outcome].append(_change((_describe(options[0][0], classes),), d))
    # Two attributes only for the outcomes that no single change reaches.
    pairs_for = {o for o in others if not found[o]}
    if pairs_for:
        for n, first in enumerate(per_attribute):
            for second in per_attribute[n + 1 :]:
                for a_attr, a_cls in first:
                    effects = {}
                    for b_attr, b_cls in second:
                        d = decide([(a_attr, a_cls), (b_attr, b_cls)])
                        if d.outcome in pairs_for:
                            effects.setdefault(_effect(d), ([], d))[0].append(b_cls)
                    for classes, d in effects.values():
                        pair = (_describe(a_attr, [a_cls]), _describe(second[0][0], classes))
                        found[d.outcome].append(_change(pair, d))
    alternatives = []
    for o in others:
        changes = tuple(found[o])
        size = 0 if not changes else 2 if o in pairs_for else 1
        alternatives.append(Alternative(outcome=o, attributes_changed=size, changes=changes))
    return WhatIf(decision=base, alternatives=tuple(alternatives))


def what_if_decision(engine: Engine, decision: Decision) -> WhatIf:
    """What-if for a decision already made (a standing demand's, say): its request is in it."""
    return what_if(engine, {"jurisdiction": decision.jurisdiction, "demand": dict(decision.request)}, decision)


def print_what_if(engine: Engine, result: Decision | MarketDecision, fmt: str) -> None:
    """``decide --what-if``: after the decision (human), or instead of it with the decision inside (json)."""
    decisions = result.decisions if isinstance(result, MarketDecision) else (result,)
    found = [what_if_decision(engine, d) for d in decisions]
    if fmt == "json":
        if isinstance(result, MarketDecision):
            body = {"market": result.model_dump(mode="json"), "what_if": [w.model_dump(mode="json") for w in found]}
            print(json_safe(json.dumps(body, indent=2, ensure_ascii=False)))
        else:
            print(json_safe(found[0].model_dump_json(indent=2)))
        return
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    for w in found:
        console.print()
        for item in render(w):
            console.print(item)


# --- rendering -------------------------------------------------------------------------------

_COLOURS = {Outcome.COMPLY: "green", Outcome.NEGOTIATE: "yellow", Outcome.WITHDRAW: "red"}
_WIDTH = max(len(o.value) for o in Outcome) + 1
_INDENT = " " * (len("  would ") + _WIDTH)


def render(w: WhatIf) -> list[Any]:
    """Rich renderables: one block per other outcome, one line per change."""
    from rich.text import Text

    from ..language.text import safe

    d = w.decision
    title = Text("what would change the outcome (", style="bold")
    title.append(d.outcome.value, style=f"bold {_COLOURS[d.outcome]}")
    title.append(")" + safe(f" of {d.demand or 'this demand'} in {d.jurisdiction}:"), style="bold")
    out: list[Any] = [title]
    for alt in w.alternatives:
        head = Text("  would ")
        head.append(alt.outcome.value.ljust(_WIDTH), style=f"bold {_COLOURS[alt.outcome]}")
        if not alt.changes:
            head.append("not with any change of one or two demand attributes", style="dim")
            out.append(head)
            continue
        first: Text | None = head
        if alt.attributes_changed == 2:
            head.append("only with two changes together:", style="dim")
            out.append(head)
            first = None
        for c in alt.changes:
            line = first if first is not None else Text(_INDENT)
            first = None
            line.append("if " + safe(" and ".join(a.description for a in c.attributes)))
            line.append("  ")
            line.append(safe(f"by {', '.join(c.decided_by)}" if c.decided_by else "no rule decides it: the default"), style="dim")
            out.append(line)
    return out
