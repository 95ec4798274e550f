"""`policyengine replay`: what a policy change would have done to the journaled demands.

``replay --journal J --policies NEW [--from --to | --period]`` re-decides every
journaled request of the period under NEW and lists exactly the decisions that
change: counts per country × kind, and each change with its deciding rules
before and after (the shape of ``diff``).  ``--engine local`` (default) runs on
all cores; ``--engine dask --scheduler ADDRESS`` runs one task per partition on
a Dask cluster, the policy text shipped to the workers.  ``--export FILE|DIR``
replays journal exports (JSON lines or Parquet partitions) instead of a journal.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..language.text import safe
from .common import CommandError, ExitCode, load_engine, policy_paths

NAME = "replay"
HELP = "re-decide journaled requests under other policies and list the decisions that would change"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--journal", metavar="PATH_OR_URL", help="the journal whose requests are replayed")
    src.add_argument("--export", metavar="FILE_OR_DIR", action="append", help="journal export partitions (.jsonl, .parquet)")
    parser.add_argument(
        "--policies", metavar="PATH", action="append", default=[], help="the new policy set (default: the shipped library)"
    )
    parser.add_argument("--from", dest="start", metavar="DATE", help="decisions recorded at or after DATE")
    parser.add_argument("--to", dest="end", metavar="DATE", help="decisions recorded before DATE")
    parser.add_argument("--period", metavar="PERIOD", help="2026, 2026-H2, 2026-Q3 or 2026-07")
    parser.add_argument(
        "--as-of", metavar="DATE", help="decide every request as of DATE (default: the date each was decided as of)"
    )
    parser.add_argument(
        "--engine", choices=("local", "dask"), default="local", help="local processes (default) or a Dask cluster"
    )
    parser.add_argument("--scheduler", metavar="ADDRESS", help="with --engine dask: the scheduler, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--workers", type=int, metavar="N", help="with --engine local: processes (default: every core)")
    parser.add_argument("--partition-size", type=int, default=5_000, metavar="N", help="records per partition (default 5,000)")
    parser.add_argument("--format", choices=("human", "json"), default="human")
    parser.add_argument("--fail-on-change", action="store_true", help="exit 1 when any decision would change")
    parser.set_defaults(paths=[])


def run(args: argparse.Namespace) -> int:
    from ..journal.replay import partition_sources, policy_texts, replay_dask, replay_local, split

    if args.engine == "dask" and not args.scheduler:
        raise CommandError("--engine dask needs --scheduler ADDRESS")
    if args.scheduler and args.engine != "dask":
        raise CommandError("--scheduler goes with --engine dask")
    as_of = None
    if args.as_of:
        from ..journal.periods import parse_when

        as_of = parse_when(args.as_of, "--as-of").date().isoformat()
    if args.partition_size < 1:
        raise CommandError("--partition-size must be at least 1")
    engine = load_engine(policy_paths(args))
    if engine is None:
        return ExitCode.POLICY_ERRORS
    paths = policy_paths(args)
    sources: list[tuple[str, Any]]
    if args.journal:
        from ..journal import open_journal
        from ..journal.export import export_record
        from ..journal.periods import period_of

        start, end = period_of(args.start, args.end, args.period)
        with open_journal(args.journal) as journal:
            records = (export_record(e) for e in journal.entries(start=start, end=end))
            sources = [("lines", "".join(json.dumps(r) + "\n" for r in chunk)) for chunk in split(records, args.partition_size)]
    else:
        if args.start or args.end or args.period:
            raise CommandError("--from, --to and --period select from a journal; an export is replayed whole")
        sources = partition_sources(args.export)
    if args.engine == "dask":
        # Workers may be other machines: the policy text itself is shipped.
        result = replay_dask(policy_texts(paths), sources, engine.version, args.scheduler, as_of)
    else:
        # Local workers load the same paths, through the load cache the parent just filled.
        result = replay_local(paths, sources, engine.version, args.workers, as_of)
    if args.format == "json":
        print(json.dumps(result.to_json(), indent=2))
    else:
        _print_human(result)
    return ExitCode.POLICY_ERRORS if args.fail_on_change and result.changes else ExitCode.OK


def _print_human(result: Any) -> None:
    out = sys.stdout
    versions = ", ".join(result.before_versions) or "none"
    out.write(
        f"{result.replayed:,} journaled decisions (policy versions {versions}) replayed under {result.after_version}: "
        f"{len(result.changes):,} would change\n"
    )
    if result.changes:
        out.write("\nby country and kind:\n")
        for j, k, b, a, n in result.counts():
            out.write(f"  {j:<4} {k:<24} {b} → {a}: {n:,}\n")
        out.write("\ndecisions:\n")
        for c in result.changes:
            standing = f" ({c.demand})" if c.demand else ""
            out.write(f"  {c.decision_id}  {c.timestamp}  {c.jurisdiction} {c.kind}{safe(standing)}\n")
            out.write(f"      before: {c.before.describe()}\n      after:  {c.after.describe()}\n")
    for decision_id, message in result.errors:
        out.write(f"  {decision_id}: cannot be decided under the new set: {safe(message)}\n")
