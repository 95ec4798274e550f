"""PolicyStore(watch=True) follows the configured path through every publish method (issue 12, points 2 and 5).

The reproductions: after an atomic symlink swap the store served the old set
for good (status ok, "unchanged"); after a directory rename swap it watched
the deleted folder; after ``rm -rf`` and re-creation it never reloaded.  And a
reload that caught an editor's truncation served a set without that file's
rules.  Waits are bounded (``wait_for``, 10 s), never timed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from policyengine import PolicyStore
from policyengine.language.render import render_plain, to_json

pytest.importorskip("watchfiles")

GOOD = """
principle encryption "We never weaken encryption" {
    rule no_keys: withdraw when demand.kind in {key_disclosure, encryption_backdoor}
        because "handing over {demand.kind} would expose every user"
}
jurisdiction RU "Russia" { rule_of_law = 0.3 }
"""
GOOD_2 = GOOD.replace("rule no_keys: withdraw", "rule no_keys: negotiate")
KEYS = {"jurisdiction": "RU", "demand": {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"}}
WAIT = 10.0


def wait_for(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Poll until ``predicate()`` holds; a bound on waiting, not an assertion on speed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def release(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "main.policy").write_text(text, encoding="utf-8")
    return folder


def outcome(store: PolicyStore) -> str:
    return store.decide(KEYS).outcome.value


def test_an_atomic_symlink_swap_is_followed(tmp_path: Path) -> None:
    release(tmp_path / "releases" / "v1", GOOD)
    release(tmp_path / "releases" / "v2", GOOD_2)
    current = tmp_path / "current"
    current.symlink_to(Path("releases") / "v1", target_is_directory=True)
    with PolicyStore(current, watch=True, debounce_ms=50) as store:
        assert outcome(store) == "withdraw"
        swap = tmp_path / "current.new"
        swap.symlink_to(Path("releases") / "v2", target_is_directory=True)
        os.replace(swap, current)
        assert wait_for(lambda: outcome(store) == "negotiate"), store.status
        assert store.status.ok and store.status.loads == 2
        # An in-place edit inside the new target is seen too: the watch moved there.
        (tmp_path / "releases" / "v2" / "main.policy").write_text(GOOD, encoding="utf-8")
        assert wait_for(lambda: outcome(store) == "withdraw"), store.status


def test_a_directory_rename_swap_is_followed(tmp_path: Path) -> None:
    live = release(tmp_path / "policies", GOOD)
    with PolicyStore(live, watch=True, debounce_ms=50) as store:
        assert outcome(store) == "withdraw"
        release(tmp_path / "policies.new", GOOD_2)
        os.rename(live, tmp_path / "policies.old")
        os.rename(tmp_path / "policies.new", live)
        assert wait_for(lambda: outcome(store) == "negotiate"), store.status
        shutil.rmtree(tmp_path / "policies.old")
        # The watch moved to the new folder: a file added there is seen.
        (live / "other.policy").write_text('jurisdiction FR "France" { rule_of_law = 0.7 }\n', encoding="utf-8")
        assert wait_for(lambda: "FR" in store.engine.compiled.jurisdictions), store.status
        assert outcome(store) == "negotiate"
        # And a second swap, the same way.
        release(tmp_path / "policies.new", GOOD)
        os.rename(live, tmp_path / "policies.old")
        os.rename(tmp_path / "policies.new", live)
        shutil.rmtree(tmp_path / "policies.old")
        assert wait_for(lambda: outcome(store) == "withdraw"), store.status


def test_remove_and_recreate_is_followed(tmp_path: Path) -> None:
    live = release(tmp_path / "policies", GOOD)
    with PolicyStore(live, watch=True, debounce_ms=50) as store:
        first = store.version
        shutil.rmtree(live)
        assert wait_for(lambda: store.status.rejected_version is not None), store.status
        assert store.version == first and outcome(store) == "withdraw"  # the last good set, kept
        release(live, GOOD_2)
        assert wait_for(lambda: outcome(store) == "negotiate"), store.status
        assert store.status.ok


def test_an_in_place_edit_is_followed(tmp_path: Path) -> None:
    live = release(tmp_path / "policies", GOOD)
    with PolicyStore(live, watch=True, debounce_ms=50) as store:
        with open(live / "main.policy", "w", encoding="utf-8") as fh:  # truncate, then write: what editors do
            fh.write(GOOD_2)
        assert wait_for(lambda: outcome(store) == "negotiate"), store.status


def _two_files(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    root.mkdir()
    (root / "jurisdictions.policy").write_text('jurisdiction RU "Russia" { rule_of_law = 0.3 }\n', encoding="utf-8")
    (root / "keys.policy").write_text(GOOD.replace('jurisdiction RU "Russia" { rule_of_law = 0.3 }', ""), encoding="utf-8")
    return root


def test_a_file_emptied_since_the_last_load_is_rejected(tmp_path: Path) -> None:
    """The reproduction: an empty file was only a warning, so withdraw became negotiate mid-save."""
    root = _two_files(tmp_path)
    errors = []
    with PolicyStore(root, on_error=errors.append) as store:
        good = store.version
        assert outcome(store) == "withdraw"
        (root / "keys.policy").write_bytes(b"")  # caught between truncation and write
        status = store.reload()
        assert status.last_attempt == "rejected" and not status.ok
        assert [d.code for d in status.last_error if d.severity == "error"] == ["PE008"]
        assert status.last_error[0].path == "keys.policy"
        assert store.version == good and outcome(store) == "withdraw"
        assert errors and errors[0].diagnostics[0].code in ("PE006", "PE008")
        # The save completes: served again.
        (root / "keys.policy").write_text(GOOD_2.replace('jurisdiction RU "Russia" { rule_of_law = 0.3 }', ""), encoding="utf-8")
        assert store.reload().ok and outcome(store) == "negotiate"
        # Deleting the file is a real change, not a truncation: loaded.
        (root / "keys.policy").unlink()
        status = store.reload()
        assert status.last_attempt == "loaded" and status.ok
        assert outcome(store) == "negotiate" or store.decide(KEYS).reasons == []


def test_a_file_empty_from_the_start_stays_a_warning(tmp_path: Path) -> None:
    root = _two_files(tmp_path)
    (root / "later.policy").write_text("", encoding="utf-8")
    with PolicyStore(root) as store:
        (root / "jurisdictions.policy").write_text('jurisdiction RU "Russia" { rule_of_law = 0.5 }\n', encoding="utf-8")
        assert store.reload().last_attempt == "loaded"


def test_the_emptied_file_diagnostic_renders(tmp_path: Path) -> None:
    """PE008 comes only from a store, so its golden rendering is pinned here, not through `check`."""
    root = _two_files(tmp_path)
    with PolicyStore(root) as store:
        (root / "keys.policy").write_bytes(b"")
        store.reload()
        error = store.last_error
        assert error is not None
        (d,) = [d for d in error.diagnostics if d.code == "PE008"]
        golden = Path(__file__).parent / "golden" / "store"
        plain, as_json = render_plain(d) + "\n", json.dumps(to_json(d), indent=2, sort_keys=True) + "\n"
        for name, text in (("PE008-emptied.txt", plain), ("PE008-emptied.json", as_json)):
            path = golden / name
            if not path.exists():
                golden.mkdir(exist_ok=True)
                path.write_text(text, encoding="utf-8")
                pytest.fail(f"{name} did not exist; written: review it and commit it")
            assert text == path.read_text(encoding="utf-8")


def test_a_truncation_seen_by_the_watcher_is_rejected(tmp_path: Path) -> None:
    root = _two_files(tmp_path)
    with PolicyStore(root, watch=True, debounce_ms=50) as store:
        good = store.version
        (root / "keys.policy").write_bytes(b"")
        assert wait_for(lambda: store.status.rejected_version is not None), store.status
        assert store.version == good and outcome(store) == "withdraw"
