"""Replay: re-decide journaled requests under another policy set and list what would change.

Stage contract: :func:`replay_records` takes export records
(:mod:`~policyengine.journal.export`) and an engine, and returns a
:class:`ReplayResult`: every decision whose outcome or deciding rules differ,
with both verdicts in the shape of ``diff`` (:class:`~policyengine.analysis.diff.Verdict`),
and counts per (country, kind, before, after).  The result depends only on the
records and the policy text, never on how they were split: partitions are
replayed independently (:func:`replay_partition`) and merged in
``(timestamp, decision_id)`` order, so the local engine (processes, all
cores) and the Dask engine give the same result.

A request that the new set no longer accepts (an attribute value removed from
the vocabulary) is listed under ``errors`` with its message, not dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..analysis.diff import Verdict
from ..errors import PolicyEngineError
from .backends import JournalError
from .export import read_export

#: Records per partition when a journal is split for workers.
PARTITION = 5_000


@dataclass(frozen=True)
class ReplayChange:
    """One journaled decision that the new set would decide differently."""

    decision_id: str
    timestamp: str
    jurisdiction: str
    kind: str
    demand: str | None
    before: Verdict
    after: Verdict

    def to_json(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "timestamp": self.timestamp,
            "jurisdiction": self.jurisdiction,
            "kind": self.kind,
            "demand": self.demand,
            "before": self.before.to_json(),
            "after": self.after.to_json(),
        }


@dataclass(frozen=True)
class ReplayResult:
    after_version: str
    before_versions: tuple[str, ...]
    replayed: int
    changes: tuple[ReplayChange, ...]
    errors: tuple[tuple[str, str], ...]  # (decision_id, message)

    def counts(self) -> list[tuple[str, str, str, str, int]]:
        """(country, kind, before outcome, after outcome, decisions), sorted."""
        c = Counter((x.jurisdiction, x.kind, x.before.outcome, x.after.outcome) for x in self.changes)
        return sorted((*k, n) for k, n in c.items())

    def to_json(self) -> dict[str, Any]:
        return {
            "after_version": self.after_version,
            "before_versions": list(self.before_versions),
            "replayed": self.replayed,
            "changed": len(self.changes),
            "counts": [
                {"jurisdiction": j, "kind": k, "before": b, "after": a, "decisions": n} for j, k, b, a, n in self.counts()
            ],
            "changes": [c.to_json() for c in self.changes],
            "errors": [{"decision_id": i, "error": m} for i, m in self.errors],
        }


# --- one partition ----------------------------------------------------------------------------


def _replay_one(engine: Any, record: Mapping[str, Any], as_of: str | None = None) -> tuple[str, Any]:
    """("same" | "changed" | "error", payload) for one record, decided as of ``as_of`` or, without
    one, as of the date it was decided as of (so that only the policy text differs)."""
    from ..evaluation.requests import RequestError

    result = record["result"]
    before = Verdict(str(result.get("outcome")), tuple(result.get("rules") or ()))
    request = record["input"]
    demand_id = result.get("demand")
    try:
        # The request as it was decided (a standing demand's attributes included), so a
        # change to a standing demand's text in the new set does not count as a change.
        when = as_of or result.get("as_of") or None
        d = engine.decide({"jurisdiction": request["jurisdiction"], "demand": dict(request["demand"])}, as_of=when)
    except (RequestError, KeyError, TypeError) as exc:
        return "error", (record["decision_id"], str(exc))
    after = Verdict(d.outcome.value, tuple(r.qualified for r in d.reasons))
    if after == before:
        return "same", None
    kind = str(request.get("demand", {}).get("kind") or d.request.get("kind"))
    return "changed", ReplayChange(
        record["decision_id"], record.get("timestamp", ""), request["jurisdiction"], kind, demand_id, before, after
    )


@dataclass(frozen=True)
class PartitionResult:
    replayed: int
    versions: tuple[str, ...]
    changes: tuple[ReplayChange, ...]
    errors: tuple[tuple[str, str], ...]


def replay_partition(engine: Any, records: Iterable[Mapping[str, Any]], as_of: str | None = None) -> PartitionResult:
    n = 0
    versions: set[str] = set()
    changes: list[ReplayChange] = []
    errors: list[tuple[str, str]] = []
    for record in records:
        n += 1
        versions.add(str(record.get("policy_version")))
        status, payload = _replay_one(engine, record, as_of)
        if status == "changed":
            changes.append(payload)
        elif status == "error":
            errors.append(payload)
    return PartitionResult(n, tuple(sorted(versions)), tuple(changes), tuple(errors))


def merge(after_version: str, parts: Iterable[PartitionResult]) -> ReplayResult:
    parts = list(parts)
    changes = sorted((c for p in parts for c in p.changes), key=lambda c: (c.timestamp, c.decision_id))
    errors = sorted(e for p in parts for e in p.errors)
    versions = sorted({v for p in parts for v in p.versions})
    return ReplayResult(after_version, tuple(versions), sum(p.replayed for p in parts), tuple(changes), tuple(errors))


def replay_records(engine: Any, records: Iterable[Mapping[str, Any]], as_of: str | None = None) -> ReplayResult:
    """Replay in this process."""
    return merge(engine.version, [replay_partition(engine, records, as_of)])


# --- shipping the policy text -------------------------------------------------------------------


def policy_texts(paths: Sequence[str | os.PathLike[str]] | None) -> dict[str, str] | None:
    """Every ``.policy`` file of ``paths`` as {relative name: text}: what workers load (None: the shipped library)."""
    if not paths:
        return None
    texts: dict[str, str] = {}
    for i, root in enumerate(paths):
        root = Path(root)
        files = [root] if root.is_file() else sorted(root.rglob("*.policy"))
        for f in files:
            name = f.name if root.is_file() else str(f.relative_to(root))
            texts[f"{i}/{name}"] = f.read_text(encoding="utf-8")
    return texts


_engines: dict[str, Any] = {}


#: What a worker loads: policy text by relative name (shipped to other machines), policy paths
#: (local workers share the file system and the load cache), or None for the installed library.
Policy = dict[str, str] | list[str] | None


def engine_for(texts: Policy) -> Any:
    """The engine of a shipped policy, loaded once per process (workers keep it)."""
    import policyengine

    key = "library" if texts is None else hashlib.sha256(json.dumps(texts, sort_keys=True).encode()).hexdigest()
    found = _engines.get(key)
    if found is None:
        if texts is None:
            found = policyengine.load()
        elif isinstance(texts, list):
            found = policyengine.load(texts)
        else:
            root = Path(tempfile.mkdtemp(prefix="policyengine-replay-"))
            for name, text in texts.items():
                target = root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            found = policyengine.load(root, cache=False)
        _engines[key] = found
    return found


def run_partition(texts: Policy, source: tuple[str, Any], as_of: str | None = None) -> PartitionResult:
    """What a worker runs: a partition given as ("lines", JSON lines text), ("jsonl", path) or ("parquet", path)."""
    engine = engine_for(texts)
    kind, payload = source
    if kind == "lines":
        return replay_partition(engine, read_export(payload.splitlines(), "<partition>"), as_of)
    if kind == "jsonl":
        with open(payload, encoding="utf-8") as fh:
            return replay_partition(engine, read_export(fh, str(payload)), as_of)
    if kind == "parquet":
        return replay_partition(engine, read_parquet(payload), as_of)
    raise JournalError(f"unknown partition kind `{kind}`")


# --- partitions on disk -------------------------------------------------------------------------


def split(records: Iterable[dict[str, Any]], size: int = PARTITION) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for r in records:
        chunk.append(r)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_partitions(
    records: Iterable[dict[str, Any]], directory: str | os.PathLike[str], fmt: str = "jsonl", size: int = PARTITION
) -> list[Path]:
    """Export records as numbered partition files (``part-00000.jsonl`` or ``.parquet``)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, chunk in enumerate(split(records, size)):
        path = out / f"part-{i:05d}.{fmt}"
        if fmt == "jsonl":
            path.write_text("".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in chunk), encoding="utf-8")
        elif fmt == "parquet":
            _write_parquet(chunk, path)
        else:
            raise JournalError(f"partitions are `jsonl` or `parquet`, not `{fmt}`")
        written.append(path)
    return written


#: Parquet columns: the export's scalar fields as columns, its objects as JSON text.
_PARQUET_JSON = ("input", "result", "effects")


def _write_parquet(chunk: list[dict[str, Any]], path: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise JournalError("Parquet partitions need pyarrow", "pip install 'policyengine[dask]'") from None
    columns = {
        "decision_id": [r["decision_id"] for r in chunk],
        "timestamp": [r.get("timestamp", "") for r in chunk],
        "policy_version": [r.get("policy_version", "") for r in chunk],
        **{name: [json.dumps(r.get(name), sort_keys=True) for r in chunk] for name in _PARQUET_JSON},
    }
    pq.write_table(pa.table(columns), path)


def read_parquet(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise JournalError("Parquet partitions need pyarrow", "pip install 'policyengine[dask]'") from None
    table = pq.read_table(path).to_pylist()
    for row in table:
        yield {k: (json.loads(v) if k in _PARQUET_JSON else v) for k, v in row.items()}


def partition_sources(paths: Sequence[str]) -> list[tuple[str, str]]:
    """Export files or directories of them → worker sources, sorted by name."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(x for x in p.iterdir() if x.suffix in (".jsonl", ".parquet"))
        elif p.is_file():
            found.append(p)
        else:
            raise JournalError(f"no export partition `{p}`")
    return [("parquet" if p.suffix == ".parquet" else "jsonl", str(p)) for p in found]


# --- engines -------------------------------------------------------------------------------------


class ReplayError(PolicyEngineError):
    code = "replay.error"


def replay_local(
    texts: Policy, sources: list[tuple[str, Any]], after_version: str, workers: int | None = None, as_of: str | None = None
) -> ReplayResult:
    """Every partition on a pool of processes (all cores by default; 1: in this process)."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(sources) <= 1:
        return merge(after_version, [run_partition(texts, s, as_of) for s in sources])
    import multiprocessing
    import threading

    # fork when this process has one thread: the children start at once, with the policy set
    # (and the engine) already imported.  With other threads running (a journal's writer, a
    # server), fork could copy a lock another thread holds, so spawn: slower to start, safe.
    method = "fork" if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(min(workers, len(sources))) as pool:
        parts = pool.starmap(run_partition, [(texts, s, as_of) for s in sources])
    return merge(after_version, parts)


def replay_dask(
    texts: dict[str, str] | None, sources: list[tuple[str, Any]], after_version: str, scheduler: Any, as_of: str | None = None
) -> ReplayResult:
    """Every partition as one Dask task; ``scheduler`` is an address or a ``distributed.Client``."""
    try:
        from distributed import Client
    except ImportError:
        raise ReplayError("the Dask engine needs dask.distributed", "pip install 'policyengine[dask]'") from None
    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, timeout=30) if own else scheduler  # type: ignore[no-untyped-call]
    except OSError as exc:
        raise ReplayError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    try:
        # Shipped once to every worker (a list: a dict would be scattered value by value).
        shipped = client.scatter([texts], broadcast=True, hash=False)[0] if texts is not None else None
        futures = [client.submit(run_partition, shipped, s, as_of, pure=False) for s in sources]
        parts = client.gather(futures)
    finally:
        if own:
            client.close()
    return merge(after_version, parts)
