"""Hypothesis strategies for hostile policy input.

:func:`policy_sets` draws *valid* policy sets from the grammar: vocabulary
extensions, principles whose conditions are type-correct and free of
contradictions, groups and jurisdictions with inherited attributes and
standing demands, and test blocks, spread over one to three files with
varied layout.  :func:`hostile_files` then damages one of them the ways a
hurried author, a broken editor, a bad network copy or an attacker would:
token swaps and deletions, truncation, byte flips, deep nesting, huge
literals, non-UTF-8 bytes, NUL bytes, CRLF/CR/mixed line ends, byte-order
marks, Unicode look-alike identifiers, bidirectional and terminal control
characters.

The generator tracks what it declared (attributes and their types, codes,
rules and their outcomes), so the valid sets stay valid by construction:
the contradiction check only ever sees one test per attribute under an
``and``, numbers stay inside declared ranges, and ``is known`` is used only
on attributes that may be unknown.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

KINDS = [
    "key_disclosure",
    "encryption_backdoor",
    "traceability",
    "channel_block",
    "content_removal",
    "user_data",
    "data_localization",
    "local_representative",
    "hotline",
    "transparency_report",
]
CATEGORIES = [
    "terrorism",
    "csam",
    "fraud",
    "drugs",
    "hate_speech",
    "disinformation",
    "copyright",
    "criminal_suspect",
    "peaceful_protest",
    "political_opposition",
    "journalism",
    "all_users",
]
BASES = ["court_order", "statute", "administrative_order", "informal"]
COUNTRIES = ["FR", "DE", "RU", "US", "BR", "IN", "CN", "TR", "GB", "JP", "KR", "NG", "ZA", "AU", "MX", "ID", "EG", "IR"]
GROUPS = ["EU", "G7", "ASEAN", "OECD", "BRICS", "G20"]
OUTCOMES = ["comply", "negotiate", "withdraw"]

#: Every keyword of the grammar: generated names never collide with one.
_KEYWORD_WORDS = (
    "vocabulary enum extend attribute from to or unknown principle rule when because comply negotiate withdraw "
    "and not in is known demand jurisdiction group test market by default true false"
)
KEYWORDS = frozenset(_KEYWORD_WORDS.split())


@dataclass(frozen=True)
class Attr:
    """An attribute as the generator knows it."""

    dotted: str
    kind: str  # enum | bool | number | code
    values: tuple[str, ...] = ()
    lo: float = 0.0
    hi: float = 1.0
    unknown: bool = False
    required: bool = False

    @property
    def scope(self) -> str:
        return self.dotted.split(".")[0]

    @property
    def name(self) -> str:
        return self.dotted.split(".")[1]


BASE_ATTRS = (
    Attr("demand.kind", "enum", tuple(KINDS), required=True),
    Attr("demand.category", "enum", tuple(CATEGORIES), required=True),
    Attr("demand.legal_basis", "enum", tuple(BASES), required=True),
    Attr("demand.mandatory", "bool"),
    Attr("jurisdiction.rule_of_law", "number", lo=0.0, hi=1.0, unknown=True),
)


@dataclass
class GeneratedSet:
    """A valid policy set and what it declares, so tests can build requests for it."""

    files: dict[str, str]
    codes: list[str]
    demand_attrs: list[Attr]
    rules: dict[str, str] = field(default_factory=dict)  # principle.rule → outcome
    standing: list[tuple[str, str]] = field(default_factory=list)  # (code, demand id)

    def total_size(self) -> int:
        return sum(len(t) for t in self.files.values())


# --- small pieces -------------------------------------------------------------------

_SAFE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\\n\r\x00{}'),
    max_size=30,
)


# Strategies are cached: building one costs hypothesis far more than drawing
# from it, and the generator asks for the same shapes again and again.


@functools.lru_cache(maxsize=4096)
def _pick(values: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


@functools.lru_cache(maxsize=4096)
def _subset(values: tuple[Any, ...], max_size: int) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=max_size, unique=True)


@functools.lru_cache(maxsize=64)
def _ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(lo, hi)


_LOWER = "abcdefghijklmnopqrstuvwxyz"
_WORD = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(_LOWER),
    st.text(alphabet=_LOWER + "0123456789_", max_size=7),
)


@functools.lru_cache(maxsize=64)
def _name(prefix: str) -> st.SearchStrategy[str]:
    return _WORD.map(lambda s: f"{prefix}{s}")


@functools.lru_cache(maxsize=256)
def _number(lo: float, hi: float) -> st.SearchStrategy[str]:
    """A number literal inside [lo, hi], written in the grammar's several forms."""

    def show(x: float, form: int) -> str:
        x = min(max(round(x, 3), lo), hi)
        if form == 1 and x == int(x):
            return str(int(x))
        if form == 2 and 0 < x < 1:
            return "." + f"{x:.3f}".split(".")[1]
        if form == 3 and lo <= float(f"{x:.3e}") <= hi:
            return f"{x:.3e}"
        return repr(x)

    return st.builds(show, st.floats(lo, hi, allow_nan=False), st.integers(0, 3))


@functools.lru_cache(maxsize=1024)
@st.composite
def text_literal(draw: st.DrawFn, placeholders: tuple[str, ...] = ()) -> str:
    """A quoted text with escapes and (where given) placeholders."""
    parts = []
    for _ in range(draw(_ints(1, 4))):
        choice = draw(_ints(0, 5))
        if choice == 0 and placeholders:
            parts.append("{" + draw(_pick(tuple(placeholders))) + "}")
        elif choice == 1:
            parts.append(draw(_pick(('\\"', "\\\\", "\\n", "\\t", "\\{", "\\}"))))
        else:
            parts.append(draw(_SAFE_TEXT))
    if draw(st.booleans()) and draw(st.booleans()):
        # A triple-quoted text may span lines (but must not end in a quote).
        # Only a `\n` escape becomes a line break: replacing in the joined
        # text would also take the `\n` of an escaped backslash followed by
        # an `n` (`\\n`), which leaves a backslash before the line break.
        body = "".join("\n" if p == "\\n" else p for p in parts)
        if body.endswith('"') and not body.endswith('\\"'):
            body += " "
        return f'"""{body}"""'
    body = "".join(parts)
    return f'"{body}"'


def _value_for(draw: st.DrawFn, attr: Attr) -> str:
    if attr.kind == "enum":
        return draw(_pick(tuple(attr.values)))
    if attr.kind == "bool":
        return draw(_pick(("true", "false")))
    if attr.unknown and draw(_ints(0, 4)) == 0:
        return "unknown"
    return draw(_number(attr.lo, attr.hi))


# --- conditions -------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
@st.composite
def _atom(draw: st.DrawFn, attrs: tuple[Attr, ...], codes: tuple[str, ...]) -> tuple[str, str]:
    attr = draw(_pick(tuple(attrs)))
    ref = attr.dotted
    if attr.kind in ("enum", "code"):
        values = attr.values if attr.kind == "enum" else codes
        form = draw(_ints(0, 3))
        if form <= 1:
            return f"{ref} {'==' if form == 0 else '!='} {draw(_pick(tuple(values)))}", ref
        # Never every value: `not` of it (or `not in` it) would allow none.
        chosen = draw(st.lists(_pick(tuple(values)), min_size=1, max_size=min(4, len(values) - 1), unique=True))
        sep = draw(_pick((", ", "; ", " ", ",")))
        return f"{ref} {'in' if form == 2 else 'not in'} {{{sep.join(chosen)}}}", ref
    if attr.kind == "bool":
        form = draw(_ints(0, 2))
        return [ref, f"{ref} == {draw(_pick(('true', 'false')))}", f"{ref} != true"][form], ref
    if attr.unknown and draw(_ints(0, 3)) == 0:
        return f"{ref} is {draw(_pick(('known', 'unknown')))}", ref
    op = draw(_pick(("<", "<=", ">", ">=", "==", "!=")))
    return f"{ref} {op} {draw(_number(attr.lo, attr.hi))}", ref


@functools.lru_cache(maxsize=1024)
@st.composite
def condition(draw: st.DrawFn, attrs: tuple[Attr, ...], codes: tuple[str, ...], depth: int = 0) -> tuple[str, str | None, bool]:
    """(text, ref if atom-like else None, compound?) — see the module docstring for why refs are tracked."""
    choice = draw(_ints(0, 3)) if depth < 3 else 0
    if choice == 0:
        text, ref = draw(_atom(attrs, codes))
        return text, ref, False
    if choice == 1:
        inner, ref, compound = draw(condition(attrs, codes, depth + 1))
        if compound or draw(st.booleans()):
            inner = f"({inner})"
        return f"not {inner}", ref, False
    operands = draw(st.lists(condition(attrs, codes, depth + 1), min_size=2, max_size=3))
    if choice == 2:
        # Under one `and`, at most one test per attribute: never a contradiction.
        seen: set[str] = set()
        kept = []
        for text, ref, compound in operands:
            if ref is not None:
                if ref in seen:
                    continue
                seen.add(ref)
            kept.append((text, ref, compound))
        operands = kept
        if len(operands) == 1:
            return operands[0]
    word = " and " if choice == 2 else " or "
    return word.join(f"({t})" if c else t for t, _, c in operands), None, True


# --- declarations -------------------------------------------------------------------------


@st.composite
def policy_sets(draw: st.DrawFn, max_principles: int = 4, max_places: int = 6) -> GeneratedSet:
    """A valid policy set (no errors; see the module docstring)."""
    decls: list[str] = []
    demand_attrs = [a for a in BASE_ATTRS if a.scope == "demand"]
    place_attrs = [a for a in BASE_ATTRS if a.scope == "jurisdiction"]
    kinds = list(KINDS)

    # Vocabulary: new kinds, a new enum, new attributes.
    if draw(st.booleans()):
        items = []
        new_kinds = draw(st.lists(_name("k_"), max_size=3, unique=True))
        if new_kinds:
            items.append(f"extend enum kind {{ {' '.join(new_kinds)} }}")
            kinds += new_kinds
            demand_attrs[0] = Attr("demand.kind", "enum", tuple(kinds), required=True)
        for i in range(draw(_ints(0, 3))):
            what = draw(_pick(("enum", "bool", "number")))
            scope = draw(_pick(("demand", "jurisdiction")))
            name = f"a{i}_{draw(_name(''))}"
            desc = draw(st.one_of(st.just(""), text_literal()))
            if what == "enum":
                values = tuple(draw(st.lists(_name("v_"), min_size=2, max_size=4, unique=True)))
                enum = f"e{i}_{draw(_name(''))}"
                items.append(f"enum {enum} {{ {', '.join(values)} }}")
                items.append(f"attribute {scope}.{name}: {enum} = {values[0]} {desc}")
                attr = Attr(f"{scope}.{name}", "enum", values)
            elif what == "bool":
                items.append(f"attribute {scope}.{name}: bool = {draw(_pick(('true', 'false')))} {desc}")
                attr = Attr(f"{scope}.{name}", "bool")
            else:
                lo = draw(_ints(-100, 100))
                hi = lo + draw(_ints(1, 1000))
                unknown = draw(st.booleans())
                default = "unknown" if unknown else str(lo)
                maybe = " or unknown" if unknown else ""
                items.append(f"attribute {scope}.{name}: number from {lo} to {hi}{maybe} = {default} {desc}")
                attr = Attr(f"{scope}.{name}", "number", lo=lo, hi=hi, unknown=unknown)
            (demand_attrs if scope == "demand" else place_attrs).append(attr)
        if items:
            decls.append("vocabulary {\n    " + "\n    ".join(items) + "\n}")

    # Places: groups first (each may join an earlier one), then countries.
    groups = draw(st.lists(_pick(tuple(GROUPS)), max_size=2, unique=True))
    countries = draw(st.lists(_pick(tuple(COUNTRIES)), min_size=2, max_size=max(2, max_places), unique=True))
    standing: list[tuple[str, str]] = []
    demand_no = 0
    for code in groups + countries:
        is_group = code in groups
        parents = groups[: groups.index(code)] if is_group else groups
        member = draw(st.one_of(st.none(), _pick(tuple(parents)))) if parents else None
        body = []
        for attr in draw(st.lists(_pick(tuple(place_attrs)), max_size=3, unique=True)):
            body.append(f"{attr.name} = {_value_for(draw, attr)}")
        for _ in range(draw(_ints(0, 2))):
            demand_no += 1
            did = f"d{demand_no}"
            assigns = [f"{a.name} = {_value_for(draw, a)}" for a in demand_attrs if a.required]
            for a in draw(st.lists(_pick(tuple(a for a in demand_attrs if not a.required)), max_size=2, unique=True)):
                assigns.append(f"{a.name} = {_value_for(draw, a)}")
            sep = draw(_pick(("; ", ", ", " ", "\n        ")))
            body.append(f"demand {did} {draw(text_literal())} {{ {sep.join(assigns)} }}")
            standing.append((code, did))
        head = f"{'group' if is_group else 'jurisdiction'} {code} {draw(text_literal())}"
        if member:
            head += f" in {member}"
        decls.append(head + " {\n    " + "\n    ".join(body) + "\n}")

    # Principles and rules.
    codes = tuple(groups + countries)
    code_attr = Attr("jurisdiction.code", "code", codes)
    testable = (*demand_attrs, *place_attrs, code_attr)
    placeholders = tuple(
        [a.dotted for a in testable] + ["demand.id", "demand.description", "jurisdiction.name", "jurisdiction.code"]
    )
    rules: dict[str, str] = {}
    for p in range(draw(_ints(1, max_principles))):
        pid = f"p{p}_{draw(_name(''))}"
        lines = []
        for r in range(draw(_ints(1, 4))):
            rid = f"r{r}_{draw(_name(''))}"
            outcome = draw(_pick(tuple(OUTCOMES)))
            cond, _, _ = draw(condition(testable, codes))
            because = draw(text_literal(placeholders))
            lines.append(f"rule {rid}: {outcome} when {cond}\n        because {because}")
            rules[f"{pid}.{rid}"] = outcome
        decls.append(f"principle {pid} {draw(text_literal())} {{\n    " + "\n    ".join(lines) + "\n}")

    # A test block: only references that exist (its expectations need not hold).
    if draw(st.booleans()):
        exps = []
        for code in draw(st.lists(_pick(tuple(codes)), max_size=2, unique=True)):
            exps.append(f"market {code} -> {draw(_pick(tuple(OUTCOMES)))}")
        if standing:
            code, did = draw(_pick(tuple(standing)))
            qualified = draw(_pick(tuple(sorted(rules))))
            exps.append(f"{code}.{did} -> {rules[qualified]} by {qualified}")
        code = draw(_pick(tuple(codes)))
        assigns = "; ".join(f"{a.name} = {_value_for(draw, a)}" for a in demand_attrs if a.required)
        exps.append(f"{code} {{ {assigns} }} -> negotiate by default")
        decls.append(f"test {draw(text_literal())} {{\n    " + "\n    ".join(exps) + "\n}")

    # Spread over files, with a layout style.
    n_files = draw(_ints(1, min(3, len(decls))))
    files: dict[str, list[str]] = {f"f{i}.policy": [] for i in range(n_files)}
    names = sorted(files)
    for i, decl in enumerate(decls):
        target = names[i] if i < n_files else draw(_pick(tuple(names)))
        files[target].append(decl)
    style = draw(_ints(0, 3))
    out = {}
    for name, chunks in files.items():
        text = "\n\n".join(chunks) + "\n"
        if style == 1:
            text = "# generated\n" + text.replace("\n\n", "\n# ---\n\n")
        elif style == 2:
            text = text.replace("\n    ", "\n\t")
        elif style == 3:
            text = re.sub(r"\n\s*", "\n", text)
        out[name] = text
    return GeneratedSet(out, list(codes), demand_attrs, rules, standing)


@st.composite
def requests_for(draw: st.DrawFn, gen: GeneratedSet) -> dict[str, Any]:
    """A valid request for a generated set (or for a jurisdiction it does not know)."""
    code = draw(st.one_of(_pick(tuple(gen.codes)), _pick(("XX", "ZZ"))))
    demand: dict[str, Any] = {}
    for a in gen.demand_attrs:
        if a.required or draw(st.booleans()):
            if a.kind == "enum":
                demand[a.name] = draw(_pick(tuple(a.values)))
            elif a.kind == "bool":
                demand[a.name] = draw(st.booleans())
            else:
                demand[a.name] = None if a.unknown and draw(st.booleans()) else draw(st.floats(a.lo, a.hi))
    return {"jurisdiction": code, "demand": demand}


# --- damage -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|==|!=|<=|>=|->|\S'
)
_LOOKALIKES = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "i": "і", "E": "Е", "U": "Ս", "R": "Ꭱ", "F": "Ϝ"}
_KEYWORD_LIST = sorted(KEYWORDS)
_HOSTILE_CHARS = [
    "\ufeff",
    "\u200b",
    "\u202e",
    "\u2028",
    "\x1b[31m",
    "\x07",
    "\x0b",
    "\x0c",
    "\x85",
    "\uffff",
    "\U0010ffff",
    "ｐ",
    "\u0301",
]

MUTATIONS = (
    "swap",
    "delete",
    "duplicate",
    "keyword",
    "truncate",
    "flip",
    "nest",
    "huge",
    "non_utf8",
    "nul",
    "line_ends",
    "bom",
    "lookalike",
    "insert_char",
)


def _tokens(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _TOKEN.finditer(text)]


@st.composite
def mutate(draw: st.DrawFn, text: str) -> bytes:
    """One file's text, damaged by one to three mutations, as the bytes on disk."""
    data: bytes | None = None
    for _ in range(draw(_ints(1, 3))):
        kind = draw(_pick(tuple(MUTATIONS)))
        if data is not None:
            text = data.decode("utf-8", errors="surrogateescape")
        spans = _tokens(text)
        data = None
        if kind in ("swap", "delete", "duplicate", "keyword") and spans:
            i = draw(_ints(0, len(spans) - 1))
            s, e = spans[i]
            if kind == "swap":
                j = draw(_ints(0, len(spans) - 1))
                (a, b), (c, d) = sorted([spans[i], spans[j]])
                if a != c:
                    text = text[:a] + text[c:d] + text[b:c] + text[a:b] + text[d:]
            elif kind == "delete":
                text = text[:s] + text[e:]
            elif kind == "duplicate":
                text = text[:e] + " " + text[s:e] + text[e:]
            else:
                text = text[:s] + draw(_pick((*_KEYWORD_LIST, "{", "}", "(", ")", "->", "==", ":"))) + text[e:]
        elif kind == "truncate":
            text = text[: draw(_ints(0, len(text)))]
        elif kind == "flip":
            raw = bytearray(text.encode("utf-8", errors="surrogateescape"))
            for _ in range(draw(_ints(1, 4))):
                if raw:
                    k = draw(_ints(0, len(raw) - 1))
                    raw[k] ^= 1 << draw(_ints(0, 7))
            data = bytes(raw)
        elif kind == "nest":
            depth = draw(_pick((10, 63, 64, 65, 200, 3000)))
            how = draw(_pick(("parens", "not", "braces", "mixed")))
            if how == "parens":
                cond = "(" * depth + "demand.mandatory" + ")" * depth
            elif how == "not":
                cond = "not " * depth + "demand.mandatory"
            elif how == "mixed":
                cond = "(not " * depth + "demand.mandatory" + ")" * depth
            else:
                cond = "{" * depth
            text += f'\nprinciple deep "deep" {{ rule r: withdraw when {cond} because "x" }}\n'
        elif kind == "huge":
            size = draw(_pick((9_999, 10_000, 10_001, 50_000)))
            what = draw(_pick(("string", "long_string", "name", "number", "comment", "exponent", "placeholder")))
            piece = {
                "string": '"' + "x" * size + '"',
                "long_string": '"""' + ("y\n" * (size // 2)) + '"""',
                "name": "n" * size,
                "number": "9" * size,
                "comment": "#" + "c" * size + "\n",
                "exponent": "1e" + "9" * 20,
                "placeholder": '"{demand.' + "k" * size + '}"',
            }[what]
            at = draw(_ints(0, len(text)))
            text = text[:at] + " " + piece + " " + text[at:]
        elif kind == "non_utf8":
            raw = text.encode("utf-8", errors="surrogateescape")
            at = draw(_ints(0, len(raw)))
            bad = draw(_pick((b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf5\x80\x80\x80")))
            data = raw[:at] + bad + raw[at:]
            if draw(st.booleans()):
                data = text.encode("latin-1", errors="replace")
        elif kind == "nul":
            raw = text.encode("utf-8", errors="surrogateescape")
            at = draw(_ints(0, len(raw)))
            data = raw[:at] + b"\x00" + raw[at:]
        elif kind == "line_ends":
            style = draw(_pick(("crlf", "cr", "mixed", "lfcr")))
            if style == "crlf":
                text = text.replace("\n", "\r\n")
            elif style == "cr":
                text = text.replace("\n", "\r")
            elif style == "lfcr":
                text = text.replace("\n", "\n\r")
            else:
                lines = text.split("\n")
                ends = draw(st.lists(_pick(("\n", "\r\n", "\r")), min_size=len(lines), max_size=len(lines)))
                text = "".join(line + end for line, end in zip(lines, ends))
        elif kind == "bom":
            where = draw(_pick(("start", "twice", "middle")))
            if where == "start":
                text = "\ufeff" + text
            elif where == "twice":
                text = "\ufeff\ufeff" + text
            else:
                at = draw(_ints(0, len(text)))
                text = text[:at] + "\ufeff" + text[at:]
        elif kind == "lookalike":
            names = [s for s in spans if text[s[0]].isalpha() and text[s[0]] != '"']
            if names:
                s, e = draw(_pick(tuple(names)))
                word = text[s:e]
                swapped = "".join(_LOOKALIKES.get(ch, ch) for ch in word)
                if draw(st.booleans()):
                    swapped = word[:1] + "\u200b" + word[1:]
                text = text[:s] + swapped + text[e:]
        else:  # insert_char
            at = draw(_ints(0, len(text)))
            text = text[:at] + draw(_pick(tuple(_HOSTILE_CHARS))) + text[at:]
        if data is None:
            data = text.encode("utf-8", errors="surrogateescape")
    assert data is not None
    return data


@st.composite
def hostile_files(draw: st.DrawFn) -> dict[str, bytes]:
    """A generated set with one file damaged (or, now and then, left intact)."""
    gen = draw(policy_sets(max_principles=3, max_places=4))
    files = {name: text.encode("utf-8") for name, text in gen.files.items()}
    if draw(_ints(0, 9)) > 0:
        target = draw(_pick(tuple(sorted(files))))
        files[target] = draw(mutate(gen.files[target]))
    return files
