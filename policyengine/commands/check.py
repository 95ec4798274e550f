"""`policyengine check [PATH ...]`: report every problem of a policy set."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_OK, EXIT_POLICY_ERRORS, print_diagnostics

NAME = "check"
HELP = "check policy files and report every problem (exit 1 on errors)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="policy directories or files (default: the shipped library)")
    parser.add_argument("--format", choices=("human", "plain", "json"), default="human", help="output format (default: human)")


def run(args: argparse.Namespace) -> int:
    from ..diagnostics import has_errors
    from ..pipeline import analyse
    from ..render import summary

    policy_set, diagnostics = analyse(args.paths or None)
    fmt = args.format
    if fmt == "human" and not sys.stdout.isatty():
        fmt = "plain"
    print_diagnostics(diagnostics, fmt, file=sys.stdout)
    if fmt != "json":
        if policy_set is not None:
            n_files = len([s for s in policy_set.sources if not s.path.startswith("<")])
            print(
                f"ok: {n_files} files, {len(policy_set.jurisdictions)} jurisdictions, "
                f"{len(policy_set.principles)} principles, {len(policy_set.rules)} rules, {len(policy_set.tests)} tests"
                + (f" ({summary(diagnostics)})" if diagnostics else "")
            )
        elif not diagnostics:
            print("failed")
    return EXIT_POLICY_ERRORS if has_errors(diagnostics) else EXIT_OK
