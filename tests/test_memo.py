"""The one bounded memo type (policyengine/evaluation/memo.py) and the engine's use of it."""

from __future__ import annotations

import datetime
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


def test_the_memo_key_includes_the_date() -> None:
    """The same request as of two dates is two entries: a date never answers for another,
    and the request's own `as_of` and the caller's meet in the same entry."""
    engine = policyengine.load()
    r = {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "fraud", "legal_basis": "court_order"}}
    first = engine.decide(r, as_of="2015-01-01")
    assert first.as_of == datetime.date(2015, 1, 1)
    assert engine.decide(r, as_of=datetime.date(2015, 1, 1)) is first  # a hit
    later = engine.decide(r, as_of="2024-05-17")
    assert later.as_of == datetime.date(2024, 5, 17) and later is not first
    assert engine.decide({**r, "as_of": "2015-01-01"}) == first  # the request's own date, by the precise path
    assert engine.decide({**r, "as_of": "2015-01-01"}, as_of="2024-05-17").as_of == first.as_of  # the request's wins
    assert engine.decide(r).as_of == decide_module.today()


def test_a_new_day_is_a_new_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A decision made yesterday "as of today" is not handed out today."""
    engine = policyengine.load()
    r = {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "fraud", "legal_basis": "court_order"}}
    now = 1_700_000_000.0
    monkeypatch.setattr(decide_module, "_clock", lambda: now)
    monkeypatch.setattr(decide_module, "_DAY", [(-1.0, datetime.date(1970, 1, 1))])
    yesterday = engine.decide(r)
    now += 86_400
    today = engine.decide(r)
    assert today.as_of == yesterday.as_of + datetime.timedelta(days=1)


def test_a_bad_as_of_is_a_request_error_and_enters_no_memo() -> None:
    engine = policyengine.load()
    r = {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "fraud", "legal_basis": "court_order"}}
    before = len(engine._decider._memo)
    for bad in ("2015-02-30", "20150101", "2015-W01-1", 2015, "yesterday"):
        with pytest.raises(policyengine.RequestError) as err:
            engine.decide({**r, "as_of": bad})
        assert err.value.field == "as_of"
        with pytest.raises(policyengine.RequestError):
            engine.decide(r, as_of=bad)  # type: ignore[arg-type]
    assert len(engine._decider._memo) == before


def test_the_inlined_memo_key_is_memo_key() -> None:
    # Decider.decide builds the key itself (a call less on a hit); the slow
    # path stores under memo_key(): a request must find what either stored.
    memo_key = decide_module.memo_key
    engine = policyengine.load()
    decider = engine._decider
    request = {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "fraud", "legal_basis": "court_order"}}
    when = datetime.date(2024, 5, 17)
    first = decider.decide(request, when)
    assert decider._memo.get(memo_key("FR", when, request["demand"])) is first
    decider._memo.clear()
    slow = decider._decide_slow({**request, "as_of": "2024-05-17"})  # stored by the slow path
    assert decider.decide(request, when) is slow
