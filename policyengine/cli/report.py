"""`policyengine report`: transparency reports and DSA statements of reasons from a journal.

``report --journal J [--from --to | --period 2026-Q3] [--format table|csv|json|markdown|html] [-o FILE]``
counts the period's decisions per country × kind × legal process × authority
(docs/reports.md defines the columns); ``--format html`` is one self-contained
page with charts.  ``--dsa-sor`` writes instead the DSA statements of reasons
of the period's EU content restrictions, as the Transparency Database's
``{"statements": [...]}`` (batches of at most 100 as JSON lines), each
validated against the transcribed schema first: an invalid one is an error,
never written.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from ..language.text import safe
from .common import CommandError, ExitCode, console, output_file

if TYPE_CHECKING:
    from ..journal import Journal
    from ..journal.report import Report

NAME = "report"
HELP = "transparency reports (table, CSV, JSON, markdown, HTML with charts) and DSA statements of reasons from a journal"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--journal", required=True, metavar="PATH_OR_URL", help="the journal to report on")
    parser.add_argument("--from", dest="start", metavar="DATE", help="decisions recorded at or after DATE")
    parser.add_argument("--to", dest="end", metavar="DATE", help="decisions recorded before DATE")
    parser.add_argument("--period", metavar="PERIOD", help="2026, 2026-H2, 2026-Q3 or 2026-07 (instead of --from/--to)")
    parser.add_argument(
        "--format", choices=("table", "csv", "json", "markdown", "html"), default="table", help="output format (default: table)"
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    parser.add_argument(
        "--dsa-sor",
        action="store_true",
        help="write DSA statements of reasons (Transparency Database format) instead of a report",
    )


def run(args: argparse.Namespace) -> int:
    from ..journal import open_journal
    from ..journal.periods import period_of

    start, end = period_of(args.start, args.end, args.period)
    with open_journal(args.journal) as journal:
        if args.dsa_sor:
            return _dsa(journal, start, end, args)
        from ..journal import report

        built = report.build_report(journal, start, end)
    if args.format == "table" and not args.output:
        _table(built)
        return ExitCode.OK
    render = {
        "table": report.render_markdown,
        "csv": report.render_csv,
        "json": report.render_json,
        "markdown": report.render_markdown,
        "html": report.render_html,
    }[args.format]
    with output_file(args.output) as out:
        out.write(render(built))
    if args.output:
        print(f"{len(built.rows):,} rows from {built.decisions:,} decisions written to {safe(args.output)}", file=sys.stderr)
    return ExitCode.OK


def _table(built: Report) -> None:
    from rich.table import Table

    from ..journal.report import table_rows

    lo, hi = built.period
    head, body = table_rows(built)
    table = Table(title=f"Transparency report {lo} – {hi}: {built.decisions:,} demands", title_justify="left")
    for i, h in enumerate(head):
        table.add_column(h, justify="left" if i < 4 else "right")
    for row in body:
        table.add_row(*(safe(c) for c in row))
    con = console()
    con.print(table)
    con.print(f"markets withdrawn from: {', '.join(built.withdrawn_markets) or 'none'}")


def _dsa(journal: Journal, start: datetime | None, end: datetime | None, args: argparse.Namespace) -> int:
    from ..journal.dsa import statements, validate

    found = list(statements(journal, start, end))
    for s in found:
        problems = validate(s)
        if problems:
            raise CommandError(
                f"the statement of reasons for decision {s.get('puid')} does not fit the Transparency Database's schema: "
                + "; ".join(problems[:3]),
                "this is a bug of the mapping in policyengine/journal/dsa.py; nothing was written",
            )
    with output_file(args.output) as out:
        for i in range(0, len(found), 100):
            out.write(json.dumps({"statements": found[i : i + 100]}, ensure_ascii=False) + "\n")
    print(f"{len(found):,} statements of reasons, {-(-len(found) // 100)} submission batches", file=sys.stderr)
    return ExitCode.OK
