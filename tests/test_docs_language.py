"""docs/language.md stays true: its examples load and pass their tests, its
code table lists every diagnostic code, its limits are the ones in the code.
The README's quick start is checked the same way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import policyengine
from policyengine.analysis.testing import run_tests
from policyengine.language import loader, parser, transform
from policyengine.language.diagnostics import CODES

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def policy_blocks(markdown: str) -> list[str]:
    return re.findall(r"```policy\n(.*?)```", markdown, re.DOTALL)


def load_blocks(blocks: list[str], tmp_path: Path) -> policyengine.Engine:
    for i, block in enumerate(blocks):
        (tmp_path / f"example{i}.policy").write_text(block, encoding="utf-8")
    return policyengine.load(tmp_path, cache=False)


def test_the_examples_form_a_valid_set_whose_tests_pass(tmp_path: Path) -> None:
    blocks = policy_blocks(LANGUAGE)
    assert len(blocks) >= 5
    report = run_tests(load_blocks(blocks, tmp_path))
    assert report.ok and report.passed >= 2, report.to_json()


def test_the_readme_quick_start_loads_and_passes(tmp_path: Path) -> None:
    blocks = policy_blocks(README.split("## Writing policies", 1)[-1])
    if not blocks:
        pytest.skip("no policy example under the README's `## Writing policies`")
    report = run_tests(load_blocks(blocks, tmp_path))
    assert report.ok, report.to_json()


def test_the_code_table_lists_every_code_with_its_severity_and_title() -> None:
    rows = dict(
        (m.group(1), (m.group(2), m.group(3)))
        for m in re.finditer(r"^\| (PE\d{3}) \| (error|warning) \| ([^|]+?) \|", LANGUAGE, re.MULTILINE)
    )
    assert set(rows) == set(CODES)
    for code, info in CODES.items():
        assert rows[code] == (info.severity.value, info.title), code


def test_the_limits_table_matches_the_code() -> None:
    section = LANGUAGE.split("## Limits", 1)[1].split("\n## ", 1)[0]
    assert f"({loader.MAX_FILE_BYTES:,})" in section
    for value in (loader.MAX_FILE_LINES, parser.MAX_TOKENS, transform.MAX_STRING):
        assert f"| {value:,} |" in section, value
    assert f"| {transform.MAX_DEPTH} levels" in section
    assert f"| {parser.MAX_SYNTAX_ERRORS} |" in section
