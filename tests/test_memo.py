"""The one bounded memo type (policyengine/evaluation/memo.py) and the engine's use of it."""

from __future__ import annotations

import threading

import pytest

import policyengine
from policyengine.evaluation import decide as decide_module
from policyengine.evaluation.memo import Memo


def test_get_and_put() -> None:
    memo: Memo[str, int] = Memo(3)
    assert memo.get("a") is None
    assert memo.put("a", 1) == 1
    assert memo.get("a") == 1 and "a" in memo and len(memo) == 1


def test_a_new_key_empties_a_full_memo_first() -> None:
    memo: Memo[int, int] = Memo(3)
    for k in range(3):
        memo.put(k, k)
    memo.put(1, 10)  # a key it holds: replaced, nothing dropped
    assert len(memo) == 3 and memo.get(1) == 10
    memo.put(3, 3)  # a new key: the table starts again with it
    assert len(memo) == 1 and memo.get(3) == 3 and memo.get(0) is None


def test_maxsize_zero_keeps_nothing() -> None:
    memo: Memo[str, int] = Memo(0)
    assert memo.put("a", 1) == 1
    assert len(memo) == 0 and memo.get("a") is None


def test_a_negative_maxsize_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 0"):
        Memo(-1)


def test_threads_sharing_a_memo_see_only_what_some_thread_stored() -> None:
    """Every thread stores f(key) under key: whatever a thread reads is f(key)
    or nothing, and the table never holds more than its bound plus one entry
    per thread storing at that instant.  Bounded in count, not in time."""
    memo: Memo[int, int] = Memo(64)
    wrong: list[tuple[int, int]] = []
    sizes: list[int] = []

    def work(seed: int) -> None:
        for i in range(5_000):
            key = (i * 7 + seed) % 200
            found = memo.get(key)
            if found is None:
                memo.put(key, key * key)
            elif found != key * key:
                wrong.append((key, found))
            if i % 100 == 0:
                sizes.append(len(memo))

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
    assert max(sizes) <= 64 + len(threads)


def test_the_decision_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past CACHE_SIZE distinct requests the memo starts again; decisions do not change."""
    monkeypatch.setattr(decide_module, "CACHE_SIZE", 10)
    monkeypatch.setattr(decide_module, "JSON_CACHE_SIZE", 5)
    engine = policyengine.load()
    fresh = policyengine.load(memo=False)
    attrs = {a.name: a for a in engine.compiled.demand_attrs}
    requests = [
        {"jurisdiction": "FR", "demand": {"kind": kind, "category": category, "legal_basis": "court_order"}}
        for kind in attrs["kind"].values[:5]
        for category in attrs["category"].values[:8]
    ]
    for _ in range(2):
        for r in requests:
            d = engine.decide(r)
            assert d == fresh.decide(r)
            assert engine.decision_json(d) == d.model_dump_json()
    decider = engine._decider
    assert len(decider._memo) <= 10 and len(decider._json) <= 5
