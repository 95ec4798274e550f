"""The typed syntax tree of the policy language.

Stage contract: :mod:`policyengine.transform` builds these nodes from Lark's
parse tree; validation, compilation, formatting and analysis read them.  Nodes
are frozen and slotted.  Every node carries a :class:`~policyengine.source.Span`
that is excluded from ``==`` and ``hash``, so tests compare structure and two
files that differ only in layout parse to equal trees.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from .source import Span


def _span() -> Span:
    return field(compare=False, hash=False, repr=False)  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Ident:
    """A name as written, with its own span so diagnostics can point at it."""

    name: str
    span: Span = _span()


# --- literals ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Symbol:
    """A bare name used as a value: an enumeration value or a jurisdiction code."""

    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Number:
    value: float
    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Text:
    """A string literal: ``value`` with escapes resolved, ``raw`` as written
    between the quotes (``triple`` for a triple-quoted string)."""

    value: str
    span: Span = _span()
    raw: str = field(compare=False, hash=False, repr=False, default="")
    triple: bool = field(compare=False, hash=False, repr=False, default=False)


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Unknown:
    """The literal ``unknown``: an attribute whose value nobody knows."""

    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Date:
    """A calendar date, ``2024-05-17``.  ``value`` is None when the text names
    no day (``2024-02-30``); the transform has then reported PE222."""

    value: datetime.date | None
    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TextList:
    """``["a", "b"]``: the value of a ``list of text`` attribute.  ``items``
    keeps every literal as written so the validator can say which one is not
    a text."""

    items: tuple[Symbol | Number | Text | Bool | Unknown | Date, ...]
    span: Span = _span()

    @property
    def value(self) -> tuple[str, ...]:
        return tuple(i.value for i in self.items if isinstance(i, Text))


Literal = Symbol | Number | Text | Bool | Unknown | Date | TextList


# --- conditions -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttributeRef:
    """``demand.kind`` or ``jurisdiction.rule_of_law``."""

    scope: str  # "demand" | "jurisdiction"
    name: str
    span: Span = _span()

    @property
    def dotted(self) -> str:
        return f"{self.scope}.{self.name}"


@dataclass(frozen=True, slots=True)
class Comparison:
    """``ref <op> value`` with op one of == != < <= > >=."""

    ref: AttributeRef
    op: str
    value: Literal
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Membership:
    """``ref in {a, b}`` or, negated, ``ref not in {a, b}``."""

    ref: AttributeRef
    values: tuple[Literal, ...]
    negated: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class KnownTest:
    """``ref is known`` / ``ref is unknown``: the only tests that see unknown."""

    ref: AttributeRef
    known: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TruthTest:
    """A boolean attribute on its own: ``demand.mandatory``."""

    ref: AttributeRef
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AllOf:
    operands: tuple[Condition, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AnyOf:
    operands: tuple[Condition, ...]
    span: Span = _span()


Condition = Comparison | Membership | KnownTest | TruthTest | Not | AllOf | AnyOf


# --- principles -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placeholder:
    """``{demand.kind}`` inside a ``because`` text."""

    ref: AttributeRef
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Template:
    """A ``because`` text: literal parts and placeholders, in order.

    ``text`` keeps the literal as written so the formatter can reproduce it.
    """

    parts: tuple[str | Placeholder, ...]
    text: Text
    span: Span = _span()

    def placeholders(self) -> list[Placeholder]:
        return [p for p in self.parts if isinstance(p, Placeholder)]


@dataclass(frozen=True, slots=True)
class Duration:
    """``24h`` or ``10d``, as hours."""

    hours: float
    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RuleAction:
    """``notify_user within 24h when not demand.gag_order``: an action a rule
    attaches to its outcome, with an optional deadline and condition."""

    name: Ident
    within: Duration | None
    condition: Condition | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Rule:
    name: Ident
    outcome: str  # "comply" | "negotiate" | "withdraw"
    condition: Condition
    because: Template
    span: Span = _span()
    actions: tuple[RuleAction, ...] = ()


@dataclass(frozen=True, slots=True)
class Principle:
    name: Ident
    statement: Text
    rules: tuple[Rule, ...]
    span: Span = _span()


# --- vocabulary -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnumValue:
    name: Ident
    description: Text | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class EnumDecl:
    """``enum NAME "description" { values }``; ``extension`` for ``extend enum``."""

    name: Ident
    description: Text | None
    values: tuple[EnumValue, ...]
    extension: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AttributeDecl:
    """``attribute scope.name: type [from lo to hi] [or unknown] [= default] ["doc"]``.

    ``is_list`` for ``list of <type_name>``."""

    ref: AttributeRef
    type_name: Ident
    value_range: tuple[Number, Number] | None
    unknown_allowed: bool
    default: Literal | None
    description: Text | None
    span: Span = _span()
    is_list: bool = False


@dataclass(frozen=True, slots=True)
class ConflictDecl:
    """``conflict notify_user, demand.gag_order "why"``: two actions, or an
    action and a true attribute, that cannot both hold, and which wins."""

    first: Ident
    second: Ident | AttributeRef
    why: Text
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Vocabulary:
    enums: tuple[EnumDecl, ...]
    attributes: tuple[AttributeDecl, ...]
    span: Span = _span()
    conflicts: tuple[ConflictDecl, ...] = ()


# --- jurisdictions ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assignment:
    name: Ident
    value: Literal
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Demand:
    name: Ident
    description: Text
    assignments: tuple[Assignment, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """A country (``jurisdiction``) or a group of them (``group``)."""

    code: Ident
    display_name: Text
    member_of: Ident | None
    assignments: tuple[Assignment, ...]
    demands: tuple[Demand, ...]
    is_group: bool
    span: Span = _span()


# --- tests ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecidedBy:
    """``by principle.rule``, or ``by default`` when ``rule`` is None."""

    principle: Ident | None
    rule: Ident | None
    span: Span = _span()

    @property
    def is_default(self) -> bool:
        return self.rule is None


@dataclass(frozen=True, slots=True)
class StandingExpectation:
    """``RU.fsb_keys [as of DATE] -> withdraw [by encryption.no_keys] [actions {…}]``.

    ``as_of``: the evaluation date (None: today); ``actions``: the exact set of
    actions expected (None: not checked)."""

    jurisdiction: Ident
    demand: Ident
    outcome: str
    decided_by: DecidedBy | None
    span: Span = _span()
    as_of: datetime.date | None = None
    actions: tuple[Ident, ...] | None = None


@dataclass(frozen=True, slots=True)
class InlineExpectation:
    """``FR { kind = user_data; ... } [as of DATE] -> comply [by ...] [actions {…}]``."""

    jurisdiction: Ident
    assignments: tuple[Assignment, ...]
    outcome: str
    decided_by: DecidedBy | None
    span: Span = _span()
    as_of: datetime.date | None = None
    actions: tuple[Ident, ...] | None = None


@dataclass(frozen=True, slots=True)
class MarketExpectation:
    """``market RU [as of 2015-01-01] -> withdraw [counting {fsb_keys}]``."""

    jurisdiction: Ident
    outcome: str
    span: Span = _span()
    as_of: datetime.date | None = None
    counted: tuple[Ident, ...] | None = None


Expectation = StandingExpectation | InlineExpectation | MarketExpectation


@dataclass(frozen=True, slots=True)
class Test:
    description: Text
    expectations: tuple[Expectation, ...]
    span: Span = _span()


Declaration = Vocabulary | Principle | Jurisdiction | Test


@dataclass(frozen=True, slots=True)
class PolicyFile:
    path: str
    declarations: tuple[Declaration, ...]
    span: Span = _span()


def walk_condition(condition: Condition) -> list[Condition]:
    """Every node of a condition, parents before children, without recursion."""
    out: list[Condition] = []
    stack: list[Condition] = [condition]
    while stack:
        node = stack.pop()
        out.append(node)
        if isinstance(node, Not):
            stack.append(node.operand)
        elif isinstance(node, (AllOf, AnyOf)):
            stack.extend(reversed(node.operands))
    return out
