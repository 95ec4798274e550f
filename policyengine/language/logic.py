"""Three-valued (Kleene) logic: the one definition of what a condition means over unknowns.

Stage contract: pure functions, no state.  A truth value is ``True``,
``False`` or ``None`` (unknown).  Every place that combines truth values —
the compiled closures that decide (``evaluation/compile.py``), the residuals
the demand space specialises (``analysis/space.py``), the explanations — uses
these, so the tables below are written once:

=========  =========  =========  =========
``a``      ``b``      ``a and b`` ``a or b``
=========  =========  =========  =========
true       unknown    unknown    true
false      unknown    false      unknown
unknown    unknown    unknown    unknown
=========  =========  =========  =========

and ``not unknown`` is unknown.  A junction is settled by its *decisive*
value (false for ``and``, true for ``or``) as soon as one operand has it,
whatever the others are, unknown included; otherwise it is unknown if an
operand is, else the other value.  An atom compares a known value as Python
does and is unknown on an unknown value; only ``is known`` / ``is unknown``
look at unknown itself.

The same junction comes in two forms: :func:`junction` over values, and
:func:`junction_of` over closures, which is what the decide hot path calls
(a loop over closures, not a generator over their results, keeps a decision
as fast as when compile wrote its own).  ``tests/test_logic.py`` checks both
forms against the tables, exhaustively, and against a reference evaluator.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import TypeVar

from . import ast
from .model import Value

#: A truth value: True, False or None (unknown).
Truth = bool | None

_D = TypeVar("_D")
_J = TypeVar("_J")

OPS: dict[str, Callable[[object, object], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,  # type: ignore[dict-item]
    "<=": operator.le,  # type: ignore[dict-item]
    ">": operator.gt,  # type: ignore[dict-item]
    ">=": operator.ge,  # type: ignore[dict-item]
}


def literal_value(lit: ast.Literal) -> Value:
    """The value a literal of a condition stands for (``unknown`` is None)."""
    if isinstance(lit, ast.Symbol):
        return lit.name
    if isinstance(lit, ast.Unknown):
        return None
    return lit.value


def negate(t: Truth) -> Truth:
    """Kleene ``not``."""
    return None if t is None else not t


def decisive(is_all: bool) -> bool:
    """The operand value that settles a junction: False for ``and``, True for ``or``."""
    return not is_all


def settle(is_all: bool, unknown: bool) -> Truth:
    """The value of a junction that no operand settled: unknown if one was unknown, else
    the other value (True for ``and``, False for ``or``; an empty ``and`` is true)."""
    return None if unknown else is_all


def junction(is_all: bool, values: Iterable[Truth]) -> Truth:
    """Kleene ``and`` (``is_all``) or ``or`` of ``values``."""
    settles = not is_all
    unknown = False
    for v in values:
        if v is settles:
            return settles
        if v is None:
            unknown = True
    return None if unknown else is_all


def conjunction(values: Iterable[Truth]) -> Truth:
    return junction(True, values)


def disjunction(values: Iterable[Truth]) -> Truth:
    return junction(False, values)


def negation(inner: Callable[[_D, _J], Truth]) -> Callable[[_D, _J], Truth]:
    """A closure for ``not inner``."""

    def negated(d: _D, j: _J) -> Truth:
        r = inner(d, j)
        return None if r is None else not r

    return negated


def junction_of(is_all: bool, parts: tuple[Callable[[_D, _J], Truth], ...]) -> Callable[[_D, _J], Truth]:
    """A closure for the Kleene ``and``/``or`` of ``parts``: :func:`junction` over their results,
    evaluated left to right and stopping at the first decisive one."""
    settles = not is_all
    if len(parts) == 2:
        # Most junctions have two operands; unrolled, they cost one call each.
        first, second = parts
        if is_all:

            def both(d: _D, j: _J) -> Truth:
                a = first(d, j)
                if a is False:
                    return False
                b = second(d, j)
                if b is False:
                    return False
                return None if a is None or b is None else True

            return both

        def either(d: _D, j: _J) -> Truth:
            a = first(d, j)
            if a is True:
                return True
            b = second(d, j)
            if b is True:
                return True
            return None if a is None or b is None else False

        return either

    def combined(d: _D, j: _J) -> Truth:
        unknown = False
        for part in parts:
            r = part(d, j)
            if r is settles:
                return settles
            if r is None:
                unknown = True
        return None if unknown else is_all

    return combined


def value_test(node: ast.Condition) -> Callable[[Value], Truth]:
    """The truth of one atom (comparison, membership, known test, truth test) for a value,
    its constants read once: analysis calls it millions of times on large sets."""
    if isinstance(node, ast.KnownTest):
        known = node.known
        return lambda v: (v is not None) is known
    if isinstance(node, ast.Membership):
        values = frozenset(literal_value(v) for v in node.values)
        if node.negated:
            return lambda v: None if v is None else v not in values
        return lambda v: None if v is None else v in values
    if isinstance(node, ast.Comparison):
        op = OPS[node.op]
        const = literal_value(node.value)
        return lambda v: None if v is None else op(v, const)
    assert isinstance(node, ast.TruthTest)
    # Validation allows a truth test only on a bool attribute, whose value
    # (True, False or None for unknown) is its own truth value.
    return lambda v: v  # type: ignore[return-value]


def field_test(node: ast.Condition, on_demand: bool) -> Callable[[dict[str, Value], dict[str, Value]], Truth]:
    """:func:`value_test` of the atom's attribute, read from (demand, jurisdiction) in one closure.

    The decide hot path's form: a rule's atoms are called for every candidate
    rule of every decision, and reading the value and testing it in one call
    halves their cost.  A demand is normalised (every attribute present), so it
    is indexed; a jurisdiction without the attribute has it unknown.  The
    tests are :func:`value_test`'s, which tests/test_logic.py holds both to.
    """
    assert isinstance(node, (ast.Comparison, ast.Membership, ast.KnownTest, ast.TruthTest))
    name = node.ref.name
    if isinstance(node, ast.Membership):
        values = frozenset(literal_value(v) for v in node.values)
        if node.negated:
            if on_demand:
                return lambda d, j: None if (v := d[name]) is None else v not in values
            return lambda d, j: None if (v := j.get(name)) is None else v not in values
        if on_demand:
            return lambda d, j: None if (v := d[name]) is None else v in values
        return lambda d, j: None if (v := j.get(name)) is None else v in values
    if isinstance(node, ast.Comparison):
        op = OPS[node.op]
        const = literal_value(node.value)
        if on_demand:
            return lambda d, j: None if (v := d[name]) is None else op(v, const)
        return lambda d, j: None if (v := j.get(name)) is None else op(v, const)
    if isinstance(node, ast.KnownTest):
        known = node.known
        if on_demand:
            return lambda d, j: (d[name] is not None) is known
        return lambda d, j: (j.get(name) is not None) is known
    # Validation allows a truth test only on a bool attribute, whose value
    # (True, False or None for unknown) is its own truth value.
    if on_demand:
        return lambda d, j: d[name]  # type: ignore[return-value]
    return lambda d, j: j.get(name)  # type: ignore[return-value]
