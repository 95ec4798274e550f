"""The formatter's layout rules: a parse tree and its comments → canonical text.

Stage contract: :func:`lay_out` takes the text of a file that parsed, its
Lark parse tree and its comment tokens, and returns the formatted text.  It
raises nothing on such input and checks nothing: :mod:`.format` parses,
calls it, and verifies the promises (same meaning, same comments, a fixed
point) on what it returns.

The layout rules are written for people in docs/tools.md; in short: four
spaces per level, one declaration member per line, ``rule id:`` with the
outcome, condition and ``because`` on their own indented lines, long
conditions broken before their top-level ``and``/``or``, author order kept
everywhere, string literals and numbers re-emitted exactly as written.

Why the formatter walks Lark's parse tree rather than the AST: the AST files
enumerations apart from attributes and assignments apart from demands, which
loses the order in which an author interleaved them; the parse tree keeps it.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from lark import Token, Tree

#: Longest line the layout aims for, in characters.  Only a few things can be
#: broken (conditions, value sets, blocks); a long name or text stays whole.
WIDTH = 100
#: Spaces per nesting level.
INDENT = 4

Node = Tree[Token] | Token
Gap = Literal["force", "keep", "never"]

_COMPOUND = ("all_of", "any_of")
# Rules whose last word is a keyword the parse tree leaves out.
_ENDS_WITH_KEYWORD = ("known_test", "unknown_test")
_LITERAL_WORDS = {"true": "true", "false": "false", "unknown": "unknown"}


@dataclass(frozen=True, slots=True)
class Comment:
    """One ``# ...`` comment: its offsets, its text without trailing blanks, and
    ``after``, the offset of the last character of code before it on the same
    line (-1 for a comment alone on its line)."""

    start: int
    end: int
    text: str
    after: int


def _comments(text: str, tokens: list[Token]) -> list[Comment]:
    out: list[Comment] = []
    for tok in tokens:
        start = tok.start_pos or 0
        line_start = text.rfind("\n", 0, start) + 1
        before = text[line_start:start].rstrip()
        after = line_start + len(before) - 1 if before else -1
        out.append(Comment(start, start + len(tok), str(tok).rstrip(), after))
    return out


# --- layout -------------------------------------------------------------------


@dataclass(slots=True)
class _Line:
    """One line of output code, before comments are merged in.

    ``anchor`` is the source offset of the first thing the line shows; lines
    come out in source order, so anchors never decrease, and a comment goes
    with the line whose anchor precedes it.  ``gap`` says whether a blank line
    comes before this line (always, as in the source, or never),
    ``comment_gap`` the same for a group of comments placed before it, and
    ``after_comment`` the gap between such a group and the line.  ``first``,
    when set, is where the line's words start if that is after the anchor (a
    group on one line is anchored at its ``(``): a comment written between
    the two goes above the line, not after it, so it stays before the words.
    """

    indent: int
    text: str
    anchor: int
    gap: Gap = "never"
    comment_gap: Gap = "never"
    after_comment: Gap = "never"
    closer: bool = False
    first: int = -1


def _closer(indent: int, text: str, anchor: int) -> _Line:
    # Comments before a closing brace are inside the block: they may keep a
    # blank line above them, and are indented one level deeper than the brace.
    return _Line(indent, text, anchor, "never", "keep", "never", closer=True)


def _width(text: str) -> float:
    """Width of a piece of a line; a triple-quoted text over several lines never fits."""
    return float("inf") if "\n" in text else len(text)


def _tree(node: Node) -> Tree[Token]:
    assert isinstance(node, Tree)
    return node


class _Layout:
    """Lays out one parsed file; holds only that file's text and comments."""

    def __init__(self, text: str, comments: list[Comment]):
        self.text = text
        self.comments = comments
        # Where each comment counts when deciding whether a construct holds a
        # comment; see settle_comments().
        self.comment_points = [c.start for c in comments]
        self.comment_starts = [c.start for c in comments]

    # -- positions -----------------------------------------------------------

    def has_comment(self, lo: int, hi: int) -> bool:
        """Does a comment count as written in ``[lo, hi)``?"""
        i = bisect.bisect_left(self.comment_points, lo)
        return i < len(self.comment_points) and self.comment_points[i] < hi

    def settle_comments(self, tree: Tree[Token]) -> None:
        """Count each comment written inside an unbreakable piece of a condition
        at the end of that piece.

        A test such as ``demand.kind == hotline`` (with the ``not``s before it)
        is always printed on one line, so a comment written in its middle comes
        out after it.  Judging "does this group hold a comment?" by where the
        comment will be, not where it was, is what makes a second run agree
        with the first: otherwise a comment inside the last test of a group
        breaks the group once, then sits after it and lets it join again.
        """
        if not self.comments:
            return
        units: list[tuple[int, int]] = []
        stack: list[tuple[Tree[Token], int | None]] = [
            (_tree(r.children[2]), None) for r in tree.iter_subtrees() if r.data == "rule"
        ]
        while stack:
            node, chain = stack.pop()
            lo = self.start(node) if chain is None else chain
            if node.data == "negation":
                stack.append((_tree(node.children[0]), lo))
            elif node.data in _COMPOUND:
                stack.extend((_tree(c), None) for c in node.children)
            elif node.data in ("membership", "non_membership") and _tree(node.children[1]).children:
                # Up to the `{`, after which the values can be broken.
                units.append((lo, self.first(_tree(node.children[1]).children[0])))
            else:
                units.append((lo, self.last(node)))
        units.sort()
        starts = [u[0] for u in units]
        points = []
        for c in self.comments:
            i = bisect.bisect_right(starts, c.start) - 1
            inside = i >= 0 and c.start < units[i][1]
            points.append(units[i][1] if inside else c.start)
        self.comment_points = sorted(points)

    def next_code(self, pos: int) -> int:
        """Offset of the next character of code at or after ``pos`` (skips blanks and comments).

        Only ever called between tokens of a file that parsed, where ``#``
        always starts a comment.
        """
        text, n = self.text, len(self.text)
        while pos < n:
            ch = text[pos]
            if ch in " \t\r\n\f":
                pos += 1
            elif ch == "#":
                end = text.find("\n", pos)
                pos = n if end == -1 else end
            else:
                return pos
        return n

    def prev_code(self, pos: int) -> int:
        """Offset of the last character of code before ``pos`` (skips blanks and comments), or -1."""
        i = pos - 1
        while i >= 0:
            if self.text[i] in " \t\r\n\f":
                i -= 1
                continue
            k = bisect.bisect_right(self.comment_starts, i) - 1
            if k >= 0 and i < self.comments[k].end:
                i = self.comments[k].start - 1
                continue
            return i
        return -1

    def blank_before(self, pos: int) -> bool:
        """Does a blank line separate ``pos`` from the code or comment before it?"""
        newlines = 0
        i = pos - 1
        text = self.text
        while i >= 0 and text[i] in " \t\r\n\f":
            if text[i] == "\n":
                newlines += 1
            i -= 1
        return newlines >= 2 and i >= 0

    @staticmethod
    def first(node: Node) -> int:
        """Start of the first token under ``node`` (its own start for a bare keyword literal)."""
        while isinstance(node, Tree) and node.children:
            node = node.children[0]
        if isinstance(node, Token):
            return node.start_pos or 0
        return int(node.meta.start_pos)

    @staticmethod
    def last(node: Node) -> int:
        """End of the last word under ``node``: its last token, or the keyword
        that ends it (``is known``), but never a closing parenthesis of a group."""
        while isinstance(node, Tree) and node.children and node.data not in _ENDS_WITH_KEYWORD:
            node = node.children[-1]
        if isinstance(node, Token):
            return node.end_pos or 0
        return int(node.meta.end_pos)

    @staticmethod
    def start(node: Tree[Token]) -> int:
        return int(node.meta.start_pos)

    @staticmethod
    def end(node: Tree[Token]) -> int:
        return int(node.meta.end_pos)

    def fits(self, indent: int, text: str) -> bool:
        return indent + _width(text) <= WIDTH

    # -- blocks --------------------------------------------------------------

    def members(self, parts: list[list[_Line]], paragraphs: bool = True) -> list[_Line]:
        """Join the lines of a block's members and set the blank lines between them.

        With ``paragraphs``, a member laid out over several lines gets a blank
        line on each side, so every rule, enumeration or demand reads as a
        paragraph.  Otherwise, and always between one-line members, the
        author's blank lines are kept (at most one): test expectations are a
        table, not paragraphs.
        """
        out: list[_Line] = []
        for i, lines in enumerate(parts):
            head = lines[0]
            if i == 0:
                head.gap, head.comment_gap, head.after_comment = "never", "never", "keep"
            elif paragraphs and (len(lines) > 1 or len(parts[i - 1]) > 1):
                head.gap, head.comment_gap, head.after_comment = "force", "force", "keep"
            else:
                head.gap, head.comment_gap, head.after_comment = "keep", "keep", "keep"
            out.extend(lines)
        return out

    def block(
        self, node: Tree[Token], indent: int, header: str, opening: int, parts: list[list[_Line]], paragraphs: bool = True
    ) -> list[_Line]:
        """``header {`` members ``}``, or ``header {}`` when there is nothing inside."""
        if not parts and not self.has_comment(opening, self.end(node)):
            return [_Line(indent, header + " {}", self.start(node))]
        return [
            _Line(indent, header + " {", self.start(node)),
            *self.members(parts, paragraphs),
            _closer(indent, "}", self.end(node) - 1),
        ]

    def declarations(self, tree: Tree[Token]) -> list[_Line]:
        out: list[_Line] = []
        for i, decl in enumerate(tree.children):
            node = _tree(decl)
            lines: list[_Line] = getattr(self, f"l_{node.data}")(node, 0)
            head = lines[0]
            if i == 0:
                head.gap, head.comment_gap, head.after_comment = "keep", "keep", "keep"
            else:
                # Exactly one blank line between declarations; comments written
                # just above a declaration stay attached to it.
                head.gap, head.comment_gap, head.after_comment = "force", "force", "keep"
            out.extend(lines)
        return out

    # -- literals ------------------------------------------------------------

    def literal(self, node: Node) -> str:
        tree = _tree(node)
        if tree.data in _LITERAL_WORDS:
            return _LITERAL_WORDS[str(tree.data)]
        if tree.data == "list_literal":
            return "[" + ", ".join(self.literal(item) for item in tree.children) + "]"
        # symbol, number, string: the token exactly as written (escapes,
        # triple quotes and the spelling of numbers included).
        return str(tree.children[0])

    def ref(self, node: Node) -> str:
        tree = _tree(node)
        scope = _tree(tree.children[0])
        return f"{scope.children[0]}.{tree.children[1]}"

    def assignment(self, node: Node) -> str:
        tree = _tree(node)
        return f"{tree.children[0]} = {self.literal(tree.children[1])}"

    # -- vocabulary ------------------------------------------------------------

    def l_vocabulary(self, node: Tree[Token], indent: int) -> list[_Line]:
        """vocabulary: "vocabulary" "{" _vocabulary_item* "}" """
        opening = self.next_code(self.start(node) + len("vocabulary"))
        parts = [getattr(self, f"l_{_tree(c).data}")(c, indent + INDENT) for c in node.children]
        return self.block(node, indent, "vocabulary", opening, parts)

    def _enum(self, node: Tree[Token], indent: int, header: str, opening: int) -> list[_Line]:
        values = [_tree(v) for v in _tree(node.children[-1]).children]
        pad = max((len(str(v.children[0])) for v in values), default=0) + 2
        parts: list[list[_Line]] = []
        for v in values:
            name = str(v.children[0])
            # Descriptions line up in one column, like a glossary.
            text = name.ljust(pad) + self.literal(v.children[1]) if len(v.children) > 1 else name
            parts.append([_Line(indent + INDENT, text, self.start(v))])
        return self.block(node, indent, header, opening, parts)

    def l_enum_decl(self, node: Tree[Token], indent: int) -> list[_Line]:
        """enum_decl: "enum" NAME string? "{" enum_values "}" """
        header = f"enum {node.children[0]}"
        last: Node = node.children[0]
        if len(node.children) > 2:
            header += " " + self.literal(node.children[1])
            last = node.children[1]
        return self._enum(node, indent, header, self.next_code(self.last(last)))

    def l_enum_extension(self, node: Tree[Token], indent: int) -> list[_Line]:
        """enum_extension: "extend" "enum" NAME "{" enum_values "}" """
        return self._enum(node, indent, f"extend enum {node.children[0]}", self.next_code(self.last(node.children[0])))

    def l_attribute_decl(self, node: Tree[Token], indent: int) -> list[_Line]:
        """attribute_decl: "attribute" attribute_ref ":" NAME range? unknown_allowed? default? string?"""
        type_ref = node.children[1]
        type_text = f"list of {type_ref.children[0]}" if isinstance(type_ref, Tree) else str(type_ref)
        words = [f"attribute {self.ref(node.children[0])}: {type_text}"]
        description: Tree[Token] | None = None
        for child in node.children[2:]:
            part = _tree(child)
            if part.data == "range":
                words.append(f"from {self.literal(part.children[0])} to {self.literal(part.children[1])}")
            elif part.data == "unknown_allowed":
                words.append("or unknown")
            elif part.data == "default":
                words.append(f"= {self.literal(part.children[0])}")
            else:
                description = part
        head = " ".join(words)
        if description is None:
            return [_Line(indent, head, self.start(node))]
        text = self.literal(description)
        if self.fits(indent, f"{head} {text}"):
            return [_Line(indent, f"{head} {text}", self.start(node))]
        # A long description goes on its own line under the declaration.
        return [_Line(indent, head, self.start(node)), _Line(indent + INDENT, text, self.start(description))]

    def l_conflict_decl(self, node: Tree[Token], indent: int) -> list[_Line]:
        """conflict_decl: "conflict" NAME _SEP (attribute_ref | NAME) string"""
        first, second, why = node.children
        head = f"conflict {first}, {self.ref(second) if isinstance(second, Tree) else second}"
        text = self.literal(why)
        if self.fits(indent, f"{head} {text}"):
            return [_Line(indent, f"{head} {text}", self.start(node))]
        return [_Line(indent, head, self.start(node)), _Line(indent + INDENT, text, self.start(_tree(why)))]

    # -- principles and rules --------------------------------------------------

    def l_principle(self, node: Tree[Token], indent: int) -> list[_Line]:
        """principle: "principle" NAME string "{" rule* "}" """
        header = f"principle {node.children[0]} {self.literal(node.children[1])}"
        opening = self.next_code(self.last(node.children[1]))
        parts = [self.rule(_tree(r), indent + INDENT) for r in node.children[2:]]
        return self.block(node, indent, header, opening, parts)

    def rule(self, node: Tree[Token], indent: int) -> list[_Line]:
        """rule: "rule" NAME ":" outcome "when" condition "because" string"""
        name, outcome, condition, because, *actions = node.children
        outcome_tree = _tree(outcome)
        body = indent + INDENT
        return [
            _Line(indent, f"rule {name}:", self.start(node)),
            *self.condition(_tree(condition), body, f"{outcome_tree.children[0]} when ", body + INDENT, self.start(outcome_tree)),
            _Line(body, f"because {self.literal(because)}", self.start(_tree(because))),
            *(self.rule_actions(_tree(actions[0]), body) if actions else []),
        ]

    def rule_actions(self, node: Tree[Token], indent: int) -> list[_Line]:
        """rule_actions: "actions" rule_action (_SEP rule_action)*

        On one line after ``actions`` when it fits and holds no comment;
        otherwise one action per line, the later ones indented one level."""
        items = [_tree(a) for a in node.children]
        texts = [self.rule_action(a) for a in items]
        one = "actions " + ", ".join(texts)
        if self.fits(indent, one) and not self.has_comment(self.start(node), self.end(node)):
            return [_Line(indent, one, self.start(node))]
        lines = [_Line(indent, "actions " + texts[0] + ("," if len(texts) > 1 else ""), self.start(node))]
        for i, (item, text) in enumerate(zip(items[1:], texts[1:], strict=True)):
            lines.append(_Line(indent + INDENT, text + ("," if i < len(texts) - 2 else ""), self.start(item)))
        return lines

    def rule_action(self, node: Tree[Token]) -> str:
        """rule_action: NAME within? action_condition?"""
        words = [str(node.children[0])]
        for child in node.children[1:]:
            part = _tree(child)
            if part.data == "within":
                words.append(f"within {part.children[0]}")
            else:
                words.append("when " + self.flat(_tree(part.children[0])))
        return " ".join(words)

    # -- conditions ------------------------------------------------------------

    def inside(self, node: Tree[Token]) -> bool:
        """Is there a comment between the first and the last token of ``node``?

        Measured on tokens, not on the node's extent (which may include a
        parenthesis), so that a comment just outside a group is judged the
        same way before and after formatting.
        """
        return self.has_comment(self.first(node), self.last(node))

    def flat(self, node: Tree[Token]) -> str:
        """The condition on one line, with only the parentheses it needs (and one kind more).

        A compound inside a compound is always parenthesised: where the
        operators differ the reader need not remember that ``and`` binds
        tighter than ``or``; where they are the same, the parentheses are part
        of the syntax tree and must stay.
        """
        kind = node.data
        c = node.children
        if kind == "comparison":
            return f"{self.ref(c[0])} {c[1]} {self.literal(c[2])}"
        if kind in ("membership", "non_membership"):
            values = ", ".join(self.literal(v) for v in _tree(c[1]).children)
            return f"{self.ref(c[0])} {'not in' if kind == 'non_membership' else 'in'} {{{values}}}"
        if kind == "known_test":
            return f"{self.ref(c[0])} is known"
        if kind == "unknown_test":
            return f"{self.ref(c[0])} is unknown"
        if kind == "truth_test":
            return self.ref(c[0])
        if kind == "negation":
            return "not " + self.wrapped(_tree(c[0]))
        op = " and " if kind == "all_of" else " or "
        return op.join(self.wrapped(_tree(x)) for x in c)

    def wrapped(self, node: Tree[Token]) -> str:
        return f"({self.flat(node)})" if node.data in _COMPOUND else self.flat(node)

    def condition(self, node: Tree[Token], indent: int, lead: str, rest: int, anchor: int) -> list[_Line]:
        """A rule's condition after ``lead`` (``withdraw when ``).

        On one line when it fits and holds no comment; otherwise broken before
        each top-level ``and``/``or``, the continuation lines indented at
        ``rest``.
        """
        text = lead + self.flat(node)
        if self.fits(indent, text) and not self.inside(node):
            return [_Line(indent, text, anchor)]
        if node.data in _COMPOUND:
            return self.operands(node, indent, lead, rest, anchor)
        return self.operand(node, indent, lead, indent, anchor)

    def operands(self, node: Tree[Token], indent: int, lead: str, rest: int, anchor: int) -> list[_Line]:
        op = "and " if node.data == "all_of" else "or "
        children = [_tree(c) for c in node.children]
        lines = self.operand(children[0], indent, lead, rest, anchor)
        for child in children[1:]:
            lines.extend(self.operand(child, rest, op, rest, self.operand_start(child)))
        return lines

    def operand(self, node: Tree[Token], indent: int, lead: str, block: int, anchor: int) -> list[_Line]:
        """One operand on a line that starts with ``lead``; what it opens and
        cannot close on that line continues one level inside ``block``."""
        text = lead + self.wrapped(node)
        if self.fits(indent, text) and not self.inside(node):
            line = _Line(indent, text, anchor)
            if node.data in _COMPOUND or (node.data == "negation" and self.negates_group(node)):
                line.first = self.first(node)
            return [line]
        kind = node.data
        if kind in _COMPOUND:
            inner = block + INDENT
            return [
                _Line(indent, lead + "(", anchor),
                *self.operands(node, inner, "", inner, self.operand_start(_tree(node.children[0]))),
                _closer(block, ")", self.group_end(node)),
            ]
        if kind == "negation":
            return self.operand(_tree(node.children[0]), indent, lead + "not ", block, anchor)
        if kind in ("membership", "non_membership"):
            value_set = _tree(node.children[1])
            values = value_set.children
            if values:
                word = "not in" if kind == "non_membership" else "in"
                return [
                    _Line(indent, f"{lead}{self.ref(node.children[0])} {word} {{", anchor),
                    *self.values(value_set, block + INDENT),
                    _closer(block, "}", self.end(value_set) - 1),
                ]
        # A comparison or test cannot be broken: it stays whole, however long.
        return [_Line(indent, text, anchor)]

    def operand_start(self, node: Tree[Token]) -> int:
        """Where the line that starts with this operand is anchored: at what it
        shows first (a ``not``, an attribute, or the ``(`` of a group)."""
        return self.group_start(node) if node.data in _COMPOUND else self.start(node)

    def group_start(self, node: Tree[Token]) -> int:
        """Where a line opening a group with ``(`` is anchored: at the author's
        ``(`` if there is one, so comments after it stay inside the group."""
        start = self.start(node)
        before = self.prev_code(start)
        return before if before >= 0 and self.text[before] == "(" else start

    @staticmethod
    def negates_group(node: Tree[Token]) -> bool:
        while node.data == "negation":
            node = _tree(node.children[0])
        return node.data in _COMPOUND

    def group_end(self, node: Tree[Token]) -> int:
        """Where the ``)`` closing a group is anchored: at the author's ``)`` if
        there is one, otherwise (the formatter adds the parentheses) at the end
        of the group's last operand, so comments after it stay after it."""
        end = self.end(node)
        after = self.next_code(end)
        return after if self.text.startswith(")", after) else end

    def values(self, value_set: Tree[Token], indent: int) -> list[_Line]:
        """The values of a set too long for its line, filled into lines like a paragraph;
        one per line when comments are written among them, so each keeps its comment."""
        values = value_set.children
        # Strictly between the first and the last value: a comment after `{`
        # (or counted there, see settle_comments) or before `}` stays there
        # whatever the values' layout.
        alone = self.has_comment(self.first(values[0]) + 1, self.last(values[-1]))
        lines: list[_Line] = []
        for i, value in enumerate(values):
            piece = self.literal(value) + ("," if i < len(values) - 1 else "")
            if lines and not alone and self.fits(indent, f"{lines[-1].text} {piece}"):
                lines[-1].text += " " + piece
            else:
                lines.append(_Line(indent, piece, self.first(value)))
        return lines

    # -- jurisdictions, groups, demands ----------------------------------------

    def l_jurisdiction(self, node: Tree[Token], indent: int) -> list[_Line]:
        """jurisdiction: "jurisdiction" NAME string membership_clause? "{" _jurisdiction_item* "}" """
        return self._jurisdiction(node, indent, "jurisdiction")

    def l_group(self, node: Tree[Token], indent: int) -> list[_Line]:
        """group: "group" NAME string membership_clause? "{" _jurisdiction_item* "}" """
        return self._jurisdiction(node, indent, "group")

    def _jurisdiction(self, node: Tree[Token], indent: int, keyword: str) -> list[_Line]:
        c = node.children
        header = f"{keyword} {c[0]} {self.literal(c[1])}"
        last: Node = c[1]
        items = c[2:]
        if items and isinstance(items[0], Tree) and items[0].data == "membership_clause":
            header += f" in {items[0].children[0]}"
            last = items[0]
            items = items[1:]
        opening = self.next_code(self.last(last))
        trees = [_tree(x) for x in items]
        if all(t.data == "assignment" for t in trees):
            one = self.one_line(node, indent, header, trees)
            if one is not None:
                return [one]
        parts: list[list[_Line]] = []
        run: list[Tree[Token]] = []
        for t in [*trees, None]:
            if t is not None and t.data == "assignment":
                run.append(t)
                continue
            parts.extend(self.rows(run, indent + INDENT))
            run = []
            if t is not None:
                parts.append(self.demand(t, indent + INDENT))
        return self.block(node, indent, header, opening, parts)

    def on_one_line(self, lo: int, hi: int) -> bool:
        return "\n" not in self.text[lo:hi]

    def one_line(self, node: Tree[Token], indent: int, header: str, assignments: list[Tree[Token]]) -> _Line | None:
        """``header { a = 1; b = 2 }`` on one line, if the author wrote it so and it fits."""
        if not assignments or not self.on_one_line(self.start(node), self.end(node)):
            return None
        text = f"{header} {{ {'; '.join(self.assignment(a) for a in assignments)} }}"
        return _Line(indent, text, self.start(node)) if self.fits(indent, text) else None

    def rows(self, assignments: list[Tree[Token]], indent: int) -> list[list[_Line]]:
        """Assignments as the author grouped them into lines (``kind = …; category = …``).

        Assignments written on one source line stay on one line, joined by
        ``; ``; a group too long for one line is filled into as few lines as
        fit.  Each line is a member of its own, so blank lines between them
        are the author's.
        """
        parts: list[list[_Line]] = []
        previous: Tree[Token] | None = None
        for a in assignments:
            text = self.assignment(a)
            same_line = previous is not None and self.on_one_line(self.end(previous), self.start(a))
            if same_line and self.fits(indent, f"{parts[-1][0].text}; {text}"):
                parts[-1][0].text += "; " + text
            else:
                parts.append([_Line(indent, text, self.start(a))])
            previous = a
        return parts

    def demand(self, node: Tree[Token], indent: int) -> list[_Line]:
        """demand: "demand" NAME string "{" (assignment _SEP?)* "}" """
        header = f"demand {node.children[0]} {self.literal(node.children[1])}"
        opening = self.next_code(self.last(node.children[1]))
        assignments = [_tree(a) for a in node.children[2:]]
        one = self.one_line(node, indent, header, assignments)
        if one is not None:
            return [one]
        return self.block(node, indent, header, opening, self.rows(assignments, indent + INDENT))

    # -- tests -----------------------------------------------------------------

    def l_test(self, node: Tree[Token], indent: int) -> list[_Line]:
        """test: "test" string "{" expectation* "}" """
        header = f"test {self.literal(node.children[0])}"
        opening = self.next_code(self.last(node.children[0]))
        parts = [self.expectation(_tree(e), indent + INDENT) for e in node.children[1:]]
        return self.block(node, indent, header, opening, parts, paragraphs=False)

    def decided(self, outcome: Node, by: Node | None, names: Node | None = None) -> str:
        text = f"-> {_tree(outcome).children[0]}"
        if by is not None:
            tree = _tree(by)
            text += " by default" if tree.data == "decided_by_default" else f" by {tree.children[0]}.{tree.children[1]}"
        if names is not None:
            tree = _tree(names)
            word = "actions" if tree.data == "expected_actions" else "counting"
            text += f" {word} {{{', '.join(str(n) for n in tree.children)}}}"
        return text

    @staticmethod
    def clauses(c: list[Node]) -> tuple[list[Node], str, Node | None, Node | None]:
        """An expectation's children without its optional clauses: the rest,
        the `as of` text (with its leading space, or ""), `by …` and `actions`/`counting`."""
        rest: list[Node] = []
        as_of, by, names = "", None, None
        for child in c:
            data = child.data if isinstance(child, Tree) else None
            if data == "as_of":
                as_of = f" as of {_tree(_tree(child).children[0]).children[0]}"
            elif data in ("decided_by_rule", "decided_by_default"):
                by = child
            elif data in ("expected_actions", "counted"):
                names = child
            else:
                rest.append(child)
        return rest, as_of, by, names

    def expectation(self, node: Tree[Token], indent: int) -> list[_Line]:
        c, as_of, by, names = self.clauses(node.children)
        if node.data == "market_expectation":
            return [_Line(indent, f"market {c[0]}{as_of} {self.decided(c[1], None, names)}", self.start(node))]
        if node.data == "standing_expectation":
            return [_Line(indent, f"{c[0]}.{c[1]}{as_of} {self.decided(c[2], by, names)}", self.start(node))]
        # inline_expectation: NAME "{" (assignment _SEP?)* "}" as_of? "->" outcome decided_by? expected_actions?
        outcome_at = len(c) - 1
        outcome = _tree(c[outcome_at])
        tail = self.decided(outcome, by, names)
        assignments = [_tree(a) for a in c[1:outcome_at]]
        opening = self.next_code(self.last(c[0]))
        closing = self.next_code(self.last(assignments[-1]) if assignments else opening + 1)
        inner = f"{{ {'; '.join(self.assignment(a) for a in assignments)} }}" if assignments else "{}"
        head = f"{c[0]} {inner}{as_of}"
        if self.on_one_line(self.start(node), closing):
            if self.fits(indent, f"{head} {tail}"):
                return [_Line(indent, f"{head} {tail}", self.start(node))]
            if self.fits(indent, head):
                return [
                    _Line(indent, head, self.start(node)),
                    _Line(indent + INDENT, tail, self.start(outcome)),
                ]
        parts = self.rows(assignments, indent + INDENT)
        return [
            _Line(indent, f"{c[0]} {{", self.start(node)),
            *(self.members(parts) if parts else []),
            _closer(indent, f"}}{as_of} {tail}", closing),
        ]

    # -- comments and blank lines ----------------------------------------------

    def render(self, lines: list[_Line]) -> str:
        """Merge comments into the laid-out lines and join them into the file's text.

        A comment alone on its line goes before the first line of code that
        comes after it in the source; a comment after code goes at the end of
        the output line that shows that code.  When several comments end up
        after the same line (its code was joined from several source lines),
        the first stays there and the others go on their own lines just below
        it, in order; a comment written before the line's words goes just
        above it (see ``_Line.first``).  Either way each comment keeps its
        place among the words of the file.
        """
        anchors = [line.anchor for line in lines]
        above: dict[int, list[Comment]] = defaultdict(list)
        after: dict[int, list[Comment]] = defaultdict(list)
        for comment in self.comments:
            if comment.after >= 0:
                i = bisect.bisect_right(anchors, comment.after) - 1
                if i >= 0:
                    after[i].append(comment)
                    continue
            above[bisect.bisect_right(anchors, comment.start)].append(comment)
        trailing: dict[int, Comment] = {}
        for i, line in enumerate(lines):
            for comment in after.get(i, []):
                if comment.start < line.first:
                    above[i].append(comment)
                elif i not in trailing:
                    trailing[i] = comment
                else:
                    # Below the line is above the next one (or the end of the file).
                    above[i + 1].append(comment)

        out: list[str] = []

        def emit(text: str, gap: Gap, pos: int) -> None:
            if out and out[-1] and (gap == "force" or (gap == "keep" and self.blank_before(pos))):
                out.append("")
            out.append(text)

        for i, line in enumerate(lines):
            group = sorted(above.get(i, []), key=lambda c: c.start)
            pad = " " * (line.indent + (INDENT if line.closer else 0))
            for k, comment in enumerate(group):
                emit(pad + comment.text, line.comment_gap if k == 0 else "keep", comment.start)
            text = " " * line.indent + line.text
            if i in trailing:
                text += "  " + trailing[i].text
            emit(text, line.after_comment if group else line.gap, line.anchor)
        for comment in sorted(above.get(len(lines), []), key=lambda c: c.start):
            emit(comment.text, "keep", comment.start)
        return "\n".join(out) + "\n" if out else ""


def lay_out(text: str, tree: Tree[Token], comment_tokens: list[Token]) -> str:
    """The canonical text of a file that parsed: its text, its parse tree and its comment tokens, in order."""
    layout = _Layout(text, _comments(text, comment_tokens))
    layout.settle_comments(tree)
    return layout.render(layout.declarations(tree))
