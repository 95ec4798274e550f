"""`policyengine test [PATH ...]`: run the policy set's `test` blocks, with rule coverage.

Exit codes: 0 every test passed (and coverage met ``--min-coverage``); 1 a
test failed, coverage is below ``--min-coverage``, the set has no tests, or
the policy set has errors (printed as diagnostics); 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from ..language.text import json_safe
from .common import (
    CommandError,
    ExitCode,
    add_policies_argument,
    console,
    policy_paths,
    policy_root,
    policy_set_json,
    print_diagnostics,
    stderr_format,
)

if TYPE_CHECKING:
    from rich.console import Console

    from ..analysis.testing import ExpectationResult, TestReport
    from ..evaluation.explain import SourcePaths
    from ..language.model import PolicySet

NAME = "test"
HELP = "run the policy set's test blocks and report rule coverage (exit 1 on a failure)"


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}` is not a number; give a percentage such as 80") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text} is not a percentage between 0 and 100")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_policies_argument(parser)
    parser.add_argument("--format", choices=("human", "json"), default="human", help="output format (default: human)")
    parser.add_argument("--run", metavar="SUBSTRING", help="run only the tests whose name contains SUBSTRING")
    parser.add_argument("--coverage", action="store_true", help="show the per-rule coverage table (always in JSON)")
    parser.add_argument(
        "--min-coverage",
        metavar="N",
        type=_percent,
        help="exit 1 when fewer than N%% of the rules are exercised by the tests",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="list every expectation, not only the failing ones")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _expectation_view(con: Console, e: ExpectationResult, policy_set: PolicySet, explain: bool, paths: SourcePaths) -> None:
    from rich.padding import Padding
    from rich.text import Text

    from ..evaluation.explain import explanation_tree
    from ..language.text import safe

    line = Text("    ")
    if e.passed:
        line.append("✓ ", style="green")
    else:
        line.append("✗ ", style="bold red")
    line.append(safe(e.text))
    line.append(safe(f"  {paths.show(e.location)}"), style="dim")
    con.print(line)
    if e.passed:
        return
    con.print(Text("      " + safe(e.message)))
    if not explain or e.decision is None:
        return
    from ..evaluation.decision import Decision

    decisions = [e.decision] if isinstance(e.decision, Decision) else list(e.decision.decisions)
    for d in decisions:
        con.print(Padding(explanation_tree(d, policy_set, paths), (0, 0, 0, 6)))


def _coverage_table(report: TestReport, width: int, paths: SourcePaths) -> object:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from ..evaluation.explain import outcome_text
    from ..language.text import safe

    rules = report.coverage.rules
    rule_w = max(len("rule"), *(len(safe(r.rule)) for r in rules))
    source_w = max(len("source"), *(len(safe(paths.show(r.location))) for r in rules))
    # rule, outcome, exercised, deciding, source; SIMPLE_HEAD puts three characters between columns.
    beside = rule_w + len("negotiate") + len("exercised") + len("deciding") + source_w + 3 * 4 <= width
    # Under the rule, a location as long as the longest rule name plus the three counts
    # can still miss 80 columns by a character or two: then the columns sit closer.
    tight = not beside and max(rule_w, source_w) + len("negotiate") + len("exercised") + len("deciding") + 3 * 3 > width
    table = Table(
        title="rule coverage",
        title_justify="left",
        expand=False,
        box=None if tight else box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=tight,
    )
    # Rule names and locations are what an author searches for: never cut.
    # When both do not fit side by side, the location goes under the rule.
    table.add_column("rule", no_wrap=beside, overflow="fold")
    table.add_column("outcome", no_wrap=True)
    table.add_column("exercised", justify="right", no_wrap=True)
    table.add_column("deciding", justify="right", no_wrap=True)
    if beside:
        table.add_column("source", no_wrap=True)
    for r in rules:
        style = "red" if r.exercised == 0 else "yellow" if r.deciding == 0 else ""
        location = Text(safe(paths.show(r.location)), style="dim")
        name = Text(safe(r.rule), style=style)
        if not beside:
            name.append("\n")
            name.append_text(location)
        table.add_row(
            name,
            outcome_text(r.outcome),
            Text(str(r.exercised), style=style),
            Text(str(r.deciding), style=style),
            *((location,) if beside else ()),
        )
    return table


def render_human(
    report: TestReport,
    policy_set: PolicySet,
    show_coverage: bool,
    verbose: bool,
    minimum: float | None,
    paths: SourcePaths | None = None,
) -> None:
    """Pass/fail per test, failures explained, then the summary and the coverage; every location
    as a path that opens from the working directory (``paths``)."""
    from rich.text import Text

    from ..evaluation.explain import AS_CARRIED
    from ..language.text import safe

    paths = paths or AS_CARRIED
    con = console()
    for t in report.tests:
        head = Text()
        if t.passed:
            head.append(" PASS ", style="bold black on green")
        elif t.status == "error":
            head.append(" ERROR ", style="bold white on red")
        else:
            head.append(" FAIL ", style="bold white on red")
        head.append(" ")
        head.append(safe(t.name), style="bold")
        head.append(safe(f"  {paths.show(t.location)}"), style="dim")
        con.print(head)
        for e in t.expectations:
            if verbose or not e.passed:
                _expectation_view(con, e, policy_set, explain=True, paths=paths)
    cov = report.coverage
    if show_coverage and cov.rules:
        con.print()
        con.print(_coverage_table(report, con.width, paths))
    con.print()
    # A rule never exercised is never deciding either; list it once.
    unexercised = cov.never_exercised
    idle = tuple(r for r in cov.never_deciding if r.exercised)
    for label, rules in (("never exercised", unexercised), ("exercised but never deciding", idle)):
        if not rules:
            continue
        con.print(Text(f"{label} ({len(rules)}):", style="bold"))
        for r in rules:
            con.print(Text(safe(f"  {r.rule}  {paths.show(r.location)}")))
    summary = Text()
    failed = report.failed
    summary.append(f"{_plural(len(report.tests), 'test')}: ", style="bold")
    summary.append(f"{report.passed} passed", style="green")
    summary.append(", ")
    summary.append(f"{failed} failed", style="bold red" if failed else "")
    summary.append(f" ({_plural(report.expectations, 'expectation')})")
    con.print(summary)
    coverage = Text(
        f"coverage: {cov.percent:g}% of rules exercised ({cov.exercised} of {cov.total}), {cov.deciding} deciding at least once"
    )
    con.print(coverage)
    if minimum is not None and not cov.meets(minimum):
        below = f"coverage {cov.percent:g}% is below the required minimum of {minimum:g}% (--min-coverage)"
        con.print(Text(below, style="bold red"))


def run(args: argparse.Namespace) -> int:
    from ..analysis.testing import run_tests
    from ..evaluation.engine import load
    from ..language.diagnostics import PolicyError

    try:
        engine = load(policy_paths(args))
    except PolicyError as err:
        if args.format == "json":
            print_diagnostics(err.diagnostics, "json", file=sys.stdout, extra=policy_set_json(args))
        else:
            print_diagnostics(err.diagnostics, stderr_format())
            print("the policy set has errors, so its tests were not run", file=sys.stderr)
        return ExitCode.POLICY_ERRORS
    report = run_tests(engine, args.run)
    if not report.tests:
        if args.run is not None and engine.policy_set.tests:
            n = _plural(len(engine.policy_set.tests), "test")
            raise CommandError(f"no test name contains `{args.run}`", f"the set has {n}; --run takes part of a test's name")
        # A CI gate that ran nothing must not report success.
        print('no tests found: add `test "…" { … }` blocks to the policy set', file=sys.stderr)
        if args.format == "json":
            print(json_safe(json.dumps({**report.to_json(), **policy_set_json(args)}, indent=2, ensure_ascii=False)))
        return ExitCode.POLICY_ERRORS
    below = args.min_coverage is not None and not report.coverage.meets(args.min_coverage)
    if args.format == "json":
        data = report.to_json()
        data["min_coverage"] = args.min_coverage
        data["coverage_ok"] = not below
        data.update(policy_set_json(args))
        print(json_safe(json.dumps(data, indent=2, ensure_ascii=False)))
    else:
        from ..evaluation.explain import SourcePaths

        shown = SourcePaths(policy_root(policy_paths(args)))
        render_human(report, engine.policy_set, args.coverage, args.verbose, args.min_coverage, shown)
    return ExitCode.POLICY_ERRORS if report.failed or below else ExitCode.OK
