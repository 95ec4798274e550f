"""The parser's fast path agrees with the old path (policyengine/language/fastparse.py).

* Wherever the fast path gives an AST, the old path (Lark's interactive
  parser, the parse tree and the tree walk) gives an identical one, spans and
  every field excluded from ``==`` included, and reports nothing.
* Wherever the old path reports something, the fast path gives up, and
  :func:`parse_file` returns exactly the old path's result: same AST, same
  diagnostics, same skipped names, same catalogue cases.
* The fast path gives up on nothing clean: a file the old path reads without
  a word to say is read by the fast path.

Inputs: every policy file in the repository (shipped library, examples,
golden cases, fuzz seeds, benchmark workloads), two synthetic sets, policy
files generated in random layouts, valid policy sets generated at random,
and random edits of all of these.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import pytest
from format_strategies import policy_files
from fuzz_strategies import policy_sets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policyengine.language import ast
from policyengine.language.fastparse import Word
from policyengine.language.parser import KEYWORDS, MAX_TOKENS, _fast_parser, _keyword_terminals, _parse_file, parse_file
from policyengine.language.source import Source, Span

ROOT = Path(__file__).resolve().parent.parent
# benchmarks/ is not installed: reach it from the checkout, after the
# installed package on the path (CI tests the package pip installed).
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))
from benchmarks.synthetic import write_policy_set  # noqa: E402

REPO_FILES = sorted(
    p
    for folder in ("policies", "policyengine", "tests", "fuzz", "benchmarks", "examples")
    if (ROOT / folder).exists()
    for p in (ROOT / folder).rglob("*.policy")
)
SEEDS = [p.read_text(encoding="utf-8", errors="surrogateescape") for p in REPO_FILES if p.stat().st_size < 40_000]
EDITS = [
    *sorted(KEYWORDS),
    *["demand.kind", "jurisdiction.code", "FR", "x", "_", "9", "2024-01-01", "10d", "24h", "1e3", "-0.5", ".5"],
    *["{", "}", "(", ")", ":", ";", ",", ".", "=", "==", "<", "->", "[", "]", "#", '"', '"""', "\\", "\n", " ", "\t", "é"],
]
SOME = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def same(a: Any, b: Any, where: str = "file") -> None:
    """``a`` and ``b`` are the same tree: same types (exactly), values, spans and hidden fields."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, Span):
        assert a.source is b.source, where
        assert (a.start, a.end) == (b.start, b.end), f"{where}: span {a.start}..{a.end} != {b.start}..{b.end}"
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), f"{where}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def check(text: str, path: str = "t.policy") -> bool:
    """Compare both paths on ``text``; return whether the fast path took it."""
    fast_parser = _fast_parser()
    assert fast_parser is not None
    source = Source(path, text)
    fast = fast_parser.parse(source, _keyword_terminals(), MAX_TOKENS)
    old = _parse_file(source)
    if fast is not None:
        assert old.diagnostics == [] and old.skipped == frozenset() and old.cases == ()
        same(fast, old.file)
    else:
        assert old.diagnostics, "the fast path gave up on a file the old path reads without a problem"
    result = parse_file(source)
    same(result.file, old.file)
    assert [(d.code, d.message, d.span.start, d.span.end, d.hint, d.label) for d in result.diagnostics] == [
        (d.code, d.message, d.span.start, d.span.end, d.hint, d.label) for d in old.diagnostics
    ]
    assert (result.skipped, result.cases) == (old.skipped, old.cases)
    return fast is not None


def test_the_fast_path_is_in_use() -> None:
    """It is derived from the shipped parser: if Lark's shape changed so that it
    cannot be, this fails (everything would still parse, only slowly)."""
    assert _fast_parser() is not None


def test_every_policy_file_in_the_repository() -> None:
    assert len(REPO_FILES) > 50
    taken = [check(p.read_text(encoding="utf-8", errors="surrogateescape"), str(p)) for p in REPO_FILES]
    # The golden diagnostics cases are broken on purpose; the library is not.
    assert any(taken) and not all(taken)


@pytest.mark.parametrize(("rules", "places"), [(300, 40), (2_000, 120)])
def test_synthetic_sets(tmp_path: Path, rules: int, places: int) -> None:
    write_policy_set(tmp_path, rules, places)
    for path in sorted(tmp_path.glob("*.policy")):
        assert check(path.read_text(encoding="utf-8"), path.name), path.name


KEYWORDS_AS_NAMES = """\
vocabulary {
    enum rule { test, demand, comply, within "w", known }
    extend enum kind { vocabulary, group }
    attribute demand.rule: rule
    attribute demand.when: bool
    attribute demand.in: list of text
    conflict test, demand.when "t"
}
principle rule "r" {
    rule when: comply when demand.rule in {test, demand} and demand.when because "b"
        actions test within 10d when not demand.when, known
}
jurisdiction test "t" in group { rule = test; when = true demand demand "d" { rule = known } }
test "test" { test.demand -> comply by rule.when  test { rule = test } as of 2024-01-01 -> comply actions { test } }
"""


def test_keywords_where_a_name_fits() -> None:
    """The contextual lexer reads a keyword as a name wherever only a name fits;
    so does the fast path (and a keyword glued to a word is an error on both)."""
    assert check(KEYWORDS_AS_NAMES)
    assert not check('principles p "x" { }')
    assert not check('principle p "x" { rule r: comply whendemand.x because "b" }')


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "# only a comment",
        'principle p "x" { }   ',
        'principle p "x" { }\n# trailing comment',
        'principle p "x" { } @',
        'principle p "x" {',
        'principle p "\\q" { }',
        'principle p """two\nlines""" { rule r: comply when (((demand.x))) because "{demand.x} {" }',
        'vocabulary { attribute demand.x: number from 0 to 1 or unknown = 0.5 "d" }',
        "vocabulary { attribute demand.x: number from 0 to 1e999 }",
        'jurisdiction FR "F" { d = 2024-02-30 }',
        'jurisdiction FR "F" { l = [a "b" 1 2024-01-01 true false unknown] }',
        'principle p "x" { rule r: comply when ' + "not " * 70 + 'demand.x because "b" }',
        'principle p "x" { rule r: comply when ' + "(" * 70 + "demand.x" + ")" * 70 + ' because "b" }',
    ],
)
def test_edge_cases(text: str) -> None:
    check(text)


def test_too_many_tokens_is_the_old_paths_diagnostic() -> None:
    text = 'jurisdiction FR "F" {' + " a = 1" * (MAX_TOKENS // 3 + 10) + " }"
    assert not check(text)


def test_no_word_reaches_the_tree() -> None:
    """The fast path's light tokens are turned into plain strings by the builder."""
    fast_parser = _fast_parser()
    assert fast_parser is not None
    tree = fast_parser.parse(Source("k.policy", KEYWORDS_AS_NAMES), _keyword_terminals(), MAX_TOKENS)
    assert isinstance(tree, ast.PolicyFile)
    seen: list[Any] = [tree]
    while seen:
        node = seen.pop()
        assert type(node) is not Word
        if dataclasses.is_dataclass(node) and not isinstance(node, Span):
            seen.extend(getattr(node, f.name) for f in dataclasses.fields(node))
        elif isinstance(node, (tuple, list)):
            seen.extend(node)


@st.composite
def edited(draw: st.DrawFn, texts: st.SearchStrategy[str]) -> str:
    """A text with a few random edits: deletions, insertions of a token, duplications, truncation."""
    text = draw(texts)
    for _ in range(draw(st.integers(0, 3))):
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        j = min(len(text), i + draw(st.integers(1, 10)))
        edit = draw(st.sampled_from(["delete", "insert", "insert", "duplicate", "truncate"]))
        if edit == "delete":
            text = text[:i] + text[j:]
        elif edit == "insert":
            text = text[:i] + draw(st.sampled_from(EDITS)) + text[i:]
        elif edit == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        else:
            text = text[:i]
    return text


@SOME
@given(edited(st.sampled_from(SEEDS)))
def test_edited_repository_files(text: str) -> None:
    check(text)


@SOME
@given(policy_files())
def test_generated_layouts(text: str) -> None:
    assert check(text)


@SOME
@given(edited(policy_files()))
def test_edited_generated_layouts(text: str) -> None:
    check(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(policy_sets())
def test_generated_policy_sets(generated: Any) -> None:
    for name, text in sorted(generated.files.items()):
        assert check(text, name)


@SOME
@given(st.lists(st.sampled_from(EDITS), max_size=40).map(" ".join))
def test_random_tokens(text: str) -> None:
    check(text)
