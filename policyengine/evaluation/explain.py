"""Decisions → text for people: compact decision blocks and explanation trees.

Stage contract: reads :class:`~policyengine.decision.Decision` and
:class:`~policyengine.decision.MarketDecision` values (and, for the lines of
a rule as written, the policy set's sources); returns rich renderables and
writes nothing itself.

Two views, for two questions:

* :func:`decision_blocks` / :func:`market_view` answer "what, and by which
  rule?" — one indented block per decision, used by ``policyengine decide``.
  A block rather than a table because a six-column table wraps every cell
  into a ribbon on an 80-column terminal; indented lines wrap under their
  own indent and read the same at any width.
* :func:`explanation_tree` / :func:`market_trees` answer "why?" — the
  deciding rules with the principle, the ``because`` text, the rule as
  written, the facts, and what was outranked or undetermined.

Everything that came from a policy file or a request is passed through
:func:`~policyengine.language.text.safe` and put in rich ``Text`` objects, so
neither terminal escapes nor rich markup in policy text can take effect.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..language.text import safe
from .decision import AttributeValue, Decision, MarketDecision, Outcome, Reason, show_value

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType
    from rich.segment import Segment
    from rich.text import Text
    from rich.tree import Tree

    from ..language.model import PolicySet

COLOURS = {Outcome.COMPLY: "green", Outcome.NEGOTIATE: "yellow", Outcome.WITHDRAW: "red"}
#: The attributes every demand has, shown first and in this order.
LEADING = ("kind", "category", "legal_basis")
#: Built-in attributes shown elsewhere (in the heading), not in the attribute list.
_HIDDEN = ("id", "description")
#: The demand's legal record: who asked, under what, since when, in what state,
#: of whom.  Shown on a line of its own (``record:``), in this order, and its
#: ``sources`` one per line: what a reviewer checks before anything else.
RECORD = ("authority", "instrument", "issued", "lifted", "status", "addressee")
SOURCES = "sources"
#: The authority's own label, shown with the platform's assessment when they differ.
CLAIMED = "claimed_category"
#: Most lines of a rule shown as written; longer rules end with "…".
MAX_RULE_LINES = 12
DEFAULT_TEXT = "no rule matched: the default (negotiate) applies, so a person reviews this demand"


@dataclass(frozen=True)
class SourcePaths:
    """How a ``source`` (``path:line``, the path relative to the policy set's root) is shown.

    Decisions cite rules relative to the policy set's root, which keeps them
    stable wherever the set is installed (and keeps their JSON comparable).
    A person reads them in a terminal, somewhere else: a cited file must open
    as printed from there.  So a file under the working directory is shown
    relative to it, and any other (the installed library, a sibling directory)
    by its absolute path, which opens from anywhere and does not make the
    reader count ``../``.  Without a ``root`` (a caller that did not say where
    the set lives) sources are shown as the decision carries them.
    """

    root: str | None = None
    cwd: str = field(default_factory=os.getcwd)

    def show(self, source: str) -> str:
        if self.root is None or source.startswith("<"):
            return source  # engine-made reasons (`<engine>`) cite no file
        # `path:line` or `path:line:col`: the numbers stay as they are.
        path = source
        while True:
            head, sep, number = path.rpartition(":")
            if not (sep and head and number.isdigit()):
                break
            path = head
        full = os.path.normpath(os.path.join(self.root, path))
        try:
            relative = os.path.relpath(full, self.cwd)
        except ValueError:  # another drive
            relative = full
        shown = full if relative == os.pardir or relative.startswith(os.pardir + os.sep) else relative
        return shown + source[len(path) :]


#: Sources as the decision carries them.
AS_CARRIED = SourcePaths(None, "")


def outcome_text(outcome: Outcome) -> Text:
    from rich.text import Text

    return Text(outcome.value, style=f"bold {COLOURS[outcome]}")


def _t(text: str, style: str = "") -> Text:
    """Untrusted text as an inert rich Text: control characters escaped, no markup."""
    from rich.text import Text

    return Text(safe(text), style=style)


class _Indented:
    """A renderable shifted right, wrapped lines included, without trailing padding.

    rich's ``Padding`` pads every wrapped line to the full width, which leaves
    trailing spaces in piped output and in files compared by tests.
    """

    def __init__(self, inner: RenderableType, width: int):
        self.inner = inner
        self.width = width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        from rich.segment import Segment

        inner_options = options.update_width(max(20, options.max_width - self.width)) if self.width else options
        pad = Segment(" " * self.width)
        for line in console.render_lines(self.inner, inner_options, pad=False):
            # A wrapped line keeps the space it broke at; drop it.
            while line and not line[-1].text.rstrip(" "):
                line = line[:-1]
            if line and line[-1].text.endswith(" "):
                last = line[-1]
                line = [*line[:-1], Segment(last.text.rstrip(" "), last.style, last.control)]
            if line:
                yield pad
                yield from line
            yield Segment.line()


def _prose(text: str, style: str = "") -> Text:
    """A ``because`` text, statement or description as one paragraph.

    Triple-quoted policy texts may span lines with the file's indentation;
    shown as written they would print as ``\\x0a`` escapes and stray
    spaces, so runs of whitespace become one space (the JSON keeps the text
    as written).  Other control characters are still escaped by :func:`_t`.
    """
    return _t(" ".join(text.split()), style)


def _indent(renderable: RenderableType, level: int) -> RenderableType:
    return _Indented(renderable, 2 * level) if level else renderable


def tidy(renderable: RenderableType) -> RenderableType:
    """``renderable`` without the trailing spaces rich leaves where it wraps a line."""
    return _Indented(renderable, 0)


def demand_attributes(attrs: dict[str, AttributeValue], hide: Iterable[str] = ()) -> str:
    """``kind = user_data, category = fraud, …``: the leading three first, then the rest by name
    (without ``hide``: what is shown on lines of its own)."""
    hidden = {*_HIDDEN, *hide}
    names = [n for n in LEADING if n in attrs] + sorted(n for n in attrs if n not in LEADING and n not in hidden)
    return ", ".join(f"{n} = {show_value(attrs[n])}" for n in names)


def _shown_elsewhere(d: Decision) -> tuple[str, ...]:
    """The attributes a decision's record, labels and sources lines show."""
    hidden = [*RECORD, SOURCES]
    claimed = d.request.get(CLAIMED)
    # The authority's label is news only when it differs from the assessment (then `labels:` shows both).
    if d.claim is not None or claimed is None or claimed == d.request.get("category"):
        hidden.append(CLAIMED)
    return tuple(hidden)


def record_text(d: Decision) -> str | None:
    """``authority = court, instrument = …, issued = 2024-05-17, status = in_force, …``, or None."""
    parts = [f"{n} = {show_value(d.request[n])}" for n in RECORD if d.request.get(n) is not None]
    return ", ".join(parts) if parts else None


def record_sources(d: Decision) -> tuple[str, ...]:
    """The demand's citations (``sources``, a list of texts), as given."""
    value = d.request.get(SOURCES)
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value) if isinstance(value, (tuple, list)) else ()


def claim_text(d: Decision) -> str | None:
    """Both labels and which one decided, when the authority's label differs from the assessment."""
    c = d.claim
    if c is None:
        return None
    return f"the authority calls it `{c.claimed}`, the platform assesses it as `{c.assessed}`: decided as `{c.decisive}`" + (
        " (the assessment)" if c.decisive == c.assessed else " (the authority's label)"
    )


def hours_text(hours: float) -> str:
    """A deadline as rules write it: ``24h``; whole days past two also as days, ``240h (10d)``."""
    shown = f"{show_value(hours)}h"
    if hours >= 48 and hours % 24 == 0:
        shown += f" ({show_value(hours / 24)}d)"
    return shown


def action_texts(d: Decision) -> list[str]:
    """``human_review within 24h (by lawful_access.court_order)``, one per action."""
    out = []
    for a in d.actions:
        deadline = f" within {hours_text(a.within_hours)}" if a.within_hours is not None else ""
        out.append(f"{a.action}{deadline} (by {a.rule})")
    return out


def scores_read(d: Decision) -> list[str]:
    """The jurisdiction's scores (its number attributes: the overall rule of law, the WJP
    factors) that the deciding rules' conditions read, once each, with the test they met."""
    seen: dict[str, str] = {}
    for r in d.reasons:
        for f in r.facts:
            if f.attribute.startswith("jurisdiction.") and isinstance(f.value, float) and f.attribute not in seen:
                seen[f.attribute] = str(f)
    return [seen[k] for k in sorted(seen)]


def _heading(d: Decision) -> Text:
    from rich.text import Text

    head = Text()
    head.append(safe(d.jurisdiction + (f" · {d.demand}" if d.demand else "")), style="bold")
    head.append("  ")
    head.append_text(outcome_text(d.outcome))
    return head


def _rule_line(prefix: str, r: Reason, paths: SourcePaths) -> Text:
    from rich.text import Text

    line = Text(prefix)
    line.append(safe(r.qualified), style="bold")
    line.append(safe(f"  {paths.show(r.source)}"), style="dim")
    return line


def _names(reasons: Iterable[Reason]) -> str:
    return ", ".join(f"{r.qualified} ({r.outcome.value})" for r in reasons)


def decision_block(d: Decision, paths: SourcePaths = AS_CARRIED) -> RenderableType:
    """One decision as an indented block: heading, record, labels, demand, deciding rules with
    their texts, actions."""
    from rich.console import Group

    lines: list[RenderableType] = [_heading(d)]
    description = d.request.get("description")
    if isinstance(description, str) and description:
        lines.append(_indent(_prose(description, "italic"), 1))
    record = record_text(d)
    if record is not None:
        lines.append(_indent(_t("record: " + record), 1))
    for source in record_sources(d):
        lines.append(_indent(_t("source: " + source, "dim"), 1))
    claim = claim_text(d)
    if claim is not None:
        lines.append(_indent(_t("labels: " + claim, "cyan"), 1))
    lines.append(_indent(_t("demand: " + demand_attributes(d.request, _shown_elsewhere(d)), "dim"), 1))
    if d.default_applied and not d.reasons:
        lines.append(_indent(_t("by default: no principle covers this demand, so a person reviews it", "yellow"), 1))
        if d.considered:
            lines.append(_indent(_t("principles considered: " + ", ".join(d.considered), "dim"), 1))
    for r in d.reasons:
        lines.append(_indent(_rule_line("by ", r, paths), 1))
        lines.append(_indent(_prose(r.because), 2))
    scores = scores_read(d)
    if scores:
        lines.append(_indent(_t("scores read: " + "; ".join(scores), "dim"), 1))
    actions = action_texts(d)
    if actions:
        lines.append(_indent(_t("actions: " + ", ".join(actions), "bold"), 1))
    if d.outranked:
        lines.append(_indent(_t("outranked: " + _names(d.outranked), "dim"), 1))
    for u in d.undetermined:
        lines.append(
            _indent(
                _t(
                    f"undetermined: {u.principle}.{u.rule} would {u.outcome.value}, but {', '.join(u.unknown)} "
                    f"{'is' if len(u.unknown) == 1 else 'are'} unknown",
                    "magenta",
                ),
                1,
            )
        )
    return Group(*lines)


def decision_blocks(decisions: Sequence[Decision], paths: SourcePaths = AS_CARRIED) -> RenderableType:
    """Blocks separated by blank lines, then the policy version once."""
    from rich.console import Group
    from rich.text import Text

    parts: list[RenderableType] = []
    for i, d in enumerate(decisions):
        if i:
            parts.append(Text())
        parts.append(decision_block(d, paths))
    if decisions:
        parts.append(Text())
        parts.append(_t(f"as of {decisions[0].as_of.isoformat()} · policy version {decisions[0].policy_version}", "dim"))
    return Group(*parts)


def _market_heading(m: MarketDecision) -> RenderableType:
    """The market's outcome and why, the date it holds on, the demands it counted and
    those it did not (with why: made of another platform, lifted, proposed …)."""
    from rich.console import Group
    from rich.text import Text

    head = Text()
    head.append(safe(f"{m.name} ({m.jurisdiction})"), style="bold")
    if len(m.jurisdiction_chain) > 1:
        head.append(safe(", in " + " → ".join(m.jurisdiction_chain[1:])))
    head.append("  market: ")
    head.append_text(outcome_text(m.outcome))
    why = m.summary.split(": ", 1)[-1]
    lines: list[RenderableType] = [head, _indent(_prose(why), 1)]
    counted = f", counted ({len(m.counted)}): {', '.join(m.counted) or 'none'}" if m.decisions else ""
    lines.append(_indent(_t(f"as of {m.as_of.isoformat()}{counted}"), 1))
    for c in m.context:
        lines.append(_indent(_t(f"not counted: {c.demand}: {c.reason}", "dim"), 1))
    return Group(*lines)


def market_view(m: MarketDecision, paths: SourcePaths = AS_CARRIED) -> RenderableType:
    """A market: its outcome and why, then one block per standing demand."""
    from rich.console import Group
    from rich.text import Text

    if not m.decisions:
        return Group(_market_heading(m), Text(), _t(f"policy version {m.policy_version}", "dim"))
    return Group(_market_heading(m), Text(), decision_blocks(m.decisions, paths))


# --- explanation trees --------------------------------------------------------------


def _source_lines(policy_set: PolicySet | None, reason: Reason) -> list[tuple[int, str]]:
    """The rule as written, from the loaded sources (none for engine-made reasons)."""
    if policy_set is None:
        return []
    rule = policy_set.rule(reason.qualified)
    if rule is None or rule.span.short_location() != reason.source:
        return []
    src = rule.span.source
    first, _ = src.line_col(rule.span.start)
    last, _ = src.line_col(max(rule.span.start, rule.span.end - 1))
    shown = [(n, src.line_text(n)) for n in range(first, min(last, first + MAX_RULE_LINES - 1) + 1)]
    if last > shown[-1][0]:
        shown.append((0, "…"))
    return shown


def _reason_node(parent: Tree, reason: Reason, policy_set: PolicySet | None, label: str, lines: bool, paths: SourcePaths) -> None:
    from rich.text import Text

    head = Text(label)
    head.append(safe(reason.qualified), style="bold")
    head.append(" → ")
    head.append_text(outcome_text(reason.outcome))
    head.append(safe(f"  {paths.show(reason.source)}"), style="dim")
    node = parent.add(head)
    node.add(_prose(f"principle {reason.principle}: {reason.statement}", "italic"))
    node.add(_prose(f"because: {reason.because}"))
    source = _source_lines(policy_set, reason) if lines else []
    if source:
        width = len(str(max(n for n, _ in source)))
        written = node.add(Text("rule as written:", style="dim"))
        # Syntax colours (styles only: the text is what plain output shows).
        from ..language.highlight import highlight_lines

        code = iter(highlight_lines([text.expandtabs(4) for n, text in source if n]))
        for n, text in source:
            gutter = str(n).rjust(width) if n else " " * width
            row = Text()
            row.append(f"{gutter} | ", style="dim")
            row.append_text(next(code) if n else _t(text, "dim"))
            row.rstrip()
            written.add(row)
    if reason.facts:
        facts = node.add(Text("facts:", style="dim"))
        for f in reason.facts:
            facts.add(_t(str(f)))


def explanation_tree(
    d: Decision,
    policy_set: PolicySet | None = None,
    paths: SourcePaths = AS_CARRIED,
    would_decide: Sequence[str] = (),
) -> Tree:
    """Why ``d``: the record, both labels, chain, demand, deciding rules (as written, with
    facts), the scores they read, the actions, outranked, undetermined; for the default, the
    principles considered and ``would_decide`` (the changes that would decide it, when the
    caller computed them: analysis sits above this layer)."""
    from rich.text import Text
    from rich.tree import Tree

    tree = Tree(_heading(d))
    description = d.request.get("description")
    if isinstance(description, str) and description:
        tree.add(_prose(description, "italic"))
    record = record_text(d)
    sources = record_sources(d)
    if record is not None or sources:
        node = tree.add(_t(f"record: {record}" if record else "record:"))
        for source in sources:
            node.add(_t("source: " + source, "dim"))
    claim = claim_text(d)
    if claim is not None:
        tree.add(_t("labels: " + claim, "cyan"))
    if len(d.jurisdiction_chain) > 1:
        tree.add(_t("jurisdiction chain: " + " → ".join(d.jurisdiction_chain), "dim"))
    tree.add(_t("demand: " + demand_attributes(d.request, _shown_elsewhere(d)), "dim"))
    if d.default_applied and not d.reasons:
        node = tree.add(_t(DEFAULT_TEXT, "yellow"))
        if d.considered:
            node.add(_t("principles considered (no rule of theirs matched): " + ", ".join(d.considered)))
        else:
            node.add(_t("no principle has a rule for this kind of demand"))
        if would_decide:
            changes = node.add(_t("what would decide it (the smallest changes of the demand):", "dim"))
            for change in would_decide:
                changes.add(_t(change))
    for r in d.reasons:
        _reason_node(tree, r, policy_set, "decided by ", lines=True, paths=paths)
    scores = scores_read(d)
    if scores:
        node = tree.add(Text("scores read:", style="dim"))
        for line in scores:
            node.add(_t(line))
    actions = action_texts(d)
    if actions:
        node = tree.add(Text("actions:", style="bold"))
        for line in actions:
            node.add(_t(line))
    for r in d.outranked:
        _reason_node(tree, r, policy_set, "outranked: ", lines=False, paths=paths)
    for u in d.undetermined:
        node = tree.add(_t(f"undetermined: {u.principle}.{u.rule} (would {u.outcome.value})  {paths.show(u.source)}", "magenta"))
        node.add(_t(f"unknown: {', '.join(u.unknown)}"))
    tree.add(_t(f"as of {d.as_of.isoformat()} · policy version {d.policy_version}", "dim"))
    return tree


def market_trees(
    m: MarketDecision,
    policy_set: PolicySet | None = None,
    paths: SourcePaths = AS_CARRIED,
    would_decide: Callable[[Decision], Sequence[str]] | None = None,
) -> RenderableType:
    """A market's outcome and why, then the explanation tree of every standing demand."""
    from rich.console import Group
    from rich.text import Text

    parts: list[RenderableType] = [_market_heading(m)]
    if not m.decisions:
        parts.append(_indent(_t("no standing demands", "dim"), 1))
    for d in m.decisions:
        parts.append(Text())
        parts.append(explanation_tree(d, policy_set, paths, would_decide(d) if would_decide else ()))
    return Group(*parts)
