"""The JSON writer of decisions (evaluation/json_out.py) writes what pydantic writes, byte for byte.

It is held to ``decision.model_dump_json()`` (and, with a root, to what the
command line wrote before it: ``with_source_root`` of that) over arbitrary
decisions built from strategies (every kind of value, odd strings, floats at
the edges of their forms), over every golden decision and every standing
demand of the shipped library; and a writer that meets a decision again, or
a copy of one with another request (its frame memoised), still writes it
exactly.
"""

from __future__ import annotations

import datetime
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policyengine
from policyengine import Decision, MarketDecision
from policyengine.cli.decide import with_source_root
from policyengine.evaluation.decision import (
    Action,
    Claim,
    Fact,
    Outcome,
    Reason,
    Undetermined,
    build_decision,
)
from policyengine.evaluation.json_out import DecisionJSON, decision_json, json_float

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
PROFILE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Text as the engine admits it: any character but a lone surrogate (which no UTF-8 output can carry).
#: Weighted towards what needs escaping: quotes, backslashes, C0 and C1 controls, DEL, bidi overrides.
_odd = st.sampled_from(['"', "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "\x85", "\x9b", "\u2028", "\u202e", "é", "😀", "/"])
texts = st.lists(st.one_of(_odd, st.characters(exclude_categories=("Cs",))), max_size=12).map("".join)
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e16, 1e15, 0.1, -0.0, 0.0, 1e-5, -1.5e-5, 1e-4, 1e-7, 5e-324, 1e22, 123456789012345678.0]),
    st.decimals(min_value=-1000, max_value=1000, places=8, allow_nan=False).map(lambda d: float(d) * 1e-3),
)
values = st.one_of(
    st.none(),
    st.booleans(),
    floats,
    texts,
    st.dates(),
    st.lists(texts, max_size=3).map(tuple),
)
outcomes = st.sampled_from(list(Outcome))
facts = st.builds(Fact, attribute=texts, value=values, test=texts, origin=st.none() | texts)
reasons = st.builds(
    Reason,
    principle=texts,
    statement=texts,
    rule=texts,
    outcome=outcomes,
    because=texts,
    source=texts,
    facts=st.lists(facts, max_size=3).map(tuple),
)
undetermined = st.builds(
    Undetermined, principle=texts, rule=texts, outcome=outcomes, source=texts, unknown=st.lists(texts, max_size=3).map(tuple)
)
actions = st.builds(Action, action=texts, within_hours=st.none() | floats, rule=texts)
claims = st.builds(Claim, assessed=texts, claimed=texts, decisive=texts)
decisions = st.builds(
    Decision,
    outcome=outcomes,
    jurisdiction=texts,
    demand=st.none() | texts,
    summary=texts,
    reasons=st.lists(reasons, max_size=3).map(tuple),
    outranked=st.lists(reasons, max_size=2).map(tuple),
    undetermined=st.lists(undetermined, max_size=2).map(tuple),
    default_applied=st.booleans(),
    jurisdiction_chain=st.lists(texts, max_size=3).map(tuple),
    request=st.dictionaries(texts, values, max_size=6),
    policy_version=texts,
    source_root=st.none() | texts,
    decision_id=st.none() | texts,
    as_of=st.dates(),
    actions=st.lists(actions, max_size=3).map(tuple),
    claim=st.none() | claims,
    considered=st.lists(texts, max_size=3).map(tuple),
    jurisdiction_known=st.booleans(),
)


def _check(decision: Decision, writer: DecisionJSON | None = None, root: str | None = None) -> None:
    want = decision.model_dump_json()
    assert decision_json(decision) == want
    rooted = writer or DecisionJSON(root)
    assert rooted(decision) == with_source_root(want, root)
    assert rooted(decision) == with_source_root(want, root)  # memoised: the same text again


@PROFILE
@given(decisions, st.none() | texts)
def test_arbitrary_decisions_are_written_as_pydantic_writes_them(decision: Decision, root: str | None) -> None:
    _check(decision, root=root)


@PROFILE
@given(decisions, st.lists(st.dictionaries(texts, values, max_size=6), min_size=1, max_size=4), st.none() | texts)
def test_copies_with_other_requests_reuse_the_frame_and_stay_exact(
    decision: Decision, requests: list[dict[str, Any]], root: str | None
) -> None:
    """The engine's copies of a shape's decision (each with its own request) share every other field."""
    writer = DecisionJSON(root)
    for request in [decision.request, *requests, decision.request]:
        _check(decision.model_copy(update={"request": request}), writer, root)
        # the same request dict, one value changed (an id): another object for one key
        if request:
            key = sorted(request)[0]
            _check(decision.model_copy(update={"request": {**request, key: f"{request[key]}-x"}}), writer, root)


@PROFILE
@given(floats)
def test_floats_are_written_in_pydantics_forms(value: float) -> None:
    want = Action(action="a", within_hours=value, rule="r").model_dump_json()
    assert want == '{"action":"a","within_hours":' + json_float(value) + ',"rule":"r"}'


def test_what_the_writer_does_not_know_is_written_by_pydantic() -> None:
    """Values outside the declared types (an int, a datetime, a str subclass), a field
    order of the engine's making, a dict without a field: still pydantic's text."""
    base = Decision(
        outcome=Outcome.COMPLY,
        jurisdiction="FR",
        summary="s",
        reasons=(),
        default_applied=False,
        policy_version="v",
        as_of=datetime.date(2024, 1, 2),
        request={"a": 1.0},
    )

    class Label(str):
        pass

    odd_requests: list[dict[str, Any]] = [
        {"n": 5},
        {"n": True, "m": 1.0},
        {"x": Label("y")},
        {"d": datetime.date(2020, 2, 29)},
        {},
    ]
    for request in odd_requests:
        _check(build_decision(**{**base.__dict__, "request": request}))
    shuffled = build_decision(**dict(reversed(list(base.__dict__.items()))))
    _check(shuffled)
    # A reason short of fields: pydantic leaves them out.
    _check(base.model_copy(update={"outranked": (Reason.model_construct(principle="p", rule="r"),)}))
    # An int in a `str` field: pydantic warns (here an error) and writes it; the writer lets it.
    for odd in ({"summary": 7}, {"outranked": (Reason.model_construct(principle="p", rule=5),)}):
        with pytest.warns(UserWarning, match="serialized value may not be as expected"):
            _check(base.model_copy(update=odd))


def _golden_decisions(policy_dir: Callable[..., Path]) -> list[Decision]:
    found: list[Decision] = []

    def add(result: Decision | MarketDecision) -> None:
        found.extend(result.decisions if isinstance(result, MarketDecision) else [result])

    for path in sorted((GOLDEN / "decisions").rglob("*.toml")):
        case = tomllib.loads(path.read_text(encoding="utf-8"))
        engine = policyengine.load(policy_dir(case["policies"]), cache=False)
        try:
            if "market" in case:
                add(engine.market(case["market"]))
            elif "standing" in case:
                code, _, demand = case["standing"].partition(".")
                add(engine.standing(code, demand))
            else:
                add(engine.decide(json.loads(case["request_json"]) if "request_json" in case else case["request"]))
        except policyengine.RequestError:
            continue
    for path in sorted((GOLDEN / "legal").glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        engine = policyengine.load(policy_dir(case["policies"]), cache=False)
        given_ = case["input"]
        try:
            if "market" in given_:
                add(engine.market(given_["market"], as_of=given_.get("as_of")))
            elif "standing" in given_:
                code, _, demand = given_["standing"].partition(".")
                add(engine.standing(code, demand, as_of=given_.get("as_of")))
            else:
                add(engine.decide(given_["request"]))
        except policyengine.RequestError:
            continue
    return found


def test_every_golden_decision(policy_dir: Callable[..., Path]) -> None:
    found = _golden_decisions(policy_dir)
    assert len(found) >= 40
    writer = DecisionJSON("/golden/ünïcode root")
    for decision in found:
        _check(decision)
        _check(decision, writer, "/golden/ünïcode root")


def test_every_standing_demand_of_the_shipped_library() -> None:
    engine = policyengine.load(ROOT / "policies")
    writer = DecisionJSON(str(ROOT / "policies"))
    count = 0
    for code in engine.jurisdictions():
        for decision in engine.market(code).decisions:
            _check(decision, writer, str(ROOT / "policies"))
            count += 1
    assert count >= 20


def test_engine_decision_json_is_the_writers_text(policy_dir: Callable[..., Path]) -> None:
    """``Engine.decision_json`` (the service's answer) is the decision's own JSON, id or not."""
    engine = policyengine.load(ROOT / "benchmarks" / "workload")
    for n, kind in enumerate(("key_disclosure", "user_data", "hotline", "channel_block")):
        for extra in ({}, {"id": f"r-{n}"}, {"id": f"r-{n}\u202e", "description": "d\x85"}):
            request = {"jurisdiction": "LM", "demand": {"kind": kind, "category": "terrorism", "legal_basis": "statute", **extra}}
            d = engine.decide(request)
            assert engine.decision_json(d) == d.model_dump_json()
