"""Every named thing of a policy set: where it is declared and where it is used.

Stage contract: :func:`index_file` takes the AST of one file (as parsed, with
whatever error recovery kept) and returns a :class:`FileIndex`: the
declarations and references it can name on its own, plus the references whose
meaning depends on other files (a bare value such as ``key_disclosure`` is an
enumeration value or a jurisdiction code depending on the attribute it is
compared with; ``FR.x`` may name a demand declared by ``FR``'s group).
:class:`SetIndex` joins the file indexes of a policy set and resolves those.
Neither raises, and neither needs a policy set without errors: a file with a
syntax error still gets an index of everything the parser recovered.

The walk is driven by the AST's node types.  Nodes are visited field by field
(any dataclass of :mod:`policyengine.language.ast`), so a construct added to
the language is walked without new code here: the attribute references,
assignments and values inside it are found as they are elsewhere.  What a
node *declares* needs a ``visit_<Class>`` method (Jinja's visitor), and a
value is typed by the nearest enclosing node that has a ``ref`` field (a
comparison, a membership test, an attribute declaration's default) or by the
assignment it is the value of: that is how a new construct that compares an
attribute with values gets its enumeration values resolved.

Per file, the index is computed once per parse (it is cached with the parse
result); resolving a set is linear in the number of references.
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..language import ast
from ..language.model import ACTION_ENUM, AttributeType
from ..language.model import Kind as ValueKind
from ..language.source import Span
from ..language.validate import PRELUDE_PREFIX


class Kind(str, enum.Enum):
    """What a name names.  Jurisdictions and groups share one namespace (their codes)."""

    PRINCIPLE = "principle"
    RULE = "rule"
    JURISDICTION = "jurisdiction"
    DEMAND = "demand"
    ENUM = "enum"
    VALUE = "value"
    ATTRIBUTE = "attribute"


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One place a name is written.

    ``key`` identifies the thing across the set: ``encryption`` (principle),
    ``encryption.no_keys`` (rule), ``RU`` (jurisdiction or group),
    ``RU.fsb_keys`` (demand, keyed by the jurisdiction that declares it),
    ``kind`` (enumeration), ``kind.key_disclosure`` (value),
    ``demand.kind`` (attribute).  ``span`` covers the name only (what a rename
    replaces).  ``node`` is the declaring node for a declaration and the
    referring node otherwise (an expectation, a comparison …); ``via`` is the
    jurisdiction a demand was named through (``FR`` in ``FR.x`` for a demand
    that ``EU`` declares).
    """

    kind: Kind
    key: str
    span: Span
    definition: bool = False
    node: object | None = field(default=None, compare=False)
    via: str | None = None

    @property
    def name(self) -> str:
        return self.key.rsplit(".", 1)[-1]

    @property
    def path(self) -> str:
        return self.span.path

    @property
    def standard(self) -> bool:
        """Declared in (or written in) the standard vocabulary, not in the author's files."""
        return self.span.path.startswith(PRELUDE_PREFIX)


# --- walking the AST by its node types ------------------------------------------------

_NODE_TYPES: frozenset[type] = frozenset(
    obj
    for obj in vars(ast).values()
    if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == ast.__name__
)


_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type) -> tuple[str, ...]:
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.name != "span")
    return found


def child_nodes(node: object) -> Iterator[object]:
    """The AST nodes held by ``node``'s fields, in field order (tuples flattened)."""
    for name in _fields(type(node)):
        value = getattr(node, name)
        if type(value) is tuple:
            for item in value:
                if type(item) in _NODE_TYPES:
                    yield item
        elif type(value) in _NODE_TYPES:
            yield value


def node_span(node: object) -> Span | None:
    span = getattr(node, "span", None)
    return span if isinstance(span, Span) else None


def enclosing(root: object, offset: int) -> list[object]:
    """The nodes whose span holds ``offset``, outermost first (``root`` excluded)."""
    chain: list[object] = []
    node: object | None = root
    while node is not None:
        nxt = None
        for child in child_nodes(node):
            span = node_span(child)
            if span is not None and span.start <= offset <= span.end and span.end > span.start:
                nxt = child
                break
        if nxt is not None:
            chain.append(nxt)
        node = nxt
    return chain


def name_span(ref: ast.AttributeRef) -> Span:
    """The span of the name part of ``demand.kind`` (also inside ``{ demand.kind }``)."""
    text = ref.span.text
    at = text.rfind(ref.name)
    if at < 0:
        return ref.span
    return Span(ref.span.source, ref.span.start + at, ref.span.start + at + len(ref.name))


#: Ident fields that always name a jurisdiction or group, whatever node holds
#: them (every kind of test expectation has ``jurisdiction``).
_CODE_FIELDS = ("jurisdiction", "member_of")


@dataclass(frozen=True, slots=True)
class _Typed:
    """A bare value whose meaning comes from the attribute it is given to."""

    attribute: str
    symbol: ast.Symbol
    node: object | None


@dataclass(frozen=True, slots=True)
class _Demanded:
    """``RU.fsb_keys`` in a test: resolved through ``RU``'s groups."""

    code: str
    demand: ast.Ident
    node: object


@dataclass(frozen=True)
class FileIndex:
    path: str
    occurrences: tuple[Occurrence, ...]
    typed: tuple[_Typed, ...]
    demanded: tuple[_Demanded, ...]
    type_names: tuple[ast.Ident, ...]


@dataclass
class _Context:
    principle: str | None = None
    owner: str | None = None
    scope: str | None = None
    attribute: str | None = None
    enum: str | None = None
    parent: object | None = None


class _Collector:
    def __init__(self, path: str):
        self.path = path
        self.found: list[Occurrence] = []
        self.typed: list[_Typed] = []
        self.demanded: list[_Demanded] = []
        self.type_names: list[ast.Ident] = []
        self.ctx = _Context()

    # -- plumbing -----------------------------------------------------------

    def add(self, kind: Kind, key: str, span: Span, definition: bool = False, node: object | None = None) -> None:
        self.found.append(Occurrence(kind, key, span, definition, node))

    def visit(self, node: object) -> None:
        method = _visitor(type(node))
        if method is None:
            self.generic_visit(node)
        else:
            method(self, node)

    def generic_visit(self, node: object, skip: tuple[str, ...] = ()) -> None:
        saved = self.ctx
        ctx = dataclasses.replace(saved, parent=node)
        ref = getattr(node, "ref", None)
        if isinstance(ref, ast.AttributeRef):
            ctx.attribute = ref.dotted
        self.ctx = ctx
        try:
            for name in _fields(type(node)):
                if name in skip:
                    continue
                value = getattr(node, name)
                if name in _CODE_FIELDS and isinstance(value, ast.Ident):
                    self.add(Kind.JURISDICTION, value.name, value.span, node=node)
                    continue
                for item in value if type(value) is tuple else (value,):
                    if type(item) in _NODE_TYPES:
                        self.visit(item)
        finally:
            self.ctx = saved

    def within(self, node: object, skip: tuple[str, ...] = (), **changes: object) -> None:
        saved = self.ctx
        self.ctx = dataclasses.replace(saved, **changes)  # type: ignore[arg-type]
        try:
            self.generic_visit(node, skip)
        finally:
            self.ctx = saved

    # -- declarations ---------------------------------------------------------

    def visit_Principle(self, node: ast.Principle) -> None:
        self.add(Kind.PRINCIPLE, node.name.name, node.name.span, True, node)
        self.within(node, ("name",), principle=node.name.name)

    def visit_Rule(self, node: ast.Rule) -> None:
        if self.ctx.principle is not None:
            self.add(Kind.RULE, f"{self.ctx.principle}.{node.name.name}", node.name.span, True, node)
        self.generic_visit(node, ("name",))

    def visit_Jurisdiction(self, node: ast.Jurisdiction) -> None:
        self.add(Kind.JURISDICTION, node.code.name, node.code.span, True, node)
        self.within(node, ("code",), owner=node.code.name, scope="jurisdiction")

    def visit_Demand(self, node: ast.Demand) -> None:
        if self.ctx.owner is not None:
            self.add(Kind.DEMAND, f"{self.ctx.owner}.{node.name.name}", node.name.span, True, node)
        self.within(node, ("name",), scope="demand")

    def visit_EnumDecl(self, node: ast.EnumDecl) -> None:
        # `extend enum kind` refers to the enumeration; the values it adds are declared here.
        self.add(Kind.ENUM, node.name.name, node.name.span, not node.extension, node)
        self.within(node, ("name",), enum=node.name.name)

    def visit_EnumValue(self, node: ast.EnumValue) -> None:
        if self.ctx.enum is not None:
            self.add(Kind.VALUE, f"{self.ctx.enum}.{node.name.name}", node.name.span, True, node)
        self.generic_visit(node, ("name",))

    def visit_AttributeDecl(self, node: ast.AttributeDecl) -> None:
        self.add(Kind.ATTRIBUTE, node.ref.dotted, name_span(node.ref), True, node)
        self.type_names.append(node.type_name)
        # The default is typed by the attribute (`ref`), which generic_visit sees.
        self.generic_visit(node, ("type_name",))

    # -- references -------------------------------------------------------------

    def visit_AttributeRef(self, node: ast.AttributeRef) -> None:
        if isinstance(self.ctx.parent, ast.AttributeDecl):
            return  # the declaration itself, recorded by visit_AttributeDecl
        self.add(Kind.ATTRIBUTE, node.dotted, name_span(node), node=self.ctx.parent)

    def visit_Assignment(self, node: ast.Assignment) -> None:
        if self.ctx.scope is None:
            self.generic_visit(node, ("name",))
            return
        dotted = f"{self.ctx.scope}.{node.name.name}"
        self.add(Kind.ATTRIBUTE, dotted, node.name.span, node=node)
        self.within(node, ("name",), attribute=dotted)

    def visit_Symbol(self, node: ast.Symbol) -> None:
        if self.ctx.attribute is not None:
            self.typed.append(_Typed(self.ctx.attribute, node, self.ctx.parent))

    def _actions(self, names: tuple[ast.Ident, ...] | None, node: object) -> None:
        """Action names (in rules, conflicts and tests) are values of the enumeration `action`."""
        for ident in names or ():
            self.add(Kind.VALUE, f"{ACTION_ENUM}.{ident.name}", ident.span, node=node)

    def visit_RuleAction(self, node: ast.RuleAction) -> None:
        self._actions((node.name,), node)
        self.generic_visit(node, ("name",))

    def visit_ConflictDecl(self, node: ast.ConflictDecl) -> None:
        self._actions((node.first, *((node.second,) if isinstance(node.second, ast.Ident) else ())), node)
        self.generic_visit(node, ("first", "second") if isinstance(node.second, ast.Ident) else ("first",))

    def visit_InlineExpectation(self, node: ast.InlineExpectation) -> None:
        self._actions(node.actions, node)
        self.within(node, ("actions",), scope="demand")

    def visit_StandingExpectation(self, node: ast.StandingExpectation) -> None:
        self.demanded.append(_Demanded(node.jurisdiction.name, node.demand, node))
        self._actions(node.actions, node)
        self.generic_visit(node, ("demand", "actions"))

    def visit_MarketExpectation(self, node: ast.MarketExpectation) -> None:
        for ident in node.counted or ():
            self.demanded.append(_Demanded(node.jurisdiction.name, ident, node))
        self.generic_visit(node, ("counted",))

    def visit_DecidedBy(self, node: ast.DecidedBy) -> None:
        if node.principle is not None:
            self.add(Kind.PRINCIPLE, node.principle.name, node.principle.span, node=node)
            if node.rule is not None:
                self.add(Kind.RULE, f"{node.principle.name}.{node.rule.name}", node.rule.span, node=node)


_VISITORS: dict[type, Callable[[_Collector, Any], None] | None] = {}


def _visitor(node_type: type) -> Callable[[_Collector, Any], None] | None:
    if node_type not in _VISITORS:
        _VISITORS[node_type] = getattr(_Collector, f"visit_{node_type.__name__}", None)
    return _VISITORS[node_type]


def index_file(file: ast.PolicyFile) -> FileIndex:
    """Everything ``file`` declares and refers to, as far as it can be told from this file alone."""
    c = _Collector(file.path)
    for decl in file.declarations:
        c.visit(decl)
    return FileIndex(file.path, tuple(c.found), tuple(c.typed), tuple(c.demanded), tuple(c.type_names))


# --- the vocabulary as written -----------------------------------------------------------

#: The types that are not enumerations (`bool`, `number`, `text`), from the model.
BASIC_TYPES = frozenset(k.value for k in ValueKind if k not in (ValueKind.ENUM, ValueKind.CODE))


@dataclass(frozen=True)
class AttributeInfo:
    """What the vocabulary says about one attribute, read from its declaration.

    ``type_name`` is as written (``bool``, ``number``, ``text`` or an
    enumeration), or ``code`` for ``jurisdiction.code``; ``enum`` is set when
    it names a declared enumeration.  Built-in attributes come from the
    language itself (``builtin``)."""

    dotted: str
    type_name: str
    enum: str | None = None
    lo: float | None = None
    hi: float | None = None
    unknown_allowed: bool = False
    default: str | None = None
    description: str = ""
    builtin: bool = False
    decl: ast.AttributeDecl | None = None

    @property
    def scope(self) -> str:
        return self.dotted.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.dotted.split(".", 1)[1]

    @property
    def is_code(self) -> bool:
        return self.type_name == ValueKind.CODE.value and self.builtin

    @property
    def type_label(self) -> str:
        if self.is_code:
            return "jurisdiction code"
        text = self.type_name
        if self.lo is not None and self.hi is not None:
            text += f" from {self.lo:g} to {self.hi:g}"
        if self.unknown_allowed:
            text += " or unknown"
        return text


def _info_from_decl(decl: ast.AttributeDecl, enums: set[str]) -> AttributeInfo:
    type_name = decl.type_name.name
    rng = decl.value_range
    return AttributeInfo(
        decl.ref.dotted,
        type_name,
        enum=type_name if type_name in enums else None,
        lo=rng[0].value if rng else None,
        hi=rng[1].value if rng else None,
        unknown_allowed=decl.unknown_allowed,
        default=decl.default.span.text if decl.default is not None else None,
        description=decl.description.value if decl.description else "",
        decl=decl,
    )


def _info_from_builtin(attr: AttributeType) -> AttributeInfo:
    return AttributeInfo(
        attr.dotted,
        attr.enum or attr.kind.value,
        enum=attr.enum,
        unknown_allowed=attr.unknown_allowed,
        description=attr.description,
        builtin=True,
    )


# --- a policy set ----------------------------------------------------------------------------


class SetIndex:
    """The file indexes of one policy set, joined and resolved.

    ``builtins`` are the attributes the language declares itself
    (``jurisdiction.code`` …), taken from a validated policy set.
    """

    def __init__(self, files: Iterable[FileIndex], builtins: Iterable[AttributeType] = ()):
        self.files: dict[str, FileIndex] = {f.path: f for f in files}
        self._definitions: dict[tuple[Kind, str], list[Occurrence]] = {}
        for f in self.files.values():
            for o in f.occurrences:
                if o.definition:
                    self._definitions.setdefault((o.kind, o.key), []).append(o)
        self.enums: dict[str, list[ast.EnumValue]] = {}
        self._enum_decls: dict[str, list[ast.EnumDecl]] = {}
        for f in self.files.values():
            for o in f.occurrences:
                if o.kind is Kind.ENUM and isinstance(o.node, ast.EnumDecl):
                    self._enum_decls.setdefault(o.key, []).append(o.node)
        for name, decls in self._enum_decls.items():
            if any(not d.extension for d in decls):
                self.enums[name] = [v for d in sorted(decls, key=lambda d: d.extension) for v in d.values]
        known_enums = set(self.enums)
        self.attributes: dict[str, AttributeInfo] = {a.dotted: _info_from_builtin(a) for a in builtins if a.builtin}
        for (kind, key), defs in self._definitions.items():
            if kind is Kind.ATTRIBUTE and key not in self.attributes and isinstance(defs[0].node, ast.AttributeDecl):
                self.attributes[key] = _info_from_decl(defs[0].node, known_enums)
        self.parent: dict[str, str] = {}
        for (kind, key), defs in self._definitions.items():
            node = defs[0].node
            if kind is Kind.JURISDICTION and isinstance(node, ast.Jurisdiction) and node.member_of is not None:
                self.parent[key] = node.member_of.name
        self._by_file: dict[str, list[Occurrence]] = {}
        self._references: dict[tuple[Kind, str], list[Occurrence]] = {}
        for f in self.files.values():
            found = list(f.occurrences)
            found.extend(self._resolve(f))
            found.sort(key=lambda o: (o.span.start, -o.span.end))
            self._by_file[f.path] = found
            for o in found:
                self._references.setdefault((o.kind, o.key), []).append(o)
        self._starts = {path: [o.span.start for o in occ] for path, occ in self._by_file.items()}
        # Built on first use (completion, hovers): most analyses are followed by no such request.
        self._declarations: dict[Kind, list[Occurrence]] | None = None
        self._demands: dict[str, list[tuple[str, Occurrence]]] | None = None

    def _resolve(self, f: FileIndex) -> Iterator[Occurrence]:
        for t in f.typed:
            attr = self.attributes.get(t.attribute)
            if attr is None:
                continue
            if attr.enum is not None:
                yield Occurrence(Kind.VALUE, f"{attr.enum}.{t.symbol.name}", t.symbol.span, node=t.node)
            elif attr.is_code:
                yield Occurrence(Kind.JURISDICTION, t.symbol.name, t.symbol.span, node=t.node)
        for d in f.demanded:
            owner = self.demand_owner(d.code, d.demand.name) or d.code
            yield Occurrence(Kind.DEMAND, f"{owner}.{d.demand.name}", d.demand.span, node=d.node, via=d.code)
        for ident in f.type_names:
            if ident.name not in BASIC_TYPES:
                yield Occurrence(Kind.ENUM, ident.name, ident.span, node=None)

    # -- questions -----------------------------------------------------------------

    def chain(self, code: str) -> list[str]:
        """``code``, its group, that group's group … (stopping at a cycle)."""
        out = [code]
        while (nxt := self.parent.get(out[-1])) is not None and nxt not in out:
            out.append(nxt)
        return out

    def demand_owner(self, code: str, demand: str) -> str | None:
        """The jurisdiction or group in ``code``'s chain that declares ``demand``."""
        for link in self.chain(code):
            if (Kind.DEMAND, f"{link}.{demand}") in self._definitions:
                return link
        return None

    def demands_of(self, code: str) -> list[tuple[str, Occurrence]]:
        """``(id, declaration)`` of every demand ``code`` makes, inherited ones included, by id."""
        if self._demands is None:
            self._demands = {}
            for o in self.declarations(Kind.DEMAND):
                owner, _, did = o.key.partition(".")
                self._demands.setdefault(owner, []).append((did, o))
        seen: dict[str, Occurrence] = {}
        for link in self.chain(code):
            for did, o in self._demands.get(link, ()):
                seen.setdefault(did, o)
        return sorted(seen.items())

    def definitions(self, kind: Kind, key: str) -> list[Occurrence]:
        return list(self._definitions.get((kind, key), ()))

    def declarations(self, kind: Kind) -> list[Occurrence]:
        """The first declaration of every ``kind`` of thing, sorted by key."""
        if self._declarations is None:
            self._declarations = {k: [] for k in Kind}
            for (k, _), defs in sorted(self._definitions.items(), key=lambda kv: kv[0][1]):
                self._declarations[k].append(defs[0])
        return list(self._declarations[kind])

    def references(self, kind: Kind, key: str) -> list[Occurrence]:
        """Every occurrence of the thing, its declarations included, in file order."""
        return sorted(self._references.get((kind, key), ()), key=lambda o: (o.path, o.span.start))

    def occurrences(self, path: str) -> Sequence[Occurrence]:
        return self._by_file.get(path, ())

    def at(self, path: str, offset: int) -> Occurrence | None:
        """The occurrence at ``offset`` (touching either end of the name counts), innermost first."""
        found = self._by_file.get(path)
        if not found:
            return None
        starts = self._starts[path]
        i = bisect.bisect_right(starts, offset)
        best: Occurrence | None = None
        for o in reversed(found[max(0, i - 8) : i]):
            size = o.span.end - o.span.start
            if o.span.start <= offset <= o.span.end and (best is None or size < best.span.end - best.span.start):
                best = o
        return best

    def is_group(self, code: str) -> bool:
        defs = self._definitions.get((Kind.JURISDICTION, code), [])
        return bool(defs) and isinstance(defs[0].node, ast.Jurisdiction) and defs[0].node.is_group

    def members(self, group: str) -> list[str]:
        """Every jurisdiction whose chain passes through ``group`` (members of member groups too)."""
        codes = [k for (kind, k) in self._definitions if kind is Kind.JURISDICTION and k != group]
        return sorted(c for c in codes if group in self.chain(c)[1:])

    def enum_values(self, enum_name: str) -> list[ast.EnumValue]:
        return list(self.enums.get(enum_name, ()))
