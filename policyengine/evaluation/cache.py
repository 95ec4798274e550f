"""A load cache: unchanged policy files → the validated, compiled set, without parsing.

Stage contract: :func:`analyse_cached` takes what :func:`policyengine.load`
takes and returns ``(PolicySet | None, diagnostics, CompiledPolicy | None)``
like :func:`~policyengine.pipeline.analyse` followed by compilation.  It
never raises because of the cache: any problem with a cache file (missing,
truncated, corrupt, written by another version, owned by someone else,
unreadable, unpicklable) is a miss, and the set is analysed from its files.

Key.  A SHA-256 over the package version, the Python version, a hash of the
grammar and of the front end's own source files (so a code change can never
serve a stale result, even without a version bump), the load limits, and the
display path and text of every policy file (the standard vocabulary
included).  Files are read on every load to compute it; only parsing,
validation and compilation are skipped.

Trust.  A cache entry is a pickle, and unpickling runs code chosen by whoever
wrote the file, so entries are only read from a directory that the current
user owns and that no one else can write (and only files the user owns, not
group- or world-writable).  Each entry also carries a SHA-256 of its payload,
checked before unpickling, which catches truncation and corruption.  That
does not defend against an attacker who can already write as this user, but
such an attacker can also edit the package itself.  Never point the cache at
a shared or downloaded directory.  The cache is opt-out: ``load(...,
cache=False)`` or ``POLICYENGINE_CACHE=off``; ``POLICYENGINE_CACHE_DIR``
moves it (default ``$XDG_CACHE_HOME/policyengine``, else
``~/.cache/policyengine``).
"""

from __future__ import annotations

import contextlib
import copyreg
import dataclasses
import gc
import hashlib
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..language import ast
from ..language.diagnostics import Diagnostic, sorted_diagnostics
from ..language.loader import Limits, read_sources
from ..language.model import PolicySet
from ..language.pipeline import PathLike, analyse_sources, resolve_paths
from ..language.source import Span
from .compile import CompiledPolicy, compile_policy

_MAGIC = b"policyengine-cache-1\n"
#: Entries kept; older ones are removed after each write.
KEEP = 16
#: The front end's modules: a change to any of them changes every key.
#: What shapes a cached result, relative to the package: every module of the
#: language stage (diagnostics and their wording included: a cached warning
#: must read as the installed code would word it) and the compiler and cache.
_FRONT_END = ("language/*.py", "language/*.lark", "evaluation/compile.py", "evaluation/cache.py")


def enabled() -> bool:
    return os.environ.get("POLICYENGINE_CACHE", "").strip().lower() not in ("0", "off", "no", "false")


def cache_dir() -> Path:
    configured = os.environ.get("POLICYENGINE_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "policyengine"


_code_hash: str | None = None


def code_hash() -> str:
    """Hash of the grammar and the front end's source (computed once per process)."""
    global _code_hash
    if _code_hash is None:
        h = hashlib.sha256()
        package = Path(__file__).resolve().parent.parent
        for pattern in _FRONT_END:
            for path in sorted(package.glob(pattern)):
                h.update(path.relative_to(package).as_posix().encode())
                try:
                    h.update(path.read_bytes())
                except OSError:
                    h.update(b"<missing>")
        _code_hash = h.hexdigest()
    return _code_hash


def _key(sources: Sequence[Any], limits: Limits) -> str:
    from ..language.pipeline import prelude_sources

    h = hashlib.sha256()
    h.update(f"{__version__}|{sys.version_info[:3]}|{code_hash()}|{limits!r}".encode())
    for src in (*prelude_sources(), *sources):
        for part in (src.path, src.text):
            data = part.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)
    return h.hexdigest()


def _private_dir(path: Path) -> bool:
    """Owned by us and writable by no one else (where the platform can tell)."""
    if not hasattr(os, "getuid"):
        return True  # no POSIX ownership (Windows): the user profile is private
    st = os.stat(path, follow_symlinks=False)
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def _private_file(fd: int) -> bool:
    if not hasattr(os, "getuid"):
        return True
    st = os.fstat(fd)
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


# Slotted frozen dataclasses pickle through a generic __setstate__ that looks
# up their fields on every object; rebuilding them through their constructor
# is about three times faster, and a 10,000-rule set has ~600,000 of them.
def _reducer(cls: type) -> Any:
    names = tuple(f.name for f in dataclasses.fields(cls))

    def reduce(obj: Any) -> tuple[Any, tuple[Any, ...]]:
        return cls, tuple(getattr(obj, n) for n in names)

    return reduce


for _cls in (*(c for c in vars(ast).values() if isinstance(c, type) and dataclasses.is_dataclass(c)), Span):
    copyreg.pickle(_cls, _reducer(_cls))


def _read(path: Path) -> Any:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as fh:
        if not _private_file(fh.fileno()):
            return None
        data = fh.read()
    if not data.startswith(_MAGIC):
        return None
    digest, payload = data[len(_MAGIC) : len(_MAGIC) + 32], data[len(_MAGIC) + 32 :]
    if hashlib.sha256(payload).digest() != digest:
        return None
    # Unpickling builds hundreds of thousands of objects that all survive;
    # letting the collector scan them on the way triples the time.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(payload)
    finally:
        if was_enabled:
            gc.enable()


def _write(folder: Path, key: str, value: Any) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _private_dir(folder):
        return
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".pickle")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_MAGIC + hashlib.sha256(payload).digest() + payload)
        os.replace(tmp, folder / f"{key}.pickle")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        with contextlib.suppress(OSError):
            old.unlink()


def analyse_cached(
    paths: PathLike | Sequence[PathLike] | None, limits: Limits = Limits()
) -> tuple[PolicySet | None, list[Diagnostic], CompiledPolicy | None]:
    """Like analyse() then compile_policy(), served from the cache when the files are unchanged."""
    sources, read_diags = read_sources(resolve_paths(paths), limits)
    key = _key(sources, limits) if not any(d.is_error for d in read_diags) else None
    folder = cache_dir()
    if key is not None:
        try:
            found = _read(folder / f"{key}.pickle") if _private_dir(folder) else None
        except Exception:  # any failure to read an entry is a miss
            found = None
        if (
            isinstance(found, tuple)
            and len(found) == 3
            and isinstance(found[0], PolicySet)
            and isinstance(found[2], CompiledPolicy)
            and isinstance(found[1], list)
        ):
            return found[0], sorted_diagnostics([*read_diags, *found[1]]), found[2]
    policy_set, diagnostics = analyse_sources(sources, read_diags)
    if policy_set is None:
        return None, diagnostics, None
    compiled = compile_policy(policy_set)
    if key is not None:
        fresh = {id(d) for d in read_diags}
        cached_diags = [d for d in diagnostics if id(d) not in fresh]
        # A cache that cannot be written is no cache, not an error.
        with contextlib.suppress(Exception):
            _write(folder, key, (policy_set, cached_diags, compiled))
    return policy_set, diagnostics, compiled
