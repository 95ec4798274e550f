"""Completion: what may be written at the cursor, from the vocabulary and the set.

Stage contract: :func:`complete` takes a snapshot, a file and the text before
the cursor and returns completion items (never raises).  Where the cursor is
(in which block, after which words) is read from the text before it with a
small lexer that knows strings, comments and braces, so it works while the
file is half typed and does not parse; *what* is offered comes from the
set's index, which the parser recovered from every file: attribute names
after ``demand.`` and ``jurisdiction.``, the values of the attribute being
compared or assigned (enumeration values, ``true``/``false``, jurisdiction
codes, ``unknown`` where the attribute allows it), outcomes, rules after
``by``, the demands of ``RU`` after ``RU.`` in a test, keywords by block,
and action names (the values of the enumeration ``action``) wherever an
action is written: after a rule's ``actions`` and its commas, in a test's
``actions {…}``, in a ``conflict``.

New attributes, enumerations and values need nothing here: they are offered
as soon as a file declares them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from lsprotocol import types

from ..language.model import ACTION_ENUM, OUTCOMES
from .hover import attribute_text, md
from .index import AttributeInfo, Kind, SetIndex
from .project import Snapshot

_TOKEN = re.compile(
    r'(?P<ws>\s+)|(?P<comment>#[^\n]*)|(?P<long>"""(?:[^"\\]|\\.|"(?!""))*(?:"""|\Z))'
    r'|(?P<str>"(?:[^"\\\n]|\\.)*(?:"|(?=\n)|\Z))|(?P<arrow>->)|(?P<op>==|!=|<=|>=|<|>|=)'
    r"|(?P<num>-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[{}();:,.])|(?P<other>.)",
    re.S,
)
_SCOPES = ("demand", "jurisdiction")
_DECLARATIONS = ("principle", "jurisdiction", "group", "vocabulary", "test")
_VOCABULARY_ITEMS = ("attribute", "enum", "extend", "conflict")
_CONDITION_WORDS = ("and", "or", "not", "(", "when")
_LITERAL_KEYWORDS = ("true", "false", "unknown")
#: A closed block inside the one the cursor is in (a demand inside a jurisdiction, a set inside a rule).
_CLOSED = "}"


@dataclass
class _Tok:
    kind: str
    text: str


@dataclass
class _Block:
    kind: str  # top, vocabulary, enum, principle, jurisdiction, group, demand, test, inline, set, other
    body: list[_Tok] = field(default_factory=list)


def _lex(text: str) -> tuple[list[_Tok], str | None]:
    """Tokens of ``text`` without blanks and comments, and what the cursor is inside
    at the end of it: ``"string"``, ``"comment"`` or None."""
    out: list[_Tok] = []
    inside: str | None = None
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "other"
        value = m.group()
        inside = None
        if kind == "ws":
            continue
        if kind == "comment":
            inside = "comment"
            continue
        if kind == "long":
            inside = "string" if len(value) < 6 or not value.endswith('"""') else None
            kind = "str"
        elif kind == "str":
            inside = "string" if len(value) < 2 or not value.endswith('"') else None
        out.append(_Tok(kind, value))
    return out, inside


def _opened(parent: _Block) -> str:
    """The kind of block a `{` opens, from the words before it in ``parent``."""
    body = parent.body
    if body and body[-1].text == "in":
        return "set"
    if parent.kind == "test" and body and body[-1].text in ("actions", "counting"):
        return body[-1].text  # `actions {…}` / `counting {…}` of an expectation
    words = [t.text for t in body if t.kind == "name"]
    if parent.kind == "top":
        for w in reversed(words):
            if w in _DECLARATIONS:
                return w
    elif parent.kind == "vocabulary" and "enum" in words:
        return "enum"
    elif parent.kind in ("jurisdiction", "group") and "demand" in words:
        return "demand"
    elif parent.kind == "test":
        return "inline"
    return "other"


def _blocks(tokens: list[_Tok]) -> list[_Block]:
    stack = [_Block("top")]
    for tok in tokens:
        if tok.text == "{":
            stack.append(_Block(_opened(stack[-1])))
        elif tok.text == "}":
            if len(stack) > 1:
                stack.pop()
            stack[-1].body.append(_Tok("punct", _CLOSED))
        else:
            stack[-1].body.append(tok)
        # A declaration keyword at top level starts afresh: earlier text is done.
        if len(stack) == 1 and tok.kind == "name" and tok.text in _DECLARATIONS:
            stack[0].body = [tok]
        elif tok.kind == "name" and tok.text == "rule" and stack[-1].kind == "principle":
            stack[-1].body = [tok]
    return stack


class _Items:
    def __init__(self, index: SetIndex):
        self.index = index
        self.items: dict[str, types.CompletionItem] = {}

    def add(
        self,
        label: str,
        kind: types.CompletionItemKind,
        detail: str | None = None,
        doc: str | None = None,
        insert: str | None = None,
        sort: str = "1",
    ) -> None:
        if label in self.items:
            return
        self.items[label] = types.CompletionItem(
            label=label,
            kind=kind,
            detail=detail,
            documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=doc) if doc else None,
            insert_text=insert,
            sort_text=f"{sort}{label}",
        )

    def keywords(self, words: Iterable[str]) -> None:
        for w in words:
            self.add(w, types.CompletionItemKind.Keyword, sort="3")

    def outcomes(self) -> None:
        for o in OUTCOMES:
            self.add(o, types.CompletionItemKind.Keyword, detail="outcome", sort="0")

    def attributes(self, scope: str, settable: bool = False) -> None:
        for info in sorted(self.index.attributes.values(), key=lambda a: a.dotted):
            if info.scope != scope or (settable and info.builtin):
                continue
            self.add(
                info.name,
                types.CompletionItemKind.Property,
                detail=info.type_label,
                doc=attribute_text(self.index, info),
                insert=f"{info.name} = " if settable else None,
                sort="0" if not info.builtin else "2",
            )

    def codes(self, groups_only: bool = False) -> None:
        for o in self.index.declarations(Kind.JURISDICTION):
            if o.standard or (groups_only and not self.index.is_group(o.key)):
                continue
            node = o.node
            name = getattr(getattr(node, "display_name", None), "value", None)
            detail = ("group " if self.index.is_group(o.key) else "jurisdiction ") + (name or "")
            self.add(o.key, types.CompletionItemKind.Module, detail=detail.strip(), sort="1")

    def values(self, dotted: str, assignment: bool) -> None:
        info: AttributeInfo | None = self.index.attributes.get(dotted)
        if info is None:
            return
        if info.enum is not None:
            for v in self.index.enum_values(info.enum):
                doc = md(v.description.value) if v.description else None
                self.add(v.name.name, types.CompletionItemKind.EnumMember, detail=f"{info.enum} value", doc=doc, sort="0")
        elif info.type_name == "bool":
            self.keywords(("true", "false"))
        elif info.is_code:
            self.codes()
        if assignment and info.unknown_allowed:
            self.keywords(("unknown",))

    def actions(self) -> None:
        """The values of the enumeration `action`, the set's own extensions included."""
        for v in self.index.enum_values(ACTION_ENUM):
            doc = md(v.description.value) if v.description else None
            self.add(v.name.name, types.CompletionItemKind.EnumMember, detail="action", doc=doc, sort="0")

    def demands(self, code: str) -> None:
        for did, decl in self.index.demands_of(code):
            description = getattr(getattr(decl.node, "description", None), "value", None)
            self.add(did, types.CompletionItemKind.Method, detail=description, sort="0")

    def rules(self, principle: str | None = None) -> None:
        for o in self.index.declarations(Kind.RULE):
            p, _, r = o.key.rpartition(".")
            if principle is None:
                self.add(o.key, types.CompletionItemKind.Function, detail=getattr(o.node, "outcome", None), sort="1")
            elif p == principle:
                self.add(r, types.CompletionItemKind.Function, detail=getattr(o.node, "outcome", None), sort="0")


def _texts(tokens: list[_Tok]) -> list[str]:
    return [t.text for t in tokens]


def _ref_before(tokens: list[_Tok]) -> str | None:
    """``demand.kind`` when ``tokens`` end with it."""
    t = _texts(tokens[-3:])
    if len(t) == 3 and t[0] in _SCOPES and t[1] == "." and tokens[-1].kind == "name":
        return f"{t[0]}.{t[2]}"
    return None


def _condition(items: _Items, body: list[_Tok]) -> None:
    """Inside a rule, after ``when``."""
    t = _texts(body)
    last = t[-1] if t else ""
    if last in _CONDITION_WORDS:
        items.keywords(("not",))
        for scope in _SCOPES:
            items.add(f"{scope}.", types.CompletionItemKind.Module, detail=f"a {scope} attribute", sort="0")
        return
    if last == "is":
        items.keywords(("known", "unknown"))
        return
    if len(body) >= 4 and last in ("==", "!=", "<", "<=", ">", ">="):
        ref = _ref_before(body[:-1])
        if ref is not None:
            items.values(ref, assignment=False)
        return
    if _ref_before(body) is not None:
        items.keywords(("in", "not", "is", "and", "or", "because"))
        return
    items.keywords(("and", "or", "because"))


def _in_principle(items: _Items, body: list[_Tok]) -> None:
    t = _texts(body)
    if not t or t[0] != "rule":
        items.keywords(("rule",))
        return
    if "because" in t:
        after = t[len(t) - 1 - t[::-1].index("because") :]
        if "actions" in after:
            _in_actions(items, body[len(body) - len(after) + after.index("actions") + 1 :])
        elif body[-1].kind == "str":
            items.keywords(("actions", "rule"))
        return
    if len(t) == 3 and t[2] == ":":
        items.outcomes()
    elif len(t) == 4 and t[3] in OUTCOMES:
        items.keywords(("when",))
    elif len(t) > 4:
        _condition(items, body)


def _in_actions(items: _Items, body: list[_Tok]) -> None:
    """After a rule's ``actions``: ``A [within DEADLINE] [when CONDITION], …``."""
    t = _texts(body)
    at = len(t) - 1 - t[::-1].index(",") if "," in t else -1
    one, part = body[at + 1 :], t[at + 1 :]
    if not part:
        items.actions()
    elif "when" in part:
        _condition(items, one[part.index("when") :])
        items.keywords(("rule",))
    elif len(part) == 1:
        items.keywords(("within", "when", "rule"))
    elif part[1] == "within" and len(part) >= 3:
        items.keywords(("when", "rule"))


def _at_statement_start(body: list[_Tok]) -> bool:
    t = _texts(body)
    return not t or t[-1] in (";", ",", _CLOSED) or (len(t) >= 2 and t[-2] == "=")


def _assignments(items: _Items, body: list[_Tok], scope: str, extra: tuple[str, ...] = ()) -> None:
    t = _texts(body)
    if t and t[-1] == "=" and len(body) >= 2 and body[-2].kind == "name":
        items.values(f"{scope}.{t[-2]}", assignment=True)
    elif _at_statement_start(body):
        items.attributes(scope, settable=True)
        items.keywords(extra)


def _in_test(items: _Items, body: list[_Tok]) -> None:
    t = _texts(body)
    last = t[-1] if t else ""
    if last == "market":
        items.codes()
    elif last == "as":
        items.keywords(("of",))
    elif last == "->":
        items.outcomes()
    elif last == "by":
        items.keywords(("default",))
        items.rules()
    elif len(t) >= 2 and last == "." and t[-3:-2] == ["by"]:
        items.rules(t[-2])
    elif len(t) >= 2 and last == "." and body[-2].kind == "name":
        items.demands(t[-2])
    elif not t or last in OUTCOMES or last == "default" or (len(t) >= 4 and t[-4] == "by"):
        if last in OUTCOMES:
            items.keywords(("by",))
        if t:
            items.keywords(("actions", "counting") if _market_expectation(t) else ("actions",))
        items.codes()
        items.keywords(("market",))


def _in_conflict(items: _Items, decl: list[str]) -> None:
    """``conflict ACTION, ACTION_OR_BOOL "why"``: actions, then actions or bool attributes."""
    if len(decl) == 1:
        items.actions()
    elif len(decl) == 3 and decl[2] == ",":
        items.actions()
        for scope in _SCOPES:
            items.add(f"{scope}.", types.CompletionItemKind.Module, detail=f"a {scope} attribute", sort="1")
    elif len(decl) == 5 and decl[3] in _SCOPES and decl[4] == ".":
        for info in sorted(items.index.attributes.values(), key=lambda a: a.dotted):
            if info.scope == decl[3] and info.type_name == "bool":
                items.add(info.name, types.CompletionItemKind.Property, detail="bool", sort="0")


def _market_expectation(t: list[str]) -> bool:
    """Whether the expectation being written (the one of the last ``->``) is a market's."""
    arrows = [i for i, w in enumerate(t) if w == "->"]
    if not arrows:
        return False
    start = arrows[-2] + 1 if len(arrows) > 1 else 0
    return "market" in t[start : arrows[-1]]


def _in_vocabulary(items: _Items, body: list[_Tok]) -> None:
    t = _texts(body)
    starts = [i for i, w in enumerate(t) if w in _VOCABULARY_ITEMS]
    if starts and t[starts[-1]] == "conflict" and (len(t) - starts[-1] < 2 or body[-1].kind != "str"):
        _in_conflict(items, t[starts[-1] :])
        return
    if "attribute" in t:
        decl = t[len(t) - 1 - t[::-1].index("attribute") :]
        if len(decl) == 5 and decl[4] == ":":
            for basic in ("bool", "number", "text"):
                items.add(basic, types.CompletionItemKind.TypeParameter, sort="0")
            for name in items.index.enums:
                items.add(name, types.CompletionItemKind.Enum, detail="enumeration", sort="1")
            return
        if decl[-1:] == ["or"]:
            items.keywords(("unknown",))
            return
        if decl[-1:] == ["="] and len(decl) >= 6:
            items.values(f"{decl[1]}.{decl[3]}", assignment=True)
            type_name = decl[5]
            if type_name in items.index.enums:
                for v in items.index.enum_values(type_name):
                    items.add(v.name.name, types.CompletionItemKind.EnumMember, detail=f"{type_name} value", sort="0")
            elif type_name == "bool":
                items.keywords(("true", "false"))
            return
        if len(decl) == 6:
            items.keywords(("from", "or"))
    if t[-1:] == ["extend"]:
        items.keywords(("enum",))
        return
    if t[-1:] == ["enum"] and t[-2:-1] == ["extend"]:
        for name in items.index.enums:
            items.add(name, types.CompletionItemKind.Enum, detail="enumeration", sort="0")
        return
    items.keywords(_VOCABULARY_ITEMS)


def _at_top(items: _Items, body: list[_Tok]) -> None:
    t = _texts(body)
    if t and t[0] in ("jurisdiction", "group"):
        if t[-1] == "in":
            items.codes(groups_only=True)
            return
        if len(t) == 3 and body[-1].kind == "str":
            items.keywords(("in",))
            return
        if len(t) < 3:
            return
    items.keywords(_DECLARATIONS)


def complete(snapshot: Snapshot, before: str) -> list[types.CompletionItem]:
    """Completion items for a cursor that follows ``before`` (the text of the file up to it)."""
    tokens, inside = _lex(before)
    items = _Items(snapshot.index)
    if inside == "comment":
        return []
    if inside == "string":
        m = re.search(r"\{\s*(demand|jurisdiction)\s*\.\s*[A-Za-z0-9_]*$", tokens[-1].text if tokens else "")
        if m:
            items.attributes(m.group(1))
        elif re.search(r"\{\s*[A-Za-z_]*$", tokens[-1].text if tokens else ""):
            for scope in _SCOPES:
                items.add(f"{scope}.", types.CompletionItemKind.Module, detail=f"a {scope} attribute", sort="0")
        return list(items.items.values())
    # The word being typed is what the items are filtered by, not context.
    if tokens and tokens[-1].kind == "name" and before and (before[-1].isalnum() or before[-1] == "_"):
        tokens = tokens[:-1]
    stack = _blocks(tokens)
    block = stack[-1]
    body = block.body
    t = _texts(body)
    # `demand.` / `jurisdiction.`: attribute names, wherever a condition or text may name one.
    if len(t) >= 2 and t[-1] == "." and t[-2] in _SCOPES and block.kind in ("principle", "set", "other"):
        items.attributes(t[-2])
    elif block.kind == "principle":
        _in_principle(items, body)
    elif block.kind == "set":
        parent = stack[-2].body if len(stack) > 1 else []
        tail = parent[:-1]
        if tail and tail[-1].text == "not":
            tail = tail[:-1]
        ref = _ref_before(tail)
        if ref is not None:
            items.values(ref, assignment=False)
    elif block.kind in ("jurisdiction", "group"):
        _assignments(items, body, "jurisdiction", ("demand",))
    elif block.kind in ("demand", "inline"):
        _assignments(items, body, "demand")
    elif block.kind == "test":
        _in_test(items, body)
    elif block.kind == "actions" and (not t or t[-1] == ","):
        items.actions()
    elif block.kind == "counting" and (not t or t[-1] == ",") and len(stack) > 1:
        words = _texts(stack[-2].body)
        at = len(words) - 1 - words[::-1].index("market") if "market" in words else len(words)
        if at + 1 < len(words):
            items.demands(words[at + 1])
    elif block.kind == "vocabulary":
        _in_vocabulary(items, body)
    elif block.kind == "top":
        _at_top(items, body)
    return list(items.items.values())
