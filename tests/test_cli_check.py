"""`policyengine check`: exit codes, the three formats, and the definition of done.

Done means: on a directory with several mistakes in several files, `check`
reports every one of them with file:line:col and a caret, and exits 1; a
typo such as `key_disclousre` gets a hint that suggests `key_disclosure`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from policyengine.cli import main
from policyengine.language.loader import default_policy_dir

GOOD = """\
principle encryption "We never weaken end-to-end encryption" {
    rule no_keys:
        withdraw when demand.kind in {key_disclosure, encryption_backdoor}
        because "handing over keys would expose every user"
}

jurisdiction RU "Russia" {
    rule_of_law = 0.3
    demand fsb_keys "Hand over the keys that decrypt messages" {
        kind = key_disclosure; category = all_users; legal_basis = statute
    }
}

test "Russia's key demand means withdrawal" {
    RU.fsb_keys -> withdraw by encryption.no_keys
}
"""

#: Several files, several mistakes: one syntax error per file in two of them,
#: and meaning errors (a typo in a value, an unknown group, a bad range) in others.
BROKEN = {
    "principles/encryption.policy": """\
principle encryption "We never weaken end-to-end encryption" {
    rule no_keys:
        withdraw when demand.kind in {key_disclousre, encryption_backdoor}
        because "handing over keys would expose every user"
    rule scanning:
        withdraw when demand.kind == encryption_backdoor && demand.mandatory
        because "client-side scanning reads every message"
}
""",
    "principles/privacy.policy": """\
principle privacy "We disclose user data only to a judge's order" {
    rule court:
        comply when demand.kind == user_data and demand.legal_basis == court_order
        becuase "a judge has weighed the request"
}
""",
    "jurisdictions/europe.policy": """\
group EU "European Union" {
    rule_of_law = 0.8
}

jurisdiction FR "France" in UE {
    rule_of_law = 72
}
""",
}
EXPECTED = [
    ("jurisdictions/europe.policy", 5, 29, "PE208"),
    ("jurisdictions/europe.policy", 6, 19, "PE214"),
    ("principles/encryption.policy", 3, 39, "PE204"),
    ("principles/encryption.policy", 6, 58, "PE102"),
    ("principles/privacy.policy", 4, 9, "PE101"),
]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


# --- exit codes --------------------------------------------------------------------------


def test_clean_set_exits_0(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["check", str(policy_dir(GOOD)), "--format", "plain"], capsys)
    assert code == 0 and err == ""
    assert out == "ok: 1 file, 1 jurisdiction, 1 principle, 1 rule, 1 test\n"


def test_warnings_alone_exit_0(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    text = GOOD.replace("{key_disclosure, encryption_backdoor}", "{key_disclosure, encryption_backdoor, key_disclosure}")
    code, out, _ = run(["check", str(policy_dir(text)), "--format", "plain"], capsys)
    assert code == 0
    assert "warning[PE219]" in out and out.rstrip().endswith("(0 errors, 1 warning)")


def test_errors_exit_1(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check", str(policy_dir(BROKEN)), "--format", "plain"], capsys)
    assert code == 1 and out.rstrip().endswith("5 errors, 0 warnings")


def test_missing_path_is_an_error_not_a_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["check", str(tmp_path / "nowhere"), "--format", "plain"], capsys)
    assert code == 1 and "error[PE001]" in out and "does not exist" in out and "Traceback" not in out + err


@pytest.mark.parametrize("args", [["check", "--format", "xml"], ["check", "--no-such-option"]])
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(args, capsys)
    assert code == 2 and err.startswith("policyengine check: error: ")


def test_an_unknown_option_is_reported_by_its_command(capsys: pytest.CaptureFixture[str]) -> None:
    # argparse reported it with the top-level usage and `policyengine: error:`, naming no command.
    code, out, err = run(["decide", "--jurisdiction", "RU", "--fromat", "json"], capsys)
    assert code == 2 and out == ""
    assert err == "policyengine decide: error: unrecognized option `--fromat`\n  hint: did you mean `--format`?\n"
    code, _, err = run(["check", "--strict"], capsys)
    assert code == 2 and err.startswith("policyengine check: error: unrecognized option `--strict`\n  hint: ")


def test_default_path_outside_a_project_is_the_shipped_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not any(default_policy_dir().rglob("*.policy")):
        pytest.skip("the shipped library is empty")
    monkeypatch.chdir(tmp_path)  # no policies/ here or above: the installed library
    code, out, err = run(["check", "--format", "json"], capsys)
    document = json.loads(out)
    assert code == (0 if document["ok"] else 1)
    assert document.pop("policy_set")["source"] == "library"
    assert err.startswith("using the installed library ")
    code_again, out_again, _ = run(["check", str(default_policy_dir()), "--format", "json"], capsys)
    assert (code_again, json.loads(out_again)) == (code, document)


# --- the definition of done ----------------------------------------------------------------


def test_every_mistake_in_every_file_with_location_and_caret(
    policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["check", str(policy_dir(BROKEN)), "--format", "plain"], capsys)
    assert code == 1
    heads = re.findall(r"^(\S+?):(\d+):(\d+): error\[(PE\d+)\]", out, re.MULTILINE)
    assert [(p, int(line), int(col), c) for p, line, col, c in heads] == EXPECTED
    blocks = out.split("\n\n")[:-1]
    assert len(blocks) == len(EXPECTED)
    for block in blocks:
        lines = block.splitlines()
        number = lines[0].split(":")[1]
        assert lines[2].startswith(f"{number} | "), block  # the source line
        assert re.match(r"^ +\| +\^+", lines[3]), block  # the carets under it
    assert "= hint: did you mean `key_disclosure`?" in out


def test_typo_suggests_the_value(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    text = GOOD.replace("{key_disclosure, encryption_backdoor}", "{key_disclousre, encryption_backdoor}")
    code, out, _ = run(["check", str(policy_dir(text)), "--format", "json"], capsys)
    [d] = json.loads(out)["diagnostics"]
    assert code == 1 and d["code"] == "PE204" and d["hint"] == "did you mean `key_disclosure`?"


# --- formats ------------------------------------------------------------------------------------


def test_json_format(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["check", str(policy_dir(BROKEN)), "--format", "json"], capsys)
    document = json.loads(out)
    assert code == 1 and err == ""
    assert document["ok"] is False and document["errors"] == 5 and document["warnings"] == 0
    fields = {"code", "severity", "message", "path", "line", "column", "end_line", "end_column", "hint"}
    assert all(set(d) == fields for d in document["diagnostics"])
    assert [(d["path"], d["line"], d["column"], d["code"]) for d in document["diagnostics"]] == EXPECTED
    first = document["diagnostics"][2]
    assert (first["end_line"], first["end_column"]) == (3, 39 + len("key_disclousre"))


def test_json_of_a_clean_set(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check", str(policy_dir(GOOD)), "--format", "json"], capsys)
    assert code == 0 and json.loads(out) == {"ok": True, "errors": 0, "warnings": 0, "diagnostics": []}


def test_human_format_on_a_pipe_is_the_plain_layout(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    root = str(policy_dir(BROKEN))
    _, human, _ = run(["check", root], capsys)
    _, plain, _ = run(["check", root, "--format", "plain"], capsys)
    assert human == plain and "\x1b[" not in human


def test_human_format_on_a_terminal_has_colours_and_no_injected_markup(
    policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    hostile = 'principle p "s" {\n    rule r: comply when demand.knd == x because "[bold red]x[/] \\x1b"\n}\n'
    code, out, _ = run(["check", str(policy_dir(hostile)), "--format", "human"], capsys)
    assert code == 1
    assert "\x1b[" in out  # colours
    assert "error[PE203]" in re.sub(r"\x1b\[[0-9;]*m", "", out)


def test_policy_text_cannot_drive_the_terminal(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Control characters in a policy file are shown escaped, in every format."""
    hostile = 'principle p "s" {\n    rule r: comply when demand.kind == \x1b[2J\x07 because "x"\n}\n'
    root = str(policy_dir(hostile))
    for fmt in ("plain", "json", "human"):
        code, out, _ = run(["check", root, "--format", fmt], capsys)
        assert code == 1
        assert "\x07" not in out and "\x1b[2J" not in out, fmt


def test_output_is_the_same_whatever_the_order_of_the_files(
    policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    forward = policy_dir(BROKEN)
    backward = policy_dir(dict(reversed(list(BROKEN.items()))))
    _, one, _ = run(["check", str(forward), "--format", "plain"], capsys)
    _, two, _ = run(["check", str(backward), "--format", "plain"], capsys)
    assert one == two


def test_files_given_one_by_one_read_as_their_directory(
    policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = policy_dir(BROKEN)
    _, whole, _ = run(["check", str(root), "--format", "json"], capsys)
    files = sorted(str(p) for p in root.rglob("*.policy"))
    _, listed, _ = run(["check", *files, "--format", "json"], capsys)
    assert listed == whole
