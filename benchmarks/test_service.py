"""`policyengine serve`: requests per second with 1 and 2 workers (benchmarks/service.py)."""

from __future__ import annotations

from typing import Any

import pytest

from .service import measure


@pytest.mark.parametrize("workers", [1, 2], ids=["1-worker", "2-workers"])
def test_service_requests_per_second(benchmark: Any, workers: int) -> None:
    result: dict[str, Any] = {}

    def run() -> None:
        result.update(measure(workers, seconds=5.0))

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
