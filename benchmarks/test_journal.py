"""Journaled decisions per second with 8 threads (SQLite, durable and buffered), and the
journal's overhead against the same decisions unjournaled.  Target (issue 15): at least
20,000 durable journaled decisions/s with 8 threads on SQLite."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

import policyengine
from policyengine.journal import open_journal

THREADS = 8
PER_THREAD = 2_048
REQUESTS = [
    {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order"}},
    {"jurisdiction": "RU", "demand": {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"}},
    {"jurisdiction": "DE", "demand": {"kind": "content_removal", "category": "hate_speech", "legal_basis": "court_order"}},
    {"jurisdiction": "IN", "demand": {"kind": "user_data", "category": "journalism", "legal_basis": "administrative_order"}},
]


def run_threads(
    engine: policyengine.Engine,
    threads: int = THREADS,
    per_thread: int = PER_THREAD,
    batch: int = 1,
    cpu: list[float] | None = None,
) -> float:
    """Seconds for ``threads`` threads to decide ``per_thread`` requests each, ``batch`` at a time
    (``decide_many``: one journal commit for the batch, as `decide --requests` and a router that
    handles many requests at once do)."""
    start = threading.Barrier(threads + 1)
    chunk = [REQUESTS[i % len(REQUESTS)] for i in range(batch)]

    def work() -> None:
        decide, decide_many = engine.decide, engine.decide_many
        start.wait()
        if batch == 1:
            for i in range(per_thread):
                decide(REQUESTS[i % len(REQUESTS)])
        else:
            for _ in range(per_thread // batch):
                decide_many(chunk)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    for t in pool:
        t.join()
    if cpu is not None:
        cpu.append(time.process_time() - c0)  # CPU of the whole process (writer thread included)
    return time.perf_counter() - t0


@pytest.mark.parametrize(
    ("mode", "batch"),
    [("none", 1), ("durable", 1), ("buffered", 1), ("none", 64), ("durable", 64), ("buffered", 64)],
    ids=["none", "durable", "buffered", "none-batch64", "durable-batch64", "buffered-batch64"],
)
def test_journaled_decisions_8_threads(benchmark: Any, tmp_path: Path, mode: str, batch: int) -> None:
    """One durable decision per call waits for its commit, so 8 threads put at most 8 entries
    in a commit: throughput is bounded by 8 / (commit time), and a commit is an fsync
    (about 6 ms on this machine's disk).  With batches the same commit carries 8 × 64."""
    engine = policyengine.load()
    for r in REQUESTS:
        engine.decide(r)  # memo warm: the journal is what is measured
    journal = open_journal(tmp_path / "j.db", mode=mode) if mode != "none" else None  # type: ignore[arg-type]
    journaled = engine.with_journal(journal)
    seconds: list[float] = []
    cpu: list[float] = []
    benchmark.pedantic(lambda: seconds.append(run_threads(journaled, batch=batch, cpu=cpu)), rounds=3, iterations=1)
    if journal is not None:
        journal.flush()
        result = journal.verify()
        journal.close()
        assert result.ok and result.entries == 3 * THREADS * PER_THREAD
    best = min(seconds)
    benchmark.extra_info.update(
        decisions_per_s=round(THREADS * PER_THREAD / best),
        per_decision_us=round(best / (THREADS * PER_THREAD) * 1e6, 1),
        # CPU seconds per decision: what the journal costs regardless of how busy the machine is
        cpu_us_per_decision=round(min(cpu) / (THREADS * PER_THREAD) * 1e6, 1),
    )
