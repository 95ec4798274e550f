"""A policy set that can be replaced while it serves: :class:`PolicyStore`.

Stage contract: a store holds one live :class:`~policyengine.engine.Engine`
and replaces it when asked to reload — by :meth:`PolicyStore.reload`, by a
signal (:meth:`PolicyStore.install_signal_handler`) or by watching the policy
files (``watch=True``).  A reload reads, parses, validates and compiles the
new set completely, off to the side, and only then swaps one reference.  A
set with any error is never served: the store keeps the last good engine,
logs the diagnostics, calls ``on_error`` and reports the rejection in
:attr:`PolicyStore.status`.  Only the first load raises
(:class:`~policyengine.diagnostics.PolicyError`), because then there is no
good set to fall back on.

Why readers never wait: the live engine and its status travel together in
one immutable :class:`_Live` object, and a reader does a single attribute
read to get it.  Reloads are serialised by a lock that no reader ever takes,
so a reload in progress (or a stuck one) cannot delay a decision; a reader
sees either the old set or the new one, whole.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import signal
import stat
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..language.diagnostics import Diagnostic, PolicyError
from ..language.loader import SUFFIX, Limits, read_sources, walk
from ..language.pipeline import PathLike, analyse_sources, prelude_sources, resolve_paths
from ..language.render import to_json
from ..language.source import Source, Span
from ..language.validate import policy_version
from .decision import Decision, MarketDecision
from .engine import Engine
from .recorder import DecisionRecorder, journaled, journaled_many, journaled_market

log = logging.getLogger("policyengine.store")

#: What the last reload attempt did: swapped in a new set, found the same
#: content as the live one, or refused a set with errors.
Attempt = Literal["loaded", "unchanged", "rejected"]


class StoreDiagnostic(BaseModel):
    """One diagnostic of a rejected policy set, in the JSON shape of ``check --format json``."""

    model_config = ConfigDict(frozen=True)

    code: str
    severity: str
    message: str
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    hint: str | None = None


class StoreStatus(BaseModel):
    """What a :class:`PolicyStore` serves, and why it does not serve what is on disk.

    ``rejected_version`` and ``last_error`` describe the newest set that was
    refused; both are cleared as soon as a later reload succeeds, so
    ``status.ok`` is true exactly when the live set is the newest one read.
    """

    model_config = ConfigDict(frozen=True)

    paths: tuple[str, ...] = Field(description="the policy paths the store loads")
    version: str = Field(description="policy_version of the live set (the one every decision carries)")
    loaded_at: datetime = Field(description="when the live set was swapped in (UTC)")
    loads: int = Field(description="sets swapped in so far, the first load included")
    rejections: int = Field(description="sets refused so far because they had errors")
    last_attempt: Attempt = Field(description="what the newest reload did")
    last_attempt_at: datetime = Field(description="when the newest reload finished (UTC)")
    rejected_version: str | None = Field(
        default=None, description="content hash of the newest refused set, if it is newer than the live one"
    )
    rejected_at: datetime | None = None
    last_error: tuple[StoreDiagnostic, ...] = Field(default=(), description="diagnostics of the newest refused set")
    internal_error: str | None = Field(
        default=None, description="set when the newest reload failed on a bug, not on the policy files"
    )

    @property
    def ok(self) -> bool:
        """True when the live set is the newest one read (no rejection pending)."""
        return self.rejected_version is None and self.internal_error is None


@dataclass(frozen=True, slots=True)
class _Live:
    """The engine and its status, swapped as one reference so they always agree."""

    engine: Engine
    status: StoreStatus
    error: PolicyError | None


_STOP = object()


class _WatchStop:
    """The ``stop_event`` given to ``watchfiles.watch``.

    watchfiles asks it ``is_set()`` every step once its watcher exists, so the
    first question is proof that changes are being watched: the store waits
    for it before its constructor returns, and a file saved right after
    ``PolicyStore(..., watch=True)`` is never missed.
    """

    def __init__(self, closed: threading.Event):
        self.closed = closed
        self.ready = threading.Event()

    def is_set(self) -> bool:
        self.ready.set()
        return self.closed.is_set()


def _now() -> datetime:
    return datetime.now(UTC)


def _content_version(sources: Sequence[Source], read_diags: Sequence[Diagnostic]) -> str:
    """The version a set would have had, for a set that could not be loaded.

    Computed exactly as ``policy_version`` when every file could be read, so an
    operator can match a rejected version with what ``check`` reports; files
    that could not be read at all are mixed in through their diagnostics.
    """
    version = policy_version([*prelude_sources(), *sources])
    if not read_diags:
        return version
    h = hashlib.sha256(version.encode())
    for d in sorted(str(x) for x in read_diags):
        h.update(b"\x00" + d.encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:16]


def _emptied(sources: Sequence[Source], live: Engine) -> list[Diagnostic]:
    """PE008 for every file that had content in the live set and is empty now.

    An editor that saves in place truncates the file first; a reload that
    lands in between would read an empty file, which alone is only a warning
    (PE006), and serve a set without that file's rules: withdraw could turn
    into comply.  A file that was deleted is absent, not empty, and is no
    concern of this check.
    """
    before = {s.path: s.text for s in live.policy_set.sources}
    out = []
    for src in sources:
        if not src.text.strip() and before.get(src.path, "").strip():
            out.append(
                Diagnostic(
                    "PE008",
                    f"this file had content in the live set and is empty now ({len(before[src.path]):,} characters before)",
                    Span(Source(src.path, ""), 0, 0),
                    hint="if the file is being saved, the next reload picks it up; to drop its rules, delete the file",
                )
            )
    return out


class PolicyStore:
    """The live policy set of a long-running service, replaceable without downtime.

    ::

        store = PolicyStore("policies/", watch=True, on_error=alert)
        store.decide({"jurisdiction": "FR", "demand": {...}})   # never blocks on a reload
        store.status                                            # live version, last rejection

    ``paths`` are loaded as by :func:`policyengine.load` (None: the shipped
    library).  The first load happens in the constructor and raises
    :class:`~policyengine.diagnostics.PolicyError` if that set has errors.
    ``on_error(err)`` is called with the :class:`PolicyError` of every
    rejected reload, ``on_reload(engine)`` after every swap; an exception in
    either is logged and never stops the store.  Use the store as a context
    manager, or call :meth:`close`, to stop its background threads.
    """

    #: Seconds the constructor waits for the file watcher to be running.
    WATCH_START_TIMEOUT = 10.0

    def __init__(
        self,
        paths: PathLike | Sequence[PathLike] | None = None,
        *,
        watch: bool = False,
        on_error: Callable[[PolicyError], None] | None = None,
        on_reload: Callable[[Engine], None] | None = None,
        limits: Limits | None = None,
        debounce_ms: int = 400,
        journal: DecisionRecorder | None = None,
    ):
        self._paths = resolve_paths(paths)
        self._shown = tuple(os.fspath(p) for p in self._paths)
        self._limits = limits if limits is not None else Limits()
        self._on_error = on_error
        self._on_reload = on_reload
        self._debounce_ms = debounce_ms
        #: records every decision of every set the store serves (docs/journal.md)
        self._journal = journal
        self._reload_lock = threading.Lock()
        self._closed = threading.Event()
        self._requests: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._watcher: threading.Thread | None = None
        self._threads_lock = threading.Lock()
        self._signals: dict[int, Any] = {}

        engine, error, _ = self._build()
        if engine is None:
            assert error is not None
            raise error
        now = _now()
        status = StoreStatus(
            paths=self._shown,
            version=engine.version,
            loaded_at=now,
            loads=1,
            rejections=0,
            last_attempt="loaded",
            last_attempt_at=now,
        )
        self._live = _Live(engine, status, None)
        log.info("loaded policy version %s from %s", engine.version, ", ".join(self._shown))
        if watch:
            self._start_watcher()

    # --- reading: one attribute read, no lock ---------------------------------------

    @property
    def engine(self) -> Engine:
        """The live engine.  Keep the returned object to make several calls against one set."""
        return self._live.engine

    @property
    def version(self) -> str:
        """``policy_version`` of the live set."""
        return self._live.engine.version

    @property
    def status(self) -> StoreStatus:
        return self._live.status

    @property
    def last_error(self) -> PolicyError | None:
        """The error of the newest rejected set (with renderable diagnostics), or None."""
        return self._live.error

    def decide(self, request: Any) -> Decision:
        """:meth:`Engine.decide` on the live set (recorded first when the store has a journal)."""
        decision = self._live.engine.decide(request)
        return decision if self._journal is None else journaled(self._journal, request, decision)

    def decide_many(self, requests: Iterable[Any]) -> list[Decision]:
        """Decide a batch against one set, even if a reload lands meanwhile."""
        decisions = self._live.engine.decide_many(requests)
        return decisions if self._journal is None else journaled_many(self._journal, decisions)

    def standing(self, jurisdiction: str, demand: str) -> Decision:
        decision = self._live.engine.standing(jurisdiction, demand)
        return decision if self._journal is None else journaled(self._journal, None, decision)

    def market(self, jurisdiction: str) -> MarketDecision:
        market = self._live.engine.market(jurisdiction)
        return market if self._journal is None else journaled_market(self._journal, market)

    @property
    def journal(self) -> DecisionRecorder | None:
        """The journal that records the store's decisions, or None."""
        return self._journal

    # --- reloading ---------------------------------------------------------------------

    def _build(self, live: Engine | None = None) -> tuple[Engine | None, PolicyError | None, str | None]:
        """Read and compile the set on disk, touching nothing the readers see.

        Files whose content hashes to the live version are the live set (the
        front end is deterministic), so a reload with nothing changed costs
        one read and one hash, not a parse, a validation and a compilation.
        """
        sources, read_diags = read_sources(self._paths, self._limits)
        if live is not None:
            read_diags = [*read_diags, *_emptied(sources, live)]
        if live is not None and not read_diags and _content_version(sources, read_diags) == live.version:
            return live, None, None
        policy_set, diagnostics = analyse_sources(sources, read_diags)
        if policy_set is None:
            return None, PolicyError(diagnostics), _content_version(sources, read_diags)
        return Engine(policy_set, diagnostics), None, None

    def reload(self) -> StoreStatus:
        """Load the set on disk now; swap it in if it has no errors.

        Returns the new status; never raises on bad policy files (see
        :attr:`status` and ``on_error``).  Concurrent calls are serialised, and
        each one reads the files as they are when it gets its turn.
        """
        with self._reload_lock:
            return self._reload_locked()

    def _reload_locked(self) -> StoreStatus:
        old = self._live
        try:
            engine, error, rejected = self._build(old.engine)
        except Exception as exc:  # a bug below must not take the service down
            log.exception("policy reload failed with an internal error; still serving version %s", old.engine.version)
            now = _now()
            status = old.status.model_copy(
                update={
                    "last_attempt": "rejected",
                    "last_attempt_at": now,
                    "rejections": old.status.rejections + 1,
                    "internal_error": f"{type(exc).__name__}: {exc}",
                }
            )
            self._live = _Live(old.engine, status, old.error)
            return status
        now = _now()
        if engine is None:
            assert error is not None
            errors = [d for d in error.diagnostics if d.is_error]
            status = old.status.model_copy(
                update={
                    "last_attempt": "rejected",
                    "last_attempt_at": now,
                    "rejections": old.status.rejections + 1,
                    "rejected_version": rejected,
                    "rejected_at": now,
                    "last_error": tuple(StoreDiagnostic(**to_json(d)) for d in error.diagnostics),
                    "internal_error": None,
                }
            )
            self._live = _Live(old.engine, status, error)
            log.error(
                "policy set %s rejected (%d error%s); still serving version %s",
                rejected,
                len(errors),
                "" if len(errors) == 1 else "s",
                old.engine.version,
            )
            for d in errors:
                log.error("%s", d)
            self._call(self._on_error, error)
            return status
        if engine.version == old.engine.version:
            # Same content: keep the old engine and its warm memo.
            status = old.status.model_copy(
                update={
                    "last_attempt": "unchanged",
                    "last_attempt_at": now,
                    "rejected_version": None,
                    "rejected_at": None,
                    "last_error": (),
                    "internal_error": None,
                }
            )
            self._live = _Live(old.engine, status, None)
            return status
        status = StoreStatus(
            paths=self._shown,
            version=engine.version,
            loaded_at=now,
            loads=old.status.loads + 1,
            rejections=old.status.rejections,
            last_attempt="loaded",
            last_attempt_at=now,
        )
        self._live = _Live(engine, status, None)
        log.info("loaded policy version %s (was %s)", engine.version, old.engine.version)
        self._call(self._on_reload, engine)
        return status

    @staticmethod
    def _call(callback: Callable[[Any], None] | None, arg: Any) -> None:
        if callback is None:
            return
        try:
            callback(arg)
        except Exception:  # a broken callback must not stop reloads
            log.exception("policy store callback %r failed", callback)

    def request_reload(self) -> None:
        """Ask the background worker to reload soon; returns at once.

        Requests that pile up while a reload runs are served by one more
        reload.  Once the worker runs this takes no lock: it only puts a token
        on a :class:`queue.SimpleQueue`, whose ``put`` is reentrant, which is
        what makes it safe inside a signal handler.
        """
        if self._closed.is_set():
            return
        if self._worker is None:
            self._ensure_worker()
        self._requests.put(True)

    def _ensure_worker(self) -> None:
        with self._threads_lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="policyengine-reload", daemon=True)
                self._worker.start()

    def _work(self) -> None:
        while True:
            item = self._requests.get()
            # Coalesce: one reload serves every request made before it starts.
            try:
                while item is not _STOP:
                    item = self._requests.get_nowait()
            except queue.Empty:
                pass
            if item is _STOP or self._closed.is_set():
                return
            self.reload()

    # --- signals -------------------------------------------------------------------------

    def install_signal_handler(self, signum: int | None = None) -> None:
        """Reload when the process receives ``signum`` (``kill -HUP <pid>``).

        ``signum`` defaults to ``SIGHUP`` (POSIX only).  Must be called from
        the main thread (Python runs signal handlers only there).  The handler does not reload inside the signal handler:
        it wakes the store's reload thread, so a signal that arrives during
        a reload or a decision cannot deadlock or interleave with it.
        :meth:`close` restores the previous handler.
        """
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("install_signal_handler() must be called from the main thread")
        if signum is None:
            signum = getattr(signal, "SIGHUP", None)
            if signum is None:
                raise RuntimeError("this platform has no SIGHUP; pass another signal number")
        self._ensure_worker()

        def handler(signo: int, frame: FrameType | None) -> None:
            # The worker already runs, so this takes no lock: a signal landing
            # while the main thread holds any lock of ours cannot deadlock.
            self.request_reload()

        previous = signal.signal(signum, handler)
        self._signals.setdefault(signum, previous)

    # --- watching --------------------------------------------------------------------------

    def _start_watcher(self) -> None:
        try:
            import watchfiles
        except ImportError:
            self._closed.set()
            raise RuntimeError(
                "watching policy files needs the `watchfiles` package; install it with "
                "`pip install 'policyengine[watch]'` or use reload() / install_signal_handler()"
            ) from None
        stop = _WatchStop(self._closed)
        self._watcher = threading.Thread(target=self._watch, args=(watchfiles, stop), name="policyengine-watch", daemon=True)
        self._watcher.start()
        if not stop.ready.wait(self.WATCH_START_TIMEOUT):
            log.warning("the policy file watcher is not running after %s s; changes may be missed", self.WATCH_START_TIMEOUT)
        # Anything saved between the first load and the start of the watch.
        self.reload()

    #: Seconds between two looks at what the configured paths resolve to, so
    #: that a publish the file watcher cannot see (a symbolic link swapped,
    #: a directory renamed over another, a folder removed and created again)
    #: is picked up within about this long.
    POLL_SECONDS = 1.0

    def _watch_roots(self) -> list[tuple[Path, tuple[int, int] | None]]:
        """Directories to watch, resolved anew on every call, with their identity.

        A file is watched through its folder, so that an editor that saves by
        writing a new file and renaming it is still seen.  The identity
        (device, inode) tells a folder from the one renamed over it at the
        same path.
        """
        roots: list[tuple[Path, tuple[int, int] | None]] = []
        for p in self._paths:
            path = Path(os.path.realpath(p))
            root = path if path.is_dir() else path.parent
            try:
                st = os.stat(root)
                ident: tuple[int, int] | None = (st.st_dev, st.st_ino)
            except OSError:
                ident = None
            if (root, ident) not in roots:
                roots.append((root, ident))
        return roots

    def _fingerprint(self) -> tuple[Any, ...]:
        """What the configured paths resolve to now and the identity of every policy file under them.

        Cheap (a directory walk and a stat a file), and different whenever a
        reload could read something else: a link retargeted, a directory
        replaced, a file added, removed, replaced or written.
        """
        parts: list[Any] = []
        for p in self._paths:
            real = os.path.realpath(p)
            try:
                st = os.stat(real)
            except OSError:
                parts.append((os.fspath(p), real, None))
                continue
            entry: list[Any] = [os.fspath(p), real, st.st_dev, st.st_ino, st.st_mtime_ns]
            files = walk(Path(p)) if stat.S_ISDIR(st.st_mode) else []
            if not files:
                entry.append((st.st_size, st.st_mtime_ns))
            for f in files:
                try:
                    fs = os.stat(f)
                    entry.append((os.fspath(f), fs.st_dev, fs.st_ino, fs.st_size, fs.st_mtime_ns))
                except OSError:
                    entry.append((os.fspath(f), None))
            parts.append(tuple(entry))
        return tuple(parts)

    def _relevant(self, changes: set[tuple[Any, str]]) -> bool:
        for _change, path in changes:
            name = os.path.basename(path)
            if name.startswith("."):
                continue
            # A `.policy` file, or something without a suffix: a folder that
            # may hold (or have held) policy files.
            if name.endswith(SUFFIX) or "." not in name:
                return True
        return False

    def _watch(self, watchfiles: Any, stop: _WatchStop) -> None:
        """Reload on file events, and whenever the periodic look finds the paths changed.

        The configured paths are followed as given: they are resolved again
        on every event and every :data:`POLL_SECONDS`, and the watch moves to
        wherever they point now.
        """
        seen = self._fingerprint()

        def look() -> None:
            nonlocal seen
            now = self._fingerprint()
            if now != seen:
                seen = now  # taken before the reload reads: a later change is seen next time
                self.reload()

        while not self._closed.is_set():
            roots = self._watch_roots()
            existing = [r for r, ident in roots if ident is not None]
            if not existing:
                # Nothing to watch yet (the folder was removed): look again soon.
                stop.ready.set()
                self._closed.wait(self.POLL_SECONDS)
                look()
                continue
            try:
                for changes in watchfiles.watch(
                    *existing,
                    stop_event=stop,
                    debounce=self._debounce_ms,
                    step=50,
                    rust_timeout=int(self.POLL_SECONDS * 1000),
                    yield_on_timeout=True,
                    raise_interrupt=False,
                ):
                    if self._closed.is_set():
                        return
                    if changes and self._relevant(changes):
                        seen = self._fingerprint()
                        self.reload()
                    else:
                        look()
                    if self._watch_roots() != roots:
                        break  # the paths resolve elsewhere now: watch there
            except Exception:  # e.g. the watched folder vanished: watch again
                if self._closed.is_set():
                    return
                log.warning("watching %s failed; retrying", ", ".join(str(r) for r in existing), exc_info=True)
                self._closed.wait(self.POLL_SECONDS)
            look()

    # --- life cycle -------------------------------------------------------------------------

    def close(self, timeout: float = 5.0) -> None:
        """Stop the watcher and reload threads and restore signal handlers.

        The live engine stays usable; only reloading stops.  Signal handlers
        can be restored only from the main thread; from any other thread
        they stay installed but do nothing.
        """
        self._closed.set()
        self._requests.put(_STOP)
        for t in (self._watcher, self._worker):
            if t is not None and t is not threading.current_thread():
                t.join(timeout)
        if self._signals and threading.current_thread() is threading.main_thread():
            for signum, previous in self._signals.items():
                signal.signal(signum, previous)
            self._signals.clear()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def __enter__(self) -> PolicyStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        s = self._live.status
        state = "ok" if s.ok else f"rejected {s.rejected_version}"
        return f"<PolicyStore version={s.version} {state} paths={list(self._shown)}>"
