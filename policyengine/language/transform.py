"""Lark parse tree → typed AST (:mod:`policyengine.ast`).

Stage contract: :func:`build` takes the tree of one file and returns the
:class:`~policyengine.ast.PolicyFile` plus the diagnostics found while building
it (bad escapes, over-long strings, malformed placeholders, nesting deeper
than :data:`MAX_DEPTH`) and the names of rules it had to leave out;
:func:`to_ast` returns the first two.  It never raises on author input.

The walk is iterative (an explicit stack), not Lark's recursive Transformer:
a condition nested ten thousand levels deep must produce a diagnostic, not a
``RecursionError``.  Each ``t_<rule>`` method builds the node for the grammar
rule of the same name; its docstring repeats the production.
"""

from __future__ import annotations

import datetime
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lark import Token, Tree

from . import ast
from .diagnostics import Diagnostic
from .source import Source, Span

#: Deepest condition nesting accepted.  Real policies need fewer than ten
#: levels; the limit keeps every later recursive pass far from Python's stack.
MAX_DEPTH = 64
#: Longest string literal accepted, in characters.
MAX_STRING = 10_000

_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "{": "{", "}": "}"}
_PLACEHOLDER = re.compile(r"(demand|jurisdiction)\.([A-Za-z_][A-Za-z0-9_]*)\Z")


#: The rules whose children can be conditions (`_atom` and `?condition` are inlined).
_CONDITION_PARENTS = frozenset({"rule", "negation", "all_of", "any_of", "action_condition", "rule_action", "rule_actions"})
_Cond = TypeVar("_Cond", ast.Not, ast.AllOf, ast.AnyOf)


class _Broken:
    """Stands for a condition too deep to build; it climbs to the enclosing
    rule, which is then left out with one diagnostic (and the rest of the
    file is kept)."""

    __slots__ = ("span",)

    def __init__(self, span: Span):
        self.span = span


@dataclass(frozen=True, slots=True)
class _AsOf:
    """An `as of` clause on its way up to its expectation."""

    date: ast.Date


@dataclass(frozen=True, slots=True)
class _Names:
    """An `actions {…}` or `counting {…}` clause on its way up to its expectation."""

    clause: str
    names: tuple[ast.Ident, ...]


@dataclass(frozen=True)
class BuildResult:
    """The AST of one file, the problems found building it, and the names of
    the rules left out (so "no such rule" echoes can be held back)."""

    file: ast.PolicyFile | None
    diagnostics: list[Diagnostic]
    skipped: frozenset[str] = frozenset()


class _Builder:
    def __init__(self, source: Source):
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.depth: dict[int, int] = {}
        self.skipped: set[str] = set()
        self.too_deep: list[tuple[str, int]] = []  # (rule, offset) of conditions too deep, until the principle

    # -- helpers -----------------------------------------------------------

    def span(self, start: int, end: int) -> Span:
        return Span(self.source, start, end)

    def tok_span(self, tok: Token) -> Span:
        start = tok.start_pos if tok.start_pos is not None else 0
        end = tok.end_pos if tok.end_pos is not None else start
        return self.span(start, end)

    def ident(self, tok: Token) -> ast.Ident:
        return ast.Ident(str(tok), self.tok_span(tok))

    def _cond_depth(self, node: object) -> int:
        return self.depth.get(id(node), 1)

    def _deep(self, node: _Cond, children: list[Any], span: Span) -> _Cond | _Broken:
        depth = 1 + max((self._cond_depth(c) for c in children), default=0)
        if depth > MAX_DEPTH:
            return _Broken(span)
        self.depth[id(node)] = depth
        return node

    def broken_rule(self, name: Token, condition: _Broken) -> None:
        """rule: "rule" NAME ":" outcome "when" condition "because" string — with a condition too deep.

        The diagnostic waits for the enclosing principle, which names it."""
        self.skipped.add(str(name))
        self.too_deep.append((str(name), condition.span.start))

    # -- strings -------------------------------------------------------------

    def t_string(self, span: Span, c: list[Any]) -> ast.Text:
        """string: STRING | LONG_STRING"""
        tok: Token = c[0]
        triple = tok.startswith('"""')
        raw = str(tok)[3:-3] if triple else str(tok)[1:-1]
        inner_start = span.start + (3 if triple else 1)
        if len(raw) > MAX_STRING:
            self.diagnostics.append(
                Diagnostic(
                    "PE106",
                    f"this text is {len(raw):,} characters long; the limit is {MAX_STRING:,}",
                    Span(self.source, span.start, span.start + 1),
                    hint="policy texts are meant to be read: keep them short and cite the source instead",
                )
            )
            return ast.Text(raw[:80], span, raw[:80], triple)
        value, _ = self._unescape(raw, inner_start)
        return ast.Text(value, span, raw, triple)

    def _unescape(self, raw: str, offset: int) -> tuple[str, list[tuple[int, str]]]:
        """Resolve escapes; also return the literal braces (offset in raw, char)
        that came from ``\\{``/``\\}`` so templates can tell them apart."""
        if "\\" not in raw:
            return raw, []
        out: list[str] = []
        escaped: list[tuple[int, str]] = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch == "\\" and i + 1 < len(raw):
                nxt = raw[i + 1]
                if nxt in _ESCAPES:
                    if nxt in "{}":
                        escaped.append((i, nxt))
                    out.append(_ESCAPES[nxt])
                else:
                    self.diagnostics.append(
                        Diagnostic(
                            "PE107",
                            f"`\\{nxt}` is not an escape sequence this language knows",
                            Span(self.source, offset + i, offset + i + 2),
                            hint='use \\" for a quote, \\\\ for a backslash, \\n for a new line, \\{ and \\} for braces',
                        )
                    )
                    out.append(nxt)
                i += 2
                continue
            out.append(ch)
            i += 1
        return "".join(out), escaped

    def template(self, text: ast.Text) -> ast.Template:
        """Split a ``because`` text into literal parts and ``{scope.name}`` placeholders."""
        raw = text.raw
        base = text.span.start + (3 if text.triple else 1)
        parts: list[str | ast.Placeholder] = []
        buf: list[str] = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch == "\\" and i + 1 < len(raw):
                nxt = raw[i + 1]
                buf.append(_ESCAPES.get(nxt, nxt))
                i += 2
                continue
            if ch == "{":
                close = raw.find("}", i + 1)
                inner = raw[i + 1 : close] if close != -1 else ""
                m = _PLACEHOLDER.match(inner.strip()) if close != -1 else None
                if m is None:
                    end = close + 1 if close != -1 else len(raw)
                    self.diagnostics.append(
                        Diagnostic(
                            "PE220",
                            "`{` starts a placeholder, but "
                            + ("it is never closed" if close == -1 else f"`{{{inner}}}` is not an attribute"),
                            Span(self.source, base + i, base + end),
                            hint="write `{demand.kind}` or `{jurisdiction.name}`; for a literal brace write `\\{`",
                        )
                    )
                    buf.append(raw[i:end])
                    i = end
                    continue
                if buf:
                    parts.append("".join(buf))
                    buf = []
                ref_span = Span(self.source, base + i, base + close + 1)
                parts.append(ast.Placeholder(ast.AttributeRef(m.group(1), m.group(2), ref_span), ref_span))
                i = close + 1
                continue
            if ch == "}":
                self.diagnostics.append(
                    Diagnostic(
                        "PE220",
                        "`}` closes no placeholder",
                        Span(self.source, base + i, base + i + 1),
                        hint="for a literal brace write `\\}`",
                    )
                )
            buf.append(ch)
            i += 1
        if buf:
            parts.append("".join(buf))
        return ast.Template(tuple(parts), text, text.span)

    # -- literals ------------------------------------------------------------

    def t_number(self, span: Span, c: list[Any]) -> ast.Number:
        """number: NUMBER"""
        text = str(c[0])
        value = float(text)
        if value != value or value in (float("inf"), float("-inf")):
            # The caret shows the whole literal; the message names it, cut short.
            shown = text if len(text) <= 30 else text[:27] + "…"
            self.diagnostics.append(
                Diagnostic("PE108", f"`{shown}` is not a finite number", span, hint="write a number such as 0.6")
            )
            value = 0.0
        return ast.Number(value, text, span)

    def t_date(self, span: Span, c: list[Any]) -> ast.Date:
        """date: DATE"""
        text = str(c[0])
        try:
            value: datetime.date | None = datetime.date.fromisoformat(text)
        except ValueError:
            value = None
            self.diagnostics.append(
                Diagnostic(
                    "PE222",
                    f"`{text}` is not a date: there is no such day",
                    span,
                    hint="write a day that exists, as year-month-day: `2024-05-17`",
                )
            )
        return ast.Date(value, text, span)

    def t_list_literal(self, span: Span, c: list[Any]) -> ast.TextList:
        """?literal: "[" (scalar _SEP?)* "]" -> list_literal"""
        return ast.TextList(tuple(c), span)

    def t_symbol(self, span: Span, c: list[Any]) -> ast.Symbol:
        """?scalar: NAME -> symbol"""
        return ast.Symbol(str(c[0]), span)

    def t_true(self, span: Span, c: list[Any]) -> ast.Bool:
        """?scalar: "true" -> true"""
        return ast.Bool(True, span)

    def t_false(self, span: Span, c: list[Any]) -> ast.Bool:
        """?scalar: "false" -> false"""
        return ast.Bool(False, span)

    def t_unknown(self, span: Span, c: list[Any]) -> ast.Unknown:
        """?scalar: "unknown" -> unknown"""
        return ast.Unknown(span)

    def t_outcome(self, span: Span, c: list[Any]) -> str:
        """!outcome: "comply" | "negotiate" | "withdraw" """
        return sys.intern(str(c[0]))  # (one string per outcome, not per rule)

    def t_scope(self, span: Span, c: list[Any]) -> str:
        """!scope: "demand" | "jurisdiction" """
        return sys.intern(str(c[0]))

    # -- conditions ----------------------------------------------------------

    def t_attribute_ref(self, span: Span, c: list[Any]) -> ast.AttributeRef:
        """attribute_ref: scope "." NAME"""
        return ast.AttributeRef(c[0], str(c[1]), span)

    def t_comparison(self, span: Span, c: list[Any]) -> ast.Comparison:
        """comparison: attribute_ref COMPARATOR literal"""
        return ast.Comparison(c[0], str(c[1]), c[2], span)

    def t_value_set(self, span: Span, c: list[Any]) -> tuple[Any, ...]:
        """value_set: "{" (literal _SEP?)* "}" """
        return tuple(c)

    def t_membership(self, span: Span, c: list[Any]) -> ast.Membership:
        """membership: attribute_ref "in" value_set"""
        return ast.Membership(c[0], c[1], False, span)

    def t_non_membership(self, span: Span, c: list[Any]) -> ast.Membership:
        """membership: attribute_ref "not" "in" value_set -> non_membership"""
        return ast.Membership(c[0], c[1], True, span)

    def t_known_test(self, span: Span, c: list[Any]) -> ast.KnownTest:
        """known_test: attribute_ref "is" "known" """
        return ast.KnownTest(c[0], True, span)

    def t_unknown_test(self, span: Span, c: list[Any]) -> ast.KnownTest:
        """known_test: attribute_ref "is" "unknown" -> unknown_test"""
        return ast.KnownTest(c[0], False, span)

    def t_truth_test(self, span: Span, c: list[Any]) -> ast.TruthTest:
        """truth_test: attribute_ref"""
        return ast.TruthTest(c[0], span)

    def t_negation(self, span: Span, c: list[Any]) -> ast.Not | _Broken:
        """?not_condition: "not" not_condition -> negation"""
        return self._deep(ast.Not(c[0], span), c, span)

    def t_all_of(self, span: Span, c: list[Any]) -> ast.AllOf | _Broken:
        """?and_condition: not_condition ("and" not_condition)+ -> all_of"""
        return self._deep(ast.AllOf(tuple(c), span), c, span)

    def t_any_of(self, span: Span, c: list[Any]) -> ast.AnyOf | _Broken:
        """?or_condition: and_condition ("or" and_condition)+ -> any_of"""
        return self._deep(ast.AnyOf(tuple(c), span), c, span)

    # -- principles ------------------------------------------------------------

    def t_rule(self, span: Span, c: list[Any]) -> ast.Rule:
        """rule: "rule" NAME ":" outcome "when" condition "because" string rule_actions?"""
        actions = c[4] if len(c) > 4 else ()
        return ast.Rule(self.ident(c[0]), c[1], c[2], self.template(c[3]), span, actions)

    def t_rule_actions(self, span: Span, c: list[Any]) -> tuple[ast.RuleAction, ...]:
        """rule_actions: "actions" rule_action (_SEP rule_action)*"""
        return tuple(c)

    def t_rule_action(self, span: Span, c: list[Any]) -> ast.RuleAction:
        """rule_action: NAME within? action_condition?"""
        within = next((x for x in c[1:] if isinstance(x, ast.Duration)), None)
        condition = next((x[1] for x in c[1:] if isinstance(x, tuple)), None)
        return ast.RuleAction(self.ident(c[0]), within, condition, span)

    def t_within(self, span: Span, c: list[Any]) -> ast.Duration:
        """within: "within" DURATION"""
        text = str(c[0])
        number = float(text[:-1])
        return ast.Duration(number * 24 if text.endswith("d") else number, text, self.tok_span(c[0]))

    def t_action_condition(self, span: Span, c: list[Any]) -> tuple[str, ast.Condition]:
        """action_condition: "when" condition"""
        return ("when", c[0])

    def t_principle(self, span: Span, c: list[Any]) -> ast.Principle:
        """principle: "principle" NAME string "{" rule* "}" """
        rules = tuple(r for r in c[2:] if isinstance(r, ast.Rule))
        for rule, start in self.too_deep:
            self.diagnostics.append(
                Diagnostic(
                    "PE105",
                    f"in principle `{c[0]}`, rule `{rule}`: this condition is nested more than {MAX_DEPTH} levels deep",
                    Span(self.source, start, start + 1),
                    hint="split it into several rules, or remove redundant parentheses and `not`s",
                    label="the nesting starts here",
                )
            )
        self.too_deep.clear()
        return ast.Principle(self.ident(c[0]), c[1], rules, span)

    # -- vocabulary ------------------------------------------------------------

    def t_enum_value(self, span: Span, c: list[Any]) -> ast.EnumValue:
        """enum_value: NAME string?"""
        return ast.EnumValue(self.ident(c[0]), c[1] if len(c) > 1 else None, span)

    def t_enum_values(self, span: Span, c: list[Any]) -> tuple[ast.EnumValue, ...]:
        """enum_values: (enum_value _SEP?)*"""
        return tuple(c)

    def t_enum_decl(self, span: Span, c: list[Any]) -> ast.EnumDecl:
        """enum_decl: "enum" NAME string? "{" enum_values "}" """
        description = c[1] if isinstance(c[1], ast.Text) else None
        return ast.EnumDecl(self.ident(c[0]), description, c[-1], False, span)

    def t_enum_extension(self, span: Span, c: list[Any]) -> ast.EnumDecl:
        """enum_extension: "extend" "enum" NAME "{" enum_values "}" """
        return ast.EnumDecl(self.ident(c[0]), None, c[-1], True, span)

    def t_range(self, span: Span, c: list[Any]) -> tuple[ast.Number, ast.Number]:
        """range: "from" number "to" number"""
        return (c[0], c[1])

    def t_unknown_allowed(self, span: Span, c: list[Any]) -> str:
        """unknown_allowed: "or" "unknown" """
        return "unknown_allowed"

    def t_default(self, span: Span, c: list[Any]) -> tuple[str, Any]:
        """default: "=" literal"""
        return ("default", c[0])

    def t_list_type(self, span: Span, c: list[Any]) -> tuple[str, ast.Ident]:
        """?type_ref: "list" "of" NAME -> list_type"""
        return ("list", self.ident(c[0]))

    def t_attribute_decl(self, span: Span, c: list[Any]) -> ast.AttributeDecl:
        """attribute_decl: "attribute" attribute_ref ":" type_ref range? unknown_allowed? default? string?"""
        ref, type_ref, rest = c[0], c[1], c[2:]
        is_list = isinstance(type_ref, tuple)
        type_name = type_ref[1] if is_list else self.ident(type_ref)
        value_range = next((x for x in rest if isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], ast.Number)), None)
        default = next((x[1] for x in rest if isinstance(x, tuple) and x and x[0] == "default"), None)
        description = next((x for x in rest if isinstance(x, ast.Text)), None)
        return ast.AttributeDecl(
            ref, type_name, value_range, "unknown_allowed" in rest, default, description, span, is_list=is_list
        )

    def t_conflict_decl(self, span: Span, c: list[Any]) -> ast.ConflictDecl:
        """conflict_decl: "conflict" NAME _SEP (attribute_ref | NAME) string"""
        second = c[1] if isinstance(c[1], ast.AttributeRef) else self.ident(c[1])
        return ast.ConflictDecl(self.ident(c[0]), second, c[2], span)

    def t_vocabulary(self, span: Span, c: list[Any]) -> ast.Vocabulary:
        """vocabulary: "vocabulary" "{" _vocabulary_item* "}" """
        enums = tuple(x for x in c if isinstance(x, ast.EnumDecl))
        attrs = tuple(x for x in c if isinstance(x, ast.AttributeDecl))
        conflicts = tuple(x for x in c if isinstance(x, ast.ConflictDecl))
        return ast.Vocabulary(enums, attrs, span, conflicts)

    # -- jurisdictions ---------------------------------------------------------

    def t_assignment(self, span: Span, c: list[Any]) -> ast.Assignment:
        """assignment: NAME "=" literal"""
        return ast.Assignment(self.ident(c[0]), c[1], span)

    def t_demand(self, span: Span, c: list[Any]) -> ast.Demand:
        """demand: "demand" NAME string "{" (assignment _SEP?)* "}" """
        return ast.Demand(self.ident(c[0]), c[1], tuple(c[2:]), span)

    def t_membership_clause(self, span: Span, c: list[Any]) -> ast.Ident:
        """membership_clause: "in" NAME"""
        return self.ident(c[0])

    def _jurisdiction(self, span: Span, c: list[Any], is_group: bool) -> ast.Jurisdiction:
        member_of = c[2] if len(c) > 2 and isinstance(c[2], ast.Ident) else None
        body = c[3:] if member_of is not None else c[2:]
        return ast.Jurisdiction(
            self.ident(c[0]),
            c[1],
            member_of,
            tuple(x for x in body if isinstance(x, ast.Assignment)),
            tuple(x for x in body if isinstance(x, ast.Demand)),
            is_group,
            span,
        )

    def t_jurisdiction(self, span: Span, c: list[Any]) -> ast.Jurisdiction:
        """jurisdiction: "jurisdiction" NAME string membership_clause? "{" _jurisdiction_item* "}" """
        return self._jurisdiction(span, c, False)

    def t_group(self, span: Span, c: list[Any]) -> ast.Jurisdiction:
        """group: "group" NAME string membership_clause? "{" _jurisdiction_item* "}" """
        return self._jurisdiction(span, c, True)

    # -- tests -----------------------------------------------------------------

    def t_decided_by_rule(self, span: Span, c: list[Any]) -> ast.DecidedBy:
        """decided_by: "by" NAME "." NAME -> decided_by_rule"""
        return ast.DecidedBy(self.ident(c[0]), self.ident(c[1]), span)

    def t_decided_by_default(self, span: Span, c: list[Any]) -> ast.DecidedBy:
        """decided_by: "by" "default" -> decided_by_default"""
        return ast.DecidedBy(None, None, span)

    def t_as_of(self, span: Span, c: list[Any]) -> _AsOf:
        """as_of: "as" "of" date"""
        return _AsOf(c[0])

    def t_expected_actions(self, span: Span, c: list[Any]) -> _Names:
        """expected_actions: "actions" "{" (NAME _SEP?)* "}" """
        return _Names("actions", tuple(self.ident(t) for t in c))

    def t_counted(self, span: Span, c: list[Any]) -> _Names:
        """counted: "counting" "{" (NAME _SEP?)* "}" """
        return _Names("counting", tuple(self.ident(t) for t in c))

    @staticmethod
    def _tail(c: list[Any]) -> tuple[list[Any], datetime.date | None, tuple[ast.Ident, ...] | None]:
        """The children without the optional clauses, the `as of` date and the names of the `actions`/`counting` clause."""
        as_of = next((x.date.value for x in c if isinstance(x, _AsOf)), None)
        names = next((x.names for x in c if isinstance(x, _Names)), None)
        return [x for x in c if not isinstance(x, (_AsOf, _Names))], as_of, names

    def t_standing_expectation(self, span: Span, c: list[Any]) -> ast.StandingExpectation:
        """standing_expectation: NAME "." NAME as_of? "->" outcome decided_by? expected_actions?"""
        c, as_of, actions = self._tail(c)
        by = c[3] if len(c) > 3 else None
        return ast.StandingExpectation(self.ident(c[0]), self.ident(c[1]), c[2], by, span, as_of, actions)

    def t_inline_expectation(self, span: Span, c: list[Any]) -> ast.InlineExpectation:
        """inline_expectation: NAME "{" (assignment _SEP?)* "}" as_of? "->" outcome decided_by? expected_actions?"""
        c, as_of, actions = self._tail(c)
        by = c[-1] if isinstance(c[-1], ast.DecidedBy) else None
        rest = c[1:-1] if by is not None else c[1:]
        outcome = rest[-1]
        return ast.InlineExpectation(self.ident(c[0]), tuple(rest[:-1]), outcome, by, span, as_of, actions)

    def t_market_expectation(self, span: Span, c: list[Any]) -> ast.MarketExpectation:
        """market_expectation: "market" NAME as_of? "->" outcome counted?"""
        c, as_of, counted = self._tail(c)
        return ast.MarketExpectation(self.ident(c[0]), c[1], span, as_of, counted)

    def t_test(self, span: Span, c: list[Any]) -> ast.Test:
        """test: "test" string "{" expectation* "}" """
        return ast.Test(c[0], tuple(c[1:]), span)

    def t_start(self, span: Span, c: list[Any]) -> ast.PolicyFile:
        """start: _declaration*"""
        return ast.PolicyFile(self.source.path, tuple(c), self.span(0, len(self.source.text)))


def to_ast(tree: Tree[Token], source: Source) -> tuple[ast.PolicyFile | None, list[Diagnostic]]:
    """Build the AST of one file, bottom-up, without recursion."""
    result = build(tree, source)
    return result.file, result.diagnostics


def build(tree: Tree[Token], source: Source) -> BuildResult:
    """Build the AST of one file, bottom-up, without recursion; see :class:`BuildResult`."""
    builder = _Builder(source)
    methods: dict[str, Callable[[Span, list[Any]], Any]] = {}
    # Post-order walk on an explicit stack.  A tree is pushed to be entered;
    # entering it pushes (tree, where its children's results will start) to be
    # left after them.  Tokens stand for themselves.  (This loop runs once per
    # node of every file: it is written for speed.)
    stack: list[Any] = [tree]
    results: list[Any] = []
    pop, push, extend, emit = stack.pop, stack.append, stack.extend, results.append
    while stack:
        node = pop()
        kind = type(node)
        if kind is Tree:
            push((node, len(results)))
            extend(reversed(node.children))
            continue
        if kind is not tuple:
            emit(node)
            continue
        node, base = node
        children = results[base:]
        del results[base:]
        name = node.data
        method = methods.get(name)
        if method is None:
            method = getattr(builder, f"t_{name}")
            methods[name] = method
        meta = node.meta
        if meta.empty:
            first = next((x for x in children if isinstance(x, Token) and x.start_pos is not None), None)
            start = first.start_pos if first is not None and first.start_pos is not None else 0
            span = Span(source, start, start)
        else:
            span = Span(source, meta.start_pos, meta.end_pos)
        broken = next((x for x in children if type(x) is _Broken), None) if name in _CONDITION_PARENTS else None
        if broken is None:
            emit(method(span, children))
        elif name == "rule":
            builder.broken_rule(children[0], broken)
            emit(None)
        else:
            # Each enclosing condition takes the place of the broken one,
            # so the diagnostic points at the outermost.
            emit(_Broken(span))
    file = results[0] if results and isinstance(results[0], ast.PolicyFile) else None
    return BuildResult(file, builder.diagnostics, frozenset(builder.skipped))
