"""`policyengine check [PATH ...]`: report every problem of a policy set.

Reads, parses and validates the policy set (the shipped library when no path
is given) and prints every diagnostic, sorted by file and position.

Exit codes: 0 when there are no errors (warnings are allowed), 1 when there
is at least one error (unreadable paths included), 2 for a usage error such
as an unknown option (argparse).  ``--format`` only changes the presentation:
``human`` (colours on a terminal, the plain layout otherwise), ``plain``
(the layout of the golden files) or ``json`` (one document on stdout).
"""

from __future__ import annotations

import argparse
import sys

from .common import ExitCode, add_policies_argument, policy_paths, policy_set_json, print_diagnostics

NAME = "check"
HELP = "check policy files and report every problem (exit 1 on errors)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_policies_argument(parser)
    parser.add_argument(
        "--format",
        choices=("human", "plain", "json"),
        default="human",
        help="output format: human (colours on a terminal), plain, or json (default: human)",
    )


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def run(args: argparse.Namespace) -> int:
    from ..language.diagnostics import has_errors
    from ..language.pipeline import analyse
    from ..language.render import summary

    policy_set, diagnostics = analyse(policy_paths(args))
    fmt = args.format
    if fmt == "human" and not sys.stdout.isatty():
        fmt = "plain"
    print_diagnostics(diagnostics, fmt, file=sys.stdout, extra=policy_set_json(args))
    if fmt != "json" and policy_set is not None:
        # The standard vocabulary is read too, but it is not the author's file.
        n_files = len([s for s in policy_set.sources if not s.path.startswith("<")])
        print(
            f"ok: {_count(n_files, 'file')}, {_count(len(policy_set.jurisdictions), 'jurisdiction')}, "
            f"{_count(len(policy_set.principles), 'principle')}, {_count(len(policy_set.rules), 'rule')}, "
            f"{_count(len(policy_set.tests), 'test')}" + (f" ({summary(diagnostics)})" if diagnostics else "")
        )
    return ExitCode.POLICY_ERRORS if has_errors(diagnostics) else ExitCode.OK
