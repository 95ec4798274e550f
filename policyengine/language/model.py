"""The validated, resolved form of a policy set.

Stage contract: :mod:`policyengine.validate` builds a :class:`PolicySet` only
when a policy set has no errors; compilation, testing and analysis read it.
Everything here is resolved: types are known, group attributes are inherited,
inherited demands are listed, rules are sorted by ``principle.rule`` so that
nothing downstream depends on the order of files or declarations.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from . import ast
from .source import Source, Span

#: The value of an attribute: an enumeration value or text (str), a bool, a
#: number (float), a date, several texts (a tuple, for ``list of text``), or
#: None for unknown.
Value = str | bool | float | datetime.date | tuple[str, ...] | None


class Kind(str, enum.Enum):
    ENUM = "enum"
    BOOL = "bool"
    NUMBER = "number"
    TEXT = "text"
    CODE = "code"  # jurisdiction.code: one of the loaded jurisdiction codes
    DATE = "date"  # a calendar day (datetime.date); ordered like numbers
    TEXTS = "list of text"  # several texts (tuple[str, ...]): citations, for people to read


OUTCOMES = ("comply", "negotiate", "withdraw")
SEVERITY = {"comply": 0, "negotiate": 1, "withdraw": 2}


@dataclass(frozen=True)
class AttributeType:
    """The declared type of one attribute."""

    scope: str
    name: str
    kind: Kind
    enum: str | None = None
    values: tuple[str, ...] = ()
    lo: float | None = None
    hi: float | None = None
    unknown_allowed: bool = False
    default: Value = None
    has_default: bool = False
    description: str = ""
    builtin: bool = False
    span: Span | None = field(default=None, compare=False)

    @property
    def dotted(self) -> str:
        return f"{self.scope}.{self.name}"

    @property
    def required(self) -> bool:
        """A value must be given: no default and unknown is not allowed."""
        return not self.has_default and not self.unknown_allowed and not self.builtin

    @property
    def type_label(self) -> str:
        if self.kind is Kind.ENUM:
            return f"`{self.enum}` value"
        if self.kind is Kind.CODE:
            return "jurisdiction code"
        return {"bool": "true or false", "number": "number", "text": "text", "date": "date", "list of text": "list of text"}[
            self.kind.value
        ]

    @property
    def testable(self) -> bool:
        """Whether conditions may test it (texts are for people: `because` texts and explanations)."""
        return self.kind not in (Kind.TEXT, Kind.TEXTS)

    @property
    def ordered(self) -> bool:
        """Whether ``<``, ``<=``, ``>`` and ``>=`` apply (numbers and dates)."""
        return self.kind in (Kind.NUMBER, Kind.DATE)


#: The enumeration whose values rules may name after ``actions``.
ACTION_ENUM = "action"


@dataclass(frozen=True)
class Conflict:
    """Two things that cannot both hold, from a vocabulary's ``conflict`` line:
    ``first`` is an action; ``second`` an action or a bool attribute
    (``demand.gag_order``); ``why`` says which one wins, for people."""

    first: str
    second: str
    why: str
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Vocabulary:
    enums: dict[str, tuple[str, ...]]
    enum_descriptions: dict[tuple[str, str], str]
    attributes: dict[str, AttributeType]  # keyed by "scope.name"
    conflicts: tuple[Conflict, ...] = ()

    @property
    def actions(self) -> tuple[str, ...]:
        """The values of the `action` enumeration: what rules may ask for."""
        return self.enums.get(ACTION_ENUM, ())

    def attribute(self, scope: str, name: str) -> AttributeType | None:
        return self.attributes.get(f"{scope}.{name}")

    def scoped(self, scope: str) -> list[AttributeType]:
        return [a for a in self.attributes.values() if a.scope == scope]


@dataclass(frozen=True)
class DemandModel:
    """A standing demand, with the attributes the author gave (defaults applied)."""

    id: str
    description: str
    owner: str  # the jurisdiction or group that declared it
    attrs: dict[str, Value]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class JurisdictionModel:
    code: str
    name: str
    is_group: bool
    chain: tuple[str, ...]  # itself first, then its group, that group's group, ...
    attrs: dict[str, Value]
    attr_origin: dict[str, str]  # attribute → code of the jurisdiction that set it ("" = default)
    demands: tuple[DemandModel, ...]
    members: tuple[str, ...]
    span: Span = field(compare=False)

    def demand(self, demand_id: str) -> DemandModel | None:
        for d in self.demands:
            if d.id == demand_id:
                return d
        return None


@dataclass(frozen=True)
class ActionModel:
    """An action a rule attaches to its outcome: ``name`` is a value of the
    `action` enumeration; ``within_hours`` the deadline (None: none);
    ``condition`` when the action applies (None: always), an AST condition
    like a rule's own."""

    name: str
    within_hours: float | None
    condition: ast.Condition | None
    span: Span | None = field(default=None, compare=False)


class Deferred(Protocol):
    """Fields of a model object held back until first read (see :func:`undefer`)."""

    def decode(self) -> dict[str, Any]:
        """The held-back fields, by name."""
        ...


#: The key of the held-back fields in a model object's ``__dict__``.
DEFERRED = "_deferred"


def undefer(obj: Any, name: str) -> Any:
    """The held-back field ``name`` of ``obj``, decoded now with the fields that came with it.

    The load cache (``evaluation/cache.py``) restores a :class:`RuleModel`
    without its condition and ``because`` text, and a :class:`PolicySet`
    without its files' syntax trees, and puts a :class:`Deferred` under
    :data:`DEFERRED` instead: most of a large set's objects are there, and a
    load that decodes them only when something reads them is several times
    faster and smaller.  Reading such a field (``__getattr__`` runs only for
    an attribute the object lacks) decodes them and stores them on the
    object, as if they had always been there.  Two threads reading at once
    may both decode; each stores equal values."""
    fields = obj.__dict__
    pending = fields.get(DEFERRED)
    if pending is None:
        if name in fields:  # another thread decoded them since this lookup missed
            return fields[name]
        raise AttributeError(f"{type(obj).__name__!r} object has no attribute {name!r}")
    values = pending.decode()
    if name not in values:
        raise AttributeError(f"{type(obj).__name__!r} object has no attribute {name!r}")
    for key, value in values.items():
        object.__setattr__(obj, key, value)
    fields.pop(DEFERRED, None)  # (after the fields: a reader sees one or the other)
    return values[name]


@dataclass(frozen=True)
class RuleModel:
    principle: str
    statement: str
    rule: str
    outcome: str
    condition: ast.Condition
    because: ast.Template
    span: Span = field(compare=False)
    actions: tuple[ActionModel, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.principle}.{self.rule}"

    if not TYPE_CHECKING:  # (to the type checker the fields are always there)

        def __getattr__(self, name):
            return undefer(self, name)


@dataclass(frozen=True)
class PolicySet:
    vocabulary: Vocabulary
    jurisdictions: dict[str, JurisdictionModel]
    rules: tuple[RuleModel, ...]
    principles: dict[str, tuple[str, Span]]  # id → (statement, span)
    tests: tuple[ast.Test, ...]
    files: tuple[ast.PolicyFile, ...]
    sources: tuple[Source, ...]
    version: str

    if not TYPE_CHECKING:

        def __getattr__(self, name):
            return undefer(self, name)

    def rule(self, qualified: str) -> RuleModel | None:
        for r in self.rules:
            if r.qualified == qualified:
                return r
        return None
