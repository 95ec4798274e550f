"""`.ci/run` enforces the habits of the brief, not only the tests (issue 13, point 8).

The script must run, after the test suite, `ruff check`, `ruff format --check` and
`mypy --strict policyengine/`; the two ruff checks are also run here, since they take a second
and a tree that fails them fails CI.  (mypy takes minutes on a cold cache: CI runs it.)
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "run"


def commands() -> list[str]:
    """The script's command lines, comments and blank lines left out."""
    lines = SCRIPT.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_ci_runs_the_suite_then_lint_format_and_types() -> None:
    lines = commands()
    assert "set -euo pipefail" in lines  # a failing check fails the run
    wanted = ["ruff check policyengine tests", "ruff format --check policyengine tests", "mypy --strict policyengine/"]
    suite = next(i for i, line in enumerate(lines) if line.endswith("&& pytest"))
    found = [lines.index(command) for command in wanted]
    assert found == sorted(found) and found[0] > suite, lines


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is in the dev extra")
@pytest.mark.parametrize("argv", [["check"], ["format", "--check"]], ids=" ".join)
def test_the_tree_passes_ruff(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *argv, "policyengine", "tests"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
