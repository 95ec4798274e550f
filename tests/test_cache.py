"""The load cache: unchanged files load from it; anything odd about an entry is a miss."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import policyengine
from policyengine.evaluation import cache

PolicyDir = Callable[..., Path]

TEXT = """
jurisdiction FR "France" { rule_of_law = 0.7 }
principle p "P" {
    rule keys: withdraw when demand.kind == key_disclosure because "keys stay with users"
}
"""
REQUEST = {"jurisdiction": "FR", "demand": {"kind": "key_disclosure", "category": "fraud", "legal_basis": "statute"}}


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("POLICYENGINE_CACHE_DIR", str(folder))
    monkeypatch.setenv("POLICYENGINE_CACHE_KEY", str(tmp_path / "config" / "cache.key"))
    monkeypatch.delenv("POLICYENGINE_CACHE", raising=False)
    return folder


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*" + cache.SUFFIX)) if folder.exists() else []


def test_second_load_is_served_from_the_cache(policy_dir: PolicyDir, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = policy_dir(TEXT)
    first = policyengine.load(root)
    assert len(entries(cache_dir)) == 1
    # A hit must not parse: make parsing fail loudly.
    monkeypatch.setattr(cache, "analyse_sources", lambda *a: pytest.fail("parsed despite an unchanged set"))
    second = policyengine.load(root)
    assert second.version == first.version
    assert second.decide(REQUEST) == first.decide(REQUEST)
    assert second.policy_set.rules == first.policy_set.rules
    assert [r.span.location() for r in second.policy_set.rules] == [r.span.location() for r in first.policy_set.rules]


def test_a_changed_file_is_a_miss(policy_dir: PolicyDir, cache_dir: Path) -> None:
    root = policy_dir(TEXT)
    policyengine.load(root)
    (root / "main.policy").write_text(TEXT.replace("withdraw", "negotiate"), encoding="utf-8")
    assert policyengine.load(root).decide(REQUEST).outcome.value == "negotiate"
    assert len(entries(cache_dir)) == 2


def test_warnings_come_back_from_the_cache(policy_dir: PolicyDir, cache_dir: Path) -> None:
    root = policy_dir({"main.policy": TEXT, "empty.policy": "# nothing yet\n"})
    first = policyengine.load(root)
    second = policyengine.load(root)
    assert [d.code for d in second.warnings] == [d.code for d in first.warnings]


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(b""),
        lambda p: p.write_bytes(p.read_bytes()[:-10]),
        lambda p: p.write_bytes(b"not a cache entry at all"),
        lambda p: p.write_bytes(p.read_bytes()[:-1] + bytes([p.read_bytes()[-1] ^ 1])),  # payload no longer matches its digest
    ],
    ids=["empty", "truncated", "foreign", "flipped-bit"],
)
def test_a_damaged_entry_is_a_miss(policy_dir: PolicyDir, cache_dir: Path, damage: Callable[[Path], object]) -> None:
    root = policy_dir(TEXT)
    policyengine.load(root)
    (entry,) = entries(cache_dir)
    damage(entry)
    assert policyengine.load(root).decide(REQUEST).outcome.value == "withdraw"


def test_a_valid_pickle_of_the_wrong_thing_is_a_miss(policy_dir: PolicyDir, cache_dir: Path) -> None:
    import pickle

    root = policy_dir(TEXT)
    policyengine.load(root)
    (entry,) = entries(cache_dir)
    payload = pickle.dumps({"not": "a policy set"})
    key = cache.secret()
    assert key is not None
    entry.write_bytes(cache._MAGIC + cache._signature(key, entry.name, payload) + payload)
    assert policyengine.load(root).decide(REQUEST).outcome.value == "withdraw"


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_entries_in_a_directory_others_can_write_are_never_read(
    policy_dir: PolicyDir, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = policy_dir(TEXT)
    policyengine.load(root)
    cache_dir.chmod(0o777)
    monkeypatch.setattr(cache._Unpickler, "load", lambda *a: pytest.fail("unpickled from a shared directory"))
    assert policyengine.load(root).decide(REQUEST).outcome.value == "withdraw"
    cache_dir.chmod(0o700)
    (entry,) = entries(cache_dir)
    entry.chmod(0o666)
    assert policyengine.load(root).decide(REQUEST).outcome.value == "withdraw"


def test_opting_out(policy_dir: PolicyDir, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = policy_dir(TEXT)
    policyengine.load(root, cache=False)
    assert entries(cache_dir) == []
    monkeypatch.setenv("POLICYENGINE_CACHE", "off")
    policyengine.load(root)
    assert entries(cache_dir) == []


def test_an_unwritable_cache_is_no_error(policy_dir: PolicyDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be", encoding="utf-8")
    monkeypatch.setenv("POLICYENGINE_CACHE_DIR", str(blocker / "cache"))
    assert policyengine.load(policy_dir(TEXT)).decide(REQUEST).outcome.value == "withdraw"


def test_policy_errors_are_never_cached(policy_dir: PolicyDir, cache_dir: Path) -> None:
    root = policy_dir("principle p {")
    for _ in range(2):
        with pytest.raises(policyengine.PolicyError):
            policyengine.load(root)
    assert entries(cache_dir) == []


@pytest.mark.parametrize("text", [TEXT, "principle p {"], ids=["loads", "fails"])
def test_the_garbage_collector_is_restored_after_a_load(policy_dir: PolicyDir, cache_dir: Path, text: str) -> None:
    import gc

    assert gc.isenabled()
    with contextlib.suppress(policyengine.PolicyError):
        policyengine.load(policy_dir(text))
    assert gc.isenabled()
    gc.disable()
    try:
        with contextlib.suppress(policyengine.PolicyError):
            policyengine.load(policy_dir(text))
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()


def test_every_module_that_shapes_an_entry_is_in_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12, point 11: the key left out diagnostics.py, so an upgrade served stale warnings."""
    import sys
    from pathlib import PurePosixPath

    hashed = {PurePosixPath(p.as_posix()) for p in cache.hashed_files()}
    assert PurePosixPath("language/diagnostics.py") in hashed
    assert PurePosixPath("language/grammar.lark") in hashed
    # Every module whose classes an entry may hold (the unpickler's list) is hashed.
    for module in cache._ALLOWED_MODULES:
        path = Path(sys.modules[module].__file__ or "").resolve()
        package = Path(cache.__file__).resolve().parent.parent
        assert PurePosixPath(path.relative_to(package).as_posix()) in hashed, module
    # And a change to one of them changes the hash.
    before = cache.code_hash()
    real = Path.read_bytes
    target = Path(sys.modules["policyengine.language.diagnostics"].__file__ or "").resolve()

    def edited(self: Path) -> bytes:
        data = real(self)
        return data + b"# upgraded" if self.resolve() == target else data

    monkeypatch.setattr(cache, "_code_hash", None)
    monkeypatch.setattr(Path, "read_bytes", edited)
    assert cache.code_hash() != before


LAZY_TEXT = """
vocabulary { extend enum action { notify_them } }
jurisdiction FR "France" { rule_of_law = 0.7 }
principle p "P" {
    rule keys: withdraw when demand.kind == key_disclosure because "keys stay with {demand.kind}"
        actions notify_them when demand.kind == key_disclosure
    rule data: comply when demand.kind == user_data and jurisdiction.rule_of_law > 0.5 because "lawful"
}
test "t" { FR { kind = key_disclosure; category = fraud; legal_basis = statute } -> withdraw }
"""


def test_a_warm_load_decodes_rule_bodies_and_syntax_trees_on_first_read(policy_dir: PolicyDir, cache_dir: Path) -> None:
    """Conditions, `because` texts and the files' syntax trees are held back
    (most of a large set's objects) and decoded when first read, equal to what
    a load from the files builds, spans pointing at the set's own sources."""
    from policyengine.language.model import DEFERRED

    root = policy_dir(LAZY_TEXT)
    fresh = policyengine.load(root, cache=False)
    policyengine.load(root)
    warm = policyengine.load(root)
    assert all(DEFERRED in r.__dict__ for r in warm.policy_set.rules)
    assert DEFERRED in warm.policy_set.__dict__
    assert warm.decide(REQUEST) == fresh.decide(REQUEST)
    for cached, built in zip(warm.policy_set.rules, fresh.policy_set.rules, strict=True):
        assert cached.condition == built.condition and cached.because == built.because
        assert DEFERRED not in cached.__dict__
        assert cached.because.span.source in warm.policy_set.sources
        assert cached.because.span.location() == built.because.span.location()
    assert warm.policy_set.files == fresh.policy_set.files  # (sources compare by identity: not across loads)
    assert DEFERRED not in warm.policy_set.__dict__
    assert [f.span.location() for f in warm.policy_set.files] == [f.span.location() for f in fresh.policy_set.files]


def test_a_held_back_body_is_decoded_by_the_restricted_unpickler() -> None:
    """A body comes from inside a signed entry, and is still decoded by the
    unpickler that builds nothing but the model's classes."""
    import pickle

    class Evil:
        def __reduce__(self) -> tuple[object, ...]:
            return (os.system, ("true",))

    body = cache._Body(pickle.dumps({"condition": Evil()}), ())
    with pytest.raises(pickle.UnpicklingError):
        body.decode()
    with pytest.raises(pickle.UnpicklingError):  # a persistent id names only one of the entry's sources
        cache._Body(b"\x80\x05K\x07Q.", ()).decode()


def test_a_set_with_dates_is_served_from_the_cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped library has dates (a demand's `issued`): its entry must be
    readable (before, datetime.date was refused on reading, so every load of
    it was a miss), and every class an entry names is checked when written."""
    first = policyengine.load()
    assert len(entries(cache_dir)) == 1
    monkeypatch.setattr(cache, "analyse_sources", lambda *a: pytest.fail("parsed despite an unchanged set"))
    second = policyengine.load()
    assert [r.qualified for r in second.policy_set.rules] == [r.qualified for r in first.policy_set.rules]
    assert [r.condition for r in second.policy_set.rules] == [r.condition for r in first.policy_set.rules]


def test_an_entry_naming_a_class_the_reader_refuses_is_not_written() -> None:
    import datetime
    import io
    import pickle

    with pytest.raises(pickle.PicklingError):
        cache._Pickler(io.BytesIO(), ()).dump((datetime.datetime(2024, 1, 1),))
    cache._Pickler(io.BytesIO(), ()).dump((datetime.date(2024, 1, 1), frozenset({1})))


def test_a_load_served_from_the_cache_imports_no_parser(cache_dir: Path) -> None:
    """A hit parses nothing, so it does not import the parser or Lark (a fresh
    process loading the shipped library from the cache took half the CPU)."""
    import subprocess
    import sys

    code = (
        "import sys, policyengine\n"
        "engine = policyengine.load()\n"
        "print(sorted(m for m in sys.modules if m.startswith('lark') or m == 'policyengine.language.parser'))\n"
    )
    env = {**os.environ, "POLICYENGINE_CACHE": "on"}
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert "'lark'" in first.stdout  # a miss: parsed
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert second.stdout.strip() == "[]", second.stdout


def _read_conditions(rules: tuple[Any, ...], start: Any, out: list[Any]) -> None:
    start.wait()
    try:
        out.append([r.condition for r in rules])
    except BaseException as e:
        out.append(e)


def test_threads_reading_held_back_fields_at_once_all_get_them(policy_dir: PolicyDir, cache_dir: Path) -> None:
    import threading

    many = "".join(f'    rule r{i}: comply when demand.kind == user_data because "r{i}"\n' for i in range(200))
    root = policy_dir(LAZY_TEXT.replace("}\ntest", many + "}\ntest"))
    expected = [r.condition for r in policyengine.load(root, cache=False).policy_set.rules]
    policyengine.load(root)
    for _ in range(3):
        rules = policyengine.load(root).policy_set.rules
        start = threading.Barrier(4)
        out: list[Any] = []
        threads = [threading.Thread(target=_read_conditions, args=(rules, start, out)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert out == [expected] * 4
