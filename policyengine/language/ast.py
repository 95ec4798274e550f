"""The typed syntax tree of the policy language.

Stage contract: :mod:`policyengine.transform` builds these nodes from Lark's
parse tree; validation, compilation, formatting and analysis read them.  Nodes
are frozen and slotted.  Every node carries a :class:`~policyengine.source.Span`
that is excluded from ``==`` and ``hash``, so tests compare structure and two
files that differ only in layout parse to equal trees.
"""

from __future__ import annotations

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


Literal = Symbol | Number | Text | Bool | Unknown


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
class Rule:
    name: Ident
    outcome: str  # "comply" | "negotiate" | "withdraw"
    condition: Condition
    because: Template
    span: Span = _span()


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
    """``attribute scope.name: type [from lo to hi] [or unknown] [= default] ["doc"]``."""

    ref: AttributeRef
    type_name: Ident
    value_range: tuple[Number, Number] | None
    unknown_allowed: bool
    default: Literal | None
    description: Text | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Vocabulary:
    enums: tuple[EnumDecl, ...]
    attributes: tuple[AttributeDecl, ...]
    span: Span = _span()


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
    """``RU.fsb_keys -> withdraw [by encryption.no_keys]``."""

    jurisdiction: Ident
    demand: Ident
    outcome: str
    decided_by: DecidedBy | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class InlineExpectation:
    """``FR { kind = user_data; ... } -> comply [by ...]``."""

    jurisdiction: Ident
    assignments: tuple[Assignment, ...]
    outcome: str
    decided_by: DecidedBy | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MarketExpectation:
    """``market RU -> withdraw``."""

    jurisdiction: Ident
    outcome: str
    span: Span = _span()


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
