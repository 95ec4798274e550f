"""Syntax highlighting of the policy language: a Pygments lexer and rich text.

Stage contract: :class:`PolicyLexer` turns policy text into Pygments tokens
and never raises (text it cannot place becomes ``Error`` tokens, as with any
Pygments lexer); :func:`highlight_lines` turns lines of policy text into
styled :class:`rich.text.Text` for a terminal.  Nothing from a policy file is
ever read as rich markup: every piece is appended as plain text, after
:func:`~policyengine.language.text.safe` has escaped control characters.

The lexer is registered under the ``pygments.lexers`` entry point (aliases
``policy`` and ``policyengine``, files ``*.policy``), so once the package is
installed, ``pygmentize -l policy``, Sphinx and MkDocs highlight policy
excerpts too.  Pygments is a declared dependency (rich needs it anyway).

The lexer takes its words from grammar.lark (through :mod:`.grammar`, which
reads them without importing Lark) but is deliberately more forgiving than
the parser: it colours what it recognises and keeps going, because it is
used on excerpts (a rule as written, a line of a diagnostic) and on
half-typed text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, ClassVar

from pygments.lexer import RegexLexer, bygroups, include, words
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Literal,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Token,
    Whitespace,
    _TokenType,
)

from .grammar import KEYWORDS, OUTCOMES, words_of

if TYPE_CHECKING:
    from rich.text import Text

#: The token type of `comply`, `negotiate` and `withdraw`: a kind of keyword
#: (styles that do not know it colour it as one), told apart so that
#: renderers can colour each outcome as decisions are coloured.
Outcome = Keyword.Outcome

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NUMBER = r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
# The words come from the grammar (policyengine/language/grammar.py reads
# them without building a parser); only the colour classes are chosen here.
# Every keyword the grammar gains is coloured as a keyword at least.
_DECLARATION_WORDS = ("vocabulary", "attribute", "test", "enum", "extend")
_CONSTANT_WORDS = words_of("scalar")  # true, false, unknown
_PSEUDO_WORDS = ("default",)
_KEYWORDS = tuple(sorted(KEYWORDS - {*_DECLARATION_WORDS, *OUTCOMES, *_CONSTANT_WORDS, *_PSEUDO_WORDS}))


class PolicyLexer(RegexLexer):  # type: ignore[misc]  # Pygments ships no type information
    """Pygments lexer for ``.policy`` files."""

    name = "Policy"
    aliases: ClassVar[list[str]] = ["policy", "policyengine"]
    filenames: ClassVar[list[str]] = ["*.policy"]
    mimetypes: ClassVar[list[str]] = ["text/x-policy"]
    url = "https://github.com/policyengine/policyengine"

    tokens: ClassVar[dict[str, list[object]]] = {
        "root": [
            (r"\s+", Whitespace),
            (r"#.*?$", Comment.Single),
            (r'"""', String.Double, "long-string"),
            (r'"', String.Double, "string"),
            # `demand.kind`, `jurisdiction.rule_of_law`: before the keywords,
            # since `demand` and `jurisdiction` also start declarations.
            (
                rf"\b(demand|jurisdiction)(\s*)(\.)(\s*)({_NAME})",
                bygroups(Name.Builtin, Whitespace, Punctuation, Whitespace, Name.Attribute),
            ),
            (
                rf"\b(extend)(\s+)(enum)(\s+)({_NAME})",
                bygroups(Keyword.Declaration, Whitespace, Keyword.Declaration, Whitespace, Name.Class),
            ),
            (rf"\b(enum)(\s+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (rf"\b(principle)(\s+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Namespace)),
            (rf"\b(rule)(\s+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (rf"\b(jurisdiction|group)(\s+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Constant)),
            (rf"\b(demand)(\s+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Label)),
            # `jurisdiction FR "France" in EU`: the group a jurisdiction belongs to.
            (rf"\b(in)(\s+)(?!(?:not|in)\b)({_NAME})", bygroups(Keyword, Whitespace, Name.Constant)),
            (words(_DECLARATION_WORDS, suffix=r"\b"), Keyword.Declaration),
            (words(OUTCOMES, suffix=r"\b"), Outcome),
            (words(_CONSTANT_WORDS, suffix=r"\b"), Keyword.Constant),
            (words(_PSEUDO_WORDS, suffix=r"\b"), Keyword.Pseudo),
            (words(_KEYWORDS, suffix=r"\b"), Keyword),
            (r"->", Operator),
            (r"==|!=|<=|>=|<|>|=", Operator),
            # Dates (2024-05-17) and deadlines (24h, 10d) before plain numbers.
            (r"\d{4}-\d{2}-\d{2}(?![0-9A-Za-z_.])", Literal.Date),
            (r"\d+(?:\.\d+)?[hd](?![0-9A-Za-z_])", Number),
            (rf"{_NUMBER}(?![A-Za-z0-9_])", Number.Float),
            (_NAME, Name),
            (r"[{}()\[\];:,.]", Punctuation),
        ],
        "string-body": [
            (r'\\["\\ntr{}]', String.Escape),
            (r"\\.", Error),
            (rf"\{{\s*(?:demand|jurisdiction)\.{_NAME}\s*\}}", String.Interpol),
        ],
        "string": [
            include("string-body"),
            (r'"', String.Double, "#pop"),
            # A plain text never spans lines: an unclosed one ends here.
            (r"\n", Error, "#pop"),
            (r'[^"\\{\n]+', String.Double),
            (r"\{", String.Double),
        ],
        "long-string": [
            include("string-body"),
            (r'"""', String.Double, "#pop"),
            (r'[^"\\{]+', String.Double),
            (r'["{]', String.Double),
        ],
    }

    def analyse_text(text: str) -> float:  # no self: Pygments makes it a static method
        """How likely ``text`` is policy text, for ``pygments.lexers.guess_lexer``."""
        score = 0.0
        if "principle " in text and "because" in text:
            score += 0.4
        if "demand." in text or "jurisdiction." in text:
            score += 0.3
        return min(score, 1.0)


#: Rich styles for terminal output, by token type (the nearest parent applies).
STYLES: dict[_TokenType, str] = {
    Comment: "dim italic",
    Keyword.Declaration: "bold blue",
    Keyword.Constant: "cyan",
    Keyword.Pseudo: "italic",
    Keyword: "magenta",
    Name.Builtin: "cyan",
    Name.Attribute: "cyan",
    Name.Namespace: "bold",
    Name.Function: "bold",
    Name.Class: "bold",
    Name.Constant: "bold",
    Name.Label: "bold",
    String.Escape: "bold green",
    String.Interpol: "bold cyan",
    String: "green",
    Number: "cyan",
    Error: "red",
}
#: Outcomes are coloured as decisions are: comply green, negotiate yellow, withdraw red.
OUTCOME_STYLES = {"comply": "bold green", "negotiate": "bold yellow", "withdraw": "bold red"}


def _style(ttype: _TokenType, value: str) -> str:
    if ttype in Outcome:
        return OUTCOME_STYLES.get(value, "bold")
    while ttype is not Token:
        style = STYLES.get(ttype)
        if style is not None:
            return style
        ttype = ttype.parent
    return ""


def tokens(text: str) -> Iterable[tuple[_TokenType, str]]:
    """Pygments tokens of ``text`` (the lexer keeps every character, newlines included)."""
    lexer = PolicyLexer(stripnl=False, ensurenl=False)
    found: Iterable[tuple[_TokenType, str]] = lexer.get_tokens(text)
    return found


def highlight_lines(lines: Sequence[str]) -> list[Text]:
    """Highlight consecutive lines of policy text; one :class:`rich.text.Text` per line.

    The lines are lexed together, so a triple-quoted text that spans them is
    coloured as one text; control characters are shown escaped.
    """
    from rich.text import Text

    from .text import safe

    out = [Text()]
    for ttype, value in tokens("\n".join(lines)):
        style = _style(ttype, value)
        pieces = value.split("\n")
        for i, piece in enumerate(pieces):
            if i:
                out.append(Text())
            if piece:
                out[-1].append(safe(piece), style=style)
    return out[: len(lines)] if lines else []


def highlight_excerpt(line: str) -> Text:
    """Highlight one line shown in a diagnostic, which may be a window of a long
    line with ``…`` where it was cut (the marks are dimmed, not lexed)."""
    from rich.text import Text

    head = "…" if line.startswith("…") else ""
    tail = "…" if line.endswith("…") and len(line) > len(head) else ""
    out = Text()
    out.append(head, style="dim")
    out.append_text(highlight_lines([line[len(head) : len(line) - len(tail)]])[0])
    out.append(tail, style="dim")
    return out
