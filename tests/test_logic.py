"""The one Kleene core (language/logic.py) and the one interval algebra (language/intervals.py).

The truth tables are checked exhaustively against their textbook definition
(false < unknown < true; ``and`` is the least, ``or`` the greatest); both forms
of a junction (over values, over closures) against each other; atoms and whole
conditions against the reference evaluator of the tests; and the interval
algebra against membership of sample points.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from reference_evaluator import atom_truth, truth

from policyengine.evaluation.compile import compile_condition
from policyengine.language import ast, intervals, logic

VALUES: tuple[bool | None, ...] = (True, False, None)
_RANK = {False: 0, None: 1, True: 2}


def _least(values: tuple[bool | None, ...]) -> bool | None:
    return min(values, key=lambda v: _RANK[v], default=True)


def _greatest(values: tuple[bool | None, ...]) -> bool | None:
    return max(values, key=lambda v: _RANK[v], default=False)


def test_not_is_kleene() -> None:
    assert [logic.negate(v) for v in VALUES] == [False, True, None]


def test_junctions_follow_the_tables_for_every_combination_of_up_to_five_operands() -> None:
    for n in range(6):
        for values in itertools.product(VALUES, repeat=n):
            assert logic.conjunction(values) is _least(values), values
            assert logic.disjunction(values) is _greatest(values), values
            for is_all in (True, False):
                unknown = None in values
                settled = logic.decisive(is_all) in values
                expected = logic.decisive(is_all) if settled else logic.settle(is_all, unknown)
                assert logic.junction(is_all, values) is expected


def test_closures_give_the_same_values_and_stop_at_the_first_decisive_operand() -> None:
    for n in range(6):
        for values in itertools.product(VALUES, repeat=n):
            for is_all in (True, False):
                calls: list[int] = []

                def part(k: int, values: tuple[bool | None, ...] = values, calls: list[int] = calls) -> Any:
                    def value(d: object, j: object) -> bool | None:
                        calls.append(k)
                        return values[k]

                    return value

                closure = logic.junction_of(is_all, tuple(part(k) for k in range(n)))
                assert closure(None, None) is logic.junction(is_all, values)
                decisive = logic.decisive(is_all)
                stop = values.index(decisive) + 1 if decisive in values else n
                assert calls == list(range(stop))
                assert logic.negation(closure)(None, None) is logic.negate(logic.junction(is_all, values))


# --- atoms and conditions against the reference evaluator -------------------------------------


def node(cls: Any, *fields: Any) -> Any:
    """An AST node without a source span (equality ignores spans)."""
    return cls(*fields, None)


REFS = [
    node(ast.AttributeRef, "demand", "kind"),
    node(ast.AttributeRef, "demand", "users"),
    node(ast.AttributeRef, "jurisdiction", "flag"),
]
SYMBOLS = ["a", "b", "c"]
NUMBERS = [0.0, 0.5, 1.0]


def _atom(draw: st.DrawFn) -> ast.Condition:
    which = draw(st.integers(0, 2))
    ref = REFS[which]
    if which == 0:
        shape = draw(st.sampled_from(["eq", "in", "known"]))
        if shape == "eq":
            return node(
                ast.Comparison, ref, draw(st.sampled_from(["==", "!="])), node(ast.Symbol, draw(st.sampled_from(SYMBOLS)))
            )
        if shape == "in":
            vals = draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=3, unique=True))
            return node(ast.Membership, ref, tuple(node(ast.Symbol, v) for v in vals), draw(st.booleans()))
        return node(ast.KnownTest, ref, draw(st.booleans()))
    if which == 1:
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
        return node(ast.Comparison, ref, op, node(ast.Number, draw(st.sampled_from(NUMBERS)), "x"))
    return draw(st.sampled_from([node(ast.TruthTest, ref), node(ast.KnownTest, ref, True)]))


@st.composite
def conditions(draw: st.DrawFn, depth: int = 0) -> ast.Condition:
    shape = draw(st.sampled_from(["atom", "atom", "not", "and", "or"])) if depth < 3 else "atom"
    if shape == "atom":
        return _atom(draw)
    if shape == "not":
        return node(ast.Not, draw(conditions(depth + 1)))
    parts = tuple(draw(st.lists(conditions(depth + 1), min_size=2, max_size=3)))
    return node(ast.AllOf, parts) if shape == "and" else node(ast.AnyOf, parts)


environments = st.fixed_dictionaries(
    {
        "demand.kind": st.sampled_from([*SYMBOLS, "d", None]),
        "demand.users": st.sampled_from([*NUMBERS, 0.25, 2.0, -1.0, None]),
        "jurisdiction.flag": st.sampled_from([True, False, None]),
    }
)


@settings(max_examples=400, deadline=None)
@given(condition=conditions(), env=environments)
def test_compiled_conditions_agree_with_the_reference(condition: ast.Condition, env: dict[str, Any]) -> None:
    d = {"kind": env["demand.kind"], "users": env["demand.users"]}
    j = {} if env["jurisdiction.flag"] is None else {"flag": env["jurisdiction.flag"]}
    assert compile_condition(condition)(d, j) is truth(condition, env)


@settings(max_examples=300, deadline=None)
@given(atom=st.composite(_atom)(), env=environments)
def test_value_tests_agree_with_the_reference(atom: ast.Condition, env: dict[str, Any]) -> None:
    value = env[atom.ref.dotted]  # type: ignore[union-attr]
    assert logic.value_test(atom)(value) is atom_truth(atom, value)


@settings(max_examples=300, deadline=None)
@given(atom=st.composite(_atom)(), env=environments)
def test_field_tests_read_and_test_as_value_tests_do_in_either_scope(atom: ast.Condition, env: dict[str, Any]) -> None:
    # The hot path's fused form: the same truth from the demand (always
    # present) and from the jurisdiction (absent means unknown).
    name, value = atom.ref.name, env[atom.ref.dotted]  # type: ignore[union-attr]
    expected = logic.value_test(atom)(value)
    assert logic.field_test(atom, True)({name: value}, {}) is expected
    assert logic.field_test(atom, False)({}, {name: value}) is expected
    assert logic.field_test(atom, False)({}, {}) is logic.value_test(atom)(None)


# --- intervals --------------------------------------------------------------------------------

POINTS = [-intervals.INF, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, intervals.INF]
CUTS = [-1.0, 0.0, 1.0]
OPS = ["<", "<=", ">", ">=", "=="]
_COMPARE = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__, "==": float.__eq__}


def test_an_interval_holds_exactly_the_numbers_its_comparison_holds_for() -> None:
    for op, x, v in itertools.product(OPS, CUTS, POINTS[1:-1]):
        iv = intervals.of_comparison(op, x)
        assert iv is not None
        assert intervals.contains(iv, v) is _COMPARE[op](v, x), (op, x, v)
        negated = intervals.of_comparison(intervals.negated_op(op), x)
        if negated is not None:
            assert intervals.contains(negated, v) is not _COMPARE[op](v, x)
    assert intervals.of_comparison("!=", 1.0) is None


def test_intersections_hold_the_numbers_of_both_and_emptiness_is_exact() -> None:
    comparisons = [intervals.of_comparison(op, x) for op in OPS for x in CUTS]
    samples = [v / 4 for v in range(-12, 13)]
    for a, b in itertools.product(comparisons, repeat=2):
        assert a is not None and b is not None
        both = intervals.intersect(a, b)
        inside = [v for v in samples if intervals.contains(a, v) and intervals.contains(b, v)]
        assert [v for v in samples if intervals.contains(both, v)] == inside
        # The cuts are multiples of a quarter apart, so a non-empty intersection holds a sample.
        assert intervals.is_empty(both) is (not inside), (a, b)


def test_regions_cut_a_range_so_that_every_comparison_is_constant_inside_each() -> None:
    for lo, hi in ((-intervals.INF, intervals.INF), (0.0, 1.0), (-1.0, intervals.INF)):
        regions = intervals.regions(lo, hi, CUTS)
        for iv, rep in regions:
            assert intervals.contains(iv, rep)
            inside = [v / 8 for v in range(-24, 25) if intervals.contains(iv, v / 8)]
            for op, x in itertools.product(OPS, CUTS):
                assert len({_COMPARE[op](v, x) for v in inside}) <= 1
        # Together they are the range again, with no overlap.
        merged = intervals.merge(iv for iv, _ in regions)
        assert len(merged) == 1 and merged[0][:2] == (lo, hi)
