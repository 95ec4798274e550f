"""The load cache trusts nothing in its folder: planted entries are misses, eviction spares others' files.

The reproduction of issue 12, point 1: a cache folder inside a checked-out or
restored tree is written by whoever wrote that tree.  They can compute the
key of the policy set (it hashes public texts), so they plant an entry under
exactly that name, holding a pickle whose ``__reduce__`` runs code.  Nothing
may ever run it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import policyengine
from policyengine.cli.main import main
from policyengine.evaluation import cache
from policyengine.language.loader import read_sources

PolicyDir = Callable[..., Path]

TEXT = """
jurisdiction FR "France" { rule_of_law = 0.7 }
principle p "P" {
    rule keys: withdraw when demand.kind == key_disclosure because "keys stay with users"
}
test "keys" {
    FR { kind = key_disclosure; category = fraud; legal_basis = statute } -> withdraw by p.keys
}
"""
REQUEST = {"jurisdiction": "FR", "demand": {"kind": "key_disclosure", "category": "fraud", "legal_basis": "statute"}}


class _Payload:
    """What an attacker pickles: unpickling it writes the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user-owned, private cache folder: the checks on owner and mode all pass."""
    folder = tmp_path / "workspace" / ".cache" / "policyengine"
    folder.mkdir(parents=True, mode=0o700)
    folder.chmod(0o700)
    monkeypatch.setenv("POLICYENGINE_CACHE_DIR", str(folder))
    monkeypatch.setenv("POLICYENGINE_CACHE_KEY", str(tmp_path / "config" / "policyengine" / "cache.key"))
    monkeypatch.delenv("POLICYENGINE_CACHE", raising=False)
    return folder


def _plant(root: Path, marker: Path) -> list[Path]:
    """Entries an attacker who read the source would plant, under the key they computed."""
    sources, _ = read_sources([root])
    path = cache.entry_path(sources)
    payload = pickle.dumps(_Payload(marker))
    planted = []
    # As the previous format was checked: magic, SHA-256 of the payload, payload.
    path.write_bytes(cache._MAGIC + hashlib.sha256(payload).digest() + payload)
    planted.append(path)
    # The old name and magic, for an older reader.
    legacy = path.with_suffix(".pickle")
    legacy.write_bytes(b"policyengine-cache-1\n" + hashlib.sha256(payload).digest() + payload)
    planted.append(legacy)
    for p in planted:
        p.chmod(0o600)
    return planted


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out


def test_a_planted_pickle_is_never_run(
    policy_dir: PolicyDir, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = policy_dir(TEXT)
    marker = tmp_path / "marker"
    request = tmp_path / "request.json"
    request.write_text(
        '{"jurisdiction": "FR", "demand": {"kind": "key_disclosure", "category": "fraud", "legal_basis": "statute"}}'
    )
    planted = _plant(root, marker)
    assert policyengine.load(root).decide(REQUEST).outcome.value == "withdraw"
    assert not marker.exists()
    for _ in range(2):  # again once our own entry replaced the planted one
        _plant(root, marker)
        code, out = _cli(capsys, "decide", "--request", str(request), "--format", "json", str(root))
        assert code == 0 and '"withdraw"' in out
        _plant(root, marker)
        code, out = _cli(capsys, "test", str(root))
        assert code == 0, out
        assert not marker.exists()
    # The planted entry was a miss, and our own, signed entry took its name.
    assert planted[0].read_bytes().startswith(cache._MAGIC)
    assert (
        cache._signature(_key(), planted[0].name, planted[0].read_bytes()[len(cache._MAGIC) + 32 :])
        == (planted[0].read_bytes()[len(cache._MAGIC) : len(cache._MAGIC) + 32])
    )


def _key() -> bytes:
    key = cache.secret()
    assert key is not None
    return key


def test_an_entry_signed_with_another_key_is_a_miss(policy_dir: PolicyDir, cache_dir: Path, tmp_path: Path) -> None:
    root = policy_dir(TEXT)
    marker = tmp_path / "marker"
    policyengine.load(root)
    sources, _ = read_sources([root])
    path = cache.entry_path(sources)
    payload = pickle.dumps(_Payload(marker))
    path.write_bytes(cache._MAGIC + cache._signature(os.urandom(32), path.name, payload) + payload)
    assert policyengine.load(root).decide(REQUEST).outcome.value == "withdraw"
    assert not marker.exists()


def test_even_a_validly_signed_entry_cannot_name_code(policy_dir: PolicyDir, cache_dir: Path, tmp_path: Path) -> None:
    """Defence in depth: had the key leaked, the restricted unpickler still builds no function."""
    root = policy_dir(TEXT)
    marker = tmp_path / "marker"
    sources, _ = read_sources([root])
    path = cache.entry_path(sources)
    path.parent.mkdir(parents=True, exist_ok=True)
    for payload in (
        pickle.dumps(_Payload(marker)),
        pickle.dumps((os.system, ("true",))),
        pickle.dumps(cache.analyse_cached),  # a function of our own
        pickle.dumps(policyengine.load),
    ):
        path.write_bytes(cache._MAGIC + cache._signature(_key(), path.name, payload) + payload)
        path.chmod(0o600)
        assert policyengine.load(root).decide(REQUEST).outcome.value == "withdraw"
        assert not marker.exists()


def test_a_renamed_entry_is_a_miss(policy_dir: PolicyDir, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The signature covers the entry's name: one of our own entries moved to another key is not served."""
    first, second = policy_dir(TEXT), policy_dir(TEXT.replace("withdraw", "negotiate"))
    policyengine.load(first)
    (ours,) = cache_dir.glob("*" + cache.SUFFIX)
    sources, _ = read_sources([second])
    target = cache.entry_path(sources)
    target.write_bytes(ours.read_bytes())
    target.chmod(0o600)
    assert policyengine.load(second).decide(REQUEST).outcome.value == "negotiate"


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_the_key_is_private_and_kept_outside_the_cache(
    policy_dir: PolicyDir, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = policy_dir(TEXT)
    policyengine.load(root)
    key = cache.key_path()
    assert key.stat().st_mode & 0o777 == 0o600 and key.stat().st_size == cache.KEY_BYTES
    assert not key.resolve().is_relative_to(cache_dir.resolve())
    # A key others can read (a restored tree's default mode) is refused: no cache at all.
    for entry in cache_dir.glob("*" + cache.SUFFIX):
        entry.unlink()
    key.chmod(0o644)
    assert cache.secret() is None
    assert policyengine.load(root).decide(REQUEST).outcome.value == "withdraw"
    assert list(cache_dir.glob("*" + cache.SUFFIX)) == []
    # A key inside the cache folder would come with the planted entries.
    monkeypatch.setenv("POLICYENGINE_CACHE_KEY", str(cache_dir / "cache.key"))
    assert cache.secret() is None
    policyengine.load(root)
    assert not (cache_dir / "cache.key").exists()
    assert list(cache_dir.glob("*" + cache.SUFFIX)) == []


def test_eviction_deletes_only_the_caches_own_entries(
    policy_dir: PolicyDir, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    others = {
        ".hidden.entry": "hidden",
        "." + "0" * 64 + ".entry": "hidden, named like an entry",
        "0" * 64 + ".pickle": "the old suffix",
        "notes.txt": "someone's notes",
        "a" * 63 + ".entry": "one digit short",
    }
    for name, text in others.items():
        (cache_dir / name).write_text(text)
        os.utime(cache_dir / name, (0, 0))  # the oldest files in the folder
    (cache_dir / "precious").mkdir()
    link = cache_dir / ("f" * 64 + cache.SUFFIX)
    link.symlink_to(cache_dir / "notes.txt")
    monkeypatch.setattr(cache, "KEEP", 2)
    for n in range(4):
        policyengine.load(policy_dir(TEXT.replace("France", f"France {n}")))
    ours = [
        p for p in cache_dir.glob("*" + cache.SUFFIX) if not p.is_symlink() and len(p.stem) == 64 and not p.name.startswith(".")
    ]
    assert len(ours) == 2
    for name, text in others.items():
        assert (cache_dir / name).read_text() == text
    assert (cache_dir / "precious").is_dir() and link.is_symlink()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_planted_as_an_entry_never_blocks(policy_dir: PolicyDir, cache_dir: Path, tmp_path: Path) -> None:
    """Run in a child with a timeout: a blocking open would hang the test forever otherwise."""
    root = policy_dir(TEXT)
    sources, _ = read_sources([root])
    os.mkfifo(cache.entry_path(sources), 0o600)
    script = textwrap.dedent(
        f"""
        import policyengine
        print(policyengine.load({str(root)!r}).decide({REQUEST!r}).outcome.value)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "withdraw"
