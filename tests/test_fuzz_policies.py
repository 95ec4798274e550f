"""Hostile policy input, fuzzed: the front end never raises, and what it reports is sound.

Properties, each over generated valid sets and damaged ones
(tests/fuzz_strategies.py):

* ``loader.decode``, ``parser.parse`` and ``pipeline.analyse`` never raise:
  every problem is a diagnostic with a registered code;
* every diagnostic has a span inside its source, renders in every format,
  and its rendering contains no control character that could drive a
  terminal;
* the same input always gives the same diagnostics (and the same version);
* parse and validate time grow linearly: doubling the input never costs
  more than about four times the time (ratios only; see ``test_*_linear``).

The example counts are small so the suite stays fast.  For a long run set
``POLICYENGINE_FUZZ_EXAMPLES`` (docs/reliability.md records a run of 100,000)
or use the coverage-guided fuzzer in fuzz/fuzz_policy.py.
"""

from __future__ import annotations

import gc
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fuzz_strategies import GeneratedSet, hostile_files, policy_sets, requests_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policyengine
from policyengine.language.diagnostics import CODES, Diagnostic
from policyengine.language.loader import decode
from policyengine.language.model import PolicySet
from policyengine.language.parser import parse
from policyengine.language.pipeline import analyse, analyse_sources
from policyengine.language.render import render_plain, to_json
from policyengine.language.source import Source

EXAMPLES = int(os.environ.get("POLICYENGINE_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

#: Longest diagnostic message: a message names things, it does not echo a whole file.
MAX_MESSAGE = 600


def front_end(files: dict[str, bytes]) -> tuple[PolicySet | None, list[Diagnostic]]:
    """decode → parse → validate, as ``analyse`` does for a directory, without the disk."""
    sources: list[Source] = []
    diagnostics: list[Diagnostic] = []
    for name, data in sorted(files.items()):
        source, diags = decode(name, data)
        diagnostics.extend(diags)
        if source is not None:
            sources.append(source)
    return analyse_sources(sources, diagnostics)


def check_diagnostic(d: Diagnostic, names: set[str]) -> None:
    assert d.code in CODES, d
    src = d.span.source
    assert 0 <= d.span.start <= d.span.end <= len(src.text), (d, d.span.start, d.span.end, len(src.text))
    assert d.span.path in names or d.span.path.startswith("<"), d.span.path
    line, col = src.line_col(d.span.start)
    assert 1 <= line <= src.line_count and col >= 1
    assert d.message and not d.message.endswith(".") and not d.message[0].isupper(), d.message
    assert len(d.message) <= MAX_MESSAGE, f"{d.code} message is {len(d.message)} characters long"
    plain = render_plain(d)
    # Nothing from the file may reach a terminal raw: only newlines and tabs.
    assert all(ch.isprintable() or ch in "\n\t" for ch in plain), repr(plain)
    json.dumps(to_json(d), ensure_ascii=False)


def check_all(files: dict[str, bytes]) -> tuple[str | None, list[dict[str, Any]]]:
    """Run the front end and check every diagnostic; return what must be reproducible:
    the version (None when the set has errors) and the diagnostics as JSON."""
    policy_set, diagnostics = front_end(files)
    for d in diagnostics:
        check_diagnostic(d, set(files))
    assert (policy_set is None) == any(d.is_error for d in diagnostics)
    return (policy_set.version if policy_set is not None else None), [to_json(d) for d in diagnostics]


# --- valid sets -----------------------------------------------------------------------


@settings(FUZZ, max_examples=max(10, EXAMPLES // 2))
@given(st.data())
def test_generated_sets_are_valid_and_decide(data: st.DataObject) -> None:
    gen: GeneratedSet = data.draw(policy_sets())
    files = {k: v.encode() for k, v in gen.files.items()}
    version, diags = check_all(files)
    assert version is not None, [d["message"] for d in diags if d["severity"] == "error"]
    policy_set, _ = front_end(files)
    assert policy_set is not None
    engine = policyengine.Engine(policy_set)
    for _ in range(3):
        request = data.draw(requests_for(gen))
        decision = engine.decide(request)
        assert decision.policy_version == engine.version
        assert engine.decide(request) == decision
    for code, did in gen.standing:
        assert engine.standing(code, did).outcome in policyengine.Outcome
    for code in gen.codes:
        assert engine.market(code).policy_version == engine.version


# --- damaged sets ----------------------------------------------------------------------------


@FUZZ
@given(hostile_files())
def test_hostile_files_give_only_sound_diagnostics(files: dict[str, bytes]) -> None:
    first = check_all(files)
    # The same input, again and with the files handed over in reverse: the same report.
    assert check_all(files) == first
    assert front_end(dict(reversed(list(files.items()))))[1] == front_end(files)[1]


@settings(FUZZ, max_examples=max(10, EXAMPLES // 10))
@given(hostile_files())
def test_hostile_files_on_disk(files: dict[str, bytes]) -> None:
    """The whole pipeline from a directory, file reading included."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            Path(tmp, name).write_bytes(data)
        policy_set, diagnostics = analyse(tmp)
    for d in diagnostics:
        check_diagnostic(d, set(files))
    assert (policy_set is None) == any(d.is_error for d in diagnostics)


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    check_all({"junk.policy": data})


@FUZZ
@given(st.lists(st.sampled_from([*'{}()"\\:;,.=<>!-#\n\r\t ', "principle", "rule", "when", "because", "not ", "a"])).map("".join))
def test_punctuation_soup(text: str) -> None:
    source, _ = decode("soup.policy", text.encode())
    if source is not None:
        _, diagnostics = parse(source)
        for d in diagnostics:
            check_diagnostic(d, {"soup.policy"})


# --- regressions found by fuzzing ---------------------------------------------------------------

_LONG = "n" * 10_000
_BASE = """vocabulary { attribute demand.flag: bool = false }
principle p "s" { rule r: withdraw when demand.kind == hotline because "x" }
jurisdiction FR "F" { rule_of_law = 0.5 demand d "x" { kind = hotline; category = fraud; legal_basis = statute } }
test "t" { FR.d -> withdraw by p.r  market FR -> withdraw }
"""
#: Each once gave a message that quoted a 10,000-character name or number whole.
LONG_LITERALS = {
    "number": _BASE.replace("0.5", "9" * 10_000),
    "attribute": _BASE.replace("demand.kind == hotline", f"demand.{_LONG} == hotline"),
    "enum value": _BASE.replace("== hotline", f"== {_LONG}"),
    "duplicate principle": _BASE + f'principle {_LONG} "s" {{ }}\nprinciple {_LONG} "s" {{ }}\n',
    "group": _BASE.replace('jurisdiction FR "F"', f'jurisdiction FR "F" in {_LONG}'),
    "jurisdiction code": _BASE.replace("jurisdiction FR", f"jurisdiction {_LONG}"),
    "type": _BASE.replace("bool = false", f"{_LONG} = false"),
    "assignment": _BASE.replace("rule_of_law = 0.5", f"{_LONG} = 0.5"),
    "rule in a test": _BASE.replace("by p.r", f"by p.{_LONG}"),
    "market in a test": _BASE.replace("market FR", f"market {_LONG}"),
    "enum extension": _BASE.replace("vocabulary {", f"vocabulary {{ extend enum {_LONG} {{ a }}"),
}


@pytest.mark.parametrize("case", sorted(LONG_LITERALS))
def test_messages_cut_long_names(case: str) -> None:
    _, diagnostics = check_all({"long.policy": LONG_LITERALS[case].encode()})
    assert diagnostics and any(d["severity"] == "error" for d in diagnostics)
    for d in diagnostics:
        assert len(d["hint"] or "") <= MAX_MESSAGE, d["hint"][:100]


# --- linear time --------------------------------------------------------------------------------


def _many_places(n: int) -> str:
    """n rules and n standing demands spread over 26*26 two-letter codes (no duplicates)."""
    out = ['group G "g" { }\n']
    for i in range(n):
        code = chr(65 + (i // 26) % 26) + chr(65 + i % 26)
        out.append(
            f'principle p{i} "s" {{ rule r: withdraw when demand.kind == hotline and jurisdiction.code != {code}'
            ' because "b {demand.kind}" }\n'
            f'jurisdiction {code} "n" in G {{ demand d "x" {{ kind = hotline; category = fraud; legal_basis = statute }} }}\n'
        )
    return "".join(out)


def _broken(n: int) -> str:
    """Every declaration has a syntax error: recovery runs the parser many times."""
    return _many_places(n).replace("because", "becuase")


def _unknown_names(n: int) -> str:
    """n jurisdictions in n different misspelled groups: every reference needs a "did you mean"."""
    out = [f'group GROUP{i} "g" {{ }}\n' for i in range(n)]
    out += [f'jurisdiction {chr(65 + (i // 26) % 26)}{chr(65 + i % 26)} "n" in GRUOP{i} {{ }}\n' for i in range(n)]
    return "".join(out)


def _long_text(n: int) -> str:
    return 'principle p "' + "word " * (n * 20) + '" { }\n'


def _deep(n: int) -> str:
    body = " or ".join("(demand.kind == hotline and not (demand.mandatory or demand.category == fraud))" for _ in range(n))
    return f'principle p "s" {{ rule r: withdraw when {body} because "x" }}\n'


def _timed(text: str) -> float:
    """Best of five, in CPU seconds of this process: other jobs on a shared
    machine slow the wall clock, not this process's CPU time, so the ratio
    below stays a property of the code rather than of the machine's load."""
    data = text.encode()
    best = float("inf")
    for _ in range(5):
        gc.collect()
        start = time.process_time()
        front_end({"big.policy": data})
        best = min(best, time.process_time() - start)
    return best


SHAPES: dict[str, tuple[Callable[[int], str], int]] = {
    # name: (builder, size n that takes tens of milliseconds)
    "valid rules and places": (_many_places, 80),
    "syntax errors everywhere": (_broken, 80),
    "misspelled group names": (_unknown_names, 80),
    "long text": (_long_text, 2500),
    "long condition": (_deep, 100),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_front_end_time_is_linear(shape: str) -> None:
    build, n = SHAPES[shape]
    small, large = build(n), build(2 * n)
    assert 1.6 < len(large) / len(small) < 2.4
    _timed(small)  # warm caches (parser, prelude) outside the measure
    t1, t2 = _timed(small), _timed(large)
    # Doubling the input: linear work doubles; allow 4x for noise before calling it super-linear.
    assert t2 <= 4 * t1 + 0.005, f"{shape}: {len(small):,} chars took {t1:.4f}s, {len(large):,} took {t2:.4f}s"
