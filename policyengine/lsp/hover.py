"""Hover: what the name under the cursor is, and what the set decides about it.

Stage contract: :func:`hover` takes a snapshot, a file and an offset and
returns ``(markdown, span)`` or None.  It reads the index (so it works on a
file with syntax errors, as far as the parser recovered it) and, for
demands, jurisdictions, rules and test expectations, the decisions of the
set (those of the last version without errors while the set has some, said
so in the text).  One function per kind of name, chosen from a table keyed
by :class:`~policyengine.lsp.index.Kind`.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable

from ..evaluation.decision import Decision
from ..language import ast
from ..language.diagnostics import did_you_mean
from ..language.model import ACTION_ENUM
from ..language.source import Span
from .decisions import ExpectationCheck
from .index import AttributeInfo, Kind, Occurrence, SetIndex, enclosing
from .project import Snapshot

#: Most lines of a declaration shown as written, and most items of a list.
MAX_LINES = 12
MAX_ITEMS = 12

_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|])")


_CODE_SPAN = re.compile(r"(`[^`\n]+`)")


def md(text: str) -> str:
    """Policy text as markdown prose: nothing in it is read as markup, except that
    names in backticks (as messages and summaries write them) stay code."""
    parts = _CODE_SPAN.split(text)
    return "".join(p if i % 2 else _MARKDOWN.sub(r"\\\1", p) for i, p in enumerate(parts))


def code(text: str) -> str:
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def block(text: str) -> str:
    lines = text.strip("\n").split("\n")
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], "    …"]
    body = "\n".join(lines)
    fence = "```"
    while fence in body:
        fence += "`"
    return f"{fence}policy\n{body}\n{fence}"


def as_written(span: Span) -> str:
    """The text of ``span`` as it stands in the file, without the indentation it shares."""
    text = span.source.text
    line_start = text.rfind("\n", 0, span.start) + 1
    lead = text[line_start : span.start]
    return textwrap.dedent((lead if not lead.strip() else "") + span.text)


def listing(items: list[str], limit: int = MAX_ITEMS) -> str:
    shown = items[:limit]
    more = f"\n- … and {len(items) - limit} more" if len(items) > limit else ""
    return "\n".join(f"- {i}" for i in shown) + more


def where(span: Span) -> str:
    return f"*{md(span.short_location())}*"


def _stale(current: bool) -> str:
    return "" if current else " *(as decided by the last version of the policy set without errors)*"


def _decision_text(d: Decision) -> str:
    if d.default_applied and not d.reasons:
        return f"**{d.outcome.value}** by default (no rule matched){_actions_text(d)}"
    rules = ", ".join(code(r.qualified) for r in d.reasons)
    because = f" — {md(d.reasons[0].because)}" if d.reasons else ""
    return f"**{d.outcome.value}** by {rules}{because}{_actions_text(d)}"


def _actions_text(d: Decision) -> str:
    """The actions that go with the outcome, each with its deadline (empty when none)."""
    if not d.actions:
        return ""
    shown = [code(a.action) + (f" within {a.within_hours:g}h" if a.within_hours is not None else "") for a in d.actions]
    return "; actions: " + ", ".join(shown)


class _Hover:
    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot
        self.index: SetIndex = snapshot.index
        self.decisions, self.current = snapshot.decisions()

    def declaration(self, o: Occurrence) -> Occurrence | None:
        if o.definition:
            return o
        found = self.index.definitions(o.kind, o.key)
        return found[0] if found else None

    def undeclared(self, o: Occurrence, what: str, pool: Iterable[str]) -> str:
        hint = did_you_mean(o.name, pool)
        return f"{code(o.name)}: no {what} of that name is declared" + (f"; {md(hint)}" if hint else "")

    # -- one per kind ---------------------------------------------------------------

    def principle(self, o: Occurrence) -> str:
        decl = self.declaration(o)
        if decl is None or not isinstance(decl.node, ast.Principle):
            return self.undeclared(o, "principle", [p.key for p in self.index.declarations(Kind.PRINCIPLE)])
        p = decl.node
        rules = [f"{code(r.name.name)} → {r.outcome}" for r in p.rules]
        parts = [block(f"principle {p.name.name}"), md(p.statement.value)]
        if rules:
            parts.append("Rules:\n" + listing(rules))
        parts.append(where(decl.span))
        return "\n\n".join(parts)

    def rule(self, o: Occurrence) -> str:
        decl = self.declaration(o)
        if decl is None or not isinstance(decl.node, ast.Rule):
            return self.undeclared(o, "rule", [r.key for r in self.index.declarations(Kind.RULE)])
        r = decl.node
        principle = o.key.rsplit(".", 1)[0]
        parts = [block(as_written(r.span))]
        owner = self.index.definitions(Kind.PRINCIPLE, principle)
        if owner and isinstance(owner[0].node, ast.Principle):
            parts.append(f"Rule of principle {code(principle)}: {md(owner[0].node.statement.value)}")
        if self.decisions is not None:
            decides = [f"{code(f'{c}.{d}')}" for c, d in self.decisions.decided_by_rule(o.key)]
            if decides:
                parts.append(f"Decides these standing demands{_stale(self.current)}:\n" + listing(decides))
            else:
                parts.append(f"Decides no standing demand{_stale(self.current)}")
        parts.append(where(decl.span))
        return "\n\n".join(parts)

    def jurisdiction(self, o: Occurrence) -> str:
        decl = self.declaration(o)
        if decl is None or not isinstance(decl.node, ast.Jurisdiction):
            return self.undeclared(o, "jurisdiction or group", [j.key for j in self.index.declarations(Kind.JURISDICTION)])
        j = decl.node
        word = "group" if j.is_group else "jurisdiction"
        header = f'{word} {j.code.name} "{j.display_name.value}"' + (f" in {j.member_of.name}" if j.member_of else "")
        parts = [block(header)]
        chain = self.index.chain(j.code.name)
        if len(chain) > 1:
            parts.append("Member of " + " → ".join(code(c) for c in chain[1:]))
        attrs = self.jurisdiction_attributes(j.code.name)
        if attrs:
            parts.append("Attributes:\n" + listing(attrs, limit=40))
        if j.is_group:
            members = self.index.members(j.code.name)
            if members:
                parts.append(f"{len(members)} member(s): " + ", ".join(code(m) for m in members))
        if self.decisions is not None:
            market = self.decisions.market(j.code.name)
            if market is not None:
                lines = [f"Market: **{market.outcome.value}** — {md(market.summary.split(': ', 1)[-1])}{_stale(self.current)}"]
                standing = [f"{code(d.demand or '')} → {_decision_text(d)}" for d in market.decisions]
                if standing:
                    lines.append("Standing demands:\n" + listing(standing))
                parts.extend(lines)
        parts.append(where(decl.span))
        return "\n\n".join(parts)

    def jurisdiction_attributes(self, code_: str) -> list[str]:
        """Each jurisdiction attribute with its value and where the value comes from."""
        own: dict[str, dict[str, ast.Assignment]] = {}
        for link in self.index.chain(code_):
            defs = self.index.definitions(Kind.JURISDICTION, link)
            if defs and isinstance(defs[0].node, ast.Jurisdiction):
                own[link] = {a.name.name: a for a in defs[0].node.assignments}
        out = []
        for info in sorted(self.index.attributes.values(), key=lambda a: a.dotted):
            if info.scope != "jurisdiction" or info.builtin:
                continue
            for link, assigned in own.items():
                if info.name in assigned:
                    origin = "set here" if link == code_ else f"from {code(link)}"
                    out.append(f"{code(info.name)} = {code(assigned[info.name].value.span.text)} ({origin})")
                    break
            else:
                if info.default is not None:
                    out.append(f"{code(info.name)} = {code(info.default)} (default)")
                elif info.unknown_allowed:
                    out.append(f"{code(info.name)} = `unknown` (not set)")
                else:
                    out.append(f"{code(info.name)}: not set")
        return out

    def demand(self, o: Occurrence) -> str:
        decl = self.declaration(o)
        asked_by = o.via or o.key.split(".", 1)[0]
        if decl is None or not isinstance(decl.node, ast.Demand):
            pool = [d for d, _ in self.index.demands_of(asked_by)]
            return self.undeclared(o, f"standing demand of {code(asked_by)}", pool)
        dem = decl.node
        owner = decl.key.split(".", 1)[0]
        parts = [block(f'demand {owner}.{dem.name.name} "{dem.description.value}"')]
        if owner != asked_by:
            parts.append(f"Made by {code(asked_by)} as a member of {code(owner)}")
        assigned = [f"{code(a.name.name)} = {code(a.value.span.text)}" for a in dem.assignments]
        if assigned:
            parts.append("Attributes:\n" + listing(assigned, limit=40))
        if self.decisions is not None:
            parts.extend(self.demand_decisions(o, owner, asked_by, dem.name.name))
        else:
            parts.append("No decision: the policy set has errors")
        parts.append(where(decl.span))
        return "\n\n".join(parts)

    def demand_decisions(self, o: Occurrence, owner: str, asked_by: str, demand: str) -> list[str]:
        assert self.decisions is not None
        out = []
        decision = self.decisions.standing(asked_by, demand)
        if decision is None:
            return [f"No decision{_stale(self.current)}: {code(asked_by)} made no such demand then"]
        out.append(f"Decision in {code(asked_by)}: {_decision_text(decision)}{_stale(self.current)}")
        if decision.outranked:
            out.append("Outranked: " + ", ".join(f"{code(r.qualified)} ({r.outcome.value})" for r in decision.outranked))
        if decision.undetermined:
            names = ", ".join(code(f"{u.principle}.{u.rule}") for u in decision.undetermined)
            out.append(f"Not evaluated (a value is unknown): {names}")
        if o.definition and self.index.is_group(owner):
            by_outcome: dict[str, list[str]] = {}
            for member in self.index.members(owner):
                d = self.decisions.standing(member, demand)
                if d is not None:
                    by_outcome.setdefault(d.outcome.value, []).append(member)
            if by_outcome:
                out.append("In its members:\n" + listing([f"**{k}**: " + ", ".join(v) for k, v in sorted(by_outcome.items())]))
        if isinstance(o.node, ast.StandingExpectation):
            check = self.decisions.expectation(o.node)
            if check is not None:
                out.append(_expectation_line(o.node, check))
        return out

    def enum(self, o: Occurrence) -> str:
        decl = self.declaration(o)
        if decl is None or not isinstance(decl.node, ast.EnumDecl):
            return self.undeclared(o, "enumeration", list(self.index.enums))
        e = decl.node
        parts = [block(f"enum {e.name.name}")]
        if e.description:
            parts.append(md(e.description.value))
        values = [_value_line(v) for v in self.index.enum_values(e.name.name)]
        parts.append("Values:\n" + listing(values, limit=40))
        parts.append(where(decl.span))
        return "\n\n".join(parts)

    def value(self, o: Occurrence) -> str:
        decl = self.declaration(o)
        enum_name = o.key.rsplit(".", 1)[0]
        if decl is None or not isinstance(decl.node, ast.EnumValue):
            pool = [v.name.name for v in self.index.enum_values(enum_name)]
            return self.undeclared(o, f"value of enumeration {code(enum_name)}", pool)
        v = decl.node
        parts = [block(f"{enum_name}.{v.name.name}")]
        if v.description:
            parts.append(md(v.description.value))
        enum_decls = self.index.definitions(Kind.ENUM, enum_name)
        about = ""
        if enum_decls and isinstance(enum_decls[0].node, ast.EnumDecl) and enum_decls[0].node.description:
            about = f" ({md(enum_decls[0].node.description.value)})"
        parts.append(f"A value of the enumeration {code(enum_name)}{about}")
        if enum_name == ACTION_ENUM:
            parts.extend(self.action(o))
        parts.append(where(decl.span))
        return "\n\n".join(parts)

    def action(self, o: Occurrence) -> list[str]:
        """What an action name adds to its value's hover: at a use in a rule, that rule's
        deadline and condition for it; everywhere, the conflicts it is declared in."""
        out = ["An action: what the platform does along with a rule's outcome"]
        if isinstance(o.node, ast.RuleAction):
            a = o.node
            rule = self.rule_of(o)
            terms = [f"within {code(a.within.text)}" if a.within is not None else "no deadline"]
            terms.append(f"when {code(_one_line(a.condition.span.text))}" if a.condition is not None else "always")
            owner = f"rule {code(rule)}" if rule else "this rule"
            out.append(f"Asked for by {owner}: " + ", ".join(terms))
        conflicts = [c.node for c in self.index.references(Kind.VALUE, o.key) if isinstance(c.node, ast.ConflictDecl)]
        if conflicts:
            out.append("Conflicts:\n" + listing([_conflict_line(c) for c in conflicts]))
        return out

    def rule_of(self, o: Occurrence) -> str | None:
        """``principle.rule`` of the rule around ``o`` in its file, if any."""
        doc = self.snapshot.document(o.path)
        if doc is None or doc.parsed is None:
            return None
        principle: str | None = None
        for node in enclosing(doc.parsed.result.file, o.span.start):
            if isinstance(node, ast.Principle):
                principle = node.name.name
            elif isinstance(node, ast.Rule) and principle is not None:
                return f"{principle}.{node.name.name}"
        return None

    def conflict(self, c: ast.ConflictDecl) -> str:
        parts = [block(as_written(c.span)), _conflict_line(c)]
        other = "with that action" if isinstance(c.second, ast.Ident) else "while that attribute is true"
        parts.append(f"The action cannot be carried out {other}; the text says which side wins")
        parts.append(where(c.span))
        return "\n\n".join(parts)

    def attribute(self, o: Occurrence) -> str:
        info = self.index.attributes.get(o.key)
        if info is None:
            scope = o.key.split(".", 1)[0]
            pool = [a.name for a in self.index.attributes.values() if a.scope == scope]
            return self.undeclared(o, f"{scope} attribute", pool)
        return attribute_text(self.index, info)

    def expectation(self, exp: ast.Expectation) -> str | None:
        if self.decisions is None:
            return "No decision: the policy set has errors"
        check = self.decisions.expectation(exp)
        if check is None:
            return None
        return _expectation_line(exp, check) + _stale(self.current) + "\n\n" + md(check.summary)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _conflict_line(c: ast.ConflictDecl) -> str:
    second = c.second.dotted if isinstance(c.second, ast.AttributeRef) else c.second.name
    return f"{code(c.first.name)} conflicts with {code(second)} — {md(c.why.value)}"


def _value_line(v: ast.EnumValue) -> str:
    return code(v.name.name) + (f" — {md(v.description.value)}" if v.description else "")


def attribute_text(index: SetIndex, info: AttributeInfo) -> str:
    """The hover (and completion documentation) of an attribute."""
    head = f"attribute {info.dotted}: {info.type_label}" + (f" = {info.default}" if info.default is not None else "")
    parts = [block(head)]
    if info.description:
        parts.append(md(info.description))
    if info.enum is not None:
        values = [_value_line(v) for v in index.enum_values(info.enum)]
        parts.append(f"Values of {code(info.enum)}:\n" + listing(values, limit=40))
    if info.builtin:
        parts.append("Built into the language" + ("; conditions cannot test it" if info.type_name == "text" else ""))
    elif info.decl is not None:
        parts.append(where(info.decl.ref.span))
    return "\n\n".join(parts)


def _expectation_line(exp: ast.Expectation, check: ExpectationCheck) -> str:
    by = ""
    if check.decided_by:
        by = " by " + ", ".join(code(r) for r in check.decided_by)
    elif check.default_applied:
        by = " by default"
    mark = "passes" if check.passed else "**fails**"
    return f"Test expectation {mark}: expected **{exp.outcome}**, decided **{check.outcome}**{by}"


_BY_KIND: dict[Kind, Callable[[_Hover, Occurrence], str]] = {
    Kind.PRINCIPLE: _Hover.principle,
    Kind.RULE: _Hover.rule,
    Kind.JURISDICTION: _Hover.jurisdiction,
    Kind.DEMAND: _Hover.demand,
    Kind.ENUM: _Hover.enum,
    Kind.VALUE: _Hover.value,
    Kind.ATTRIBUTE: _Hover.attribute,
}

_EXPECTATIONS = (ast.StandingExpectation, ast.InlineExpectation, ast.MarketExpectation)


def hover(snapshot: Snapshot, path: str, offset: int) -> tuple[str, Span] | None:
    """The hover at ``offset`` in ``path``: on a name, what it is; elsewhere on a test
    expectation, what the set decides for it."""
    h = _Hover(snapshot)
    o = snapshot.index.at(path, offset)
    if o is not None:
        return _BY_KIND[o.kind](h, o), o.span
    doc = snapshot.document(path)
    if doc is None or doc.parsed is None:
        return None
    for node in reversed(enclosing(doc.parsed.result.file, offset)):
        if isinstance(node, ast.ConflictDecl):
            return h.conflict(node), node.span
        if isinstance(node, _EXPECTATIONS):
            text = h.expectation(node)
            return (text, node.span) if text else None
    return None
