"""What-if: the changes reported are real, complete for one attribute, and minimal (checked by brute force)."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policyengine
from policyengine.analysis.whatif import WhatIf
from policyengine.cli import main
from policyengine.evaluation.decide import RequestError
from policyengine.evaluation.engine import Engine
from policyengine.language import ast
from policyengine.language.model import AttributeType, Kind

POLICY = """
vocabulary {
    attribute demand.users: number from 0 to 1000000 or unknown "how many users the demand affects"
}

jurisdiction FR "France" { rule_of_law = 0.72 }
jurisdiction RU "Russia" { rule_of_law = 0.37 }
jurisdiction TW "Taiwan" { rule_of_law = unknown }

principle keys "Keys" {
    rule no_keys: withdraw when demand.kind in {key_disclosure, traceability} because "never"
}
principle access "Access" {
    rule court: comply when demand.kind == user_data and demand.category == criminal_suspect
        and demand.legal_basis == court_order and jurisdiction.rule_of_law >= 0.6
        because "a judge"
    rule review: negotiate when demand.kind == user_data and demand.legal_basis != court_order because "no judge"
    rule bulk: withdraw when demand.kind == user_data and demand.users > 10000 because "bulk"
}
principle reports "Reports" {
    # Comply needs two things at once: a reports demand resting on a statute.
    rule statutory: comply when demand.kind == transparency_report and demand.legal_basis == statute because "law"
    rule informal: negotiate when demand.legal_basis == informal because "informal"
}
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    root = tmp_path_factory.mktemp("whatif")
    (root / "main.policy").write_text(POLICY, encoding="utf-8")
    return policyengine.load(root)


def candidate_values(engine: Engine, attr: AttributeType) -> list[Any]:
    """Brute force: every enumeration value, both booleans, unknown, and numbers around every constant."""
    if attr.kind is Kind.ENUM:
        values: list[Any] = list(attr.values)
    elif attr.kind is Kind.BOOL:
        values = [True, False]
    else:
        values = [attr.lo, attr.hi]
        for rule in engine.policy_set.rules:
            for n in ast.walk_condition(rule.condition):
                if isinstance(n, ast.Comparison) and n.ref.dotted == attr.dotted and isinstance(n.value, ast.Number):
                    x = n.value.value
                    values += [x, math.nextafter(x, -math.inf), math.nextafter(x, math.inf)]
    if attr.unknown_allowed:
        values.append(None)
    return values


def variants(engine: Engine, demand: dict[str, Any], size: int) -> Iterator[tuple[tuple[str, Any], ...]]:
    attrs = [a for a in engine.compiled.demand_attrs if a.testable]
    for chosen in itertools.combinations(attrs, size):
        for values in itertools.product(*(candidate_values(engine, a) for a in chosen)):
            if all(demand.get(a.name) != v or (v is None) != (demand.get(a.name) is None) for a, v in zip(chosen, values)):
                yield tuple((a.name, v) for a, v in zip(chosen, values))


def decide_with(engine: Engine, code: str, demand: dict[str, Any], changes: tuple[tuple[str, Any], ...]) -> Any:
    return engine.decide({"jurisdiction": code, "demand": {**demand, **dict(changes)}})


def check_what_if(engine: Engine, code: str, demand: dict[str, Any]) -> WhatIf:
    w = engine.what_if({"jurisdiction": code, "demand": demand})
    base = w.decision
    full = dict(base.request)
    reached_by_one: dict[str, set[tuple[str, Any]]] = {}
    for changes in variants(engine, full, 1):
        d = decide_with(engine, code, full, changes)
        if d.outcome is not base.outcome:
            reached_by_one.setdefault(d.outcome.value, set()).add(changes[0])
    assert base.outcome not in [a.outcome for a in w.alternatives]
    for alt in w.alternatives:
        target = alt.outcome.value
        for change in alt.changes:
            # Every reported change is real: its values lead to the reported decision.
            for values in itertools.product(*(a.values for a in change.attributes)):
                changed = tuple((a.attribute.split(".")[1], v) for a, v in zip(change.attributes, values))
                d = decide_with(engine, code, full, changed)
                assert d.outcome.value == target == change.outcome.value
                assert tuple(r.qualified for r in d.reasons) == change.decided_by or change.default_applied
            assert len(change.attributes) == alt.attributes_changed
        if alt.attributes_changed == 1:
            # Complete: every single-attribute change (enumerations, booleans) that reaches the target is listed.
            listed = {(a.attribute.split(".")[1], v) for c in alt.changes for a in c.attributes for v in a.values}
            for name, value in reached_by_one[target]:
                attr = next(a for a in engine.compiled.demand_attrs if a.name == name)
                if attr.kind is not Kind.NUMBER:
                    assert (name, value) in listed, (target, name, value)
                else:
                    assert any(a.attribute == attr.dotted for c in alt.changes for a in c.attributes)
        else:
            # Minimal: it reports two attributes (or none) only when no single change gets there.
            assert target not in reached_by_one, (target, reached_by_one.get(target))
            if alt.attributes_changed == 0:
                assert all(
                    decide_with(engine, code, full, changes).outcome.value != target for changes in variants(engine, full, 2)
                )
    return w


def test_negotiate_names_the_change_that_would_comply(engine: Engine) -> None:
    w = check_what_if(engine, "FR", {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "statute", "users": 5})
    assert w.decision.outcome.value == "negotiate"
    comply = w.alternative("comply")
    assert comply is not None and comply.attributes_changed == 1
    # Changes that keep the demand what it is come first; changing its kind last.
    assert [c.summary for c in comply.changes] == [
        "would comply if legal_basis = court_order (by access.court)",
        "would comply if kind = transparency_report (by reports.statutory)",
    ]
    withdraw = w.alternative("withdraw")
    assert withdraw is not None
    assert "would withdraw if users > 10000 (by access.bulk)" in [c.summary for c in withdraw.changes]


def test_two_attributes_only_when_one_does_not_reach(engine: Engine) -> None:
    w = check_what_if(engine, "FR", {"kind": "hotline", "category": "fraud", "legal_basis": "informal", "users": 5})
    comply = w.alternative("comply")
    assert comply is not None and comply.attributes_changed == 2
    assert "would comply if legal_basis = statute and kind = transparency_report (by reports.statutory)" in [
        c.summary for c in comply.changes
    ]


def test_unknown_jurisdiction_has_no_alternatives(engine: Engine) -> None:
    w = engine.what_if({"jurisdiction": "ZZ", "demand": {"kind": "hotline", "category": "fraud", "legal_basis": "statute"}})
    assert w.decision.outcome.value == "negotiate"
    assert all(a.changes == () and a.attributes_changed == 0 for a in w.alternatives)


def test_bad_requests_raise_like_decide(engine: Engine) -> None:
    with pytest.raises(RequestError):
        engine.what_if({"jurisdiction": "FR", "demand": {"kind": "nope", "category": "fraud", "legal_basis": "statute"}})


def demands(engine: Engine) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for attr in engine.compiled.demand_attrs:
        if attr.kind is Kind.ENUM:
            fields[attr.name] = st.sampled_from(attr.values)
        elif attr.kind is Kind.BOOL:
            fields[attr.name] = st.booleans()
        elif attr.kind is Kind.NUMBER:
            # Within the declared range (the standard vocabulary's `deadline_hours` stops at 100,000).
            lo = 0.0 if attr.lo is None else attr.lo
            hi = 1e6 if attr.hi is None else attr.hi
            points = [v for v in (0.0, 10000.0, 10001.0) if lo <= v <= hi]
            number = st.sampled_from(points) | st.floats(lo, hi) if points else st.floats(lo, hi)
            fields[attr.name] = (st.none() | number) if attr.unknown_allowed else number
    return st.fixed_dictionaries(fields)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_what_if_is_real_complete_and_minimal(engine: Engine, data: st.DataObject) -> None:
    code = data.draw(st.sampled_from(["FR", "RU", "TW"]))
    check_what_if(engine, code, data.draw(demands(engine)))


def test_shipped_library_negotiate_names_the_change_to_comply() -> None:
    engine = policyengine.load()
    request = {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "statute"}}
    w = engine.what_if(request)
    assert w.decision.outcome.value == "negotiate"
    comply = w.alternative("comply")
    assert comply is not None
    assert any(
        [(a.attribute, a.values) for a in c.attributes] == [("demand.legal_basis", ("court_order",))] for c in comply.changes
    )


# --- the command ---------------------------------------------------------------------------------

FR_STATUTE = {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "statute"}}


def test_explain_what_if_on_a_negotiate_decision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(FR_STATUTE))
    assert main(["explain", "--request", str(request), "--what-if"]) == 0
    out = capsys.readouterr().out
    assert "what would change the outcome (negotiate)" in out
    assert "if legal_basis = court_order" in out


def test_decide_what_if_json(policy_dir: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policies = policy_dir(POLICY)
    request = tmp_path / "request.json"
    request.write_text(json.dumps(FR_STATUTE))
    assert main(["decide", "--request", str(request), "--what-if", "--format", "json", "--policies", str(policies)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["decision"]["outcome"] == "negotiate"
    assert WhatIf.model_validate(data).alternative("comply") is not None


def test_decide_what_if_on_standing_demands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decide", "--jurisdiction", "RU", "--what-if"]) == 0
    out = capsys.readouterr().out
    assert out.count("what would change the outcome") >= 1


def test_what_if_does_not_go_with_requests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decide", "--requests", "-", "--what-if"]) == 2
    assert "--what-if" in capsys.readouterr().err
