"""policyengine diff: exact decision changes between two policy sets, directories or git revisions."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import policyengine
from policyengine.analysis.diff import ClassChange, PolicyDiff, diff_engines
from policyengine.cli import main
from policyengine.evaluation.engine import Engine
from policyengine.language.loader import default_policy_dir

BEFORE = """
jurisdiction FR "France" { rule_of_law = 0.72 }
jurisdiction DE "Germany" { rule_of_law = 0.83 }
jurisdiction GR "Greece" { rule_of_law = 0.6 }
jurisdiction GE "Georgia" {
    rule_of_law = 0.61
    demand suspects "Disclose suspects' data on court orders" {
        kind = user_data; category = criminal_suspect; legal_basis = court_order; mandatory = true
    }
}
jurisdiction HU "Hungary" { rule_of_law = 0.51 }
jurisdiction TW "Taiwan" { rule_of_law = unknown }
jurisdiction RU "Russia" {
    rule_of_law = 0.37
    demand fsb_keys "Hand over the keys" { kind = key_disclosure; category = all_users; legal_basis = statute; mandatory = true }
}

principle keys "Keys are never handed over" {
    rule no_keys: withdraw when demand.kind in {key_disclosure, traceability} because "never"
}
principle access "Suspects' data on a court order where the rule of law is strong" {
    rule court: comply when demand.kind == user_data and demand.category == criminal_suspect
        and demand.legal_basis == court_order and jurisdiction.rule_of_law >= 0.6
        because "a judge ordered it"
    rule weak: negotiate when demand.kind == user_data and jurisdiction.rule_of_law < 0.6
        because "weak"
}
"""

AFTER = BEFORE.replace("jurisdiction.rule_of_law >= 0.6", "jurisdiction.rule_of_law >= 0.7").replace(
    "jurisdiction.rule_of_law < 0.6", "jurisdiction.rule_of_law < 0.7"
)


def load(policy_dir: Callable[..., Path], text: str) -> Engine:
    return policyengine.load(policy_dir(text))


def contains(change: ClassChange, code: str, demand: dict[str, Any]) -> bool:
    return code in change.jurisdictions and demand["kind"] == change.kind and all(demand.get(c.name) in c for c in change.demand)


def brute_force(before: Engine, after: Engine, diff: PolicyDiff) -> None:
    """Every (jurisdiction, demand) whose outcome differs is in exactly one listed change, and nothing else is."""
    voc = before.policy_set.vocabulary
    names = ("kind", "category", "legal_basis")
    for code in before.policy_set.jurisdictions:
        for combo in itertools.product(*(voc.enums[n] for n in names), (True, False)):
            demand: dict[str, Any] = {**dict(zip(names, combo)), "mandatory": combo[-1]}
            request = {"jurisdiction": code, "demand": demand}
            a, b = before.decide(request), after.decide(request)
            listed = [c for c in diff.changes if contains(c, code, demand)]
            if a.outcome == b.outcome:
                assert listed == [], (code, demand)
            else:
                assert len(listed) == 1, (code, demand)
                assert (listed[0].before.outcome, listed[0].after.outcome) == (a.outcome.value, b.outcome.value)


def test_a_threshold_change_moves_exactly_the_jurisdictions_between_the_thresholds(policy_dir: Callable[..., Path]) -> None:
    before, after = load(policy_dir, BEFORE), load(policy_dir, AFTER)
    diff = diff_engines(before, after)
    [change] = diff.changes
    assert change.jurisdictions == ("GE", "GR")
    assert change.describe_demand() == "kind = user_data, category = criminal_suspect, legal_basis = court_order"
    assert (change.before.outcome, change.before.rules) == ("comply", ("access.court",))
    assert (change.after.outcome, change.after.rules) == ("negotiate", ("access.weak",))
    assert diff.summary() == ["2 jurisdictions: `user_data` from comply to negotiate (1 demand class): GE, GR"]
    assert [(s.jurisdiction, s.demand, s.before and s.before.outcome, s.after and s.after.outcome) for s in diff.standing] == [
        ("GE", "suspects", "comply", "negotiate")
    ]
    assert [(m.jurisdiction, m.before, m.after) for m in diff.markets] == [("GE", "comply", "negotiate")]
    assert diff.rules_changed == ("access.court", "access.weak")
    brute_force(before, after, diff)


def test_no_change_is_no_change(policy_dir: Callable[..., Path]) -> None:
    engine = load(policy_dir, BEFORE)
    diff = diff_engines(engine, load(policy_dir, BEFORE + "\n# a comment changes nothing\n"))
    assert not diff.decisions_changed and diff.changes == () and diff.summary() == []


def test_added_rule_jurisdiction_and_value(policy_dir: Callable[..., Path]) -> None:
    after_text = (
        BEFORE
        + 'vocabulary { extend enum kind { age_verification "check ages" } }\n'
        + 'jurisdiction JP "Japan" { rule_of_law = 0.78 }\n'
        + 'principle hotlines "Hotlines" {\n'
        + '    rule terror: comply when demand.kind == hotline and demand.category == terrorism because "x"\n}\n'
    )
    before, after = load(policy_dir, BEFORE), load(policy_dir, after_text)
    diff = diff_engines(before, after)
    assert diff.rules_added == ("hotlines.terror",)
    assert diff.jurisdictions_added == ("JP",)
    assert [(m.jurisdiction, m.before, m.after) for m in diff.markets] == [("JP", None, "comply")]
    assert any("age_verification" in note for note in diff.vocabulary)
    assert {c.kind for c in diff.changes} == {"hotline"}
    assert all(c.after.rules == ("hotlines.terror",) and c.before.rules == () for c in diff.changes)
    assert sorted(itertools.chain.from_iterable(c.jurisdictions for c in diff.changes)) == sorted(before.policy_set.jurisdictions)
    brute_force(before, after, diff)


def test_a_changed_score_moves_only_that_jurisdiction(policy_dir: Callable[..., Path]) -> None:
    before = load(policy_dir, BEFORE)
    hungary = 'jurisdiction HU "Hungary" { rule_of_law = 0.51 }'
    after = load(policy_dir, BEFORE.replace(hungary, hungary.replace("0.51", "0.65")))
    diff = diff_engines(before, after)
    assert {c for ch in diff.changes for c in ch.jurisdictions} == {"HU"}
    brute_force(before, after, diff)


# --- the command -----------------------------------------------------------------------------


def test_cli_two_directories(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    old, new = policy_dir(BEFORE), policy_dir(AFTER)
    assert main(["diff", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert "2 jurisdictions: `user_data` from comply to negotiate (1 demand class): GE, GR" in out
    assert "GE.suspects: comply (access.court) → negotiate (access.weak)" in out
    assert main(["diff", str(old), str(new), "--fail-on-change"]) == 1
    capsys.readouterr()
    assert main(["diff", str(old), str(old), "--fail-on-change"]) == 0
    assert "no decision changes" in capsys.readouterr().out


def test_cli_json(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(policy_dir(BEFORE)), str(policy_dir(AFTER)), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    [change] = data["changes"]
    assert change["jurisdictions"] == ["GE", "GR"]
    assert change["before"] == {"outcome": "comply", "decided_by": ["access.court"], "default_applied": False}
    assert [a["attribute"] for a in change["attributes"]] == ["demand.category", "demand.legal_basis"]
    assert data["decisions_changed"] is True
    assert data["markets"] == [{"jurisdiction": "GE", "before": "comply", "after": "negotiate"}]


def test_cli_usage_and_policy_errors(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(policy_dir(BEFORE))]) == 2
    broken = policy_dir('principle p "P" { rule r: comply when demand.kynd == hotline because "x" }')
    assert main(["diff", str(policy_dir(BEFORE)), str(broken)]) == 1
    assert "PE203" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_cli_git_revisions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    policies = repo / "policies"
    policies.mkdir(parents=True)
    (policies / "main.policy").write_text(BEFORE, encoding="utf-8")
    (repo / "README").write_text("not a policy\n", encoding="utf-8")

    def git(*args: str) -> None:
        who = ["-c", "user.name=t", "-c", "user.email=t@example.org"]
        subprocess.run(["git", *who, *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "v1")
    (policies / "main.policy").write_text(AFTER, encoding="utf-8")
    # Working tree against HEAD.
    assert main(["diff", "--git", "HEAD", str(policies), "--fail-on-change"]) == 1
    assert "GE, GR" in capsys.readouterr().out
    git("commit", "-q", "-am", "v2")
    # Two revisions; the working tree is now v2 as well.
    assert main(["diff", "--git", "HEAD~1..HEAD", str(policies), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["changes"][0]["jurisdictions"] == ["GE", "GR"]
    assert main(["diff", "--git", "HEAD", str(policies), "--fail-on-change"]) == 0
    capsys.readouterr()
    assert main(["diff", "--git", "no-such-revision", str(policies)]) == 2
    assert "no-such-revision" in capsys.readouterr().err
    assert main(["diff", "--git", "--output=/tmp/x", str(policies)]) == 2
    capsys.readouterr()
    # A revision with errors is named as the user named it, not by the temporary checkout.
    (policies / "main.policy").write_text('principle p "P" { rule r: comply when demand.kynd == hotline because "x" }')
    git("commit", "-q", "-am", "v3 (broken)")
    (policies / "main.policy").write_text(AFTER, encoding="utf-8")
    assert main(["diff", "--git", "HEAD", str(policies)]) == 1
    assert f"the old policy set ({policies}@HEAD) has errors" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_cli_git_outside_a_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "main.policy").write_text(BEFORE, encoding="utf-8")
    assert main(["diff", "--git", "HEAD", str(tmp_path)]) == 2
    assert "error" in capsys.readouterr().err


# --- the shipped library ---------------------------------------------------------------------------


def test_library_threshold_change_moves_exactly_the_jurisdictions_in_between(tmp_path: Path) -> None:
    """Raise the rule-of-law cut-off for user data by 0.05 in a copy of the library: exactly the
    jurisdictions scoring between the old and the new cut-off move, and only for user data."""
    copy = tmp_path / "policies"
    shutil.copytree(default_policy_dir(), copy)
    pattern = re.compile(r"(jurisdiction\.rule_of_law\s*(?:>=|<)\s*)(\d+(?:\.\d+)?)")
    changed: list[float] = []
    for path in copy.rglob("*.policy"):
        text = path.read_text(encoding="utf-8")
        if "court_order" not in text or not pattern.search(text):
            continue

        def bump(m: re.Match[str]) -> str:
            changed.append(float(m.group(2)))
            return f"{m.group(1)}{float(m.group(2)) + 0.05:g}"

        path.write_text(pattern.sub(bump, text), encoding="utf-8")
    assert changed and len(set(changed)) == 1, "expected one rule-of-law threshold in the library"
    low = changed[0]
    before, after = policyengine.load(), policyengine.load(copy)
    diff = diff_engines(before, after)
    scores = {c: j.attrs.get("rule_of_law") for c, j in before.policy_set.jurisdictions.items()}
    # Only where the overall score was the one thing between comply and review:
    # automatic disclosure also needs WJP factors 1 and 4 at 0.6 (Georgia, at
    # 0.60 overall, is reviewed before and after for its 0.52 on factor 1).
    factors = ("constraints_on_government_powers", "fundamental_rights")
    strong = {
        c
        for c, j in before.policy_set.jurisdictions.items()
        if all(isinstance(j.attrs.get(f), float) and j.attrs[f] >= 0.6 for f in factors)  # type: ignore[operator]
    }
    expected = {c for c, s in scores.items() if isinstance(s, float) and low <= s < low + 0.05 and c in strong}
    assert expected, "no jurisdiction scores between the thresholds; pick another step"
    moved = {c for ch in diff.changes for c in ch.jurisdictions}
    assert moved == expected
    assert {ch.kind for ch in diff.changes} == {"user_data"}
    assert {(ch.before.outcome, ch.after.outcome) for ch in diff.changes} == {("comply", "negotiate")}
    assert {s.jurisdiction for s in diff.standing} <= expected
    assert {m.jurisdiction for m in diff.markets} <= expected
