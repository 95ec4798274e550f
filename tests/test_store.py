"""PolicyStore: reload on demand, on a signal and by watching; bad sets are never served."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import policyengine
from policyengine import PolicyError, PolicyStore

GOOD = """
principle encryption "We never weaken encryption" {
    rule no_keys: withdraw when demand.kind in {key_disclosure, encryption_backdoor}
        because "handing over {demand.kind} would expose every user"
}
jurisdiction RU "Russia" { rule_of_law = 0.3 }
"""

# The same jurisdiction, but keys are now negotiated: decisions must change.
GOOD_2 = GOOD.replace("rule no_keys: withdraw", "rule no_keys: negotiate")

BROKEN = GOOD + '\nprinciple oops "missing its rules" {\n    rule r: withdraw when demand.kindd == hotline because "x"\n}\n'

KEYS = {"jurisdiction": "RU", "demand": {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"}}


def write(root: Path, text: str, name: str = "main.policy") -> None:
    """Replace a policy file the way careful tools do: write aside, then rename."""
    tmp = root / f".{name}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, root / name)


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll until ``predicate()`` holds; a bound on waiting, not an assertion on speed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def store_dir(policy_dir: Callable[..., Path]) -> Path:
    return policy_dir(GOOD)


def test_first_load_with_errors_raises(policy_dir: Callable[..., Path]) -> None:
    with pytest.raises(PolicyError) as info:
        PolicyStore(policy_dir(BROKEN))
    assert any(d.code == "PE203" for d in info.value.diagnostics)


def test_reload_swaps_in_a_valid_set(store_dir: Path) -> None:
    loaded: list[str] = []
    with PolicyStore(store_dir, on_reload=lambda e: loaded.append(e.version)) as store:
        first = store.version
        assert store.decide(KEYS).outcome == "withdraw"
        assert store.decide(KEYS).policy_version == first
        write(store_dir, GOOD_2)
        status = store.reload()
        assert status.last_attempt == "loaded"
        assert status.version == store.version != first
        assert status.loads == 2 and status.ok
        assert loaded == [store.version]
        d = store.decide(KEYS)
        assert d.outcome == "negotiate" and d.policy_version == store.version


def test_broken_set_is_rejected_and_the_last_good_one_served(store_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    errors: list[PolicyError] = []
    with PolicyStore(store_dir, on_error=errors.append) as store:
        good = store.version
        old_engine = store.engine
        write(store_dir, BROKEN)
        with caplog.at_level(logging.ERROR, logger="policyengine.evaluation.store"):
            status = store.reload()
        assert status.last_attempt == "rejected"
        assert store.engine is old_engine and store.version == good
        assert store.decide(KEYS).policy_version == good
        assert not status.ok and status.rejections == 1
        assert status.rejected_version is not None and status.rejected_version != good
        # Why: every diagnostic, located in the file.
        [diag] = [d for d in status.last_error if d.severity == "error"]
        line = next(n for n, text in enumerate(BROKEN.split("\n"), 1) if "kindd" in text)
        assert diag.code == "PE203" and diag.path == "main.policy" and diag.line == line
        assert "kindd" in diag.message
        assert len(errors) == 1 and errors[0].diagnostics[0].code == "PE203"
        assert store.last_error is errors[0]
        assert any(good in r.getMessage() and "rejected" in r.getMessage() for r in caplog.records)
        assert any("PE203" in r.getMessage() for r in caplog.records)
        # The same broken content is the same rejected version.
        assert store.reload().rejected_version == status.rejected_version
        # Fixing the file clears the rejection.
        write(store_dir, GOOD_2)
        fixed = store.reload()
        assert fixed.ok and fixed.rejected_version is None and fixed.last_error == ()
        assert fixed.rejections == 2 and store.version != good
        assert store.last_error is None


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(lambda root: (root / "main.policy").write_bytes(b"\x00\x01binary"), id="binary"),
        pytest.param(lambda root: (root / "main.policy").write_bytes(b"principle \xff"), id="not-utf8"),
        pytest.param(lambda root: (root / "main.policy").unlink(), id="no-files"),
        pytest.param(lambda root: (root / "main.policy").write_text(GOOD[: len(GOOD) // 2]), id="truncated"),
        pytest.param(lambda root: (root / "dup.policy").write_text(GOOD), id="duplicate-file"),
    ],
)
def test_every_kind_of_breakage_is_rejected(store_dir: Path, breakage: Callable[[Path], None]) -> None:
    with PolicyStore(store_dir) as store:
        good = store.version
        breakage(store_dir)
        status = store.reload()
        assert status.last_attempt == "rejected" and status.version == good
        assert status.last_error and all(d.path for d in status.last_error)
        assert store.decide(KEYS).outcome == "withdraw"


def test_missing_directory_is_rejected(tmp_path: Path, policy_dir: Callable[..., Path]) -> None:
    root = policy_dir(GOOD)
    with PolicyStore(root) as store:
        (root / "main.policy").unlink()
        root.rmdir()
        status = store.reload()
        assert status.last_attempt == "rejected"
        assert [d.code for d in status.last_error] == ["PE001"]
        assert store.decide(KEYS).outcome == "withdraw"


def test_unchanged_content_keeps_the_engine_and_its_memo(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import policyengine.evaluation.store as store_module

    with PolicyStore(store_dir) as store:
        engine = store.engine
        (store_dir / "main.policy").write_text(GOOD.replace("\n", "\r\n"), encoding="utf-8")  # same text, new mtime
        # Same content: recognised by its hash, without parsing anything.
        monkeypatch.setattr(store_module, "analyse_sources", None)
        status = store.reload()
        assert status.last_attempt == "unchanged"
        assert store.engine is engine and status.loads == 1


def test_readers_never_wait_for_a_reload(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reload stuck half-way (here: held inside validation) delays no decision."""
    import policyengine.evaluation.store as store_module

    entered, release = threading.Event(), threading.Event()
    real = store_module.analyse_sources

    def stuck(*args: object, **kwargs: object) -> object:
        entered.set()
        assert release.wait(30)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    with PolicyStore(store_dir) as store:
        old = store.version
        write(store_dir, GOOD_2)
        monkeypatch.setattr(store_module, "analyse_sources", stuck)
        reloader = threading.Thread(target=store.reload)
        reloader.start()
        try:
            assert entered.wait(30)
            # The reload holds its lock; readers get the old set, whole.
            for _ in range(1000):
                d = store.decide(KEYS)
                assert d.outcome == "withdraw" and d.policy_version == old
            assert store.status.version == old and store.status.last_attempt == "loaded"
        finally:
            release.set()
            reloader.join(30)
        assert store.decide(KEYS).outcome == "negotiate"


def test_internal_error_during_reload_keeps_serving(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import policyengine.evaluation.store as store_module

    def boom(*args: object, **kwargs: object) -> object:
        raise RuntimeError("simulated bug")

    with PolicyStore(store_dir) as store:
        good = store.version
        write(store_dir, GOOD_2)
        monkeypatch.setattr(store_module, "analyse_sources", boom)
        status = store.reload()
        assert status.internal_error == "RuntimeError: simulated bug" and not status.ok
        assert store.version == good and store.decide(KEYS).outcome == "withdraw"
        monkeypatch.undo()
        assert store.reload().ok


def test_a_failing_callback_does_not_stop_the_store(store_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    def bad_callback(_: object) -> None:
        raise ValueError("callback bug")

    with PolicyStore(store_dir, on_error=bad_callback, on_reload=bad_callback) as store:
        write(store_dir, BROKEN)
        with caplog.at_level(logging.ERROR, logger="policyengine.evaluation.store"):
            assert store.reload().last_attempt == "rejected"
        assert any("callback" in r.getMessage() for r in caplog.records)
        write(store_dir, GOOD_2)
        assert store.reload().last_attempt == "loaded"
        assert store.decide(KEYS).outcome == "negotiate"


def test_request_reload_runs_in_the_background(store_dir: Path) -> None:
    with PolicyStore(store_dir) as store:
        old = store.version
        write(store_dir, GOOD_2)
        for _ in range(50):  # a burst of requests is served, not queued fifty times
            store.request_reload()
        assert wait_for(lambda: store.version != old)
        assert wait_for(lambda: store.status.loads == 2)


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals only")
def test_sighup_reloads(store_dir: Path) -> None:
    before = signal.getsignal(signal.SIGHUP)
    store = PolicyStore(store_dir)
    try:
        store.install_signal_handler()
        old = store.version
        write(store_dir, GOOD_2)
        os.kill(os.getpid(), signal.SIGHUP)
        assert wait_for(lambda: store.version != old)
        assert store.decide(KEYS).outcome == "negotiate"
    finally:
        store.close()
    assert signal.getsignal(signal.SIGHUP) == before


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals only")
def test_signal_handler_needs_the_main_thread(store_dir: Path) -> None:
    caught: list[BaseException] = []
    with PolicyStore(store_dir) as store:

        def install() -> None:
            try:
                store.install_signal_handler()
            except RuntimeError as exc:
                caught.append(exc)

        t = threading.Thread(target=install)
        t.start()
        t.join()
    assert caught and "main thread" in str(caught[0])


def test_watch_reloads_changed_files_and_rejects_broken_ones(store_dir: Path) -> None:
    pytest.importorskip("watchfiles")
    errors: list[PolicyError] = []
    with PolicyStore(store_dir, watch=True, debounce_ms=50, on_error=errors.append) as store:
        good = store.version
        write(store_dir, GOOD_2)
        assert wait_for(lambda: store.version != good), "the watcher did not pick up a saved file"
        second = store.version
        write(store_dir, BROKEN)
        assert wait_for(lambda: store.status.rejected_version is not None), "the watcher did not see the broken file"
        # on_error runs just after the status is published: wait for it too.
        assert wait_for(lambda: bool(errors)) and store.version == second
        (store_dir / "notes.txt").write_text("not a policy")  # irrelevant files change nothing
        write(store_dir, GOOD_2)
        assert wait_for(lambda: store.status.ok)
        assert store.version == second
        watcher = store._watcher
    assert watcher is not None and not watcher.is_alive(), "close() must stop the watcher thread"


def test_watch_a_single_file(policy_dir: Callable[..., Path]) -> None:
    pytest.importorskip("watchfiles")
    root = policy_dir({"main.policy": GOOD, "other.policy": "# not loaded\n" + GOOD})
    with PolicyStore(root / "main.policy", watch=True, debounce_ms=50) as store:
        good = store.version
        write(root, GOOD_2)
        assert wait_for(lambda: store.version != good)


def test_watch_without_watchfiles_is_a_clear_error(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "watchfiles", None)
    with pytest.raises(RuntimeError, match=r"pip install 'policyengine\[watch\]'"):
        PolicyStore(store_dir, watch=True)


def test_status_is_a_serialisable_model(store_dir: Path) -> None:
    with PolicyStore(store_dir) as store:
        write(store_dir, BROKEN)
        store.reload()
        data = store.status.model_dump(mode="json")
        assert data["version"] == store.version
        assert data["last_error"][0]["code"] == "PE203"
        assert repr(store).startswith("<PolicyStore version=")
        assert isinstance(store.status, policyengine.StoreStatus)
