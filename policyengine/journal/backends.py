"""Where entries are stored: SQLite (a file) and PostgreSQL (a URL).

Stage contract: a backend appends a batch of prepared entries in **one
transaction** that also reads the chain's head, so the hash of each entry is
computed from the committed predecessor even when several processes write:

* SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock before the head
  is read (WAL mode; ``synchronous=FULL`` when durable, so a commit has
  reached the disk when it returns);
* PostgreSQL: ``SELECT … FROM journal_head … FOR UPDATE`` locks the one row
  that holds the head until the transaction commits, so concurrent writers,
  in any number of processes or machines, take turns on one chain.

Reads use a connection of their own.  Errors of the database are raised as
they are; :class:`~policyengine.journal.journal.Journal` turns them into
:class:`JournalError`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import PolicyEngineError
from .chain import GENESIS, entry_hash

#: The stored form's version, in the metadata; a journal of another format is not opened.
FORMAT = "1"

#: seq, kind, id, decision_id, recorded, outcome, body, prev, hash
Row = tuple[int, str, str, str | None, str, str | None, str, str, str]
COLUMNS = "seq, kind, id, decision_id, recorded, outcome, body, prev, hash"


class JournalError(PolicyEngineError):
    """The journal cannot be opened, written or read."""

    code = "journal.error"


@dataclass(slots=True)
class Pending:
    """An entry waiting for its place in the chain: everything but seq, prev and hash."""

    kind: str
    id: str
    decision_id: str | None
    recorded: str
    outcome: str | None
    body: str
    #: for an effect: the decision it refers to must be in the journal
    requires: str | None = None
    error: str | None = None
    seq: int = 0


class Backend(Protocol):
    def append(self, items: Sequence[Pending]) -> None: ...
    def rows(self, where: str = "", params: Sequence[Any] = (), order: str = "seq", limit: int | None = None) -> list[Row]: ...
    def meta(self) -> dict[str, str]: ...
    def prune(self, before: str, checkpoint: Any) -> int: ...
    def close(self) -> None: ...
    @property
    def name(self) -> str: ...


def _link(items: Sequence[Pending], seq: int, prev: str, exists: Any) -> tuple[list[tuple[Any, ...]], int, str]:
    rows = []
    for item in items:
        if item.requires is not None and not exists(item.requires):
            item.error = f"no decision `{item.requires}` in the journal"
            continue
        seq += 1
        h = entry_hash(prev, seq, item.body)
        item.seq = seq
        rows.append((seq, item.kind, item.id, item.decision_id, item.recorded, item.outcome, item.body, prev, h))
        prev = h
    return rows, seq, prev


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal_entries (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    decision_id TEXT,
    recorded TEXT NOT NULL,
    outcome TEXT,
    body TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
-- Decisions have decision_id = id, so this one index finds a decision by id and its effects;
-- ids are UUIDv7, unique by construction, and verify() would name a duplicate's broken link.
CREATE INDEX IF NOT EXISTS journal_entries_decision ON journal_entries (decision_id, kind);
CREATE INDEX IF NOT EXISTS journal_entries_recorded ON journal_entries (recorded);
CREATE TABLE IF NOT EXISTS journal_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SQLiteBackend:
    """One SQLite file in WAL mode; the writer connection lives in the writer thread."""

    def __init__(self, path: str, durable: bool):
        self.path = path
        self._sync = "FULL" if durable else "NORMAL"
        self._writer: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        try:
            conn = self._connect()
            try:
                # One transaction, so that two processes creating the file at once do not race.
                conn.executescript(
                    f"BEGIN IMMEDIATE; {_SQLITE_SCHEMA} INSERT OR IGNORE INTO journal_meta VALUES ('format', '{FORMAT}'); COMMIT;"
                )
                found = conn.execute("SELECT value FROM journal_meta WHERE key = 'format'").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open the journal `{path}`: {exc}") from None
        if found is None or found[0] != FORMAT:
            raise JournalError(f"`{path}` is a journal of format {found[0] if found else '?'}; this version reads {FORMAT}")
        self._reader = self._connect(check_same_thread=False)

    @property
    def name(self) -> str:
        return self.path

    def _connect(self, check_same_thread: bool = True) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=60, check_same_thread=check_same_thread)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._sync}")
        return conn

    def append(self, items: Sequence[Pending]) -> None:
        if self._writer is None:
            # Used by the writer thread only; closed by close() after that thread ended.
            self._writer = self._connect(check_same_thread=False)
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            head = conn.execute("SELECT seq, hash FROM journal_entries ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (head[0], head[1]) if head else (0, GENESIS)

            def exists(decision_id: str) -> bool:
                found = conn.execute("SELECT 1 FROM journal_entries WHERE decision_id = ? AND kind = 'decision'", (decision_id,))
                return found.fetchone() is not None or any(i.id == decision_id and i.seq for i in items)

            rows, _, _ = _link(items, seq, prev, exists)
            conn.executemany(f"INSERT INTO journal_entries ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def rows(self, where: str = "", params: Sequence[Any] = (), order: str = "seq", limit: int | None = None) -> list[Row]:
        sql = f"SELECT {COLUMNS} FROM journal_entries {('WHERE ' + where) if where else ''} ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._reader_lock:
            return list(self._reader.execute(sql.replace("%s", "?"), tuple(params)))

    def meta(self) -> dict[str, str]:
        with self._reader_lock:
            return dict(self._reader.execute("SELECT key, value FROM journal_meta"))

    def prune(self, before: str, checkpoint: Any) -> int:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                n = _prune(conn.execute, "?", before, checkpoint)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if n:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                conn.execute("VACUUM")
            return n
        finally:
            conn.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        with self._reader_lock:
            self._reader.close()


def _prune(execute: Any, mark: str, before: str, checkpoint: Any) -> int:
    """Delete the oldest entries recorded before ``before`` and append a checkpoint entry.

    Entries go in chain order: the prefix up to the first entry recorded at or
    after ``before``, so what remains is one unbroken chain whose first
    ``prev_hash`` the checkpoint entry names (and hashes into the chain).
    ``checkpoint(through, through_hash, count, head_seq, head_hash)`` returns
    the checkpoint's :class:`Pending`.
    """
    head = execute("SELECT seq, hash FROM journal_entries ORDER BY seq DESC LIMIT 1").fetchone()
    if head is None:
        return 0
    first_kept = execute(f"SELECT MIN(seq) FROM journal_entries WHERE recorded >= {mark}", (before,)).fetchone()[0]
    through = (first_kept - 1) if first_kept is not None else head[0]
    low = execute("SELECT MIN(seq) FROM journal_entries").fetchone()[0]
    if through < low:
        return 0
    through_hash = execute(f"SELECT hash FROM journal_entries WHERE seq = {mark}", (through,)).fetchone()[0]
    count = execute(f"SELECT COUNT(*) FROM journal_entries WHERE seq <= {mark}", (through,)).fetchone()[0]
    item: Pending = checkpoint(through, through_hash, count)
    rows, _, _ = _link([item], head[0], head[1], lambda _: True)
    execute(f"DELETE FROM journal_entries WHERE seq <= {mark}", (through,))
    execute(f"INSERT INTO journal_entries ({COLUMNS}) VALUES ({', '.join([mark] * 9)})", rows[0])
    for key, value in (("pruned_through", str(through)), ("pruned_hash", through_hash)):
        execute(
            f"INSERT INTO journal_meta (key, value) VALUES ({mark}, {mark}) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (key, value),
        )
    return int(count)


_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal_entries (
    seq BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    decision_id TEXT,
    recorded TEXT NOT NULL,
    outcome TEXT,
    body TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
-- Decisions have decision_id = id, so this one index finds a decision by id and its effects;
-- ids are UUIDv7, unique by construction, and verify() would name a duplicate's broken link.
CREATE INDEX IF NOT EXISTS journal_entries_decision ON journal_entries (decision_id, kind);
CREATE INDEX IF NOT EXISTS journal_entries_recorded ON journal_entries (recorded);
CREATE TABLE IF NOT EXISTS journal_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal_head (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), seq BIGINT NOT NULL, hash TEXT NOT NULL
);
"""
#: pg_advisory_xact_lock key that serialises schema creation between processes.
_SCHEMA_LOCK = 0x706F6C6A


class PostgresBackend:
    """A PostgreSQL database (psycopg 3): the chain's head is one row, locked by each append."""

    def __init__(self, url: str, durable: bool):
        try:
            import psycopg
        except ImportError:
            raise JournalError("a PostgreSQL journal needs psycopg 3", "pip install 'policyengine[postgres]'") from None
        self._psycopg = psycopg
        self.url = url
        self._durable = durable
        self._writer: Any = None
        self._reader_lock = threading.Lock()
        try:
            with psycopg.connect(url) as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for statement in filter(str.strip, _PG_SCHEMA.split(";")):
                    conn.execute(statement)
                conn.execute("INSERT INTO journal_meta VALUES ('format', %s) ON CONFLICT DO NOTHING", (FORMAT,))
                conn.execute("INSERT INTO journal_head VALUES (TRUE, 0, %s) ON CONFLICT DO NOTHING", (GENESIS,))
                found = conn.execute("SELECT value FROM journal_meta WHERE key = 'format'").fetchone()
            self._reader = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise JournalError(f"cannot open the journal at {_redact(url)}: {str(exc).strip()}") from None
        if found is None or found[0] != FORMAT:
            raise JournalError(
                f"{_redact(url)} holds a journal of format {found[0] if found else '?'}; this version reads {FORMAT}"
            )

    @property
    def name(self) -> str:
        return _redact(self.url)

    def _connect(self) -> Any:
        conn = self._psycopg.connect(self.url)
        if not self._durable:
            # The commit returns before the WAL reaches the disk; a crash of the
            # server can lose the last few hundred milliseconds (docs/journal.md).
            conn.execute("SET synchronous_commit = off")
            conn.commit()
        return conn

    def append(self, items: Sequence[Pending]) -> None:
        if self._writer is None or self._writer.closed:
            self._writer = self._connect()
        conn = self._writer
        try:
            with conn.transaction(), conn.cursor() as cur:
                seq, prev = cur.execute("SELECT seq, hash FROM journal_head WHERE one FOR UPDATE").fetchone()

                def exists(decision_id: str) -> bool:
                    cur.execute("SELECT 1 FROM journal_entries WHERE decision_id = %s AND kind = 'decision'", (decision_id,))
                    return cur.fetchone() is not None or any(i.id == decision_id and i.seq for i in items)

                rows, seq, prev = _link(items, seq, prev, exists)
                if rows:
                    with cur.copy(f"COPY journal_entries ({COLUMNS}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                    cur.execute("UPDATE journal_head SET seq = %s, hash = %s WHERE one", (seq, prev))
        except BaseException:
            # A broken connection is replaced on the next append.
            if conn.broken:
                self._writer = None
            raise

    def rows(self, where: str = "", params: Sequence[Any] = (), order: str = "seq", limit: int | None = None) -> list[Row]:
        sql = f"SELECT {COLUMNS} FROM journal_entries {('WHERE ' + where) if where else ''} ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._reader_lock:
            return list(self._reader.execute(sql, tuple(params)).fetchall())

    def meta(self) -> dict[str, str]:
        with self._reader_lock:
            return dict(self._reader.execute("SELECT key, value FROM journal_meta").fetchall())

    def prune(self, before: str, checkpoint: Any) -> int:
        with self._psycopg.connect(self.url) as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT seq, hash FROM journal_head WHERE one FOR UPDATE")
            n = _prune(cur.execute, "%s", before, checkpoint)
            if n:
                head = cur.execute("SELECT seq, hash FROM journal_entries ORDER BY seq DESC LIMIT 1").fetchone()
                cur.execute("UPDATE journal_head SET seq = %s, hash = %s WHERE one", head)
            return n

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        with self._reader_lock:
            self._reader.close()


def _redact(url: str) -> str:
    """A URL as shown in messages: without its password."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def open_backend(target: str | os.PathLike[str], durable: bool) -> Backend:
    text = os.fspath(target)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresBackend(text, durable)
    if "://" in text:
        raise JournalError(f"`{text}` is neither a file path nor a postgresql:// URL")
    return SQLiteBackend(text, durable)


def iter_rows(backend: Backend, where: str = "", params: Sequence[Any] = (), page: int = 2000) -> Iterator[Row]:
    """All rows matching ``where`` in chain order, read a page at a time (no lock held between pages)."""
    last = -1
    clause = f"seq > %s AND ({where})" if where else "seq > %s"
    while True:
        rows = backend.rows(clause, (last, *params), limit=page)
        yield from rows
        if len(rows) < page:
            return
        last = rows[-1][0]
