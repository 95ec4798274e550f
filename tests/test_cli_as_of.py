"""``--as-of DATE`` on `decide`, `explain`, `matrix` and `diff`, and what the outputs say with it.

The date reaches the engine (every decision echoes it, in JSON as ``as_of``
and in the human output as ``as of …``); a request that carries its own
``as_of`` keeps it; JSON always carries ``actions``.  The explanation of the
default decision names the principles considered and the changes that would
decide it.  Bad dates are covered in test_cli_usage.py.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from policyengine.cli import main

DATA = Path(__file__).parent / "data" / "decide"
SET = [str(DATA)]
RU_KEYS = {"jurisdiction": "RU", "demand": {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"}}
#: No rule of tests/data/decide decides a hotline on a statute: the default applies.
FR_HOTLINE = {"jurisdiction": "FR", "demand": {"kind": "hotline", "category": "fraud", "legal_basis": "statute"}}


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str | None = None
) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8"))
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_one_request_echoes_the_date_and_carries_actions(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["decide", "--request", "-", "--format", "json", "--as-of", "2015-01-01", *SET]
    code, out, _ = run(capsys, monkeypatch, argv, json.dumps(RU_KEYS))
    assert code == 0
    d = json.loads(out)
    assert d["as_of"] == "2015-01-01"
    assert d["actions"] == []
    code, out, _ = run(capsys, monkeypatch, argv, json.dumps(FR_HOTLINE))
    d = json.loads(out)
    assert (d["as_of"], d["default_applied"]) == ("2015-01-01", True)
    assert d["actions"] == [{"action": "human_review", "within_hours": None, "rule": "policyengine.default"}]


def test_a_request_with_its_own_date_keeps_it(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [json.dumps({**RU_KEYS, "as_of": "2020-02-02"}), json.dumps(RU_KEYS)]
    code, out, _ = run(capsys, monkeypatch, ["decide", "--requests", "-", "--as-of", "2015-01-01", *SET], "\n".join(lines) + "\n")
    assert code == 0
    assert [json.loads(line)["as_of"] for line in out.splitlines()] == ["2020-02-02", "2015-01-01"]


@pytest.mark.parametrize("command", ["decide", "explain"])
def test_markets_and_standing_demands_say_their_date(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    code, out, _ = run(capsys, monkeypatch, [command, "-j", "RU", "--as-of", "2016-03-04", *SET])
    assert code == 0
    assert out.splitlines()[2].startswith("  as of 2016-03-04, counted (")
    code, out, _ = run(capsys, monkeypatch, [command, "-j", "RU", "--as-of", "2016-03-04", "--format", "json", *SET])
    market: dict[str, Any] = json.loads(out)
    assert market["as_of"] == "2016-03-04"
    assert {d["as_of"] for d in market["decisions"]} == {"2016-03-04"}
    assert all(isinstance(d["actions"], list) for d in market["decisions"])
    assert set(market["counted"]) | {c["demand"] for c in market["context"]} == {d["demand"] for d in market["decisions"]}
    demand = market["decisions"][0]["demand"]
    code, out, _ = run(
        capsys, monkeypatch, [command, "-j", "RU", "-d", demand, "--as-of", "2016-03-04", "--format", "json", *SET]
    )
    assert json.loads(out)["as_of"] == "2016-03-04"


def test_explaining_the_default_names_what_was_considered_and_what_would_decide(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, monkeypatch, ["explain", "--request", "-", *SET], json.dumps(FR_HOTLINE))
    assert code == 0
    assert "principles considered (no rule of theirs matched): due_process" in out
    assert "what would decide it (the smallest changes of the demand):" in out
    assert "would comply if legal_basis = court_order (by due_process.court_order)" in out
    assert "human_review (by policyengine.default)" in out
    code, out, _ = run(capsys, monkeypatch, ["decide", "--request", "-", *SET], json.dumps(FR_HOTLINE))
    assert "  principles considered: due_process" in out.splitlines()
    assert "  actions: human_review (by policyengine.default)" in out.splitlines()


def test_matrix_and_diff_take_the_date(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(capsys, monkeypatch, ["matrix", "--format", "json", "--as-of", "2015-01-01", "--kinds", "hotline", *SET])
    assert code == 0
    matrix = json.loads(out)
    assert matrix["as_of"] == "2015-01-01"
    cells = [row["cells"]["hotline"] for row in matrix["rows"]]
    assert all(
        c["actions"] == [{"action": "human_review", "within_hours": None, "rule": "policyengine.default"}]
        for c in cells
        if c["default_applied"]
    )
    code, out, _ = run(capsys, monkeypatch, ["diff", str(DATA), str(DATA), "--format", "json", "--as-of", "2015-01-01"])
    assert code == 0
    assert json.loads(out)["as_of"] == "2015-01-01"
    code, out, _ = run(capsys, monkeypatch, ["diff", str(DATA), str(DATA), "--as-of", "2015-01-01"])
    assert "standing demands and markets as of 2015-01-01" in out
