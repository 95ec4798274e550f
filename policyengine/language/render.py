"""Diagnostics → text for people (rich colours or plain) and for programs (JSON).

Stage contract: the one place carets are drawn.  Every renderer takes the
same diagnostics and only the presentation differs, so ``--format`` never
changes what is reported.  The plain layout (pinned by the golden files in
tests/golden/)::

    policies/russia.policy:12:9: error[PE104]: unknown principle `encrpytion`
       |
    12 |   violates encrpytion
       |            ^^^^^^^^^^ not defined in any loaded file
       = hint: did you mean `encryption`?

Carets are placed by display cells, not characters: tabs are expanded to the
next multiple of :data:`TAB`, wide (East Asian) characters take two cells and
combining marks none, so the caret sits under the character on a terminal.
A span over several lines underlines the rest of its first line and adds
``…``; a line longer than :data:`MAX_LINE` cells is shown as a window around
the span, with ``…`` where it was cut.

Text from policy files is made safe first: control characters (terminal
escape sequences, bidirectional overrides, zero-width characters) are shown
as ``\\x1b``-style escapes, rich never interprets markup in it, and JSON
output escapes every non-printable character.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from .diagnostics import Diagnostic, Severity
from .text import escape, json_safe, safe

#: Tab stops of the source excerpt.
TAB = 4
#: Widest source line shown whole, in display cells; longer lines are windowed.
MAX_LINE = 120
#: Display cells kept before the span when a long line is windowed.
_CONTEXT = 40


def _one_line(text: str) -> str:
    """A message, hint or label as shown on its one line: made safe, tabs as spaces."""
    return safe(text).replace("\t", " ")


def _cells(text: str) -> int:
    """Display width of already-safe text: wide characters count two, combining marks none."""
    if text.isascii():
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _shown_chars(line: str) -> list[str]:
    """Each character of a source line as displayed: tabs expanded, control characters escaped."""
    out: list[str] = []
    col = 0
    for ch in line:
        if ch == "\t":
            shown = " " * (TAB - col % TAB)
        elif ch.isprintable():
            shown = ch
        else:
            shown = escape(ch)
        out.append(shown)
        col += _cells(shown)
    return out


@dataclass(frozen=True)
class Excerpt:
    """One source line as displayed, and where the carets go under it (in cells)."""

    line: int
    text: str
    caret_at: int
    caret_width: int
    continues: bool  # the span goes on past this line


def excerpt(d: Diagnostic) -> Excerpt | None:
    """The excerpt of ``d``; None for problems with a whole file (it has no text to show)."""
    src = d.span.source
    if not src.text:
        return None
    line, col = src.line_col(d.span.start)
    end_line, end_col = src.line_col(max(d.span.end, d.span.start))
    raw = src.line_text(line)
    chars = _shown_chars(raw)
    first = min(col - 1, len(chars))
    last = len(chars) if end_line != line else max(first, min(end_col - 1, len(chars)))
    widths = [_cells(c) for c in chars]
    caret_at = sum(widths[:first])
    caret_width = max(1, sum(widths[first:last]))
    text = "".join(chars)
    total = sum(widths)
    if total > MAX_LINE:
        text, caret_at, caret_width = _window(chars, widths, caret_at, caret_width)
    # A span that ends with its line's newline does not go on.
    continues = end_line > line + 1 or (end_line == line + 1 and end_col > 1)
    return Excerpt(line, text, caret_at, caret_width, continues)


def _window(chars: list[str], widths: list[int], caret_at: int, caret_width: int) -> tuple[str, int, int]:
    """A window of a long line that shows the start of the span, with ``…`` where it was cut."""
    lo_cells = max(0, caret_at - _CONTEXT)
    out: list[str] = []
    pos = 0
    used = 0
    cut_left = False
    for ch, w in zip(chars, widths):
        if pos < lo_cells:
            pos += w
            cut_left = True
            continue
        if used + w > MAX_LINE - 2:
            out.append("…")
            break
        out.append(ch)
        used += w
        pos += w
    shift = pos - used  # cells dropped on the left
    prefix = "…" if cut_left else ""
    new_at = caret_at - shift + len(prefix)
    room = max(1, MAX_LINE - new_at)
    return prefix + "".join(out), new_at, min(caret_width, room)


@dataclass(frozen=True)
class _Lines:
    """A diagnostic laid out: the head, the gutter width, the excerpt lines and the hint."""

    location: str
    severity: Severity
    code: str
    message: str
    gutter: int
    source_line: tuple[str, str] | None  # (line number, text)
    carets: str | None
    label: str | None
    hint: str | None


def _layout(d: Diagnostic) -> _Lines:
    ex = excerpt(d)
    location = _one_line(d.span.location() if ex is not None else d.span.path)
    hint = _one_line(d.hint) if d.hint else None
    if ex is None:
        return _Lines(location, d.severity, d.code, _one_line(d.message), 1, None, None, None, hint)
    number = str(ex.line)
    carets = " " * ex.caret_at + "^" * ex.caret_width + (" …" if ex.continues else "")
    return _Lines(
        location,
        d.severity,
        d.code,
        _one_line(d.message),
        len(number) + 1,
        (number, ex.text),
        carets,
        _one_line(d.label) if d.label else None,
        hint,
    )


def render_plain(d: Diagnostic) -> str:
    """One diagnostic in the plain layout (no colours), as the golden files show it."""
    lay = _layout(d)
    pad = " " * lay.gutter
    lines = [f"{lay.location}: {lay.severity.value}[{lay.code}]: {lay.message}"]
    if lay.source_line is not None and lay.carets is not None:
        number, text = lay.source_line
        lines.append(f"{pad}|")
        lines.append(f"{number.rjust(lay.gutter - 1)} | {text}".rstrip())
        lines.append(f"{pad}| {lay.carets}" + (f" {lay.label}" if lay.label else ""))
    if lay.hint:
        lines.append(f"{pad}= hint: {lay.hint}")
    return "\n".join(lines)


def summary(diagnostics: Sequence[Diagnostic]) -> str:
    """``2 errors, 1 warning``."""
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors

    def n(k: int, word: str) -> str:
        return f"{k} {word}{'' if k == 1 else 's'}"

    return f"{n(errors, 'error')}, {n(warnings, 'warning')}"


def to_json(d: Diagnostic) -> dict[str, Any]:
    """The JSON object of one diagnostic: lines and columns are 1-based, columns count characters."""
    src = d.span.source
    line, col = src.line_col(d.span.start)
    end_line, end_col = src.line_col(max(d.span.end, d.span.start))
    return {
        "code": d.code,
        "severity": d.severity.value,
        "message": d.message,
        "path": d.span.path,
        "line": line,
        "column": col,
        "end_line": end_line,
        "end_column": end_col,
        "hint": d.hint,
    }


def render_json(diagnostics: Sequence[Diagnostic], extra: Mapping[str, object] | None = None) -> str:
    """All diagnostics as one JSON document: ``{ok, errors, warnings, diagnostics: [...]}``, then the
    command's own ``extra`` fields (which policy set it used)."""
    errors = sum(d.is_error for d in diagnostics)
    document = {
        "ok": errors == 0,
        "errors": errors,
        "warnings": len(diagnostics) - errors,
        "diagnostics": [to_json(d) for d in diagnostics],
        **(extra or {}),
    }
    return json_safe(json.dumps(document, indent=2, ensure_ascii=False))


def render_human(diagnostics: Sequence[Diagnostic], file: IO[str] | None = None) -> None:
    """The plain layout in colour, through rich.  Every piece is a rich ``Text``,
    so nothing from a policy file is ever read as markup."""
    from rich.console import Console
    from rich.text import Text

    console = Console(file=file, highlight=False, markup=False, emoji=False, soft_wrap=True)
    for d in diagnostics:
        lay = _layout(d)
        colour = "red" if lay.severity is Severity.ERROR else "yellow"
        pad = " " * lay.gutter
        head = Text()
        head.append(lay.location + ": ", style="bold")
        head.append(f"{lay.severity.value}[{lay.code}]", style=f"bold {colour}")
        head.append(": " + lay.message, style="bold")
        console.print(head)
        if lay.source_line is not None and lay.carets is not None:
            number, text = lay.source_line
            console.print(Text(f"{pad}|", style="blue"))
            line = Text()
            line.append(f"{number.rjust(lay.gutter - 1)} | ", style="blue")
            # Syntax colours for the source line (styles only: the characters,
            # and so the carets' alignment, are those of the plain layout).
            from .highlight import highlight_excerpt

            line.append_text(highlight_excerpt(text))
            console.print(line)
            carets = Text(f"{pad}| ", style="blue")
            carets.append(lay.carets, style=f"bold {colour}")
            if lay.label:
                carets.append(" " + lay.label, style=colour)
            console.print(carets)
        if lay.hint:
            hint = Text(f"{pad}= ", style="blue")
            hint.append("hint", style="bold cyan")
            hint.append(": " + lay.hint)
            console.print(hint)
        console.print()
    if diagnostics:
        console.print(Text(summary(diagnostics), style="bold"))
