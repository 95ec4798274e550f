"""The situation at a syntax error, and the shape of what is said about it.

Stage contract: :func:`read_frames` turns what is left on the parser's value
stack into the constructs still open (:class:`Frame`, outermost first);
:class:`ErrorSite` holds them with the unexpected token or character and the
tokens the parser would have accepted; :meth:`ErrorSite.error` is the one way
a case words an :class:`Explanation`, with the context (``in principle
`encryption`, rule `no_keys`: ``) in front.  Nothing here raises.

Three modules share the work, each unaware of the one above it:
:mod:`.parser` drives Lark, sees its exceptions (it is the only module that
does) and builds the site from them; :mod:`.syntax_errors` is the catalogue
of recognised mistakes, which only reads sites; this module is what they
have in common.  Completed constructs have been reduced to trees on the
value stack, so every keyword token still there belongs to something open,
and the stack's order is the nesting order: that is all :func:`read_frames`
needs to name where an error is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lark import Token, Tree

from .grammar import KEYWORDS, OUTCOMES
from .source import Source

#: The keywords that start a declaration, and their terminals.
DECLARATIONS = ("principle", "jurisdiction", "group", "vocabulary", "test")
TOP_KEYWORDS = frozenset(d.upper() for d in DECLARATIONS)


# ---------------------------------------------------------------------------
# Describing what was expected, in an author's words.
# ---------------------------------------------------------------------------

#: Terminals an author knows by what they are, not by how they are spelled.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "STRING": "a quoted text",
    "LONG_STRING": "a quoted text",
    "NUMBER": "a number",
    "COMPARATOR": "a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`)",
    "$END": "the end of the file",
    "_SEP": "`;`",
}


def describe_expected(expected: set[str] | frozenset[str], spelling: Mapping[str, str]) -> str:
    """``{"COMPLY", "NEGOTIATE", "WITHDRAW"}`` → "an outcome: `comply`, `negotiate` or `withdraw`".

    ``spelling`` gives the text of each terminal that is a fixed string
    (``RULE`` → ``rule``, ``LBRACE`` → ``{``), as the parser names them."""

    def word(terminal: str) -> str:
        if terminal in _TERMINAL_WORDS:
            return _TERMINAL_WORDS[terminal]
        return f"`{spelling[terminal]}`" if terminal in spelling else terminal.lower()

    names = {word(e) for e in expected}
    outcome_words = {f"`{o}`" for o in OUTCOMES}
    declaration_words = {f"`{d}`" for d in DECLARATIONS}
    parts: list[str] = []
    if outcome_words <= names:
        names -= outcome_words
        parts.append("an outcome: `comply`, `negotiate` or `withdraw`")
    if declaration_words <= names:
        names -= declaration_words
        names.discard("the end of the file")
        parts.append("a declaration: `principle`, `jurisdiction`, `group`, `vocabulary` or `test`")
    if {"`demand`", "`jurisdiction`"} <= names and "a name" not in names:
        names -= {"`demand`", "`jurisdiction`"}
        parts.append("an attribute such as `demand.kind`")
    literal_words = {"a name", "a number", "a quoted text", "`true`", "`false`", "`unknown`"}
    if literal_words <= names:
        names -= literal_words
        parts.append("a value (a name, a number, a quoted text, `true`, `false` or `unknown`)")
    # Separators are always optional: naming them only adds noise.
    names.discard("`;`")
    names.discard("`,`")
    parts.extend(sorted(names))
    if not parts:
        return "something else"
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def clip(text: str, limit: int = 40) -> str:
    """A name or token short enough to quote in a message (first line, at most ``limit`` characters)."""
    text = text.split("\n", 1)[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(text: str, limit: int = 30) -> str:
    """A token as quoted in a message: backticked, shortened, one line."""
    text = text.split("\n", 1)[0]
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"`{text}`"


def leaves(node: Any) -> list[str]:
    """The token texts of a tree, in order (anonymous tokens are already filtered out)."""
    if isinstance(node, Token):
        return [str(node)]
    if isinstance(node, Tree):
        out: list[str] = []
        for child in node.children:
            out.extend(leaves(child))
        return out if node.data != "attribute_ref" else [out[0], ".", *out[1:]]
    return []


# ---------------------------------------------------------------------------
# The situation at a syntax error.
# ---------------------------------------------------------------------------


@dataclass
class Frame:
    """A construct still open at the error: ``principle encryption {``, ``rule no_keys:``, …"""

    kind: str  # principle rule jurisdiction group demand vocabulary enum attribute test expectation assignment set
    start: int  # offset of its first token
    index: int  # index of its first token in the parser's value stack
    name: str | None = None
    brace: int | None = None  # offset of its `{`, once opened
    name_end: int = -1
    closed: bool = False  # its `}` came (an inline test demand goes on with `-> outcome`)

    @property
    def is_open(self) -> bool:
        """Whether its `{` is open: a `}` is owed."""
        return self.brace is not None and not self.closed

    def describe(self) -> str | None:
        """How a message names it: "principle `encryption`"; None for constructs too small to name."""
        if self.kind == "vocabulary":
            return "the vocabulary"
        if self.kind == "test":
            return f'test "{self.name}"' if self.name is not None else "a test"
        if self.kind in ("expectation", "assignment", "set") or self.name is None:
            return None
        word = {"enum": "enumeration"}.get(self.kind, self.kind)
        return f"{word} `{self.name}`"


@dataclass
class ErrorSite:
    """Everything a case of :data:`ERROR_EXAMPLES` may look at."""

    source: Source
    kind: str  # "token" | "character" | "end"
    start: int  # offset of the unexpected token or character (end of the text for "end")
    end: int
    found: str  # terminal name ("NAME", "RBRACE", "$END"), or "" for a character
    value: str  # the token's text or the character
    accepts: frozenset[str]
    frames: list[Frame]
    stack: list[Any]  # the parser's value stack (tokens and trees of open constructs)
    spelling: Mapping[str, str]  # terminal → its text, for terminals that are fixed strings

    @property
    def text(self) -> str:
        return self.source.text

    @property
    def keyword(self) -> str:
        """The keyword the unexpected token spells (``"GROUP"``), even when the
        contextual lexer read it as a name; "" for other tokens."""
        if self.kind != "token":
            return ""
        if self.found == "NAME":
            return self.value.upper() if self.value in KEYWORDS else ""
        return self.found if self.value in KEYWORDS else ""

    @property
    def found_text(self) -> str:
        """What was found instead, as a message says it: "`withdrew`", "the end of the file"."""
        return shown(self.value) if self.kind != "end" else "the end of the file"

    @property
    def top(self) -> Token | None:
        """The token just before the error, when it is still on the stack."""
        if self.stack and isinstance(self.stack[-1], Token):
            return self.stack[-1]
        return None

    @property
    def top_type(self) -> str:
        return self.top.type if self.top is not None else ""

    def accepts_text(self, text: str) -> bool:
        """Whether the parser would accept the fixed token ``text`` here (``"->"``)."""
        return any(self.spelling.get(t) == text for t in self.accepts)

    def frame(self, *kinds: str) -> Frame | None:
        """The innermost open construct of one of ``kinds``."""
        for f in reversed(self.frames):
            if f.kind in kinds:
                return f
        return None

    def context(self) -> str:
        """``in principle `encryption`, rule `no_keys`: `` — or "" at the top level.

        A construct whose name runs into the error (`never-hand-keys` read as
        `never`) is left out: its name is what is wrong."""
        frames = [f for f in self.frames if f.name_end != self.start]
        named = [d for d in (f.describe() for f in frames) if d]
        return f"in {', '.join(named)}: " if named else ""

    def error(
        self,
        code: str,
        message: str,
        start: int | None = None,
        end: int | None = None,
        *,
        hint: str | None = None,
        label: str | None = None,
        context: str | None = None,
    ) -> Explanation:
        """The explanation a case gives: ``message`` after the :meth:`context`
        (or after ``context``, "" for a message that names the construct
        itself), over ``start``–``end`` (by default the unexpected token)."""
        return Explanation(
            code,
            (self.context() if context is None else context) + message,
            self.start if start is None else start,
            self.end if end is None else end,
            hint,
            label,
        )

    def end_of_previous(self) -> int:
        """Offset just after the last code before the error (skipping spaces and comments):
        where a missing word belongs."""
        at = insertion_point(self.text, self.start)
        return at if at is not None else self.start

    def line_start(self, offset: int) -> int:
        return self.text.rfind("\n", 0, offset) + 1

    def line_of(self, offset: int) -> int:
        return self.source.line_col(offset)[0]


@dataclass(frozen=True)
class Explanation:
    """What a case says about an error.

    ``repair_at`` asks recovery to insert the missing `}` there: forget the
    last ``repair_drop`` entries of the parser's stack (a keyword the lexer
    read as a name), feed the `}`, and go on lexing at ``repair_resume``."""

    code: str
    message: str
    start: int
    end: int
    hint: str | None = None
    label: str | None = None
    repair_at: int | None = None
    repair_resume: int = 0
    repair_drop: int = 0


def insertion_point(text: str, before: int) -> int | None:
    """Where a missing `}` belongs: just after the last code before ``before``
    (skipping blank lines and comments), or None when nothing separates them."""
    p = before - 1
    while p >= 0:
        ls = text.rfind("\n", 0, p) + 1
        in_comment = "#" in text[ls : p + 1] and '"' not in text[ls : p + 1]
        if not in_comment and not text[p].isspace():
            return p + 1 if p + 1 < before else None
        if in_comment:
            p = ls - 1
            continue
        p -= 1
    return None


# ---------------------------------------------------------------------------
# Reading the open constructs from the parser's value stack.
# ---------------------------------------------------------------------------


#: (keyword, the construct it is in) → the item it opens there.
_ITEM_KEYWORDS: dict[tuple[str, str | None], str] = {
    ("RULE", "principle"): "rule",
    ("DEMAND", "jurisdiction"): "demand",
    ("DEMAND", "group"): "demand",
    ("ENUM", "vocabulary"): "enum",
    ("EXTEND", "vocabulary"): "enum",
    ("ATTRIBUTE", "vocabulary"): "attribute",
    ("MARKET", "test"): "expectation",
}


def read_frames(stack: Sequence[Any]) -> list[Frame]:
    """The open constructs, read from the tokens left on the parser's value stack.

    Completed constructs have been reduced to trees, so every keyword token
    still on the stack belongs to something open; the order of the stack is
    the nesting order.
    """
    frames: list[Frame] = []
    prev = ""
    for i, entry in enumerate(stack):
        if isinstance(entry, Tree):
            cur = frames[-1] if frames else None
            if cur is not None and cur.name is None and cur.brace is None:
                if entry.data == "string" and cur.kind == "test":
                    cur.name = _test_name(entry)
                elif entry.data == "attribute_ref" and cur.kind == "attribute":
                    cur.name = clip("".join(leaves(entry)))
            prev = ""
            continue
        if not isinstance(entry, Token):
            continue
        t = entry.type
        pos = entry.start_pos or 0
        cur = frames[-1] if frames else None
        # A keyword opens a construct only where that construct can stand;
        # elsewhere `demand` and `jurisdiction` are the scopes of attributes.
        container = cur.kind if cur is not None and cur.brace is not None and len(frames) == 1 else None
        if t in TOP_KEYWORDS and not frames:
            frames = [Frame(t.lower(), pos, i)]
        elif (t, container) in _ITEM_KEYWORDS and not (t == "ENUM" and prev == "EXTEND"):
            frames.append(Frame(_ITEM_KEYWORDS[(t, container)], pos, i))
        elif t == "NAME" and cur is not None:
            if cur.name is None and cur.brace is None and cur.kind not in ("vocabulary", "test", "set", "assignment"):
                cur.name = clip(str(entry))
                cur.name_end = entry.end_pos or -1
            elif cur.is_open and cur.kind in ("jurisdiction", "group", "demand", "expectation"):
                frames.append(Frame("assignment", pos, i, name=clip(str(entry))))
            elif cur.kind == "test" and cur.brace is not None:
                frames.append(Frame("expectation", pos, i, name=clip(str(entry))))
        elif t == "RBRACE":
            # Shifted but not yet reduced (the token after it was the error):
            # the construct it closes is complete.
            closing = next((k for k in range(len(frames) - 1, -1, -1) if frames[k].is_open), None)
            if closing is not None and frames[closing].kind == "expectation":
                frames[closing].closed = True
                del frames[closing + 1 :]
            elif closing is not None:
                del frames[closing:]
        elif t == "LBRACE" and cur is not None:
            if prev == "IN":
                frames.append(Frame("set", pos, i, brace=pos))
            elif cur.brace is None:
                cur.brace = pos
        prev = t
    return frames


def _test_name(tree: Tree[Token]) -> str:
    tok = tree.children[0] if tree.children else ""
    return clip(str(tok).strip('"'))
