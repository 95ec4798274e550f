"""A load cache: unchanged policy files → the validated, compiled set, without parsing.

Stage contract: :func:`analyse_cached` takes what :func:`policyengine.load`
takes and returns ``(PolicySet | None, diagnostics, CompiledPolicy | None)``
like :func:`~policyengine.pipeline.analyse` followed by compilation.  It
never raises because of the cache: any problem with a cache file (missing,
truncated, corrupt, written by another version or another user, not signed
with this user's key, unreadable, not a regular file) is a miss, and the set
is analysed from its files.

Key.  A SHA-256 over the package version, the Python version, a hash of the
grammar and of the front end's own source files (so a code change can never
serve a stale result, even without a version bump), the load limits, and the
display path and text of every policy file (the standard vocabulary
included).  Files are read on every load to compute it; only parsing,
validation and compilation are skipped.

Trust.  Anyone can compute the key of a policy set, and a cache folder can
sit inside a checked-out or restored tree, so nothing in the folder is
trusted for what it is.  Two defences, each enough on its own:

* Every entry is signed: HMAC-SHA256, under a secret key of 32 random bytes
  kept *outside* the cache folder (``$POLICYENGINE_CACHE_KEY``, else
  ``$XDG_CONFIG_HOME/policyengine/cache.key``, else
  ``~/.config/policyengine/cache.key``), created on first use with mode 0600
  and used only if it is a regular file that this user owns and no one else
  can read or write.  The signature covers the entry's name and payload and
  is checked before anything is decoded, so a planted or swapped entry is a
  miss.  Without a usable key there is no cache (nothing read, nothing
  written).
* The payload is decoded by a restricted unpickler that can build only the
  plain classes of the language model and the compiled set (and ``set``,
  ``frozenset``, ``datetime.date``): any other global, a function above all,
  is refused, so even a validly signed entry cannot name code to run.
  (Pickle stays, restricted, because its C decoder is what keeps a warm load
  of a 10,000-rule set within its time budget; rebuilding the objects from
  plain data in Python would cost several times as much.)

Held-back bodies.  Each rule's condition and ``because`` text, and the
files' syntax trees, are most of a large set's objects, and a decision reads
only its candidate rules'.  So they are written as :class:`_Body` objects,
pickles inside the signed payload, decoded by the same restricted unpickler
when a field is first read (:func:`~policyengine.language.model.undefer`).
Since that is after the load, every class an entry names is checked as it
is written (:func:`_refuse_unreadable`): an entry the reader would refuse is
never written, rather than failing on a later read.

Eviction deletes only files that look like the cache's own entries
(``<64 hex digits>.entry``): never hidden files, never anything else in the
folder.  The cache is opt-out: ``load(..., cache=False)`` or
``POLICYENGINE_CACHE=off``; ``POLICYENGINE_CACHE_DIR`` moves it (default
``$XDG_CACHE_HOME/policyengine``, else ``~/.cache/policyengine``).
"""

from __future__ import annotations

import contextlib
import copyreg
import dataclasses
import datetime
import gc
import hashlib
import hmac
import io
import os
import pickle
import re
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
from ..language.model import DEFERRED, PolicySet, RuleModel
from ..language.pipeline import PathLike, analyse_sources, resolve_paths
from ..language.source import Source, Span
from .compile import CompiledPolicy, compile_policy

_MAGIC = b"policyengine-cache-3\n"
#: Entries kept; older ones are removed after each write.
KEEP = 16
#: The name of every entry the cache writes, and of nothing else it deletes.
SUFFIX = ".entry"
_ENTRY_NAME = re.compile(r"[0-9a-f]{64}\.entry")
#: Bytes of the signing key.
KEY_BYTES = 32
#: The front end's modules: a change to any of them changes every key.
#: What shapes a cached result, relative to the package: every module of the
#: language stage (diagnostics and their wording included: a cached warning
#: must read as the installed code would word it) and the compiler and cache.
_FRONT_END = ("language/*.py", "language/*.lark", "evaluation/compile.py", "evaluation/cache.py")
#: Modules whose classes an entry may hold; only classes defined there are built.
_ALLOWED_MODULES = frozenset(
    {
        "policyengine.language.ast",
        "policyengine.language.model",
        "policyengine.language.source",
        "policyengine.language.diagnostics",
        "policyengine.evaluation.compile",
    }
)
#: Plain data classes from outside the package: a date is built from its bytes.
_ALLOWED_BUILTINS = {("builtins", "frozenset"): frozenset, ("builtins", "set"): set, ("datetime", "date"): datetime.date}


def enabled() -> bool:
    return os.environ.get("POLICYENGINE_CACHE", "").strip().lower() not in ("0", "off", "no", "false")


def cache_dir() -> Path:
    configured = os.environ.get("POLICYENGINE_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "policyengine"


def key_path() -> Path:
    """Where the signing key lives: a per-user configuration file, never in the cache folder."""
    configured = os.environ.get("POLICYENGINE_CACHE_KEY")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "policyengine" / "cache.key"


def _private_key_file(fd: int) -> bool:
    """A regular file of the right size that only this user can read or write."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_size != KEY_BYTES:
        return False
    if not hasattr(os, "getuid"):
        return True
    return st.st_uid == os.getuid() and not st.st_mode & 0o077


def _inside(path: Path, folder: Path) -> bool:
    try:
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))
    except (OSError, ValueError):
        return True  # cannot tell: assume the worst


def secret(folder: Path | None = None) -> bytes | None:
    """This user's signing key, created on first use; None when no trustworthy key can be had.

    A key inside the cache folder would be planted along with the entries, so
    one there is never used.  A key that exists but is not private (a
    restored tree gives its files the default mode) is refused, not repaired:
    someone else may know it.
    """
    path = key_path()
    if _inside(path, folder if folder is not None else cache_dir()):
        return None
    # Read on every load (32 bytes): a key made public since is refused at once.
    key: bytes | None = None
    with contextlib.suppress(OSError):
        key = _read_key(path)
    if key is None:
        with contextlib.suppress(OSError):
            key = _create_key(path)
    return key


def _read_key(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not _private_key_file(fh.fileno()):
            raise PermissionError(f"{path} is not a private key file")
        data = fh.read(KEY_BYTES + 1)
    if len(data) != KEY_BYTES:
        raise PermissionError(f"{path} is not a key")
    return data


def _create_key(path: Path) -> bytes | None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = os.urandom(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return _read_key(path)
    try:
        os.write(fd, key)
    finally:
        os.close(fd)
    return key


_code_hash: str | None = None


def hashed_files() -> list[Path]:
    """The package files whose bytes are part of every key, relative to the package."""
    package = Path(__file__).resolve().parent.parent
    return [path.relative_to(package) for pattern in _FRONT_END for path in sorted(package.glob(pattern))]


def code_hash() -> str:
    """Hash of the grammar and the front end's source (computed once per process)."""
    global _code_hash
    if _code_hash is None:
        h = hashlib.sha256()
        package = Path(__file__).resolve().parent.parent
        for relative in hashed_files():
            h.update(relative.as_posix().encode())
            try:
                h.update((package / relative).read_bytes())
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


def entry_path(sources: Sequence[Any], limits: Limits = Limits()) -> Path:
    """The file the entry for these sources lives in (for tools and benchmarks)."""
    return cache_dir() / f"{_key(sources, limits)}{SUFFIX}"


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


class _Unpickler(pickle.Unpickler):
    """Builds only the classes of the language model and the compiled set.

    Every global a pickle names goes through :meth:`find_class`; refusing all
    but plain classes defined in our own data modules means an entry can call
    no function, import nothing, and build nothing else.  The one class of
    this module it may name is :class:`_Body`, which holds bytes and sources.
    ``sources`` are what a held-back body's persistent ids stand for (the
    entry's own :class:`Source` objects, by position); the entry itself has
    none.
    """

    def __init__(self, data: io.BytesIO, sources: tuple[Source, ...] = (), rules: tuple[RuleModel, ...] = ()) -> None:
        super().__init__(data)
        self.sources = sources
        self.rules = rules

    def find_class(self, module: str, name: str) -> Any:
        builtin = _ALLOWED_BUILTINS.get((module, name))
        if builtin is not None:
            return builtin
        if module == __name__ and name == "_Body":
            return _Body
        if module in _ALLOWED_MODULES and "." not in name:
            found = getattr(sys.modules.get(module), name, None)
            if isinstance(found, type) and found.__module__ == module:
                return found
        raise pickle.UnpicklingError(f"a cache entry may not name {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        if type(pid) is int and 0 <= pid < len(self.sources):
            return self.sources[pid]
        part, i = pid if type(pid) is tuple and len(pid) == 2 else (None, None)
        if part in _RULE_PARTS and type(i) is int and 0 <= i < len(self.rules):
            return getattr(self.rules[i], _RULE_PARTS[part])
        raise pickle.UnpicklingError("a cache entry may not hold persistent ids")


#: What a persistent id ``(letter, i)`` in the files' body stands for: that part of rule ``i``.
_RULE_PARTS = {"c": "condition", "b": "because"}


def _restricted_load(data: bytes, sources: tuple[Source, ...] = (), rules: tuple[RuleModel, ...] = (), start: int = 0) -> Any:
    """Decode signed data (from offset ``start``) with the restricted unpickler, the cycle collector paused.

    Unpickling builds many objects that all survive; letting the collector
    scan them on the way triples the time.  (A BytesIO of a bytes object
    shares its buffer until written to: the payload is not copied.)"""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        stream = io.BytesIO(data)
        stream.seek(start)
        return _Unpickler(stream, sources, rules).load()
    finally:
        if was_enabled:
            gc.enable()


class _Body:
    """Fields of a model object held back by the cache, decoded on first read.

    ``data`` is a pickle of ``{field: value}`` in which each :class:`Source`
    is the persistent id of its position in ``sources`` (so that a body does
    not carry the set's texts again, and its spans point at the very sources
    the set holds).  It comes from inside a signed entry, so it is as
    trusted as the entry, and it is decoded by the same restricted
    unpickler.  This is what keeps a warm load of a large set fast and small:
    a rule's condition and ``because`` text, and the syntax trees of the
    files, are most of its objects, and a decision reads only the rules that
    are candidates for it (:func:`~policyengine.language.model.undefer`)."""

    __slots__ = ("data", "rules", "sources")

    def __init__(self, data: bytes, sources: tuple[Source, ...], rules: tuple[RuleModel, ...] = ()) -> None:
        self.data = data
        self.sources = sources
        self.rules = rules

    def __reduce__(self) -> tuple[Any, ...]:
        return _Body, (self.data, self.sources, self.rules)

    def decode(self) -> dict[str, Any]:
        values = _restricted_load(self.data, self.sources, self.rules)
        if not isinstance(values, dict):  # pragma: no cover - written by _Pickler below
            raise pickle.UnpicklingError("a held-back body is not a mapping")
        return values


#: The fields the cache holds back, per class (see :class:`_Body`).
_HELD_BACK: dict[type, tuple[str, ...]] = {RuleModel: ("condition", "because"), PolicySet: ("files",)}


def _refuse_unreadable(obj: Any) -> None:
    """Refuse to write what :class:`_Unpickler` would refuse to read.

    A held-back body is decoded only when a field of it is first read, long
    after the load: an entry it could not decode would fail then, not be a
    miss.  So every class an entry names is checked as it is written, and an
    entry that would name another is not written at all."""
    cls = obj if isinstance(obj, type) else type(obj)
    module, name = cls.__module__, cls.__qualname__
    if (module, name) in _ALLOWED_BUILTINS or cls is _Body:
        return
    if module in _ALLOWED_MODULES and "." not in name and getattr(sys.modules.get(module), name, None) is cls:
        return
    raise pickle.PicklingError(f"a cache entry may not name {module}.{name}")


class _BodyPickler(pickle.Pickler):
    """Pickles one held-back body: each of the set's sources as its position,
    and each part of a rule in ``shared`` as its persistent id."""

    def __init__(self, file: io.BytesIO, positions: dict[int, Any], shared: dict[int, Any]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.positions = positions
        self.shared = shared

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) is Source:
            return self.positions.get(id(obj))
        return self.shared.get(id(obj))

    def reducer_override(self, obj: Any) -> Any:
        _refuse_unreadable(obj)
        return NotImplemented


class _Pickler(pickle.Pickler):
    """Pickles an entry, holding back the fields of :data:`_HELD_BACK` as :class:`_Body` objects."""

    def __init__(self, file: io.BytesIO, sources: tuple[Source, ...]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.sources = sources
        self.positions: dict[int, Any] = {id(src): i for i, src in enumerate(sources)}

    def reducer_override(self, obj: Any) -> Any:
        _refuse_unreadable(obj)
        held = _HELD_BACK.get(type(obj))
        if held is None or DEFERRED in obj.__dict__:
            return NotImplemented
        rules: tuple[RuleModel, ...] = ()
        shared: dict[int, Any] = {}
        if type(obj) is PolicySet:
            # The files' trees hold the rules' conditions and texts: those are
            # stored in the rules' own bodies, and named here.
            rules = obj.rules
            for i, rule in enumerate(rules):
                for letter, part in _RULE_PARTS.items():
                    shared.setdefault(id(getattr(rule, part)), (letter, i))
        body = io.BytesIO()
        _BodyPickler(body, self.positions, shared).dump({name: getattr(obj, name) for name in held})
        state = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name not in held}
        state[DEFERRED] = _Body(body.getvalue(), self.sources, rules)
        # Rebuilt as the class itself (object.__new__, then its __dict__), not through __init__.
        return copyreg.__newobj__, (type(obj),), state  # type: ignore[attr-defined]


def _signature(secret: bytes, name: str, payload: bytes | memoryview) -> bytes:
    mac = hmac.new(secret, _MAGIC + name.encode() + b"\x00", hashlib.sha256)
    mac.update(payload)
    return mac.digest()


def _read(path: Path, secret: bytes) -> Any:
    # Never block (a FIFO planted under the entry's name) and never follow a
    # link; the type is checked on the descriptor that is read.
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as fh:
        if not _private_file(fh.fileno()):
            return None
        data = fh.read()
    if not data.startswith(_MAGIC):
        return None
    # Views, not copies: the payload of a large set is tens of megabytes.
    view = memoryview(data)
    mac, payload = view[len(_MAGIC) : len(_MAGIC) + 32], view[len(_MAGIC) + 32 :]
    if not hmac.compare_digest(_signature(secret, path.name, payload), mac):
        return None
    return _restricted_load(data, start=len(_MAGIC) + 32)


def _evict(folder: Path) -> None:
    """Remove the oldest entries past :data:`KEEP`: only regular files named as ours."""
    entries: list[tuple[float, Path]] = []
    with os.scandir(folder) as it:
        for item in it:
            if not _ENTRY_NAME.fullmatch(item.name):
                continue
            with contextlib.suppress(OSError):
                st = item.stat(follow_symlinks=False)
                if stat.S_ISREG(st.st_mode):
                    entries.append((st.st_mtime, Path(item.path)))
    entries.sort(reverse=True)
    for _mtime, old in entries[KEEP:]:
        with contextlib.suppress(OSError):
            old.unlink()


def _write(folder: Path, key: str, value: Any, secret: bytes) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _private_dir(folder):
        return
    name = f"{key}{SUFFIX}"
    buffer = io.BytesIO()
    policy_set = value[0] if isinstance(value, tuple) and value and isinstance(value[0], PolicySet) else None
    _Pickler(buffer, policy_set.sources if policy_set is not None else ()).dump(value)
    payload = buffer.getvalue()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="tmp-", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_MAGIC + _signature(secret, name, payload) + payload)
        os.replace(tmp, folder / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _evict(folder)


def analyse_cached(
    paths: PathLike | Sequence[PathLike] | None, limits: Limits = Limits()
) -> tuple[PolicySet | None, list[Diagnostic], CompiledPolicy | None]:
    """Like analyse() then compile_policy(), served from the cache when the files are unchanged."""
    sources, read_diags = read_sources(resolve_paths(paths), limits)
    key = _key(sources, limits) if not any(d.is_error for d in read_diags) else None
    folder = cache_dir()
    signing_key = secret(folder) if key is not None else None
    if key is not None and signing_key is not None:
        try:
            found = _read(folder / f"{key}{SUFFIX}", signing_key) if _private_dir(folder) else None
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
    if key is not None and signing_key is not None:
        fresh = {id(d) for d in read_diags}
        cached_diags = [d for d in diagnostics if id(d) not in fresh]
        # A cache that cannot be written is no cache, not an error.
        with contextlib.suppress(Exception):
            _write(folder, key, (policy_set, cached_diags, compiled), signing_key)
    return policy_set, diagnostics, compiled
