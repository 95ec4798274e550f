"""Hostile and broken input: every case gets a clear diagnostic, never a traceback.

Each case goes through the command line (``main(["check", path])``, which
must exit 1 with the expected code in its output and nothing on stderr) and
through the API (``policyengine.load`` raises :class:`PolicyError` carrying
the diagnostic).  Deeply nested input is also parsed under a tiny recursion
limit, which proves no stage recurses once per level of nesting.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import policyengine
from policyengine.cli import main
from policyengine.language import parser
from policyengine.language.diagnostics import PolicyError
from policyengine.language.loader import MAX_FILE_BYTES, MAX_FILE_LINES
from policyengine.language.parser import parse_file
from policyengine.language.pipeline import analyse, analyse_sources
from policyengine.language.source import Source
from policyengine.language.transform import MAX_DEPTH, MAX_STRING

RULE = 'principle p "s" {{\n    rule r: withdraw when {} because "x"\n}}\n'


def check_cli(path: Path | str, capsys: pytest.CaptureFixture[str], plain: bool = True) -> list[dict[str, object]]:
    """`check --format json` on ``path``: exit 1, no stderr; the diagnostics.
    With ``plain``, the plain renderer must cope too."""
    code = main(["check", str(path), "--format", "json"])
    out, err = capsys.readouterr()
    assert err == "" and "Traceback" not in out
    assert code == 1, out
    diagnostics: list[dict[str, object]] = json.loads(out)["diagnostics"]
    if plain:
        main(["check", str(path), "--format", "plain"])
        out, err = capsys.readouterr()
        assert err == "" and "error[" in out
    return diagnostics


def check_api(path: Path | str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        policyengine.load(path, cache=False)
    assert str(info.value).startswith(f"{sum(d.is_error for d in info.value.diagnostics)} error(s)")
    return [d.code for d in info.value.diagnostics]


def both(path: Path | str, code: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    found = check_cli(path, capsys)
    assert code in [d["code"] for d in found], found
    assert code in check_api(path)
    return next(d for d in found if d["code"] == code)


@contextmanager
def recursion_limit(limit: int) -> Iterator[None]:
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


# --- files that cannot be read ----------------------------------------------------------------


def test_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = both(tmp_path / "missing.policy", "PE001", capsys)
    assert "does not exist" in str(d["message"])


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "secret.policy"
    target.write_text('principle p "s" { }\n')
    target.chmod(0)
    try:
        d = both(target, "PE001", capsys)
        assert "permission denied" in str(d["message"])
    finally:
        target.chmod(0o644)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_not_opened(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(tmp_path / "pipe.policy")
    d = both(tmp_path, "PE001", capsys)
    assert "not a regular file" in str(d["message"])


def test_symbolic_link_loop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.policy").symlink_to(tmp_path / "b.policy")
    (tmp_path / "b.policy").symlink_to(tmp_path / "a.policy")
    both(tmp_path, "PE001", capsys)


def test_directory_without_policy_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("nothing here\n")
    both(tmp_path, "PE005", capsys)


def test_non_utf8_bytes_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "latin1.policy").write_bytes(b'principle p "s" {\n}\njurisdiction CI "C\xf4te d\'Ivoire" { }\n')
    d = both(tmp_path, "PE002", capsys)
    assert (d["line"], d["column"]) == (3, 19)


def test_binary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "image.policy").write_bytes(bytes(range(256)) * 4)
    both(tmp_path, "PE003", capsys)


def test_empty_file_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.policy").write_bytes(b"")
    assert main(["check", str(tmp_path), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [d["code"] for d in document["diagnostics"]] == ["PE006"] and document["ok"] is True


def test_a_million_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "lines.policy").write_bytes(b"\n" * 1_000_000)
    d = both(tmp_path, "PE004", capsys)
    assert f"at most {MAX_FILE_LINES:,}" in str(d["message"])


def test_a_file_over_the_byte_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "big.policy").write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    d = both(tmp_path, "PE004", capsys)
    assert f"at most {MAX_FILE_BYTES:,} bytes" in str(d["message"])


def test_a_million_lines_given_to_the_parser_directly() -> None:
    """The parser has no line limit of its own (the loader has): blank lines cost nothing."""
    result = parse_file(Source("lines.policy", "\n" * 1_000_000 + 'principle p "s" { }\n'))
    assert result.diagnostics == [] and len(result.file.declarations) == 1


# --- text that parses badly -----------------------------------------------------------------------


def test_ten_thousand_redundant_parentheses_are_only_grouping(policy_dir: Callable[..., Path]) -> None:
    text = RULE.format("(" * 10_000 + "demand.mandatory" + ")" * 10_000)
    with recursion_limit(200):
        policy_set, diagnostics = analyse(policy_dir(text))
    assert diagnostics == [] and policy_set is not None
    assert [r.rule for r in policy_set.rules] == ["r"]


@pytest.mark.parametrize(
    "condition",
    [
        "not (" * 10_000 + "demand.mandatory" + ")" * 10_000,
        "demand.mandatory and (" * 5_000 + "demand.mandatory or (" * 5_000 + "demand.mandatory" + ")" * 10_000,
    ],
    ids=["not (", "a and (b or ("],
)
def test_ten_thousand_nested_conditions(
    condition: str, policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = policy_dir(RULE.format(condition))
    with recursion_limit(200):
        _, diagnostics = analyse(root)
    assert [d.code for d in diagnostics] == ["PE105"]
    assert f"nested more than {MAX_DEPTH} levels" in diagnostics[0].message
    assert (diagnostics[0].span.line, diagnostics[0].span.column) == (2, 27)  # the start of the condition
    assert [d["code"] for d in check_cli(root, capsys, plain=False)] == ["PE105"]


def test_unclosed_ten_thousand_parentheses(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir(RULE.format("(" * 10_000 + "demand.mandatory"))
    d = both(root, "PE109", capsys)
    assert d["column"] == 27 + 9_999  # the innermost `(`


def test_one_megabyte_string(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir('principle p "' + "x" * 1_000_000 + '" { }\n')
    d = both(root, "PE106", capsys)
    assert f"the limit is {MAX_STRING:,}" in str(d["message"])


def test_one_megabyte_unterminated_string(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir('principle p "' + "x" * 1_000_000 + "\n")
    both(root, "PE104", capsys)


def test_one_megabyte_name(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    d = both(policy_dir("n" * 1_000_000 + "\n"), "PE101", capsys)
    assert len(str(d["message"])) < 200


def test_too_many_tokens(
    monkeypatch: pytest.MonkeyPatch, policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A file of one-character tokens would cost minutes; past the budget the rest is not read."""
    monkeypatch.setattr(parser, "MAX_TOKENS", 5_000)
    root = policy_dir(RULE.format("demand.kind in {" + "a " * 10_000 + "}"))
    d = both(root, "PE004", capsys)
    assert "more than 5,000" in str(d["message"])


def test_control_and_bidi_characters_are_escaped(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir('principle p "s" {\n    rule r: withdraw when demand.kind == \u202egnp\x1b[31m because "x"\n}\n')
    assert main(["check", str(root), "--format", "plain"]) == 1
    out = capsys.readouterr().out
    assert "\\u202e" in out and "\u202e" not in out and "\x1b" not in out


def test_nul_byte_given_to_the_api_directly() -> None:
    _, diagnostics = analyse_sources([Source("nul.policy", 'principle p "s" {\x00}\n')])
    [d] = diagnostics
    assert d.code == "PE102" and "\\x00" in d.message


def test_huge_number_is_not_finite(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir('jurisdiction FR "F" { rule_of_law = ' + "9" * 5_000 + " }\n")
    both(root, "PE108", capsys)


def test_garbage_everywhere_stays_within_the_error_limit(
    policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    lines = "".join(f"junk{i} = = ;; }} {{ ((\n" for i in range(2_000))
    found = check_cli(policy_dir(lines), capsys)
    assert 1 <= len(found) <= parser.MAX_SYNTAX_ERRORS
