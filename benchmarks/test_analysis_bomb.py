"""The analysis bomb of issue 12 (point 3): 18 boolean attributes, each with its own rule.

Before the demand space was split into independent parts, ``lint`` on this
2 KB file took 144 s and 3.5 GB, and ``diff`` and what-if grew the same way.
Each benchmark records the classes its analysis built (``extra_info``), so a
regression shows as a count as well as a time.  The star-shaped variant (every
rule also tests ``f0``) is one group that falls apart once ``f0`` is known (two
regions); the chain (rule ``i`` tests flags ``i`` and ``i+1``) is one group
that never falls apart, the case the construction does not help with: it
measures how fast the default budget stops it.
"""

from __future__ import annotations

from typing import Any

import pytest

from policyengine.analysis.budget import Budget
from policyengine.analysis.diff import diff_engines
from policyengine.analysis.lint import lint
from policyengine.analysis.whatif import what_if
from policyengine.evaluation.engine import Engine
from policyengine.language.pipeline import analyse_sources
from policyengine.language.source import Source

OUTCOMES = ("comply", "negotiate", "withdraw")


def _flags(n: int, star: bool = False, changed: int | None = None, chain: bool = False) -> str:
    lines = ["vocabulary {", *(f'    attribute demand.f{i}: bool = false "flag {i}"' for i in range(n)), "}"]
    lines += ['jurisdiction FR "France" { rule_of_law = 0.72 }', 'principle p "P" {']
    for i in range(1 if star else 0, n - 1 if chain else n):
        outcome = "withdraw" if i == changed else OUTCOMES[i % 3]
        test = f"demand.f0 and demand.f{i}" if star else f"demand.f{i} and demand.f{i + 1}" if chain else f"demand.f{i}"
        lines.append(f'    rule r{i}: {outcome} when {test} because "flag {i}"')
    return "\n".join([*lines, "}"]) + "\n"


def _engine(text: str) -> Engine:
    policy_set, diagnostics = analyse_sources([Source("bomb.policy", text)])
    assert policy_set is not None, [str(d) for d in diagnostics]
    return Engine(policy_set)


def test_lint_bomb(benchmark: Any) -> None:
    engine = _engine(_flags(18))
    report = benchmark.pedantic(lint, args=(engine.compiled,), rounds=3, iterations=1)
    assert report.incomplete is None
    benchmark.extra_info.update(cells=report.space.cell_count(), classes_built=report.space.meter.classes)  # type: ignore[union-attr]


def test_lint_star_bomb(benchmark: Any) -> None:
    engine = _engine(_flags(18, star=True))
    report = benchmark.pedantic(lint, args=(engine.compiled,), rounds=3, iterations=1)
    assert report.incomplete is None
    benchmark.extra_info.update(cells=report.space.cell_count(), classes_built=report.space.meter.classes)  # type: ignore[union-attr]


def test_lint_chain_bomb_stops_at_the_default_budget(benchmark: Any) -> None:
    engine = _engine(_flags(20, chain=True))
    report = benchmark.pedantic(lint, args=(engine.compiled,), rounds=1, iterations=1)
    assert report.incomplete is not None
    benchmark.extra_info["limit"] = report.incomplete.limit


@pytest.mark.parametrize("changed", [None, 3], ids=["itself", "one-rule-changed"])
def test_diff_bomb(benchmark: Any, changed: int | None) -> None:
    before = _engine(_flags(18))
    after = _engine(_flags(18, changed=changed))
    diff = benchmark.pedantic(diff_engines, args=(before, after, Budget.unlimited()), rounds=1, iterations=1)
    assert diff.incomplete is None
    benchmark.extra_info["changes"] = len(diff.changes)


def test_what_if_bomb(benchmark: Any) -> None:
    engine = _engine(_flags(18))
    request = {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "fraud", "legal_basis": "court_order"}}
    w = benchmark.pedantic(what_if, args=(engine, request), rounds=3, iterations=1)
    assert w.incomplete is None
