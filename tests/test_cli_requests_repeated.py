"""`decide --requests` answers a repeated line from its first copy: exactly the same output and exit code.

The stream keeps the serialised answer of each distinct line (cli/decide.py,
run_requests); reusing it must never change what a line gets, nor lose a
bad line's report or a --fail-on hit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from policyengine.cli import main

PolicyDir = Callable[..., Path]

TEXT = """
jurisdiction FR "France" { rule_of_law = 0.7 }
jurisdiction RU "Russia" { rule_of_law = 0.3 }
principle p "P" {
    rule keys: withdraw when demand.kind == key_disclosure because "keys stay with users"
    rule weak: negotiate when demand.kind == user_data and jurisdiction.rule_of_law < 0.5
        because "score {jurisdiction.rule_of_law}"
}
"""


def request(code: str, kind: str, **extra: object) -> dict[str, object]:
    return {"jurisdiction": code, "demand": {"kind": kind, "category": "fraud", "legal_basis": "statute", **extra}}


def test_repeated_lines_answer_like_their_first_copy(
    policy_dir: PolicyDir, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = policy_dir(TEXT)
    lines = [
        json.dumps(request("FR", "key_disclosure")),
        json.dumps(request("RU", "user_data")),
        '{"jurisdiction": "FR", "demand": {"kind": "nope"}}',
        "",
        json.dumps(request("RU", "user_data")),
        json.dumps(request("FR", "key_disclosure")),
        '{"jurisdiction": "FR", "demand": {"kind": "nope"}}',
    ]
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code = main(["decide", "--policies", str(root), "--requests", str(path), "--fail-on", "negotiate"])
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert code == 2  # two bad lines, each reported where it occurs
    assert [o.get("outcome") for o in out] == ["withdraw", "negotiate", None, "negotiate", "withdraw", None]
    assert out[0] == out[4] and out[1] == out[3]
    assert [o["line"] for o in out if "error" in o] == [3, 7]


def test_fail_on_is_seen_on_a_repeated_line(policy_dir: PolicyDir, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_text((json.dumps(request("RU", "user_data")) + "\n") * 3, encoding="utf-8")
    assert main(["decide", "--policies", str(policy_dir(TEXT)), "--requests", str(path), "--fail-on", "negotiate"]) == 3
    assert len(capsys.readouterr().out.splitlines()) == 3
