"""Policy source → AST, with syntax errors as diagnostics.

Stage contract: :func:`parse` takes a :class:`~policyengine.source.Source` and
returns ``(PolicyFile, diagnostics)``; it never raises on author input.  This
is the only module that sees Lark's exceptions: each is translated into a
diagnostic whose message says, in an author's words, what was expected.

After a syntax error the parser recovers at the next top-level declaration
(a line starting with ``principle``, ``jurisdiction``, ``group``,
``vocabulary`` or ``test``), so one run reports the errors of every
declaration, not only the first.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from lark import Lark, Token, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import ast
from .diagnostics import Diagnostic, did_you_mean
from .source import Source, Span
from .transform import to_ast

#: How many syntax errors one file may report before we stop recovering.
MAX_SYNTAX_ERRORS = 20

_TOP_LEVEL = re.compile(r"^[ \t]*(principle|jurisdiction|group|vocabulary|test)\b", re.MULTILINE)
_OUTCOMES = ("comply", "negotiate", "withdraw")
_DECLARATIONS = ("vocabulary", "principle", "jurisdiction", "group", "test")


@functools.lru_cache(maxsize=1)
def get_parser() -> Lark:
    """The one LALR parser, built on first use and shared (it holds no per-parse state)."""
    grammar = resources.files("policyengine").joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False, cache=False)


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


def _describe_expected(expected: set[str]) -> str:
    words = _terminal_words()
    names = {words.get(e, e) for e in expected}
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
    if "`demand`" in names and "`jurisdiction`" in names and "a name" not in names:
        names -= {"`demand`", "`jurisdiction`"}
        parts.append("an attribute such as `demand.kind` or `jurisdiction.rule_of_law`")
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


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the file"
    text = str(tok)
    if len(text) > 30:
        text = text[:27] + "…"
    return f"`{text}`"


def _syntax_diagnostic(err: UnexpectedInput, source: Source) -> Diagnostic:
    text = source.text
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream
        ch = text[pos] if pos < len(text) else ""
        if ch == '"':
            line_end = text.find("\n", pos)
            end = len(text) if line_end == -1 else line_end
            triple = text.startswith('"""', pos)
            return Diagnostic(
                "PE104",
                "this text has no closing quote" if not triple else 'this `"""` text is never closed',
                Span(source, pos, max(end, pos + 1)),
                hint='close it with `"` on the same line, or use `"""…"""` for text over several lines'
                if not triple
                else 'close it with `"""`',
            )
        expected = _describe_expected(set(err.allowed or ()))
        shown = repr(ch)[1:-1] if not ch.isprintable() or ch.isspace() else ch
        hint = None
        if ch in "'‘’“”":
            hint = 'texts use straight double quotes: "like this"'
        return Diagnostic(
            "PE102",
            f"unexpected character `{shown}`; expected {expected}",
            Span(source, pos, pos + 1),
            hint=hint,
        )
    assert isinstance(err, UnexpectedToken)
    tok = err.token
    expected = _accepted(err)
    if tok.type == "$END":
        end = len(text.rstrip())
        start = max(0, end - 1)
        return Diagnostic(
            "PE103",
            f"the file ends too early; expected {_describe_expected(expected)}",
            Span(source, start, max(end, start + 1) if text else 0),
            hint="a `{` may be missing its `}`" if "RBRACE" in expected else None,
        )
    start = tok.start_pos or 0
    end = tok.end_pos if tok.end_pos is not None else start + len(str(tok))
    hint = None
    if tok.type == "NAME":
        if {"COMPLY", "NEGOTIATE", "WITHDRAW"} <= expected:
            hint = did_you_mean(str(tok), _OUTCOMES)
        elif "VOCABULARY" in expected and "PRINCIPLE" in expected:
            hint = did_you_mean(str(tok), _DECLARATIONS)
    if hint is None and tok.type == "RBRACE" and "BECAUSE" in expected:
        hint = 'every rule ends with `because "…"`, the reason given to the authority'
    if hint is None and tok.type == "NAME" and "BECAUSE" in expected:
        hint = "join conditions with `and` or `or`; the rule then ends with `because \"…\"`"
    return Diagnostic(
        "PE101",
        f"expected {_describe_expected(expected)}, found {_describe_token(tok)}",
        Span(source, start, max(end, start + 1)),
        hint=hint,
    )


def _accepted(err: UnexpectedToken) -> set[str]:
    """The tokens that could really come next.

    ``err.expected`` lists the look-aheads of a merged LALR state, which can
    include tokens that would fail one reduction later; simulating each token on
    a copy of the parser state gives the honest list.
    """
    try:
        if err.interactive_parser is not None:
            accepted = set(err.interactive_parser.accepts())
            if accepted:
                return accepted
    except Exception:  # noqa: BLE001 - fall back to Lark's own list
        pass
    return set(err.expected or ())


def _error_offset(err: UnexpectedInput) -> int:
    if isinstance(err, UnexpectedToken):
        if err.token.type == "$END":
            return -1
        return err.token.start_pos or 0
    return err.pos_in_stream or 0


def _blank(text: str, start: int, end: int) -> str:
    """Replace ``text[start:end]`` by spaces, keeping newlines so offsets and lines stay put."""
    chunk = re.sub(r"[^\n]", " ", text[start:end])
    return text[:start] + chunk + text[end:]


def parse(source: Source) -> tuple[ast.PolicyFile, list[Diagnostic]]:
    """Parse one file.  On syntax errors, recover per declaration and keep going."""
    parser = get_parser()
    text = source.text
    diagnostics: list[Diagnostic] = []
    for _ in range(MAX_SYNTAX_ERRORS + 1):
        try:
            tree = parser.parse(text)
        except UnexpectedInput as err:
            diagnostics.append(_syntax_diagnostic(err, source))
            offset = _error_offset(err)
            if len(diagnostics) > MAX_SYNTAX_ERRORS:
                break
            if offset < 0:
                offset = len(text.rstrip()) - 1
            # Blank the declaration that holds the error, from its keyword up to
            # the next declaration keyword, and parse the file again.
            starts = [m.start(1) for m in _TOP_LEVEL.finditer(text)]
            before = [s for s in starts if s <= offset]
            after = [s for s in starts if s > offset]
            lo = before[-1] if before else 0
            hi = after[0] if after else len(text)
            if lo == hi or not text[lo:hi].strip():
                break
            text = _blank(text, lo, hi)
            continue
        except RecursionError:  # pragma: no cover - the LALR parser is iterative
            diagnostics.append(Diagnostic("PE105", "this file is nested too deeply to read", Span(source, 0, 1)))
            break
        result, more = to_ast(tree, source)
        diagnostics.extend(more)
        if result is not None:
            return result, diagnostics
        break
    return ast.PolicyFile(source.path, (), Span(source, 0, len(source.text))), diagnostics
