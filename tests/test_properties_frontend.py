"""Properties of the front end under random input (hypothesis).

* ``analyse`` never raises, whatever the text: random characters, random
  tokens of the language, and random edits of valid policy files (the golden
  cases and the shipped library are the seeds).
* Every diagnostic is well formed: a registered code, a span inside its own
  file (0 <= start <= end <= len(text)) whose line and column agree with the
  text, and renderings (plain and JSON) that succeed and contain no control
  characters.
* Parsing is deterministic.

Example counts are kept to a few hundred so the file runs in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policyengine.language.diagnostics import CODES, Diagnostic
from policyengine.language.loader import decode
from policyengine.language.parser import KEYWORDS, parse_file
from policyengine.language.pipeline import analyse_sources
from policyengine.language.render import render_json, render_plain
from policyengine.language.source import Source

HERE = Path(__file__).parent
SEEDS = sorted(
    p.read_text(encoding="utf-8")
    for p in [*(HERE / "golden" / "diagnostics").glob("*.policy"), *(HERE / "data").rglob("*.policy")]
    if p.stat().st_size < 20_000
)
TOKENS = [
    *sorted(KEYWORDS),
    *["demand.kind", "jurisdiction.rule_of_law", "demand.mandatory", "FR", "EU", "key_disclosure", "p", "r"],
    *["{", "}", "(", ")", ":", ";", ",", ".", "=", "==", "!=", "<", "<=", ">", ">=", "->", "#", '"', '"""'],
    *['"text"', '"{demand.kind}"', '"""two\nlines"""', "0.5", "-1", "1e999", "\n", " ", "\t", "\\", "&&", "'", "é", "\x1b"],
]
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_sound(diagnostics: list[Diagnostic], sources: dict[str, Source]) -> None:
    for d in diagnostics:
        assert d.code in CODES, d
        text = d.span.source.text
        assert 0 <= d.span.start <= d.span.end <= len(text), (d, d.span.start, d.span.end, len(text))
        if d.span.path in sources and text:
            assert d.span.source is sources[d.span.path] or d.span.source.text == sources[d.span.path].text
            line, col = d.span.source.line_col(d.span.start)
            assert text.count("\n", 0, d.span.start) + 1 == line
            assert col == d.span.start - (text.rfind("\n", 0, d.span.start) + 1) + 1
        assert d.message and not d.message.endswith(".")
        plain = render_plain(d)
        assert all(ch == "\n" or ch.isprintable() for ch in plain), plain
    rendered = render_json(diagnostics)
    assert all(ch == "\n" or ch.isprintable() for ch in rendered)
    assert len(json.loads(rendered)["diagnostics"]) == len(diagnostics)


def analyse_text(text: str) -> list[Diagnostic]:
    source = Source("fuzz.policy", text)
    _, diagnostics = analyse_sources([source])
    check_sound(diagnostics, {"fuzz.policy": source})
    return diagnostics


@FAST
@given(st.text(max_size=300))
def test_random_text_never_raises(text: str) -> None:
    analyse_text(text)


@FAST
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join))
def test_random_tokens_never_raise(text: str) -> None:
    analyse_text(text)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A seed policy with a few random edits: deletions, insertions, swaps, truncation."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        j = min(len(text), i + draw(st.integers(1, 12)))
        edit = draw(st.sampled_from(["delete", "insert", "swap", "truncate", "duplicate"]))
        if edit == "delete":
            text = text[:i] + text[j:]
        elif edit == "insert":
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]
        elif edit == "swap":
            k = draw(st.integers(0, len(text) - 1))
            a, b = sorted((i, k))
            text = text[:a] + text[b : b + (j - i)] + text[a + (j - i) : b] + text[a : a + (j - i)] + text[b + (j - i) :]
        elif edit == "truncate":
            text = text[:i]
        else:
            text = text[:j] + text[i:j] + text[j:]
    return text


@FAST
@given(mutated())
def test_mutated_policies_never_raise_and_diagnostics_are_sound(text: str) -> None:
    analyse_text(text)


@settings(max_examples=100, deadline=None)
@given(mutated())
def test_parsing_is_deterministic(text: str) -> None:
    first = parse_file(Source("a.policy", text))
    second = parse_file(Source("a.policy", text))
    assert [(d.code, d.span.start, d.span.end, d.message, d.hint) for d in first.diagnostics] == [
        (d.code, d.span.start, d.span.end, d.message, d.hint) for d in second.diagnostics
    ]
    assert first.file == second.file


@FAST
@given(st.binary(max_size=200))
def test_random_bytes_decode_or_are_reported(data: bytes) -> None:
    source, diagnostics = decode("bytes.policy", data)
    if source is None:
        assert diagnostics and all(d.is_error for d in diagnostics)
        check_sound(diagnostics, {})
    else:
        check_sound(analyse_sources([source])[1], {"bytes.policy": source})
