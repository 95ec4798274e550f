"""Replay throughput per core, and scaling from 1 to 2 workers (local processes and Dask)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import policyengine
from policyengine.journal import open_journal
from policyengine.journal.export import export_record
from policyengine.journal.replay import (
    partition_sources,
    policy_texts,
    replay_dask,
    replay_local,
    run_partition,
    write_partitions,
)

DECISIONS = 20_000
KINDS = [
    {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order"},
    {"kind": "content_removal", "category": "hate_speech", "legal_basis": "informal"},
    {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"},
]
LIBRARY = Path(__file__).resolve().parent.parent / "policies"


@pytest.fixture(scope="module")
def partitions(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    root = tmp_path_factory.mktemp("replay-bench")
    engine = policyengine.load()
    codes = engine.jurisdictions()
    requests = [{"jurisdiction": codes[i % len(codes)], "demand": {**KINDS[i % 3], "id": f"case-{i}"}} for i in range(DECISIONS)]
    with open_journal(root / "j.db", mode="buffered") as journal:
        engine.with_journal(journal).decide_many(requests)
        records = [export_record(e) for e in journal.entries()]
    return partition_sources([str(p) for p in write_partitions(records, root / "parts", "jsonl", size=DECISIONS // 4)])


def test_replay_per_core(benchmark: Any, partitions: list[tuple[str, str]]) -> None:
    """One process, its engine already loaded: decisions replayed per second on one core."""
    texts = policy_texts([LIBRARY])
    run_partition(texts, partitions[0])  # loads and warms the worker's engine
    benchmark.pedantic(lambda: [run_partition(texts, p) for p in partitions], rounds=3, iterations=1)
    benchmark.extra_info["decisions_per_s_per_core"] = round(DECISIONS / benchmark.stats.stats.min)


@pytest.mark.parametrize("workers", [1, 2])
def test_replay_local_processes(benchmark: Any, partitions: list[tuple[str, str]], workers: int) -> None:
    """The whole local engine, process start and policy load (from the load cache) included."""
    texts = [str(LIBRARY)]
    version = policyengine.load(LIBRARY).version
    benchmark.pedantic(lambda: replay_local(texts, partitions, version, workers=workers), rounds=2, iterations=1)
    benchmark.extra_info["decisions_per_s"] = round(DECISIONS / benchmark.stats.stats.min)


@pytest.mark.parametrize("workers", [1, 2])
def test_replay_dask(benchmark: Any, partitions: list[tuple[str, str]], workers: int) -> None:
    """A Dask LocalCluster of worker processes, started before timing; the policy text shipped per run."""
    distributed = pytest.importorskip("distributed")
    texts = policy_texts([LIBRARY])
    version = policyengine.load(LIBRARY).version
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    with cluster, distributed.Client(cluster) as client:
        replay_dask(texts, partitions, version, client)  # workers load the set once
        benchmark.pedantic(lambda: replay_dask(texts, partitions, version, client), rounds=3, iterations=1)
    benchmark.extra_info["decisions_per_s"] = round(DECISIONS / benchmark.stats.stats.min)
