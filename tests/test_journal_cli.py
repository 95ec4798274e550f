"""`decide --journal` and `policyengine journal …` through ``main(argv)``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from policyengine.cli.main import main


def _ids(out: str) -> list[str]:
    return [d["decision_id"] for d in (json.loads(line) for line in out.splitlines() if line.strip())]


def test_done_means_decide_verify_tamper(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's check: `decide -j RU --journal j.db`, `journal verify j.db` → 0; one byte of one
    stored request changed with sqlite3 → exit 1 naming that entry."""
    db = tmp_path / "j.db"
    assert main(["decide", "--jurisdiction", "RU", "--journal", str(db), "--format", "json"]) == 0
    market = json.loads(capsys.readouterr().out)
    ids = [d["decision_id"] for d in market["decisions"]]
    assert len(ids) == len(set(ids)) == len(market["decisions"]) > 1 and all(ids)
    assert main(["journal", "verify", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"ok, {len(ids)} entries" in out

    conn = sqlite3.connect(db)
    seq, body = conn.execute("SELECT seq, body FROM journal_entries WHERE id = ?", (ids[2],)).fetchone()
    start = body.index('"request":{') + len('"request":{') + 2  # inside the first attribute name
    changed = body[:start] + chr(ord(body[start]) ^ 1) + body[start + 1 :]
    with conn:
        conn.execute("UPDATE journal_entries SET body = ? WHERE seq = ?", (changed, seq))
    conn.close()
    assert main(["journal", "verify", str(db)]) == 1
    err = capsys.readouterr().err
    assert f"broken at entry {ids[2]}" in err and "changed after it was written" in err
    assert main(["journal", "verify", str(db), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["first_bad"] == ids[2] and report["entries"] == 2


def test_human_decide_names_where_it_journaled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "j.db"
    assert main(["decide", "-j", "RU", "-d", "fsb_keys", "--journal", str(db)]) == 0
    err = capsys.readouterr().err
    assert f"journaled in {db}: 01" in err


def test_requests_batch_is_journaled_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "j.db"
    lines = [
        {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order"}},
        {"jurisdiction": "RU", "demand": {"kind": "key_disclosur"}},
        {"jurisdiction": "RU", "demand": {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"}},
    ] * 200
    inbox = tmp_path / "inbox.jsonl"
    inbox.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert main(["decide", "--requests", str(inbox), "--journal", str(db)]) == 2  # bad lines
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 600
    records = [json.loads(x) for x in out]
    assert [("error" in r) for r in records] == [i % 3 == 1 for i in range(600)]
    ids = [r["decision_id"] for r in records if "error" not in r]
    assert main(["journal", "export", str(db)]) == 0
    exported = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [e["decision_id"] for e in exported] == ids
    first = exported[0]
    assert set(first) >= {"decision_id", "timestamp", "policy_version", "input", "result", "hash", "prev_hash", "seq", "effects"}
    assert first["input"]["jurisdiction"] == "FR" and first["result"]["outcome"] == "comply"
    assert first["result"]["rules"] == ["lawful_access.court_order"]


def test_effect_pending_and_export_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "j.db"
    request = tmp_path / "r.json"
    request.write_text(
        json.dumps(
            {"jurisdiction": "RU", "demand": {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "informal"}}
        )
    )
    assert main(["decide", "--request", str(request), "--journal", str(db), "--format", "json"]) == 0
    decision_id = json.loads(capsys.readouterr().out)["decision_id"]
    assert main(["journal", "pending", str(db)]) == 0
    assert decision_id in capsys.readouterr().out
    assert (
        main(
            [
                "journal",
                "effect",
                str(db),
                decision_id,
                "refused",
                "--by",
                "legal",
                "--note",
                "informal ask",
                "--at",
                "2026-12-01T10:00:00Z",
            ]
        )
        == 0
    )
    event = capsys.readouterr().out.strip()
    assert main(["journal", "pending", str(db)]) == 0
    assert capsys.readouterr().out == ""
    assert main(["journal", "export", str(db), "-o", str(tmp_path / "out.jsonl")]) == 0
    (record,) = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert record["effects"][0]["id"] == event and record["effects"][0]["at"] == "2026-12-01T10:00:00.000000Z"
    assert main(["journal", "effect", str(db), decision_id, "gave", "--by", "x"]) == 2
    assert "did you mean `given`?" in capsys.readouterr().err
    assert main(["journal", "verify", str(db)]) == 0


def test_prune_through_the_cli_keeps_the_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "j.db"
    assert main(["decide", "-j", "RU", "--journal", str(db)]) == 0
    assert main(["journal", "prune", str(db), "--before", "2999-01-01"]) == 0
    assert "remain and verify" in capsys.readouterr().out
    assert main(["journal", "verify", str(db)]) == 0
    assert main(["journal", "prune", str(db), "--before", "yesterday"]) == 2
    assert "`yesterday` is not a date" in capsys.readouterr().err


def test_a_bad_journal_target_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decide", "-j", "RU", "--journal", "mysql://x/y"]) == 2
    assert "neither a file path nor a postgresql:// URL" in capsys.readouterr().err
    (tmp_path / "not-a-db").write_text("hello")
    assert main(["journal", "verify", str(tmp_path / "not-a-db")]) == 2
    assert "cannot open the journal" in capsys.readouterr().err
