"""`policyengine lint [PATH ...]`: warnings about what a valid policy set probably did not mean.

Exit codes: 0 (findings are warnings), 1 with ``--strict`` when anything is
reported, 1 when the policy set has errors (they are shown instead), and 4
when the analysis stopped at its budget (PE411: incomplete, never clean).
"""

from __future__ import annotations

import argparse
import sys

from .common import (
    ExitCode,
    add_budget_arguments,
    add_policies_argument,
    budget_from,
    policy_paths,
    policy_set_json,
    print_diagnostics,
)

NAME = "lint"
HELP = "find rules that never match or never decide, duplicates, uncovered demands and more (exact, over every demand)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_policies_argument(parser)
    parser.add_argument("--format", choices=("human", "plain", "json"), default="human", help="output format (default: human)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when there is any finding")
    parser.add_argument(
        "--show-allowed",
        action="store_true",
        help="also list the findings marked deliberate by `# lint: allow`, with their reasons",
    )
    add_budget_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..analysis.lint import lint
    from ..evaluation.compile import compile_policy
    from ..language.diagnostics import Diagnostic
    from ..language.pipeline import analyse

    fmt = args.format
    if fmt == "human" and not sys.stdout.isatty():
        fmt = "plain"
    policy_set, diagnostics = analyse(policy_paths(args))
    if policy_set is None:
        print_diagnostics(diagnostics, fmt, file=sys.stdout, extra=policy_set_json(args))
        return ExitCode.POLICY_ERRORS
    report = lint(compile_policy(policy_set), budget=budget_from(args))
    shown = list(report.findings)
    if args.show_allowed:
        shown.extend(
            Diagnostic(d.code, d.message, d.span, hint=f"allowed at {m.span.location()}: {m.reason}", label="allowed")
            for d, m in report.allowed
        )
        shown.sort(key=lambda d: d.sort_key())
    print_diagnostics(shown, fmt, file=sys.stdout, extra=policy_set_json(args))
    if fmt != "json":
        n = len(report.findings)
        space = report.space
        print(
            f"{n} finding{'' if n == 1 else 's'}"
            + (f", {len(report.allowed)} allowed by `# lint: allow`" if report.allowed else "")
            + f" ({space.cell_count():,} demand classes over {len(space.jurisdiction_classes)} jurisdiction classes,"
            f" {space.size():,} jurisdiction × demand classes)"
        )
    if report.incomplete is not None:
        return ExitCode.INCOMPLETE
    return ExitCode.POLICY_ERRORS if args.strict and report.findings else ExitCode.OK
