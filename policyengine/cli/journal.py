"""`policyengine journal`: verify, export, record effects, prune; and the journaled `decide --requests`.

``journal verify J`` exits 0 when the chain holds and 1 naming the first entry
that breaks it and why; ``journal export J`` writes JSON lines in the shape of
OPA decision logs; ``journal effect J ID EFFECT --by WHO`` records what became
of a decision; ``journal prune J --before DATE`` deletes the oldest entries and
leaves a checkpoint so that the rest still verifies.  J is a file path
(SQLite) or a ``postgresql://`` URL (docs/journal.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..language.text import safe
from .common import CommandError, ExitCode, output_file

if TYPE_CHECKING:
    from ..evaluation.decision import Decision, MarketDecision
    from ..evaluation.engine import Engine
    from ..evaluation.requests import RequestError
    from ..journal import EffectEvent, Journal

NAME = "journal"
HELP = "the decision journal: verify its hash chain, export it, record effects, prune it"
#: `journal verify` found a broken chain.
BROKEN = ExitCode.POLICY_ERRORS


def add_journal_arguments(parser: argparse.ArgumentParser) -> None:
    """``--journal``, ``--journal-mode`` and ``--journal-mask``, for `decide` and `explain`."""
    parser.add_argument(
        "--journal", metavar="PATH_OR_URL", help="record every decision in this journal (SQLite file or postgresql:// URL)"
    )
    parser.add_argument(
        "--journal-mode",
        choices=("durable", "buffered"),
        default="durable",
        help="durable (default): a decision is printed only once its entry is committed; buffered: see docs/journal.md",
    )
    parser.add_argument(
        "--journal-mask", metavar="FILE", help="masking configuration (JSON; default: free text removed or hashed)"
    )


def open_from_args(target: str, mode: str = "durable", mask: str | None = None) -> Journal:
    from ..journal import Masking, open_journal

    masking = Masking.from_file(mask) if mask else None
    return open_journal(target, mode=mode, masking=masking)  # type: ignore[arg-type]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="journal_command", metavar="ACTION", required=True)
    verify = sub.add_parser("verify", help="check the hash chain: exit 0 if it holds, 1 naming the first bad entry")
    verify.add_argument("target", metavar="PATH_OR_URL")
    verify.add_argument("--format", choices=("human", "json"), default="human")

    export = sub.add_parser("export", help="JSON lines, one decision a line (OPA decision-log shape, with effects)")
    export.add_argument("target", metavar="PATH_OR_URL")
    export.add_argument("--from", dest="start", metavar="DATE", help="decisions recorded at or after DATE")
    export.add_argument("--to", dest="end", metavar="DATE", help="decisions recorded before DATE")
    export.add_argument("--period", metavar="PERIOD", help="2026, 2026-H2, 2026-Q3 or 2026-07 (instead of --from/--to)")
    export.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    export.add_argument(
        "--partitions", metavar="DIR", help="write numbered partition files into DIR instead (for `replay --export`, Dask)"
    )
    export.add_argument("--partition-size", type=int, default=5_000, metavar="N", help="records per partition (default 5,000)")
    export.add_argument(
        "--partition-format", choices=("jsonl", "parquet"), default="jsonl", help="partition files (default jsonl)"
    )

    effect = sub.add_parser("effect", help="record what became of a decision: given, refused, narrowed, escalated, challenged")
    effect.add_argument("target", metavar="PATH_OR_URL")
    effect.add_argument("decision_id", metavar="DECISION_ID")
    effect.add_argument("effect", metavar="EFFECT")
    effect.add_argument("--by", required=True, metavar="WHO", help="who gave, refused, narrowed, escalated or challenged it")
    effect.add_argument("--note", default="", help="free text kept with the event")
    effect.add_argument("--at", metavar="TIME", help="when it happened (default: now)")

    prune = sub.add_parser("prune", help="delete entries recorded before DATE; the rest stays verifiable")
    prune.add_argument("target", metavar="PATH_OR_URL")
    prune.add_argument("--before", required=True, metavar="DATE")

    pending = sub.add_parser("pending", help="decisions with no effect recorded yet, oldest first")
    pending.add_argument("target", metavar="PATH_OR_URL")
    pending.add_argument("--outcome", choices=("comply", "negotiate", "withdraw"), default="negotiate")


def run(args: argparse.Namespace) -> int:
    from ..journal import open_journal

    with open_journal(args.target) as journal:
        return int(_ACTIONS[args.journal_command](journal, args))


def _verify(journal: Journal, args: argparse.Namespace) -> int:
    result = journal.verify()
    if args.format == "json":
        print(
            json.dumps(
                {
                    "ok": result.ok,
                    "entries": result.entries,
                    "first_bad": result.first_bad,
                    "why": result.why,
                    "head": result.head,
                }
            )
        )
    elif result.ok:
        print(f"{safe(journal.target)}: ok, {result.entries:,} entries, chain head {result.head}")
    else:
        print(f"{safe(journal.target)}: broken at entry {result.first_bad}: {safe(result.why or '')}", file=sys.stderr)
        print(f"  {result.entries:,} entries before it verify", file=sys.stderr)
    return ExitCode.OK if result.ok else BROKEN


def _export(journal: Journal, args: argparse.Namespace) -> int:
    from ..journal.export import export_record, write_lines
    from ..journal.periods import period_of

    start, end = period_of(args.start, args.end, args.period)
    effects: dict[str, list[EffectEvent]] = {}
    for e in journal.all_effects():
        effects.setdefault(e.decision_id, []).append(e)
    if args.partitions:
        from ..journal.replay import write_partitions

        if args.output or args.partition_size < 1:
            raise CommandError("--partitions writes files into a directory: no --output; --partition-size at least 1")
        records = (export_record(x, effects.get(x.decision_id, ())) for x in journal.entries(start=start, end=end))
        paths = write_partitions(records, args.partitions, args.partition_format, args.partition_size)
        print(f"{len(paths):,} partitions written to {safe(args.partitions)}", file=sys.stderr)
        return ExitCode.OK
    with output_file(args.output) as out:
        records = (export_record(x, effects.get(x.decision_id, ())) for x in journal.entries(start=start, end=end))
        count = write_lines(records, out)
    if args.output:
        print(f"{count:,} decisions written to {safe(args.output)}", file=sys.stderr)
    return ExitCode.OK


def _effect(journal: Journal, args: argparse.Namespace) -> int:
    from ..journal.periods import parse_when

    at = parse_when(args.at, "--at") if args.at else None
    event = journal.record_effect(args.decision_id, args.effect, by=args.by, note=args.note, at=at)
    print(event)
    return ExitCode.OK


def _prune(journal: Journal, args: argparse.Namespace) -> int:
    from ..journal.periods import parse_when

    count = journal.prune(parse_when(args.before, "--before"))
    result = journal.verify()
    state = "verify" if result.ok else "do NOT verify"
    print(f"{count:,} entries recorded before {args.before} pruned; {result.entries:,} remain and {state}")
    return ExitCode.OK if result.ok else BROKEN


def _pending(journal: Journal, args: argparse.Namespace) -> int:
    from ..journal.chain import format_time

    for entry in journal.pending(args.outcome):
        rules = ", ".join(entry.rules) or "default"
        print(f"{entry.decision_id}  {format_time(entry.timestamp)}  {entry.jurisdiction}  {entry.request.get('kind')}  {rules}")
    return ExitCode.OK


_ACTIONS = {"verify": _verify, "export": _export, "effect": _effect, "prune": _prune, "pending": _pending}


def recorded_note(result: Decision | MarketDecision, target: str) -> str:
    """What `decide --journal` says on stderr after a human answer: where the decisions went."""
    from ..evaluation.decision import MarketDecision

    ids = [d.decision_id for d in result.decisions] if isinstance(result, MarketDecision) else [result.decision_id]
    shown = ids[0] if len(ids) == 1 else f"{len(ids)} decisions, {ids[0]} … {ids[-1]}"
    return f"journaled in {safe(target)}: {shown}"


# --- `decide --requests FILE --journal J` ---------------------------------------------------

#: Lines decided and recorded together: one commit, then their answers are written.
JOURNAL_BATCH = 256


def write_journaled(
    engine: Engine,
    results: Iterable[tuple[int, Any, bool]],
    path: str,
    on_error: str,
    error_record: Callable[[RequestError, int], dict[str, Any]],
) -> int:
    """`decide --requests` with a journal: the same output, each decision with its ``decision_id``.

    ``results`` are `decide`'s (line number, Decision or RequestError, --fail-on
    hit), decided without the journal; they are recorded in batches of
    :data:`JOURNAL_BATCH`, one commit each, and a batch is written out only
    once committed, so every decision printed is in the journal (durable
    mode).  Bad lines are reported as without a journal.
    """
    from ..evaluation.decision import Decision
    from ..evaluation.requests import RequestError

    name = "<stdin>" if path == "-" else path
    recorder = engine.journal
    assert recorder is not None
    bad = 0
    hit = False
    out = sys.stdout
    batch: list[tuple[int, Decision | RequestError]] = []

    def flush() -> None:
        decided = [d for _, d in batch if isinstance(d, Decision)]
        ids = iter(recorder.record_many([({}, d) for d in decided], policy_version=engine.version) if decided else [])
        lines = []
        for n, d in batch:
            if isinstance(d, Decision):
                lines.append(d.model_copy(update={"decision_id": next(ids)}).model_dump_json())
            else:
                lines.append(json.dumps(error_record(d, n)))
        out.write("".join(line + "\n" for line in lines))
        batch.clear()

    for n, result, failed in results:
        batch.append((n, result))
        if isinstance(result, RequestError):
            bad += 1
            print(f"{safe(name)}:{n}: error: {safe(str(result))}", file=sys.stderr)
            if on_error == "stop":
                flush()
                return ExitCode.USAGE
        hit = hit or failed
        if len(batch) >= JOURNAL_BATCH:
            flush()
    flush()
    if bad:
        print(f"{bad} bad line{'s' if bad != 1 else ''} skipped", file=sys.stderr)
        return ExitCode.USAGE
    return ExitCode.FAIL_ON if hit else ExitCode.OK
