"""Golden files: every diagnostic code, rendered plain and as JSON, pinned.

Each case in tests/golden/diagnostics/ is either ``PEnnn-<slug>.policy`` (a
policy file that triggers the code) or ``PEnnn-<slug>.recipe.json`` (for
load-level codes: the files to write, byte by byte when needed, and the
paths to give).  The case runs through ``policyengine check`` exactly as an
author would run it, and its output is compared with ``PEnnn-<slug>.txt``
(``--format plain``) and ``PEnnn-<slug>.json`` (``--format json``).

``pytest --update-golden`` rewrites the expected files; review them as a git
diff.  A registry test fails when a code of ``diagnostics.CODES`` has no
case (lint codes, PE4xx, have theirs in tests/golden/lint/).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from policyengine.cli import main
from policyengine.language.diagnostics import CODES

GOLDEN = Path(__file__).parent / "golden" / "diagnostics"
LINT_GOLDEN = Path(__file__).parent / "golden" / "lint"
STORE_GOLDEN = Path(__file__).parent / "golden" / "store"
CASES = sorted([*GOLDEN.glob("PE*.policy"), *GOLDEN.glob("PE*.recipe.json")])


def _case_name(path: Path) -> str:
    return path.name.removesuffix(".recipe.json").removesuffix(".policy")


def _write_recipe(recipe: dict[str, Any], root: Path) -> list[str]:
    """Create the files a recipe describes under ``root``; return the paths to check."""
    for name, spec in recipe.get("files", {}).items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(spec, str):
            target.write_bytes(spec.encode("utf-8"))
        elif "hex" in spec:
            target.write_bytes(bytes.fromhex(spec["hex"]))
        elif "repeat" in spec:
            target.write_bytes(spec["repeat"].encode("utf-8") * spec["times"])
        elif "symlink" in spec:
            target.symlink_to(spec["symlink"])
        elif spec.get("fifo"):
            if not hasattr(os, "mkfifo"):
                pytest.skip("no FIFOs on this platform")
            os.mkfifo(target)
        else:  # pragma: no cover - a mistake in a recipe
            raise AssertionError(f"unknown file spec {spec!r}")
    return list(recipe["args"])


def _run(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """Run `check` on the case from its own directory (so paths in the output are stable)."""
    if case.name.endswith(".recipe.json"):
        args = _write_recipe(json.loads(case.read_text(encoding="utf-8")), tmp_path)
        monkeypatch.chdir(tmp_path)
    else:
        args = [case.name]
        monkeypatch.chdir(case.parent)
    outputs = []
    for fmt in ("plain", "json"):
        main(["check", *args, "--format", fmt])
        captured = capsys.readouterr()
        assert captured.err == ""
        outputs.append(captured.out)
    return outputs[0], outputs[1]


def _compare(path: Path, actual: str, update: bool) -> None:
    if update or not path.exists():
        path.write_text(actual, encoding="utf-8")
        if not update:
            pytest.fail(f"{path.name} did not exist; written: review it and commit it")
        return
    assert actual == path.read_text(encoding="utf-8"), f"{path.name} differs (run pytest --update-golden and review the diff)"


@pytest.mark.parametrize("case", CASES, ids=_case_name)
def test_golden(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], update_golden: bool
) -> None:
    plain, as_json = _run(case, tmp_path, monkeypatch, capsys)
    code = case.name[:5]
    document = json.loads(as_json)
    codes = [d["code"] for d in document["diagnostics"]]
    assert code in codes, f"{case.name} does not produce {code}: {codes}"
    # The plain and JSON renderings report the same diagnostics, in the same order.
    heads = [line for line in plain.splitlines() if "]: " in line and ("error[" in line or "warning[" in line)]
    assert [h.split("[", 1)[1][:5] for h in heads] == codes
    _compare(GOLDEN / f"{_case_name(case)}.txt", plain, update_golden)
    _compare(GOLDEN / f"{_case_name(case)}.json", as_json, update_golden)


def test_every_code_has_a_golden_case() -> None:
    covered = {case.name[:5] for case in CASES}
    lint_covered = {p.name[:5] for p in LINT_GOLDEN.glob("PE4*.policy")} if LINT_GOLDEN.is_dir() else set()
    # Codes only a PolicyStore reload reports have their goldens in tests/golden/store/.
    covered |= {p.name[:5] for p in STORE_GOLDEN.glob("PE*.txt")}
    missing = sorted(code for code in CODES if code not in covered and not (code.startswith("PE4") and code in lint_covered))
    assert not missing, f"codes without a golden case: {missing}"


def test_every_case_names_a_registered_code() -> None:
    assert {case.name[:5] for case in CASES} <= set(CODES)


def test_no_stray_expected_files() -> None:
    """An expected file whose case was deleted or renamed would never be checked again."""
    names = {_case_name(c) for c in CASES}
    expected = [p for p in [*GOLDEN.glob("*.txt"), *GOLDEN.glob("*.json")] if not p.name.endswith(".recipe.json")]
    stray = [p.name for p in expected if p.name.rsplit(".", 1)[0] not in names]
    assert not stray, stray
