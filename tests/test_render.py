"""Rendering diagnostics: carets under the right character, whatever the line holds."""

from __future__ import annotations

import io
import json

from policyengine.language.diagnostics import Diagnostic
from policyengine.language.render import MAX_LINE, TAB, render_human, render_json, render_plain, to_json
from policyengine.language.source import Source, Span
from policyengine.language.text import safe


def diag(text: str, target: str, *, hint: str | None = None, label: str | None = None, length: int | None = None) -> Diagnostic:
    src = Source("t.policy", text)
    start = text.index(target)
    return Diagnostic("PE101", "a message", Span(src, start, start + (len(target) if length is None else length)), hint, label)


def excerpt_lines(d: Diagnostic) -> tuple[str, str]:
    lines = render_plain(d).splitlines()
    return lines[2], lines[3]


def caret_column(source_line: str, caret_line: str) -> int:
    """Where the carets start, in cells after the gutter."""
    gutter = source_line.index("|") + 2
    return len(caret_line) - len(caret_line[gutter:].lstrip(" ")) - gutter


def test_the_layout_of_the_style_guide() -> None:
    text = "\n" * 11 + "  violates encrpytion\n"
    d = diag(text, "encrpytion", hint="did you mean `encryption`?", label="not defined in any loaded file")
    assert render_plain(d) == (
        "t.policy:12:12: error[PE101]: a message\n"
        "   |\n"
        "12 |   violates encrpytion\n"
        "   |            ^^^^^^^^^^ not defined in any loaded file\n"
        "   = hint: did you mean `encryption`?"
    )


def test_tabs_are_expanded_before_the_caret_is_placed() -> None:
    source_line, carets = excerpt_lines(diag("\tx\t= 1\n", "="))
    assert "\t" not in source_line
    assert caret_column(source_line, carets) == 2 * TAB
    assert source_line.split("| ", 1)[1][2 * TAB] == "="


def test_wide_characters_take_two_cells() -> None:
    source_line, carets = excerpt_lines(diag('principle p "漢字" x\n', "x"))
    assert caret_column(source_line, carets) == len('principle p "漢字" ') + 2


def test_control_characters_are_escaped_and_counted() -> None:
    d = diag('a "\x1b[31m" = b\n', "=")
    source_line, carets = excerpt_lines(d)
    assert "\x1b" not in render_plain(d)
    assert source_line.split("| ", 1)[1][caret_column(source_line, carets)] == "="


def test_a_multi_line_span_underlines_the_first_line_and_goes_on() -> None:
    text = "rule r:\n  comply when demand.x\n  and demand.y\n"
    src = Source("t.policy", text)
    start = text.index("demand.x")
    d = Diagnostic("PE212", "x", Span(src, start, text.index("demand.y") + 8))
    _, carets = excerpt_lines(d)
    assert carets.endswith("^" * len("demand.x") + " …")


def test_a_span_ending_with_its_newline_does_not_go_on() -> None:
    text = "abc\ndef\n"
    d = Diagnostic("PE101", "x", Span(Source("t", text), 0, 4))
    assert not excerpt_lines(d)[1].endswith("…")


def test_an_empty_span_gets_one_caret() -> None:
    _, carets = excerpt_lines(diag("abc\n", "c", length=0))
    assert carets.endswith("  ^")


def test_long_lines_are_windowed_around_the_span() -> None:
    text = "a" * 500 + " TARGET " + "b" * 500 + "\n"
    source_line, carets = excerpt_lines(diag(text, "TARGET"))
    shown = source_line.split("| ", 1)[1]
    assert len(shown) <= MAX_LINE + 2 and shown.startswith("…") and shown.endswith("…")
    col = caret_column(source_line, carets)
    assert shown[col : col + 6] == "TARGET" and carets.count("^") == 6


def test_problems_with_a_whole_file_have_no_excerpt() -> None:
    d = Diagnostic("PE004", "too large", Span(Source("big.policy", ""), 0, 0), hint="split it")
    assert render_plain(d) == "big.policy: error[PE004]: too large\n = hint: split it"


def test_json_fields_and_escapes() -> None:
    d = diag('x "\u202e\x9b" y\n', "y", hint="h")
    d = Diagnostic(d.code, "bidi \u202e and C1 \x9b", d.span, d.hint)
    out = render_json([d])
    assert "\u202e" not in out and "\x9b" not in out
    [data] = json.loads(out)["diagnostics"]
    assert data == to_json(d)
    assert data["message"] == "bidi \u202e and C1 \x9b"  # escaped on the wire, intact once read
    assert (data["line"], data["column"], data["end_line"], data["end_column"]) == (1, 8, 1, 9)


def test_human_output_never_reads_markup() -> None:
    d = diag("[red]x[/red]\n", "x", hint="[bold]h[/bold]")
    buffer = io.StringIO()
    render_human([d], file=buffer)
    out = buffer.getvalue()
    assert "[red]x[/red]" in out and "[bold]h[/bold]" in out and "1 error, 0 warnings" in out


def test_safe_keeps_printable_text() -> None:
    assert safe("déjà vu\t") == "déjà vu\t"
    assert safe("a\x00b\u200bc") == "a\\x00b\\u200bc"
