"""`policyengine test` and policyengine.analysis.testing: expectations, `by` checks, markets, coverage."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import policyengine
from policyengine.analysis.testing import TestReport, expectation_text, run_tests
from policyengine.cli import main

BASE = """\
vocabulary {
    attribute demand.users: number from 0 to 1000000000 or unknown "how many users the demand covers"
}

principle encryption "We never weaken encryption" {
    rule no_keys: withdraw when demand.kind in {key_disclosure, encryption_backdoor}
        because "handing over {demand.kind} would expose every user"
}

principle lawful "We help lawful investigations" {
    rule court_orders: comply when demand.kind == user_data and demand.legal_basis == court_order
        because "a judge ordered it"
    rule weak_courts: negotiate when demand.kind == user_data and jurisdiction.rule_of_law < 0.5
        because "courts in {jurisdiction.name} are not independent"
    rule mass_requests: withdraw when demand.kind == user_data and demand.mandatory and demand.users > 1000
        because "a mandatory demand for {demand.users} users is mass surveillance"
    rule hotline_csam: comply when demand.kind == hotline and demand.category == csam
        because "child safety"
    rule never_used: comply when demand.kind == transparency_report
        because "transparency builds trust"
}

group EU "European Union" {
    rule_of_law = 0.7
    demand csam_hotline "Open a hotline for abuse reports" { kind = hotline; category = csam; legal_basis = statute }
}
jurisdiction FR "France" in EU { }
jurisdiction RU "Russia" {
    rule_of_law = 0.3
    demand fsb_keys "Hand over the keys" {
        kind = key_disclosure; category = all_users; legal_basis = statute; mandatory = true
    }
}
"""

PASSING = """\
test "everything as expected" {
    RU.fsb_keys -> withdraw by encryption.no_keys
    FR.csam_hotline -> comply by lawful.hotline_csam
    RU { kind = user_data; category = criminal_suspect; legal_basis = court_order } -> negotiate by lawful.weak_courts
    FR { kind = channel_block; category = terrorism; legal_basis = court_order } -> negotiate by default
    FR { kind = user_data; category = fraud; legal_basis = statute; mandatory = true; users = 5000 }
        -> withdraw by lawful.mass_requests
    market RU -> withdraw
}
"""

FAILING = """\
test "wrong outcome" {
    FR { kind = channel_block; category = terrorism; legal_basis = court_order } -> comply
}
test "wrong rule" {
    FR { kind = user_data; category = criminal_suspect; legal_basis = court_order } -> comply by encryption.no_keys
}
test "outranked rule" {
    RU { kind = user_data; category = criminal_suspect; legal_basis = court_order } -> negotiate by lawful.court_orders
}
test "not the default" {
    RU { kind = user_data; category = criminal_suspect; legal_basis = court_order } -> negotiate by default
}
test "wrong market" {
    RU.fsb_keys -> withdraw
    market FR -> withdraw
}
"""

MakeDir = Callable[..., Path]


def _engine(policy_dir: MakeDir, tests: str) -> policyengine.Engine:
    return policyengine.load(policy_dir({"base.policy": BASE, "tests.policy": tests}))


def _report(policy_dir: MakeDir, tests: str, name_filter: str | None = None) -> TestReport:
    return run_tests(_engine(policy_dir, tests), name_filter)


# --- the runner ---------------------------------------------------------------------------


def test_passing_expectations_of_every_kind(policy_dir: MakeDir) -> None:
    report = _report(policy_dir, PASSING)
    assert report.ok and (report.passed, report.failed, report.expectations) == (1, 0, 6)
    (test,) = report.tests
    assert test.name == "everything as expected"
    assert test.location == "tests.policy:1:1"
    kinds = [e.kind for e in test.expectations]
    assert kinds == ["standing", "standing", "inline", "inline", "inline", "market"]
    assert all(e.passed and e.message == "" for e in test.expectations)
    # The inherited group demand is decided for the member.
    hotline = test.expectations[1]
    assert hotline.actual_by == ("lawful.hotline_csam",)
    default = test.expectations[3]
    assert default.default_applied and default.actual_by == () and default.expected_by == "default"
    market = test.expectations[5]
    assert market.actual_by == ("fsb_keys",)


def test_inline_literals_are_typed(policy_dir: MakeDir) -> None:
    """`mandatory = true` and `users = 5000` reach the engine as a bool and a number:
    as text they would be rejected and the rule could not hold."""
    report = _report(policy_dir, PASSING)
    mass = report.tests[0].expectations[4]
    assert mass.status == "passed"
    assert mass.decision is not None and not isinstance(mass.decision, policyengine.MarketDecision)
    assert mass.decision.request["mandatory"] is True
    assert mass.decision.request["users"] == 5000.0


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("wrong outcome", "expected comply, got negotiate (no rule matched: the default applied)"),
        ("wrong rule", "expected comply by encryption.no_keys, but it was decided by lawful.court_orders"),
        (
            "outranked rule",
            "expected negotiate by lawful.court_orders, but it was decided by lawful.weak_courts (it matched but was outranked)",
        ),
        ("not the default", "expected the default to apply, but it was decided by lawful.weak_courts"),
        ("wrong market", "expected withdraw, got comply: every standing demand can be complied with"),
    ],
)
def test_failures_are_detected_and_explained(policy_dir: MakeDir, name: str, message: str) -> None:
    report = _report(policy_dir, FAILING)
    result = next(t for t in report.tests if t.name == name)
    assert result.status == "failed"
    (failure,) = result.failures
    assert failure.message == message
    assert failure.decision is not None


def test_one_failing_expectation_fails_the_test(policy_dir: MakeDir) -> None:
    report = _report(policy_dir, FAILING)
    market = next(t for t in report.tests if t.name == "wrong market")
    assert [e.status for e in market.expectations] == ["passed", "failed"]
    assert market.expectations[1].actual == policyengine.Outcome.COMPLY
    assert (report.passed, report.failed) == (0, 5)


def test_coverage_counts_exercised_and_deciding_rules(policy_dir: MakeDir) -> None:
    cov = _report(policy_dir, PASSING).coverage
    by_rule = {r.rule: (r.exercised, r.deciding) for r in cov.rules}
    assert by_rule == {
        # the standing demand, and again through `market RU`
        "encryption.no_keys": (2, 2),
        # held for RU's court order but outranked by weak_courts
        "lawful.court_orders": (1, 0),
        "lawful.hotline_csam": (1, 1),
        "lawful.mass_requests": (1, 1),
        "lawful.never_used": (0, 0),
        "lawful.weak_courts": (1, 1),
    }
    assert (cov.total, cov.exercised, cov.deciding) == (6, 5, 4)
    assert cov.percent == 83.33
    assert [r.rule for r in cov.never_exercised] == ["lawful.never_used"]
    assert [r.rule for r in cov.never_deciding] == ["lawful.court_orders", "lawful.never_used"]
    assert cov.never_exercised[0].location == "base.policy:19:5"
    assert cov.meets(83.3) and not cov.meets(83.34)


def test_market_expectations_count_through_standing_demands(policy_dir: MakeDir) -> None:
    cov = _report(policy_dir, 'test "m" { market FR -> comply }').coverage
    assert [r.rule for r in cov.rules if r.exercised] == ["lawful.hotline_csam"]


def test_run_filter_selects_tests_and_their_coverage(policy_dir: MakeDir) -> None:
    report = _report(policy_dir, PASSING + FAILING, name_filter="market")
    assert [t.name for t in report.tests] == ["wrong market"]
    assert report.filter == "market"
    assert {r.rule for r in report.coverage.rules if r.exercised} == {"encryption.no_keys", "lawful.hotline_csam"}


def test_no_rules_is_full_coverage(policy_dir: MakeDir) -> None:
    engine = policyengine.load(policy_dir('jurisdiction FR "France" { }\ntest "t" { market FR -> comply }'))
    report = run_tests(engine)
    assert report.ok and report.coverage.percent == 100.0 and report.coverage.meets(100)


def test_expectation_text_is_one_line_whatever_the_layout(policy_dir: MakeDir) -> None:
    engine = _engine(policy_dir, PASSING)
    texts = [expectation_text(e) for e in engine.policy_set.tests[0].expectations]
    assert texts[4] == (
        "FR { kind = user_data; category = fraud; legal_basis = statute; mandatory = true; users = 5000 }"
        " -> withdraw by lawful.mass_requests"
    )
    assert texts[5] == "market RU -> withdraw"


def test_report_does_not_depend_on_file_order(policy_dir: MakeDir) -> None:
    root = policy_dir({"a.policy": BASE, "b.policy": PASSING, "c.policy": FAILING})
    paths = [root / "a.policy", root / "b.policy", root / "c.policy"]
    first = run_tests(policyengine.load([str(p) for p in paths])).to_json()
    second = run_tests(policyengine.load([str(p) for p in reversed(paths)])).to_json()
    assert first == second
    assert [t["name"] for t in first["tests"]][:2] == ["everything as expected", "wrong outcome"]


# --- the command --------------------------------------------------------------------------


def test_cli_all_pass_exits_0(policy_dir: MakeDir, capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir({"base.policy": BASE, "tests.policy": PASSING})
    assert main(["test", str(root)]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "everything as expected" in out and "tests.policy:1:1" in out
    assert "1 test: 1 passed, 0 failed (6 expectations)" in out
    assert "coverage: 83.33% of rules exercised (5 of 6), 4 deciding at least once" in out
    # The set lies outside the working directory: its files are named by absolute paths, which open from here.
    assert "never exercised (1):" in out and f"lawful.never_used  {root.resolve() / 'base.policy'}:19:5" in out
    assert "exercised but never deciding (1):" in out and f"lawful.court_orders  {root.resolve() / 'base.policy'}:11:5" in out


def test_cli_failure_exits_1_and_explains(policy_dir: MakeDir, capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir({"base.policy": BASE, "tests.policy": FAILING})
    assert main(["test", str(root), "--run", "wrong rule"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "wrong rule" in out and "tests.policy:4:1" in out
    shown = "✗ FR { kind = user_data; category = criminal_suspect; legal_basis = court_order } -> comply by encryption.no_keys"
    assert shown in out
    assert "expected comply by encryption.no_keys, but it was decided by lawful.court_orders" in out
    # the actual decision's explanation tree
    assert "decided by lawful.court_orders → comply" in out
    assert "because: a judge ordered it" in out
    assert "1 test: 0 passed, 1 failed" in out


def test_cli_verbose_lists_passing_expectations(policy_dir: MakeDir, capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir({"base.policy": BASE, "tests.policy": PASSING})
    assert main(["test", str(root), "-v"]) == 0
    assert "✓ market RU -> withdraw" in capsys.readouterr().out


@pytest.mark.parametrize(("minimum", "code"), [("83.3", 0), ("84", 1), ("0", 0)])
def test_cli_min_coverage(policy_dir: MakeDir, capsys: pytest.CaptureFixture[str], minimum: str, code: int) -> None:
    root = policy_dir({"base.policy": BASE, "tests.policy": PASSING})
    assert main(["test", str(root), "--min-coverage", minimum]) == code
    out = capsys.readouterr().out
    assert ("is below the required minimum" in out) is (code == 1)
    if code:
        assert "coverage 83.33% is below the required minimum of 84% (--min-coverage)" in out


@pytest.mark.parametrize("bad", ["120", "-1", "lots"])
def test_cli_min_coverage_must_be_a_percentage(policy_dir: MakeDir, capsys: pytest.CaptureFixture[str], bad: str) -> None:
    root = policy_dir({"base.policy": BASE, "tests.policy": PASSING})
    assert main(["test", str(root), f"--min-coverage={bad}"]) == 2
    assert "--min-coverage" in capsys.readouterr().err


def test_cli_coverage_table(policy_dir: MakeDir, capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir({"base.policy": BASE, "tests.policy": PASSING})
    assert main(["test", str(root), "--coverage"]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(n for n, line in enumerate(lines) if line.split()[:1] == ["encryption.no_keys"])
    assert lines[at].split()[:4] == ["encryption.no_keys", "withdraw", "2", "2"]
    # Outside the working directory the source is absolute: beside the rule, or under it when too wide.
    assert f"{root.resolve() / 'base.policy'}:6:5" in " ".join(lines[at : at + 2]).split()
    assert any(line.split()[:4] == ["lawful.never_used", "comply", "0", "0"] for line in lines)


def test_cli_json_shape(policy_dir: MakeDir, capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir({"base.policy": BASE, "tests.policy": PASSING + FAILING})
    assert main(["test", str(root), "--format", "json", "--min-coverage", "50"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"policy_version", "tests", "passed", "failed", "expectations", "coverage", "min_coverage", "coverage_ok"}
    assert (data["passed"], data["failed"], data["min_coverage"], data["coverage_ok"]) == (1, 5, 50, True)
    first = data["tests"][0]
    assert first["status"] == "passed" and first["location"] == "tests.policy:1:1"
    passing = first["expectations"][0]
    assert passing["expected"] == passing["actual"] == "withdraw"
    assert passing["expected_by"] == "encryption.no_keys" and "decision" not in passing
    failing = data["tests"][1]["expectations"][0]
    assert failing["status"] == "failed" and failing["expected"] == "comply" and failing["actual"] == "negotiate"
    assert failing["decision"]["default_applied"] is True
    cov = data["coverage"]
    # `wrong rule` makes court_orders decide for FR, so only never_used is idle
    assert (cov["total"], cov["exercised"], cov["deciding"], cov["percent"]) == (6, 5, 5, 83.33)
    assert cov["never_exercised"] == cov["never_deciding"] == ["lawful.never_used"]
    assert {r["rule"]: r["location"] for r in cov["rules"]}["encryption.no_keys"] == "base.policy:6:5"


def test_cli_policy_errors_exit_1(policy_dir: MakeDir, capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir({"base.policy": BASE, "tests.policy": 'test "t" { RU.no_such_demand -> withdraw }'})
    assert main(["test", str(root)]) == 1
    err = capsys.readouterr().err
    assert "tests.policy:1:15: error[PE210]" in err and "its tests were not run" in err
    assert main(["test", str(root), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["diagnostics"][0]["code"] == "PE210"


def test_cli_no_tests_is_a_failure(policy_dir: MakeDir, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(policy_dir({"base.policy": BASE}))]) == 1
    assert "no tests found" in capsys.readouterr().err


def test_cli_run_that_matches_nothing_is_a_usage_error(policy_dir: MakeDir, capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir({"base.policy": BASE, "tests.policy": PASSING})
    assert main(["test", str(root), "--run", "zzz"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "policyengine test: error: no test name contains `zzz`",
        "  hint: the set has 1 test; --run takes part of a test's name",
    ]


def test_shipped_library_tests_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert " 0 failed" in out and "coverage:" in out


def test_a_demand_the_engine_rejects_is_an_error_not_a_crash(
    policy_dir: MakeDir, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation makes this rare, but a runner must report, never raise."""

    def reject(self: policyengine.Engine, request: object, **options: object) -> policyengine.Decision:
        raise policyengine.RequestError("demand.kind", "is not acceptable today")

    monkeypatch.setattr(policyengine.Engine, "decide", reject)
    report = _report(policy_dir, PASSING)
    (test,) = report.tests
    assert test.status == "error" and report.failed == 1
    inline = test.expectations[2]
    assert inline.status == "error" and inline.actual is None
    assert inline.message == "the demand could not be decided: demand.kind: is not acceptable today"
    root = policy_dir({"base.policy": BASE, "tests.policy": PASSING})
    assert main(["test", str(root)]) == 1
    out = capsys.readouterr().out
    assert "ERROR" in out and "the demand could not be decided" in out
