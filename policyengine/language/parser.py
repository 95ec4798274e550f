"""Policy source → AST, with syntax errors as diagnostics.

Stage contract: :func:`parse` takes a :class:`~policyengine.source.Source` and
returns ``(PolicyFile, diagnostics)``; :func:`parse_file` returns the same plus
what error recovery had to skip.  Neither raises on author input.  This is the
only module that sees Lark's exceptions: each is translated into a diagnostic
written in an author's words, never in Lark's terminal names.

How a syntax error becomes a message.  At the error we know the unexpected
token (or character), the tokens the parser would have accepted, and the
parser's value stack, which holds the tokens of every construct still open
(``principle encryption … { … rule no_keys: withdraw when …``).  From the
stack we read the context (``in principle `encryption`, rule `no_keys`: ``);
then the first entry of :data:`ERROR_EXAMPLES` that recognises the situation
explains it, with a hint.  Each entry carries example policies that trigger
it, and the test suite checks every one, so the table is also the catalogue
of mistakes we expect authors to make.

How the parser recovers.  One run must report every mistake, once.  Lark's
interactive LALR parser lets us cut the value and state stacks back to the
start of the broken construct and go on lexing further on, so recovery
costs nothing extra: the file is lexed and parsed once, whatever the number
of errors.  In order of preference:

* a missing ``}`` is repaired: the parser is fed the ``}`` it lacked and the
  declaration is kept whole;
* a stray token (a doubled ``and``, ``==`` for ``=``) is skipped alone when
  the next few tokens parse without it (tried on a copy of the parser);
* a broken rule, demand, vocabulary entry or test line is dropped up to the
  next sibling (the next line starting with ``rule``, …) or the ``}`` that
  closes its container, counting braces so that a block inside the broken
  item is skipped whole;
* a broken header drops its declaration up to the next line that starts one.

The names declared in skipped text are returned, so that later stages can
hold back "no such rule" echoes of a declaration we could not read.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import gc
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from lark import Lark, Token, Tree, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import ast
from .diagnostics import Diagnostic, did_you_mean
from .source import Source, Span
from .transform import build

#: Most syntax errors reported for one file; past this the rest of the file is
#: skipped (by then the author has enough to fix, and the output stays short).
MAX_SYNTAX_ERRORS = 20
#: Most tokens (words, numbers, texts, symbols) in one file.  The parser reads
#: about 110,000 tokens a second (docs/language.md, "Limits"); real policy text
#: has about 110 tokens a kilobyte, so a file at the 1 MiB limit of the loader
#: has ~116,000.  The cap bounds what a hostile file of one-character tokens
#: can cost to under two seconds, and the memory of its parse tree.
MAX_TOKENS = 150_000

_OUTCOMES = ("comply", "negotiate", "withdraw")
_DECLARATIONS = ("principle", "jurisdiction", "group", "vocabulary", "test")
_TOP_KEYWORDS = {"PRINCIPLE", "JURISDICTION", "GROUP", "VOCABULARY", "TEST"}
_CONDITION_START = {"DEMAND", "JURISDICTION", "NOT", "LPAR"}
_STRINGS = {"STRING", "LONG_STRING"}
_LITERAL_WORDS = frozenset({"true", "false", "unknown"})
#: Every keyword of the language (a word the grammar spells out).
KEYWORDS = frozenset(
    {
        *("principle", "rule", "when", "because", "jurisdiction", "group", "demand", "vocabulary"),
        *("enum", "extend", "attribute", "test", "market", "by", "default", "in", "not", "and", "or"),
        *("is", "known", "unknown", "true", "false", "from", "to", "comply", "negotiate", "withdraw"),
    }
)

#: A declaration keyword at the start of a line, followed by what its header
#: needs: where recovery resumes after a broken declaration.  Requiring the
#: header shape keeps a word at the start of a line of a multi-line text from
#: being taken for a declaration.
_TOP_LEVEL = re.compile(
    r'^[ \t]*((?:principle|jurisdiction|group)[ \t]+[A-Za-z_]|vocabulary[ \t]*(?:\{|$)|test[ \t]+")',
    re.MULTILINE,
)
#: Where the next item of each kind of container starts (after a broken one).
_SIBLINGS: dict[str, re.Pattern[str]] = {
    "principle": re.compile(r"^[ \t]*(rule\b)", re.MULTILINE),
    "jurisdiction": re.compile(r"^[ \t]*(demand\b)", re.MULTILINE),
    "group": re.compile(r"^[ \t]*(demand\b)", re.MULTILINE),
    "vocabulary": re.compile(r"^[ \t]*((?:enum|extend|attribute)\b)", re.MULTILINE),
    "test": re.compile(r"^[ \t]*(market\b|[A-Za-z_]\w*[ \t]*[.{])", re.MULTILINE),
}
#: After a broken assignment of a jurisdiction or group, the next one may follow.
_NEXT_ASSIGNMENT = re.compile(r"^[ \t]*(demand\b|[A-Za-z_]\w*[ \t]*=)", re.MULTILINE)
_NAMES_DECLARED = re.compile(
    r"\b(?:principle|rule|jurisdiction|group|demand|enum)[ \t]+([A-Za-z_]\w*)"
    r"|\battribute[ \t]+(?:demand|jurisdiction)[ \t]*\.[ \t]*([A-Za-z_]\w*)"
)
_WORD = re.compile(r"[A-Za-z_]\w*")


@functools.lru_cache(maxsize=1)
def get_parser() -> Lark:
    """The one LALR parser, built on first use and shared: it holds no per-parse state.

    ``strict`` (which proves there are no terminal collisions) needs the
    optional ``interegular`` package, so it is checked by the test suite
    (tests/test_grammar.py) rather than at every start.
    """
    grammar = resources.files("policyengine.language").joinpath("grammar.lark").read_text(encoding="utf-8")
    parser = Lark(grammar, parser="lalr", propagate_positions=False, maybe_placeholders=False, cache=False)
    # The tree-building callback of every grammar rule, used by `parse` and
    # `parse_interactive` alike; each gets the node positions Lark's
    # `propagate_positions` would give it (see `_Position`).
    callbacks: dict[Any, Callable[[list[Any]], Any]] = parser.parser.parser.parser.callbacks
    for rule, callback in callbacks.items():
        callbacks[rule] = _positioned(callback)
    return parser


class _Position:
    """Where a tree node is in the text: what ``propagate_positions=True`` puts in ``tree.meta``, and no more.

    Lark's own propagation also records lines and columns and looks every
    attribute up by name with a default; it costs about a third of a parse
    (docs/language.md, "Limits").  Spans need character offsets only (lines
    and columns are derived from them), so this keeps those, with Lark's
    rule: a node starts where its first child starts and ends where its last
    child ends, counting the tokens the tree leaves out (keywords, braces,
    separators), so that a rule's span starts at `rule` and a principle's ends
    at its `}`.  The *container* positions are those of the text a node took
    up before it was inlined (a parenthesised condition, an item of a
    declaration): the parent's span is measured from them."""

    __slots__ = ("container_end_pos", "container_start_pos", "empty", "end_pos", "start_pos")

    def __init__(self, start: int, end: int):
        self.start_pos = self.container_start_pos = start
        self.end_pos = self.container_end_pos = end
        self.empty = False


def _positioned(build_node: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
    """``build_node`` (a rule's tree builder), with the node's :class:`_Position` set.

    ``children`` are all the values the rule matched, filtered-out tokens and
    to-be-inlined trees included.  (This runs once per node of every file: it
    is written for speed.)"""

    def callback(children: list[Any]) -> Any:
        node = build_node(children)
        if type(node) is not Tree:
            return node
        start = None
        for child in children:
            kind = type(child)
            if kind is Token:
                start = child.start_pos
                break
            if kind is Tree:
                pos = child._meta
                if pos is not None and not pos.empty:
                    start = pos.container_start_pos
                    break
        if start is None:
            return node  # nothing positioned inside: meta stays empty
        end: int = start
        for child in reversed(children):
            kind = type(child)
            if kind is Token:
                end = child.end_pos
                break
            if kind is Tree:
                pos = child._meta
                if pos is not None and not pos.empty:
                    end = pos.container_end_pos
                    break
        positioned: Any = node  # a `_Position` stands in for Lark's `Meta`
        pos = positioned._meta
        if pos is None or pos.empty:
            positioned._meta = _Position(start, end)
        else:
            # A single child passed up in place of its parent (`?rule`): it
            # keeps its own span and takes on its parent's extent.
            pos.container_start_pos = start
            pos.container_end_pos = end
        return node

    return callback


# ---------------------------------------------------------------------------
# Describing what was expected, in an author's words.
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _terminal_words() -> dict[str, str]:
    """Terminal name → how an author would call it."""
    words = {
        "NAME": "a name",
        "STRING": "a quoted text",
        "LONG_STRING": "a quoted text",
        "NUMBER": "a number",
        "COMPARATOR": "a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`)",
        "$END": "the end of the file",
        "_SEP": "`;`",
    }
    for term in get_parser().terminals:
        if term.name not in words and term.pattern.type == "str":
            words[term.name] = f"`{term.pattern.value}`"
    return words


def describe_expected(expected: set[str] | frozenset[str]) -> str:
    """``{"COMPLY", "NEGOTIATE", "WITHDRAW"}`` → "an outcome: `comply`, `negotiate` or `withdraw`"."""
    words = _terminal_words()
    names = {words.get(e, e.lower()) for e in expected}
    outcome_words = {f"`{o}`" for o in _OUTCOMES}
    declaration_words = {f"`{d}`" for d in _DECLARATIONS}
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


def _clip(text: str, limit: int = 40) -> str:
    """A name or token short enough to quote in a message (first line, at most ``limit`` characters)."""
    text = text.split("\n", 1)[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _found(site: ErrorSite) -> str:
    """What was found instead, as a message says it."""
    return _shown(site.value) if site.kind != "end" else "the end of the file"


def _shown(text: str, limit: int = 30) -> str:
    """A token as quoted in a message: backticked, shortened, one line."""
    text = text.split("\n", 1)[0]
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"`{text}`"


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
    def top(self) -> Token | None:
        """The token just before the error, when it is still on the stack."""
        if self.stack and isinstance(self.stack[-1], Token):
            return self.stack[-1]
        return None

    @property
    def top_type(self) -> str:
        return self.top.type if self.top is not None else ""

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

    def end_of_previous(self) -> int:
        """Offset just after the last code before the error (skipping spaces and comments):
        where a missing word belongs."""
        at = _insertion_point(self.text, self.start)
        return at if at is not None else self.start

    def line_start(self, offset: int) -> int:
        return self.text.rfind("\n", 0, offset) + 1

    def line_of(self, offset: int) -> int:
        return self.source.line_col(offset)[0]


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


def _frames(stack: Sequence[Any]) -> list[Frame]:
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
                    cur.name = _clip("".join(_leaves(entry)))
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
        if t in _TOP_KEYWORDS and not frames:
            frames = [Frame(t.lower(), pos, i)]
        elif (t, container) in _ITEM_KEYWORDS and not (t == "ENUM" and prev == "EXTEND"):
            frames.append(Frame(_ITEM_KEYWORDS[(t, container)], pos, i))
        elif t == "NAME" and cur is not None:
            if cur.name is None and cur.brace is None and cur.kind not in ("vocabulary", "test", "set", "assignment"):
                cur.name = _clip(str(entry))
                cur.name_end = entry.end_pos or -1
            elif cur.is_open and cur.kind in ("jurisdiction", "group", "demand", "expectation"):
                frames.append(Frame("assignment", pos, i, name=_clip(str(entry))))
            elif cur.kind == "test" and cur.brace is not None:
                frames.append(Frame("expectation", pos, i, name=_clip(str(entry))))
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
    return _clip(str(tok).strip('"'))


def _site(err: UnexpectedInput, ip: Any, source: Source) -> ErrorSite:
    text = source.text
    stack = list(ip.parser_state.value_stack)
    try:
        accepts = frozenset(ip.accepts())
    except Exception:  # Lark's own list is the fallback
        accepts = frozenset(getattr(err, "expected", None) or getattr(err, "allowed", None) or ())
    frames = _frames(stack)
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream or 0
        ch = text[pos] if pos < len(text) else ""
        return ErrorSite(source, "character", pos, pos + 1, "", ch, accepts, frames, stack)
    tok = err.token if isinstance(err, UnexpectedToken) else None
    if tok is None or tok.type == "$END":
        end = len(text.rstrip())
        return ErrorSite(source, "end", end, end, "$END", "", accepts, frames, stack)
    start = tok.start_pos or 0
    end = tok.end_pos if tok.end_pos is not None else start + len(str(tok))
    # The token as quoted in messages: a name of 10,000 characters is clipped.
    return ErrorSite(source, "token", start, max(end, start + 1), tok.type, _clip(str(tok)), accepts, frames, stack)


# ---------------------------------------------------------------------------
# ERROR_EXAMPLES: the mistakes we recognise, each with examples.
# ---------------------------------------------------------------------------


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


@dataclass(frozen=True)
class SyntaxCase:
    """One recognised mistake: ``explain`` returns None when the situation is not this one."""

    name: str
    explain: Callable[[ErrorSite], Explanation | None]
    examples: tuple[str, ...] = field(default=())


#: The recognised mistakes, most specific first.  Every example must be
#: explained by its own case (tests/test_grammar.py checks them all).
ERROR_EXAMPLES: list[SyntaxCase] = []


_Explain = Callable[[ErrorSite], "Explanation | None"]


def _case(name: str, *examples: str) -> Callable[[_Explain], _Explain]:
    def register(fn: _Explain) -> _Explain:
        ERROR_EXAMPLES.append(SyntaxCase(name, fn, examples))
        return fn

    return register


def _in_rule(body: str) -> str:
    """An example policy whose only rule reads ``rule r: <body>``."""
    return f'principle p "Statement" {{\n    rule r: {body}\n}}\n'


def _in_jurisdiction(body: str) -> str:
    return f'jurisdiction FR "France" {{\n    {body}\n}}\n'


def _in_test(body: str) -> str:
    return f'test "t" {{\n    {body}\n}}\n'


# -- strings and characters ----------------------------------------------------


def _long_string_start(site: ErrorSite) -> int | None:
    """Where an unterminated `\"\"\"` starts, if the bad quote belongs to one.

    The lexer reads an unclosed `\"\"\"` as an empty text `\"\"` followed by a
    stray `"`, so the error arrives at the third quote."""
    for back in (0, 2):
        s = site.start - back
        if s >= 0 and site.text.startswith('"""', s):
            return s
    return None


@_case("unterminated-long-string", _in_rule('withdraw when demand.mandatory because """a reason\n'))
def _unterminated_long(site: ErrorSite) -> Explanation | None:
    if site.kind != "character" or site.value != '"':
        return None
    s = _long_string_start(site)
    if s is None:
        return None
    line_end = site.text.find("\n", s)
    return Explanation(
        "PE104",
        site.context() + 'this `"""` text is never closed',
        s,
        len(site.text) if line_end == -1 else line_end,
        hint='end it with `"""`',
        label="the text starts here",
    )


@_case(
    "unterminated-string",
    _in_rule('withdraw when demand.mandatory because "a reason\n'),
    'principle p "Statement {\n}\n',
)
def _unterminated(site: ErrorSite) -> Explanation | None:
    if site.kind != "character" or site.value != '"':
        return None
    line_end = site.text.find("\n", site.start)
    return Explanation(
        "PE104",
        site.context() + "this text has no closing quote",
        site.start,
        len(site.text) if line_end == -1 else line_end,
        hint='end it with `"` on the same line; a text that runs over several lines is written between `"""`',
    )


@_case("single-quotes", "principle p 'Statement' {\n}\n")
def _single_quotes(site: ErrorSite) -> Explanation | None:
    if site.kind != "character" or site.value not in "'‘’":
        return None
    return Explanation(
        "PE102",
        site.context() + "texts are written between double quotes",
        site.start,
        site.end,
        hint="write \"like this\", not 'like this'",
    )


@_case("typographic-quotes", "principle p “Statement” {\n}\n")
def _curly_quotes(site: ErrorSite) -> Explanation | None:
    if site.kind != "character" or site.value not in "“”„«»":
        return None
    return Explanation(
        "PE102",
        site.context() + f"`{site.value}` is a typographic quote",
        site.start,
        site.end,
        hint='write texts between straight double quotes: "like this" '
        "(word processors put in typographic ones: edit policies in a text editor)",
    )


def _foreign_operator(site: ErrorSite, written: str, ours: str) -> Explanation | None:
    if site.kind != "character" or not site.text.startswith(written, site.start):
        return None
    return Explanation(
        "PE102",
        site.context() + f"`{written}` is not an operator of this language; write `{ours}`",
        site.start,
        site.start + len(written),
        hint=f"conditions are joined with `and` and `or`, and negated with `not`: `… {ours} …`",
    )


@_case("and-and", _in_rule('withdraw when demand.mandatory && demand.kind == hotline because "x"'))
def _and_and(site: ErrorSite) -> Explanation | None:
    return _foreign_operator(site, "&&", "and") or _foreign_operator(site, "&", "and")


@_case("or-or", _in_rule('withdraw when demand.mandatory || demand.kind == hotline because "x"'))
def _or_or(site: ErrorSite) -> Explanation | None:
    return _foreign_operator(site, "||", "or") or _foreign_operator(site, "|", "or")


@_case("bang-not", _in_rule('withdraw when !demand.mandatory because "x"'))
def _bang(site: ErrorSite) -> Explanation | None:
    if site.text.startswith("!=", site.start):
        return None
    return _foreign_operator(site, "!", "not")


@_case("dash-in-name", 'principle never-hand-keys "Statement" {\n}\n', _in_rule("").replace("rule r:", "rule no-keys:"))
def _dash_in_name(site: ErrorSite) -> Explanation | None:
    if site.kind != "character" or site.value != "-":
        return None
    m = re.compile(r"[A-Za-z_]\w*(?:-\w+)+").match(site.text, _word_start(site.text, site.start))
    if m is None or m.end() <= site.start:
        return None
    word = _clip(m.group(0))
    return Explanation(
        "PE102",
        site.context() + f"`{word}` is not a valid name: names cannot contain `-`",
        m.start(),
        m.end(),
        hint=f"write `{word.replace('-', '_')}`",
    )


def _word_start(text: str, pos: int) -> int:
    """Start of the name-and-dashes word that ends just before ``pos``."""
    i = pos
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_-") and text[i - 1].isascii():
        i -= 1
    return i


def _enclosed(site: ErrorSite, closer: str) -> str:
    """The text between the opening bracket at the error and ``closer`` on the same line."""
    line_end = site.text.find("\n", site.start)
    line = site.text[site.start + 1 : len(site.text) if line_end == -1 else line_end]
    inner = line.split(closer, 1)[0] if closer in line else "…"
    inner = " ".join(inner.split())
    return inner if 0 < len(inner) <= 60 else "…"


@_case("square-brackets", _in_rule('withdraw when demand.kind in [hotline, user_data] because "x"'))
def _brackets(site: ErrorSite) -> Explanation | None:
    if site.kind != "character" or site.value != "[":
        return None
    return Explanation(
        "PE102",
        site.context() + "a set of values is written between braces, not brackets",
        site.start,
        site.end,
        hint=f"write `in {{{_enclosed(site, ']')}}}`",
    )


@_case("unicode-arrow", _in_test("FR.keys → withdraw"))
def _unicode_arrow(site: ErrorSite) -> Explanation | None:
    if site.kind != "character" or site.value not in "→⇒":
        return None
    message = f"`{site.value}` is not an arrow this language reads; write `->`"
    return Explanation("PE102", site.context() + message, site.start, site.end)


@_case("non-ascii-name", 'jurisdiction CI "Côte d\'Ivoire" {\n    rule_of_law = 0.5\n}\njurisdiction CÔ "x" {\n}\n')
def _non_ascii(site: ErrorSite) -> Explanation | None:
    if site.kind != "character" or not site.value.isalpha() or site.value.isascii():
        return None
    return Explanation(
        "PE102",
        site.context() + f"`{site.value}` cannot be part of a name",
        site.start,
        site.end,
        hint="names use the letters A to Z, digits and `_`; accented letters belong in quoted texts",
    )


# -- braces ---------------------------------------------------------------------


def _insertion_point(text: str, before: int) -> int | None:
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


def _unclosed(site: ErrorSite, where: str) -> Explanation | None:
    """The innermost construct whose `{` is still open, described as never closed."""
    for f in reversed(site.frames):
        if f.brace is not None and not f.closed and f.kind != "set":
            if f.kind == "expectation":
                what = f"the test demand for `{f.name}`"
            else:
                what = f.describe() or f.kind
            return Explanation(
                "PE109",
                f"{what} is never closed",
                f.brace,
                f.brace + 1,
                hint=f"add `}}` {where}",
                label="this `{` has no matching `}`",
            )
    return None


#: The keywords that open the items of each container.
_ITEM_OPENERS: dict[str, frozenset[str]] = {
    "principle": frozenset({"RULE"}),
    "jurisdiction": frozenset({"DEMAND"}),
    "group": frozenset({"DEMAND"}),
    "vocabulary": frozenset({"ENUM", "EXTEND", "ATTRIBUTE"}),
    "test": frozenset({"MARKET"}),
}


def _repair(ex: Explanation, text: str, before: int, drop: int) -> Explanation:
    """``ex``, asking recovery to insert the missing `}` before the keyword at ``before``."""
    at = _insertion_point(text, before)
    return Explanation(**{**ex.__dict__, "repair_at": at, "repair_resume": before, "repair_drop": drop})


@_case(
    "missing-closing-brace",
    'principle p "Statement" {\n    rule r: comply when demand.mandatory because "x"\n\njurisdiction FR "France" {\n}\n',
    'principle p "Statement" {\n    rule r: comply when demand.mandatory because "x"\n',
    'jurisdiction RU "Russia" {\n    demand a "A" {\n        kind = hotline\n    demand b "B" { kind = hotline }\n}\n',
    'jurisdiction RU "Russia" {\n    rule_of_law = 0.3\n\njurisdiction FR "France" {\n    rule_of_law = 0.7\n}\n',
)
def _missing_brace(site: ErrorSite) -> Explanation | None:
    if site.kind == "end" and "RBRACE" in site.accepts:
        return _unclosed(site, "at the end of the file")
    if site.keyword in _TOP_KEYWORDS and "RBRACE" in site.accepts:
        ex = _unclosed(site, f"before `{site.value}` on line {site.line_of(site.start)}")
        return ex and _repair(ex, site.text, site.start, drop=0)
    # The keyword of the next item (`demand b "…" {`, `extend enum …`) inside
    # an item whose `}` is missing.
    container = site.frames[0].kind if site.frames else ""
    inner = next((f for f in reversed(site.frames[1:]) if f.is_open and f.kind != "set"), None)
    if inner is not None and site.keyword in _ITEM_OPENERS.get(container, ()) and "RBRACE" in site.accepts:
        frames = site.frames[: site.frames.index(inner) + 1]
        where = f"before `{site.value}` on line {site.line_of(site.start)}"
        ex = _unclosed(ErrorSite(**{**site.__dict__, "frames": frames}), where)
        return ex and _repair(ex, site.text, site.start, drop=0)
    # The same where the lexer read the keyword as an attribute name: the
    # error comes at the name after it.
    top = site.top
    if site.kind != "token" or top is None or top.type != "NAME" or "EQUAL" not in site.accepts:
        return None
    top_start = top.start_pos or 0
    at_line_start = not site.text[site.line_start(top_start) : top_start].strip()
    if str(top) in _DECLARATIONS and at_line_start:
        # `jurisdiction MM "…" {` after a jurisdiction whose `}` is missing.
        where = f"before `{top}` on line {site.line_of(top_start)}"
        ex = _unclosed(site, where)
        return ex and _repair(ex, site.text, top_start, drop=1)
    if str(top).upper() in _ITEM_OPENERS.get(container, ()) and inner is not None and at_line_start:
        frames = site.frames[: site.frames.index(inner) + 1]
        where = f"before `{top}` on line {site.line_of(top.start_pos or 0)}"
        ex = _unclosed(ErrorSite(**{**site.__dict__, "frames": frames}), where)
        return ex and _repair(ex, site.text, top.start_pos or 0, drop=1)
    return None


@_case(
    "unclosed-set",
    _in_rule(
        'withdraw when demand.kind in {hotline, user_data because "x"\n    rule s: comply when demand.kind == hotline because "y"'
    ),
)
def _unclosed_set(site: ErrorSite) -> Explanation | None:
    f = site.frame("set")
    if f is None or f.brace is None:
        return None
    inside = [e for e in site.stack[f.index + 1 :] if isinstance(e, Token)]
    keyword: str | None = next((str(t) for t in inside if t.type == "NAME" and str(t) in KEYWORDS - _LITERAL_WORDS), None)
    if keyword is None and site.keyword and site.value not in _LITERAL_WORDS:
        keyword = site.value
    if keyword is None and site.line_of(site.start) == site.line_of(f.brace):
        return None
    where = f"before `{keyword}`" if keyword is not None else "after the last value"
    return Explanation(
        "PE109",
        site.context() + "this set of values is never closed",
        f.brace,
        f.brace + 1,
        hint=f"add `}}` {where}",
        label="this `{` has no matching `}`",
    )


@_case(
    "unclosed-parenthesis",
    _in_rule('withdraw when (demand.mandatory or demand.kind == hotline because "x"'),
    _in_rule('withdraw when demand.mandatory and (demand.kind == hotline\n    rule s: comply when demand.mandatory because "y"'),
)
def _unclosed_paren(site: ErrorSite) -> Explanation | None:
    if "RPAR" not in site.accepts or site.found == "RPAR" or site.frame("set") is not None:
        return None
    if not (site.found in ("BECAUSE", "RBRACE", "$END") or site.keyword in _TOP_KEYWORDS or site.keyword == "RULE"):
        return None
    opening = next((e for e in reversed(site.stack) if _is(e, "LPAR")), None)
    if opening is None:
        return None
    start = opening.start_pos or 0
    return Explanation(
        "PE109",
        site.context() + "this `(` is never closed",
        start,
        start + 1,
        hint=f"add `)` where the group ends, before {_found(site)}",
        label="this `(` has no matching `)`",
    )


@_case("stray-closing-brace", 'principle p "Statement" {\n}\n}\n')
def _stray_brace(site: ErrorSite) -> Explanation | None:
    if site.found != "RBRACE" or site.frames:
        return None
    return Explanation(
        "PE101",
        "this `}` closes nothing",
        site.start,
        site.end,
        hint="remove it, or look above for a `{` that is missing",
    )


@_case(
    "missing-open-brace",
    'group EU "European Union"\n    rule_of_law = 0.8\n}\n',
    'principle p "Statement"\n    rule r: comply when demand.mandatory because "x"\n}\n',
)
def _missing_open(site: ErrorSite) -> Explanation | None:
    if "LBRACE" not in site.accepts or site.found == "LBRACE" or not site.frames or site.frame("set") is not None:
        return None
    f = site.frames[-1]
    if f.brace is not None or f.kind in ("expectation", "assignment"):
        return None
    if site.top_type == "IN":
        return None
    what = f.describe() or f.kind
    return Explanation(
        "PE101",
        f"expected `{{` to open {what}, found {_found(site)}",
        site.start,
        site.end,
        hint=f"the body of {what} goes between `{{` and `}}`",
    )


# -- rules ------------------------------------------------------------------------


@_case(
    "misspelled-outcome",
    _in_rule('withdrew when demand.mandatory because "x"'),
    _in_rule('when demand.mandatory withdraw because "x"'),
)
def _outcome(site: ErrorSite) -> Explanation | None:
    if not {"COMPLY", "NEGOTIATE", "WITHDRAW"} <= site.accepts or site.kind != "token":
        return None
    if site.found == "WHEN":
        return Explanation(
            "PE101",
            site.context() + "the outcome comes before `when`",
            site.start,
            site.end,
            hint=f"write `rule {_rule_name(site)}: withdraw when …` (or `comply`, `negotiate`)",
        )
    return Explanation(
        "PE101",
        site.context() + f"expected an outcome: `comply`, `negotiate` or `withdraw`, found {_shown(site.value)}",
        site.start,
        site.end,
        hint=did_you_mean(site.value, _OUTCOMES) if site.found == "NAME" else None,
    )


def _rule_name(site: ErrorSite) -> str:
    rule = site.frame("rule")
    return rule.name if rule is not None and rule.name else "no_keys"


def _rule_shape(site: ErrorSite) -> str:
    return f'a rule reads `rule {_rule_name(site)}: withdraw when demand.kind == key_disclosure because "…"`'


@_case("missing-colon", _in_rule("").replace("rule r: ", 'rule r withdraw when demand.mandatory because "x"'))
def _missing_colon(site: ErrorSite) -> Explanation | None:
    if "COLON" not in site.accepts or site.top_type != "NAME" or site.frame("rule") is None:
        return None
    name = _clip(str(site.top))
    return Explanation(
        "PE101",
        site.context() + f"expected `:` after the rule name `{name}`",
        site.start,
        site.end,
        hint=f"write `rule {name}: withdraw when …`",
    )


@_case(
    "missing-when",
    _in_rule('withdraw demand.mandatory because "x"'),
    _in_rule('withdraw if demand.mandatory because "x"'),
)
def _missing_when(site: ErrorSite) -> Explanation | None:
    if "WHEN" not in site.accepts:
        return None
    if site.found == "NAME" and site.value.lower() in ("if", "unless", "where", "whenever", "provided", "iff"):
        return Explanation(
            "PE101",
            site.context() + f"write `when`, not `{site.value}`",
            site.start,
            site.end,
            hint=_rule_shape(site),
        )
    hint = did_you_mean(site.value, ["when"]) if site.found == "NAME" else None
    return Explanation(
        "PE101",
        site.context() + f"expected `when` before the condition, found {_found(site)}",
        site.start,
        site.end,
        hint=hint or _rule_shape(site),
    )


@_case("doubled-operator", _in_rule('withdraw when demand.mandatory and and demand.kind == hotline because "x"'))
def _doubled_operator(site: ErrorSite) -> Explanation | None:
    if site.found not in ("AND", "OR") or site.top_type != site.found:
        return None
    return Explanation(
        "PE101", site.context() + f"`{site.value}` is written twice", site.start, site.end, hint=f"remove one `{site.value}`"
    )


@_case(
    "trailing-operator",
    _in_rule('withdraw when demand.mandatory and because "x"'),
    _in_rule('withdraw when demand.mandatory or\n        because "x"'),
    _in_rule('withdraw when not because "x"'),
)
def _trailing_operator(site: ErrorSite) -> Explanation | None:
    top = site.top
    if top is None or top.type not in ("AND", "OR", "NOT") or site.found in _CONDITION_START or site.found == "NAME":
        return None
    start = top.start_pos or 0
    return Explanation(
        "PE101",
        site.context() + f"`{top}` is not followed by a condition",
        start,
        start + len(str(top)),
        hint=f"add the condition that `{top}` should {'negate' if top.type == 'NOT' else 'join'}, or remove `{top}`",
        label=f"found {_found(site)} after it",
    )


@_case("empty-condition", _in_rule('withdraw when because "x"'))
def _empty_condition(site: ErrorSite) -> Explanation | None:
    if site.top_type != "WHEN" or site.found in _CONDITION_START or site.found == "NAME":
        return None
    return Explanation(
        "PE101",
        site.context() + "`when` must be followed by a condition",
        site.start,
        site.end,
        hint="for a rule that always applies, test something every demand has, e.g. `demand.kind is known`",
    )


@_case(
    "assign-in-condition",
    _in_rule('comply when demand.kind = user_data because "x"'),
)
def _assign_in_condition(site: ErrorSite) -> Explanation | None:
    if site.found != "EQUAL" or "COMPARATOR" not in site.accepts:
        return None
    ref = _ref_before(site)
    return Explanation(
        "PE101",
        site.context() + "`=` sets a value; to compare, write `==`",
        site.start,
        site.end,
        hint=f"write `{ref} == …`" if ref else "write `==`",
    )


def _ref_before(site: ErrorSite) -> str | None:
    """The attribute the stack ends with (``demand.kind``), reduced or not."""
    stack = site.stack
    if stack and isinstance(stack[-1], Tree) and stack[-1].data == "attribute_ref":
        return _clip("".join(_leaves(stack[-1])), 80)
    if len(stack) >= 3 and _is(stack[-1], "NAME") and _is(stack[-2], "DOT"):
        return _clip("".join(_leaves(stack[-3])) + "." + str(stack[-1]), 80)
    return None


def _is(entry: Any, token_type: str) -> bool:
    return isinstance(entry, Token) and entry.type == token_type


def _leaves(node: Any) -> list[str]:
    """The token texts of a tree, in order (anonymous tokens are already filtered out)."""
    if isinstance(node, Token):
        return [str(node)]
    if isinstance(node, Tree):
        out: list[str] = []
        for child in node.children:
            out.extend(_leaves(child))
        return out if node.data != "attribute_ref" else [out[0], ".", *out[1:]]
    return []


@_case(
    "is-not-known",
    _in_rule('withdraw when jurisdiction.rule_of_law is not known because "x"'),
)
def _is_not_known(site: ErrorSite) -> Explanation | None:
    if site.top_type != "IS" or site.found != "NOT":
        return None
    nxt = site.text[site.end :].lstrip()
    wanted = "unknown" if nxt.startswith("known") else "known"
    return Explanation(
        "PE101",
        site.context() + f"write `is {wanted}`, not `is not {'known' if wanted == 'unknown' else 'unknown'}`",
        site.start,
        site.end,
        hint="`is known` and `is unknown` are the two tests for a missing value",
    )


@_case("is-for-equals", _in_rule('comply when demand.kind is user_data because "x"'))
def _is_for_equals(site: ErrorSite) -> Explanation | None:
    if site.top_type != "IS" or site.kind != "token":
        return None
    return Explanation(
        "PE101",
        site.context() + f"`is` only tests `known` or `unknown`; to compare with {_shown(site.value)}, write `==`",
        site.start,
        site.end,
        hint=f"write `== {site.value}`" if site.found == "NAME" else None,
    )


@_case(
    "parentheses-for-set",
    _in_rule('withdraw when demand.kind in (hotline, user_data) because "x"'),
)
def _paren_set(site: ErrorSite) -> Explanation | None:
    if site.top_type != "IN" or "LBRACE" not in site.accepts or site.found == "LBRACE":
        return None
    if site.found == "LPAR":
        message = "a set of values is written between braces, not parentheses"
        hint = f"write `in {{{_enclosed(site, ')')}}}`"
    else:
        message = f"`in` takes a set of values between braces, found {_found(site)}"
        hint = f"write `in {{{site.value}}}`, or `== {site.value}` for one value" if site.found == "NAME" else "write `in {a, b}`"
    return Explanation("PE101", site.context() + message, site.start, site.end, hint=hint)


@_case("bare-attribute", _in_rule('withdraw when kind == hotline because "x"'))
def _bare_attribute(site: ErrorSite) -> Explanation | None:
    if site.found != "NAME" or not {"DEMAND", "JURISDICTION"} <= site.accepts or "NAME" in site.accepts:
        return None
    return Explanation(
        "PE101",
        site.context() + f"`{site.value}` needs its scope: write `demand.{site.value}` or `jurisdiction.{site.value}`",
        site.start,
        site.end,
        hint="conditions name attributes with their scope, such as `demand.kind` or `jurisdiction.rule_of_law`",
    )


@_case(
    "missing-because",
    _in_rule('withdraw when demand.mandatory "x"'),
    _in_rule('withdraw when demand.mandatory\n    rule s: comply when demand.mandatory because "y"'),
    _in_rule('withdraw when demand.mandatory Because "x"'),
    _in_rule("withdraw when demand.mandatory because x"),
)
def _missing_because(site: ErrorSite) -> Explanation | None:
    if site.top_type == "BECAUSE" and (site.found in ("NAME", "NUMBER", "$END") or site.keyword):
        return Explanation(
            "PE101",
            site.context()
            + (
                "the file ends after `because`, before the reason"
                if site.kind == "end"
                else "the reason after `because` must be a quoted text"
            ),
            site.start,
            site.end,
            hint='write `because "…"`',
        )
    if "BECAUSE" not in site.accepts:
        return None
    if site.found in _STRINGS:
        return Explanation(
            "PE101",
            site.context() + "expected `because` before the reason",
            site.start,
            site.start + 1,
            hint='write `because "…"`',
            label="`because` is missing here",
        )
    if site.found == "NAME" and (m := did_you_mean(site.value, ["because"])):
        message = f"expected `because`, found {_shown(site.value)}"
        return Explanation("PE101", site.context() + message, site.start, site.end, hint=m)
    if site.found in ("RBRACE", "$END") or site.keyword == "RULE" or site.keyword in _TOP_KEYWORDS:
        rule = site.frame("rule")
        name = f"rule `{rule.name}`" if rule is not None and rule.name else "this rule"
        ctx = site.context().replace(f", rule `{rule.name}`" if rule else "\0", "")
        at = site.end_of_previous()
        return Explanation(
            "PE101",
            ctx + f"{name} has no `because` text",
            at,
            at,
            hint='every rule ends with `because "…"`, the reason given to the authority',
            label='expected `because "…"` here',
        )
    return None


@_case(
    "missing-connective",
    _in_rule('withdraw when demand.mandatory demand.kind == hotline because "x"'),
    _in_rule('withdraw when demand.mandatory && demand.kind == hotline because "x"').replace("&&", ""),
)
def _missing_connective(site: ErrorSite) -> Explanation | None:
    if not {"AND", "OR"} <= site.accepts:
        return None
    nxt = site.text[site.end : site.end + 1]
    if site.found in _CONDITION_START or (site.found == "NAME" and nxt == "."):
        return Explanation(
            "PE101",
            site.context() + "two conditions need `and` or `or` between them",
            site.start,
            site.end,
            hint="write `… and demand.kind == …`",
        )
    if site.found == "NAME" and (m := did_you_mean(site.value, ["and", "or"])):
        message = f"expected `and` or `or`, found {_shown(site.value)}"
        return Explanation("PE101", site.context() + message, site.start, site.end, hint=m)
    return None


# -- jurisdictions, demands and assignments -----------------------------------------


@_case("double-equals-in-assignment", _in_jurisdiction("rule_of_law == 0.7"))
def _double_equals(site: ErrorSite) -> Explanation | None:
    doubled = site.found == "EQUAL" and site.top_type == "EQUAL"
    if not doubled and not (site.found == "COMPARATOR" and "EQUAL" in site.accepts):
        return None
    start = (site.top.start_pos or site.start) if doubled and site.top is not None else site.start
    assignment = site.frame("assignment")
    name = assignment.name if assignment is not None else "name"
    return Explanation(
        "PE101",
        site.context() + f"write `=` to set a value; `{site.text[start : site.end]}` compares, in conditions",
        start,
        site.end,
        hint=f"write `{name} = …`",
    )


@_case("colon-in-assignment", _in_jurisdiction("rule_of_law: 0.7"))
def _colon_assign(site: ErrorSite) -> Explanation | None:
    if site.found != "COLON" or "EQUAL" not in site.accepts:
        return None
    name = _clip(str(site.top)) if site.top_type == "NAME" else "name"
    return Explanation(
        "PE101",
        site.context() + "values are set with `=`, not `:`",
        site.start,
        site.end,
        hint=f"write `{name} = …`",
    )


@_case("decimal-comma", _in_jurisdiction("rule_of_law = 0,72"))
def _decimal_comma(site: ErrorSite) -> Explanation | None:
    if site.found != "NUMBER" or not re.search(r"\d,\Z", site.text[: site.start]):
        return None
    m = re.search(r"[-\d.]+,\Z", site.text[: site.start])
    whole = _clip((m.group(0) if m else ",") + site.value)
    return Explanation(
        "PE101",
        site.context() + f"`{whole}` is not a number: decimals are written with a point",
        site.start - len(m.group(0)) if m else site.start,
        site.end,
        hint=f"write `{whole.replace(',', '.')}`",
    )


@_case(
    "missing-description",
    "principle encryption {\n}\n",
    "jurisdiction FR {\n    rule_of_law = 0.7\n}\n",
    'jurisdiction RU "Russia" {\n    demand keys {\n        kind = key_disclosure\n    }\n}\n',
    "test basics {\n}\n",
)
def _missing_description(site: ErrorSite) -> Explanation | None:
    if not _STRINGS & site.accepts or site.found in _STRINGS or not site.frames:
        return None
    f = site.frames[-1]
    if f.brace is not None or f.kind not in ("principle", "jurisdiction", "group", "demand", "test"):
        return None
    name = f.name or "NAME"
    what = {
        "principle": ("the statement of", f'principle {name} "We never …" {{'),
        "jurisdiction": ("the display name of", f'jurisdiction {name} "…" {{'),
        "group": ("the display name of", f'group {name} "…" {{'),
        "demand": ("the description of", f'demand {name} "Hand over …" {{'),
        "test": ("the name of", 'test "what it checks" {'),
    }[f.kind]
    subject = f.describe() or "a test"
    if f.kind == "test" and site.found == "NAME":
        message = f'a test\'s name is a quoted text: write `test "{site.value}"`'
    else:
        message = f"expected {what[0]} {subject} in quotes, found {_found(site)}"
    return Explanation("PE101", message, site.start, site.end, hint=f"write `{what[1]}`")


# -- declarations at the top level ----------------------------------------------------


@_case(
    "unknown-declaration",
    'principal p "Statement" {\n}\n',
    'country FR "France" {\n}\n',
)
def _unknown_declaration(site: ErrorSite) -> Explanation | None:
    if site.frames or not {"PRINCIPLE", "JURISDICTION"} <= site.accepts or site.found != "NAME":
        return None
    return Explanation(
        "PE101",
        f"{_shown(site.value)} does not start a declaration",
        site.start,
        site.end,
        hint=did_you_mean(site.value, _DECLARATIONS)
        or "a policy file is made of `principle`, `jurisdiction`, `group`, `vocabulary` and `test` declarations",
    )


@_case(
    "item-outside-its-block",
    'principle p "Statement" {\n}\n    rule r: comply when demand.mandatory because "x"\n',
    'demand keys "Hand over the keys" {\n    kind = key_disclosure\n}\n',
    "enum colour { red }\n",
)
def _misplaced_item(site: ErrorSite) -> Explanation | None:
    if site.frames:
        return None
    owner = {
        "RULE": "a `principle { … }`",
        "DEMAND": "a `jurisdiction` or `group`",
        "ENUM": "`vocabulary { … }`",
        "EXTEND": "`vocabulary { … }`",
        "ATTRIBUTE": "`vocabulary { … }`",
        "MARKET": "a `test { … }`",
    }.get(site.keyword)
    if owner is None:
        return None
    return Explanation(
        "PE101",
        f"`{site.value}` must be inside {owner}",
        site.start,
        site.end,
        hint="if it is, a `}` above closes the block too early",
    )


@_case("misspelled-item-keyword", _in_rule("").replace("rule r: ", 'rules r: comply when demand.mandatory because "x"'))
def _misspelled_item(site: ErrorSite) -> Explanation | None:
    if site.found != "NAME":
        return None
    for keyword, container in (("rule", "principle"), ("demand", "jurisdiction"), ("demand", "group")):
        if keyword.upper() in site.accepts and site.frames and site.frames[-1].kind == container:
            guess = did_you_mean(site.value, [keyword])
            if guess or site.text[site.end : site.end + 1] == ":":
                return Explanation(
                    "PE101",
                    site.context() + f"expected `{keyword}` or `}}`, found {_shown(site.value)}",
                    site.start,
                    site.end,
                    hint=guess or f"write `{keyword} {site.value}: …`",
                )
    if {"ENUM", "ATTRIBUTE"} <= site.accepts and (guess := did_you_mean(site.value, ["enum", "extend", "attribute"])):
        return Explanation(
            "PE101",
            site.context() + f"expected `enum`, `extend enum` or `attribute`, found {_shown(site.value)}",
            site.start,
            site.end,
            hint=guess,
        )
    return None


@_case("arrow", _in_test("RU.keys => withdraw"), _in_test("RU.keys withdraw"))
def _arrow(site: ErrorSite) -> Explanation | None:
    if "__ANON_0" not in site.accepts or site.found == "__ANON_0":
        return None
    return Explanation(
        "PE101",
        site.context() + f"expected `->` before the expected outcome, found {_found(site)}",
        site.start,
        site.end,
        hint=f"write `{_expectation_head(site)} -> withdraw` (or `comply`, `negotiate`)",
    )


def _expectation_head(site: ErrorSite) -> str:
    f = site.frame("expectation")
    if f is None:
        return "RU.demand"
    head = " ".join(site.text[f.start : site.start].split())
    return head if len(head) <= 60 else head[:59] + "…"


# -- the fallbacks ----------------------------------------------------------------------


def _generic(site: ErrorSite) -> Explanation:
    expected = describe_expected(site.accepts)
    if site.kind == "character":
        ch = site.value
        shown = ch if ch.isprintable() and not ch.isspace() else repr(ch)[1:-1]
        return Explanation("PE102", site.context() + f"unexpected character `{shown}`; expected {expected}", site.start, site.end)
    if site.kind == "end":
        start = max(0, site.start - 1)
        return Explanation(
            "PE103",
            site.context() + f"the file ends too early; expected {expected}",
            start,
            max(site.start, start + 1) if site.text else 0,
        )
    return Explanation("PE101", site.context() + f"expected {expected}, found {_shown(site.value)}", site.start, site.end)


def explain(site: ErrorSite) -> tuple[str, Explanation]:
    """The first case of :data:`ERROR_EXAMPLES` that recognises ``site``, or the generic message."""
    for case in ERROR_EXAMPLES:
        ex = case.explain(site)
        if ex is not None:
            if site.kind == "end" and ex.code == "PE101":
                # Whatever was missing, what the author meets is a file that stops short.
                ex = Explanation(**{**ex.__dict__, "code": "PE103"})
            return case.name, ex
    return "generic", _generic(site)


# ---------------------------------------------------------------------------
# Parsing with recovery.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ParseResult:
    """One parsed file.

    ``skipped`` names the declarations, rules, demands and vocabulary entries
    that error recovery had to skip: a later "no such rule" about one of
    them is an echo of the syntax error, not a second mistake.
    ``cases`` names the :data:`ERROR_EXAMPLES` entry behind each syntax
    diagnostic, in order (tests pin them).
    """

    file: ast.PolicyFile
    diagnostics: list[Diagnostic]
    skipped: frozenset[str] = frozenset()
    cases: tuple[str, ...] = ()


def parse(source: Source) -> tuple[ast.PolicyFile, list[Diagnostic]]:
    """Parse one file: the AST of everything readable and every problem found."""
    result = parse_file(source)
    return result.file, result.diagnostics


def _tokens(ip: Any) -> Iterator[Token]:
    """The tokens from the lexer's current position, read in the parser's current state."""
    tokens: Iterator[Token] = ip.lexer_thread.lex(ip.parser_state)
    return tokens


def _seek(ip: Any, source: Source, offset: int) -> None:
    """Move the lexer to ``offset`` (forwards or back)."""
    ctr = ip.lexer_thread.state.line_ctr
    line, col = source.line_col(offset)
    ctr.char_pos = offset
    ctr.line = line
    ctr.column = col
    ctr.line_start_pos = offset - col + 1


def _truncate(ip: Any, index: int) -> None:
    """Forget the value-stack entries from ``index`` on, with their parser states."""
    state = ip.parser_state
    del state.value_stack[index:]
    del state.state_stack[index + 1 :]


def _token_budget_exceeded(source: Source, offset: int) -> Diagnostic:
    return Diagnostic(
        "PE004",
        f"this file has more than {MAX_TOKENS:,} words and symbols; the rest is not read",
        Span(source, offset, offset + 1),
        hint="split the policy set into several files",
    )


@contextlib.contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Pause CPython's cycle collector while a file is parsed.

    A parse allocates hundreds of thousands of small objects (tokens, tree
    nodes, AST nodes) that stay alive until it ends and hold no reference
    cycles; the collector would walk the growing tree again and again for
    nothing, which costs about half the parse time (docs/language.md,
    "Limits").  Reference counting still frees everything as usual; the
    collector runs again afterwards.  Only the call that paused it resumes
    it, so concurrent parses in several threads are safe."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def parse_file(source: Source) -> ParseResult:
    """Parse one file, recovering from syntax errors so every mistake is reported once."""
    with _without_cycle_collection():
        return _parse_file(source)


def _parse_file(source: Source) -> ParseResult:
    text = source.text
    ip = get_parser().parse_interactive(text)
    state = ip.parser_state
    diagnostics: list[Diagnostic] = []
    cases: list[str] = []
    skipped: set[str] = set()
    tree: Tree[Token] | None = None
    tokens = 0
    keywords = _keyword_terminals()
    last: Token | None = None
    last_error = -1
    while tree is None:
        try:
            for tok in _tokens(ip):
                tokens += 1
                if tokens > MAX_TOKENS:
                    diagnostics.append(_token_budget_exceeded(source, tok.start_pos or 0))
                    open_at = next((e.start_pos for e in state.value_stack if isinstance(e, Token)), tok.start_pos)
                    skipped |= _declared_names(text[open_at or 0 :])
                    tree = _finish(ip)
                    break
                if tok.type in keywords and text[tok.end_pos or 0 : (tok.end_pos or 0) + 1] in _WORD_CHARS:
                    raise _glued(tok, text)
                state.feed_token(tok)
                last = tok
            else:
                end = Token.new_borrow_pos("$END", "", last) if last is not None else Token("$END", "", 0, 1, 1)
                tree = state.feed_token(end, True)
        except UnexpectedInput as err:
            site = _site(err, ip, source)
            if site.start <= last_error and site.kind != "end":
                # Recovery made no headway (it should always skip past the
                # error): end the parse rather than report the same place twice.
                tree = _finish(ip)
                break
            last_error = site.start
            try:
                name, ex = explain(site)
            except Exception:  # a bug in a case must cost a good message, not the run
                name, ex = "generic", _generic(site)
            cases.append(name)
            diagnostics.append(Diagnostic(ex.code, ex.message, Span(source, ex.start, ex.end), ex.hint, ex.label))
            if len(cases) >= MAX_SYNTAX_ERRORS:
                skipped |= _declared_names(text[site.start :])
                tree = _finish(ip)
                break
            try:
                resume = _recover(ip, site, ex, skipped)
            except Exception:  # a bug in recovery must cost the rest of the file, not the run
                resume = None
            if resume is None:
                tree = _finish(ip)
            else:
                _seek(ip, source, resume)
    result: ast.PolicyFile | None = None
    if tree is not None:
        built = build(tree, source)
        result = built.file
        diagnostics.extend(built.diagnostics)
        skipped |= built.skipped
    if result is None:
        result = ast.PolicyFile(source.path, (), Span(source, 0, len(text)))
    return ParseResult(result, diagnostics, frozenset(skipped), tuple(cases))


_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


@functools.lru_cache(maxsize=1)
def _keyword_terminals() -> frozenset[str]:
    """Terminals that are words (``RULE``, ``COMPLY``, …)."""
    return frozenset(t.name for t in get_parser().terminals if t.pattern.type == "str" and str(t.pattern.value).isidentifier())


def _glued(tok: Token, text: str) -> UnexpectedToken:
    """The error for a keyword read as the start of a longer word.

    Where the grammar does not allow a name, the contextual lexer matches a
    keyword even when it is only the start of a word: `rules` would be read
    as `rule` + `s`, and `whendemand.x` as `when demand.x`.  Here the whole
    word is the unexpected token, as an author would read it."""
    start = tok.start_pos or 0
    m = _WORD.match(text, start)
    end = m.end() if m else (tok.end_pos or start)
    word = Token("NAME", text[start:end], start_pos=start, end_pos=end, line=tok.line, column=tok.column)
    return UnexpectedToken(word, set())  # type: ignore[no-untyped-call]


def _finish(ip: Any) -> Tree[Token] | None:
    """End the parse here: drop whatever is still open and feed the end of the file."""
    stack = ip.parser_state.value_stack
    first_open = next((i for i, v in enumerate(stack) if isinstance(v, Token)), len(stack))
    _truncate(ip, first_open)
    try:
        result: Tree[Token] = ip.feed_token(Token("$END", "", 0, 1, 1))
        return result
    except UnexpectedInput:  # pragma: no cover - the top level always accepts the end
        return None


def _next_top(text: str, start: int) -> int | None:
    m = _TOP_LEVEL.search(text, start)
    return m.start(1) if m else None


def _recover(ip: Any, site: ErrorSite, ex: Explanation, skipped: set[str]) -> int | None:
    """Put the parser back on its feet after ``site``; return where to go on lexing, or None to stop."""
    text = site.text
    stack_len = len(ip.parser_state.value_stack)
    if ex.repair_at is not None and site.kind == "token":
        # A missing `}`: give the parser the `}` it lacked, then re-read the keyword.
        if ex.repair_drop:
            _truncate(ip, stack_len - ex.repair_drop)
        if "RBRACE" in ip.accepts():  # feeding a token the state refuses would corrupt it
            closer = Token("RBRACE", "}", ex.repair_at, *site.source.line_col(ex.repair_at), end_pos=ex.repair_at)
            ip.feed_token(closer)
            return ex.repair_resume
    if site.kind == "end":
        if site.frames:
            skipped |= _declared_names(text[site.frames[0].start :])
        return None
    if site.keyword not in _TOP_KEYWORDS and _parses_without(ip, site):
        # A stray token (a doubled `and`, `==` for `=`, a second `{`): what
        # follows it parses, so only the token itself is skipped.
        return site.end
    top = _next_top(text, site.start + (0 if site.keyword in _TOP_KEYWORDS else 1))
    if not site.frames:
        # Nothing open: skip the stray text up to the next declaration.
        skipped |= _declared_names(text[site.start : top])
        return top if top is not None else len(text)
    container = site.frames[0]
    item = site.frames[1] if len(site.frames) > 1 else None
    inside = container.brace is not None and container.brace < site.start
    siblings = _SIBLINGS.get(container.kind)
    if item is not None and item.kind == "assignment" and len(site.frames) == 2:
        siblings = _NEXT_ASSIGNMENT
    if siblings is not None and (item is not None or inside):
        item_start = item.start if item is not None else site.start
        item_index = item.index if item is not None else stack_len
        search_from = max(site.line_start(site.start), item_start + 1) if item is not None else site.end
        # Blocks the broken item has opened (a demand's body, say) and not
        # closed yet; a set of values is not counted: an unclosed one is
        # usually the mistake, and sets do not span lines.
        opened = sum(1 for f in site.frames[1:] if f.is_open and (f.kind != "set" or _set_closes(site)))
        innermost = site.frames[-1]
        # (A test line may have no braces at all: only demands and enumerations count.)
        in_header = item is not None and innermost.brace is None and innermost.kind in ("demand", "enum")
        if site.found != "LBRACE" and in_header and "LBRACE" in site.accepts and not _brace_later_on_line(site):
            opened += 1  # the body of the item follows, without its `{`
        _truncate(ip, item_index)
        limit = top if top is not None else len(text)
        resume = _resume_point(text, site.start, opened, siblings, search_from, limit)
        skipped |= _declared_names(text[item_start:resume])
        return resume
    # A broken header: drop the whole declaration.
    _truncate(ip, container.index)
    end = top if top is not None else len(text)
    skipped |= _declared_names(text[container.start : end])
    return end


def _rest_of_line(site: ErrorSite) -> str:
    """The code after the error on its line, texts and comments taken out."""
    line_end = site.text.find("\n", site.start)
    rest = site.text[site.start : len(site.text) if line_end == -1 else line_end]
    return re.sub(r'"(?:[^"\\\n]|\\.)*"?|#.*', "", rest)


def _brace_later_on_line(site: ErrorSite) -> bool:
    return "{" in _rest_of_line(site)


def _set_closes(site: ErrorSite) -> bool:
    """Whether the set of values open at the error is closed later on its line
    (an unclosed set is usually the mistake itself, and sets do not span lines)."""
    return "}" in _rest_of_line(site)


#: What moves the brace depth while skipping: texts and comments (whose braces
#: do not count), and braces.
_BRACES = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*(?:"""|\Z)|"(?:[^"\\\n]|\\.)*"?|#[^\n]*|[{}]')


def _resume_point(text: str, start: int, opened: int, siblings: re.Pattern[str], search_from: int, limit: int) -> int:
    """Where to go on after a broken item: the next sibling at the depth of the
    container's body, or the `}` that closes the container, or ``limit``.

    Braces are counted from the error on (``opened`` of them are open), so a
    block inside the broken item (a demand whose keyword is missing, say) is
    skipped whole instead of being read as items of the container."""
    candidates = [m.start(1) for m in siblings.finditer(text, search_from, limit)]
    depth = opened
    pos = start
    for m in _BRACES.finditer(text, start, limit):
        while candidates and candidates[0] < m.start():
            if candidates[0] >= pos and depth == 0:
                return candidates[0]
            candidates.pop(0)
        if m.group() == "{":
            depth += 1
        elif m.group() == "}":
            depth -= 1
            if depth < 0:
                return m.start()
        pos = m.end()
    while candidates:
        if candidates[0] >= pos and depth == 0:
            return candidates[0]
        candidates.pop(0)
    return limit


#: Tokens after a stray one that must parse for it to be skipped alone.
_LOOKAHEAD = 6


def _parses_without(ip: Any, site: ErrorSite) -> bool:
    """Whether the next few tokens parse once the unexpected token is left out.

    Tried on a copy of the parser without tree building (so nothing the real
    parse holds is touched); the copy's lexer starts after the token."""
    trial = ip.copy(deepcopy_values=False)
    conf = copy.copy(trial.parser_state.parse_conf)
    conf.callbacks = {}
    trial.parser_state.parse_conf = conf
    _seek(trial, site.source, site.end)
    fed = 0
    try:
        for tok in _tokens(trial):
            trial.parser_state.feed_token(tok)
            fed += 1
            if fed >= _LOOKAHEAD:
                return True
        trial.parser_state.feed_token(Token("$END", "", 0, 1, 1), True)
        return True
    except (UnexpectedInput, AssertionError):
        return False


def _declared_names(text: str) -> set[str]:
    """Names that skipped text declares (``rule no_keys``, ``jurisdiction RU``, …).

    In a skipped vocabulary every word counts, since enumeration values are
    declared by appearing there."""
    names = {a or b for a, b in _NAMES_DECLARED.findall(text)}
    if re.search(r"\b(?:vocabulary|enum)\b", text):
        names |= set(_WORD.findall(text)) - KEYWORDS
    return names
