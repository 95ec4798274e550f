"""Engine.decision_json serialises a decision once: the text is always the decision's own model_dump_json().

Memoised decisions hand out their memoised text; requests that are not
memoised (with an id) are serialised afresh and nothing is kept for them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import policyengine

PolicyDir = Callable[..., Path]

TEXT = """
jurisdiction FR "France" { rule_of_law = 0.7 }
jurisdiction RU "Russia" { rule_of_law = 0.3 }
principle p "P" {
    rule keys: withdraw when demand.kind == key_disclosure because "keys stay with users"
    rule weak: negotiate when demand.kind == user_data and jurisdiction.rule_of_law < 0.5
        because "score {jurisdiction.rule_of_law}"
}
"""


def request(code: str, kind: str, **extra: object) -> dict[str, object]:
    return {"jurisdiction": code, "demand": {"kind": kind, "category": "fraud", "legal_basis": "statute", **extra}}


def test_decision_json_is_the_decisions_own_json(policy_dir: PolicyDir) -> None:
    e = policyengine.load(policy_dir(TEXT))
    for r in (request("FR", "key_disclosure"), request("RU", "user_data"), request("XX", "hotline")):
        d = e.decide(r)
        first = e.decision_json(d)
        assert first == d.model_dump_json()
        assert e.decision_json(e.decide(r)) is first  # the memo hands out the same decision, and its text
    # A request with an id is decided through its shape and not memoised (ids
    # rarely repeat): its text is still its own, and nothing is kept for it.
    kept = len(e._decider._json)
    with_id = request("FR", "hotline", id="a")
    assert e.decision_json(e.decide(with_id)) == e.decide(with_id).model_dump_json()
    assert len(e._decider._json) == kept


def test_without_memo_the_json_is_still_right(policy_dir: PolicyDir) -> None:
    e = policyengine.load(policy_dir(TEXT), memo=False)
    d = e.decide(request("RU", "user_data"))
    assert e.decision_json(d) == d.model_dump_json()
