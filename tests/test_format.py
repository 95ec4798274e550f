"""`policyengine fmt`: golden layouts, the two promises (meaning kept, stable), the CLI.

Golden cases: ``tests/golden/format/<case>.policy`` is formatted and compared
with ``<case>.formatted.policy``; ``pytest --update-golden`` rewrites the
expected files, to be reviewed as a git diff.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from format_strategies import policy_files
from hypothesis import HealthCheck, given, settings

from policyengine.cli import main
from policyengine.language import ast
from policyengine.language import format as format_module
from policyengine.language.diagnostics import PolicyError
from policyengine.language.format import FormatterBug, _parse, format_source, format_text
from policyengine.language.layout import WIDTH, _Layout
from policyengine.language.loader import default_policy_dir
from policyengine.language.parser import get_parser, parse
from policyengine.language.source import Source

GOLDEN = Path(__file__).parent / "golden" / "format"
CASES = sorted(p.name[: -len(".policy")] for p in GOLDEN.glob("*.policy") if not p.name.endswith(".formatted.policy"))


def tree(text: str) -> ast.PolicyFile:
    result, diagnostics = parse(Source("x.policy", text))
    assert not [d for d in diagnostics if d.code.startswith("PE1")], diagnostics
    return result


def comments(text: str) -> list[str]:
    return sorted(str(c).rstrip() for c in _parse(text)[1])


def assert_promises(original: str, formatted: str) -> None:
    assert tree(formatted) == tree(original)
    assert comments(formatted) == comments(original)
    assert format_text(formatted) == formatted


# --- golden files -------------------------------------------------------------


def test_there_are_enough_golden_cases() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, update_golden: bool) -> None:
    original = (GOLDEN / f"{case}.policy").read_text(encoding="utf-8")
    expected_path = GOLDEN / f"{case}.formatted.policy"
    formatted = format_text(original, f"{case}.policy")
    if update_golden:
        expected_path.write_text(formatted, encoding="utf-8")
    assert formatted == expected_path.read_text(encoding="utf-8")
    assert_promises(original, formatted)


@pytest.mark.parametrize("case", CASES)
def test_golden_output_is_already_formatted(case: str) -> None:
    expected = (GOLDEN / f"{case}.formatted.policy").read_text(encoding="utf-8")
    assert format_text(expected) == expected


def test_golden_outputs_respect_the_width_where_they_can() -> None:
    """Only lines holding a long text, a long comment or an unbreakable atom may be wider."""
    for case in CASES:
        for line in (GOLDEN / f"{case}.formatted.policy").read_text(encoding="utf-8").splitlines():
            if len(line) > WIDTH:
                assert '"' in line or "#" in line, f"{case}: {line!r}"


# --- the two promises, on generated policies ------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_files())
def test_formatting_keeps_meaning_and_is_stable(text: str) -> None:
    formatted = format_text(text)
    assert_promises(text, formatted)


# --- specific rules ---------------------------------------------------------------


def test_sets_keep_author_order() -> None:
    text = 'principle p "P" { rule r: comply when demand.kind in {zeta, alpha, mid} because "x" }'
    assert "{zeta, alpha, mid}" in format_text(text)


def test_mixed_and_or_gets_parentheses_that_do_not_change_the_tree() -> None:
    text = 'principle p "P" { rule r: comply when demand.a or demand.b and demand.c because "x" }'
    formatted = format_text(text)
    assert "demand.a or (demand.b and demand.c)" in formatted
    assert tree(formatted) == tree(text)


def test_same_operator_nesting_keeps_its_parentheses() -> None:
    text = 'principle p "P" { rule r: comply when (demand.a and demand.b) and demand.c because "x" }'
    formatted = format_text(text)
    assert "(demand.a and demand.b) and demand.c" in formatted
    nested = tree(formatted).declarations[0]
    assert isinstance(nested, ast.Principle)
    condition = nested.rules[0].condition
    assert isinstance(condition, ast.AllOf) and isinstance(condition.operands[0], ast.AllOf)


def test_crlf_and_bom_are_normalised() -> None:
    text = 'jurisdiction A "A" {\r\n    x = 1\r\n}\r\n'
    assert format_text(text) == 'jurisdiction A "A" {\n    x = 1\n}\n'


def test_output_ends_with_one_newline_and_no_trailing_blanks() -> None:
    formatted = format_text('jurisdiction A "A" { x = 1 }   # note   \n\n\n\n')
    assert formatted == 'jurisdiction A "A" { x = 1 }  # note\n'


def test_syntax_errors_give_diagnostics_and_no_text() -> None:
    formatted, diagnostics = format_source(Source("bad.policy", 'principle p "P" { rule r: withdraw because "x" }'))
    assert formatted is None
    assert [d.code for d in diagnostics] == ["PE101"]
    with pytest.raises(PolicyError):
        format_text('principle p "P" {')


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('jurisdiction A "A" { x = "bad \\q escape" }', "PE107"),
        ('jurisdiction A "A" { x = 1e999 }', "PE108"),
        ('principle p "P" { rule r: comply when ' + "not " * 70 + 'demand.x because "x" }', "PE105"),
    ],
)
def test_files_the_front_end_rejects_are_not_formatted(text: str, code: str) -> None:
    formatted, diagnostics = format_source(Source("bad.policy", text))
    assert formatted is None
    assert code in {d.code for d in diagnostics}


def test_meaning_errors_do_not_stop_formatting() -> None:
    """An unknown attribute or a bad placeholder is for `check` to report; layout can still be fixed."""
    text = 'principle p "P" { rule r: comply when demand.nope == 1 because "{oops}" }'
    formatted, diagnostics = format_source(Source("x.policy", text))
    assert formatted is not None and not diagnostics


def test_a_broken_promise_raises_formatter_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_Layout, "assignment", lambda self, node: "changed = 1")
    with pytest.raises(FormatterBug, match="meaning"):
        format_text('jurisdiction A "A" { x = 1 }')


def test_an_unstable_layout_raises_formatter_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    real = format_module.lay_out
    calls: list[str] = []

    def flaky(text: str, tree: Any, tokens: Any) -> str:
        # The second layout (the check on the result) differs from the first.
        calls.append(text)
        return real(text, tree, tokens) + ("\n" if len(calls) % 2 == 0 else "")

    monkeypatch.setattr(format_module, "lay_out", flaky)
    with pytest.raises(FormatterBug, match="stable"):
        format_text('jurisdiction A "A" { x = 1 }')


def test_the_shared_parser_has_no_comment_callback() -> None:
    """Comments are collected on the formatter's own parser only (per-parse state)."""
    assert not get_parser().options.lexer_callbacks


def test_the_formatter_parses_with_the_shared_factory_and_options() -> None:
    """One factory for every user of the grammar: the formatter's parser differs
    from the shared one by its comment callback and nothing else."""
    keeping = get_parser(on_comment=format_module._collect)
    assert keeping is get_parser(on_comment=format_module._collect) and keeping is not get_parser()
    assert list(keeping.options.lexer_callbacks) == ["COMMENT"]
    shared = {k: v for k, v in get_parser().options.options.items() if k != "lexer_callbacks"}
    assert {k: v for k, v in keeping.options.options.items() if k != "lexer_callbacks"} == shared
    for case in CASES:
        text = (GOLDEN / f"{case}.policy").read_text(encoding="utf-8")
        mine, theirs = _parse(text)[0], get_parser().parse(text)
        assert mine == theirs
        spans = [
            [(t.data,) if t.meta.empty else (t.data, t.meta.start_pos, t.meta.end_pos) for t in tree.iter_subtrees()]
            for tree in (mine, theirs)
        ]
        assert spans[0] == spans[1]


def test_concurrent_formatting_gives_the_sequential_results() -> None:
    texts = [(GOLDEN / f"{case}.policy").read_text(encoding="utf-8") for case in CASES] * 8
    expected = [format_text(t) for t in texts]
    barrier = threading.Barrier(4)

    def work(i: int) -> str:
        if i < 4:
            barrier.wait()
        return format_text(texts[i])

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(work, range(len(texts)))) == expected


# --- the command line -------------------------------------------------------------

MESSY = 'jurisdiction A "A" {x=1}\nprinciple p "P" { rule r: comply when demand.kind == hotline because "x" }\n'
TIDY = format_text(MESSY)


def test_cli_rewrites_in_place(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir({"a.policy": MESSY, "sub/b.policy": TIDY, ".hidden.policy": MESSY, "notes.txt": MESSY})
    assert main(["fmt", str(root)]) == 0
    out, err = capsys.readouterr()
    assert (root / "a.policy").read_text(encoding="utf-8") == TIDY
    assert (root / "sub" / "b.policy").read_text(encoding="utf-8") == TIDY
    assert (root / ".hidden.policy").read_text(encoding="utf-8") == MESSY
    assert (root / "notes.txt").read_text(encoding="utf-8") == MESSY
    assert f"reformatted {(root / 'a.policy').as_posix()}" in out
    assert "1 file reformatted, 1 file unchanged" in err
    assert main(["fmt", "--check", str(root)]) == 0


def test_cli_keeps_file_permissions(policy_dir: Callable[..., Path]) -> None:
    root = policy_dir({"a.policy": MESSY})
    path = root / "a.policy"
    os.chmod(path, 0o640)
    assert main(["fmt", str(path)]) == 0
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in root.iterdir()] == ["a.policy"]  # no temporary file left behind


def test_cli_writes_through_symbolic_links(policy_dir: Callable[..., Path]) -> None:
    root = policy_dir({"real/a.policy": MESSY})
    (root / "link.policy").symlink_to(root / "real" / "a.policy")
    assert main(["fmt", str(root / "link.policy")]) == 0
    assert (root / "link.policy").is_symlink()
    assert (root / "real" / "a.policy").read_text(encoding="utf-8") == TIDY


def test_cli_check_lists_files_and_writes_nothing(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir({"a.policy": MESSY, "b.policy": TIDY})
    assert main(["fmt", "--check", str(root)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"would reformat {(root / 'a.policy').as_posix()}"]
    assert "1 file would be reformatted, 1 file unchanged" in err
    assert (root / "a.policy").read_text(encoding="utf-8") == MESSY


def test_cli_check_counts_line_endings_and_bom_as_changes(
    policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = policy_dir({})
    (root / "crlf.policy").write_bytes(TIDY.replace("\n", "\r\n").encode())
    (root / "bom.policy").write_bytes(b"\xef\xbb\xbf" + TIDY.encode())
    assert main(["fmt", "--check", str(root)]) == 1
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["fmt", str(root)]) == 0
    assert (root / "crlf.policy").read_bytes() == TIDY.encode()
    assert (root / "bom.policy").read_bytes() == TIDY.encode()


def test_cli_diff_prints_a_unified_diff_and_writes_nothing(
    policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = policy_dir({"a.policy": MESSY})
    path = (root / "a.policy").as_posix()
    assert main(["fmt", "--diff", str(root)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"--- {path}\t(original)\n+++ {path}\t(formatted)\n@@ ")
    assert '\n-jurisdiction A "A" {x=1}\n' in out and '\n+jurisdiction A "A" { x = 1 }\n' in out
    assert f"would reformat {path}" in err
    assert (root / "a.policy").read_text(encoding="utf-8") == MESSY
    assert main(["fmt", "--diff", "--check", str(root)]) == 1


def test_cli_stdin_to_stdout(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(MESSY.encode())))
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == TIDY


def test_cli_stdin_check_and_diff(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(MESSY.encode())))
    assert main(["fmt", "--check", "-"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "would reformat <stdin>" in err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(TIDY.encode())))
    assert main(["fmt", "--check", "-"]) == 0
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(MESSY.encode())))
    assert main(["fmt", "--diff", "-"]) == 0
    assert capsys.readouterr().out.startswith("--- <stdin>\t(original)\n")


def test_cli_stdin_with_a_syntax_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'principle p "P" {')))
    assert main(["fmt", "-"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "<stdin>:1:" in err and "error[PE1" in err


def test_cli_stdin_is_alone(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fmt", "-", "policies"]) == 2
    assert "cannot be combined" in capsys.readouterr().err


def test_cli_leaves_a_file_with_syntax_errors_untouched(
    policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    broken = 'principle p "P" {\n  rule r: withdraw when demand.kind == key_disclosure\n}\njurisdiction  A "A" {x=1}\n'
    root = policy_dir({"bad.policy": broken, "good.policy": MESSY})
    before = (root / "bad.policy").stat().st_mtime_ns
    assert main(["fmt", str(root)]) == 1
    out, err = capsys.readouterr()
    assert (root / "bad.policy").read_text(encoding="utf-8") == broken
    assert (root / "bad.policy").stat().st_mtime_ns == before
    assert (root / "good.policy").read_text(encoding="utf-8") == TIDY
    assert f"{(root / 'bad.policy').as_posix()}:2:" in err and "error[PE1" in err
    assert "with errors (left untouched)" in err
    assert "Traceback" not in out + err


def test_cli_reports_unreadable_paths(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir({})
    (root / "binary.policy").write_bytes(b"\x00\x01")
    (root / "latin1.policy").write_bytes(b'jurisdiction A "caf\xe9" {}')
    assert main(["fmt", str(root), str(root / "missing.policy"), str(root / "empty-dir")]) == 1
    err = capsys.readouterr().err
    assert "PE003" in err and "PE002" in err and "PE001" in err and "does not exist" in err
    (root / "empty-dir").mkdir()
    assert main(["fmt", str(root / "empty-dir")]) == 1
    err = capsys.readouterr().err
    assert "PE005" in err
    # Nothing was formatted, so no file is counted as having errors.
    assert "1 path with no policy files" in err and "with errors" not in err


def test_cli_internal_error_leaves_the_file(
    policy_dir: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = policy_dir({"a.policy": MESSY})
    monkeypatch.setattr(_Layout, "assignment", lambda self, node: "changed = 1")
    assert main(["fmt", str(root)]) == 70
    assert (root / "a.policy").read_text(encoding="utf-8") == MESSY
    assert "internal error" in capsys.readouterr().err


def test_cli_formats_each_file_once(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir({"a.policy": MESSY})
    assert main(["fmt", "--check", str(root), str(root / "a.policy")]) == 1
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_shipped_library_is_formatted(capsys: pytest.CaptureFixture[str]) -> None:
    """The library ships in canonical layout: run `policyengine fmt policies` after editing it."""
    assert main(["fmt", "--check", str(default_policy_dir())]) == 0, capsys.readouterr().out
