"""Helpers shared by subcommands: loading with diagnostics, consoles, exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from ..errors import PolicyEngineError
from ..language.diagnostics import Diagnostic

if TYPE_CHECKING:
    from rich.console import Console

    from ..evaluation.engine import Engine

#: Exit codes, documented in docs/cli.md and README.md.
EXIT_OK = 0
EXIT_POLICY_ERRORS = 1  # the policy set has errors (or tests failed, or --strict lint findings)
EXIT_USAGE = 2  # bad command line or bad request
EXIT_FAIL_ON = 3  # decided, and an outcome named by --fail-on occurred


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
