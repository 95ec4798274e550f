"""Golden files for the renderings of decisions: `decide` and `explain`, human and JSON.

Each case runs one command through ``main(argv)`` at 100 columns, from the
repository's root (so sources print relative to it), and compares its
standard output with ``tests/golden/explain/<case>.txt``.  The cases cover
what a reviewer reads: a standing demand's legal record with its sources,
both labels when the authority's differs from the assessment, actions with
their deadlines and the rule that asked, the factor scores that decided, the
default decision with the principles considered and what would decide, and a
market with its counted and context demands and its date.  The policy set is
``tests/data/explain``; every case pins ``--as-of`` so the files do not
change with the calendar, and the repository's absolute path is written
``<repository>``.  ``pytest --update-golden`` rewrites them; review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policyengine.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = Path("tests") / "data" / "explain"
GOLDEN = Path(__file__).parent / "golden" / "explain"
AS_OF = ["--as-of", "2024-06-01"]

#: case name → (stdin request or None, argv after the command's policy set)
CASES: dict[str, tuple[dict[str, object] | None, list[str]]] = {
    "market-decide": (None, ["decide", "--jurisdiction", "TR"]),
    "market-explain": (None, ["explain", "--jurisdiction", "TR"]),
    "market-json": (None, ["decide", "--jurisdiction", "TR", "--format", "json"]),
    "standing-explain": (None, ["explain", "--jurisdiction", "TR", "--demand", "block_journalist"]),
    "labels-explain": (
        {
            "jurisdiction": "TR",
            "demand": {
                "kind": "channel_block",
                "category": "journalism",
                "claimed_category": "terrorism",
                "legal_basis": "court_order",
                "authority": "court",
            },
        },
        ["explain", "--request", "-"],
    ),
    "actions-decide": (
        {"jurisdiction": "DE", "demand": {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order"}},
        ["decide", "--request", "-"],
    ),
    "actions-explain": (
        {
            "jurisdiction": "DE",
            "demand": {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order", "gag_order": True},
        },
        ["explain", "--request", "-"],
    ),
    "actions-json": (
        {"jurisdiction": "DE", "demand": {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order"}},
        ["decide", "--request", "-", "--format", "json"],
    ),
    "default-explain": (
        {"jurisdiction": "DE", "demand": {"kind": "hotline", "category": "fraud", "legal_basis": "informal"}},
        ["explain", "--request", "-"],
    ),
    "default-decide": (
        {"jurisdiction": "DE", "demand": {"kind": "hotline", "category": "fraud", "legal_basis": "informal"}},
        ["decide", "--request", "-"],
    ),
}


def _run(case: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    import io

    request, argv = CASES[case]
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "100")
    if request is not None:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(json.dumps(request).encode()), encoding="utf-8"))
    code = main([*argv, *AS_OF, str(DATA)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in out + err
    # JSON names the set's root by its absolute path (`source_root`): the same file on every machine.
    return out.replace(json.dumps(str(ROOT))[1:-1], "<repository>")


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_rendering(
    case: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, update_golden: bool
) -> None:
    out = _run(case, capsys, monkeypatch)
    path = GOLDEN / f"{case}.txt"
    if update_golden:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(out, encoding="utf-8")
    assert path.exists(), f"{path.name} is missing (run pytest --update-golden and review it)"
    assert out == path.read_text(encoding="utf-8"), f"{path.name} differs (run pytest --update-golden and review the diff)"


def test_every_golden_file_has_a_case() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.txt")) == sorted(CASES)
