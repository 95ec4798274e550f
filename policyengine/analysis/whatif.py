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
from ..evaluation.decision import Alternative, Change, ChangedAttribute, Decision, MarketDecision, Outcome, WhatIf
from ..language import ast
from ..language.logic import value_test
from ..language.model import AttributeType, Kind, Value
from ..language.text import json_safe
from .budget import Budget, BudgetExceeded
from .space import ValueClass, partition

if TYPE_CHECKING:
    from ..evaluation.engine import Engine


#: One candidate: an attribute and a class of its values (the representative is decided).
_Candidate = tuple[AttributeType, ValueClass]
_Effect = tuple[Outcome, tuple[str, ...], bool]


def _tests(engine: Engine, dotted: str) -> list[ast.Condition]:
    return _all_tests(engine).get(dotted, [])


def _all_tests(engine: Engine) -> dict[str, list[ast.Condition]]:
    """Dotted attribute → the tests rules make of it, gathered in one pass over the rules."""
    out: dict[str, list[ast.Condition]] = {}
    for rule in engine.policy_set.rules:
        for node in ast.walk_condition(rule.condition):
            ref = getattr(node, "ref", None)
            if ref is not None:
                out.setdefault(ref.dotted, []).append(node)
    return out


def _values(attr: AttributeType) -> list[Value]:
    values: list[Value] = []
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
    the changes that keep the demand what it is are read first.  An
    attribute that no rule tests is left out: no change of it can change a
    decision (a vocabulary of hundreds of attributes that rules do not read
    costs nothing).
    """
    tests = _all_tests(engine)
    out = []
    for attr in sorted(engine.compiled.demand_attrs, key=lambda a: (a.name == "kind", a.name)):
        if not attr.testable or attr.dotted not in tests:
            continue
        current = demand.get(attr.name)
        if attr.kind is Kind.NUMBER or attr.kind is Kind.DATE:
            classes = partition(attr, tests[attr.dotted])
        else:
            # Every value on its own: an author asks "what if it were a court
            # order", not "what if it were in this class".
            classes = [ValueClass(attr.dotted, (v,), (), v) for v in _values(attr)]
        options = [(attr, c) for c in classes if current not in c]
        if options:
            out.append(options)
    return out


def _alike(engine: Engine, options: Sequence[_Candidate]) -> list[int]:
    """For each option, the index of the first option that every rule's test treats alike.

    Values that every test of the attribute gives the same truth value match
    the same rules, so they get the same decision: one of them is decided
    for all (an enumeration of fifty values that rules split in two costs
    two decisions, not fifty).
    """
    attr = options[0][0]
    if attr.kind is Kind.NUMBER or attr.kind is Kind.DATE:
        return list(range(len(options)))
    testers = [value_test(t) for t in _tests(engine, attr.dotted)]
    first: dict[tuple[bool | None, ...], int] = {}
    out = []
    for n, (_, cls) in enumerate(options):
        sig = tuple(t(cls.representative) for t in testers)
        out.append(first.setdefault(sig, n))
    return out


def _describe(attr: AttributeType, classes: Sequence[ValueClass]) -> ChangedAttribute:
    values = tuple(c.representative for c in classes)
    if attr.kind is Kind.NUMBER or attr.kind is Kind.DATE:
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


def what_if(engine: Engine, request: Any, decision: Decision | None = None, budget: Budget | None = None) -> WhatIf:
    """The smallest changes to ``request``'s demand attributes that change its outcome.

    ``decision`` may be given when it is already known (a standing demand
    decided with :meth:`Engine.standing`); it must be the decision of ``request``.
    Each candidate decision is one class of ``budget`` (the default one
    unless given); past it the search stops, keeps what it found, and says
    so in ``incomplete``.
    """
    base = decision if decision is not None else engine.decide(request)
    code, _ = parse_request(request)
    others = [o for o in Outcome if o is not base.outcome]
    if code not in engine.compiled.jurisdictions:
        # An unknown jurisdiction is reviewed whatever the demand says.
        return WhatIf(decision=base, alternatives=tuple(Alternative(outcome=o, attributes_changed=0, changes=()) for o in others))
    demand = dict(base.request)
    per_attribute = candidates(engine, demand)
    alike = [_alike(engine, options) for options in per_attribute]
    meter = (budget if budget is not None else Budget()).start()

    def decide(changes: Sequence[_Candidate]) -> Decision:
        meter.charge()
        modified = dict(demand)
        for attr, cls in changes:
            modified[attr.name] = cls.representative
        return engine.decide({"jurisdiction": code, "demand": modified})

    def effects_of(options: Sequence[_Candidate], same: Sequence[int], fixed: Sequence[_Candidate], wanted: Any) -> Any:
        """Values of one attribute with the same effect, as one change: `category in {a, b}`."""
        effects: dict[_Effect, tuple[list[ValueClass], Decision]] = {}
        decided: dict[int, Decision] = {}
        for n, (attr, cls) in enumerate(options):
            d = decided.get(same[n])
            if d is None:
                d = decided[same[n]] = decide([*fixed, (attr, cls)])
            if wanted(d.outcome):
                effects.setdefault(_effect(d), ([], d))[0].append(cls)
        return effects.values()

    found: dict[Outcome, list[Change]] = {o: [] for o in others}
    stop: BudgetExceeded | None = None
    # Two attributes only for the outcomes that no single change reaches.
    pairs_for: set[Outcome] = set()
    try:
        for options, same in zip(per_attribute, alike):
            for classes, d in effects_of(options, same, (), lambda o: o is not base.outcome):
                found[d.outcome].append(_change((_describe(options[0][0], classes),), d))
        pairs_for = {o for o in others if not found[o]}
        if pairs_for:
            for n, first in enumerate(per_attribute):
                for second, same in zip(per_attribute[n + 1 :], alike[n + 1 :]):
                    for a_attr, a_cls in first:
                        for classes, d in effects_of(second, same, [(a_attr, a_cls)], lambda o: o in pairs_for):
                            pair = (_describe(a_attr, [a_cls]), _describe(second[0][0], classes))
                            found[d.outcome].append(_change(pair, d))
    except BudgetExceeded as exceeded:
        stop = exceeded
    alternatives = []
    for o in others:
        changes = tuple(found[o])
        size = 0 if not changes else 2 if o in pairs_for else 1
        alternatives.append(Alternative(outcome=o, attributes_changed=size, changes=changes))
    incomplete = None if stop is None else f"{stop.message.replace('demand classes', 'candidate demands')} ({stop.hint})"
    return WhatIf(decision=base, alternatives=tuple(alternatives), incomplete=incomplete)


def what_if_decision(engine: Engine, decision: Decision) -> WhatIf:
    """What-if for a decision already made (a standing demand's, say): its request is in it."""
    return what_if(engine, {"jurisdiction": decision.jurisdiction, "demand": dict(decision.request)}, decision)


def print_what_if(engine: Engine, result: Decision | MarketDecision, fmt: str, budget: Budget | None = None) -> bool:
    """``decide --what-if``: after the decision (human), or instead of it with the decision inside (json).

    Returns whether every search completed (False: one stopped at its budget;
    the CLI then exits 4).  Each decision's search has ``budget`` to itself.
    """
    decisions = result.decisions if isinstance(result, MarketDecision) else (result,)
    found = [what_if(engine, {"jurisdiction": d.jurisdiction, "demand": dict(d.request)}, d, budget) for d in decisions]
    complete = all(w.incomplete is None for w in found)
    if fmt == "json":
        if isinstance(result, MarketDecision):
            body = {"market": result.model_dump(mode="json"), "what_if": [w.model_dump(mode="json") for w in found]}
            print(json_safe(json.dumps(body, indent=2, ensure_ascii=False)))
        else:
            print(json_safe(found[0].model_dump_json(indent=2)))
        return complete
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    for w in found:
        console.print()
        for item in render(w):
            console.print(item)
    return complete


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
    if w.incomplete is not None:
        out.append(Text("  " + safe(w.incomplete), style="bold yellow"))
    return out
