"""`policyengine replay`: exactly the decisions a one-line threshold change moves, locally on
processes and on a Dask LocalCluster with worker processes, which must agree."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import policyengine
from policyengine.cli.main import main
from policyengine.journal import open_journal
from policyengine.journal.export import export_record
from policyengine.journal.replay import (
    partition_sources,
    policy_texts,
    replay_dask,
    replay_local,
    write_partitions,
)

LIBRARY = Path(__file__).resolve().parent.parent / "policies"
KINDS = [
    {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order"},
    {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"},
    {"kind": "content_removal", "category": "hate_speech", "legal_basis": "court_order"},
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A journal of three demands from every jurisdiction, and the library with one threshold moved."""
    root = tmp_path_factory.mktemp("replay")
    new = root / "new"
    shutil.copytree(LIBRARY, new)
    rules = new / "principles" / "lawful_access.policy"
    text = rules.read_text(encoding="utf-8")
    # The first rule that reads the overall score: the court-ordered data of a suspect.
    assert "and jurisdiction.rule_of_law >= 0.6" in text
    rules.write_text(
        text.replace("and jurisdiction.rule_of_law >= 0.6", "and jurisdiction.rule_of_law >= 0.7", 1), encoding="utf-8"
    )
    engine = policyengine.load()
    db = root / "j.db"
    with open_journal(db) as journal:
        requests = [{"jurisdiction": j, "demand": dict(k)} for j in engine.jurisdictions() for k in KINDS]
        engine.with_journal(journal).decide_many(requests)
    return db, new


def _expected(db: Path, new: Path) -> set[str]:
    """The oracle: each journaled request decided directly under the new set, compared with what was journaled."""
    after = policyengine.load(new)
    with open_journal(db) as journal:
        changed = set()
        for e in journal.entries():
            d = after.decide(e.input)
            if (d.outcome.value, tuple(r.qualified for r in d.reasons)) != (e.outcome, e.rules):
                changed.add(e.decision_id)
    return changed


def test_replay_lists_exactly_the_moved_decisions(world: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    db, new = world
    expected = _expected(db, new)
    assert expected, "the threshold change must move some decisions"
    assert (
        main(
            [
                "replay",
                "--journal",
                str(db),
                "--policies",
                str(new),
                "--format",
                "json",
                "--workers",
                "2",
                "--partition-size",
                "100",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert {c["decision_id"] for c in report["changes"]} == expected
    assert report["changed"] == len(expected) and report["replayed"] == 3 * len(policyengine.load().jurisdictions())
    for c in report["changes"]:
        assert c["kind"] == "user_data"
        assert c["before"] == {"outcome": "comply", "decided_by": ["lawful_access.court_order"], "default_applied": False}
        assert c["after"]["outcome"] != "comply"
    assert sum(x["decisions"] for x in report["counts"]) == len(expected)
    engine = policyengine.load()
    scores = {j: engine.policy_set.jurisdictions[j].attrs.get("rule_of_law") for j in engine.jurisdictions()}
    moved = {c["jurisdiction"] for c in report["changes"]}
    assert all(isinstance(scores[j], float) and 0.6 <= scores[j] < 0.7 for j in moved)  # type: ignore[operator]


def test_replay_human_output_and_unchanged_set(world: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    db, new = world
    assert main(["replay", "--journal", str(db), "--policies", str(new), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "would change" in out and "before: comply (lawful_access.court_order)" in out
    assert main(["replay", "--journal", str(db), "--policies", str(LIBRARY), "--fail-on-change"]) == 0
    assert ": 0 would change" in capsys.readouterr().out
    assert main(["replay", "--journal", str(db), "--policies", str(new), "--fail-on-change", "--workers", "1"]) == 1
    capsys.readouterr()
    assert main(["replay", "--journal", str(db), "--engine", "dask"]) == 2
    assert "needs --scheduler" in capsys.readouterr().err


def test_replay_of_exported_partitions_through_the_cli(
    world: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, new = world
    for fmt in ("jsonl", "parquet"):
        parts = tmp_path / fmt
        argv = ["journal", "export", str(db), "--partitions", str(parts), "--partition-size", "200", "--partition-format", fmt]
        assert main(argv) == 0
        assert len(list(parts.glob(f"*.{fmt}"))) == -(-3 * len(policyengine.load().jurisdictions()) // 200)
        capsys.readouterr()
        assert main(["replay", "--export", str(parts), "--policies", str(new), "--format", "json", "--workers", "2"]) == 0
        assert {c["decision_id"] for c in json.loads(capsys.readouterr().out)["changes"]} == _expected(db, new)
    assert main(["replay", "--export", str(tmp_path / "nothing"), "--policies", str(new)]) == 2
    assert "no export partition" in capsys.readouterr().err


def test_local_processes_and_dask_agree_over_jsonl_and_parquet(
    world: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    distributed = pytest.importorskip("distributed")
    db, new = world
    with open_journal(db) as journal:
        records = [export_record(e) for e in journal.entries()]
    jsonl = partition_sources([str(p) for p in write_partitions(records, tmp_path / "jsonl", "jsonl", size=150)])
    parquet = (
        partition_sources([str(tmp_path / "parquet")])
        if write_partitions(records, tmp_path / "parquet", "parquet", size=150)
        else []
    )
    assert len(jsonl) == len(parquet) > 2
    texts = policy_texts([new])
    version = policyengine.load(new).version
    one = replay_local(texts, jsonl, version, workers=1)
    local = replay_local(texts, jsonl, version, workers=2)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        distributed.Client(cluster) as client,
    ):
        on_dask = replay_dask(texts, jsonl, version, client)
        on_dask_parquet = replay_dask(texts, parquet, version, client)
        argv = ["replay", "--journal", str(db), "--policies", str(new), "--format", "json", "--partition-size", "200"]
        assert main([*argv, "--engine", "dask", "--scheduler", cluster.scheduler_address]) == 0
        from_cli = json.loads(capsys.readouterr().out)
    assert one.to_json() == local.to_json() == on_dask.to_json() == on_dask_parquet.to_json() == from_cli
    assert {c.decision_id for c in local.changes} == _expected(db, new)


def test_replay_as_of(world: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Without --as-of each request is decided as of its journaled date; --as-of that same date
    gives the same result, and a bad date is a usage error."""
    from datetime import UTC, datetime

    db, new = world
    argv = ["replay", "--journal", str(db), "--policies", str(new), "--format", "json", "--workers", "1"]
    assert main(argv) == 0
    plain = json.loads(capsys.readouterr().out)
    with open_journal(db) as journal:
        dates = {e.as_of for e in journal.entries()}
    assert dates == {datetime.now(UTC).date().isoformat()} or len(dates) == 2  # a run across midnight
    assert main([*argv, "--as-of", sorted(dates)[0]]) == 0
    assert json.loads(capsys.readouterr().out)["changes"] == plain["changes"] or len(dates) == 2
    assert main([*argv, "--as-of", "someday"]) == 2
    assert "`someday` is not a date" in capsys.readouterr().err
