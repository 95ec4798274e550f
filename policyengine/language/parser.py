"""Policy source → AST, with syntax errors as diagnostics.

Stage contract: :func:`parse` takes a :class:`~policyengine.source.Source` and
returns ``(PolicyFile, diagnostics)``; :func:`parse_file` returns the same plus
what error recovery had to skip.  Neither raises on author input.  This is the
only module that sees Lark's exceptions: each becomes an
:class:`~.error_site.ErrorSite`, which the catalogue in :mod:`.syntax_errors`
words in an author's terms, never in Lark's terminal names.

The parser is built once per release, not once per process.  Building
Lark's LALR tables from grammar.lark takes some 50 ms, and with
``interegular`` installed (the dev extra) Lark also proves, on every build,
that no two terminals can match the same text: nearly four times as long
(docs/performance.md).  So :func:`get_parser` loads the tables from
``parser_table.json``, shipped beside the grammar: Lark's own data-only
``serialize()`` form written as JSON, keyed by the SHA-256 of the grammar
text, Lark's version and the options.  Nothing in it is executed: JSON gives
plain data, and Lark turns it back into rules, terminals and tables.  It is
read only from the package directory (as trusted as this code), never from a
user's cache folder, where anyone who can write into a checked-out tree
could change how policies parse.  The collision check is the test suite's
job (tests/test_grammar.py builds the grammar with ``strict=True``), and it
fails while the shipped table is stale; regenerate it with
``python -m policyengine.language.parser``.  When the table is missing or
stale (another Lark version, an edited grammar), the tables are computed in
memory, the same way: without building our lexer, so without checking it
(Lark still checks its own grammar of grammars when interegular is there).

How the parser recovers.  One run must report every mistake, once.  Lark's
interactive LALR parser lets us cut the value and state stacks back to the
start of the broken construct and go on lexing further on, so recovery
costs nothing extra: the file is lexed and parsed once, whatever the number
of errors (once more than the fast path of :mod:`.fastparse` read of it
before it gave up at the first error; a clean file is read by that path
alone).  In order of preference:

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
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import lark
from lark import Lark, Token, Tree, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.grammar import Rule
from lark.lexer import Lexer, TerminalDef

from . import ast
from .diagnostics import Diagnostic
from .error_site import TOP_KEYWORDS, ErrorSite, Explanation, clip, read_frames
from .fastparse import FastParser, fast_parser
from .grammar import GRAMMAR, KEYWORDS
from .source import Source, Span
from .syntax_errors import explain, generic
from .transform import build

__all__ = ["KEYWORDS", "MAX_SYNTAX_ERRORS", "MAX_TOKENS", "ParseResult", "get_parser", "parse", "parse_file", "spelling"]

#: Most syntax errors reported for one file; past this the rest of the file is
#: skipped (by then the author has enough to fix, and the output stays short).
MAX_SYNTAX_ERRORS = 20
#: Most tokens (words, numbers, texts, symbols) in one file.  The parser reads
#: about 240,000 tokens a second on a clean file and half that on one with an
#: error (docs/language.md, "Limits"); real policy text
#: has about 110 tokens a kilobyte, so a file at the 1 MiB limit of the loader
#: has ~116,000.  The cap bounds what a hostile file of one-character tokens
#: can cost to under two seconds, and the memory of its parse tree.
MAX_TOKENS = 150_000

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


# ---------------------------------------------------------------------------
# The one parser, and the table it is loaded from.
# ---------------------------------------------------------------------------

#: How every user of the grammar parses (the formatter adds only a lexer
#: callback, which Lark takes at load time).  Node positions come from
#: `_positioned` instead of Lark's ``propagate_positions`` (see `_Position`);
#: ``strict`` is for the test suite (see the module docstring).
_OPTIONS: dict[str, Any] = {"parser": "lalr", "lexer": "contextual", "propagate_positions": False, "maybe_placeholders": False}
_TABLE = "parser_table.json"
#: The version of the file's layout (the tagging of tuples and non-text keys below).
_TABLE_FORMAT = 1


def table_key() -> dict[str, Any]:
    """What a table must have been built from to be used: this grammar, this Lark and these options."""
    return {
        "format": _TABLE_FORMAT,
        "grammar_sha256": hashlib.sha256(GRAMMAR.encode("utf-8")).hexdigest(),
        "lark": lark.__version__,
        "options": _OPTIONS,
    }


class _NoLexer(Lexer):
    """Stands in for Lark's lexer while the tables are computed.

    Lark builds its lexer, and with ``interegular`` installed checks every
    pair of terminals for collisions, only when it has a lexer to build; the
    contextual lexer is built from the tables when they are loaded, with
    validation off, as for any serialized parser."""

    def __init__(self, conf: Any) -> None:
        pass

    def lex(self, lexer_state: Any, parser_state: Any) -> Iterator[Token]:  # pragma: no cover - never lexes
        raise NotImplementedError


def compute_table() -> tuple[dict[str, Any], dict[str, Any]]:
    """Lark's data-only form of the parser (``data, memo``), computed from the grammar: what the table file holds."""
    built = Lark(GRAMMAR, **{**_OPTIONS, "lexer": _NoLexer})
    data, memo = built.memo_serialize([TerminalDef, Rule])
    data["options"]["lexer"] = data["parser"]["lexer_conf"]["lexer_type"] = _OPTIONS["lexer"]
    data["parser"]["parser"] = _canonical(data["parser"]["parser"])
    return data, memo


def _canonical(table: dict[str, Any]) -> dict[str, Any]:
    """The serialized LALR table with its states and symbols numbered in one fixed way.

    Lark numbers them in the order of its sets, which changes with Python's
    hash seed: the same grammar would give a different file (and a stale
    test) from run to run.  Here symbols are numbered in name order and
    states in the order a breadth-first walk from the start states meets
    them, following each state's transitions in symbol order."""
    names: dict[int, str] = table["tokens"]
    symbols = sorted(set(names.values()))
    number = {name: i for i, name in enumerate(symbols)}
    states: dict[int, dict[int, Any]] = table["states"]
    renumbered: dict[int, int] = {}
    queue = [s for _, s in sorted(table["start_states"].items())]
    while queue:
        state = queue.pop(0)
        if state in renumbered:
            continue
        renumbered[state] = len(renumbered)
        for _symbol, (action, arg) in sorted(states[state].items(), key=lambda item: names[item[0]]):
            if action == 0:  # a shift (or a goto): `arg` is the next state
                queue.append(arg)
    if len(renumbered) != len(states):  # pragma: no cover - every LALR state is reached from a start state
        raise AssertionError("the parse table has unreachable states")
    new_states = {}
    for old, new in sorted(renumbered.items(), key=lambda item: item[1]):
        actions = sorted(states[old].items(), key=lambda item: names[item[0]])
        new_states[new] = {
            number[names[token]]: (action, renumbered[arg] if action == 0 else arg) for token, (action, arg) in actions
        }
    return {
        "tokens": dict(enumerate(symbols)),
        "states": new_states,
        "start_states": {k: renumbered[v] for k, v in table["start_states"].items()},
        "end_states": {k: renumbered[v] for k, v in table["end_states"].items()},
    }


def _encode(value: Any) -> Any:
    """Lark's serialized form as JSON: tuples and dicts with keys other than texts
    (parser states are numbered) are tagged, so they come back as they went in."""
    if isinstance(value, dict):
        if all(type(k) is str for k in value) and not {"$tuple", "$items"} & value.keys():
            return {k: _encode(v) for k, v in value.items()}
        return {"$items": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if value is None or type(value) in (str, int, float, bool):
        return value
    raise TypeError(f"cannot write {type(value).__name__} into the parser table")


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$tuple" in obj:
        return tuple(obj["$tuple"])
    if len(obj) == 1 and "$items" in obj:
        return {k: v for k, v in obj["$items"]}
    return obj


def read_table(text: str) -> dict[str, Any]:
    """A table file's content: ``key`` (see :func:`table_key`), ``data`` and ``memo``.  Raises ValueError if it is not one."""
    table = json.loads(text, object_hook=_decode)
    if not isinstance(table, dict) or not {"key", "data", "memo"} <= table.keys():
        raise ValueError("not a parser table")
    return table


def write_table(path: Path | None = None) -> Path:
    """Compute the table and write it (by default into the package, beside the grammar); return where."""
    target = path or Path(__file__).with_name(_TABLE)
    data, memo = compute_table()
    text = json.dumps({"key": table_key(), "data": _encode(data), "memo": _encode(memo)}, separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".parser_table.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        os.chmod(tmp, 0o644)  # package data, readable by whoever runs the package
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
    return target


@functools.lru_cache(maxsize=1)
def _table() -> tuple[dict[str, Any], dict[str, Any]]:
    """The shipped table when it was built from what is installed; else one computed now."""
    try:
        table = read_table(resources.files(__package__).joinpath(_TABLE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        table = None
    if table is not None and table["key"] == table_key():
        return table["data"], table["memo"]
    return compute_table()


@functools.lru_cache(maxsize=2)
def get_parser(on_comment: Callable[[Token], Token] | None = None) -> Lark:
    """The one LALR parser, loaded on first use and shared: it holds no per-parse state.

    ``on_comment`` is called with every comment token (the formatter keeps
    comments this way); it is the only thing a caller may choose, so every
    user of the grammar parses alike.  Each choice gets its own parser,
    since Lark fixes lexer callbacks when it builds a lexer.
    """
    data, memo = _table()
    # The loader Lark's standalone parsers use: data in, no pickle.
    callbacks_by_terminal = {"COMMENT": on_comment} if on_comment else {}
    parser: Lark = Lark._load_from_dict(data, memo, lexer_callbacks=callbacks_by_terminal)  # type: ignore[no-untyped-call]
    # The tree-building callback of every grammar rule, used by `parse` and
    # `parse_interactive` alike; each gets the node positions Lark's
    # `propagate_positions` would give it (see `_Position`).
    callbacks: dict[Any, Callable[[list[Any]], Any]] = parser.parser.parser.parser.callbacks
    for rule, callback in callbacks.items():
        callbacks[rule] = _positioned(callback)
    return parser


@functools.lru_cache(maxsize=1)
def spelling() -> dict[str, str]:
    """Terminal name → its text, for the terminals that are fixed strings (``RULE`` → ``rule``, ``LBRACE`` → ``{``)."""
    return {t.name: str(t.pattern.value) for t in get_parser().terminals if t.pattern.type == "str"}


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
# The situation at a syntax error.
# ---------------------------------------------------------------------------


def _site(err: UnexpectedInput, ip: Any, source: Source) -> ErrorSite:
    """What the parser saw at ``err``, for :func:`~.syntax_errors.explain`."""
    text = source.text
    stack = list(ip.parser_state.value_stack)
    try:
        accepts = frozenset(ip.accepts())
    except Exception:  # Lark's own list is the fallback
        accepts = frozenset(getattr(err, "expected", None) or getattr(err, "allowed", None) or ())
    frames = read_frames(stack)
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream or 0
        ch = text[pos] if pos < len(text) else ""
        return ErrorSite(source, "character", pos, pos + 1, "", ch, accepts, frames, stack, spelling())
    tok = err.token if isinstance(err, UnexpectedToken) else None
    if tok is None or tok.type == "$END":
        end = len(text.rstrip())
        return ErrorSite(source, "end", end, end, "$END", "", accepts, frames, stack, spelling())
    start = tok.start_pos or 0
    end = tok.end_pos if tok.end_pos is not None else start + len(str(tok))
    # The token as quoted in messages: a name of 10,000 characters is clipped.
    return ErrorSite(source, "token", start, max(end, start + 1), tok.type, clip(str(tok)), accepts, frames, stack, spelling())


# ---------------------------------------------------------------------------
# Parsing with recovery.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ParseResult:
    """One parsed file.

    ``skipped`` names the declarations, rules, demands and vocabulary entries
    that error recovery had to skip: a later "no such rule" about one of
    them is an echo of the syntax error, not a second mistake.
    ``cases`` names the :data:`~.syntax_errors.ERROR_EXAMPLES` entry behind each syntax
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
    """Parse one file, recovering from syntax errors so every mistake is reported once.

    A file without a problem takes the fast path (:mod:`.fastparse`: the
    same lexer and table, no parse tree); at its first sign of a problem
    the file is parsed again from the start by the path below, which alone
    words diagnostics and recovers, so they are the same either way."""
    with _without_cycle_collection():
        fast = _fast_parser()
        if fast is not None:
            file = fast.parse(source, _keyword_terminals(), MAX_TOKENS)
            if file is not None:
                return ParseResult(file, [])
        return _parse_file(source)


@functools.lru_cache(maxsize=1)
def _fast_parser() -> FastParser | None:
    return fast_parser(get_parser())


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
                name, ex = "generic", generic(site)
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
    return frozenset(name for name, text in spelling().items() if text.isidentifier())


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
    if site.keyword not in TOP_KEYWORDS and _parses_without(ip, site):
        # A stray token (a doubled `and`, `==` for `=`, a second `{`): what
        # follows it parses, so only the token itself is skipped.
        return site.end
    top = _next_top(text, site.start + (0 if site.keyword in TOP_KEYWORDS else 1))
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


if __name__ == "__main__":
    print(f"wrote {write_table()}")
