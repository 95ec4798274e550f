"""Requests with ids: the per-shape memo gives exactly the decision a fresh evaluation gives.

A demand's id and description only change the request a decision echoes,
unless a rule's `because` text shows them; then the shape memo must stay off.
"""

from __future__ import annotations

import itertools
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
        because "a score of {jurisdiction.rule_of_law}"
    rule court: comply when demand.kind == user_data and demand.legal_basis == court_order
        because "{demand.kind} on a court order"
}
"""


def requests() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for code, kind, basis, (rid, text) in itertools.product(
        ("FR", "RU", "XX"),
        ("key_disclosure", "user_data", "hotline"),
        ("court_order", "statute"),
        ((None, None), ("r1", None), ("r2", None), (None, "a description"), ("r3", "another")),
    ):
        demand: dict[str, object] = {"kind": kind, "category": "fraud", "legal_basis": basis}
        if rid is not None:
            demand["id"] = rid
        if text is not None:
            demand["description"] = text
        out.append({"jurisdiction": code, "demand": demand})
    return out


def test_shape_memo_gives_the_fresh_decision(policy_dir: PolicyDir) -> None:
    root = policy_dir(TEXT)
    memo, fresh = policyengine.load(root), policyengine.load(root, memo=False)
    for _ in range(2):
        for r in requests():
            got, want = memo.decide(r), fresh.decide(r)
            assert got == want, r
            assert memo.decision_json(got) == want.model_dump_json()
    with_id = memo.decide(
        {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "fraud", "legal_basis": "court_order", "id": "x9"}}
    )
    assert with_id.request["id"] == "x9"
    assert memo._decider._shapes  # the path under test was taken
    assert (
        "id"
        not in memo.decide(
            {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "fraud", "legal_basis": "court_order"}}
        ).request
    )


def test_texts_that_show_the_id_keep_it_apart(policy_dir: PolicyDir) -> None:
    e = policyengine.load(
        policy_dir(TEXT.replace('"{demand.kind} on a court order"', '"request {demand.id}: {demand.description}"'))
    )
    a = e.decide(
        {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "fraud", "legal_basis": "court_order", "id": "a1"}}
    )
    b = e.decide(
        {
            "jurisdiction": "FR",
            "demand": {"kind": "user_data", "category": "fraud", "legal_basis": "court_order", "id": "b2", "description": "d"},
        }
    )
    assert e._decider._shapes is None
    assert a.reasons[0].because == "request a1: unknown"
    assert b.reasons[0].because == "request b2: d"


def test_threads_sharing_one_engine_get_the_fresh_decisions(policy_dir: PolicyDir) -> None:
    """The memos fill from many threads at once; every answer must still be exact."""
    import threading

    root = policy_dir(TEXT)
    shared, fresh = policyengine.load(root), policyengine.load(root, memo=False)
    work = requests() * 4
    want = [fresh.decide(r).model_dump_json() for r in work]
    failures: list[str] = []

    def run(offset: int) -> None:
        for i in range(len(work)):
            k = (i + offset) % len(work)
            d = shared.decide(work[k])
            if shared.decision_json(d) != want[k]:
                failures.append(f"{work[k]}")

    threads = [threading.Thread(target=run, args=(n * 7,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_on_the_library_with_claims_the_shape_memo_gives_the_fresh_decision() -> None:
    # The library's vocabulary has both labels: the echo of a demand with an
    # id carries the claim as the bare demand's decision filled it in.
    memo, fresh = policyengine.load(), policyengine.load(memo=False)
    seen = 0
    for code, claimed, (rid, text) in itertools.product(
        ("FR", "RU", "IR", "ZZ"),
        (None, "terrorism", "fraud", "peaceful_protest"),
        ((None, None), ("r1", None), ("r2", "text"), (None, "only a description")),
    ):
        demand: dict[str, object] = {"kind": "channel_block", "category": "peaceful_protest", "legal_basis": "court_order"}
        for name, value in (("claimed_category", claimed), ("id", rid), ("description", text)):
            if value is not None:
                demand[name] = value
        for _ in range(2):  # the second time from the memos
            got, want = (
                memo.decide({"jurisdiction": code, "demand": dict(demand)}),
                fresh.decide({"jurisdiction": code, "demand": dict(demand)}),
            )
            assert got == want and list(got.request) == list(want.request), demand
            assert memo.decision_json(got) == want.model_dump_json()
            seen += got.claim is not None
    assert seen and memo._decider._shapes
