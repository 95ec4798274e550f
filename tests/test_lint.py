"""Lint: every PE4xx code against its golden file and a near miss, directives, the CLI, the shipped library."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policyengine.analysis.budget import Budget
from policyengine.analysis.lint import ALLOWABLE, LintReport, comments, lint
from policyengine.cli import main
from policyengine.evaluation.compile import compile_policy
from policyengine.evaluation.engine import Engine
from policyengine.language.diagnostics import CODES, Diagnostic, Severity
from policyengine.language.pipeline import analyse, analyse_sources
from policyengine.language.render import render_plain
from policyengine.language.source import Source

GOLDEN = Path(__file__).parent / "golden" / "lint"
LINT_CODES = sorted(c for c in CODES if c.startswith("PE4"))
CASES = sorted(GOLDEN.glob("PE4*.policy"))


def lint_text(text: str, name: str = "main.policy", budget: Budget | None = None) -> LintReport:
    policy_set, diagnostics = analyse_sources([Source(name, text)])
    assert policy_set is not None, [str(d) for d in diagnostics]
    return lint(compile_policy(policy_set), budget=budget)


#: The PE411 golden case is linted with a small budget, so that it stops quickly and at the same place.
GOLDEN_BUDGET = {"PE411": Budget(max_classes=1_000)}


def own(report: LintReport, code: str, name: str) -> list[Diagnostic]:
    """Findings of ``code`` located in the file under test (not in the standard vocabulary)."""
    return [d for d in report.findings if d.code == code and d.span.path == name]


def test_every_lint_code_is_a_registered_warning() -> None:
    assert [f"PE4{n:02d}" for n in range(1, 13)] == LINT_CODES
    assert all(CODES[c].severity is Severity.WARNING for c in LINT_CODES)
    assert set(ALLOWABLE) <= set(LINT_CODES)


def test_every_lint_code_has_a_golden_case_and_a_near_miss() -> None:
    assert sorted(p.name[:5] for p in CASES) == LINT_CODES
    for case in CASES:
        assert case.with_suffix(".txt").exists(), f"{case.name}: run pytest --update-golden"
        assert (GOLDEN / "near_miss" / case.name).exists(), f"{case.name} has no near miss"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_golden(case: Path, update_golden: bool) -> None:
    code = case.name[:5]
    found = own(lint_text(case.read_text(encoding="utf-8"), case.name, GOLDEN_BUDGET.get(code)), code, case.name)
    assert found, f"{case.name} does not trigger {code}"
    rendered = "\n\n".join(render_plain(d) for d in found) + "\n"
    golden = case.with_suffix(".txt")
    if update_golden:
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", sorted((GOLDEN / "near_miss").glob("PE4*.policy")), ids=lambda p: p.stem)
def test_near_miss_does_not_trigger(case: Path) -> None:
    code = case.name[:5]
    report = lint_text(case.read_text(encoding="utf-8"), case.name)
    assert own(report, code, case.name) == []


# --- directives -------------------------------------------------------------------------

SHADOWED = """
jurisdiction FR "France" { rule_of_law = 0.72 }
principle a "A" {
%s    rule weak: comply when demand.kind == hotline because "x"
}
principle b "B" {
    rule strong: withdraw when demand.kind == hotline because "y"
}
"""


def test_a_directive_on_the_line_before_allows_the_finding_and_keeps_its_reason() -> None:
    report = lint_text(SHADOWED % "    # lint: allow PE402 — the explanation should name both principles\n")
    assert [d.code for d in report.findings if d.code in ("PE402", "PE410")] == []
    [(finding, mark)] = [(d, m) for d, m in report.allowed if d.code == "PE402"]
    assert "a.weak" in finding.message
    assert mark.reason == "the explanation should name both principles"


def test_a_directive_skips_blank_and_comment_lines_but_not_code() -> None:
    report = lint_text(SHADOWED % "    # lint: allow PE402 — deliberate\n\n    # more commentary\n")
    assert not [d for d in report.findings if d.code == "PE402"]


def test_a_trailing_directive_covers_its_own_line() -> None:
    rule = 'because "x"'
    text = (SHADOWED % "").replace(rule, rule + "  # lint: allow PE402 -- deliberate")
    report = lint_text(text)
    assert not [d for d in report.findings if d.code in ("PE402", "PE410")]


def test_a_directive_for_another_code_allows_nothing() -> None:
    report = lint_text(SHADOWED % "    # lint: allow PE403 — wrong code\n")
    assert sorted(d.code for d in report.findings if d.code in ("PE402", "PE410")) == ["PE402", "PE410"]


def test_a_directive_with_a_subject_works_from_anywhere() -> None:
    report = lint_text(SHADOWED % "" + "\n# lint: allow PE402 a.weak — deliberate\n# lint: allow PE404, PE407 kind.age — x\n")
    assert not [d for d in report.findings if d.code == "PE402"]
    assert [d.message for d in report.findings if d.code == "PE410"] == [
        "this lint directive allows nothing: no PE404/PE407 finding about `kind.age`"
    ]


def test_a_directive_without_a_reason_does_not_allow() -> None:
    report = lint_text(SHADOWED % "    # lint: allow PE402\n")
    assert sorted(d.code for d in report.findings if d.code in ("PE402", "PE409")) == ["PE402", "PE409"]


def test_hash_signs_inside_strings_are_not_comments() -> None:
    text = 'a "b # c" d # real\ne """x\n# y""" # z\n"\\" # q" # w'
    assert [body for _, body in comments(text)] == [" real", " z", " w"]


def test_findings_do_not_depend_on_file_order(policy_dir: Callable[..., Path]) -> None:
    parts = {
        "a.policy": 'jurisdiction FR "France" { rule_of_law = 0.72 }\n'
        'principle p "P" { rule r: comply when demand.kind == hotline because "x" }\n',
        "b.policy": 'principle q "Q" { rule s: withdraw when demand.kind == hotline because "y" }\nprinciple e "E" { }\n',
    }
    one = policy_dir(parts)
    two = policy_dir({"z" + k: v for k, v in parts.items()})

    def run(path: Path) -> list[tuple[str, str]]:
        ps, _ = analyse(path)
        assert ps is not None
        return [(d.code, d.message) for d in lint(compile_policy(ps)).findings]

    assert run(one) == run(two) != []


# --- the command ---------------------------------------------------------------------------


def test_cli_exit_codes(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    clean = policy_dir((GOLDEN / "PE406-empty-principle.policy").read_text().replace("principle transparency", "principle t"))
    assert main(["lint", str(clean), "--format", "plain"]) == 0
    out = capsys.readouterr().out
    assert "warning[PE406]" in out and "findings" in out
    assert main(["lint", str(clean), "--strict"]) == 1
    broken = policy_dir('principle p "P" { rule r: comply when demand.kynd == hotline because "x" }')
    assert main(["lint", str(broken)]) == 1
    assert "PE203" in capsys.readouterr().out


def test_cli_json_is_the_diagnostics_shape(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = policy_dir((GOLDEN / "PE405-jurisdiction-specific.policy").read_text())
    capsys.readouterr()
    assert main(["lint", str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["errors"] == 0
    [pe405] = [d for d in data["diagnostics"] if d["code"] == "PE405"]
    assert (pe405["line"], pe405["column"], pe405["severity"]) == (7, 10, "warning")


def test_cli_show_allowed(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = policy_dir(SHADOWED % "    # lint: allow PE402 — both principles should be named\n")
    capsys.readouterr()
    main(["lint", str(path), "--format", "plain", "--show-allowed"])
    out = capsys.readouterr().out
    assert "both principles should be named" in out and "1 allowed" in out


# --- the shipped library ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def library_report() -> LintReport:
    policy_set, diagnostics = analyse(None)
    assert policy_set is not None, [str(d) for d in diagnostics]
    return lint(compile_policy(policy_set))


def test_shipped_library_has_no_rule_that_never_matches(library_report: LintReport) -> None:
    assert [d.message for d in library_report.findings if d.code == "PE401"] == []


def test_shipped_library_directives_are_well_formed_and_used(library_report: LintReport) -> None:
    assert [str(d) for d in library_report.findings if d.code in ("PE409", "PE410")] == []


# --- exactness against brute force -------------------------------------------------------------

KINDS = ["key_disclosure", "channel_block", "user_data", "hotline", "transparency_report"]
CATEGORIES = ["terrorism", "fraud", "criminal_suspect", "peaceful_protest", "all_users"]


@st.composite
def conditions(draw: st.DrawFn, depth: int = 0) -> str:
    atoms = [
        st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True).map(lambda v: f"demand.kind in {{{', '.join(v)}}}"),
        st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3, unique=True).map(
            lambda v: f"demand.category not in {{{', '.join(v)}}}"
        ),
        st.sampled_from(["court_order", "statute"]).map(lambda v: f"demand.legal_basis == {v}"),
        st.sampled_from(["<", ">="]).flatmap(
            lambda op: st.sampled_from([0.4, 0.6]).map(lambda x: f"jurisdiction.rule_of_law {op} {x}")
        ),
        st.just("jurisdiction.rule_of_law is unknown"),
        st.just("demand.mandatory"),
        st.sampled_from(["RU", "FR"]).map(lambda c: f"jurisdiction.code == {c}"),
    ]
    if depth >= 2:
        return draw(st.one_of(atoms))
    shape = draw(st.sampled_from(["atom", "and", "or", "not"]))
    if shape == "atom":
        return draw(st.one_of(atoms))
    if shape == "not":
        return f"not ({draw(conditions(depth + 1))})"
    parts = draw(st.lists(conditions(depth + 1), min_size=2, max_size=3))
    return "(" + f" {shape} ".join(parts) + ")"


@st.composite
def policy_sets(draw: st.DrawFn) -> str:
    rules = draw(st.lists(st.tuples(st.sampled_from(["comply", "negotiate", "withdraw"]), conditions()), min_size=1, max_size=5))
    body = "\n".join(f'    rule r{n}: {outcome} when {cond} because "x"' for n, (outcome, cond) in enumerate(rules))
    return (
        'jurisdiction FR "France" { rule_of_law = 0.72 }\n'
        'jurisdiction RU "Russia" { rule_of_law = 0.37 }\n'
        'jurisdiction BY "Belarus" { rule_of_law = 0.37 }\n'
        'jurisdiction TW "Taiwan" { rule_of_law = unknown }\n'
        f'principle p "P" {{\n{body}\n}}\n'
    )


@settings(max_examples=25, deadline=None)
@given(text=policy_sets())
def test_rule_findings_agree_with_deciding_every_demand(text: str) -> None:
    """PE401, PE402, PE403 and PE404 against the decisions of every demand in every jurisdiction."""
    policy_set, diagnostics = analyse_sources([Source("main.policy", text)])
    if policy_set is None:  # a generated contradiction the validator rejects (PE212)
        assert all(d.code == "PE212" for d in diagnostics if d.is_error)
        return
    engine = Engine(policy_set)
    report = lint(engine.compiled)
    voc = policy_set.vocabulary
    matched: dict[str, set[tuple[object, ...]]] = {r.qualified: set() for r in policy_set.rules}
    decided: set[str] = set()
    uncovered: set[str] = set()
    for code in policy_set.jurisdictions:
        for kind, cat, lb, mandatory in itertools.product(
            voc.enums["kind"], voc.enums["category"], voc.enums["legal_basis"], (True, False)
        ):
            d = engine.decide(
                {"jurisdiction": code, "demand": {"kind": kind, "category": cat, "legal_basis": lb, "mandatory": mandatory}}
            )
            for r in (*d.reasons, *d.outranked):
                matched[r.qualified].add((code, kind, cat, lb, mandatory))
            decided.update(r.qualified for r in d.reasons)
            if d.default_applied:
                uncovered.add(kind)
    by_code: dict[str, set[str]] = {}
    for f in report.findings:
        subject = f.message.split("`")[1]
        by_code.setdefault(f.code, set()).add(subject)
    assert by_code.get("PE401", set()) == {q for q, m in matched.items() if not m}
    assert by_code.get("PE402", set()) == {q for q, m in matched.items() if m and q not in decided}
    rules = {r.qualified: r for r in policy_set.rules}
    duplicates = {
        b
        for a, b in itertools.combinations(sorted(matched), 2)
        if matched[a] and matched[a] == matched[b] and rules[a].outcome == rules[b].outcome
    }
    assert by_code.get("PE403", set()) == duplicates
    assert by_code.get("PE404", set()) == uncovered
