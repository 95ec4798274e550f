"""Transparency reports from the journal: counts per country × kind × legal process × authority.

Stage contract: :func:`build_report` reads a journal's decisions and effect
events for a period and returns a :class:`Report`; the ``render_*``
functions turn it into CSV, JSON, markdown or one self-contained HTML page
with inline SVG charts (no script, the matrix page's Content-Security-Policy).
Nothing here writes to the journal.  docs/reports.md defines every column.

Counting rules (stated in every rendering's header): a request is one
journaled decision; a standing demand decided again is counted again; a
decision's effect is its first effect event; "some data produced" is a
``given`` or ``narrowed`` effect on a demand for data (kinds in
:data:`DATA_KINDS`); a market is withdrawn from when a mandatory standing
demand of that jurisdiction was decided ``withdraw`` in the period.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from .chain import format_time
from .journal import EffectEvent, Journal, JournalEntry

#: Demand kinds that ask for data: "some data produced" is counted for these.
DATA_KINDS = frozenset({"user_data", "key_disclosure", "traceability"})
#: Effects that mean the demand was acted upon (data produced, content removed), fully or in part.
ACTED = frozenset({"given", "narrowed"})
COLUMNS = (
    "period_start",
    "period_end",
    "country_iso2",
    "request_category",
    "legal_process",
    "authority",
    "requests_received",
    "outcome_comply",
    "outcome_negotiate",
    "outcome_withdraw",
    "requests_effect_given",
    "requests_narrowed",
    "requests_refused",
    "requests_escalated_or_challenged",
    "requests_pending",
    "requests_some_data_produced",
    "pct_some_data_produced",
    "median_hours_to_effect",
    "market_withdrawn",
    "policy_versions",
)


@dataclass
class _Cell:
    received: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: {"comply": 0, "negotiate": 0, "withdraw": 0})
    effects: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pending: int = 0
    produced: int = 0
    hours: list[float] = field(default_factory=list)
    versions: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Row:
    country: str
    kind: str
    legal_process: str
    authority: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Report:
    start: datetime | None
    end: datetime | None
    first: str | None  # timestamp of the first decision counted
    last: str | None
    rows: tuple[Row, ...]
    withdrawn_markets: tuple[str, ...]
    by_country: dict[str, dict[str, int]]
    #: outcomes per day (``2026-12-02``); the chart shows months when the period spans more than 62 days
    by_month: dict[str, dict[str, int]]
    decisions: int

    @property
    def period(self) -> tuple[str, str]:
        lo = format_time(self.start)[:10] if self.start else (self.first or "")[:10]
        hi = format_time(self.end)[:10] if self.end else (self.last or "")[:10]
        return lo, hi

    def records(self) -> list[dict[str, Any]]:
        lo, hi = self.period
        return [
            {
                "period_start": lo,
                "period_end": hi,
                "country_iso2": r.country,
                "request_category": r.kind,
                "legal_process": r.legal_process,
                "authority": r.authority,
                **r.values,
            }
            for r in self.rows
        ]


def _first_effects(effects: Iterable[EffectEvent]) -> dict[str, EffectEvent]:
    first: dict[str, EffectEvent] = {}
    for e in effects:
        if e.decision_id not in first:
            first[e.decision_id] = e
    return first


def build_report(journal: Journal, start: datetime | None = None, end: datetime | None = None) -> Report:
    first_effect = _first_effects(journal.all_effects())
    cells: dict[tuple[str, str, str, str], _Cell] = defaultdict(_Cell)
    withdrawn: set[str] = set()
    by_country: dict[str, dict[str, int]] = defaultdict(lambda: {"comply": 0, "negotiate": 0, "withdraw": 0})
    by_month: dict[str, dict[str, int]] = defaultdict(lambda: {"comply": 0, "negotiate": 0, "withdraw": 0})
    first = last = None
    count = 0
    entry: JournalEntry
    for entry in journal.entries(start=start, end=end):
        count += 1
        stamp = format_time(entry.timestamp)
        first = stamp if first is None else min(first, stamp)
        last = stamp if last is None else max(last, stamp)
        kind = str(entry.request.get("kind") or "unspecified")
        process = str(entry.request.get("legal_basis") or "unspecified")
        authority = str(entry.request.get("authority") or "unspecified")
        cell = cells[(entry.jurisdiction, kind, process, authority)]
        cell.received += 1
        cell.outcomes[entry.outcome] = cell.outcomes.get(entry.outcome, 0) + 1
        cell.versions.add(entry.policy_version)
        by_country[entry.jurisdiction][entry.outcome] += 1
        by_month[stamp[:10]][entry.outcome] += 1
        if entry.demand and entry.outcome == "withdraw" and entry.request.get("mandatory") is True:
            withdrawn.add(entry.jurisdiction)
        effect = first_effect.get(entry.decision_id)
        if effect is None:
            cell.pending += 1
            continue
        cell.effects[effect.effect] += 1
        if effect.effect in ACTED:
            cell.hours.append(max(0.0, (effect.at - entry.timestamp).total_seconds() / 3600))
            if kind in DATA_KINDS:
                cell.produced += 1
    rows = []
    for (country, kind, process, authority), c in sorted(cells.items()):
        data = kind in DATA_KINDS
        rows.append(
            Row(
                country,
                kind,
                process,
                authority,
                {
                    "requests_received": c.received,
                    "outcome_comply": c.outcomes.get("comply", 0),
                    "outcome_negotiate": c.outcomes.get("negotiate", 0),
                    "outcome_withdraw": c.outcomes.get("withdraw", 0),
                    "requests_effect_given": c.effects.get("given", 0),
                    "requests_narrowed": c.effects.get("narrowed", 0),
                    "requests_refused": c.effects.get("refused", 0),
                    "requests_escalated_or_challenged": c.effects.get("escalated", 0) + c.effects.get("challenged", 0),
                    "requests_pending": c.pending,
                    "requests_some_data_produced": c.produced if data else None,
                    "pct_some_data_produced": round(100 * c.produced / c.received, 1) if data else None,
                    "median_hours_to_effect": round(statistics.median(c.hours), 2) if c.hours else None,
                    "market_withdrawn": country in withdrawn,
                    "policy_versions": " ".join(sorted(c.versions)),
                },
            )
        )
    return Report(
        start,
        end,
        first,
        last,
        tuple(rows),
        tuple(sorted(withdrawn)),
        dict(sorted(by_country.items())),
        dict(sorted(by_month.items())),
        count,
    )


COUNTING_RULES = (
    "a request is one journaled decision; a standing demand decided again counts again; "
    "a decision's effect is its first effect event; some data produced = an effect `given` or `narrowed` "
    f"on a demand for data ({', '.join(sorted(DATA_KINDS))}); hours to effect run from the decision to that effect; "
    "a market is withdrawn from when a mandatory standing demand was decided withdraw in the period; "
    "pending = no effect recorded yet"
)


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in report.records():
        writer.writerow({k: ("" if v is None else v) for k, v in record.items()})
    return out.getvalue()


def render_json(report: Report) -> str:
    lo, hi = report.period
    return json.dumps(
        {
            "period_start": lo,
            "period_end": hi,
            "decisions": report.decisions,
            "counting_rules": COUNTING_RULES,
            "markets_withdrawn": list(report.withdrawn_markets),
            "rows": report.records(),
        },
        indent=2,
    )


_SHORT = {
    "requests_received": "received",
    "outcome_comply": "comply",
    "outcome_negotiate": "negotiate",
    "outcome_withdraw": "withdraw",
    "requests_effect_given": "given",
    "requests_narrowed": "narrowed",
    "requests_refused": "refused",
    "requests_escalated_or_challenged": "escalated/challenged",
    "requests_pending": "pending",
    "pct_some_data_produced": "% data produced",
    "median_hours_to_effect": "median h to effect",
}


def _cell(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def table_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    head = ["country", "kind", "legal process", "authority", *_SHORT.values()]
    body = [[r.country, r.kind, r.legal_process, r.authority, *(_cell(r.values[k]) for k in _SHORT)] for r in report.rows]
    return head, body


def render_markdown(report: Report) -> str:
    lo, hi = report.period
    head, body = table_rows(report)
    lines = [
        f"# Transparency report {lo} – {hi}",
        "",
        f"{report.decisions:,} demands decided. Markets withdrawn from: {', '.join(report.withdrawn_markets) or 'none'}.",
        "",
        f"Counting rules: {COUNTING_RULES}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


# --- HTML with inline SVG -----------------------------------------------------------------------

_COLOURS = {"comply": "#2e7d32", "negotiate": "#f9a825", "withdraw": "#c62828"}
_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; } th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f3f3f3; } td.t { text-align: left; } .meta { color: #555; }
.legend span { display: inline-block; margin-right: 1.2em; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
svg text { font: 11px system-ui, sans-serif; fill: #222; }
"""


def _h(text: object) -> str:
    return escape(str(text), quote=True)


def _legend() -> str:
    return (
        '<p class="legend">' + "".join(f'<span><i style="background:{c}"></i>{o}</span>' for o, c in _COLOURS.items()) + "</p>\n"
    )


def svg_by_country(by_country: dict[str, dict[str, int]], limit: int = 40) -> str:
    """Horizontal stacked bars: outcomes of the countries with the most demands."""
    items = sorted(by_country.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:limit]
    if not items:
        return "<p>No decisions in the period.</p>\n"
    top = max(sum(v.values()) for _, v in items)
    bar_w, row_h, left = 520, 18, 48
    height = row_h * len(items) + 24
    width = left + bar_w + 60
    parts = [f'<svg role="img" aria-labelledby="c-title" width="{width}" height="{height}" viewBox="0 0 {width} {height}">']
    parts.append('<title id="c-title">Outcomes by country</title>')
    for i, (country, counts) in enumerate(items):
        y = 4 + i * row_h
        parts.append(f'<text x="0" y="{y + 12}">{_h(country)}</text>')
        x = float(left)
        for outcome in ("comply", "negotiate", "withdraw"):
            n = counts.get(outcome, 0)
            if n:
                w = bar_w * n / top
                tip = f"<title>{_h(country)}: {n} {outcome}</title>"
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 4}" fill="{_COLOURS[outcome]}">{tip}</rect>'
                )
                x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 12}">{sum(counts.values())}</text>')
    parts.append("</svg>")
    return "".join(parts) + "\n"


def svg_over_time(by_day: dict[str, dict[str, int]]) -> str:
    """Stacked columns: outcomes per day, or per month over more than 62 days."""
    if not by_day:
        return "<p>No decisions in the period.</p>\n"
    by_month = by_day
    if len(by_day) > 62:
        by_month = defaultdict(lambda: {"comply": 0, "negotiate": 0, "withdraw": 0})
        for day, counts in by_day.items():
            for outcome, n in counts.items():
                by_month[day[:7]][outcome] += n
    months = sorted(by_month)
    top = max(sum(v.values()) for v in by_month.values())
    col_w, plot_h, base = 36, 200, 220
    width = max(420, 40 + col_w * len(months) + 20)
    height = base + 40
    parts = [f'<svg role="img" aria-labelledby="t-title" width="{width}" height="{height}" viewBox="0 0 {width} {height}">']
    parts.append('<title id="t-title">Outcomes over time</title>')
    parts.append(f'<line x1="38" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#888"/>')
    parts.append(f'<text x="0" y="{base - plot_h + 10}">{top}</text><text x="0" y="{base}">0</text>')
    for i, month in enumerate(months):
        x = 40 + i * col_w
        y = float(base)
        for outcome in ("comply", "negotiate", "withdraw"):
            n = by_month[month].get(outcome, 0)
            if n:
                h = plot_h * n / top
                y -= h
                tip = f"<title>{_h(month)}: {n} {outcome}</title>"
                parts.append(
                    f'<rect x="{x}" y="{y:.1f}" width="{col_w - 8}" height="{h:.1f}" fill="{_COLOURS[outcome]}">{tip}</rect>'
                )
        parts.append(f'<text x="{x}" y="{base + 14}">{_h(month[5:] if len(month) > 7 else month[2:])}</text>')
    parts.append("</svg>")
    return "".join(parts) + "\n"


def render_html(report: Report) -> str:
    """One page, inline CSS and SVG, no script, no remote resource (CSP ``default-src 'none'``)."""
    lo, hi = report.period
    head, body = table_rows(report)
    out = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>Transparency report {_h(lo)} – {_h(hi)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n",
        f"<h1>Transparency report {_h(lo)} – {_h(hi)}</h1>\n",
        f'<p class="meta">{report.decisions:,} demands decided. Markets withdrawn from: '
        f"<b>{_h(', '.join(report.withdrawn_markets) or 'none')}</b>.</p>\n",
        f'<p class="meta">Counting rules: {_h(COUNTING_RULES)}.</p>\n',
        '<h2 id="by-country">Outcomes by country</h2>\n',
        _legend(),
        svg_by_country(report.by_country),
        '<h2 id="over-time">Outcomes over time</h2>\n',
        svg_over_time(report.by_month),
        '<h2 id="table">Per country, kind, legal process and authority</h2>\n<table>\n<tr>',
        "".join(f"<th>{_h(h)}</th>" for h in head),
        "</tr>\n",
    ]
    for row in body:
        out.append(
            "<tr>"
            + "".join(f'<td class="t">{_h(c)}</td>' if i < 4 else f"<td>{_h(c)}</td>" for i, c in enumerate(row))
            + "</tr>\n"
        )
    out.append("</table>\n</body>\n</html>\n")
    return "".join(out)
