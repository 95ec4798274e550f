"""The outline of a file (document symbols) and the set's symbols (workspace symbols).

Stage contract: :func:`document_symbols` takes one parsed file and returns
its declarations as a tree (vocabulary → enumerations → values, principle →
rules, jurisdiction → demands, test → expectations); :func:`workspace_symbols`
searches every declaration of a set.  Both read the AST only, so a file with
syntax errors still has an outline of what the parser recovered.

The tree comes from :data:`OUTLINE`, one entry per node type that appears in
it; other nodes are looked through (their children are still found), so a
construct added to the language shows up by adding one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from ..language import ast
from ..language.source import Span
from .index import Kind, SetIndex, child_nodes, node_span
from .positions import LineIndex


@dataclass(frozen=True)
class Entry:
    kind: types.SymbolKind
    name: Callable[[Any], str]
    selection: Callable[[Any], Span]
    detail: Callable[[Any], str | None] = lambda _n: None


def _one_line(text: str, limit: int = 80) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _text(node: object, attr: str) -> str | None:
    value = getattr(node, attr, None)
    return _one_line(value.value) if isinstance(value, ast.Text) else None


def _expectation_name(node: object) -> str:
    span = node_span(node)
    return _one_line(span.text) if span is not None else type(node).__name__


OUTLINE: dict[type, Entry] = {
    ast.Vocabulary: Entry(types.SymbolKind.Namespace, lambda n: "vocabulary", lambda n: n.span),
    ast.EnumDecl: Entry(
        types.SymbolKind.Enum,
        lambda n: ("extend enum " if n.extension else "enum ") + n.name.name,
        lambda n: n.name.span,
        lambda n: _text(n, "description"),
    ),
    ast.EnumValue: Entry(
        types.SymbolKind.EnumMember,
        lambda n: n.name.name,
        lambda n: n.name.span,
        lambda n: _text(n, "description"),
    ),
    ast.AttributeDecl: Entry(
        types.SymbolKind.Property,
        lambda n: n.ref.dotted,
        lambda n: n.ref.span,
        lambda n: n.type_name.name,
    ),
    ast.ConflictDecl: Entry(
        types.SymbolKind.Event,
        lambda n: f"conflict {n.first.name}, {n.second.dotted if isinstance(n.second, ast.AttributeRef) else n.second.name}",
        lambda n: n.first.span,
        lambda n: _text(n, "why"),
    ),
    ast.Principle: Entry(
        types.SymbolKind.Module,
        lambda n: n.name.name,
        lambda n: n.name.span,
        lambda n: _text(n, "statement"),
    ),
    ast.Rule: Entry(
        types.SymbolKind.Function,
        lambda n: n.name.name,
        lambda n: n.name.span,
        lambda n: n.outcome,
    ),
    # An action of a rule, under the rule: what the outcome asks the platform to do.
    ast.RuleAction: Entry(
        types.SymbolKind.EnumMember,
        lambda n: n.name.name,
        lambda n: n.name.span,
        lambda n: (
            " ".join(
                part
                for part in (
                    f"within {n.within.span.text}" if n.within is not None else "",
                    f"when {_one_line(n.condition.span.text, 60)}" if n.condition is not None else "",
                )
                if part
            )
            or None
        ),
    ),
    ast.Jurisdiction: Entry(
        types.SymbolKind.Class,
        lambda n: n.code.name,
        lambda n: n.code.span,
        lambda n: ("group " if n.is_group else "") + n.display_name.value,
    ),
    ast.Demand: Entry(
        types.SymbolKind.Method,
        lambda n: n.name.name,
        lambda n: n.name.span,
        lambda n: _text(n, "description"),
    ),
    ast.Test: Entry(
        types.SymbolKind.Event,
        lambda n: _one_line(n.description.value),
        lambda n: n.description.span,
    ),
    ast.StandingExpectation: Entry(types.SymbolKind.Constant, _expectation_name, lambda n: n.span),
    ast.InlineExpectation: Entry(types.SymbolKind.Constant, _expectation_name, lambda n: n.span),
    ast.MarketExpectation: Entry(types.SymbolKind.Constant, _expectation_name, lambda n: n.span),
}


def _symbols(node: object, lines: LineIndex) -> list[types.DocumentSymbol]:
    out: list[types.DocumentSymbol] = []
    for child in child_nodes(node):
        entry = OUTLINE.get(type(child))
        below = _symbols(child, lines)
        span = node_span(child)
        if entry is None or span is None:
            out.extend(below)
            continue
        selection = entry.selection(child)
        name = entry.name(child) or "…"
        out.append(
            types.DocumentSymbol(
                name=name,
                kind=entry.kind,
                range=lines.range(span.start, max(span.end, selection.end)),
                selection_range=lines.range(selection.start, selection.end),
                detail=entry.detail(child),
                children=below or None,
            )
        )
    return out


def document_symbols(file: ast.PolicyFile, lines: LineIndex) -> list[types.DocumentSymbol]:
    return _symbols(file, lines)


_SYMBOL_KINDS: dict[Kind, types.SymbolKind] = {
    Kind.PRINCIPLE: types.SymbolKind.Module,
    Kind.RULE: types.SymbolKind.Function,
    Kind.JURISDICTION: types.SymbolKind.Class,
    Kind.DEMAND: types.SymbolKind.Method,
    Kind.ENUM: types.SymbolKind.Enum,
    Kind.VALUE: types.SymbolKind.EnumMember,
    Kind.ATTRIBUTE: types.SymbolKind.Property,
}


def _matches(query: str, name: str) -> bool:
    """Every character of ``query`` in ``name``, in order, ignoring case (what editors expect)."""
    it = iter(name.lower())
    return all(ch in it for ch in query.lower())


def workspace_symbols(index: SetIndex, query: str, limit: int = 500) -> list[tuple[Kind, str, Span, types.SymbolKind]]:
    """``(kind, key, span, symbol kind)`` of the declarations whose key matches ``query``."""
    out = []
    for kind in Kind:
        for o in index.declarations(kind):
            if _matches(query, o.key):
                out.append((kind, o.key, o.span, _SYMBOL_KINDS[kind]))
                if len(out) >= limit:
                    return out
    return out
