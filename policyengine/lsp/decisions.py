"""What the policy set decides, for hovers: standing demands, markets, test expectations.

Stage contract: a :class:`Decisions` wraps one :class:`~policyengine.evaluation.engine.Engine`
and answers through its public methods only (``standing``, ``market``,
``decide``), so a hover shows exactly what an embedding application or
``policyengine test`` would get.  It never raises: a demand the engine
refuses is None.  The table of every standing decision (which rules decide
what) is computed once per engine, on first use (~30 ms on the shipped
library).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..evaluation.compile import literal_value
from ..evaluation.decide import RequestError
from ..evaluation.decision import Decision, MarketDecision
from ..evaluation.engine import Engine
from ..language import ast


@dataclass(frozen=True)
class ExpectationCheck:
    """An expectation of a test, run: what was decided and whether it is what the test expects."""

    outcome: str
    decided_by: tuple[str, ...]
    default_applied: bool
    passed: bool
    summary: str


def decided_by(decision: Decision) -> tuple[str, ...]:
    return tuple(r.qualified for r in decision.reasons)


class Decisions:
    __slots__ = ("_table", "engine")

    def __init__(self, engine: Engine):
        self.engine = engine
        self._table: dict[tuple[str, str], Decision] | None = None

    def standing(self, code: str, demand: str) -> Decision | None:
        try:
            return self.engine.standing(code, demand)
        except RequestError:
            return None

    def market(self, code: str) -> MarketDecision | None:
        try:
            return self.engine.market(code)
        except RequestError:
            return None

    def table(self) -> dict[tuple[str, str], Decision]:
        """Every standing demand of every jurisdiction and group, decided."""
        if self._table is None:
            table: dict[tuple[str, str], Decision] = {}
            for code, j in self.engine.policy_set.jurisdictions.items():
                for d in j.demands:
                    found = self.standing(code, d.id)
                    if found is not None:
                        table[(code, d.id)] = found
            self._table = table
        return self._table

    def decided_by_rule(self, qualified: str) -> list[tuple[str, str]]:
        """``(jurisdiction, demand)`` of the standing demands that rule ``qualified`` decides."""
        return sorted(k for k, d in self.table().items() if qualified in decided_by(d))

    def expectation(self, exp: ast.Expectation) -> ExpectationCheck | None:
        """Run one test expectation as ``policyengine test`` does."""
        if isinstance(exp, ast.MarketExpectation):
            market = self.market(exp.jurisdiction.name)
            if market is None:
                return None
            return ExpectationCheck(market.outcome.value, (), False, market.outcome.value == exp.outcome, market.summary)
        if isinstance(exp, ast.StandingExpectation):
            decision = self.standing(exp.jurisdiction.name, exp.demand.name)
        elif isinstance(exp, ast.InlineExpectation):
            demand = {a.name.name: literal_value(a.value) for a in exp.assignments}
            request = {"jurisdiction": exp.jurisdiction.name, "demand": demand}
            try:
                decision = self.engine.decide(request)
            except RequestError:
                decision = None
        else:  # a kind of expectation this module does not know yet
            return None
        if decision is None:
            return None
        by = exp.decided_by
        passed = decision.outcome.value == exp.outcome
        if by is not None and passed:
            if by.is_default:
                passed = decision.default_applied
            elif by.principle is not None and by.rule is not None:
                passed = f"{by.principle.name}.{by.rule.name}" in decided_by(decision)
        return ExpectationCheck(decision.outcome.value, decided_by(decision), decision.default_applied, passed, decision.summary)
