"""The demand space: classes are exact (every member decides like the representative) and complete."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policyengine
from policyengine.analysis.space import DemandSpace, ValueClass, demand_space, lower, partition, specialise
from policyengine.evaluation.compile import compile_condition
from policyengine.evaluation.decision import Decision
from policyengine.evaluation.engine import Engine
from policyengine.language import ast
from policyengine.language.model import SEVERITY, AttributeType, Kind

# Every construct the language has: numbers with points and intervals, `is
# known`/`is unknown`, booleans, `not`, `or`, jurisdiction codes, group
# inheritance, an enumeration on jurisdictions, an unknown score.
RICH = """
vocabulary {
    attribute demand.users: number from 0 to 1000000 or unknown "how many users the demand affects"
    attribute demand.urgent: bool = false "the authority says lives are at risk"
    enum tier "how the platform rates a market" { low, mid, high }
    attribute jurisdiction.tier: tier = low "market tier"
    attribute jurisdiction.eu_member: bool = false "member of the EU"
}

group EU "European Union" { eu_member = true; tier = high }
jurisdiction FR "France" in EU { rule_of_law = 0.72 }
jurisdiction HU "Hungary" in EU { rule_of_law = 0.51 }
jurisdiction RU "Russia" { rule_of_law = 0.37 }
jurisdiction BY "Belarus" { rule_of_law = 0.37 }
jurisdiction TW "Taiwan" { rule_of_law = unknown; tier = mid }
jurisdiction US "United States" { rule_of_law = 0.7; tier = mid }
jurisdiction JP "Japan" { rule_of_law = 0.78 }

principle keys "Keys" {
    rule no_keys: withdraw when demand.kind in {key_disclosure, encryption_backdoor, traceability}
        because "never"
}
principle data "Data" {
    rule court: comply when demand.kind == user_data and demand.category == criminal_suspect
        and demand.legal_basis == court_order and jurisdiction.rule_of_law >= 0.6
        because "a judge"
    rule weak: negotiate when demand.kind == user_data and (jurisdiction.rule_of_law < 0.6 or jurisdiction.rule_of_law is unknown)
        because "weak"
    rule bulk: withdraw when demand.users > 10000 and demand.kind == user_data and not demand.urgent
        because "bulk"
}
principle scale "Scale" {
    rule unknown_reach: comply when demand.users is unknown and demand.kind == transparency_report
        because "figures"
    rule small: negotiate when demand.users <= 100 or demand.users == 5000
        because "small"
    rule tiered: negotiate when jurisdiction.tier != low and demand.urgent and demand.users >= 50.5
        because "tiered"
}
principle eu "EU" {
    rule removal: comply when jurisdiction.eu_member and demand.kind == content_removal and demand.category != journalism
        because "EU law"
    rule russia: withdraw when jurisdiction.code in {RU} and demand.kind == channel_block
        because "2018"
}
"""


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, DemandSpace]:
    root = tmp_path_factory.mktemp("rich")
    (root / "main.policy").write_text(RICH, encoding="utf-8")
    engine = policyengine.load(root)
    return engine, demand_space(engine.compiled)


@pytest.fixture(scope="module")
def library() -> tuple[Engine, DemandSpace]:
    engine = policyengine.load()
    return engine, demand_space(engine.compiled)


def signature(d: Decision) -> tuple[Any, ...]:
    return (
        d.outcome.value,
        d.default_applied,
        tuple(r.qualified for r in d.reasons),
        tuple(r.qualified for r in d.outranked),
        tuple(f"{u.principle}.{u.rule}" for u in d.undetermined),
    )


def cell_signature(space: DemandSpace, cell: Any) -> tuple[Any, ...]:
    rules = space.policy_set.rules
    top = SEVERITY[cell.outcome]
    return (
        cell.outcome,
        cell.default_applied,
        tuple(rules[i].qualified for i in cell.deciding),
        tuple(rules[i].qualified for i in cell.matched if SEVERITY[rules[i].outcome] != top),
        tuple(rules[i].qualified for i in cell.undetermined),
    )


def numbers(attr: AttributeType, space: DemandSpace) -> st.SearchStrategy[float | None]:
    """Numbers in range, with the rules' constants and their neighbours drawn often."""
    cuts: list[float] = []
    for rule in space.policy_set.rules:
        for node in ast.walk_condition(rule.condition):
            if isinstance(node, ast.Comparison) and isinstance(node.value, ast.Number) and node.ref.dotted == attr.dotted:
                x = node.value.value
                cuts += [x, math.nextafter(x, -math.inf), math.nextafter(x, math.inf)]
    lo = 0.0 if attr.lo is None else attr.lo
    hi = 1e6 if attr.hi is None else attr.hi
    cuts = [c for c in cuts if lo <= c <= hi]
    out: st.SearchStrategy[float | None] = st.floats(lo, hi, allow_nan=False)
    if cuts:
        out = out | st.sampled_from(cuts)
    return out | st.none() if attr.unknown_allowed else out


def demands(engine: Engine, space: DemandSpace) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for attr in engine.compiled.demand_attrs:
        if attr.kind is Kind.ENUM:
            fields[attr.name] = st.sampled_from(attr.values)
        elif attr.kind is Kind.BOOL:
            fields[attr.name] = st.booleans()
        elif attr.kind is Kind.NUMBER:
            fields[attr.name] = numbers(attr, space)
    return st.fixed_dictionaries(fields)


def check_member(engine: Engine, space: DemandSpace, code: str, demand: dict[str, Any]) -> None:
    decision = engine.decide({"jurisdiction": code, "demand": demand})
    cell = space.locate(code, dict(decision.request))
    assert cell is not None, (code, demand)
    rep = space.representative(cell)
    rep["jurisdiction"] = code
    assert signature(engine.decide(rep)) == signature(decision), (code, demand, cell.describe())
    assert cell_signature(space, cell) == signature(decision)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_members_decide_like_their_representative(rich: tuple[Engine, DemandSpace], data: st.DataObject) -> None:
    engine, space = rich
    code = data.draw(st.sampled_from(sorted(engine.policy_set.jurisdictions)))
    check_member(engine, space, code, data.draw(demands(engine, space)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_library_members_decide_like_their_representative(library: tuple[Engine, DemandSpace], data: st.DataObject) -> None:
    engine, space = library
    code = data.draw(st.sampled_from(sorted(engine.policy_set.jurisdictions)))
    check_member(engine, space, code, data.draw(demands(engine, space)))


@pytest.mark.parametrize("which", ["rich", "library"])
def test_every_representative_lies_in_its_cell_and_decides_as_the_cell_says(which: str, request: pytest.FixtureRequest) -> None:
    engine, space = request.getfixturevalue(which)
    for cell in space.cells:
        rep = space.representative(cell)
        decision = engine.decide(rep)
        assert space.locate(rep["jurisdiction"], dict(decision.request)) == cell
        assert cell_signature(space, cell) == signature(decision), cell.describe()


@pytest.mark.parametrize("which", ["rich", "library"])
def test_cells_partition_the_space(which: str, request: pytest.FixtureRequest) -> None:
    """Every (jurisdiction, demand) lies in exactly one cell: checked exhaustively over enumerations and booleans."""
    engine, space = request.getfixturevalue(which)
    # Exhaustive over the attributes some rule reads: the others cannot tell
    # cells apart, and the product over all of them (the legal record adds
    # nine) would not finish.  They keep one value each.
    read = {
        node.ref.name
        for rule in engine.policy_set.rules
        for node in ast.walk_condition(rule.condition)
        if isinstance(getattr(node, "ref", None), ast.AttributeRef) and node.ref.scope == "demand"  # type: ignore[union-attr]
    }
    choosable = [a for a in engine.compiled.demand_attrs if a.kind in (Kind.ENUM, Kind.BOOL) and a.name != "kind"]
    attrs = [a for a in choosable if a.name in read]
    values = [a.values if a.kind is Kind.ENUM else (True, False) for a in attrs]
    fixed = {a.name: a.values[0] if a.kind is Kind.ENUM else False for a in choosable if a.name not in read}
    numbers = {a.name: 7.0 for a in engine.compiled.demand_attrs if a.kind is Kind.NUMBER}
    numbers.update(fixed)
    for jc in space.jurisdiction_classes:
        code = jc.codes[-1]
        for kind in space.kinds:
            here = [c for c in space.cells if c.jurisdictions is jc and c.kind == kind]
            for combo in itertools.product(*values):
                demand = {"kind": kind, **dict(zip((a.name for a in attrs), combo)), **numbers}
                assert sum(c.contains(code, demand) for c in here) == 1, (code, demand)


def test_jurisdictions_are_grouped_by_what_rules_test(rich: tuple[Engine, DemandSpace]) -> None:
    _, space = rich
    groups = sorted(jc.codes for jc in space.jurisdiction_classes)
    # BY and RU have the same score, but a rule names RU; FR and JP differ by EU membership.
    assert ("BY",) in groups and ("RU",) in groups
    assert all(len({"FR", "JP"} & set(g)) < 2 for g in groups)
    assert sum(len(g) for g in groups) == len(space.policy_set.jurisdictions)


def test_attributes_no_rule_reads_are_not_split(library: tuple[Engine, DemandSpace]) -> None:
    _, space = library
    read = {n.ref.dotted for r in space.policy_set.rules for n in ast.walk_condition(r.condition) if hasattr(n, "ref")}
    split = {c.attribute for cell in space.cells for c in cell.demand}
    assert split <= read
    assert "demand.kind" not in split  # decided per kind, through the compiled index


def test_space_is_deterministic(rich: tuple[Engine, DemandSpace]) -> None:
    engine, space = rich
    again = demand_space(policyengine.Engine(engine.policy_set).compiled)
    assert [(c.jurisdictions.codes, c.describe(), c.outcome) for c in again.cells] == [
        (c.jurisdictions.codes, c.describe(), c.outcome) for c in space.cells
    ]


# --- classes of values ---------------------------------------------------------------------


def test_number_classes_are_points_and_intervals_between_constants(rich: tuple[Engine, DemandSpace]) -> None:
    engine, _ = rich
    users = engine.policy_set.vocabulary.attributes["demand.users"]
    tests = [
        n
        for r in engine.policy_set.rules
        for n in ast.walk_condition(r.condition)
        if isinstance(n, (ast.Comparison, ast.KnownTest)) and n.ref.dotted == "demand.users"
    ]
    assert [c.describe() for c in partition(users, tests)] == [
        "users < 50.5",
        "users >= 50.5 and users <= 100",
        "users > 100 and users < 5000 or users > 5000 and users <= 10000",
        "users = 5000",
        "users > 10000",
        "users is unknown",
    ]
    classes = partition(users, tests)
    for value in (0.0, 100.0, 100.5, 5000.0, 4999.0, 10000.0, 10000.1, 1e6, None):
        assert sum(value in c for c in classes) == 1, value


def test_value_class_membership_keeps_booleans_apart_from_numbers() -> None:
    flag = ValueClass("demand.urgent", (True,), (), True)
    assert True in flag and 1 not in flag and 1.0 not in flag
    count = ValueClass("demand.users", (), ((0.0, 1.0, True, True),), 0.5)
    assert 1 in count and True not in count and None not in count


def test_describe_uses_the_shortest_form() -> None:
    universe = ("a", "b", "c", "d")
    assert ValueClass("demand.x", ("a", "b", "c"), (), "a", universe).describe() == "x != d"
    assert ValueClass("demand.x", ("a", "b"), (), "a", universe).describe() == "x in {a, b}"
    assert ValueClass("demand.x", ("a", None), (), "a", universe).describe() == "x = a or x is unknown"
    assert ValueClass("demand.n", (), ((0.0, 0.6, True, False),), 0.3, bounds=(0.0, 1.0)).describe() == "n < 0.6"
    assert ValueClass("demand.n", (), ((0.2, 0.6, False, True),), 0.3, bounds=(0.0, 1.0)).describe() == "n > 0.2 and n <= 0.6"


# --- residuals agree with the compiled closures ----------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_specialise_agrees_with_the_compiled_closures(rich: tuple[Engine, DemandSpace], data: st.DataObject) -> None:
    """Specialising a residual in two steps (the jurisdiction, then the demand) gives what the
    closure that decides gives on the whole: both use the one Kleene core."""
    engine, space = rich
    rule = data.draw(st.sampled_from(engine.policy_set.rules))
    j = engine.policy_set.jurisdictions[data.draw(st.sampled_from(sorted(engine.policy_set.jurisdictions)))]
    demand = data.draw(demands(engine, space))
    env = {f"jurisdiction.{k}": v for k, v in j.attrs.items()}
    known = {f"demand.{k}": v for k, v in demand.items()}
    expected = compile_condition(rule.condition)(demand, j.attrs)
    ours = specialise(specialise(lower(rule.condition), env), known)
    assert ours == expected


def test_analysis_of_a_set_with_no_rules(policy_dir: Callable[..., Path]) -> None:
    engine = policyengine.load(policy_dir('jurisdiction FR "France" { rule_of_law = 0.7 }'))
    space = demand_space(engine.compiled)
    assert {c.outcome for c in space.cells} == {"negotiate"}
    assert all(c.default_applied and not c.demand for c in space.cells)
    assert len(space.cells) == len(space.kinds)
