"""Files on disk → :class:`~policyengine.source.Source` objects.

Stage contract: :func:`read_sources` takes paths (files or directories) and
returns the decoded sources plus diagnostics for everything that could not be
read: missing paths, directories without policy files, binary or non-UTF-8
content, files over :data:`MAX_FILE_BYTES`.  It never raises on bad input.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .diagnostics import Diagnostic
from .source import Source, Span

#: Largest policy file read, in bytes.  The shipped library is ~100 KiB and a
#: 10,000-rule set ~2 MiB; the cap keeps a stray log file from stalling a load.
MAX_FILE_BYTES = 8 * 1024 * 1024
#: Most lines a policy file may have.
MAX_FILE_LINES = 200_000

SUFFIX = ".policy"


@dataclass(frozen=True)
class Limits:
    """Input limits, configurable per load."""

    max_file_bytes: int = MAX_FILE_BYTES
    max_file_lines: int = MAX_FILE_LINES


def default_policy_dir() -> Path:
    """The shipped policy library (installed inside the package as ``policyengine/policies``
    or, in a source checkout, the top-level ``policies/``)."""
    here = Path(__file__).resolve().parent
    packaged = here / "policies"
    if packaged.is_dir():
        return packaged
    return here.parent / "policies"


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.relative_to(root).as_posix() if root != path else path.name
        except ValueError:
            pass
    try:
        rel = os.path.relpath(path)
        if not rel.startswith(".."):
            return Path(rel).as_posix()
    except ValueError:
        pass
    return path.as_posix()


def _nowhere(path: str) -> Span:
    return Span(Source(path, ""), 0, 0)


def decode(
    path: str, data: bytes, limits: Limits = Limits(), size: int | None = None
) -> tuple[Source | None, list[Diagnostic]]:
    """Decode the bytes of one policy file, with checks for binary and non-UTF-8 data."""
    size = len(data) if size is None else size
    if size > limits.max_file_bytes:
        return None, [
            Diagnostic(
                "PE004",
                f"this file is {size:,} bytes; policy files may be at most {limits.max_file_bytes:,}",
                _nowhere(path),
                hint="split the policy set into several files",
            )
        ]
    if b"\x00" in data:
        return None, [
            Diagnostic(
                "PE003",
                "this file contains NUL bytes; it looks binary, not like policy text",
                _nowhere(path),
                hint="only text files ending in `.policy` belong in a policy set",
            )
        ]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Locate the bad byte by line and column of the text decoded up to it.
        good = data[: exc.start].decode("utf-8", errors="replace")
        src = Source(path, good + "\ufffd")
        return None, [
            Diagnostic(
                "PE002",
                f"byte 0x{data[exc.start]:02x} is not valid UTF-8",
                Span(src, len(good), len(good) + 1),
                hint="save the file as UTF-8",
            )
        ]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.count("\n") + 1
    if lines > limits.max_file_lines:
        return None, [
            Diagnostic(
                "PE004",
                f"this file has {lines:,} lines; policy files may have at most {limits.max_file_lines:,}",
                _nowhere(path),
                hint="split the policy set into several files",
            )
        ]
    source = Source(path, text)
    if not text.strip():
        return source, [Diagnostic("PE006", "this file is empty", Span(source, 0, 0), hint="add declarations or delete the file")]
    return source, []


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in filenames if f.endswith(SUFFIX) and not f.startswith("."))
    return sorted(found)


def read_sources(paths: Iterable[str | os.PathLike[str]], limits: Limits = Limits()) -> tuple[list[Source], list[Diagnostic]]:
    """Read every ``.policy`` file under ``paths``; sources come back sorted by path."""
    sources: list[Source] = []
    diagnostics: list[Diagnostic] = []
    seen: set[Path] = set()
    path_list = [Path(p) for p in paths]
    for raw in path_list:
        root = raw if raw.is_dir() else None
        if not raw.exists():
            diagnostics.append(
                Diagnostic("PE001", f"`{raw}` does not exist", _nowhere(str(raw)), hint="check the path")
            )
            continue
        files = _files(raw) if raw.is_dir() else [raw]
        if raw.is_dir() and not files:
            diagnostics.append(
                Diagnostic(
                    "PE005",
                    f"no `{SUFFIX}` files in `{raw}`",
                    _nowhere(str(raw)),
                    hint=f"policy files must end in `{SUFFIX}`",
                )
            )
        for file in files:
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            shown = _display(file, root if len(path_list) == 1 else None)
            try:
                with open(file, "rb") as fh:
                    # Read at most one byte past the limit: a huge file costs nothing.
                    data = fh.read(limits.max_file_bytes + 1)
                    size = max(len(data), os.fstat(fh.fileno()).st_size)
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                diagnostics.append(
                    Diagnostic("PE001", f"cannot read `{file}`: {reason.lower()}", _nowhere(shown), hint="check the path and its permissions")
                )
                continue
            source, diags = decode(shown, data, limits, size=size)
            diagnostics.extend(diags)
            if source is not None:
                sources.append(source)
    sources.sort(key=lambda s: s.path)
    return sources, diagnostics
