"""The journal on a real PostgreSQL server: one chain under concurrent writers.

Each test gets a throwaway database made on the server named by
``POLICYENGINE_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``)
and dropped at the end.  Without a server the tests are skipped, except under
``CI=true``, where a missing server is a failure: CI must not pass by skipping.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

import policyengine
from policyengine.journal import JournalError, open_journal

BASE = os.environ.get("POLICYENGINE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
FR = {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order"}}
RU_KEYS = {"jurisdiction": "RU", "demand": {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"}}


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture
def pg_url() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(BASE, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and no PostgreSQL answers at {BASE}: {exc}")
        pytest.skip(f"no PostgreSQL at {BASE}")
    name = f"policyengine_journal_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(BASE, name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_decisions_effects_and_verify_on_postgres(pg_url: str) -> None:
    engine = policyengine.load()
    with open_journal(pg_url) as journal:
        j = engine.with_journal(journal)
        a, b = j.decide(FR), j.decide(RU_KEYS)
        assert a.decision_id and b.decision_id
        journal.record_effect(a.decision_id, "given", by="ops")
        assert [e.decision_id for e in journal.entries()] == [a.decision_id, b.decision_id]
        assert [e.effect for e in journal.effects(a.decision_id)] == ["given"]
        assert [e.decision_id for e in journal.pending("withdraw")] == [b.decision_id]
        result = journal.verify()
        assert result.ok and result.entries == 3
        with pytest.raises(JournalError, match="no decision"):
            journal.record_effect(str(uuid.uuid4()), "given", by="ops")


def test_tampering_on_postgres_is_named(pg_url: str) -> None:
    import psycopg

    engine = policyengine.load()
    with open_journal(pg_url) as journal:
        ids = [d.decision_id for d in engine.with_journal(journal).decide_many([FR, RU_KEYS, FR])]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE journal_entries SET body = replace(body, 'key_disclosure', 'key_disclosurf') WHERE seq = 2")
    with open_journal(pg_url) as journal:
        result = journal.verify()
    assert not result.ok and result.first_bad == ids[1] and "changed after it was written" in (result.why or "")


def test_eight_threads_on_postgres_keep_one_chain(pg_url: str) -> None:
    engine = policyengine.load()
    ids: list[str] = []
    lock = threading.Lock()
    with open_journal(pg_url) as journal:
        j = engine.with_journal(journal)

        def work() -> None:
            for i in range(100):
                d = j.decide(FR if i % 2 else RU_KEYS)
                with lock:
                    ids.append(d.decision_id or "")

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        result = journal.verify()
        assert result.ok and result.entries == 800
        assert {e.decision_id for e in journal.entries()} == set(ids)


def test_two_processes_on_postgres_keep_one_chain(pg_url: str) -> None:
    """Two writer processes, each with its own group-commit thread: the head row lock makes them
    take turns, so the chain is one sequence that verifies and holds every id either printed."""
    script = f"""
import sys, policyengine
from policyengine.journal import open_journal
engine = policyengine.load()
requests = [{FR!r}, {RU_KEYS!r}]
with open_journal({pg_url!r}) as journal:
    j = engine.with_journal(journal)
    for i in range(300):
        print(j.decide(requests[i % 2]).decision_id, flush=True)
"""
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    printed = [set(p.communicate(timeout=180)[0].split()) for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    with open_journal(pg_url) as journal:
        result = journal.verify()
        stored = {e.decision_id for e in journal.entries()}
    assert result.ok and result.entries == 600
    assert stored == printed[0] | printed[1] and len(stored) == 600


def test_prune_on_postgres_keeps_the_rest_verifiable(pg_url: str) -> None:
    from datetime import UTC, datetime

    engine = policyengine.load()
    with open_journal(pg_url) as journal:
        j = engine.with_journal(journal)
        j.decide_many([FR, RU_KEYS])
        cut = datetime.now(UTC)
        kept = j.decide(FR)
        assert journal.prune(cut) == 2
        assert journal.verify().ok
        assert [e.decision_id for e in journal.entries()] == [kept.decision_id]
        j.decide(RU_KEYS)
        assert journal.verify().ok and journal.verify().entries == 3


def test_buffered_mode_and_the_cli_on_postgres(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from policyengine.cli.main import main

    engine = policyengine.load()
    with open_journal(pg_url, mode="buffered") as journal:
        ids = [d.decision_id for d in engine.with_journal(journal).decide_many([FR, RU_KEYS])]
        journal.flush()
        assert [e.decision_id for e in journal.entries()] == ids
    assert main(["decide", "-j", "RU", "--journal", pg_url, "--format", "json"]) == 0
    capsys.readouterr()
    assert main(["journal", "verify", pg_url]) == 0
    assert "ok, " in capsys.readouterr().out
