"""The command line's surface: exit codes, the one error shape, did-you-mean for typos, policy paths.

Everything goes through ``policyengine.cli.main(argv)``, as a user's shell would.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

import policyengine
from policyengine.cli import check, common, main, schema
from policyengine.cli.common import ExitCode
from policyengine.errors import PolicyEngineError

PolicyDir = Callable[..., Path]

BR = """
jurisdiction BR "Brazil" { rule_of_law = 0.5 }
principle p "P" {
    rule keys: withdraw when demand.kind == key_disclosure because "keys stay with users"
}
"""
BROKEN = 'principle p "P" { rule r: withdraw when demand.kind == key_disclosur because "x" }\n'


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- typos: a did-you-mean naming the bad word --------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["chek"], ["policyengine: error: `chek` is not a command", "  hint: did you mean `check`?"]),
        (
            ["decide", "-j", "RU", "--fail-on", "withdrew"],
            [
                "policyengine decide: error: --fail-on takes comply, negotiate or withdraw, not `withdrew`",
                "  hint: did you mean `withdraw`?",
            ],
        ),
        (
            ["schema", "decisoin"],
            [
                "policyengine schema: error: schema: `decisoin` is not one of `all`, `request`, `decision`, `market`",
                "  hint: did you mean `decision`?",
            ],
        ),
        (
            # argparse would first say that --jurisdiction is missing; the misspelling is the cause.
            ["decide", "--jurisdction", "RU"],
            ["policyengine decide: error: unrecognized option `--jurisdction`", "  hint: did you mean `--jurisdiction`?"],
        ),
        (
            ["matrix", "--jurisdicitons", "FR"],
            ["policyengine matrix: error: unrecognized option `--jurisdicitons`", "  hint: did you mean `--jurisdictions`?"],
        ),
        (
            ["decide", "-j", "RUS"],
            [
                "policyengine decide: error: jurisdiction: `RUS` is not a loaded jurisdiction",
                "  hint: did you mean `RU`? (`RUS` is the ISO 3166-1 alpha-3 code of Russian Federation;"
                " jurisdictions use alpha-2 codes)",
            ],
        ),
        (
            ["matrix", "--jurisdictions", "FR,DEU"],
            [
                "policyengine matrix: error: --jurisdictions: `DEU` is not a loaded jurisdiction",
                "  hint: did you mean `DE`? (`DEU` is the ISO 3166-1 alpha-3 code of Germany; jurisdictions use alpha-2 codes)",
            ],
        ),
    ],
)
def test_a_typo_is_named_with_a_guess(capsys: pytest.CaptureFixture[str], argv: list[str], expected: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == ExitCode.USAGE and out == ""
    # Commands that load the default set first say which one (docs/cli.md, "Which policy set").
    assert [line for line in err.splitlines() if not line.startswith("using policy set ")] == expected


def test_a_word_close_to_nothing_is_named_with_what_there_is(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "schema", "bogus")
    assert code == ExitCode.USAGE
    assert err == "policyengine schema: error: schema: `bogus` is not one of `all`, `request`, `decision`, `market`\n"
    code, _, err = run(capsys, "frobnicate")
    assert code == ExitCode.USAGE and "`frobnicate` is not a command" in err
    assert "hint: the commands are check, decide, explain, schema, fmt, test, matrix, lint, diff" in err


def test_an_abbreviated_option_still_works(capsys: pytest.CaptureFixture[str], policy_dir: PolicyDir) -> None:
    code, out, _ = run(capsys, "decide", "--jurisdic", "BR", "--format", "json", str(policy_dir(BR)))
    assert code == ExitCode.OK and json.loads(out)["jurisdiction"] == "BR"


def test_the_alpha3_table_covers_every_shipped_jurisdiction() -> None:
    text = (Path(common.__file__).parent.parent / "evaluation" / "iso3166_alpha3.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    assert all(re.fullmatch(r"[A-Z]{3}", r["alpha3"]) and re.fullmatch(r"[A-Z]{2}", r["alpha2"]) for r in rows)
    assert len({r["alpha3"] for r in rows}) == len(rows)
    alpha2 = {r["alpha2"] for r in rows}
    engine = policyengine.load()
    countries = {c for c, j in engine.policy_set.jurisdictions.items() if not j.is_group}
    assert countries and countries <= alpha2


# --- one error shape ------------------------------------------------------------------------------------


class _Odd(PolicyEngineError):
    code = "odd"

    def __init__(self) -> None:
        super().__init__("the \x1b[31mthing\x1b[0m is odd", "try `the other thing`")
        self.field = "thing"
        self.allowed = ("a", "b")


def test_any_policyengine_error_is_printed_one_way(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(args: object) -> int:
        raise _Odd()

    monkeypatch.setattr(check, "run", boom)
    code, out, err = run(capsys, "check")
    assert code == ExitCode.USAGE and out == ""
    assert err.splitlines() == [
        "policyengine check: error: thing: the \\x1b[31mthing\\x1b[0m is odd",
        "  hint: try `the other thing`",
    ]
    code, out, err = run(capsys, "check", "--format", "json")
    assert code == ExitCode.USAGE and err.startswith("policyengine check: error: thing: ")
    assert json.loads(out) == {
        "error": {
            "code": "odd",
            "message": "the \x1b[31mthing\x1b[0m is odd",
            "hint": "try `the other thing`",
            "field": "thing",
            "allowed": ["a", "b"],
        }
    }


def test_a_bad_request_in_json_format_is_the_same_object(capsys: pytest.CaptureFixture[str], policy_dir: PolicyDir) -> None:
    code, out, err = run(capsys, "decide", "-j", "RUS", "--format", "json", str(policy_dir(BR)))
    # RU is not in this set, but `RUS` is not an exact code either: the engine names the one meant.
    assert code == ExitCode.USAGE
    assert err.startswith("policyengine decide: error: jurisdiction: `RUS` is not a jurisdiction code")
    error = json.loads(out)["error"]
    assert (error["code"], error["field"], error["allowed"]) == ("request.bad-jurisdiction", "jurisdiction", ["BR"])
    assert error["hint"].startswith("did you mean `RU`?")


def test_internal_errors_and_interrupts_have_their_codes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(args: object) -> int:
        raise ZeroDivisionError("division by zero")

    def interrupt(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.delenv("POLICYENGINE_DEBUG", raising=False)
    monkeypatch.setattr(schema, "run", bug)
    code, _, err = run(capsys, "schema")
    assert code == ExitCode.INTERNAL == 70
    assert err.startswith("policyengine schema: internal error: ZeroDivisionError: division by zero")
    monkeypatch.setattr(schema, "run", interrupt)
    assert run(capsys, "schema")[0] == ExitCode.INTERRUPTED == 130


def test_docs_list_every_exit_code() -> None:
    docs = (Path(__file__).parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    table = docs[docs.index("## Exit codes") :].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \|", table, re.MULTILINE)
    assert [(int(v), n) for v, n in rows] == [(c.value, c.name) for c in ExitCode]


# --- one convention for the policy set -------------------------------------------------------------------


def test_decide_takes_the_policy_set_as_a_path(capsys: pytest.CaptureFixture[str], policy_dir: PolicyDir) -> None:
    root = str(policy_dir(BR))
    by_path = run(capsys, "decide", "-j", "BR", "--format", "json", root)
    by_option = run(capsys, "decide", "-j", "BR", "--format", "json", "--policies", root)
    assert by_path[0] == by_option[0] == ExitCode.OK
    assert by_path[1] == by_option[1] and json.loads(by_path[1])["jurisdiction"] == "BR"


@pytest.mark.parametrize(
    "argv",
    [["check"], ["test"], ["lint"], ["fmt", "--check"], ["decide", "-j", "RU"], ["explain", "-j", "RU"], ["matrix"]],
)
@pytest.mark.parametrize("as_option", [False, True])
def test_every_command_reads_the_policy_set_from_a_path_or_policies(
    capsys: pytest.CaptureFixture[str], policy_dir: PolicyDir, argv: list[str], as_option: bool
) -> None:
    # A broken set: if the path were ignored, the shipped library would load and the command pass.
    root = str(policy_dir(BROKEN if argv[0] != "fmt" else "principle {"))
    code, _, _ = run(capsys, *argv, *(["--policies", root] if as_option else [root]))
    assert code == ExitCode.POLICY_ERRORS


# --- --as-of ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["decide", "-j", "RU", "--as-of", "2015-13-01"],
            "--as-of: `2015-13-01` is not a day of the calendar: month must be in 1..12",
        ),
        (
            ["explain", "-j", "RU", "--as-of", "2024-02-30"],
            "--as-of: `2024-02-30` is not a day of the calendar: day is out of range for month",
        ),
        (["matrix", "--as-of", "01.01.2015"], "--as-of: `01.01.2015` is not a date written YYYY-MM-DD"),
        (["diff", "a", "b", "--as-of", "2015-1-1"], "--as-of: `2015-1-1` is not a date written YYYY-MM-DD"),
        (["decide", "-j", "RU", "--as-of", "２０１５-01-01"], "--as-of: `２０１５-01-01` is not a date written YYYY-MM-DD"),
    ],
)
def test_a_bad_as_of_date_is_a_usage_error(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    command = argv[0]
    assert out == ""
    assert err.splitlines() == [
        f"policyengine {command}: error: {message}",
        "  hint: write the date as YYYY-MM-DD, e.g. 2015-01-01",
    ]
