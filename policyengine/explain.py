"""Decisions → text for people: rich tables and explanation trees.

Stage contract: reads :class:`~policyengine.decision.Decision` values (and,
for source excerpts, the policy set's sources); writes nothing but text.
Everything that came from a policy file or a request is passed through
:func:`~policyengine.render.safe` and put in rich ``Text`` objects, so neither
terminal escapes nor rich markup in policy text can take effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .decision import Decision, MarketDecision, Outcome, Reason
from .render import safe

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree

    from .model import PolicySet

COLOURS = {Outcome.COMPLY: "green", Outcome.NEGOTIATE: "yellow", Outcome.WITHDRAW: "red"}


def outcome_text(outcome: Outcome) -> Text:
    from rich.text import Text

    return Text(outcome.value, style=f"bold {COLOURS[outcome]}")


def _t(text: str, style: str = "") -> Text:
    from rich.text import Text

    return Text(safe(text), style=style)


def _deciding(d: Decision) -> str:
    if d.default_applied and not d.reasons:
        return "(default)"
    return ", ".join(f"{r.principle}.{r.rule}" for r in d.reasons)


def decision_table(decisions: Sequence[Decision], title: str | None = None) -> Table:
    from rich.table import Table

    table = Table(title=_t(title) if title else None, show_lines=False, expand=False)
    table.add_column("jurisdiction", no_wrap=True)
    table.add_column("demand")
    table.add_column("outcome", no_wrap=True)
    table.add_column("decided by")
    table.add_column("because", ratio=1)
    table.add_column("source", no_wrap=True)
    for d in decisions:
        first = d.reasons[0] if d.reasons else None
        demand = d.demand or ", ".join(f"{v}" for k, v in d.request.items() if k in ("kind", "category", "legal_basis"))
        because = first.because if first else d.summary.split(": ", 1)[-1]
        table.add_row(
            _t(d.jurisdiction),
            _t(demand),
            outcome_text(d.outcome),
            _t(_deciding(d)),
            _t(because),
            _t(first.source if first else ""),
        )
    return table


def market_view(m: MarketDecision) -> list[RenderableType]:
    from rich.text import Text

    head = Text()
    head.append(safe(f"{m.name} ({m.jurisdiction})"), style="bold")
    if len(m.jurisdiction_chain) > 1:
        head.append(safe(" — " + " → ".join(m.jurisdiction_chain)))
    head.append("\nmarket: ")
    head.append_text(outcome_text(m.outcome))
    head.append(safe(" — " + m.summary.split(": ", 1)[-1]))
    out: list[RenderableType] = [head]
    if m.decisions:
        out.append(decision_table(m.decisions))
    return out


def _source_lines(policy_set: PolicySet | None, reason: Reason) -> list[tuple[int, str]]:
    if policy_set is None:
        return []
    rule = policy_set.rule(reason.qualified)
    if rule is None:
        return []
    src = rule.span.source
    first, _ = src.line_col(rule.span.start)
    last, _ = src.line_col(rule.span.end)
    return [(n, src.line_text(n)) for n in range(first, min(last, first + 12) + 1)]


def _reason_node(parent: Tree, reason: Reason, policy_set: PolicySet | None, label: str) -> None:
    from rich.text import Text

    head = Text()
    head.append(label)
    head.append(safe(f"{reason.principle}.{reason.rule}"), style="bold")
    head.append(" → ")
    head.append_text(outcome_text(reason.outcome))
    head.append(safe(f"  ({reason.source})"), style="dim")
    node = parent.add(head)
    node.add(_t(f"principle: {reason.statement}", "italic"))
    node.add(_t(f"because: {reason.because}"))
    lines = _source_lines(policy_set, reason)
    if lines:
        width = len(str(lines[-1][0]))
        src = node.add(Text("rule as written:", style="dim"))
        for n, line in lines:
            src.add(_t(f"{str(n).rjust(width)} | {line.expandtabs(4)}", "cyan"))
    if reason.facts:
        facts = node.add(Text("facts:", style="dim"))
        for f in reason.facts:
            facts.add(_t(str(f)))


def explanation_tree(d: Decision, policy_set: PolicySet | None = None) -> Tree:
    from rich.text import Text
    from rich.tree import Tree

    head = Text()
    head.append(safe(d.jurisdiction + (f".{d.demand}" if d.demand else "")), style="bold")
    head.append(": ")
    head.append_text(outcome_text(d.outcome))
    tree = Tree(head)
    if d.jurisdiction_chain and len(d.jurisdiction_chain) > 1:
        tree.add(_t("jurisdiction chain: " + " → ".join(d.jurisdiction_chain), "dim"))
    if d.request:
        attrs = ", ".join(f"{k} = {_value(v)}" for k, v in d.request.items() if v is not None or k not in ("id", "description"))
        tree.add(_t(f"demand: {attrs}", "dim"))
    if d.default_applied and not d.reasons:
        tree.add(_t("no rule matched: the default (negotiate) applies, so a person reviews this demand", "yellow"))
    for r in d.reasons:
        _reason_node(tree, r, policy_set, "decided by ")
    for r in d.outranked:
        _reason_node(tree, r, policy_set, "outranked: ")
    for u in d.undetermined:
        tree.add(
            _t(
                f"undetermined: {u.principle}.{u.rule} (would {u.outcome.value}) — "
                f"{', '.join(u.unknown)} unknown  ({u.source})",
                "magenta",
            )
        )
    tree.add(_t(f"policy version {d.policy_version}", "dim"))
    return tree


def _value(v: object) -> str:
    if v is None:
        return "unknown"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)
