"""`policyengine fmt [PATH ...]`: rewrite policy files in the canonical layout.

Files are rewritten in place (atomically: a half-written policy file must
never be loaded); ``--check`` and ``--diff`` write nothing; ``-`` formats
standard input to standard output.  A file with syntax errors is never
touched: its diagnostics are printed and the run exits 1.

Exit codes: 0 done (or nothing to change); 1 a file has syntax errors or
cannot be read or written, or, with ``--check``, a file would change; 2 usage
error; 70 the formatter would have changed a file's meaning (a bug: the file
is left as it was).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .common import (
    CommandError,
    ExitCode,
    add_policies_argument,
    installed_package_dir,
    policy_paths,
    print_diagnostics,
    print_error,
    stderr_format,
)

NAME = "fmt"
HELP = "rewrite policy files in the canonical layout, keeping comments (--check, --diff; - for stdin)"

STDIN = "-"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_policies_argument(
        parser,
        help="policy files or directories, or - to format standard input to standard output"
        " (default: the project's policy set; never the installed library)",
    )
    parser.add_argument("--check", action="store_true", help="write nothing; list the files that would change and exit 1 if any")
    parser.add_argument("--diff", action="store_true", help="write nothing; print a unified diff of the changes")


@dataclass
class _Run:
    check: bool
    diff: bool
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: int = 0
    missing: int = 0  # paths that do not exist or hold no policy files
    bugs: int = 0

    def exit_code(self) -> ExitCode:
        if self.bugs:
            return ExitCode.INTERNAL
        if self.failed or self.missing or (self.check and self.changed):
            return ExitCode.POLICY_ERRORS
        return ExitCode.OK


def _missing(code: str, path: str, message: str, hint: str) -> None:
    """Report a path that gives nothing to format, in the loader's words (PE001, PE005)."""
    from ..language.diagnostics import Diagnostic
    from ..language.source import Source, Span

    print_diagnostics([Diagnostic(code, message, Span(Source(path, ""), 0, 0), hint=hint)], stderr_format())


def _read(path: Path, shown: str) -> tuple[bytes, str] | None:
    """The raw bytes and decoded text of a file, or None after printing why it cannot be read."""
    from ..language.loader import MAX_FILE_BYTES, decode

    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
            size = max(len(data), os.fstat(fh.fileno()).st_size)
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        _missing("PE001", shown, f"cannot read `{path}`: {reason}", "check the path and its permissions")
        return None
    source, diagnostics = decode(shown, data, size=size)
    errors = [d for d in diagnostics if d.is_error]
    if source is None or errors:
        print_diagnostics(errors, stderr_format())
        return None
    return data, source.text


def _write(path: Path, text: str) -> None:
    """Replace ``path`` atomically, keeping its permissions (through a symbolic
    link, the file it points to is replaced, not the link)."""
    path = path.resolve()
    mode = path.stat().st_mode & 0o7777
    import tempfile  # here: every command line imports this module for its help

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _lines(text: str) -> list[str]:
    """Lines ending in ``\n``, as the file has them (str.splitlines would also
    split at form feeds and Unicode separators inside texts and comments)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _diff(old: str, new: str, shown: str) -> str:
    lines = difflib.unified_diff(
        _lines(old),
        _lines(new),
        fromfile=f"{shown}\t(original)",
        tofile=f"{shown}\t(formatted)",
    )
    from ..language.text import safe

    out = []
    for line in lines:
        # A policy text may hold terminal escapes: shown as `\x1b`, never obeyed.
        if line.endswith("\n"):
            out.append(safe(line[:-1]) + "\n")
        else:
            out.append(safe(line) + "\n\\ No newline at end of file\n")
    return "".join(out)


def _format(run: _Run, text: str, shown: str) -> str | None:
    """The formatted text, or None after reporting why there is none."""
    from ..language.format import FormatterBug, format_source
    from ..language.source import Source

    try:
        formatted, diagnostics = format_source(Source(shown, text))
    except FormatterBug as bug:
        run.bugs += 1
        # Reported here, not by main(): the other files are still formatted.
        hint = "the file was left unchanged; this is a bug in policyengine, please report it"
        print_error(NAME, FormatterBug(bug.message, hint))
        return None
    if formatted is None:
        run.failed += 1
        print_diagnostics(diagnostics, stderr_format())
        return None
    return formatted


def _one_file(run: _Run, path: Path, shown: str) -> None:
    read = _read(path, shown)
    if read is None:
        run.failed += 1
        return
    data, text = read
    formatted = _format(run, text, shown)
    if formatted is None:
        return
    # Compare bytes, so that a BOM or CRLF line endings count as a change.
    if formatted.encode("utf-8") == data:
        run.unchanged += 1
        return
    run.changed.append(shown)
    listing = sys.stderr if run.diff else sys.stdout
    if run.diff:
        sys.stdout.write(_diff(text, formatted, shown))
    if run.check or run.diff:
        print(f"would reformat {shown}", file=listing)
        return
    try:
        _write(path, formatted)
    except OSError as exc:
        run.changed.pop()
        run.failed += 1
        print_error(NAME, CommandError(f"cannot write `{shown}`: {(exc.strerror or str(exc)).lower()}", "check its permissions"))
        return
    print(f"reformatted {shown}", file=listing)


def _stdin(run: _Run) -> None:
    from ..language.loader import MAX_FILE_BYTES, decode

    stream = getattr(sys.stdin, "buffer", None)
    data = stream.read(MAX_FILE_BYTES + 1) if stream is not None else sys.stdin.read(MAX_FILE_BYTES + 1).encode("utf-8")
    source, diagnostics = decode("<stdin>", data)
    errors = [d for d in diagnostics if d.is_error]
    if source is None or errors:
        run.failed += 1
        print_diagnostics(errors, stderr_format())
        return
    formatted = _format(run, source.text, "<stdin>")
    if formatted is None:
        return
    changed = formatted.encode("utf-8") != data
    if changed:
        run.changed.append("<stdin>")
    if run.diff:
        if changed:
            sys.stdout.write(_diff(source.text, formatted, "<stdin>"))
    elif run.check:
        if changed:
            print("would reformat <stdin>", file=sys.stderr)
    else:
        sys.stdout.write(formatted)


def _summary(run: _Run) -> str:
    def n(k: int) -> str:
        return f"{k} file{'' if k == 1 else 's'}"

    verb = "would be reformatted" if run.check or run.diff else "reformatted"
    parts = [f"{n(len(run.changed))} {verb}", f"{n(run.unchanged)} unchanged"]
    if run.failed:
        parts.append(f"{n(run.failed)} with errors (left untouched)")
    if run.missing:
        parts.append(f"{run.missing} path{'' if run.missing == 1 else 's'} with no policy files")
    if run.bugs:
        parts.append(f"{n(run.bugs)} left untouched by an internal error")
    return ", ".join(parts)


def _refuse_installed(paths: list[str]) -> None:
    """The installed package is not an author's copy: a change there is lost on the next install
    and changes what every project without its own set decides."""
    package = installed_package_dir()
    for raw in paths:
        if raw == STDIN:
            continue
        resolved = Path(raw).resolve()
        if resolved == package or package in resolved.parents:
            raise CommandError(
                f"`{raw}` is inside the installed policyengine package: `fmt` does not rewrite it",
                "format your own copy (a checkout's policies/), or look without writing: --check or --diff",
            )


def run(args: argparse.Namespace) -> int:
    from ..language.loader import policy_files

    state = _Run(check=args.check, diff=args.diff)
    paths = policy_paths(args)
    if paths is None:
        raise CommandError(
            "no policy project here or above: `fmt` does not rewrite the installed library",
            "run it in a directory with `policies/vocabulary.policy` (or a `policyengine.toml` naming the set),"
            " or name the files: `policyengine fmt PATH`",
        )
    if not (args.check or args.diff):
        _refuse_installed(paths)
    if STDIN in paths:
        if len(paths) > 1:
            raise CommandError("`-` (standard input) cannot be combined with other paths")
        _stdin(state)
        return state.exit_code()
    seen: set[Path] = set()
    for raw in paths:
        root = Path(raw)
        if root.is_dir():
            files = policy_files(root)
            if not files:
                _missing("PE005", raw, f"no `.policy` files in `{raw}`", "policy files must end in `.policy`")
                state.missing += 1
        elif root.exists():
            files = [root]
        else:
            _missing("PE001", raw, f"`{raw}` does not exist", "check the path")
            state.missing += 1
            continue
        for file in files:
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            _one_file(state, file, file.as_posix())
    print(_summary(state), file=sys.stderr)
    return state.exit_code()
