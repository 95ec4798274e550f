"""The command line end to end: one decision, and 100,000 JSON lines."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from . import peer
from .cli import N_LINES, run


@pytest.fixture(scope="module")
def flags() -> list[str]:
    return [arg for p in peer.workload_paths() for arg in ("--policies", str(p))]


def test_one_decision(benchmark: Any, flags: list[str], tmp_path: Path) -> None:
    request = tmp_path / "one.json"
    request.write_text(json.dumps(peer.requests(1)[0]), encoding="utf-8")
    args = ["-m", "policyengine", "decide", *flags, "--request", str(request), "--format", "json"]
    env = dict(os.environ)
    run(args, env=env)  # fills the load cache

    def once() -> None:
        assert run(args, env=env).code == 0

    benchmark.pedantic(once, rounds=5, iterations=1)


def test_hundred_thousand_lines(benchmark: Any, flags: list[str], tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for r in peer.requests(N_LINES, seed=peer.SEED + 7):
            fh.write(json.dumps(r) + "\n")
    args = ["-m", "policyengine", "decide", *flags, "--requests", str(path)]

    def batch() -> None:
        with open(tmp_path / "out.jsonl", "wb") as sink:
            result = run(args, stdout=sink)
        assert result.code == 0
        benchmark.extra_info["cpu_s"] = result.cpu_s

    benchmark.pedantic(batch, rounds=2, iterations=1)
