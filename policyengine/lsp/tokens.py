"""Semantic tokens: colours that know what each name means.

Stage contract: :func:`semantic_tokens` takes a snapshot and one file and
returns the LSP's relative encoding of its tokens (five integers per token).
Two sources are layered.  The lexical layer (keywords, outcomes, texts,
numbers, comments, operators) comes from the Pygments lexer the terminal
uses (:class:`~policyengine.language.highlight.PolicyLexer`), which never
fails, so a half-typed file is coloured too.  Over it, every name the index
knows gets the type of what it names (principle, rule, jurisdiction, demand,
enumeration, value, attribute), marked ``declaration`` where it is declared
and ``defaultLibrary`` when it comes from the standard vocabulary or the
language: an editor can tell ``key_disclosure`` (a value) from ``RU`` (a
jurisdiction) although both are bare words.  The layers are driven by tables
(:data:`KIND_TYPES`, :data:`LEXICAL`), one entry per kind of name or token.
"""

from __future__ import annotations

from pygments.token import Comment, Keyword, Literal, Name, Number, Operator, String, _TokenType

from ..language.highlight import Outcome, PolicyLexer
from .index import Kind, Occurrence, SetIndex
from .positions import LineIndex

TOKEN_TYPES = (
    "namespace",
    "function",
    "class",
    "method",
    "enum",
    "enumMember",
    "property",
    "variable",
    "keyword",
    "string",
    "number",
    "comment",
    "operator",
)
#: ``comply``, ``negotiate`` and ``withdraw`` mark the outcome keywords, so an
#: editor can colour them as decisions are coloured (editors/vscode maps them).
TOKEN_MODIFIERS = ("declaration", "defaultLibrary", "readonly", "comply", "negotiate", "withdraw")

KIND_TYPES: dict[Kind, str] = {
    Kind.PRINCIPLE: "namespace",
    Kind.RULE: "function",
    Kind.JURISDICTION: "class",
    Kind.DEMAND: "method",
    Kind.ENUM: "enum",
    Kind.VALUE: "enumMember",
    Kind.ATTRIBUTE: "property",
}

#: Pygments token type → (semantic type, modifiers); the nearest parent type applies.
LEXICAL: dict[_TokenType, tuple[str, tuple[str, ...]]] = {
    Comment: ("comment", ()),
    String: ("string", ()),
    Keyword: ("keyword", ()),
    Number: ("number", ()),
    # `2024-05-17`: LSP has no date type; a date is a literal like a number.
    Literal.Date: ("number", ()),
    Operator: ("operator", ()),
    # `demand` and `jurisdiction` in `demand.kind`: the two scopes a condition reads.
    Name.Builtin: ("variable", ("defaultLibrary", "readonly")),
}

_TYPE_INDEX = {t: i for i, t in enumerate(TOKEN_TYPES)}
_MODIFIER_BITS = {m: 1 << i for i, m in enumerate(TOKEN_MODIFIERS)}

_Piece = tuple[int, int, int, int]  # start, end, type, modifier bits


def _bits(modifiers: tuple[str, ...]) -> int:
    out = 0
    for m in modifiers:
        out |= _MODIFIER_BITS[m]
    return out


def _lexical_type(ttype: _TokenType, value: str) -> tuple[int, int] | None:
    if ttype in Outcome:
        return _TYPE_INDEX["keyword"], _bits((value,)) if value in _MODIFIER_BITS else 0
    while ttype.parent is not None:
        found = LEXICAL.get(ttype)
        if found is not None:
            return _TYPE_INDEX[found[0]], _bits(found[1])
        ttype = ttype.parent
    return None


def _lexical(text: str) -> list[_Piece]:
    out: list[_Piece] = []
    for start, ttype, value in PolicyLexer(stripnl=False, ensurenl=False).get_tokens_unprocessed(text):
        kind = _lexical_type(ttype, value)
        if kind is None or not value.strip():
            continue
        end = start + len(value)
        if out and out[-1][1] == start and out[-1][2:] == kind:
            out[-1] = (out[-1][0], end, *kind)  # a text lexed in pieces is one token
        else:
            out.append((start, end, *kind))
    return out


def _standard(index: SetIndex, o: Occurrence) -> bool:
    if o.kind is Kind.ATTRIBUTE:
        info = index.attributes.get(o.key)
        if info is not None and info.builtin:
            return True
    defs = index.definitions(o.kind, o.key)
    return bool(defs) and defs[0].standard


def _names(index: SetIndex, path: str) -> list[_Piece]:
    out: list[_Piece] = []
    end = -1
    for o in index.occurrences(path):
        if o.span.start < end or o.span.end <= o.span.start:
            continue
        mods = (("declaration",) if o.definition else ()) + (("defaultLibrary",) if _standard(index, o) else ())
        out.append((o.span.start, o.span.end, _TYPE_INDEX[KIND_TYPES[o.kind]], _bits(mods)))
        end = o.span.end
    return out


def _layer(lexical: list[_Piece], names: list[_Piece]) -> list[_Piece]:
    """``names`` over ``lexical``: the parts of lexical tokens under a name give way to it."""
    out: list[_Piece] = []
    j = 0
    for start, end, ttype, mods in lexical:
        while j < len(names) and names[j][1] <= start:
            j += 1
        cur = start
        k = j
        while k < len(names) and names[k][0] < end:
            if names[k][0] > cur:
                out.append((cur, names[k][0], ttype, mods))
            cur = max(cur, names[k][1])
            k += 1
        if cur < end:
            out.append((cur, end, ttype, mods))
    out.extend(names)
    out.sort()
    return out


def semantic_tokens(index: SetIndex, path: str, lines: LineIndex) -> list[int]:
    """The tokens of ``path`` in the LSP's relative encoding."""
    pieces = _layer(_lexical(lines.text), _names(index, path))
    data: list[int] = []
    prev_line = prev_char = 0
    text = lines.text
    for start, end, ttype, mods in pieces:
        # Tokens may not span lines (most clients do not support it): split them.
        while start < end:
            newline = text.find("\n", start, end)
            stop = end if newline == -1 else newline
            if stop > start:
                a = lines.position(start)
                b = lines.position(stop)
                delta_line = a.line - prev_line
                delta_char = a.character - prev_char if delta_line == 0 else a.character
                data.extend((delta_line, delta_char, b.character - a.character, ttype, mods))
                prev_line, prev_char = a.line, a.character
            start = stop + 1 if newline != -1 else end
    return data
