"""Helpers shared by subcommands: loading with diagnostics, consoles, exit codes."""

from __future__ import annotations

import argparse
import enum
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from ..errors import PolicyEngineError
from ..language.diagnostics import Diagnostic

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


# The names the commands used before ExitCode; being replaced by ExitCode members.
EXIT_OK = ExitCode.OK
EXIT_POLICY_ERRORS = ExitCode.POLICY_ERRORS
EXIT_USAGE = ExitCode.USAGE
EXIT_FAIL_ON = ExitCode.FAIL_ON


class CommandError(PolicyEngineError):
    """A usage problem found after argument parsing; printed on one line, exit 2."""

    code = "usage"


def add_policies_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policies",
        metavar="DIR",
        action="append",
        help="policy set to use (a directory or .policy file; repeatable); default: the shipped library",
    )


def console(file: IO[str] | None = None, stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(file=file, stderr=stderr, highlight=False, soft_wrap=False)


def print_diagnostics(diagnostics: Sequence[Diagnostic], fmt: str = "human", file: IO[str] | None = None) -> None:
    from ..language.render import render_human, render_json, render_plain, summary

    out = file if file is not None else sys.stderr
    if fmt == "json":
        print(render_json(diagnostics), file=out)
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
