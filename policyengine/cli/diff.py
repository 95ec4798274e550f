"""`policyengine diff OLD NEW` / `policyengine diff --git REV [DIR]`: what a policy change changes.

Lists every jurisdiction and class of demands whose outcome changes, before →
after with the deciding rules, then standing demands and markets.  Exit
codes: 0; 1 with ``--fail-on-change`` when any decision changes (a review
gate for CI), or when either side has policy errors; 2 for usage errors and
unreadable git revisions; 4 when the comparison stopped at its budget (the
changes listed are real, others may be missing: never "no decision changes").
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from ..language.text import json_safe, safe
from .common import (
    CommandError,
    ExitCode,
    add_as_of_argument,
    add_budget_arguments,
    as_of,
    budget_from,
    choose_policy_set,
    print_diagnostics,
    shown_path,
)

if TYPE_CHECKING:
    from ..analysis.diff import PolicyDiff, Verdict
    from ..evaluation.engine import Engine

NAME = "diff"
HELP = "show exactly which decisions a policy change moves: jurisdictions, demand classes, standing demands, markets"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="OLD NEW: two policy directories; with --git: the one directory to compare (default: the project's policy set)",
    )
    parser.add_argument(
        "--git",
        metavar="REV[..REV]",
        help="compare the directory at git revision REV with the working tree (or with the second REV of REV..REV)",
    )
    parser.add_argument("--format", choices=("human", "json"), default="human", help="output format (default: human)")
    parser.add_argument("--fail-on-change", action="store_true", help="exit 1 when any decision changes")
    add_as_of_argument(parser, "compare standing demands and markets")
    add_budget_arguments(parser)


def _load(path: Path | str, side: str, label: str) -> Engine | None:
    """Load one side; ``label`` names it as the user did (``DIR@REV``, not the checkout's temporary path)."""
    from ..evaluation.engine import Engine
    from ..language.pipeline import analyse

    policy_set, diagnostics = analyse(path)
    if policy_set is None:
        print(f"policyengine diff: the {side} policy set ({label}) has errors:", file=sys.stderr)
        print_diagnostics(diagnostics, "plain")
        return None
    return Engine(policy_set, diagnostics)


def _verdict(v: Verdict | None) -> str:
    return "(absent)" if v is None else v.describe()


def _print_human(diff: PolicyDiff, before: str, after: str) -> None:
    out = sys.stdout
    print(f"policy diff: {before} ({diff.before_version}) → {after} ({diff.after_version})", file=out)
    if diff.as_of is not None:
        print(f"standing demands and markets as of {diff.as_of.isoformat()}", file=out)
    if diff.changes:
        print("\ndecisions that change:", file=out)
        for line in diff.summary():
            print(f"  {line}", file=out)
        print("\nin full:", file=out)
        for c in diff.changes:
            n = len(c.jurisdictions)
            codes = ", ".join(c.jurisdictions[:12]) + (f" and {n - 12} more" if n > 12 else "")
            print(f"  {codes}: {c.describe_demand()}", file=out)
            print(f"      before: {c.before.describe()}", file=out)
            print(f"      after:  {c.after.describe()}", file=out)
    if diff.standing:
        print("\nstanding demands:", file=out)
        for s in diff.standing:
            print(f"  {s.jurisdiction}.{s.demand}: {_verdict(s.before)} → {_verdict(s.after)}", file=out)
    if diff.markets:
        print("\nmarkets:", file=out)
        for m in diff.markets:
            print(f"  {m.jurisdiction}: {m.before or '(absent)'} → {m.after or '(absent)'}", file=out)
    if diff.jurisdictions_added or diff.jurisdictions_removed:
        print("\njurisdictions:", file=out)
        if diff.jurisdictions_added:
            print(f"  added: {', '.join(diff.jurisdictions_added)}", file=out)
        if diff.jurisdictions_removed:
            print(f"  removed: {', '.join(diff.jurisdictions_removed)}", file=out)
    if diff.rules_added or diff.rules_removed or diff.rules_changed:
        print("\nrules:", file=out)
        for label, names in (("added", diff.rules_added), ("removed", diff.rules_removed), ("changed", diff.rules_changed)):
            if names:
                print(f"  {label}: {', '.join(names)}", file=out)
    if diff.vocabulary:
        print("\nvocabulary:", file=out)
        for note in diff.vocabulary:
            print(f"  {note}", file=out)
    if diff.incomplete is not None:
        print(f"\n{safe(diff.incomplete)}\n  hint: {safe(diff.incomplete_hint or '')}", file=out)
    elif not diff.decisions_changed:
        print("\nno decision changes", file=out)


def _project_directory() -> str:
    """The set ``--git`` compares when no DIR is given: the project's (docs/cli.md, "Which policy
    set"), shown as the user would type it; the installed library is no revision of anything."""
    choice = choose_policy_set([])
    if choice.source == "library" or choice.directory is None:
        raise CommandError(
            "no policy project here or above to compare across git revisions",
            "run it inside the repository that holds the set (a `policies/` with `vocabulary.policy`, or a"
            " `policyengine.toml`), or name it: `policyengine diff --git REV DIR`",
        )
    return shown_path(choice.directory)


def run(args: argparse.Namespace) -> int:
    from ..analysis.diff import diff_engines, git_revision

    when = as_of(args)
    with ExitStack() as stack:
        if args.git:
            if len(args.paths) > 1:
                raise CommandError("with --git, give at most one directory")
            directory = args.paths[0] if args.paths else _project_directory()
            old_rev, _, new_rev = args.git.partition("..")
            # A GitError (an unknown revision, no repository) reaches main(), which prints it.
            old_path: Path | str = stack.enter_context(git_revision(directory, old_rev))
            new_path: Path | str = stack.enter_context(git_revision(directory, new_rev)) if new_rev else directory
            before_label, after_label = f"{directory}@{old_rev}", f"{directory}@{new_rev}" if new_rev else directory
        else:
            if len(args.paths) != 2:
                raise CommandError("give two policy directories, OLD and NEW, or --git REV [DIR]")
            old_path, new_path = args.paths
            before_label, after_label = args.paths
        before = _load(old_path, "old", before_label)
        after = _load(new_path, "new", after_label)
        if before is None or after is None:
            return ExitCode.POLICY_ERRORS
        diff = diff_engines(before, after, budget_from(args), as_of=when)
    if args.format == "json":
        print(
            json_safe(json.dumps({"before": before_label, "after": after_label, **diff.to_json()}, indent=2, ensure_ascii=False))
        )
    else:
        _print_human(diff, before_label, after_label)
    if args.fail_on_change and diff.decisions_changed:
        return ExitCode.POLICY_ERRORS
    return ExitCode.INCOMPLETE if diff.incomplete is not None else ExitCode.OK
