"""The shipped library: decide() warm and cold, decide_many(), market()."""

from __future__ import annotations

from typing import Any

import pytest

import policyengine

from .library import library_requests


@pytest.fixture(scope="module")
def library() -> tuple[policyengine.Engine, policyengine.Engine, list[dict[str, Any]]]:
    try:
        engine = policyengine.load()
        cold = policyengine.load(memo=False)
    except policyengine.PolicyError:
        pytest.skip("the shipped library does not load yet")
    return engine, cold, library_requests(engine)


def test_decide_memo_hit(benchmark: Any, library: Any) -> None:
    engine, _, reqs = library
    for r in reqs:
        engine.decide(r)
    benchmark.pedantic(lambda: [engine.decide(r) for r in reqs], rounds=3, iterations=1)


def test_decide_memo_off(benchmark: Any, library: Any) -> None:
    _, cold, reqs = library
    benchmark.pedantic(lambda: [cold.decide(r) for r in reqs], rounds=2, iterations=1)


def test_decide_many(benchmark: Any, library: Any) -> None:
    engine, _, reqs = library
    benchmark.pedantic(engine.decide_many, args=(reqs,), rounds=3, iterations=1)


def test_market_every_jurisdiction(benchmark: Any, library: Any) -> None:
    engine, _, _ = library
    codes = sorted(engine.compiled.jurisdictions)
    benchmark.pedantic(lambda: [engine.market(c) for c in codes], rounds=3, iterations=1)


def test_decide_never_seen(benchmark: Any, library: Any) -> None:
    """A fresh engine with the memo on meets every (almost all distinct) request for the first time."""
    _, _, reqs = library

    def first_pass() -> None:
        fresh = policyengine.load()
        for r in reqs:
            fresh.decide(r)

    benchmark.pedantic(first_pass, rounds=2, iterations=1)
