"""The analysis on the new kinds: dates partition like numbers (runs of days), texts and lists
of texts are opaque, and lint, diff, matrix and what-if take them without a crash; PE412 on
actions that a conflict declaration says contradict."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from policyengine.analysis.lint import lint
from policyengine.analysis.space import partition
from policyengine.cli import main
from policyengine.evaluation.compile import compile_policy
from policyengine.language import ast
from policyengine.language.model import AttributeType, Kind
from policyengine.language.pipeline import analyse_sources
from policyengine.language.source import Source

ISSUED = AttributeType("demand", "issued", Kind.DATE, unknown_allowed=True)
DAY = datetime.date


def _cmp(op: str, day: DAY) -> ast.Comparison:
    """``demand.issued OP DAY`` as the language builds it (the standard vocabulary declares `issued`)."""
    text = f'principle p "P" {{\n    rule r:\n        comply when demand.issued {op} {day.isoformat()}\n        because "x"\n}}\n'
    policy_set, diagnostics = analyse_sources([Source("t.policy", text)])
    assert policy_set is not None, [str(d) for d in diagnostics]
    condition = policy_set.rules[0].condition
    assert isinstance(condition, ast.Comparison)
    return condition


def test_dates_split_into_days_and_runs_of_days() -> None:
    classes = partition(ISSUED, [_cmp("<", DAY(2017, 7, 1)), _cmp(">=", DAY(2019, 1, 1))])
    described = [c.describe() for c in classes]
    assert described == [
        "issued < 2017-07-01",
        "issued >= 2017-07-01 and issued < 2019-01-01",
        "issued >= 2019-01-01",
        "issued is unknown",
    ]
    before, between, after, unknown = classes
    assert DAY(2017, 6, 30) in before and DAY(2017, 7, 1) not in before and DAY(2017, 7, 1) in between
    assert DAY(2018, 12, 31) in between and DAY(2019, 1, 1) in after and None in unknown
    assert isinstance(before.representative, DAY) and before.representative < DAY(2017, 7, 1)
    assert classes[1].to_json()["intervals"] == [
        {"low": "2017-07-01", "high": "2018-12-31", "low_included": True, "high_included": True}
    ]


def test_two_consecutive_days_leave_no_empty_run() -> None:
    classes = partition(ISSUED, [_cmp("==", DAY(2020, 1, 1)), _cmp("==", DAY(2020, 1, 2))])
    assert [c.describe() for c in classes] == [
        "issued < 2020-01-01 or issued >= 2020-01-03",
        "issued = 2020-01-01",
        "issued = 2020-01-02",
        "issued is unknown",
    ]


DATED = """
jurisdiction FR "France" { rule_of_law = 0.72 }
principle recent "Old orders are reviewed again" {
    rule old_order:
        negotiate when demand.kind == user_data and demand.issued < 2020-01-01
        because "an order from before 2020 is reviewed again"
    rule new_order:
        comply when demand.kind == user_data and demand.issued >= 2020-01-01 and demand.legal_basis == court_order
        because "a recent court order"
        actions human_review within 24h, notify_user when not demand.gag_order
}
"""


def _set(tmp_path: Path, text: str, name: str = "set") -> Path:
    root = tmp_path / name
    root.mkdir()
    (root / "main.policy").write_text(text, encoding="utf-8")
    return root


def test_lint_diff_matrix_and_what_if_take_dates_and_texts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _set(tmp_path, DATED)
    assert main(["lint", str(root), "--format", "json"]) == 0
    capsys.readouterr()
    changed = _set(tmp_path, DATED.replace("2020-01-01", "2021-01-01"), "changed")
    assert main(["diff", str(root), str(changed), "--format", "json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    moved = {c["demand"] for c in diff["changes"]}
    assert any("issued >= 2020-01-01 and issued < 2021-01-01" in m for m in moved), moved
    assert main(["matrix", str(root), "--format", "json", "--set", "issued=2021-05-05", "--set", "sources=a citation"]) == 0
    cells = json.loads(capsys.readouterr().out)["rows"][0]["cells"]
    assert cells["user_data"]["outcome"] == "comply"
    assert main(["matrix", str(root), "--set", "issued=05.05.2021"]) == 2
    assert "is a date written YYYY-MM-DD" in capsys.readouterr().err
    request = {
        "jurisdiction": "FR",
        "demand": {
            "kind": "user_data",
            "category": "fraud",
            "legal_basis": "court_order",
            "issued": "2019-03-01",
            "sources": ["one", "two"],
            "instrument": "an order",
        },
    }
    monkeypatch.setattr(
        "sys.stdin", __import__("io").TextIOWrapper(__import__("io").BytesIO(json.dumps(request).encode()), encoding="utf-8")
    )
    assert main(["decide", "--request", "-", "--what-if", "--format", "json", str(root)]) == 0
    found = json.loads(capsys.readouterr().out)
    comply = next(a for a in found["alternatives"] if a["outcome"] == "comply")
    assert any("issued >= 2020-01-01" in c["summary"] for c in comply["changes"]), comply


def _lint(text: str) -> list[str]:
    policy_set, diagnostics = analyse_sources([Source("main.policy", text)])
    assert policy_set is not None, [str(d) for d in diagnostics]
    return [d.message for d in lint(compile_policy(policy_set)).findings if d.code == "PE412"]


BASE = 'jurisdiction FR "France" { rule_of_law = 0.72 }\n'


def test_pe412_an_action_and_a_flag() -> None:
    rule = (
        'principle p "P" {{\n    rule r:\n        comply when demand.kind == user_data\n'
        '        because "x"\n        actions {actions}\n}}\n'
    )
    assert len(_lint(BASE + rule.format(actions="notify_user"))) == 1
    assert _lint(BASE + rule.format(actions="notify_user when not demand.gag_order")) == []
    # An action whose condition is unknown is kept by the engine, so it counts.
    unknown = 'vocabulary {\n    attribute demand.consent: bool or unknown "the user agreed"\n}\n'
    assert len(_lint(BASE + unknown + rule.format(actions="notify_user when demand.consent"))) == 1


def test_pe412_two_actions_of_two_rules_deciding_together() -> None:
    text = (
        BASE
        + """
vocabulary {
    conflict preserve_only, emergency_disclosure "an emergency disclosure hands the data over; preserving only does not"
}
principle a "A" {
    rule keep:
        comply when demand.kind == user_data
        because "kept"
        actions preserve_only
}
principle b "B" {
    rule hurry:
        comply when demand.kind == user_data and demand.emergency
        because "lives"
        actions emergency_disclosure within 1h
    rule later:
        negotiate when demand.kind == user_data and demand.legal_basis == informal
        because "no order"
        actions emergency_disclosure
}
"""
    )
    found = _lint(text)
    assert len(found) == 1, found
    assert "`b.hurry` asks for `emergency_disclosure`" in found[0]
    assert "emergency = true" in found[0]
