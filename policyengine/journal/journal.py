"""The journal: every decision recorded, in order, tamper-evident.

Stage contract: :func:`open_journal` opens (or creates) a journal at a file
path (SQLite) or a ``postgresql://`` URL and returns a :class:`Journal`.
:meth:`Journal.record` masks the request, appends a decision entry to the
hash chain and returns the decision's id; :meth:`Journal.record_effect`
appends an effect event that refers to one.  Reads (:meth:`entries`,
:meth:`effects`, :meth:`pending`, :meth:`verify`) never block writers for
long.  Every failure is a :class:`JournalError`.

Group commit: callers hand their entry to one writer thread and wait; the
writer takes everything that arrived while the previous transaction was
committing and appends it in one transaction.  Under load a batch holds
hundreds of entries and one disk flush serves them all; alone, an entry is
committed on its own at once.

Durability (``mode``):

* ``durable`` (default): :meth:`record` returns only after the transaction
  holding its entry committed (SQLite ``synchronous=FULL``: on disk).  If the
  write fails, :meth:`record` raises, so a decision is never returned as made
  without its entry.
* ``buffered``: :meth:`record` returns once the entry is queued; the writer
  commits at least every :data:`FLUSH_SECONDS`.  A crash of the process loses
  at most the entries recorded in the last :data:`FLUSH_SECONDS` plus the
  commit in progress; SQLite uses ``synchronous=NORMAL`` (a power cut may
  also lose commits since the last WAL checkpoint), PostgreSQL
  ``synchronous_commit=off``.  A write failure is logged, and raised by the
  next :meth:`flush` or :meth:`close`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Literal

from ..evaluation.decision import Decision
from .backends import Backend, JournalError, Pending, Row, iter_rows, open_backend
from .chain import GENESIS, canonical, entry_hash, format_time, new_id, parse_time
from .masking import Masking

log = logging.getLogger("policyengine.journal")

Mode = Literal["durable", "buffered"]
#: The effects an effect event may record.
EFFECTS = ("given", "refused", "narrowed", "escalated", "challenged")
#: Longest wait of a buffered entry before its commit starts, in seconds.
FLUSH_SECONDS = 0.2
#: Entries queued at most in buffered mode; past it record() waits for the writer.
MAX_QUEUED = 100_000
#: Decisions whose entry text is kept (:meth:`Journal._decision_text`).
_TEXTS = 4096


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One recorded decision, as stored (the request after masking)."""

    decision_id: str
    timestamp: datetime
    policy_version: str
    jurisdiction: str
    request: dict[str, Any]
    outcome: str
    rules: tuple[str, ...]
    default_applied: bool
    demand: str | None
    jurisdiction_chain: tuple[str, ...]
    actions: tuple[Any, ...]
    as_of: str | None
    seq: int
    prev_hash: str
    hash: str

    @property
    def input(self) -> dict[str, Any]:
        """The request as the engine takes it: ``{"jurisdiction", "demand"}``."""
        return {"jurisdiction": self.jurisdiction, "demand": dict(self.request)}


@dataclass(frozen=True, slots=True)
class EffectEvent:
    """What became of a decision: given, refused, narrowed, escalated or challenged."""

    id: str
    decision_id: str
    effect: str
    at: datetime
    by: str
    note: str
    recorded: datetime
    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The chain checked from its first stored entry to its head."""

    ok: bool
    entries: int
    first_bad: str | None = None
    why: str | None = None
    head: str | None = None
    #: seq of the first stored entry (1 unless pruned)
    first_seq: int = 1


@dataclass(slots=True)
class _Batch:
    items: list[Pending] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


def open_journal(target: str | os.PathLike[str], *, mode: Mode = "durable", masking: Masking | None = None) -> Journal:
    """Open (or create) the journal at a file path or a ``postgresql://`` URL."""
    if mode not in ("durable", "buffered"):
        raise JournalError(f"the journal mode is `durable` or `buffered`, not `{mode}`")
    return Journal(open_backend(target, mode == "durable"), mode=mode, masking=masking)


class Journal:
    """An open journal; safe to share between threads.  Use it as a context manager or call :meth:`close`."""

    def __init__(self, backend: Backend, *, mode: Mode = "durable", masking: Masking | None = None):
        self._backend = backend
        self.mode = mode
        self.masking = masking if masking is not None else Masking()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)
        self._batch = _Batch()
        self._closing = False
        self._closed = False
        self._failure: BaseException | None = None
        self._inflight: _Batch | None = None
        self._texts: dict[int, tuple[Decision, str, str]] = {}
        self._writer = threading.Thread(target=self._write_loop, name="policyengine-journal", daemon=True)
        self._writer.start()

    @property
    def target(self) -> str:
        """The file or URL (password hidden) the journal lives at."""
        return self._backend.name

    # --- writing ------------------------------------------------------------------------

    def _decision_text(self, decision: Decision, policy_version: str) -> str:
        """The canonical JSON of what a decision entry says about the decision.

        Memoised decisions come back as the same object again and again, so
        the text is kept per object (checked by identity, bounded): a hit costs
        a dict lookup instead of masking and encoding."""
        key = id(decision)
        found = self._texts.get(key)
        if found is not None and found[0] is decision and found[1] == policy_version:
            return found[2]
        content = {
            "policy_version": policy_version,
            "jurisdiction": decision.jurisdiction,
            "request": self.masking.apply(_plain(decision.request)),
            "outcome": decision.outcome.value,
            "rules": [r.qualified for r in decision.reasons],
            "default_applied": decision.default_applied,
            "demand": decision.demand,
            "jurisdiction_chain": list(decision.jurisdiction_chain),
            "actions": _plain(getattr(decision, "actions", ())),
            "as_of": _plain(getattr(decision, "as_of", None)),
        }
        try:
            text = canonical(content)
        except (TypeError, ValueError) as exc:
            raise JournalError(f"the decision cannot be journaled: {exc}") from None
        if len(self._texts) >= _TEXTS:
            self._texts.clear()
        self._texts[key] = (decision, policy_version, text)
        return text

    def _decision_item(self, decision: Decision, policy_version: str) -> Pending:
        decision_id, now = new_id()
        # canonical({"decision": ..., "id": ..., "kind": "decision", "timestamp": ...}), spelt out:
        # the keys are in sorted order and an id or a timestamp never needs escaping.
        content = self._decision_text(decision, policy_version)
        text = f'{{"decision":{content},"id":"{decision_id}","kind":"decision","timestamp":"{now}"}}'
        return Pending("decision", decision_id, decision_id, now, decision.outcome.value, text)

    def record(self, request: Mapping[str, Any], decision: Decision, *, policy_version: str) -> str:
        """Append ``decision`` and return its id (a UUIDv7).

        The stored request is the demand as decided (``decision.request``,
        defaults applied) after masking; ``request`` is the caller's input,
        which the decision already echoes.  Durable mode: returns after the
        commit, raises :class:`JournalError` if it failed.
        """
        del request  # the decision carries the request it decided, normalised
        item = self._decision_item(decision, policy_version)
        self._wait(self._submit([item]))
        return item.id

    def record_many(self, items: Sequence[tuple[Mapping[str, Any], Decision]], *, policy_version: str) -> list[str]:
        """:meth:`record` for a batch, committed together: the ids, in order."""
        pending = [self._decision_item(d, policy_version) for _, d in items]
        if pending:
            self._wait(self._submit(pending))
        return [p.id for p in pending]

    def record_effect(self, decision_id: str, effect: str, *, by: str, note: str = "", at: datetime | None = None) -> str:
        """Append an effect event for a journaled decision and return the event's id.

        Always waits for its commit (also when buffered): the decision it refers
        to is checked in the same transaction, and an unknown id is an error.
        """
        if effect not in EFFECTS:
            from ..language.diagnostics import did_you_mean

            raise JournalError(
                f"`{effect}` is not an effect; the effects are {', '.join(EFFECTS)}",
                did_you_mean(effect, EFFECTS),
                code="journal.unknown-effect",
            )
        if not isinstance(by, str) or not by.strip():
            raise JournalError("an effect needs `by`: who gave, refused or escalated it", code="journal.effect-by")
        event_id, now = new_id()
        body = {
            "kind": "effect",
            "id": event_id,
            "timestamp": now,
            "decision_id": decision_id,
            "effect": effect,
            "at": format_time(at) if at is not None else now,
            "by": by,
            "note": note,
        }
        item = Pending("effect", event_id, decision_id, now, None, canonical(body), requires=decision_id)
        batch = self._submit([item])
        batch.done.wait()
        self._raise(batch)
        if item.error is not None:
            raise JournalError(
                item.error, "`policyengine journal export` lists the decision ids", code="journal.unknown-decision"
            )
        return event_id

    def _submit(self, items: list[Pending]) -> _Batch:
        with self._lock:
            if self._closing:
                raise JournalError("the journal is closed", code="journal.closed")
            while self.mode == "buffered" and len(self._batch.items) >= MAX_QUEUED and not self._closing:
                self._room.wait()
            batch = self._batch
            first = not batch.items
            batch.items.extend(items)
            if first:
                self._wake.notify()
        return batch

    def _wait(self, batch: _Batch) -> None:
        if self.mode == "durable":
            batch.done.wait()
            self._raise(batch)
        elif self._failure is not None:
            self._raise_failure()

    def _raise(self, batch: _Batch) -> None:
        if batch.error is not None:
            raise JournalError(
                f"the journal at {self._backend.name} could not be written: {_describe(batch.error)}",
                "the decision was not recorded, so it was not returned (fail closed)",
                code="journal.write-failed",
            ) from batch.error

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise JournalError(
                f"the journal at {self._backend.name} could not be written: {_describe(failure)}",
                "entries recorded in buffered mode since the last commit were lost",
                code="journal.write-failed",
            ) from failure

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                while not self._batch.items and not self._closing:
                    self._wake.wait()
                if not self._batch.items and self._closing:
                    return
                if self.mode == "buffered" and not self._closing:
                    # Gather for a while: one commit for everything that came meanwhile.
                    self._wake.wait(FLUSH_SECONDS)
                batch, self._batch = self._batch, _Batch()
                self._inflight = batch
                self._room.notify_all()
            try:
                self._backend.append(batch.items)
            except BaseException as exc:  # every caller of the batch is told; the writer goes on
                batch.error = exc
                if self.mode == "buffered":
                    log.error("journal write failed, %d entries lost: %s", len(batch.items), _describe(exc))
                    self._failure = exc
            batch.done.set()

    def flush(self) -> None:
        """Wait until everything recorded so far is committed (a no-op in durable mode)."""
        with self._lock:
            batch, inflight = self._batch, self._inflight
            if batch.items:
                self._wake.notify()
        for waiting in (inflight, batch):
            if waiting is not None and waiting.items:
                waiting.done.wait()
        self._raise_failure()

    def close(self) -> None:
        """Commit what is queued, stop the writer, close the connections."""
        with self._lock:
            if self._closed:
                return
            self._closing = True
            self._wake.notify_all()
            self._room.notify_all()
        self._writer.join()
        self._closed = True
        self._backend.close()
        self._raise_failure()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({self._backend.name!r}, mode={self.mode!r})"

    # --- reading ------------------------------------------------------------------------

    def _read(self) -> None:
        if self.mode == "buffered" and not self._closed:
            self.flush()
        if self._closed:
            raise JournalError("the journal is closed", code="journal.closed")

    def entries(self, *, start: datetime | None = None, end: datetime | None = None) -> Iterator[JournalEntry]:
        """The decisions recorded in ``[start, end)``, in chain order."""
        self._read()
        where, params = ["kind = 'decision'"], []
        if start is not None:
            where.append("recorded >= %s")
            params.append(format_time(start))
        if end is not None:
            where.append("recorded < %s")
            params.append(format_time(end))
        for row in iter_rows(self._backend, " AND ".join(where), params):
            yield _entry(row)

    def entry(self, decision_id: str) -> JournalEntry | None:
        """The decision with this id, or None."""
        self._read()
        rows = self._backend.rows("decision_id = %s AND kind = 'decision'", (decision_id,))
        return _entry(rows[0]) if rows else None

    def effects(self, decision_id: str) -> list[EffectEvent]:
        """The effect events of one decision, in the order they were recorded."""
        self._read()
        return [_effect(r) for r in self._backend.rows("decision_id = %s AND kind = 'effect'", (decision_id,))]

    def all_effects(self) -> Iterator[EffectEvent]:
        """Every effect event, in chain order."""
        self._read()
        for row in iter_rows(self._backend, "kind = 'effect'"):
            yield _effect(row)

    def pending(self, outcome: str = "negotiate") -> list[JournalEntry]:
        """Decisions with this outcome and no effect event yet, oldest first."""
        self._read()
        rows = self._backend.rows(
            "kind = 'decision' AND outcome = %s AND NOT EXISTS (SELECT 1 FROM journal_entries e "
            "WHERE e.decision_id = journal_entries.id AND e.kind = 'effect')",
            (outcome,),
            order="recorded, seq",
        )
        return [_entry(r) for r in rows]

    def verify(self) -> VerifyResult:
        """Check every stored entry: its hash, its link to the one before, its columns against its body."""
        self._read()
        meta = self._backend.meta()
        count = 0
        prev: str | None = None
        expected_seq = 0
        first_seq = 1
        checkpoint_seen = "pruned_through" not in meta
        for row in iter_rows(self._backend):
            seq, kind, ident, body, stored_hash = row[0], row[1], row[2], row[6], row[8]
            if prev is None:
                first_seq = seq
                if seq == 1:
                    prev = GENESIS
                elif meta.get("pruned_through") == str(seq - 1):
                    prev = meta["pruned_hash"]
                else:
                    why = f"the chain starts at entry {seq}, but no checkpoint says entries before it were pruned"
                    return VerifyResult(False, count, ident, why, first_seq=seq)
                expected_seq = seq
            problem = _check_row(row, prev, expected_seq)
            if problem is not None:
                return VerifyResult(False, count, ident, problem, first_seq=first_seq)
            if kind == "checkpoint":
                data = json.loads(body)
                if str(data.get("through")) == meta.get("pruned_through") and data.get("through_hash") == meta.get("pruned_hash"):
                    checkpoint_seen = True
            count += 1
            prev = stored_hash
            expected_seq += 1
        if not checkpoint_seen:
            return VerifyResult(
                False,
                count,
                None,
                f"the journal says entries up to {meta['pruned_through']} were pruned, but no checkpoint entry records it",
                first_seq=first_seq,
            )
        return VerifyResult(True, count, None, None, head=prev, first_seq=first_seq)

    def prune(self, before: datetime) -> int:
        """Delete the entries recorded before ``before`` (a prefix of the chain) and append a
        checkpoint entry holding the hash of the last one deleted: the rest still verifies.
        Returns the number of entries deleted."""
        self.flush()
        cut = format_time(before)

        def checkpoint(through: int, through_hash: str, count: int) -> Pending:
            ident, now = new_id()
            body = {
                "kind": "checkpoint",
                "id": ident,
                "timestamp": now,
                "before": cut,
                "through": through,
                "through_hash": through_hash,
                "pruned": count,
            }
            return Pending("checkpoint", ident, None, now, None, canonical(body))

        try:
            return self._backend.prune(cut, checkpoint)
        except JournalError:
            raise
        except Exception as exc:
            raise JournalError(f"cannot prune the journal at {self._backend.name}: {_describe(exc)}") from exc


def _check_row(row: Row, prev: str, expected_seq: int) -> str | None:
    seq, kind, ident, decision_id, recorded, outcome, body, stored_prev, stored_hash = row
    if seq != expected_seq:
        return f"entry {expected_seq} is missing: the next stored entry is {seq}"
    if stored_prev != prev:
        return f"entry {seq} does not follow entry {seq - 1}: its prev_hash is not that entry's hash"
    if entry_hash(prev, seq, body) != stored_hash:
        return f"entry {seq} was changed after it was written: its content does not match its hash"
    try:
        data = json.loads(body)
    except ValueError:
        return f"entry {seq} is not JSON"
    if not isinstance(data, dict) or canonical(data) != body:
        return f"entry {seq} is not in the canonical encoding"
    wanted: dict[str, str | None] = {
        "kind": kind,
        "id": ident,
        "timestamp": recorded,
    }
    if kind == "decision":
        if not isinstance(data.get("decision"), dict) or data["decision"].get("outcome") != outcome:
            return f"entry {seq}: its `outcome` column does not match its hashed body"
        if decision_id != ident:
            return f"entry {seq}: its decision_id column does not match its body"
    elif kind == "effect":
        wanted.update(decision_id=decision_id)
    for name, value in wanted.items():
        if data.get(name) != value:
            return f"entry {seq}: its `{name}` column does not match its hashed body"
    return None


def _entry(row: Row) -> JournalEntry:
    seq, _, ident, _, recorded, outcome, body, prev, h = row
    data = json.loads(body)["decision"]
    return JournalEntry(
        decision_id=ident,
        timestamp=parse_time(recorded),
        policy_version=data["policy_version"],
        jurisdiction=data["jurisdiction"],
        request=data["request"],
        outcome=outcome or data["outcome"],
        rules=tuple(data["rules"]),
        default_applied=bool(data["default_applied"]),
        demand=data.get("demand"),
        jurisdiction_chain=tuple(data.get("jurisdiction_chain", ())),
        actions=tuple(data.get("actions") or ()),
        as_of=data.get("as_of"),
        seq=seq,
        prev_hash=prev,
        hash=h,
    )


def _effect(row: Row) -> EffectEvent:
    seq, _, ident, decision_id, recorded, _, body, _, h = row
    data = json.loads(body)
    return EffectEvent(
        id=ident,
        decision_id=decision_id or data["decision_id"],
        effect=data["effect"],
        at=parse_time(data["at"]),
        by=data["by"],
        note=data.get("note", ""),
        recorded=parse_time(recorded),
        seq=seq,
        hash=h,
    )


def _plain(value: Any) -> Any:
    """A decision attribute (actions, as_of) as JSON data."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
