"""The journal on SQLite: the chain, effects, masking, durability, concurrency, pruning.

Everything goes through the public API (``open_journal``, ``policyengine.load(journal=)``,
``PolicyStore(journal=)``); tampering is done the way an attacker would, with
the ``sqlite3`` module on the stored file.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import policyengine
from policyengine.journal import EFFECTS, JournalError, Masking, open_journal
from policyengine.journal.backends import SQLiteBackend
from policyengine.journal.journal import Journal

FR = {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order"}}
RU_KEYS = {"jurisdiction": "RU", "demand": {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"}}


@pytest.fixture(scope="module")
def engine() -> policyengine.Engine:
    return policyengine.load()


def test_a_journaled_decision_carries_its_id_and_is_stored_as_decided(engine: policyengine.Engine, tmp_path: Path) -> None:
    with open_journal(tmp_path / "j.db") as journal:
        journaled = engine.with_journal(journal)
        d = journaled.decide(FR)
        plain = engine.decide(FR)
        assert plain.decision_id is None  # the memoised decision is shared, never changed
        assert d.decision_id is not None and d.model_copy(update={"decision_id": None}) == plain
        (entry,) = journal.entries()
        assert entry.decision_id == d.decision_id
        assert entry.outcome == "comply" and entry.rules == ("lawful_access.court_order",)
        assert entry.policy_version == engine.version
        assert entry.jurisdiction == "FR" and entry.request["kind"] == "user_data"
        assert entry.timestamp.tzinfo is not None and abs(entry.timestamp - datetime.now(UTC)) < timedelta(minutes=1)
        assert entry.prev_hash == "0" * 64 and len(entry.hash) == 64
        result = journal.verify()
        assert result.ok and result.entries == 1 and result.head == entry.hash


def test_ids_are_time_ordered_uuid7(engine: policyengine.Engine, tmp_path: Path) -> None:
    with open_journal(tmp_path / "j.db") as journal:
        ids = [d.decision_id for d in engine.with_journal(journal).decide_many([FR, RU_KEYS] * 50)]
    assert all(i is not None and i[14] == "7" and i[19] in "89ab" for i in ids)
    assert ids == sorted(ids, key=str) and len(set(ids)) == 100


def test_standing_demands_and_markets_are_journaled(engine: policyengine.Engine, tmp_path: Path) -> None:
    with open_journal(tmp_path / "j.db") as journal:
        market = engine.with_journal(journal).market("RU")
        assert all(d.decision_id for d in market.decisions)
        stored = {e.decision_id: e for e in journal.entries()}
        assert set(stored) == {d.decision_id for d in market.decisions}
        assert {e.demand for e in stored.values()} == {d.demand for d in market.decisions}
        assert journal.verify().ok


def test_the_policy_store_journals_what_it_serves(tmp_path: Path) -> None:
    with open_journal(tmp_path / "j.db") as journal, policyengine.PolicyStore(journal=journal) as store:
        d = store.decide(RU_KEYS)
        many = store.decide_many([FR, FR])
        assert d.decision_id and all(x.decision_id for x in many)
        assert [e.decision_id for e in journal.entries()] == [d.decision_id, *(x.decision_id for x in many)]


def _tamper(path: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql, params)
    conn.close()


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        (
            "UPDATE journal_entries SET body = replace(body, 'key_disclosure', 'key_disclosurf') WHERE seq = 2",
            "changed after it was written",
        ),
        ("UPDATE journal_entries SET outcome = 'comply' WHERE seq = 2", "`outcome` column"),
        ("DELETE FROM journal_entries WHERE seq = 2", "entry 2 is missing"),
        ("UPDATE journal_entries SET recorded = '2020-01-01T00:00:00.000000Z' WHERE seq = 2", "`timestamp` column"),
    ],
    ids=["request-byte", "outcome-column", "deleted-entry", "backdated"],
)
def test_tampering_is_found_and_named(engine: policyengine.Engine, tmp_path: Path, sql: str, why: str) -> None:
    path = tmp_path / "j.db"
    with open_journal(path) as journal:
        ids = [d.decision_id for d in engine.with_journal(journal).decide_many([FR, RU_KEYS, FR])]
    _tamper(path, sql)
    with open_journal(path) as journal:
        result = journal.verify()
    assert not result.ok and why in (result.why or "")
    assert result.first_bad == (ids[2] if "missing" in why else ids[1])


def test_rehashing_one_entry_still_breaks_the_next_link(engine: policyengine.Engine, tmp_path: Path) -> None:
    from policyengine.journal.chain import canonical, entry_hash

    path = tmp_path / "j.db"
    with open_journal(path) as journal:
        ids = [d.decision_id for d in engine.with_journal(journal).decide_many([FR, RU_KEYS, FR])]
    conn = sqlite3.connect(path)
    prev, body = conn.execute("SELECT prev, body FROM journal_entries WHERE seq = 2").fetchone()
    data = json.loads(body)
    data["decision"]["outcome"] = "comply"
    new = canonical(data)
    with conn:
        conn.execute(
            "UPDATE journal_entries SET body = ?, outcome = 'comply', hash = ? WHERE seq = 2", (new, entry_hash(prev, 2, new))
        )
    conn.close()
    with open_journal(path) as journal:
        result = journal.verify()
    assert not result.ok and result.first_bad == ids[2] and "does not follow" in (result.why or "")


def test_effects_and_pending(engine: policyengine.Engine, tmp_path: Path) -> None:
    negotiate = {"jurisdiction": "RU", "demand": {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "informal"}}
    with open_journal(tmp_path / "j.db") as journal:
        j = engine.with_journal(journal)
        first, second = j.decide(negotiate), j.decide(negotiate)
        assert first.outcome.value == "negotiate"
        assert [e.decision_id for e in journal.pending()] == [first.decision_id, second.decision_id]
        at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
        assert first.decision_id is not None
        event = journal.record_effect(first.decision_id, "refused", by="legal team", note="no court order", at=at)
        (effect,) = journal.effects(first.decision_id)
        assert (effect.id, effect.effect, effect.by, effect.note, effect.at) == (
            event,
            "refused",
            "legal team",
            "no court order",
            at,
        )
        assert [e.decision_id for e in journal.pending()] == [second.decision_id]
        assert journal.verify().ok and journal.verify().entries == 3


def test_effects_are_checked(engine: policyengine.Engine, tmp_path: Path) -> None:
    with open_journal(tmp_path / "j.db") as journal:
        d = engine.with_journal(journal).decide(FR)
        assert d.decision_id is not None
        with pytest.raises(JournalError, match="not an effect") as bad:
            journal.record_effect(d.decision_id, "gave", by="ops")
        assert bad.value.hint == "did you mean `given`?"
        with pytest.raises(JournalError, match="no decision `0190") as unknown:
            journal.record_effect("0190aaaa-0000-7000-8000-000000000000", "given", by="ops")
        assert unknown.value.code == "journal.unknown-decision"
        with pytest.raises(JournalError, match="needs `by`"):
            journal.record_effect(d.decision_id, "given", by=" ")
        assert set(EFFECTS) == {"given", "refused", "narrowed", "escalated", "challenged"}
        assert journal.verify().entries == 1


def test_free_text_is_masked_by_default(engine: policyengine.Engine, tmp_path: Path) -> None:
    request = {"jurisdiction": "FR", "demand": {**FR["demand"], "id": "case-4471", "description": "the mail of Jean Dupont"}}  # type: ignore[dict-item]
    path = tmp_path / "j.db"
    with open_journal(path) as journal:
        engine.with_journal(journal).decide(request)
        (entry,) = journal.entries()
    assert "id" not in entry.request and "description" not in entry.request
    raw = path.read_bytes() + (tmp_path / "j.db-wal").read_bytes() if (tmp_path / "j.db-wal").exists() else path.read_bytes()
    assert b"Dupont" not in raw and b"case-4471" not in raw


def test_masking_with_a_key_hashes_and_removes(engine: policyengine.Engine, tmp_path: Path) -> None:
    request = {"jurisdiction": "FR", "demand": {**FR["demand"], "id": "case-4471", "description": "the mail of Jean Dupont"}}  # type: ignore[dict-item]
    masking = Masking(remove=("demand.description",), hash=("id",), key=b"k" * 32)
    with open_journal(tmp_path / "j.db", masking=masking) as journal:
        engine.with_journal(journal).decide(request)
        engine.with_journal(journal).decide(request)
        a, b = journal.entries()
    assert "description" not in a.request
    assert a.request["id"] == b.request["id"] == masking.masked("case-4471")
    assert a.request["id"].startswith("hmac-sha256:") and "case-4471" not in a.request["id"]
    other = Masking(hash=("id",), key=b"x" * 32)
    assert other.masked("case-4471") != a.request["id"]  # keyed: a guess needs the key


def test_masking_configuration_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "mask.json"
    config.write_text(json.dumps({"remove": ["demand.description"], "hash": ["id"], "key_env": "MY_JOURNAL_KEY"}))
    monkeypatch.setenv("MY_JOURNAL_KEY", "secret")
    masking = Masking.from_file(config)
    assert masking.remove == ("description",) and masking.hash == ("id",) and masking.hashing
    config.write_text(json.dumps({"remove": ["jurisdiction.code"]}))
    with pytest.raises(Exception, match="masking names demand attributes"):
        Masking.from_file(config)


def test_eight_threads_keep_one_verifiable_chain(engine: policyengine.Engine, tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    per_thread = 300
    ids: list[list[str]] = [[] for _ in range(8)]
    with open_journal(path) as journal:
        j = engine.with_journal(journal)

        def work(n: int) -> None:
            for i in range(per_thread):
                d = j.decide(FR if i % 2 else RU_KEYS)
                assert d.decision_id is not None
                ids[n].append(d.decision_id)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        result = journal.verify()
        stored = {e.decision_id for e in journal.entries()}
    assert result.ok and result.entries == 8 * per_thread
    assert stored == {i for chunk in ids for i in chunk}


def test_two_processes_on_one_sqlite_file_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    script = _writer_script(path, 400, "durable")
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    printed = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    with open_journal(path) as journal:
        result = journal.verify()
        stored = {e.decision_id for e in journal.entries()}
    assert result.ok and result.entries == 800
    assert stored == set(printed[0]) | set(printed[1])


def _writer_script(path: Path, count: int, mode: str) -> str:
    return f"""
import sys, policyengine
from policyengine.journal import open_journal
engine = policyengine.load()
requests = [
    {{"jurisdiction": "FR", "demand": {{"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order"}}}},
    {{"jurisdiction": "RU", "demand": {{"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"}}}},
]
with open_journal({str(path)!r}, mode={mode!r}) as journal:
    journaled = engine.with_journal(journal)
    for i in range({count}):
        d = journaled.decide(requests[i % 2])
        sys.stdout.write(d.decision_id + "\\n")
        sys.stdout.flush()
"""


def test_nothing_acknowledged_is_lost_when_the_writer_is_killed(tmp_path: Path) -> None:
    """SIGKILL in the middle of 10,000 durable writes: every id the child printed (it prints
    an id only once record() returned) is in the reopened journal, and the chain verifies."""
    path = tmp_path / "j.db"
    child = subprocess.Popen([sys.executable, "-c", _writer_script(path, 10_000, "durable")], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    printed: list[str] = []
    deadline = time.monotonic() + 120
    while len(printed) < 1500 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        printed.append(line.strip())
    os.kill(child.pid, signal.SIGKILL)
    # Read through the same buffered stream (communicate() with a timeout reads the raw pipe and
    # would skip what readline() already buffered).
    printed += child.stdout.read().split()
    child.stdout.close()
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert 1500 <= len(printed) < 10_000, "the child must be killed in the middle of its writes"
    with open_journal(path) as journal:
        result = journal.verify()
        stored = {e.decision_id for e in journal.entries()}
    assert result.ok, result.why
    assert set(printed) <= stored
    assert result.entries == len(stored) >= len(printed)


def test_buffered_mode_returns_before_the_commit_and_flush_commits(engine: policyengine.Engine, tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with open_journal(path, mode="buffered") as journal:
        d = engine.with_journal(journal).decide(FR)
        journal.flush()
        conn = sqlite3.connect(path)
        assert conn.execute("SELECT id FROM journal_entries").fetchall() == [(d.decision_id,)]
        conn.close()
    with open_journal(path) as journal:
        assert journal.verify().ok


class _FailingBackend(SQLiteBackend):
    """The real SQLite backend whose disk fills up after ``good`` appends."""

    def __init__(self, path: str, good: int):
        super().__init__(path, durable=True)
        self.good = good

    def append(self, items):  # type: ignore[no-untyped-def]
        if self.good <= 0:
            raise sqlite3.OperationalError("database or disk is full")
        self.good -= 1
        super().append(items)


def test_a_failed_write_fails_the_decision_closed(engine: policyengine.Engine, tmp_path: Path) -> None:
    journal = Journal(_FailingBackend(str(tmp_path / "j.db"), good=1))
    j = engine.with_journal(journal)
    assert j.decide(FR).decision_id
    with pytest.raises(JournalError, match="could not be written: OperationalError: database or disk is full") as failed:
        j.decide(FR)
    assert failed.value.code == "journal.write-failed"
    journal.close()


def test_a_failed_buffered_write_is_raised_by_flush(engine: policyengine.Engine, tmp_path: Path) -> None:
    journal = Journal(_FailingBackend(str(tmp_path / "j.db"), good=0), mode="buffered")
    assert engine.with_journal(journal).decide(FR).decision_id  # buffered: returned before the write
    with pytest.raises(JournalError, match="disk is full"):
        journal.flush()
    journal.close()


def test_prune_keeps_the_rest_verifiable(engine: policyengine.Engine, tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with open_journal(path) as journal:
        j = engine.with_journal(journal)
        old = j.decide_many([FR, RU_KEYS, FR])
        time.sleep(0.01)
        cut = datetime.now(UTC)
        time.sleep(0.01)
        new = j.decide_many([RU_KEYS, FR])
        assert journal.prune(cut) == 3
        result = journal.verify()
        assert result.ok and result.entries == 3 and result.first_seq == 4  # two decisions and the checkpoint
        assert [e.decision_id for e in journal.entries()] == [d.decision_id for d in new]
        assert journal.prune(cut) == 0
        later = j.decide(FR)
        assert journal.verify().ok and journal.entry(later.decision_id or "") is not None
    assert old
    _tamper(path, "UPDATE journal_meta SET value = '2' WHERE key = 'pruned_through'")
    with open_journal(path) as journal:
        assert not journal.verify().ok


def test_the_wrong_kind_of_target_is_refused(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="neither a file path nor a postgresql"):
        open_journal("mysql://localhost/x")
    with pytest.raises(JournalError, match="cannot open the journal"):
        open_journal(tmp_path / "missing-dir" / "j.db")
    with pytest.raises(JournalError, match="`durable` or `buffered`"):
        open_journal(tmp_path / "j.db", mode="fast")  # type: ignore[arg-type]


def test_a_killed_buffered_writer_loses_only_the_end_of_the_chain(tmp_path: Path) -> None:
    """Buffered: what is lost is the last entries recorded (never a hole), and the chain verifies."""
    path = tmp_path / "j.db"
    child = subprocess.Popen([sys.executable, "-c", _writer_script(path, 10_000, "buffered")], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    printed: list[str] = []
    while len(printed) < 3000:
        line = child.stdout.readline()
        if not line:
            break
        printed.append(line.strip())
    time.sleep(0.5)  # past FLUSH_SECONDS: some commits have happened
    os.kill(child.pid, signal.SIGKILL)
    printed += child.stdout.read().split()
    child.stdout.close()
    child.wait(timeout=30)
    with open_journal(path) as journal:
        result = journal.verify()
        stored = [e.decision_id for e in journal.entries()]
    assert result.ok, result.why
    # What was committed is a prefix of what was recorded: nothing in the middle is missing.  (The
    # child may have been killed between a record() and its print: one id stored, not printed.)
    n = min(len(stored), len(printed))
    assert stored and stored[:n] == printed[:n] and len(stored) <= len(printed) + 1


def test_the_default_key_comes_from_the_environment(
    engine: policyengine.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLICYENGINE_JOURNAL_KEY", "from-env")
    request = {"jurisdiction": "FR", "demand": {**FR["demand"], "id": "case-1"}}  # type: ignore[dict-item]
    with open_journal(tmp_path / "j.db") as journal:
        engine.with_journal(journal).decide(request)
        (entry,) = journal.entries()
    assert entry.request["id"] == Masking(key=b"from-env").masked("case-1")


def test_decide_takes_a_masking_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from policyengine.cli.main import main

    monkeypatch.setenv("CASE_KEY", "k")
    mask = tmp_path / "mask.json"
    mask.write_text(json.dumps({"remove": ["description", "legal_basis"], "hash": ["id"], "key_env": "CASE_KEY"}))
    request = tmp_path / "r.json"
    request.write_text(json.dumps({"jurisdiction": "FR", "demand": {**FR["demand"], "id": "case-9", "description": "secret"}}))  # type: ignore[dict-item]
    db = tmp_path / "j.db"
    assert main(["decide", "-r", str(request), "--journal", str(db), "--journal-mask", str(mask), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["request"]["description"] == "secret"  # the caller still sees it
    with open_journal(db) as journal:
        (entry,) = journal.entries()
    assert "description" not in entry.request and "legal_basis" not in entry.request
    assert entry.request["id"] == Masking(key=b"k").masked("case-9")
    mask.write_text("{not json")
    assert main(["decide", "-r", str(request), "--journal", str(db), "--journal-mask", str(mask)]) == 2
    assert "cannot read the masking configuration" in capsys.readouterr().err
