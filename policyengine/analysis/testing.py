"""Run the ``test`` blocks of a policy set and measure rule coverage.

Stage contract: :func:`run_tests` takes a loaded :class:`~policyengine.engine.Engine`
(so the policy set has already been validated: every jurisdiction, standing
demand and rule a test names exists) and returns a :class:`TestReport`.  It
decides through the engine's public methods only — ``standing``, ``decide``
and ``market`` — so a test exercises exactly what an embedding application
would get.  It never raises on author input: a demand the engine refuses
becomes an expectation with status ``error``.

Expectations (``ast.StandingExpectation``, ``InlineExpectation``,
``MarketExpectation``):

* ``RU.fsb_keys -> withdraw [by P.R | by default]`` decides the standing
  demand, inherited group demands included;
* ``FR { kind = …; … } -> comply [by …]`` decides a demand built from the
  assignments for FR;
* ``market RU -> withdraw`` checks the market outcome.

An expectation passes when the outcome matches and, when ``by P.R`` is given,
rule P.R is among the decision's reasons (``by default``: the default
applied).  Naming one deciding rule is enough when several decide: a test
pins the rule it is about without breaking each time another principle
starts to agree.

Coverage follows ``opa test --coverage``: a rule is *exercised* when its
condition held in at least one decision made by the run (it is a reason or
was outranked) and *deciding* when it was a reason at least once.  Market
expectations count through every standing demand they decide.  Coverage is
exercised rules over all rules; a policy set without rules is fully
covered, as there is nothing left untested.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..evaluation.compile import literal_value
from ..evaluation.decide import RequestError
from ..evaluation.decision import Decision, MarketDecision, Outcome
from ..language import ast

if TYPE_CHECKING:
    from ..evaluation.engine import Engine

Status = Literal["passed", "failed", "error"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExpectationResult(_Frozen):
    """One line of a test block, run."""

    kind: Literal["standing", "inline", "market"]
    text: str = Field(description="the expectation in one line, as an author would write it")
    location: str = Field(description="`path:line:col` of the expectation")
    status: Status
    expected: Outcome
    expected_by: str | None = Field(default=None, description="`principle.rule`, `default`, or null when no `by` was given")
    actual: Outcome | None = Field(default=None, description="the outcome decided; null when the demand could not be decided")
    actual_by: tuple[str, ...] = Field(default=(), description="the deciding rules (for a market: the decisive demands)")
    default_applied: bool = False
    message: str = Field(default="", description="why it did not pass; empty when it passed")
    decision: Decision | MarketDecision | None = Field(default=None, exclude=True)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class TestResult(_Frozen):
    """A ``test "name" { … }`` block: it passes when every expectation does."""

    __test__ = False  # not a pytest test class, whatever its name says

    name: str
    location: str = Field(description="`path:line:col` of the test block")
    status: Status
    expectations: tuple[ExpectationResult, ...]

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def failures(self) -> tuple[ExpectationResult, ...]:
        return tuple(e for e in self.expectations if not e.passed)


class RuleCoverage(_Frozen):
    rule: str = Field(description="`principle.rule`")
    outcome: Outcome
    location: str = Field(description="`path:line:col` of the rule")
    exercised: int = Field(description="decisions in which its condition held (as a reason or outranked)")
    deciding: int = Field(description="decisions in which it was a reason")


class Coverage(_Frozen):
    rules: tuple[RuleCoverage, ...]
    total: int
    exercised: int
    deciding: int
    percent: float = Field(description="exercised rules / all rules × 100 (100 when there are no rules)")

    @property
    def never_exercised(self) -> tuple[RuleCoverage, ...]:
        return tuple(r for r in self.rules if r.exercised == 0)

    @property
    def never_deciding(self) -> tuple[RuleCoverage, ...]:
        return tuple(r for r in self.rules if r.deciding == 0)

    def meets(self, minimum: float) -> bool:
        """Whether coverage is at least ``minimum`` percent, compared exactly
        (``percent`` is rounded for display, and 79.996 is not 80)."""
        return self.total == 0 or self.exercised * 100 >= minimum * self.total


class TestReport(_Frozen):
    __test__ = False

    policy_version: str
    filter: str | None = Field(default=None, description="the --run substring, when one was given")
    tests: tuple[TestResult, ...]
    passed: int
    failed: int
    expectations: int
    coverage: Coverage

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def to_json(self) -> dict[str, object]:
        """The JSON shape of ``policyengine test --format json``.

        Failing expectations carry the decision that failed them, so that a
        CI log explains itself; passing ones do not, to keep the output small.
        """
        data = self.model_dump(mode="json")
        data["coverage"]["never_exercised"] = [r.rule for r in self.coverage.never_exercised]
        data["coverage"]["never_deciding"] = [r.rule for r in self.coverage.never_deciding]
        for t_json, t in zip(data["tests"], self.tests):
            for e_json, e in zip(t_json["expectations"], t.expectations):
                if not e.passed and e.decision is not None:
                    e_json["decision"] = e.decision.model_dump(mode="json")
        return data


# --- writing expectations back as text -------------------------------------------------


def literal_text(lit: ast.Literal) -> str:
    """A literal as an author writes it (``user_data``, ``0.6``, ``"x"``, ``true``)."""
    if isinstance(lit, ast.Number):
        return lit.text
    if isinstance(lit, ast.Text):
        return '"' + lit.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(lit, ast.Bool):
        return "true" if lit.value else "false"
    if isinstance(lit, ast.Unknown):
        return "unknown"
    if isinstance(lit, ast.Date):
        return lit.text
    if isinstance(lit, ast.TextList):
        return "[" + ", ".join(literal_text(i) for i in lit.items) + "]"
    return lit.name


def _by_text(by: ast.DecidedBy | None) -> str | None:
    if by is None:
        return None
    if by.is_default:
        return "default"
    assert by.principle is not None and by.rule is not None
    return f"{by.principle.name}.{by.rule.name}"


def expectation_text(exp: ast.Expectation) -> str:
    """One-line form of an expectation, used in reports whatever its layout in the file."""
    if isinstance(exp, ast.MarketExpectation):
        return f"market {exp.jurisdiction.name} -> {exp.outcome}"
    if isinstance(exp, ast.StandingExpectation):
        head = f"{exp.jurisdiction.name}.{exp.demand.name}"
    else:
        inside = "; ".join(f"{a.name.name} = {literal_text(a.value)}" for a in exp.assignments)
        head = f"{exp.jurisdiction.name} {{ {inside} }}"
    by = _by_text(exp.decided_by)
    return f"{head} -> {exp.outcome}" + (f" by {by}" if by else "")


# --- running ---------------------------------------------------------------------------


class _Tally:
    """Counts, per rule, the decisions in which it held and in which it decided."""

    def __init__(self, rules: Iterable[str]):
        self.exercised = dict.fromkeys(rules, 0)
        self.deciding = dict.fromkeys(self.exercised, 0)

    def add(self, decision: Decision) -> None:
        # Only rules of the policy set count: the engine's own reason for an
        # unknown jurisdiction is not a rule anybody wrote.
        for r in decision.reasons:
            if r.qualified in self.exercised:
                self.exercised[r.qualified] += 1
                self.deciding[r.qualified] += 1
        for r in decision.outranked:
            if r.qualified in self.exercised:
                self.exercised[r.qualified] += 1


def _check_decision(exp: ast.StandingExpectation | ast.InlineExpectation, d: Decision) -> tuple[Status, str]:
    deciders = [r.qualified for r in d.reasons]
    if d.outcome.value != exp.outcome:
        return "failed", f"expected {exp.outcome}, got {d.outcome.value}" + _decided_by(d)
    by = exp.decided_by
    if by is None:
        return "passed", ""
    if by.is_default:
        if d.default_applied:
            return "passed", ""
        return "failed", f"expected the default to apply, but it was decided by {', '.join(deciders)}"
    wanted = _by_text(by)
    if wanted in deciders:
        return "passed", ""
    if d.default_applied:
        return "failed", f"expected {exp.outcome} by {wanted}, but no rule matched (the default applied)"
    outranked = [r.qualified for r in d.outranked]
    note = " (it matched but was outranked)" if wanted in outranked else ""
    return "failed", f"expected {exp.outcome} by {wanted}, but it was decided by {', '.join(deciders)}{note}"


def _decided_by(d: Decision) -> str:
    if d.default_applied and not d.reasons:
        return " (no rule matched: the default applied)"
    return f" (decided by {', '.join(r.qualified for r in d.reasons)})"


def _run_expectation(engine: Engine, exp: ast.Expectation, tally: _Tally) -> ExpectationResult:
    text = expectation_text(exp)
    location = exp.span.location()
    expected = Outcome(exp.outcome)
    if isinstance(exp, ast.MarketExpectation):
        try:
            m = engine.market(exp.jurisdiction.name)
        except RequestError as err:
            return ExpectationResult(
                kind="market", text=text, location=location, status="error", expected=expected, message=str(err)
            )
        for standing in m.decisions:
            tally.add(standing)
        ok = m.outcome is expected
        return ExpectationResult(
            kind="market",
            text=text,
            location=location,
            status="passed" if ok else "failed",
            expected=expected,
            actual=m.outcome,
            actual_by=m.decisive,
            message="" if ok else f"expected {exp.outcome}, got {m.outcome.value}: {m.summary.split(': ', 1)[-1]}",
            decision=m,
        )
    kind: Literal["standing", "inline"] = "standing" if isinstance(exp, ast.StandingExpectation) else "inline"
    expected_by = _by_text(exp.decided_by)
    try:
        if isinstance(exp, ast.StandingExpectation):
            d = engine.standing(exp.jurisdiction.name, exp.demand.name)
        else:
            demand = {a.name.name: literal_value(a.value) for a in exp.assignments}
            d = engine.decide({"jurisdiction": exp.jurisdiction.name, "demand": demand})
    except RequestError as err:
        return ExpectationResult(
            kind=kind,
            text=text,
            location=location,
            status="error",
            expected=expected,
            expected_by=expected_by,
            message=f"the demand could not be decided: {err}",
        )
    tally.add(d)
    status, message = _check_decision(exp, d)
    return ExpectationResult(
        kind=kind,
        text=text,
        location=location,
        status=status,
        expected=expected,
        expected_by=expected_by,
        actual=d.outcome,
        actual_by=tuple(r.qualified for r in d.reasons),
        default_applied=d.default_applied,
        message=message,
        decision=d,
    )


def _status(results: Iterable[ExpectationResult]) -> Status:
    statuses = {r.status for r in results}
    if "error" in statuses:
        return "error"
    return "failed" if "failed" in statuses else "passed"


def run_tests(engine: Engine, name_filter: str | None = None) -> TestReport:
    """Run every test block whose name contains ``name_filter`` (all when None).

    Tests run in the policy set's order (by file, then position), which does
    not depend on the order the files were given in; coverage counts only
    the decisions made by the tests that ran.
    """
    policy_set = engine.policy_set
    tally = _Tally(r.qualified for r in policy_set.rules)
    results: list[TestResult] = []
    for test in policy_set.tests:
        name = test.description.value
        if name_filter is not None and name_filter not in name:
            continue
        expectations = tuple(_run_expectation(engine, exp, tally) for exp in test.expectations)
        location = test.span.location()
        results.append(TestResult(name=name, location=location, status=_status(expectations), expectations=expectations))
    rules = tuple(
        RuleCoverage(
            rule=r.qualified,
            outcome=Outcome(r.outcome),
            location=r.span.location(),
            exercised=tally.exercised[r.qualified],
            deciding=tally.deciding[r.qualified],
        )
        for r in policy_set.rules
    )
    exercised = sum(1 for r in rules if r.exercised)
    coverage = Coverage(
        rules=rules,
        total=len(rules),
        exercised=exercised,
        deciding=sum(1 for r in rules if r.deciding),
        percent=round(100.0 * exercised / len(rules), 2) if rules else 100.0,
    )
    passed = sum(1 for t in results if t.passed)
    return TestReport(
        policy_version=engine.version,
        filter=name_filter,
        tests=tuple(results),
        passed=passed,
        failed=len(results) - passed,
        expectations=sum(len(t.expectations) for t in results),
        coverage=coverage,
    )
