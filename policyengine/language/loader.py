"""Files on disk → :class:`~policyengine.source.Source` objects.

Stage contract: :func:`read_sources` takes paths (files or directories) and
returns the decoded sources plus diagnostics for everything that could not be
read: missing or unreadable paths, things that are not regular files (a FIFO
would block the read forever), directories without policy files, binary,
UTF-16 or otherwise non-UTF-8 content, files over the limits.  It never raises
on bad input, and never reads more than :data:`MAX_FILE_BYTES` + 1 bytes of a
file, so a stray multi-gigabyte log in a policy directory costs nothing.
"""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .diagnostics import Diagnostic
from .source import Source, Span

#: Largest policy file read, in bytes.  The parser reads about 0.8 MB of
#: policy text a second (docs/language.md, "Limits"), so the largest file
#: costs a second or so; a 10,000-rule policy set (~2.5 MB) is a dozen files
#: of a few hundred kilobytes.  The shipped library is ~130 KiB in all.
MAX_FILE_BYTES = 1024 * 1024
#: Most lines a policy file may have: ten bytes a line at the byte limit.
MAX_FILE_LINES = 100_000

SUFFIX = ".policy"

_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


@dataclass(frozen=True)
class Limits:
    """Input limits, configurable per load."""

    max_file_bytes: int = MAX_FILE_BYTES
    max_file_lines: int = MAX_FILE_LINES


DEFAULT_LIMITS = Limits()


def default_policy_dir() -> Path:
    """The shipped policy library (installed inside the package as ``policyengine/policies``
    or, in a source checkout, the top-level ``policies/``)."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "policies"
    if packaged.is_dir():
        return packaged
    return package.parent / "policies"


def _base(paths: list[Path]) -> Path | None:
    """The directory paths are shown relative to: the directory given, or the
    deepest directory that holds everything given.  So a policy set reads the
    same (same paths in diagnostics, same version) whether it is loaded as a
    directory or as the list of its files."""
    dirs = []
    for p in paths:
        absolute = Path(os.path.abspath(p))
        try:
            dirs.append(absolute if absolute.is_dir() else absolute.parent)
        except OSError:
            dirs.append(absolute.parent)
    try:
        return Path(os.path.commonpath(dirs)) if dirs else None
    except ValueError:  # different drives
        return None


def _display(path: Path, base: Path | None) -> str:
    """How a file is named in diagnostics and reasons: relative to ``base``, with `/`."""
    if base is not None:
        try:
            return Path(os.path.abspath(path)).relative_to(base).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def _nowhere(path: str) -> Span:
    """The span of a problem with a whole file: it has no text to point into."""
    return Span(Source(path, ""), 0, 0)


def _too_large(path: str, what: str, limit: str) -> Diagnostic:
    return Diagnostic(
        "PE004",
        f"this file has {what}; policy files may have at most {limit}",
        _nowhere(path),
        hint="split the policy set into several files",
    )


def decode(
    path: str, data: bytes, limits: Limits = DEFAULT_LIMITS, size: int | None = None
) -> tuple[Source | None, list[Diagnostic]]:
    """Decode the bytes of one policy file, with checks for size, binary and non-UTF-8 data.

    ``size`` is the size of the file on disk when ``data`` holds only its
    first :attr:`Limits.max_file_bytes` + 1 bytes."""
    size = len(data) if size is None else size
    if size > limits.max_file_bytes:
        return None, [_too_large(path, f"{size:,} bytes", f"{limits.max_file_bytes:,} bytes")]
    for bom, name in _BOMS:
        if data.startswith(bom):
            return None, [
                Diagnostic(
                    "PE002",
                    f"this file is {name} text; policy files are UTF-8",
                    _nowhere(path),
                    hint="save it as UTF-8 (in most editors: Save As… → Encoding → UTF-8)",
                )
            ]
    if b"\x00" in data:
        # No excerpt: the text of a binary file shown on a terminal is noise.
        return None, [
            Diagnostic(
                "PE003",
                "this file contains NUL bytes; it looks binary, not like policy text",
                _nowhere(path),
                hint=f"only text files ending in `{SUFFIX}` belong in a policy set",
            )
        ]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        good = _text_before(data, exc.start)
        src = Source(path, good + "\ufffd")
        return None, [
            Diagnostic(
                "PE002",
                f"byte 0x{data[exc.start]:02x} is not valid UTF-8",
                Span(src, len(good), len(good) + 1),
                hint="save the file as UTF-8 (it may be in a legacy encoding such as Windows-1252)",
                label="here",
            )
        ]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.count("\n") + 1
    if lines > limits.max_file_lines:
        return None, [_too_large(path, f"{lines:,} lines", f"{limits.max_file_lines:,}")]
    source = Source(path, text)
    if not text.strip():
        return source, [Diagnostic("PE006", "this file is empty", _nowhere(path), hint="add declarations or delete the file")]
    return source, []


def _text_before(data: bytes, offset: int) -> str:
    """The text before a bad byte, decoded as well as it can be and with line
    endings normalised: the bad byte gets a line and column, the same whatever
    the line endings of the file."""
    return data[:offset].decode("utf-8-sig", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


@dataclass(frozen=True)
class RefusedLink:
    """A symbolic link under a policy directory that is not followed, and why."""

    path: Path
    target: str  # the link's own text, as ``ls -l`` shows it
    why: str


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def walk(root: Path, problems: list[tuple[Path, OSError]] | None = None, refused: list[RefusedLink] | None = None) -> list[Path]:
    """The policy files under ``root``, sorted, by the one rule for links.

    Hidden files and directories are skipped.  A symbolic link, to a file or
    a directory alike, is followed when its target stays inside ``root`` (as
    ``root`` resolves now) and, for a file, is itself a ``.policy`` file;
    any other link goes to ``refused`` and nothing behind it is read, so a
    link to ``/etc/passwd`` or to a credentials file can never have its text
    shown in a diagnostic.  Each real directory is walked once (a link loop
    ends).  Directories that cannot be listed go to ``problems``.
    """
    found: list[Path] = []
    try:
        real_root = os.path.realpath(root)
    except (OSError, ValueError) as exc:
        if problems is not None and isinstance(exc, OSError):
            problems.append((root, exc))
        return found
    visited = {real_root}
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as it:
                items = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if problems is not None:
                problems.append((folder, exc))
            continue
        for item in items:
            if item.name.startswith("."):
                continue
            path = Path(item.path)
            try:
                is_link = item.is_symlink()
                is_dir = item.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if not is_link:
                if is_dir:
                    pending.append(path)
                elif item.name.endswith(SUFFIX):
                    found.append(path)
                continue
            _follow(path, item.name, real_root, visited, pending, found, refused)
    return sorted(found)


def _follow(
    path: Path,
    name: str,
    real_root: str,
    visited: set[str],
    pending: list[Path],
    found: list[Path],
    refused: list[RefusedLink] | None,
) -> None:
    """Apply the link rule to one link found while walking."""
    try:
        text = os.readlink(path)
    except OSError:
        text = "?"
    try:
        target = os.path.realpath(path)
        is_dir = os.path.isdir(target)
    except (OSError, ValueError):
        target, is_dir = "", False
    if not is_dir and not name.endswith(SUFFIX):
        return  # not a policy file by its name: never read, nothing to report
    if not os.path.lexists(target) or not target:
        if not is_dir:
            found.append(path)  # reported as a link to nothing when read
        return
    why = ""
    if not _within(target, real_root):
        why = "it points outside the policy directory"
    elif not is_dir and not target.endswith(SUFFIX):
        why = f"it points to a file whose name does not end in `{SUFFIX}`"
    if why:
        if refused is not None:
            refused.append(RefusedLink(path, text, why))
        return
    if is_dir:
        if target not in visited:
            visited.add(target)
            pending.append(path)
    else:
        found.append(path)


def policy_files(root: Path, problems: list[tuple[Path, OSError]] | None = None) -> list[Path]:
    """The policy files under ``root`` (see :func:`walk`), each real file once under its
    first name (``fmt`` must not rewrite a file twice through a link); refused links are left out."""
    seen: set[str] = set()
    out = []
    for path in walk(root, problems):
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            out.append(path)
    return out


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def read_sources(
    paths: Iterable[str | os.PathLike[str]], limits: Limits = DEFAULT_LIMITS
) -> tuple[list[Source], list[Diagnostic]]:
    """Read every ``.policy`` file under ``paths``; sources come back sorted by path."""
    sources: list[Source] = []
    diagnostics: list[Diagnostic] = []
    candidates: list[tuple[Path, str]] = []
    path_list = [Path(p) for p in paths]
    if not path_list:
        diagnostics.append(
            Diagnostic(
                "PE005",
                "no policy files or directories were given",
                _nowhere("<arguments>"),
                hint="pass a directory of `.policy` files, or nothing at all for the shipped library",
            )
        )
        return sources, diagnostics
    base = _base(path_list)
    for raw in path_list:
        shown_raw = raw.as_posix()
        try:
            exists = raw.exists()
        except OSError as exc:  # e.g. a symbolic link that loops, or a name too long
            diagnostics.append(Diagnostic("PE001", f"cannot read `{shown_raw}`: {_reason(exc)}", _nowhere(shown_raw)))
            continue
        if not exists:
            broken_link = raw.is_symlink()
            diagnostics.append(
                Diagnostic(
                    "PE001",
                    f"`{shown_raw}` is a link to a file that does not exist" if broken_link else f"`{shown_raw}` does not exist",
                    _nowhere(shown_raw),
                    hint="check the path",
                )
            )
            continue
        is_dir = raw.is_dir()
        problems: list[tuple[Path, OSError]] = []
        refused: list[RefusedLink] = []
        files = walk(raw, problems, refused) if is_dir else [raw]
        for where, problem in problems:
            where_shown = Path(problem.filename).as_posix() if problem.filename else where.as_posix()
            diagnostics.append(
                Diagnostic(
                    "PE001",
                    f"cannot read directory `{where_shown}`: {_reason(problem)}",
                    _nowhere(where_shown),
                    hint="check its permissions",
                )
            )
        for link in refused:
            shown = _display(link.path, base)
            diagnostics.append(
                Diagnostic(
                    "PE007",
                    f"`{shown}` is a link to `{link.target}` and is not followed: {link.why}",
                    _nowhere(shown),
                    hint="copy the file into the policy directory, or point the link at a `.policy` file inside it",
                )
            )
        if is_dir and not files and not problems and not refused:
            diagnostics.append(
                Diagnostic(
                    "PE005",
                    f"no `{SUFFIX}` files in `{shown_raw}`",
                    _nowhere(shown_raw),
                    hint=f"policy files must end in `{SUFFIX}`",
                )
            )
        candidates.extend((file, _display(file, base)) for file in files)
    # A file reached through several paths (a link, a directory given twice,
    # a file given inside a directory given) is read once, under the first of
    # its names in path order: the set is the same whatever the order of the
    # arguments.
    by_real: dict[str, tuple[Path, str]] = {}
    unresolved: list[tuple[Path, str]] = []
    for file, shown in candidates:
        try:
            real = os.path.realpath(file)
        except (OSError, ValueError):
            unresolved.append((file, shown))
            continue
        kept = by_real.get(real)
        if kept is None or shown < kept[1]:
            by_real[real] = (file, shown)
    for file, shown in sorted([*by_real.values(), *unresolved], key=lambda c: c[1]):
        source, diags = _read_one(file, shown, limits)
        diagnostics.extend(diags)
        if source is not None:
            sources.append(source)
    sources.sort(key=lambda s: s.path)
    return sources, diagnostics


def _read_one(file: Path, shown: str, limits: Limits) -> tuple[Source | None, list[Diagnostic]]:
    """Read and decode one file.

    The file is opened without blocking and its type checked on the open
    descriptor: a FIFO (or a device) swapped in between the directory
    listing and the read is reported, never waited on, and there is no
    moment between a check and the open for anything to change.
    """
    try:
        if file.is_symlink() and not file.exists():
            return None, [
                Diagnostic("PE001", f"`{shown}` is a link to a file that does not exist", _nowhere(shown), hint="check the link")
            ]
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                # Reading a FIFO would wait for a writer forever; a device may never end.
                return None, [
                    Diagnostic(
                        "PE001",
                        f"`{shown}` is not a regular file",
                        _nowhere(shown),
                        hint="a policy set is made of text files; remove this entry or give the path of a file",
                    )
                ]
            # Read at most one byte past the limit: a huge file costs nothing.
            data = fh.read(limits.max_file_bytes + 1)
            size = max(len(data), info.st_size)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic-link loop on some Pythons
        reason = _reason(exc) if isinstance(exc, OSError) else "symbolic link loop"
        return None, [
            Diagnostic("PE001", f"cannot read `{shown}`: {reason}", _nowhere(shown), hint="check the path and its permissions")
        ]
    return decode(shown, data, limits, size=size)
