"""Policy source → its canonical layout, with every comment kept.

Stage contract: :func:`format_source` takes a :class:`~policyengine.source.Source`
and returns ``(text, diagnostics)``: the formatted text and no diagnostics, or
``None`` and the syntax errors (PE1xx) when the file does not parse, in which
case nothing should be written.  It never raises on author input.  Two
promises hold for every file that parses, and both are checked on every call
(a broken promise raises :class:`FormatterBug`, so a caller writes nothing):

* meaning is kept: the output parses to a syntax tree equal to the input's
  (:mod:`policyengine.ast` equality ignores spans), and carries the same
  comments;
* the layout is a fixed point: formatting the output again changes nothing.

How comments are seen: the grammar ignores them, and the only way to see
them while parsing with the same contextual lexer is a lexer callback.
Callbacks are fixed when a parser is built, so the formatter asks the
parser module's one factory for the variant with a comment callback
(``get_parser(on_comment=…)``: the same grammar, tables and options, so
:func:`~.transform.to_ast` reads its trees as it reads the shared parser's).
The callback writes into a :class:`~contextvars.ContextVar` that each call
binds to a fresh list, which makes concurrent calls safe; the shared parser
stays free of per-parse state.

The layout itself, what the output looks like, is :mod:`.layout`; this
module is the contract around it (parse, lay out, verify).
"""

from __future__ import annotations

import contextvars

from lark import Token, Tree, UnexpectedInput

from ..errors import PolicyEngineError
from . import ast
from .diagnostics import Diagnostic, PolicyError
from .layout import lay_out
from .parser import get_parser, parse
from .source import Source
from .transform import to_ast

_sink: contextvars.ContextVar[list[Token] | None] = contextvars.ContextVar("policyengine_format_comments", default=None)


class FormatterBug(PolicyEngineError):
    """The formatter produced text that would change a file's meaning or is not stable.

    This is a bug in the formatter, never the author's fault; whoever catches it
    must leave the file as it was.
    """

    code = "formatter-bug"


def _collect(tok: Token) -> Token:
    sink = _sink.get()
    if sink is not None:
        sink.append(tok)
    return tok


def _parse(text: str) -> tuple[Tree[Token], list[Token]]:
    """Parse with the comment-keeping parser; return the tree and the comment tokens, in order."""
    found: list[Token] = []
    reset = _sink.set(found)
    try:
        tree = get_parser(on_comment=_collect).parse(text)
    finally:
        _sink.reset(reset)
    return tree, found


def _syntax_errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.is_error and d.code.startswith("PE1")]


def format_source(source: Source) -> tuple[str | None, list[Diagnostic]]:
    """Format one file: ``(text, [])``, or ``(None, syntax errors)`` when it does not parse.

    Raises :class:`FormatterBug` (and only that) if the result would not keep
    the file's meaning or would change again when formatted.
    """
    try:
        tree, comment_tokens = _parse(source.text)
    except UnexpectedInput:
        # `parse` reports every syntax error of the file, in the author's
        # words, with recovery; the plain parse only needs to know it failed.
        _, diagnostics = parse(source)
        errors = _syntax_errors(diagnostics)
        if not errors:
            raise FormatterBug(f"{source.path}: the formatter's parser rejects a file the shared parser accepts") from None
        return None, errors
    before, diagnostics = to_ast(tree, source)
    errors = _syntax_errors(diagnostics)
    if before is None or errors:
        return None, errors
    formatted = lay_out(source.text, tree, comment_tokens)
    _verify(source, before, comment_tokens, formatted)
    return formatted, []


def _verify(source: Source, before: ast.PolicyFile, comment_tokens: list[Token], formatted: str) -> None:
    """Check the promises of this module on the result; raise :class:`FormatterBug` if one fails."""
    result = Source(source.path, formatted)
    try:
        tree, comments_after = _parse(formatted)
    except UnexpectedInput as err:
        raise FormatterBug(f"{source.path}: the formatted text does not parse ({type(err).__name__})") from None
    after, _ = to_ast(tree, result)
    if after != before:
        raise FormatterBug(f"{source.path}: formatting would change the meaning of the file")
    if sorted(str(c).rstrip() for c in comments_after) != sorted(str(c).rstrip() for c in comment_tokens):
        raise FormatterBug(f"{source.path}: formatting would lose or alter a comment")
    if lay_out(formatted, tree, comments_after) != formatted:
        raise FormatterBug(f"{source.path}: formatting is not stable (a second run would change the file again)")


def format_text(text: str, path: str = "<text>") -> str:
    """Format policy text; raise :class:`~policyengine.diagnostics.PolicyError` on syntax errors."""
    formatted, diagnostics = format_source(Source(path, text.replace("\r\n", "\n").replace("\r", "\n")))
    if formatted is None:
        raise PolicyError(diagnostics)
    return formatted
