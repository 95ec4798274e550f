"""Regression: "did you mean" hints made validation quadratic (found by the fuzzing linear-time test).

A set with n misspelled references to n declared names asked difflib to
compare n² pairs; 300 misspelled group names took about four seconds to
check.  Validation now spends a bounded budget of comparisons per run: the
first errors keep their hints, every error is still reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from policyengine.language import validate
from policyengine.language.pipeline import analyse


def misspelled_groups(n: int) -> str:
    groups = "".join(f'group GROUP{i} "g" {{ }}\n' for i in range(n))
    places = "".join(f'jurisdiction {chr(65 + i // 26)}{chr(65 + i % 26)} "n" in GRUOP{i} {{ }}\n' for i in range(n))
    return groups + places


def test_hint_work_is_bounded(policy_dir: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[int] = []
    real = validate._did_you_mean

    def counting(name: str, candidates: Iterable[str]) -> str | None:
        pool = list(candidates)
        compared.append(len(pool))
        return real(name, pool)

    monkeypatch.setattr(validate, "_did_you_mean", counting)
    _, diagnostics = analyse(policy_dir(misspelled_groups(300)))
    unknown = [d for d in diagnostics if d.code == "PE208"]
    assert len(unknown) == 300  # every error reported
    assert sum(compared) <= validate.HINT_BUDGET
    assert unknown[0].hint == "did you mean `GROUP0`?"  # the first ones keep their guess
    assert unknown[-1].hint is not None  # the rest still say what exists


def test_budget_is_per_validation(policy_dir: Callable[..., Path]) -> None:
    root = policy_dir(misspelled_groups(300))
    analyse(root)
    _, again = analyse(root)
    assert next(d for d in again if d.code == "PE208").hint == "did you mean `GROUP0`?"
    # Outside a validation there is no budget at all.
    many = [f"GROUP{i}" for i in range(validate.HINT_BUDGET + 1)]
    assert validate.did_you_mean("GROUP4999x", many) == "did you mean `GROUP4999`?"
