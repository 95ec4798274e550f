"""The engine's trusted constructors build exactly what pydantic validation builds.

``decision.trusted_constructor`` skips validation on the hot path; these
tests rebuild every model it made through the validating constructor and
compare everything a caller can observe: equality, ``repr``, the JSON, the
dump, ``model_fields_set`` and the (absent) extra and private state.
"""

from __future__ import annotations

import datetime
import random
from typing import Any

from pydantic import BaseModel

import policyengine
from policyengine.evaluation.decision import (
    Decision,
    Outcome,
    Reason,
    Undetermined,
    build_decision,
    build_reason,
    build_undetermined,
    decision_of,
    trusted_copy,
)


def _same_as_validated(model: BaseModel) -> None:
    cls = type(model)
    given = {name: getattr(model, name) for name in model.model_fields_set}
    validated = cls(**given)
    assert model == validated
    assert repr(model) == repr(validated)
    assert list(model.__dict__) == list(validated.__dict__)
    assert model.model_dump_json() == validated.model_dump_json()
    assert model.model_dump() == validated.model_dump()
    assert model.model_dump_json(exclude_unset=True) == validated.model_dump_json(exclude_unset=True)
    assert model.model_fields_set == validated.model_fields_set
    assert model.__pydantic_extra__ == validated.__pydantic_extra__
    assert model.__pydantic_private__ == validated.__pydantic_private__


def _requests(engine: policyengine.Engine, n: int = 600) -> list[dict[str, Any]]:
    """Requests over every jurisdiction and kind, other attributes drawn from their types (seeded)."""
    from policyengine.language.model import Kind

    rng = random.Random(11)
    codes = sorted(engine.compiled.jurisdictions)
    attrs = engine.compiled.demand_attrs
    out = []
    for i in range(n):
        demand: dict[str, Any] = {}
        for a in attrs:
            if i % 3 == 0 and not a.required:
                continue  # unknown values: undetermined rules
            if a.kind is Kind.ENUM and a.values:
                demand[a.name] = a.values[i % len(a.values)] if a.name == "kind" else rng.choice(a.values)
            elif a.kind is Kind.BOOL:
                demand[a.name] = rng.random() < 0.5
            elif a.kind is Kind.NUMBER and a.required:
                demand[a.name] = round(rng.uniform(a.lo or 0.0, a.hi or 1000.0), 2)
        out.append({"jurisdiction": rng.choice(codes), "demand": demand})
    return out


def test_every_decision_of_the_library_equals_its_validated_twin() -> None:
    engine = policyengine.load(memo=False)
    reqs = _requests(engine)
    reqs.append({"jurisdiction": "ZZ", "demand": dict(reqs[0]["demand"])})  # unknown code: the engine's reason
    seen_reasons = seen_undetermined = 0
    for request in reqs:
        decision = engine.decide(request)
        _same_as_validated(decision)
        for reason in (*decision.reasons, *decision.outranked):
            _same_as_validated(reason)
            seen_reasons += 1
        for undetermined in decision.undetermined:
            _same_as_validated(undetermined)
            seen_undetermined += 1
    assert seen_reasons > 0 and seen_undetermined > 0


def test_defaults_and_factories_are_filled_as_validation_fills_them() -> None:
    kw: dict[str, Any] = dict(
        outcome=Outcome.NEGOTIATE,
        jurisdiction="FR",
        summary="s",
        reasons=(),
        default_applied=True,
        policy_version="v",
        as_of=datetime.date(2024, 1, 2),
    )
    built, validated = build_decision(**kw), Decision(**kw)
    assert built == validated and repr(built) == repr(validated)
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_fields_set == validated.model_fields_set == set(kw)
    assert built.request == {} and built.request is not build_decision(**kw).request  # a fresh dict each time
    reason_kw: dict[str, Any] = dict(
        principle="p", statement="st", rule="r", outcome=Outcome.COMPLY, because="b", source="x.policy:1"
    )
    assert build_reason(**reason_kw) == Reason(**reason_kw)
    und_kw: dict[str, Any] = dict(principle="p", rule="r", outcome=Outcome.WITHDRAW, source="x:1", unknown=("demand.a",))
    assert repr(build_undetermined(**und_kw)) == repr(Undetermined(**und_kw))


def test_decision_of_builds_what_validation_builds_from_the_fields_it_is_told_were_given() -> None:
    # Its dict display must list every field, in the model's order.
    kw: dict[str, Any] = dict(
        outcome=Outcome.WITHDRAW,
        jurisdiction="RU",
        demand="keys",
        summary="s",
        reasons=(),
        outranked=(),
        undetermined=(),
        default_applied=False,
        jurisdiction_chain=("RU",),
        request={"kind": "key_disclosure"},
        policy_version="v",
        as_of=datetime.date(2024, 1, 2),
        actions=(),
        claim=None,
        considered=("p",),
        jurisdiction_known=True,
    )
    for given in (set(kw), set(kw) - {"claim", "considered", "demand"}):
        built = decision_of(**kw, given=frozenset(given))
        validated = Decision(**{k: v for k, v in kw.items() if k in given})
        if "claim" not in given:
            validated = validated.model_copy(update={"considered": ("p",), "demand": "keys"})
            validated.__pydantic_fields_set__.difference_update({"considered", "demand"})
        assert list(built.__dict__) == list(Decision.model_fields)
        assert built == validated and repr(built) == repr(validated)
        assert built.model_dump_json() == validated.model_dump_json()
        assert built.model_fields_set == validated.model_fields_set == given


def test_a_trusted_copy_is_the_copy_pydantic_makes() -> None:
    engine = policyengine.load(memo=False)
    for request in _requests(engine)[:200]:
        decision = engine.decide(request)
        changes: dict[str, Any] = {"request": {"kind": "user_data", "id": "r-1"}, "summary": "s"}
        ours, theirs = trusted_copy(decision, **changes), decision.model_copy(update=changes)
        assert ours == theirs and repr(ours) == repr(theirs)
        assert ours.model_dump_json() == theirs.model_dump_json()
        assert ours.model_fields_set == theirs.model_fields_set
        assert ours.__pydantic_extra__ == theirs.__pydantic_extra__ and ours.__pydantic_private__ == theirs.__pydantic_private__
        assert decision.request is not ours.request  # the original is untouched


def test_built_models_stay_frozen() -> None:
    d = build_decision(
        outcome=Outcome.COMPLY,
        jurisdiction="FR",
        summary="s",
        reasons=(),
        default_applied=False,
        policy_version="v",
        as_of=datetime.date(2024, 1, 2),
    )
    try:
        d.summary = "changed"  # type: ignore[misc]
    except Exception as exc:  # pydantic's ValidationError for a frozen instance
        assert "frozen" in str(exc).lower()
    else:
        raise AssertionError("a built Decision accepted an assignment")
    assert d.model_copy(update={"summary": "t"}).summary == "t"


def test_every_market_fact_and_action_of_the_library_equals_its_validated_twin() -> None:
    # Markets, their context entries, facts and actions are built by trusted
    # constructors too (the engine's own Action constants among them).
    engine = policyengine.load(memo=False)
    seen = {"market": 0, "context": 0, "fact": 0, "action": 0}
    for code in engine.jurisdictions():
        market = engine.market(code, as_of=datetime.date(2024, 6, 1))
        _same_as_validated(market)
        seen["market"] += 1
        for entry in market.context:
            _same_as_validated(entry)
            seen["context"] += 1
        for decision in market.decisions:
            for reason in (*decision.reasons, *decision.outranked):
                for fact in reason.facts:
                    _same_as_validated(fact)
                    seen["fact"] += 1
            for action in decision.actions:
                _same_as_validated(action)
                seen["action"] += 1
    stranger = engine.decide(
        {"jurisdiction": "ZZ", "demand": {"kind": "user_data", "category": "fraud", "legal_basis": "statute"}}
    )
    for reason in stranger.reasons:
        _same_as_validated(reason)
        for fact in reason.facts:
            _same_as_validated(fact)
    for action in stranger.actions:
        _same_as_validated(action)
    assert all(seen.values()), seen
