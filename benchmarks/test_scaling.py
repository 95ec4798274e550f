"""Synthetic sets of 100, 1,000 and 10,000 rules: each load stage, the warm load, decisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import policyengine
from policyengine.evaluation.compile import compile_policy
from policyengine.language.loader import read_sources
from policyengine.language.parser import get_parser, parse
from policyengine.language.pipeline import prelude_sources
from policyengine.language.validate import validate

from .scaling import SIZES
from .synthetic import requests

IDS = [f"{r}rules-{j}jur" for r, j in SIZES]


def _set(synthetic_sets: dict[tuple[int, int], Path], size: tuple[int, int]) -> Path:
    if size not in synthetic_sets:
        pytest.skip("--quick")
    return synthetic_sets[size]


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_load_stages(benchmark: Any, synthetic_sets: dict[tuple[int, int], Path], size: tuple[int, int]) -> None:
    """Parse, validate and compile, each timed once (extra_info), and the whole as the benchmark."""
    root = _set(synthetic_sets, size)
    get_parser()

    def stages() -> None:
        import time

        sources, _ = read_sources([root])
        all_sources = [*prelude_sources(), *sources]
        t0 = time.perf_counter()
        files = [parse(s)[0] for s in all_sources]
        t1 = time.perf_counter()
        policy_set, _ = validate(files, all_sources)
        t2 = time.perf_counter()
        assert policy_set is not None
        compile_policy(policy_set)
        t3 = time.perf_counter()
        benchmark.extra_info.update(parse_s=t1 - t0, validate_s=t2 - t1, compile_s=t3 - t2)

    benchmark.pedantic(stages, rounds=1, iterations=1)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_warm_load(benchmark: Any, synthetic_sets: dict[tuple[int, int], Path], size: tuple[int, int]) -> None:
    root = _set(synthetic_sets, size)
    policyengine.load(root)  # fills the cache
    benchmark.pedantic(policyengine.load, args=(root,), rounds=3, iterations=1)


@pytest.mark.parametrize("memo", [True, False], ids=["memo-hit", "memo-off"])
@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_decide(benchmark: Any, synthetic_sets: dict[tuple[int, int], Path], size: tuple[int, int], memo: bool) -> None:
    root = _set(synthetic_sets, size)
    engine = policyengine.load(root, memo=memo)
    reqs = requests(sorted(engine.compiled.jurisdictions), 5_000)
    for r in reqs:  # memo hit: fill the memo; memo off: build the per-pair candidate lists
        engine.decide(r)
    benchmark.extra_info["decisions_per_round"] = len(reqs)
    benchmark.pedantic(lambda: [engine.decide(r) for r in reqs], rounds=3, iterations=1)
