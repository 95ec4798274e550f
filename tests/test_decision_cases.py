"""Golden decision cases: ``tests/golden/decisions/<topic>/<case>.toml``.

Each case is a tiny policy set, one input (request, standing demand or
market) and the decision that must come out; the keys are described in
``tests/golden/decisions/README.md``.  A case states only what it is about,
so it stays readable as the explanation grows richer.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import policyengine
from policyengine import Decision, MarketDecision, RequestError

CASES_DIR = Path(__file__).parent / "golden" / "decisions"
CASES = sorted(CASES_DIR.rglob("*.toml"))

INPUTS = {"request", "request_json", "standing", "market"}
CHECKS = {
    "want_outcome",
    "want_reasons",
    "want_outranked",
    "want_undetermined",
    "want_unknown",
    "want_default",
    "want_facts",
    "want_because",
    "want_chain",
    "want_decisive",
    "want_error_field",
}
KEYS = {"note", "policies"} | INPUTS | CHECKS


def case_id(path: Path) -> str:
    return path.relative_to(CASES_DIR).with_suffix("").as_posix()


def test_there_are_enough_cases_on_every_topic() -> None:
    topics = {p.parent.name for p in CASES}
    assert len(CASES) >= 25
    assert {"severity", "default", "unknown", "facts", "inheritance", "market", "jurisdiction", "requests"} <= topics


def _decide(engine: policyengine.Engine, case: dict[str, Any]) -> Decision | MarketDecision:
    if "market" in case:
        return engine.market(case["market"])
    if "standing" in case:
        code, _, demand = case["standing"].partition(".")
        return engine.standing(code, demand)
    request = json.loads(case["request_json"]) if "request_json" in case else case["request"]
    return engine.decide(request)


@pytest.mark.parametrize("path", CASES, ids=[case_id(p) for p in CASES])
def test_case(path: Path, policy_dir: Callable[..., Path]) -> None:
    case = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = set(case) - KEYS
    assert not unknown, f"unknown keys {sorted(unknown)}; see tests/golden/decisions/README.md"
    assert case.get("note"), "every case says what it shows"
    assert len(INPUTS & set(case)) == 1, "exactly one of request, request_json, standing, market"
    assert CHECKS & set(case), "a case checks something"

    engine = policyengine.load(policy_dir(case["policies"]))

    if "want_error_field" in case:
        with pytest.raises(RequestError) as err:
            _decide(engine, case)
        assert err.value.field == case["want_error_field"]
        return

    result = _decide(engine, case)
    assert result.outcome.value == case["want_outcome"], result.summary
    if isinstance(result, MarketDecision):
        assert list(result.decisive) == case["want_decisive"]
        # The market's decisions are the standing decisions, one per demand.
        for d in result.decisions:
            assert d == engine.standing(result.jurisdiction, d.demand or "")
        return

    assert [r.qualified for r in result.reasons] == case["want_reasons"], result.summary
    if "want_outranked" in case:
        assert [r.qualified for r in result.outranked] == case["want_outranked"]
    if "want_undetermined" in case:
        assert [f"{u.principle}.{u.rule}" for u in result.undetermined] == case["want_undetermined"]
    if "want_unknown" in case:
        assert sorted({a for u in result.undetermined for a in u.unknown}) == case["want_unknown"]
    if "want_default" in case:
        assert result.default_applied is case["want_default"]
    if "want_facts" in case:
        assert [str(f) for r in result.reasons for f in r.facts] == case["want_facts"]
    if "want_because" in case:
        assert result.reasons[0].because == case["want_because"]
    if "want_chain" in case:
        assert list(result.jurisdiction_chain) == case["want_chain"]

    # Invariants every decision keeps, whatever the case is about.
    assert result.reasons or result.default_applied
    assert all(r.outcome is result.outcome for r in result.reasons)
    assert all(r.outcome.severity < result.outcome.severity for r in result.outranked)
    assert Decision.model_validate_json(result.model_dump_json()) == result
