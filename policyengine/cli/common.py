"""Helpers shared by subcommands: loading with diagnostics, consoles, exit codes."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import enum
import json
import os
import sys
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import PolicyEngineError
from ..language.diagnostics import Diagnostic
from ..language.text import json_safe, safe

if TYPE_CHECKING:
    from rich.console import Console

    from ..evaluation.engine import Engine


class ExitCode(enum.IntEnum):
    """Every exit code of every command, documented in docs/cli.md (Cedar's ``CedarExitCode``)."""

    OK = 0
    #: the policy set has errors, tests failed, or --strict lint findings
    POLICY_ERRORS = 1
    #: bad command line or bad request
    USAGE = 2
    #: decided, and an outcome named by --fail-on occurred
    FAIL_ON = 3
    #: an analysis stopped at its budget: its findings are incomplete, not clean
    INCOMPLETE = 4
    #: a bug of ours; the report says how to get the traceback
    INTERNAL = 70
    #: interrupted by the user (Ctrl-C)
    INTERRUPTED = 130


class CommandError(PolicyEngineError):
    """A usage problem (the command line, or a file it names), exit 2; main() prints it."""

    code = "usage"


def add_policies_argument(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """The policy set, the same way for every command: positional PATHs, ``--policies`` an alias.

    Both may be given and add up; :func:`policy_paths` reads them.
    """
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help=help or "policy directories or .policy files (default: the project's policies/, else the installed library)",
    )
    parser.add_argument(
        "--policies",
        metavar="PATH",
        action="append",
        default=[],
        help="the same as a PATH argument (repeatable)",
    )


#: The project file that names a policy set (``policies = "rules"``, relative to the file).
PROJECT_FILE = "policyengine.toml"


@dataclass(frozen=True)
class PolicySetChoice:
    """Which policy set a command uses, and why (docs/cli.md, "Which policy set").

    ``source`` is ``arguments`` (PATHs were given), ``project`` (found from the
    current directory upwards) or ``library`` (the installed library); ``paths``
    is what the loader gets (None: the installed library); ``found_in`` is the
    directory whose ``policies/`` or :data:`PROJECT_FILE` decided.
    """

    source: str
    paths: list[str] | None
    directory: Path | None = None
    found_in: Path | None = None
    project_file: Path | None = None

    def describe(self) -> str:
        """The one line on stderr: ``using policy set ./policies (found in /x/y)``."""
        if self.source == "library":
            return f"using the installed library {shown_path(self.directory)} (no policy project here or above)"
        if self.source == "project":
            why = f"named by {self.project_file}" if self.project_file else f"found in {self.found_in}"
            return f"using policy set {shown_path(self.directory)} ({why})"
        return f"using policy set {' '.join(self.paths or ())}"

    def to_json(self) -> dict[str, Any]:
        """The ``policy_set`` field of a command's JSON document."""
        return {
            "source": self.source,
            "paths": [str(self.directory)] if self.directory is not None else list(self.paths or ()),
            "found_in": None if self.found_in is None else str(self.found_in),
            "project_file": None if self.project_file is None else str(self.project_file),
        }


def shown_path(path: Path | None) -> str:
    """A directory as a person would type it here: ``./policies`` under the current directory."""
    if path is None:
        return "?"
    try:
        rel = path.relative_to(Path.cwd().resolve())
    except ValueError:
        return str(path)
    return "." if rel == Path(".") else f"./{rel.as_posix()}"


def installed_package_dir() -> Path:
    """The directory of the installed ``policyengine`` package: nothing under it is an author's file."""
    return Path(__file__).resolve().parent.parent


def find_project_set(start: Path | None = None) -> PolicySetChoice | None:
    """The policy set of the project around ``start`` (default: the current directory).

    The nearest directory, ``start`` or one of its parents, that holds a
    :data:`PROJECT_FILE` or a ``policies/`` directory with a
    ``vocabulary.policy`` decides; at one level the project file wins.  The
    installed package is never a project, even when the walk passes through it.
    """
    try:
        here = (start or Path.cwd()).resolve()
    except OSError:  # the current directory was removed under us: there is no project around it
        return None
    package = installed_package_dir()
    for directory in (here, *here.parents):
        if directory == package or package in directory.parents:
            continue
        project = directory / PROJECT_FILE
        if project.is_file():
            import tomllib  # only where a project file is: most runs have none

            try:
                data = tomllib.loads(project.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
                raise CommandError(f"{project}: cannot be read: {err}", 'it holds one line: policies = "DIR"') from None
            named = data.get("policies")
            if not isinstance(named, str) or not named:
                raise CommandError(
                    f"{project}: `policies` is missing or not a string", 'name the policy set\'s directory: policies = "DIR"'
                )
            target = (directory / named).resolve()
            if not target.is_dir():
                raise CommandError(f'{project}: `policies = "{named}"` is not a directory', f"create {target} or fix the name")
            return PolicySetChoice("project", [str(target)], target, directory, project)
        candidate = directory / "policies"
        if (candidate / "vocabulary.policy").is_file():
            return PolicySetChoice("project", [str(candidate)], candidate, directory)
    return None


def choose_policy_set(paths: Sequence[str], announce: bool = True) -> PolicySetChoice:
    """The set for ``paths`` (a command's PATHs): those when given, else the project's, else the
    installed library; a chosen set is announced on one line on stderr."""
    if paths:
        return PolicySetChoice("arguments", list(paths))
    from ..language.loader import default_policy_dir

    choice = find_project_set() or PolicySetChoice("library", None, default_policy_dir().resolve())
    if announce:
        print(safe(choice.describe()), file=sys.stderr)
    return choice


def policy_set(args: argparse.Namespace) -> PolicySetChoice:
    """The set of :func:`add_policies_argument` (``--policies`` first), chosen and announced once."""
    choice = getattr(args, "_policy_set", None)
    if not isinstance(choice, PolicySetChoice):
        choice = choose_policy_set([*args.policies, *args.paths])
        args._policy_set = choice
    return choice


#: What a bad ``--as-of`` is told to write instead.
DATE_HINT = "write the date as YYYY-MM-DD, e.g. 2015-01-01"


def add_as_of_argument(parser: argparse.ArgumentParser, what: str = "decide") -> None:
    """``--as-of DATE``, the same for every command that decides: the date markets and standing
    demands are evaluated on (a demand not yet issued, or lifted by then, does not count).
    Read by :func:`as_of`, which names the option in its error."""
    parser.add_argument(
        "--as-of",
        metavar="DATE",
        default=None,
        help=f"{what} as of this date, YYYY-MM-DD (default: today, UTC)",
    )


def as_of(args: argparse.Namespace) -> datetime.date | None:
    """The ``--as-of`` date, or None (today); a :class:`CommandError` (exit 2) naming the
    option and what is wrong when it is not a day of the calendar written ``YYYY-MM-DD``."""
    import re

    text = getattr(args, "as_of", None)
    if text is None:
        return None
    match = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", text)
    if match is None:
        raise CommandError(f"--as-of: `{text}` is not a date written YYYY-MM-DD", DATE_HINT)
    try:
        return datetime.date(*(int(g) for g in match.groups()))
    except ValueError as exc:  # 2024-02-30, month 13: the calendar's own words
        raise CommandError(f"--as-of: `{text}` is not a day of the calendar: {exc}", DATE_HINT) from None


def policy_paths(args: argparse.Namespace) -> list[str] | None:
    """The paths to load for :func:`add_policies_argument`; None for the installed library."""
    return policy_set(args).paths


def policy_set_json(args: argparse.Namespace) -> dict[str, Any]:
    """``{"policy_set": …}`` for a JSON document when the set was chosen for the user, else ``{}``."""
    choice = policy_set(args)
    return {} if choice.source == "arguments" else {"policy_set": choice.to_json()}


def policy_root(paths: Sequence[str] | None) -> str:
    """The directory a policy set's ``source`` paths are relative to: the directory given,
    or the deepest one holding every path given (as the loader names files); the shipped
    library's directory when ``paths`` is None.  Absolute, so that human output can show
    each source as a path that opens from the working directory."""
    from pathlib import Path

    from ..language.loader import _base, default_policy_dir

    if not paths:
        return str(default_policy_dir())
    base = _base([Path(p) for p in paths])
    return str(base) if base is not None else os.getcwd()


def _limit(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"`{text}` is not a {'whole ' if kind is int else ''}number") from None
        if value < 0 or value != value:
            raise argparse.ArgumentTypeError(f"`{text}` is negative; 0 means no limit")
        return value

    return parse


def add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    """The analysis budget, the same three flags for every command that analyses (docs/analysis.md)."""
    from ..analysis.budget import DEFAULT_MAX_CLASSES, DEFAULT_MAX_MEMORY_MB, DEFAULT_MAX_SECONDS

    group = parser.add_argument_group("analysis budget (past it the analysis stops, says so, and exits 4; 0: no limit)")
    group.add_argument(
        "--max-classes", type=_limit(int), metavar="N", help=f"demand classes to build (default {DEFAULT_MAX_CLASSES:,})"
    )
    group.add_argument("--max-seconds", type=_limit(float), metavar="S", help=f"seconds (default {DEFAULT_MAX_SECONDS:g})")
    group.add_argument(
        "--max-memory", type=_limit(float), metavar="MB", help=f"megabytes of memory growth (default {DEFAULT_MAX_MEMORY_MB:g})"
    )


def budget_from(args: argparse.Namespace) -> Any:
    """The :class:`~policyengine.analysis.budget.Budget` of :func:`add_budget_arguments`' flags."""
    from ..analysis.budget import Budget

    default = Budget()

    def pick(value: float | None, fallback: float | None) -> Any:
        return fallback if value is None else (value or None)

    return Budget(
        pick(args.max_classes, default.max_classes),
        pick(args.max_seconds, default.max_seconds),
        pick(args.max_memory, default.max_memory_mb),
    )


def error_fields(err: PolicyEngineError) -> dict[str, Any]:
    """An error as JSON: ``code``, ``message``, ``hint``, then the error's own public fields
    (a :class:`~policyengine.evaluation.decide.RequestError`'s ``field`` and ``allowed``)."""
    out: dict[str, Any] = {"code": err.code, "message": err.message, "hint": err.hint}
    for name, value in vars(err).items():
        if name.startswith("_") or name in out:
            continue
        if isinstance(value, (tuple, list, frozenset, set)):
            value = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
        if value is None or isinstance(value, (str, int, float, bool, list)):
            out[name] = value
    return out


def error_message(err: PolicyEngineError) -> str:
    """The one-line message of an error: the field it is about first, when it has one."""
    field = getattr(err, "field", None)
    return f"{field}: {err.message}" if isinstance(field, str) and field else err.message


def print_error(command: str | None, err: PolicyEngineError, json_out: bool = False) -> None:
    """The one way an error is shown: ``policyengine CMD: error: MESSAGE`` on stderr and the hint on
    its own line under it, control characters escaped; with ``json_out`` also ``{"error": {...}}`` on
    stdout, for the program that reads the command's JSON there."""
    prog = f"policyengine {command}" if command else "policyengine"
    print(f"{prog}: error: {safe(error_message(err))}", file=sys.stderr)
    if err.hint:
        print(f"  hint: {safe(err.hint)}", file=sys.stderr)
    if json_out:
        print(json_safe(json.dumps({"error": error_fields(err)}, indent=2, ensure_ascii=False)))


def alpha2_of(code: str) -> tuple[str, str] | None:
    """The ISO 3166-1 alpha-2 code and country name for an alpha-3 code (``RUS`` → ``RU``), or None."""
    from ..evaluation.codes import alpha2_of as lookup

    return lookup(code)


def alpha3_hint(code: str, loaded: Collection[str]) -> str | None:
    """For an ISO alpha-3 code whose alpha-2 code is a loaded jurisdiction, the hint that says so.

    Spelling distance alone would suggest ``US`` for ``RUS``; the table knows it is Russia.
    """
    found = alpha2_of(code) if code not in loaded else None
    if found is None or found[0] not in loaded:
        return None
    alpha2, name = found
    return f"did you mean `{alpha2}`? (`{code}` is the ISO 3166-1 alpha-3 code of {name}; jurisdictions use alpha-2 codes)"


#: The width of rich output that goes to a file or a pipe: a log is read later, in a window of
#: any size, and must not depend on where it was written (rich would take 80).
PIPED_WIDTH = 132


def output_width(stream: IO[str]) -> int | None:
    """The width to render for ``stream``: ``COLUMNS`` when set (an explicit choice wins), the
    terminal's own when it is one (None: rich measures it), else :data:`PIPED_WIDTH`."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    isatty = getattr(stream, "isatty", None)
    return None if isatty is not None and isatty() else PIPED_WIDTH


def console(file: IO[str] | None = None, stderr: bool = False) -> Console:
    from rich.console import Console

    stream = file if file is not None else sys.stderr if stderr else sys.stdout
    return Console(file=file, stderr=stderr, highlight=False, soft_wrap=False, width=output_width(stream))


def print_diagnostics(
    diagnostics: Sequence[Diagnostic], fmt: str = "human", file: IO[str] | None = None, extra: dict[str, Any] | None = None
) -> None:
    """Diagnostics in ``fmt``; ``extra`` adds fields to the JSON document (:func:`policy_set_json`)."""
    from ..language.render import render_human, render_json, render_plain, summary

    out = file if file is not None else sys.stderr
    if fmt == "json":
        print(render_json(diagnostics, extra), file=out)
    elif fmt == "plain":
        for d in diagnostics:
            print(render_plain(d), file=out)
            print(file=out)
        if diagnostics:
            print(summary(diagnostics), file=out)
    else:
        render_human(diagnostics, file=out)


def stderr_format() -> str:
    """How diagnostics are printed to stderr: coloured for a person at a terminal, plain for a log."""
    return "human" if sys.stderr.isatty() else "plain"


def load_engine(paths: Sequence[str] | None) -> Engine | None:
    """Load for a command; on errors print every diagnostic to stderr and return None."""
    from ..evaluation.engine import load
    from ..language.diagnostics import PolicyError

    try:
        return load(list(paths) if paths else None)
    except PolicyError as err:
        print_diagnostics(err.diagnostics, stderr_format())
        return None


@contextlib.contextmanager
def output_file(path: str | None) -> Iterator[IO[str]]:
    """Where a command's ``-o/--output`` goes: stdout for none or ``-``, else the file, opened only
    once the command has something to write, so an unwritable path is a usage error, not a traceback."""
    if path is None or path == "-":
        yield sys.stdout
        return
    try:
        fh = open(path, "w", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"cannot write `{path}`: {(exc.strerror or str(exc)).lower()}") from None
    with fh:
        yield fh
