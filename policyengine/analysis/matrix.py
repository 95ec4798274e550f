"""The outcome matrix: jurisdictions × demand kinds, and its renderers.

Stage contract: :func:`build_matrix` takes a loaded
:class:`~policyengine.engine.Engine` and a list of :class:`Column` (one
representative demand per kind, from :func:`columns`) and decides every
cell through the public ``Engine.decide``, so the matrix shows exactly what an
embedding application would be told.  Bad choices (an unknown kind, category
or jurisdiction, a demand the vocabulary rejects) raise :class:`MatrixError`
with a message and a hint.  The renderers (:func:`render_human`,
:func:`render_markdown`, :func:`render_csv`, :func:`render_json`,
:func:`render_html`) only format a finished :class:`Matrix`.

A cell answers "what happens to a typical demand of this kind here".  The
typical demand is documented per kind in :data:`REPRESENTATIVE`:

* the category is the one the kind usually concerns: the kinds that bear on
  every user at once (key disclosure, backdoors, traceability, localisation,
  a local representative, transparency reports) use ``all_users``;
  ``user_data`` concerns a ``criminal_suspect``; ``content_removal`` and
  ``hotline`` concern ``terrorism``, the most common lawful ground;
  ``channel_block`` uses ``peaceful_protest``, because blocking protest
  channels is the demand for which jurisdictions differ and the one a policy
  lead must see first (terrorist channels are removed almost everywhere);
* the legal basis is the strongest one that kind of demand usually rests
  on, so that a red cell means "even the lawful form is refused": demands
  about a specific case (``user_data``, ``content_removal``,
  ``channel_block``) come with a ``court_order``; obligations placed on
  every platform (keys, backdoors, traceability, localisation, a local
  representative, a hotline, transparency reports) come from a ``statute``;
* ``mandatory`` is false, the vocabulary's default: a refusable demand.

Every assumption is printed with the matrix and can be changed per column or
for all of them.  Kinds added by a policy set (``extend enum kind``) use
:data:`FALLBACK`.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from ..errors import PolicyEngineError
from ..evaluation.decide import RequestError
from ..evaluation.decision import Action, AttributeValue, Decision, Outcome, show_value
from ..language import ast
from ..language.diagnostics import all_of, did_you_mean, one_of
from ..language.model import Kind

if TYPE_CHECKING:
    from rich.console import RenderableType

    from ..evaluation.engine import Engine


class MatrixError(PolicyEngineError, ValueError):
    """A matrix that cannot be built as asked; ``hint`` suggests the fix."""

    code = "matrix"


@dataclass(frozen=True)
class Representative:
    """The typical demand of one kind: its category, legal basis and short column header."""

    category: str
    legal_basis: str
    short: str


#: The documented representative demand of each standard kind (see the module
#: docstring).  Short headers have at most six characters so that ten columns
#: and the jurisdiction codes fit an 80-column terminal.
REPRESENTATIVE: dict[str, Representative] = {
    "key_disclosure": Representative("all_users", "statute", "keys"),
    "encryption_backdoor": Representative("all_users", "statute", "backdr"),
    "traceability": Representative("all_users", "statute", "trace"),
    "channel_block": Representative("peaceful_protest", "court_order", "block"),
    "content_removal": Representative("terrorism", "court_order", "remove"),
    "user_data": Representative("criminal_suspect", "court_order", "user"),
    "data_localization": Representative("all_users", "statute", "dloc"),
    "local_representative": Representative("all_users", "statute", "rep"),
    "hotline": Representative("terrorism", "statute", "hotln"),
    "transparency_report": Representative("all_users", "statute", "report"),
}
#: Category and legal basis for kinds a policy set adds to the vocabulary.
FALLBACK = ("all_users", "statute")

#: Attributes every column sets itself; ``extra`` may not override them.
_COLUMN_ATTRS = ("kind", "category", "legal_basis", "mandatory")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Column(_Frozen):
    """One demand kind and the representative demand its cells decide."""

    kind: str
    short: str = Field(description="the column header in the human, markdown and HTML grids")
    description: str = Field(description="the kind's description from the vocabulary")
    demand: dict[str, AttributeValue] = Field(description="the demand decided in every cell of the column")

    def assumptions(self) -> str:
        """``category all_users, legal basis statute, mandatory false`` (+ any other attribute)."""
        parts = [f"{k.replace('_', ' ')} {show_value(v)}" for k, v in self.demand.items() if k != "kind"]
        return ", ".join(parts)


class Cell(_Frozen):
    outcome: Outcome
    rules: tuple[str, ...] = Field(description="the deciding rules, `principle.rule`; empty when the default applied")
    because: tuple[str, ...] = Field(description="each deciding rule's because text, in the order of `rules`")
    default_applied: bool
    undetermined: tuple[str, ...] = Field(default=(), description="rules not evaluated because a value was unknown")
    summary: str
    actions: tuple[Action, ...] = Field(default=(), description="what goes with the outcome, as the decision carries it")


class Row(_Frozen):
    code: str
    name: str
    group: bool
    cells: dict[str, Cell] = Field(description="by kind, in column order")


class Matrix(_Frozen):
    policy_version: str
    generated_at: str = Field(description="UTC time of generation, ISO 8601 (SOURCE_DATE_EPOCH when set)")
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    as_of: date | None = Field(default=None, description="the date every cell was decided as of")

    def totals(self) -> dict[str, dict[Outcome, int]]:
        """For each kind, how many jurisdictions comply, negotiate and withdraw."""
        out = {c.kind: dict.fromkeys(Outcome, 0) for c in self.columns}
        for row in self.rows:
            for kind, cell in row.cells.items():
                out[kind][cell.outcome] += 1
        return out


# --- building ---------------------------------------------------------------------------


def _enum_value(engine: Engine, enum: str, value: str, flag: str) -> str:
    values = engine.policy_set.vocabulary.enums.get(enum, ())
    if value not in values:
        raise MatrixError(
            f"{flag}: `{value}` is not a `{enum}` value",
            did_you_mean(value, values) or f"one of {one_of(values, limit=20)}",
        )
    return value


def _kinds(engine: Engine) -> tuple[str, ...]:
    return engine.policy_set.vocabulary.enums.get("kind", ())


def parse_value(engine: Engine, name: str, text: str) -> AttributeValue:
    """A ``--set NAME=VALUE`` value, typed by the vocabulary's declaration of ``demand.NAME``."""
    attr = engine.policy_set.vocabulary.attribute("demand", name)
    if attr is None or attr.builtin:
        voc = engine.policy_set.vocabulary
        names = [a.name for a in voc.scoped("demand") if not a.builtin and a.name not in _COLUMN_ATTRS]
        hint = did_you_mean(name, names) or (f"one of {one_of(names)}" if names else "the vocabulary declares no other one")
        raise MatrixError(f"--set: `{name}` is not a demand attribute", hint)
    if name in _COLUMN_ATTRS:
        flag = {"kind": "--kinds", "category": "--category", "legal_basis": "--legal-basis", "mandatory": "--mandatory"}[name]
        raise MatrixError(f"--set: `{name}` is set by the matrix itself", f"use {flag}")
    if text == "unknown":
        return None
    if attr.kind is Kind.BOOL:
        if text not in ("true", "false"):
            raise MatrixError(f"--set: `{name}` is true or false, not `{text}`")
        return text == "true"
    if attr.kind is Kind.NUMBER:
        try:
            return float(text)
        except ValueError:
            raise MatrixError(f"--set: `{name}` is a number, not `{text}`") from None
    if attr.kind is Kind.ENUM and attr.enum is not None:
        return _enum_value(engine, attr.enum, text, f"--set {name}")
    if attr.kind is Kind.DATE:
        import datetime

        try:
            return datetime.date.fromisoformat(text) if len(text) == 10 else datetime.date.fromisoformat("")
        except ValueError:
            raise MatrixError(f"--set: `{name}` is a date written YYYY-MM-DD, not `{text}`") from None
    if attr.kind is Kind.TEXTS:
        return (text,)  # one citation; a request's JSON may give several
    return text


def columns(
    engine: Engine,
    kinds: Sequence[str] | None = None,
    *,
    category: Mapping[str | None, str] | None = None,
    legal_basis: Mapping[str | None, str] | None = None,
    mandatory: bool = False,
    extra: Mapping[str, AttributeValue] | None = None,
) -> list[Column]:
    """The matrix's columns: ``kinds`` (default: every kind, in vocabulary order)
    with their representative demands.

    ``category`` and ``legal_basis`` map a kind to the value its column uses;
    the key ``None`` sets every column.  A per-kind entry beats the global one.
    ``extra`` adds other demand attributes to every column.
    """
    known = _kinds(engine)
    chosen: list[str] = []
    for k in kinds if kinds is not None else known:
        if k not in known:
            hint = did_you_mean(k, known) or f"one of {one_of(known, limit=20)}"
            raise MatrixError(f"--kinds: `{k}` is not a demand kind", hint)
        if k not in chosen:
            chosen.append(k)
    if not chosen:
        raise MatrixError("no demand kinds to show", "give --kinds a comma-separated list such as key_disclosure,user_data")
    overrides = {"category": dict(category or {}), "legal_basis": dict(legal_basis or {})}
    for attr, values in overrides.items():
        flag = "--" + attr.replace("_", "-")
        for kind, value in values.items():
            if kind is not None and kind not in known:
                raise MatrixError(f"{flag}: `{kind}` is not a demand kind", did_you_mean(kind, known))
            _enum_value(engine, attr, value, flag)
    voc = engine.policy_set.vocabulary
    settable = sorted((a for a in voc.scoped("demand") if not a.builtin and a.name not in _COLUMN_ATTRS), key=lambda a: a.name)
    read = {
        ref.dotted
        for rule in engine.policy_set.rules
        for node in ast.walk_condition(rule.condition)
        if isinstance(ref := getattr(node, "ref", None), ast.AttributeRef)
    }
    missing = [a.name for a in settable if a.required and a.name not in (extra or {})]
    if missing:
        raise MatrixError(
            f"the vocabulary requires {all_of(missing)} in every demand",
            "give " + " and ".join(f"--set {m}=VALUE" for m in missing),
        )
    descriptions = voc.enum_descriptions
    out = []
    for k in chosen:
        rep = REPRESENTATIVE.get(k)
        defaults = {"category": rep.category if rep else FALLBACK[0], "legal_basis": rep.legal_basis if rep else FALLBACK[1]}
        demand: dict[str, AttributeValue] = {"kind": k}
        for attr, values in overrides.items():
            demand[attr] = values.get(k, values.get(None, defaults[attr]))
        demand["mandatory"] = mandatory
        demand.update(extra or {})
        # Spell out every other attribute a rule reads with the value the engine would
        # fill in (its default, or unknown), so that the printed assumptions are the
        # whole demand as the rules see it; the rest (a demand's legal record: its
        # authority, dates, sources …) cannot change a cell and would only crowd it.
        for a in settable:
            if a.name not in demand and f"demand.{a.name}" in read:
                demand[a.name] = a.default if a.has_default else None
        out.append(Column(kind=k, short=rep.short if rep else k, description=descriptions.get(("kind", k), ""), demand=demand))
    return out


def rows_for(engine: Engine, jurisdictions: Sequence[str] | None = None, include_groups: bool = False) -> list[str]:
    """The codes to show: the ones asked for, in that order, or every jurisdiction
    (and, with ``include_groups``, every group) sorted by code."""
    loaded = engine.policy_set.jurisdictions
    if jurisdictions is None:
        return sorted(c for c, j in loaded.items() if include_groups or not j.is_group)
    out: list[str] = []
    for code in jurisdictions:
        if code not in loaded:
            raise MatrixError(f"--jurisdictions: `{code}` is not a loaded jurisdiction", did_you_mean(code, loaded))
        if code not in out:
            out.append(code)
    return out


def generation_time() -> str:
    """Now, in UTC; ``SOURCE_DATE_EPOCH`` pins it, for reproducible reports."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        when = datetime.fromtimestamp(int(epoch), UTC)
    else:
        when = datetime.now(UTC)
    return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _cell(d: Decision) -> Cell:
    return Cell(
        outcome=d.outcome,
        rules=tuple(r.qualified for r in d.reasons) if not d.default_applied else (),
        because=tuple(r.because for r in d.reasons) if not d.default_applied else (),
        default_applied=d.default_applied,
        undetermined=tuple(f"{u.principle}.{u.rule}" for u in d.undetermined),
        summary=d.summary,
        actions=d.actions,
    )


def build_matrix(engine: Engine, cols: Sequence[Column], codes: Sequence[str], *, as_of: date | None = None) -> Matrix:
    """Decide every (jurisdiction, column) pair with ``engine.decide``, as of ``as_of`` (None: today)."""
    loaded = engine.policy_set.jurisdictions
    rows = []
    when: date | None = as_of
    for code in codes:
        cells: dict[str, Cell] = {}
        for col in cols:
            try:
                d = engine.decide({"jurisdiction": code, "demand": dict(col.demand)}, as_of=as_of)
            except RequestError as err:
                raise MatrixError(
                    f"the `{col.short}` column's demand does not fit the vocabulary: {err.field}: {err.message}",
                    err.hint or "set the missing or wrong attribute with --set NAME=VALUE",
                ) from None
            cells[col.kind] = _cell(d)
            when = d.as_of
        j = loaded[code]
        rows.append(Row(code=code, name=j.name, group=j.is_group, cells=cells))
    return Matrix(
        policy_version=engine.version, generated_at=generation_time(), columns=tuple(cols), rows=tuple(rows), as_of=when
    )


# --- rendering -------------------------------------------------------------------------

LETTER = {Outcome.COMPLY: "C", Outcome.NEGOTIATE: "N", Outcome.WITHDRAW: "W"}
DEFAULT_MARK = "*"
UNDETERMINED_MARK = "?"


def _mark(cell: Cell) -> str:
    """Footnote marks: the default applied (*), a rule needed an unknown value (?)."""
    return (DEFAULT_MARK if cell.default_applied else "") + (UNDETERMINED_MARK if cell.undetermined else "")


def _explain_cell(row: Row, col: Column, cell: Cell) -> str:
    """The tooltip text of a cell: what was decided and by which rule, and why."""
    lines = [f"{row.name} ({row.code}) — {col.kind}: {cell.outcome.value}"]
    if cell.default_applied:
        lines.append(cell.summary)
    for rule, because in zip(cell.rules, cell.because):
        lines.append(f"decided by {rule}: {because}")
    if cell.undetermined:
        lines.append("undetermined (a value is unknown): " + ", ".join(cell.undetermined))
    return "\n".join(lines)


def render_human(matrix: Matrix, width: int = 80) -> list[RenderableType]:
    """Rich renderables for a terminal ``width`` columns wide: the assumptions,
    the coloured grid and the legend.

    Cells are one letter (plus footnote marks) so that ten kinds fit 80
    columns; the colour repeats the letter for those who see it.  The
    jurisdiction name column is dropped when the terminal is too narrow to
    show it usefully: codes are never cut.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from ..evaluation.explain import COLOURS
    from ..language.text import safe

    totals = matrix.totals()
    head = Text()
    head.append("outcome of a representative demand of each kind", style="bold")
    head.append(f"  (policy version {matrix.policy_version}, {len(matrix.rows)} jurisdictions)", style="dim")
    head.append("\neach column assumes (change with --category, --legal-basis, --mandatory, --set):", style="dim")
    others = _others(matrix)
    keys = ["kind", "category", "legal_basis", "mandatory", *others]
    values = {k: [safe(show_value(c.demand.get(k))) for c in matrix.columns] for k in keys}
    counts = [
        f"{totals[c.kind][Outcome.COMPLY]}/{totals[c.kind][Outcome.NEGOTIATE]}/{totals[c.kind][Outcome.WITHDRAW]}"
        for c in matrix.columns
    ]

    def needed(shown: list[str]) -> int:
        """The table's width: each column's widest cell, one space between columns."""
        cells = [["column", *(safe(c.short) for c in matrix.columns)], ["C/N/W", *counts]]
        cells += [[_header(k), *values[k]] for k in shown]
        return sum(max(len(v) for v in col) for col in cells) + len(cells) - 1

    # Identifiers are never split: when the table is too wide, the attributes
    # every column shares leave it for one line under it.
    shared = [k for k in keys[3:] if len(set(values[k])) == 1] if needed(keys) > width else []
    shown = [k for k in keys if k not in shared]
    if shared:
        head.append("\nevery column: " + ", ".join(f"{_header(k)} = {values[k][0]}" for k in shared), style="dim")
    assumptions = Table(box=None, pad_edge=False, header_style="bold", padding=(0, 1, 0, 0))
    assumptions.add_column("column", no_wrap=True)
    for k in shown:
        # Fold only if the terminal is narrower than the kind names themselves.
        assumptions.add_column(_header(k), overflow="fold")
    assumptions.add_column("C/N/W", no_wrap=True, justify="right")
    for i, col in enumerate(matrix.columns):
        assumptions.add_row(Text(safe(col.short), style="bold"), *(Text(values[k][i]) for k in shown), Text(counts[i]))
    code_width = max([4, *(len(safe(r.code)) for r in matrix.rows)])
    cell_widths = [max(2, len(safe(c.short))) for c in matrix.columns]
    # Each column costs its width plus one space of padding.
    room_for_name = width - (code_width + 1) - sum(w + 1 for w in cell_widths) - 1
    # SIMPLE_HEAD draws a blank one-character divider between columns, which is
    # all the spacing a one-letter cell needs: no padding on top of it.
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold", padding=0)
    grid.add_column("code", no_wrap=True, min_width=code_width)
    show_names = room_for_name >= 10
    if show_names:
        grid.add_column("jurisdiction", no_wrap=True, max_width=min(room_for_name, 28), overflow="ellipsis")
    for col, w in zip(matrix.columns, cell_widths):
        grid.add_column(Text(safe(col.short)), justify="center", no_wrap=True, min_width=w)
    for row in matrix.rows:
        cells = []
        for col in matrix.columns:
            cell = row.cells[col.kind]
            cells.append(Text(LETTER[cell.outcome] + _mark(cell), style=f"bold {COLOURS[cell.outcome]}"))
        lead = [Text(safe(row.code), style="bold")]
        if show_names:
            lead.append(Text(safe(row.name + (" (group)" if row.group else ""))))
        grid.add_row(*lead, *cells)
    legend = Text()
    for outcome in Outcome:
        legend.append(LETTER[outcome], style=f"bold {COLOURS[outcome]}")
        legend.append(f" {outcome.value}   ")
    legend.append(f"{DEFAULT_MARK} no rule matched (default)   {UNDETERMINED_MARK} a rule needed an unknown value")
    return [head, assumptions, grid, legend]


def _header(key: str) -> str:
    """The assumptions table's header for a demand attribute."""
    return "legal basis" if key == "legal_basis" else key


def _md(text: str) -> str:
    """Markdown-safe table-cell text: characters that could open markup, an HTML
    tag, an entity or a new cell are escaped; line breaks become spaces."""
    from ..language.text import safe

    text = safe(" ".join(text.split()))  # control characters as `\x1b`, which the next line keeps visible
    return "".join("\\" + ch if ch in "\\`*_[]<>|~&!#" else ch for ch in text)


def _others(matrix: Matrix) -> list[str]:
    """Demand attributes set through ``extra`` (``--set``), in name order."""
    return sorted({k for c in matrix.columns for k in c.demand if k not in _COLUMN_ATTRS})


def render_markdown(matrix: Matrix) -> str:
    others = _others(matrix)
    names = ["column", "kind", "category", "legal basis", "mandatory", *others]
    lines = [
        "# Outcome matrix",
        "",
        f"Policy version `{matrix.policy_version}`. Each column decides one representative demand of its kind "
        "for every jurisdiction:",
        "",
        "| " + " | ".join(_md(n) for n in names) + " |",
        "|" + "---|" * len(names),
    ]
    for col in matrix.columns:
        values = [show_value(col.demand.get(k)) for k in ("kind", "category", "legal_basis", "mandatory", *others)]
        lines.append("| " + " | ".join(_md(v) for v in [col.short, *values]) + " |")
    lines += [
        "",
        f"`{DEFAULT_MARK}` no rule matched, so the default (negotiate) applied; "
        f"`{UNDETERMINED_MARK}` a rule could not be evaluated because a value is unknown.",
        "",
        "| code | jurisdiction | " + " | ".join(_md(c.short) for c in matrix.columns) + " |",
        "|---|---|" + "---|" * len(matrix.columns),
    ]
    for row in matrix.rows:
        cells = [_md(row.cells[c.kind].outcome.value + _mark(row.cells[c.kind])) for c in matrix.columns]
        name = row.name + (" (group)" if row.group else "")
        lines.append(f"| {_md(row.code)} | {_md(name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _csv_safe(text: str) -> str:
    """Keep a spreadsheet from reading a policy-supplied name as a formula, and a
    terminal (``cat matrix.csv``) from obeying one: control characters escaped."""
    from ..language.text import safe

    text = safe(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(matrix: Matrix) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["code", "name", "group", *(c.kind for c in matrix.columns)])
    for row in matrix.rows:
        outcomes = [row.cells[c.kind].outcome.value for c in matrix.columns]
        writer.writerow([_csv_safe(row.code), _csv_safe(row.name), "true" if row.group else "false", *outcomes])
    return buf.getvalue()


def render_json(matrix: Matrix) -> str:
    data = matrix.model_dump(mode="json")
    data["totals"] = {k: {o.value: n for o, n in t.items()} for k, t in matrix.totals().items()}
    from ..language.text import json_safe

    return json_safe(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def _h(text: str) -> str:
    """HTML-escaped text, attribute-safe; control characters (invalid in HTML) dropped."""
    clean = "".join(ch for ch in text if ch in "\n\t" or (ch.isprintable() or ch == " "))
    return html.escape(clean, quote=True)


_CSS = """
:root { --comply: #c9f0d1; --comply-ink: #0f5132; --negotiate: #fff0b3; --negotiate-ink: #664d03;
        --withdraw: #ffc9c9; --withdraw-ink: #842029; --line: #d0d7de; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem; color: #1f2328; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
h2 { font-size: 1.05rem; margin: 1.25rem 0 .5rem; }
.meta { color: #57606a; margin: 0 0 1rem; }
table { border-collapse: separate; border-spacing: 0; }
.assumptions td, .assumptions th { padding: .2rem .75rem .2rem 0; text-align: left; vertical-align: top; }
.legend span { display: inline-block; padding: .1rem .6rem; margin-right: .5rem; border-radius: 3px; }
.grid { overflow: auto; max-height: 80vh; border: 1px solid var(--line); }
.grid th, .grid td { padding: .2rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
.grid thead th { position: sticky; top: 0; z-index: 2; background: #f6f8fa; border-bottom: 2px solid var(--line); }
.grid tbody th, .grid thead th:first-child { position: sticky; left: 0; z-index: 1; background: #f6f8fa; text-align: left; }
.grid thead th:first-child { z-index: 3; }
.grid tfoot td, .grid tfoot th { background: #f6f8fa; font-size: .85em; color: #57606a; }
td.o { text-align: center; font-weight: 600; cursor: help; }
.comply { background: var(--comply); color: var(--comply-ink); }
.negotiate { background: var(--negotiate); color: var(--negotiate-ink); }
.withdraw { background: var(--withdraw); color: var(--withdraw-ink); }
td.default { font-style: italic; font-weight: 400; }
.group th, .group td.name { font-style: italic; }
"""


def render_html(matrix: Matrix) -> str:
    """One self-contained page: inline CSS, no script, no external resource.

    Every text from the policy set is escaped with :func:`_h`, and a
    Content-Security-Policy forbids scripts and remote loads, so that even an
    escaping mistake could not make a hostile policy file run code in the
    reader's browser.
    """
    totals = matrix.totals()
    out: list[str] = []
    w = out.append
    title = f"policyengine outcome matrix — policy version {matrix.policy_version}"
    w('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n')
    w("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n")
    w('<meta name="viewport" content="width=device-width, initial-scale=1">\n')
    w(f"<title>{_h(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n")
    w("<h1>Outcome matrix</h1>\n")
    w(
        f'<p class="meta">Policy version <code>{_h(matrix.policy_version)}</code> · generated '
        f'<time datetime="{_h(matrix.generated_at)}">{_h(matrix.generated_at)}</time> · '
        f"{len(matrix.rows)} jurisdictions × {len(matrix.columns)} demand kinds. "
        "Hover over a cell for the deciding rule and its reason.</p>\n"
    )
    others = _others(matrix)
    w('<h2>Assumptions: the demand each column decides</h2>\n<table class="assumptions">\n<tr>')
    for name in ("column", "kind", "category", "legal basis", "mandatory", *others):
        w(f"<th>{_h(name)}</th>")
    w("</tr>\n")
    for col in matrix.columns:
        w(f'<tr><td><b>{_h(col.short)}</b></td><td title="{_h(col.description)}">{_h(col.kind)}</td>')
        for k in ("category", "legal_basis", "mandatory", *others):
            w(f"<td>{_h(show_value(col.demand.get(k)))}</td>")
        w("</tr>\n")
    w('</table>\n<h2>Legend</h2>\n<p class="legend">')
    for outcome in Outcome:
        w(f'<span class="{outcome.value}">{outcome.value}</span>')
    w(
        f"<span><i>{DEFAULT_MARK}</i> no rule matched: the default (negotiate) applies</span>"
        f"<span>{UNDETERMINED_MARK} a rule needed a value that is unknown</span></p>\n"
    )
    w('<div class="grid">\n<table>\n<thead><tr><th scope="col">code</th><th scope="col">jurisdiction</th>')
    for col in matrix.columns:
        w(f'<th scope="col" title="{_h(col.kind + ": " + col.assumptions())}">{_h(col.short)}</th>')
    w("</tr></thead>\n<tbody>\n")
    for row in matrix.rows:
        name = row.name + (" (group)" if row.group else "")
        tr = '<tr class="group">' if row.group else "<tr>"
        w(f'{tr}<th scope="row">{_h(row.code)}</th><td class="name">{_h(name)}</td>')
        for col in matrix.columns:
            cell = row.cells[col.kind]
            classes = f"o {cell.outcome.value}" + (" default" if cell.default_applied else "")
            w(f'<td class="{classes}" title="{_h(_explain_cell(row, col, cell))}">{_h(cell.outcome.value + _mark(cell))}</td>')
        w("</tr>\n")
    w('</tbody>\n<tfoot><tr><th scope="row">total</th><td>comply / negotiate / withdraw</td>')
    for col in matrix.columns:
        t = totals[col.kind]
        w(f"<td>{t[Outcome.COMPLY]} / {t[Outcome.NEGOTIATE]} / {t[Outcome.WITHDRAW]}</td>")
    w("</tr></tfoot>\n</table>\n</div>\n</body>\n</html>\n")
    return "".join(out)


RENDERERS = {"markdown": render_markdown, "csv": render_csv, "json": render_json, "html": render_html}
