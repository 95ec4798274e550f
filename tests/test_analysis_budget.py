"""The analysis budget and the independent parts of the demand space (issue 12, point 3).

The reproduction: a 2 KB file of 18 boolean attributes, each with its own
rule, made ``lint`` take 144 s and 3.5 GB, and ``diff`` and what-if grew the
same way.  Attributes that no rule tests together are now split apart (the
space is a product of independent parts, never built), and every analysis
runs within a budget of classes, seconds and memory; past it the analysis
says it is incomplete (PE411, exit code 4) instead of looking clean.  These
tests assert class counts and the incomplete flag, never seconds.
"""

from __future__ import annotations

import itertools
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policyengine.analysis import budget as budget_module
from policyengine.analysis.budget import Budget
from policyengine.analysis.diff import diff_engines
from policyengine.analysis.lint import lint
from policyengine.analysis.space import demand_space
from policyengine.analysis.whatif import what_if
from policyengine.cli import main
from policyengine.cli.common import ExitCode
from policyengine.evaluation.engine import Engine
from policyengine.language.pipeline import analyse_sources
from policyengine.language.source import Source

OUTCOMES = ("comply", "negotiate", "withdraw")


def flags(n: int, outcome: Callable[[int], str] = lambda i: OUTCOMES[i % 3], star: bool = False, chain: bool = False) -> str:
    """``n`` boolean attributes, one rule each.  ``star``: every rule also tests ``f0`` (one group,
    which falls apart once ``f0`` is known); ``chain``: rule ``i`` tests ``f{i}`` and ``f{i+1}``
    (one group that never falls apart: its classes grow about 1.8 times per flag)."""
    lines = ["vocabulary {"]
    lines += [f'    attribute demand.f{i}: bool = false "flag {i}"' for i in range(n)]
    lines += ["}", 'jurisdiction FR "France" { rule_of_law = 0.72 }', 'principle p "P" {']
    for i in range(1 if star else 0, n - 1 if chain else n):
        test = f"demand.f0 and demand.f{i}" if star else f"demand.f{i} and demand.f{i + 1}" if chain else f"demand.f{i}"
        lines.append(f'    rule r{i}: {outcome(i)} when {test}\n        because "flag {i}"')
    lines.append("}")
    return "\n".join(lines) + "\n"


def engine_of(text: str) -> Engine:
    policy_set, diagnostics = analyse_sources([Source("main.policy", text)])
    assert policy_set is not None, [str(d) for d in diagnostics]
    return Engine(policy_set)


BOMB = flags(18)


def test_the_bomb_is_the_reported_size() -> None:
    assert len(BOMB.encode()) < 2_100


def test_the_flag_bomb_lints_exactly_without_building_the_product() -> None:
    engine = engine_of(BOMB)
    tracemalloc.start()
    try:
        report = lint(engine.compiled)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    space = report.space
    assert report.incomplete is None
    assert not [d for d in report.findings if d.code == "PE411"]
    kinds = len(space.kinds)
    # 2^18 classes per kind, exactly, from 18 parts of two leaves and the part of decided rules.
    assert space.cell_count() == 2**18 * kinds
    assert all(len(b.parts) == 19 and [len(p) for p in b.parts[1:]] == [2] * 18 for b in space.blocks)
    assert space.meter is not None and space.meter.classes < 40 * kinds
    assert peak < 500 * 1_048_576
    # Only the demand with every flag false falls through to the default.
    uncovered = [d for d in report.findings if d.code == "PE404" and d.span.path != "main.policy"]
    assert uncovered and all(f"1 of {2**18} classes" in d.message for d in uncovered)


def test_jurisdictions_told_apart_only_by_code_are_compared_without_the_product() -> None:
    """PE405 compares the jurisdictions of a family on the classes where they differ, not on all 2^18."""
    text = BOMB.replace(
        'jurisdiction FR "France" { rule_of_law = 0.72 }',
        'jurisdiction FR "France" { rule_of_law = 0.72 }\n'
        'jurisdiction RU "Russia" { rule_of_law = 0.37 }\njurisdiction BY "Belarus" { rule_of_law = 0.37 }',
    ).replace(
        'principle p "P" {',
        'principle p "P" {\n    rule ru: withdraw when jurisdiction.code == RU and demand.kind == channel_block because "RU"',
    )
    report = lint(engine_of(text).compiled, budget=Budget(max_classes=20_000, max_seconds=None, max_memory_mb=None))
    assert report.incomplete is None
    found = [d for d in report.findings if d.code == "PE405"]
    assert len(found) == 1 and "`p.ru` decides `RU` unlike `BY`" in found[0].message


def test_the_flag_bomb_diffs_against_itself_without_building_the_product() -> None:
    engine = engine_of(BOMB)
    meter_budget = Budget(max_classes=50_000, max_seconds=None, max_memory_mb=None)
    diff = diff_engines(engine, engine_of(BOMB), meter_budget)
    assert diff.incomplete is None and not diff.decisions_changed


def test_a_change_in_one_part_of_the_bomb_lists_exactly_the_classes_it_moves() -> None:
    before = engine_of(flags(10))
    # r3 now withdraws: it moves every class where f3 holds and no other withdraw rule does.
    after = engine_of(flags(10, lambda i: "withdraw" if i == 3 else OUTCOMES[i % 3]))
    diff = diff_engines(before, after)
    assert diff.incomplete is None
    kinds = len(demand_space(before.compiled).kinds)
    others_withdraw = [i for i in range(10) if i % 3 == 2]
    free = 10 - 1 - len(others_withdraw)
    assert len(diff.changes) == 2**free * kinds
    for c in diff.changes[:: max(1, len(diff.changes) // 40)]:
        demand: dict[str, Any] = {"kind": c.kind, "category": "criminal_suspect", "legal_basis": "court_order"}
        demand.update({a.name: a.representative for a in c.demand})
        request = {"jurisdiction": "FR", "demand": demand}
        assert before.decide(request).outcome.value == c.before.outcome
        assert after.decide(request).outcome.value == c.after.outcome == "withdraw"


def test_the_flag_bomb_what_if_completes() -> None:
    engine = engine_of(BOMB)
    request = {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "fraud", "legal_basis": "court_order"}}
    w = what_if(engine, request)
    assert w.incomplete is None
    comply = w.alternative("comply")
    assert comply is not None and {c.attributes[0].attribute for c in comply.changes} == {
        f"demand.f{i}" for i in range(18) if i % 3 == 0
    }


# --- past the budget -------------------------------------------------------------------------

CHAIN = flags(10, chain=True)  # one part of 357 classes per kind


def test_rules_that_share_one_attribute_are_split_on_it_first() -> None:
    """18 rules `f0 and fN`: one group, which falls apart once f0 is known: 2 regions per kind, not 2^17 leaves."""
    engine = engine_of(flags(18, star=True))
    report = lint(engine.compiled, budget=Budget(max_classes=5_000, max_seconds=None, max_memory_mb=None))
    space = report.space
    assert report.incomplete is None
    assert len(space.blocks) == 2 * len(space.kinds)
    assert space.cell_count() == (2**17 + 1) * len(space.kinds)
    assert all(c.attribute == "demand.f0" for b in space.blocks for c in b.prefix)


def test_lint_past_its_budget_is_incomplete_not_clean(
    policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = policy_dir(CHAIN.replace('principle p "P" {', '# lint: allow PE402 — reviewed\nprinciple p "P" {'))
    assert main(["lint", str(root), "--max-classes", "500"]) == ExitCode.INCOMPLETE
    out = capsys.readouterr().out
    assert "PE411" in out and "analysis incomplete: stopped after 500 demand classes" in out
    assert "--max-classes 5000" in out
    assert main(["lint", str(root), "--max-classes", "500", "--format", "json"]) == ExitCode.INCOMPLETE
    codes = {d["code"] for d in json.loads(capsys.readouterr().out)["diagnostics"]}
    # The checks of decisions were not made: none of their findings, and the directive for one is not "unused".
    assert "PE411" in codes and not codes & {"PE401", "PE402", "PE403", "PE404", "PE405", "PE410"}
    assert main(["lint", str(root), "--max-classes", "500", "--strict"]) == ExitCode.INCOMPLETE
    capsys.readouterr()
    assert main(["lint", str(root)]) == ExitCode.OK
    assert "PE411" not in capsys.readouterr().out
    assert main(["lint", str(root), "--max-classes", "0", "--format", "json"]) == ExitCode.OK
    assert "PE411" not in capsys.readouterr().out


def test_the_time_and_memory_limits_stop_an_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = engine_of(CHAIN)
    report = lint(engine.compiled, budget=Budget(max_classes=None, max_seconds=0, max_memory_mb=None))
    assert report.incomplete is not None and report.incomplete.limit == "seconds"
    assert [d.code for d in report.findings if d.code == "PE411"] == ["PE411"]
    grown = iter(itertools.count(100, 50))
    monkeypatch.setattr(budget_module, "_rss_mb", lambda: float(next(grown)))
    report = lint(engine.compiled, budget=Budget(max_classes=None, max_seconds=None, max_memory_mb=200))
    assert report.incomplete is not None and report.incomplete.limit == "memory"
    assert "--max-memory 400" in report.incomplete.hint


def test_diff_past_its_budget_says_so(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    old = policy_dir(flags(10))
    new = policy_dir(flags(10, lambda i: "withdraw" if i == 3 else OUTCOMES[i % 3]))
    assert main(["diff", str(old), str(new), "--max-classes", "400"]) == ExitCode.INCOMPLETE
    out = capsys.readouterr().out
    assert "analysis incomplete" in out and "no decision changes" not in out
    assert main(["diff", str(old), str(new), "--max-classes", "400", "--fail-on-change"]) == ExitCode.POLICY_ERRORS
    capsys.readouterr()
    assert main(["diff", str(old), str(old), "--max-classes", "400", "--format", "json"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["incomplete"] is None
    assert main(["diff", str(old), str(new), "--max-classes", "400", "--format", "json"]) == ExitCode.INCOMPLETE
    body = json.loads(capsys.readouterr().out)
    assert body["incomplete"]["message"].startswith("analysis incomplete") and body["changes"]


def wide(n: int) -> str:
    """``n`` enumeration attributes, each tested by one comply rule on hotlines; withdraw needs two changes."""
    lines = ["vocabulary {", "    enum level { v0, v1, v2, v3, v4, v5 }"]
    lines += [f'    attribute demand.a{i}: level = v0 "a{i}"' for i in range(n)]
    lines += ["}", 'jurisdiction FR "France" { rule_of_law = 0.72 }', 'principle p "P" {']
    lines += [f'    rule c{i}: comply when demand.a{i} == v5 and demand.kind == hotline because "c"' for i in range(n)]
    lines += ['    rule w: withdraw when demand.a0 == v1 and demand.a1 == v1 because "w"', "}"]
    return "\n".join(lines) + "\n"


def test_what_if_past_its_budget_says_so(
    policy_dir: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = wide(30)
    request = {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "fraud", "legal_basis": "court_order"}}
    engine = engine_of(text)
    full = what_if(engine, request, budget=Budget.unlimited())
    assert full.incomplete is None
    cut = what_if(engine, request, budget=Budget(max_classes=50))
    assert cut.incomplete is not None and cut.incomplete.startswith("analysis incomplete")
    # What a stopped search reports is true, only not all of it.
    for alt in cut.alternatives:
        done = full.alternative(alt.outcome)
        assert done is not None and {c.summary for c in alt.changes} <= {c.summary for c in done.changes}
    root = policy_dir(text)
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request), encoding="utf-8")
    assert main(["decide", str(root), "--request", str(path), "--what-if", "--format", "json", "--max-classes", "50"]) == 4
    assert json.loads(capsys.readouterr().out)["incomplete"].startswith("analysis incomplete")
    assert main(["decide", str(root), "--request", str(path), "--what-if", "--max-classes", "50", "--fail-on", "negotiate"]) == 3
    assert "analysis incomplete" in capsys.readouterr().out
    assert main(["decide", str(root), "--request", str(path), "--what-if"]) == ExitCode.OK


@pytest.mark.parametrize("flag", ["--max-classes", "--max-seconds", "--max-memory"])
@pytest.mark.parametrize("value", ["-1", "many", "nan"])
def test_a_bad_budget_is_a_usage_error(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    if flag == "--max-classes" and value == "nan":
        value = "1.5"
    assert main(["lint", flag, value]) == ExitCode.USAGE
    assert flag in capsys.readouterr().err


# --- the parts against brute force -----------------------------------------------------------


@st.composite
def flag_sets(draw: st.DrawFn) -> str:
    """Rules over six flags, each testing one or two of them, so the space falls into several parts
    (and, with rules on `f0 and fN`, into regions split on `f0`)."""
    n = 6
    rules = []
    for k in range(draw(st.integers(1, 6))):
        outcome = draw(st.sampled_from(OUTCOMES))
        a = draw(st.integers(0, n - 1))
        b = draw(st.integers(0, n - 1))
        shape = draw(st.sampled_from(["one", "and", "or", "not", "hub", "hub"]))
        test = {
            "one": f"demand.f{a}",
            "hub": f"demand.f0 and demand.f{a}",
            "and": f"demand.f{a} and not demand.f{b}",
            "or": f"(demand.f{a} or demand.f{b})",
            "not": f"not demand.f{a}",
        }[shape]
        if draw(st.booleans()):
            test += " and demand.kind == hotline"
        rules.append(f'    rule r{k}: {outcome} when {test} because "x"')
    lines = ["vocabulary {", *(f'    attribute demand.f{i}: bool = false "f"' for i in range(n)), "}"]
    lines += ['jurisdiction FR "France" { rule_of_law = 0.72 }', 'principle p "P" {', *rules, "}"]
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None)
@given(text=flag_sets())
def test_findings_on_parts_agree_with_deciding_every_demand(text: str) -> None:
    """PE401–PE404, counts included, worked out on parts, against every demand decided."""
    policy_set, diagnostics = analyse_sources([Source("main.policy", text)])
    if policy_set is None:
        assert all(d.code == "PE212" for d in diagnostics if d.is_error)
        return
    engine = Engine(policy_set)
    report = lint(engine.compiled)
    assert report.incomplete is None
    matched: dict[str, set[tuple[object, ...]]] = {r.qualified: set() for r in policy_set.rules}
    decided: set[str] = set()
    uncovered: dict[str, int] = {}
    kinds = policy_set.vocabulary.enums["kind"]
    for kind in kinds:
        for combo in itertools.product((True, False), repeat=6):
            demand: dict[str, Any] = {"kind": kind, "category": "fraud", "legal_basis": "court_order"}
            demand.update({f"f{i}": v for i, v in enumerate(combo)})
            d = engine.decide({"jurisdiction": "FR", "demand": demand})
            for r in (*d.reasons, *d.outranked):
                matched[r.qualified].add((kind, combo))
            decided.update(r.qualified for r in d.reasons)
            if d.default_applied:
                uncovered[kind] = uncovered.get(kind, 0) + 1
    subjects: dict[str, set[str]] = {}
    for f in report.findings:
        subjects.setdefault(f.code, set()).add(f.message.split("`")[1])
    assert subjects.get("PE401", set()) == {q for q, m in matched.items() if not m}
    assert subjects.get("PE402", set()) == {q for q, m in matched.items() if m and q not in decided}
    rules = {r.qualified: r for r in policy_set.rules}
    duplicates = {
        b
        for a, b in itertools.combinations(sorted(matched), 2)
        if matched[a] and matched[a] == matched[b] and rules[a].outcome == rules[b].outcome
    }
    assert subjects.get("PE403", set()) == duplicates
    assert subjects.get("PE404", set()) == set(uncovered)
    space = report.space
    # Cells stand for classes of demands: every uncovered demand lies in an uncovered cell, and the counts agree.
    for kind in uncovered:
        cells = [c for c in space.cells if c.kind == kind]
        members = {
            combo
            for combo in itertools.product((True, False), repeat=6)
            if any(not c.matched and c.contains("FR", {"kind": kind, **{f"f{i}": v for i, v in enumerate(combo)}}) for c in cells)
        }
        assert len(members) == uncovered[kind]
        message = next(d.message for d in report.findings if d.code == "PE404" and d.message.split("`")[1] == kind)
        n_cells = sum(1 for c in cells if not c.matched)
        assert f"{n_cells} of {len(cells)} classes" in message or "no rule decides" in message
