"""`policyengine decide`, `explain` and `schema` through ``main(argv)``.

Every flag, every exit code, JSON lines with good and bad lines, stdin, and
the human output at 80 and 200 columns.  Runs against ``tests/data/decide``.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from policyengine import Decision, MarketDecision
from policyengine.cli import main

DATA = Path(__file__).parent / "data" / "decide"
POLICIES = ["--policies", str(DATA)]


def _request(code: str, kind: str, category: str, legal_basis: str) -> dict[str, Any]:
    return {"jurisdiction": code, "demand": {"kind": kind, "category": category, "legal_basis": legal_basis}}


RU_KEYS = _request("RU", "key_disclosure", "all_users", "statute")
FR_COURT = _request("FR", "user_data", "criminal_suspect", "court_order")
RU_ADMIN = _request("RU", "key_disclosure", "all_users", "administrative_order")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def stdin(monkeypatch: pytest.MonkeyPatch, text: str | bytes) -> None:
    data = text.encode("utf-8") if isinstance(text, str) else text
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def write(tmp_path: Path, name: str, obj: Any) -> str:
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return str(path)


def shown(name: str) -> str:
    """How human output names a file of DATA: relative to the working directory when under it, else absolute."""
    path = (DATA / name).resolve()
    return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)


def rule_line(text: str) -> int:
    for n, line in enumerate((DATA / "principles.policy").read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            return n
    raise AssertionError(text)


# --- one request ---------------------------------------------------------------------------


def test_request_from_stdin_as_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    stdin(monkeypatch, json.dumps(RU_KEYS))
    code, out, err = run(capsys, "decide", "--request", "-", "--format", "json", *POLICIES)
    assert (code, err) == (0, "")
    d = Decision.model_validate_json(out)
    assert d.outcome == "withdraw"
    r = d.reasons[0]
    assert (r.principle, r.rule) == ("encryption", "no_keys")
    assert r.because == "handing over key_disclosure would expose every user's messages"
    assert r.source == f"principles.policy:{rule_line('rule no_keys')}"


def test_request_from_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "decide", "-r", write(tmp_path, "r.json", FR_COURT), "--format", "json", *POLICIES)
    assert code == 0
    assert json.loads(out)["outcome"] == "comply"


def test_request_file_with_a_byte_order_mark(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(FR_COURT).encode())
    code, out, _ = run(capsys, "decide", "--request", str(path), "--format", "json", *POLICIES)
    assert code == 0 and json.loads(out)["outcome"] == "comply"


def test_human_output_of_one_request(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "decide", "--request", write(tmp_path, "r.json", RU_ADMIN), *POLICIES)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "RU  withdraw"
    assert f"  by encryption.no_keys  {shown('principles.policy')}:{rule_line('rule no_keys')}" in lines
    assert "    handing over key_disclosure would expose every user's messages" in lines
    assert "  outranked: due_process.no_order (negotiate)" in lines
    assert re.fullmatch(r"as of \d{4}-\d{2}-\d{2} · policy version [0-9a-f]{16}", lines[-1]), lines[-1]


def test_human_output_of_the_default(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    request = {"jurisdiction": "TW", "demand": {"kind": "hotline", "category": "fraud", "legal_basis": "statute"}}
    code, out, _ = run(capsys, "decide", "--request", write(tmp_path, "r.json", request), *POLICIES)
    assert code == 0
    assert "TW  negotiate" in out
    assert "by default: no principle covers this demand" in out


def test_unknown_jurisdiction_is_a_decision_not_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    request = {**RU_KEYS, "jurisdiction": "XX"}
    code, out, _ = run(capsys, "decide", "--request", write(tmp_path, "r.json", request), "--format", "json", *POLICIES)
    assert code == 0
    d = json.loads(out)
    # The encryption rule needs no jurisdiction fact: it holds for a code the set does not define.
    assert d["outcome"] == "withdraw" and d["jurisdiction_known"] is False
    assert [r["source"] for r in d["outranked"]] == ["<engine>"]


def test_a_mis_cased_code_exits_2_suggesting_the_exact_one(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    request = {**RU_KEYS, "jurisdiction": "ru"}
    code, _, err = run(capsys, "decide", "--request", write(tmp_path, "r.json", request), *POLICIES)
    assert code == 2
    assert "jurisdiction: `ru` is not a jurisdiction code" in err and "hint: did you mean `RU`?" in err


# --- bad requests: exit 2, one line naming the field --------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '{"jurisdiction":"RU","demand":{"kind":"key_disclosur","category":"all_users","legal_basis":"statute"}}',
            "demand.kind: `key_disclosur` is not a `kind` value",
        ),
        ('{"jurisdiction":"RU","demand":{"category":"all_users","legal_basis":"statute"}}', "demand.kind: is required"),
        (
            '{"jurisdiction":"RU","demand":{"kind":"user_data","category":"all_users","legal_basis":"statute","mandatory":"no"}}',
            "demand.mandatory: must be true or false",
        ),
        ('{"jurisdiction":"RU"}', "demand: is required"),
        ('{"jurisdiction":"RU",', "request: is not valid JSON"),
        ("", "request: is not valid JSON"),
        ('{"jurisdiction":"RU","demand":{"kind":NaN}}', "request: `NaN` is not a number JSON allows here"),
    ],
)
def test_malformed_request_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, body: str, expected: str
) -> None:
    stdin(monkeypatch, body)
    code, out, err = run(capsys, "decide", "--request", "-", *POLICIES)
    assert code == 2
    assert out == ""
    # One line naming the field, and the hint (when there is one) on its own line under it.
    first, *rest = err.splitlines()
    assert first.startswith(f"policyengine decide: error: {expected}")
    assert len(rest) <= 1 and all(line.startswith("  hint: ") for line in rest)


def test_did_you_mean_in_the_error(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    stdin(monkeypatch, '{"jurisdiction":"RU","demand":{"kind":"key_disclosur","category":"all_users","legal_basis":"statute"}}')
    _, _, err = run(capsys, "decide", "--request", "-", *POLICIES)
    assert err.endswith("\n  hint: did you mean `key_disclosure`?\n")


def test_malformed_request_in_json_format_prints_an_error_object(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin(monkeypatch, '{"jurisdiction":"RU","demand":{"kind":"key_disclosur","category":"all_users","legal_basis":"statute"}}')
    code, out, err = run(capsys, "decide", "--request", "-", "--format", "json", *POLICIES)
    assert code == 2 and err
    error = json.loads(out)["error"]
    assert error["field"] == "demand.kind"
    assert "key_disclosure" in error["allowed"]
    assert error["hint"] == "did you mean `key_disclosure`?"


def test_missing_request_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "decide", "--request", str(tmp_path / "nope.json"), *POLICIES)
    assert code == 2
    assert "cannot read" in err and "nope.json" in err


def test_request_file_that_is_not_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"jurisdiction": "FR\xe9"}')
    code, _, err = run(capsys, "decide", "--request", str(path), *POLICIES)
    assert code == 2 and "is not UTF-8 text" in err


# --- standing demands and markets ----------------------------------------------------------------------


def test_jurisdiction_market_human(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "decide", "--jurisdiction", "RU", *POLICIES)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Russia (RU)  market: withdraw"
    assert "RU · fsb_keys  withdraw" in lines
    assert "RU · protest_block  withdraw" in lines
    assert "  Hand the FSB the keys to decrypt messages" in lines


def test_jurisdiction_market_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "decide", "-j", "FR", "--format", "json", *POLICIES)
    assert code == 0
    m = MarketDecision.model_validate_json(out)
    assert (m.outcome, m.jurisdiction_chain, [d.demand for d in m.decisions]) == ("comply", ("FR", "EU"), ["dsa_reports"])


def test_group_chain_in_the_heading(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "decide", "-j", "DE", *POLICIES)
    assert out.splitlines()[0] == "Germany (DE), in EU  market: comply"


def test_market_without_demands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "decide", "-j", "TW", *POLICIES)
    assert code == 0 and "no standing demands" in out


def test_one_standing_demand(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "decide", "-j", "RU", "--demand", "fsb_keys", "--format", "json", *POLICIES)
    assert code == 0
    d = Decision.model_validate_json(out)
    assert (d.demand, d.outcome) == ("fsb_keys", "withdraw")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["-j", "RU", "--demand", "fsb_key"],
            "demand: `RU` makes no standing demand `fsb_key`\n  hint: did you mean `fsb_keys`?",
        ),
        (["-j", "XX"], "jurisdiction: `XX` is not a loaded jurisdiction\n"),
        (["-j", "Ru", "-d", "fsb_keys"], "jurisdiction: `Ru` is not a jurisdiction code"),
    ],
)
def test_bad_jurisdiction_or_demand_exits_2(capsys: pytest.CaptureFixture[str], argv: list[str], expected: str) -> None:
    code, out, err = run(capsys, "decide", *argv, *POLICIES)
    assert code == 2 and out == ""
    assert err.startswith(f"policyengine decide: error: {expected}") and err.count("\n") <= 2


# --- usage ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["decide"], "one of the arguments"),
        (["decide", "-j", "RU", "--request", "-"], "not allowed with"),
        (["decide", "--request", "-", "--demand", "x"], "--demand goes with --jurisdiction"),
        (["decide", "-j", "RU", "--fail-on", "refuse"], "--fail-on takes comply, negotiate or withdraw, not `refuse`"),
        (["decide", "-j", "RU", "--format", "yaml"], "--format: `yaml` is not one of `human`, `json`"),
        (["decide", "--requests", "x", "--on-error", "retry"], "--on-error: `retry` is not one of `skip`, `stop`"),
        (["explain", "--requests", "x", "--request", "y"], "not allowed with"),
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], expected: str) -> None:
    code, _, err = run(capsys, *argv, *POLICIES)
    assert code == 2
    assert expected in err


def test_policy_errors_exit_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "bad.policy").write_text('jurisdiction FR "France" { rule_of_law = 2 }\n', encoding="utf-8")
    code, out, err = run(capsys, "decide", "-j", "FR", "--policies", str(tmp_path))
    assert code == 1 and out == ""
    assert "bad.policy:1:" in err and "PE214" in err


# --- --fail-on ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["-j", "RU", "--fail-on", "withdraw"], 3),
        (["-j", "RU", "--fail-on", "comply"], 0),
        (["-j", "TR", "--fail-on", "withdraw"], 3),  # market negotiate, but a demand is withdrawn
        (["-j", "FR", "--fail-on", "negotiate,withdraw"], 0),
        (["-j", "BR", "--fail-on", "comply", "--fail-on", "negotiate"], 3),
        (["-j", "RU", "-d", "fsb_keys", "--fail-on", "withdraw", "--format", "json"], 3),
    ],
)
def test_fail_on(capsys: pytest.CaptureFixture[str], argv: list[str], code: int) -> None:
    got, out, _ = run(capsys, "decide", *argv, *POLICIES)
    assert got == code
    assert out  # the decision is printed whatever the exit code


# --- JSON lines -------------------------------------------------------------------------------------------------------


def jsonl(tmp_path: Path, *lines: str | dict[str, Any]) -> str:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    return write(tmp_path, "requests.jsonl", text)


def test_requests_all_good(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "decide", "--requests", jsonl(tmp_path, RU_KEYS, "", FR_COURT), *POLICIES)
    assert (code, err) == (0, "")
    decisions = [Decision.model_validate_json(line) for line in out.splitlines()]
    assert [d.outcome for d in decisions] == ["withdraw", "comply"]


def test_requests_with_bad_lines_skip(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad_kind = {"jurisdiction": "FR", "demand": {"kind": "user_dat", "category": "fraud", "legal_basis": "statute"}}
    path = jsonl(tmp_path, RU_KEYS, "not json", bad_kind, "", FR_COURT)
    code, out, err = run(capsys, "decide", "--requests", path, *POLICIES)
    assert code == 2
    records = [json.loads(line) for line in out.splitlines()]
    assert [r.get("outcome") or r["line"] for r in records] == ["withdraw", 2, 3, "comply"]
    assert records[1]["error"]["field"] == "request"
    assert records[1]["error"]["code"] == "request.bad-json"
    assert records[2]["error"] == {
        "code": "request.bad-value",
        "field": "demand.kind",
        "message": records[2]["error"]["message"],
        "allowed": records[2]["error"]["allowed"],
        "hint": "did you mean `user_data`?",
    }
    err_lines = err.splitlines()
    assert err_lines[0].startswith(f"{path}:2: error: request: is not valid JSON")
    assert err_lines[1].startswith(f"{path}:3: error: demand.kind:")
    assert err_lines[2] == "2 bad lines skipped"


def test_requests_stop_at_the_first_bad_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = jsonl(tmp_path, RU_KEYS, "[]", FR_COURT)
    code, out, err = run(capsys, "decide", "--requests", path, "--on-error", "stop", *POLICIES)
    assert code == 2
    assert len(out.splitlines()) == 2
    assert json.loads(out.splitlines()[1])["line"] == 2
    assert "skipped" not in err


def test_requests_from_stdin_with_fail_on(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    stdin(monkeypatch, json.dumps(FR_COURT) + "\n" + json.dumps(RU_KEYS) + "\n")
    code, out, _ = run(capsys, "decide", "--requests", "-", "--fail-on", "withdraw", *POLICIES)
    assert code == 3
    assert len(out.splitlines()) == 2


def test_requests_line_that_is_not_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(json.dumps(FR_COURT).encode() + b"\n\xff\xfe\n")
    code, out, err = run(capsys, "decide", "--requests", str(path), *POLICIES)
    assert code == 2 and ":2: error: request: is not UTF-8" in err
    assert json.loads(out.splitlines()[1]) == {
        "line": 2,
        "error": {
            "code": "request.not-unicode",
            "field": "request",
            "message": "is not UTF-8 text (byte 1 of the line)",
            "allowed": [],
            "hint": None,
        },
    }


def test_requests_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "decide", "--requests", str(tmp_path / "none.jsonl"), *POLICIES)
    assert code == 2 and "cannot read" in err


def test_requests_output_equals_single_decisions(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = jsonl(tmp_path, RU_KEYS, FR_COURT, RU_ADMIN)
    _, out, _ = run(capsys, "decide", "--requests", path, *POLICIES)
    singles = []
    for request in (RU_KEYS, FR_COURT, RU_ADMIN):
        _, one, _ = run(capsys, "decide", "--request", write(tmp_path, "one.json", request), "--format", "json", *POLICIES)
        singles.append(Decision.model_validate_json(one))
    assert [Decision.model_validate_json(line) for line in out.splitlines()] == singles


# --- explain -------------------------------------------------------------------------------------------------------


def test_explain_a_request(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, "explain", "--request", write(tmp_path, "r.json", RU_ADMIN), *POLICIES)
    assert code == 0
    n = rule_line("rule no_keys")
    assert out.splitlines()[0] == "RU  withdraw"
    assert f"decided by encryption.no_keys → withdraw  {shown('principles.policy')}:{n}" in out
    assert "principle encryption: We never weaken end-to-end encryption" in out
    assert "because: handing over key_disclosure would expose every user's messages" in out
    assert "rule as written:" in out
    assert f"{n} |     rule no_keys:" in out
    assert f"{n + 1} |         withdraw when demand.kind in {{key_disclosure, encryption_backdoor}}" in out
    assert "demand.kind = key_disclosure: in {key_disclosure, encryption_backdoor}" in out
    assert "outranked: due_process.no_order → negotiate" in out
    assert "demand.mandatory = false: is false" in out
    assert "policy version " in out


def test_explain_shows_the_chain_and_origin(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    request = {"jurisdiction": "DE", "demand": {"kind": "user_data", "category": "fraud", "legal_basis": "court_order"}}
    code, out, _ = run(capsys, "explain", "-r", write(tmp_path, "r.json", request), *POLICIES)
    assert code == 0
    assert "jurisdiction chain: DE → EU" in out
    assert "jurisdiction.rule_of_law = 0.7 (from EU): >= 0.55" in out


def test_explain_a_jurisdiction_shows_every_standing_demand(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "--jurisdiction", "IR", *POLICIES)
    assert code == 0
    assert out.splitlines()[0] == "Iran (IR)  market: withdraw"
    assert "IR · filtering  withdraw" in out
    assert "decided by speech.protest → withdraw" in out
    assert "IR · suspects  negotiate" in out
    assert "decided by due_process.unmeasured → negotiate" in out
    assert "undetermined: due_process.court_order (would comply)" in out
    assert "unknown: jurisdiction.rule_of_law" in out


def test_explain_requests_renders_a_tree_per_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "explain", "--requests", jsonl(tmp_path, RU_KEYS, "{}", FR_COURT), *POLICIES)
    assert code == 2
    lines = out.splitlines()
    assert lines[0] == "line 1" and lines[1] == "RU  withdraw"
    assert "line 3" in lines and "FR  comply" in lines
    assert "line 2" not in lines
    assert ":2: error: jurisdiction: is required" in err


def test_explain_requests_as_json_lines_like_decide(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = jsonl(tmp_path, RU_KEYS, "{}", FR_COURT)
    explained = run(capsys, "explain", "--requests", path, "--format", "json", *POLICIES)
    assert explained == run(capsys, "decide", "--requests", path, *POLICIES)


def test_explain_json_is_the_decision(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "r.json", RU_KEYS)
    _, explained, _ = run(capsys, "explain", "-r", path, "--format", "json", *POLICIES)
    _, decided, _ = run(capsys, "decide", "-r", path, "--format", "json", *POLICIES)
    assert explained == decided


def test_explain_bad_request_exits_2(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    stdin(monkeypatch, "{}")
    code, _, err = run(capsys, "explain", "--request", "-", *POLICIES)
    assert code == 2 and err.startswith("policyengine explain: error: jurisdiction: is required\n  hint: ")


# --- layout and escaping --------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["decide", "explain"])
@pytest.mark.parametrize("jurisdiction", ["RU", "IR", "FR"])
def test_output_fits_80_columns_without_trailing_spaces(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str, jurisdiction: str
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = run(capsys, command, "-j", jurisdiction, *POLICIES)
    for line in out.splitlines():
        assert len(line) <= 80, line
        assert line == line.rstrip(), repr(line)


def test_wide_terminal_keeps_lines_whole(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    _, out, _ = run(capsys, "decide", "-j", "RU", *POLICIES)
    want = (
        "  demand: kind = key_disclosure, category = all_users, legal_basis = statute, cross_border = none, "
        "deadline_hours = unknown, emergency = false, gag_order = false, mandatory = true, scope = unknown, users = unknown"
    )
    assert want in out.splitlines()


def test_policy_and_request_text_is_never_markup_or_escapes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "p.policy").write_text(
        'principle p "P [bold]x[/bold]" {\n'
        '    rule r: comply when demand.kind == hotline because "evil \x1b[31mred [red]markup[/red]"\n'
        "}\n"
        'jurisdiction FR "France" { rule_of_law = 0.7 }\n',
        encoding="utf-8",
    )
    policies = ["--policies", str(tmp_path)]
    demand = {"kind": "hotline", "category": "fraud", "legal_basis": "statute", "description": "d\x1b[2J [blink]x"}
    for command in ("decide", "explain"):
        stdin(monkeypatch, json.dumps({"jurisdiction": "FR", "demand": demand}))
        _, out, _ = run(capsys, command, "--request", "-", *policies)
        assert "\x1b" not in out
        assert "evil \\x1b[31mred [red]markup[/red]" in out
        assert "d\\x1b[2J [blink]x" in out
    stdin(monkeypatch, json.dumps({"jurisdiction": "X\x1b[2J[red]", "demand": demand}))
    _, out, err = run(capsys, "explain", "--request", "-", *policies)  # not a code: refused, echoed escaped
    assert "\x1b" not in out + err and "X\\x1b[2J[red]" in err
    stdin(monkeypatch, json.dumps({"jurisdiction": "FR", "demand": {**demand, "kind": "\x1b[2J"}}))
    _, _, err = run(capsys, "decide", "--request", "-", *policies)
    assert "\x1b" not in err and "\\x1b[2J" in err


def test_multi_line_because_reads_as_one_paragraph(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "p.policy").write_text(
        'principle p "P" {\n'
        '    rule r: comply when demand.kind == hotline because """the first line\n'
        '        and the second"""\n'
        "}\n"
        'jurisdiction FR "France" { rule_of_law = 0.7 }\n',
        encoding="utf-8",
    )
    request = json.dumps({"jurisdiction": "FR", "demand": {"kind": "hotline", "category": "fraud", "legal_basis": "statute"}})
    stdin(monkeypatch, request)
    _, out, _ = run(capsys, "decide", "--request", "-", "--policies", str(tmp_path))
    assert "    the first line and the second" in out.splitlines()
    stdin(monkeypatch, request)
    _, out, _ = run(capsys, "decide", "--request", "-", "--format", "json", "--policies", str(tmp_path))
    assert json.loads(out)["reasons"][0]["because"] == "the first line\n        and the second"


# --- schema -------------------------------------------------------------------------------------------------------


def test_schema_all(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    schemas = json.loads(out)
    assert set(schemas) == {"request", "decision", "market"}
    assert set(schemas["request"]["required"]) == {"jurisdiction", "demand"}
    assert {"outcome", "jurisdiction", "reasons", "default_applied", "policy_version"} <= set(schemas["decision"]["required"])
    reason = schemas["decision"]["$defs"]["Reason"]
    assert {"principle", "rule", "outcome", "because", "source"} <= set(reason["required"])
    assert schemas["decision"]["$defs"]["Outcome"]["enum"] == ["comply", "negotiate", "withdraw"]


@pytest.mark.parametrize("which", ["request", "decision", "market"])
def test_schema_one(capsys: pytest.CaptureFixture[str], which: str) -> None:
    code, out, _ = run(capsys, "schema", which)
    assert code == 0
    assert json.loads(out)["title"] == {"request": "Request", "decision": "Decision", "market": "MarketDecision"}[which]


def test_schema_validates_a_real_decision(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import jsonschema  # a dev dependency: the schema must accept what decide prints

    _, out, _ = run(capsys, "schema", "decision", *POLICIES)  # the schema of the set that decides
    schema = json.loads(out)
    stdin(monkeypatch, json.dumps(RU_ADMIN))
    _, decision, _ = run(capsys, "decide", "--request", "-", "--format", "json", *POLICIES)
    jsonschema.validate(json.loads(decision), schema)


# --- the shipped library: the definition of done ------------------------------------------------


def test_done_ru_key_demand_as_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import policyengine

    stdin(monkeypatch, json.dumps(RU_KEYS))
    code, out, _ = run(capsys, "decide", "--request", "-", "--format", "json")
    assert code == 0
    d = Decision.model_validate_json(out)
    assert d.outcome == "withdraw" and d.reasons
    sources = {s.path: s for s in policyengine.load().policy_set.sources}
    for r in d.reasons:
        assert r.principle and r.rule and r.because and r.statement
        path, _, line = r.source.rpartition(":")
        assert f"rule {r.rule}" in sources[path].line_text(int(line))


def test_done_explain_iran_explains_every_standing_demand(capsys: pytest.CaptureFixture[str]) -> None:
    import policyengine

    market = policyengine.load().market("IR")
    assert market.decisions
    code, out, _ = run(capsys, "explain", "--jurisdiction", "IR")
    assert code == 0
    for d in market.decisions:
        assert f"IR · {d.demand}  {d.outcome.value}" in out
        for r in d.reasons:
            assert f"decided by {r.principle}.{r.rule} → {r.outcome.value}" in out
        if d.default_applied and not d.reasons:
            assert "no rule matched" in out


def test_docs_json_example_is_a_valid_decision() -> None:
    text = (Path(__file__).parent.parent / "docs" / "embedding.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in text.split("```json\n")[1:]]
    examples = [json.loads(b) for b in blocks]
    decision = next(e for e in examples if "outcome" in e)
    # extra="forbid": a field the docs invent, or one they leave out, fails here.
    assert Decision.model_validate(decision).reasons[0].facts
    request = next(e for e in examples if "outcome" not in e)
    assert set(request) == {"jurisdiction", "demand"}


# --- sources a person can open ----------------------------------------------------------------------------------


def _printed_sources(out: str) -> list[str]:
    import re

    return re.findall(r"(\S+\.policy):(\d+)", out)


@pytest.mark.parametrize("command", ["decide", "explain"])
def test_printed_sources_open_from_the_working_directory(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str
) -> None:
    """Every `path:line` in human output names the file from where the command ran: relative under
    the working directory, absolute elsewhere (the shipped library, a set outside it)."""
    import shutil

    inside = tmp_path / "work"
    shutil.copytree(DATA, inside / "mine")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cases = [(inside, ["mine"], True), (elsewhere, [str(inside / "mine")], False), (elsewhere, [], False)]
    for cwd, paths, relative in cases:
        monkeypatch.chdir(cwd)
        code, out, _ = run(capsys, command, "--jurisdiction", "RU", *paths)
        assert code == 0
        found = _printed_sources(out)
        assert found, out
        for path, line in found:
            assert Path(path).is_absolute() is not relative, path
            lines = Path(path).read_text(encoding="utf-8").splitlines()
            assert "rule " in lines[int(line) - 1], (path, line)


def test_json_sources_stay_relative_to_the_policy_root(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """JSON keeps `source` stable (relative to the set's root) and names that root in `source_root`:
    joined, they open the rule, for one request, a market and each line of --requests."""

    def opens(d: dict[str, Any]) -> None:
        assert d["source_root"] == str(DATA.resolve())
        for r in d["reasons"]:
            path, line = r["source"].rsplit(":", 1)
            assert not Path(path).is_absolute()
            assert f"rule {r['rule']}" in (Path(d["source_root"]) / path).read_text(encoding="utf-8").splitlines()[int(line) - 1]

    stdin(monkeypatch, json.dumps(RU_KEYS))
    code, out, _ = run(capsys, "decide", "--request", "-", "--format", "json", *POLICIES)
    assert code == 0
    d = json.loads(out)
    assert d["reasons"][0]["source"] == f"principles.policy:{rule_line('rule no_keys')}"
    opens(d)
    code, out, _ = run(capsys, "decide", "--jurisdiction", "RU", "--format", "json", *POLICIES)
    market = json.loads(out)
    assert market["source_root"] == str(DATA.resolve())
    for decision in market["decisions"]:
        opens(decision)
    stdin(monkeypatch, json.dumps(RU_KEYS) + "\n" + json.dumps(FR_COURT) + "\n")
    code, out, _ = run(capsys, "decide", "--requests", "-", *POLICIES)
    for line in out.splitlines():
        opens(json.loads(line))


def test_source_root_of_a_set_with_an_attribute_of_that_name(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The root is filled into the decision's own field, not into a demand attribute that happens
    to be called `source_root` (a JSON line is patched, not re-serialised)."""
    (tmp_path / "v.policy").write_text(
        'vocabulary {\n    attribute demand.source_root: text or unknown "a name an author may choose"\n}\n'
        'principle p "P" {\n    rule r:\n        withdraw when demand.kind == key_disclosure\n        because "no"\n}\n'
        'jurisdiction RU "Russia" { rule_of_law = 0.27 }\n',
        encoding="utf-8",
    )
    stdin(monkeypatch, json.dumps(RU_KEYS) + "\n")
    code, out, _ = run(capsys, "decide", "--requests", "-", str(tmp_path))
    assert code == 0, out
    d = json.loads(out)
    assert d["request"]["source_root"] is None
    assert d["source_root"] == str(tmp_path.resolve())
