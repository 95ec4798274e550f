"""Diagnostics → text for people (rich or plain) and JSON for programs.

Stage contract: the one place carets are drawn.  Every renderer takes the
same diagnostics and only the presentation differs, so ``--format`` never
changes what is reported.  Text from policy files is made safe first:
control characters (terminal escape sequences included) are shown as
``\\x1b``-style escapes and rich markup in it is never interpreted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, Any

from .diagnostics import Diagnostic, Severity

TAB = 4


def safe(text: str) -> str:
    """``text`` with control characters escaped, so it cannot drive a terminal."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch == "\t" or ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def _excerpt(d: Diagnostic) -> list[tuple[str, str]] | None:
    """Gutter and text lines: ("12", source line), ("", carets).  None when there is no text."""
    src = d.span.source
    if not src.text:
        return None
    line, col = src.line_col(d.span.start)
    end_line, end_col = src.line_col(d.span.end)
    raw = src.line_text(line)
    # Expand tabs before measuring, so the caret sits under the character.
    prefix = safe(raw[: col - 1]).expandtabs(TAB)
    if end_line == line:
        underlined = raw[col - 1 : max(end_col - 1, col)]
        more = ""
    else:
        underlined = raw[col - 1 :]
        more = " …"
    width = max(1, len(safe(underlined).expandtabs(TAB)))
    shown = safe(raw).expandtabs(TAB)
    if len(shown) > 200:
        # Keep long lines readable: show a window around the span.
        lo = max(0, len(prefix) - 60)
        shown = ("…" if lo else "") + shown[lo : lo + 160] + "…"
        prefix = ("…" if lo else "") + prefix[lo:]
        width = min(width, 100)
    caret = " " * len(prefix) + "^" * width + more
    if d.label:
        caret += " " + safe(d.label)
    return [(str(line), shown), ("", caret)]


def render_plain(d: Diagnostic) -> str:
    lines = [f"{safe(d.span.location())}: {d.severity.value}[{d.code}]: {safe(d.message)}"]
    ex = _excerpt(d)
    if ex is not None:
        width = len(ex[0][0])
        lines.append(f"{' ' * width} |")
        for gutter, text in ex:
            lines.append(f"{gutter.rjust(width)} | {text}".rstrip())
    if d.hint:
        pad = " " * (len(ex[0][0]) if ex else 0)
        lines.append(f"{pad} = hint: {safe(d.hint)}")
    return "\n".join(lines)


def summary(diagnostics: Sequence[Diagnostic]) -> str:
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors
    def n(k: int, word: str) -> str:
        return f"{k} {word}{'' if k == 1 else 's'}"
    return f"{n(errors, 'error')}, {n(warnings, 'warning')}"


def to_json(d: Diagnostic) -> dict[str, Any]:
    src = d.span.source
    line, col = src.line_col(d.span.start)
    end_line, end_col = src.line_col(d.span.end)
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


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    errors = sum(d.is_error for d in diagnostics)
    return json.dumps(
        {
            "ok": errors == 0,
            "errors": errors,
            "warnings": len(diagnostics) - errors,
            "diagnostics": [to_json(d) for d in diagnostics],
        },
        indent=2,
        ensure_ascii=False,
    )


def render_human(diagnostics: Sequence[Diagnostic], file: IO[str] | None = None) -> None:
    """Coloured output on a terminal, through rich; text is escaped, never markup."""
    from rich.console import Console
    from rich.text import Text

    console = Console(file=file, highlight=False, soft_wrap=True)
    for d in diagnostics:
        colour = "red" if d.severity is Severity.ERROR else "yellow"
        plain = render_plain(d).split("\n")
        head = Text()
        head.append(safe(d.span.location()) + ": ", style="bold")
        head.append(f"{d.severity.value}[{d.code}]", style=f"bold {colour}")
        head.append(": " + safe(d.message), style="bold")
        console.print(head)
        for line in plain[1:]:
            t = Text(line)
            if line.lstrip().startswith("= hint:"):
                t.stylize("cyan")
            elif "|" in line:
                bar = line.index("|")
                t.stylize("blue", 0, bar + 1)
                if line[:bar].strip() == "" and "^" in line:
                    t.stylize(colour, bar + 1)
            console.print(t)
        console.print()
    if diagnostics:
        console.print(Text(summary(diagnostics), style="bold"))
