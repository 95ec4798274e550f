"""scripts/generate_jurisdictions.py: refreshing scores must never cost hand-written policy.

Every test runs the script on a temporary copy of the library (or on a
small set written for the test), never on ``policies/`` itself.
"""

from __future__ import annotations

import csv
import importlib.util
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

import policyengine

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "generate_jurisdictions.py"
CSV_2024 = ROOT / "scripts" / "data" / "rule_of_law_2024.csv"
FIELDS = ["alpha2", "alpha3", "country", "eu_member", "overall"]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_jurisdictions", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


gen = _load_script()


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A copy of the shipped library."""
    copy = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", copy)
    return copy


def _rows() -> list[dict[str, str]]:
    with open(CSV_2024, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _edited(rows: list[dict[str, str]], code: str, **changes: str) -> list[dict[str, str]]:
    out = [dict(r) for r in rows]
    (row,) = [r for r in out if r["alpha2"] == code]
    row.update(changes)
    return out


def _snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.policy"))}


def _run(*args: str | Path) -> int:
    return int(gen.main([str(a) for a in args]))


def test_the_shipped_library_is_current_with_the_2024_index(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(library)
    assert _run("--csv", CSV_2024, "--policies", library, "--check") == 0
    assert _run("--csv", CSV_2024, "--policies", library) == 0
    assert _snapshot(library) == before
    assert "up to date with the WJP Rule of Law Index 2024 (142 countries)" in capsys.readouterr().out


def test_a_changed_score_is_updated_and_nothing_else(library: Path, tmp_path: Path) -> None:
    csv_path = _write_csv(tmp_path / "rule_of_law_2025.csv", _edited(_rows(), "FR", overall="0.69"))
    before = _snapshot(library)
    assert _run("--csv", csv_path, "--policies", library, "--check") == 1
    assert _snapshot(library) == before, "--check must not write"
    assert _run("--csv", csv_path, "--policies", library) == 0
    after = _snapshot(library)
    # Every score line now cites the 2025 edition; France's value changed too.
    expected = {
        name: text.replace("# WJP Rule of Law Index 2024\n", "# WJP Rule of Law Index 2025\n") for name, text in before.items()
    }
    expected["jurisdictions/eu.policy"] = expected["jurisdictions/eu.policy"].replace(
        'jurisdiction FR "France" in EU {\n    rule_of_law = 0.72  #',
        'jurisdiction FR "France" in EU {\n    rule_of_law = 0.69  #',
    )
    assert after == expected
    engine = policyengine.load(library)
    assert engine.policy_set.jurisdictions["FR"].attrs["rule_of_law"] == 0.69


def test_hand_written_demands_and_comments_survive_and_a_second_run_changes_nothing(library: Path, tmp_path: Path) -> None:
    eu = library / "jurisdictions" / "eu.policy"
    text = eu.read_text(encoding="utf-8")
    header = 'jurisdiction DK "Denmark" in EU {\n'
    hand_written = (
        "    # A note by hand: Denmark's regulator asked for nothing yet {not a brace that counts}.\n"
        '    demand test_hotline "A \\"hotline\\" against fraud" {  # trailing comment, kept\n'
        "        kind = hotline; category = fraud; legal_basis = informal\n"
        "        mandatory = false\n"
        "    }\n"
    )
    assert header in text
    block_end = text.index("}\n", text.index(header))
    eu.write_text(text[:block_end] + hand_written + text[block_end:], encoding="utf-8")
    rows = _edited(_rows(), "DK", overall="0.91", country="Kingdom of Denmark")
    csv_path = _write_csv(tmp_path / "rule_of_law_2024.csv", rows)

    assert _run("--csv", csv_path, "--policies", library) == 0
    once = _snapshot(library)
    dk = once["jurisdictions/eu.policy"]
    assert 'jurisdiction DK "Kingdom of Denmark" in EU {\n    rule_of_law = 0.91  # WJP Rule of Law Index 2024\n' in dk
    assert hand_written in dk
    assert _run("--csv", csv_path, "--policies", library, "--check") == 0
    assert _run("--csv", csv_path, "--policies", library) == 0
    assert _snapshot(library) == once
    engine = policyengine.load(library)
    assert engine.standing("DK", "test_hotline").outcome.value == "comply"


def test_new_countries_are_appended_and_leavers_keep_their_score(
    library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [r for r in _edited(_rows(), "MD", eu_member="yes") if r["alpha2"] != "VE"]
    rows.append({**rows[0], "alpha2": "BT", "alpha3": "BTN", "country": "Bhutan", "eu_member": "no", "overall": "0.61"})
    csv_path = _write_csv(tmp_path / "rule_of_law_2024.csv", rows)
    assert _run("--csv", csv_path, "--policies", library) == 0
    world = (library / "jurisdictions" / "world.policy").read_text(encoding="utf-8")
    factors = "".join(f"    {f} = {rows[0][f]}\n" for f in gen.FACTORS)
    assert world.endswith(f'\n\njurisdiction BT "Bhutan" {{\n    rule_of_law = 0.61  # WJP Rule of Law Index 2024\n{factors}}}\n')
    assert 'jurisdiction VE "Venezuela" {\n    rule_of_law = 0.26  # WJP Rule of Law Index 2024\n' in world
    # Moldova's existing block moves into the Union without moving in the file.
    assert 'jurisdiction MD "Moldova" in EU {\n' in world
    notes = capsys.readouterr().err
    assert "VE is not in the index any more: it keeps its score of 0.26" in notes
    assert "added BT (Bhutan)" in notes
    engine = policyengine.load(library)
    assert engine.policy_set.jurisdictions["MD"].attrs["eu_member"] is True
    assert engine.policy_set.jurisdictions["MD"].chain == ("MD", "EU")
    assert engine.policy_set.jurisdictions["BT"].attrs["rule_of_law"] == 0.61


def test_a_library_is_built_from_nothing(tmp_path: Path) -> None:
    rows = [r for r in _rows() if r["alpha2"] in ("FR", "DE", "RU", "US")]
    csv_path = _write_csv(tmp_path / "rule_of_law_2024.csv", rows)
    policies = tmp_path / "empty"
    policies.mkdir()
    assert _run("--csv", csv_path, "--policies", policies) == 0
    eu = (policies / "jurisdictions" / "eu.policy").read_text(encoding="utf-8")
    assert 'group EU "European Union" {\n}\n' in eu
    assert eu.index("group EU") < eu.index("jurisdiction DE") < eu.index("jurisdiction FR")
    engine = policyengine.load(policies)
    assert sorted(engine.jurisdictions()) == ["DE", "EU", "FR", "RU", "US"]
    assert engine.policy_set.jurisdictions["RU"].name == "Russia"  # DISPLAY_NAMES, not "Russian Federation"
    snapshot = _snapshot(policies)
    assert _run("--csv", csv_path, "--policies", policies) == 0
    assert _snapshot(policies) == snapshot


def test_blocks_written_by_hand_get_the_generated_parts(tmp_path: Path, policy_dir: Callable[..., Path]) -> None:
    policies = policy_dir(
        {
            "eu.policy": 'group EU "European Union" {}\n',
            "mine.policy": (
                "# Written by hand, in another layout.\n"
                'jurisdiction FR "France (old name)" { # no score yet\n'
                '    demand x "X" { kind = hotline; category = fraud; legal_basis = informal }\n'
                "}\n"
                'jurisdiction DE "Germany" in EU { rule_of_law = unknown; }\n'
                'jurisdiction US "United States" in EU {\n    rule_of_law = 0.70 # my own note\n}\n'
            ),
        }
    )
    rows = [r for r in _rows() if r["alpha2"] in ("FR", "DE", "US")]
    csv_path = _write_csv(tmp_path / "rule_of_law_2024.csv", rows)
    assert _run("--csv", csv_path, "--policies", policies) == 0
    mine = (policies / "mine.policy").read_text(encoding="utf-8")
    assert mine == (
        "# Written by hand, in another layout.\n"
        'jurisdiction FR "France" in EU { # no score yet\n'
        "    rule_of_law = 0.72  # WJP Rule of Law Index 2024\n"
        '    demand x "X" { kind = hotline; category = fraud; legal_basis = informal }\n'
        "}\n"
        # A comment here would swallow the closing brace: the value changes, no comment is added.
        'jurisdiction DE "Germany" in EU { rule_of_law = 0.83; }\n'
        # The comment on the score line belongs to the script; the index says the US is not in the EU.
        'jurisdiction US "United States" {\n    rule_of_law = 0.70 # WJP Rule of Law Index 2024\n}\n'
    )
    engine = policyengine.load(policies)
    assert engine.policy_set.jurisdictions["FR"].chain == ("FR", "EU")
    assert _run("--csv", csv_path, "--policies", policies, "--check") == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("alpha2,country,eu_member\nFR,France,yes\n", "missing column(s) overall"),
        ("alpha2,country,eu_member,overall\nFRA,France,yes,0.72\n", ":2: `FRA` is not an ISO 3166-1 alpha-2 code"),
        ("alpha2,country,eu_member,overall\nFR,France,yes,0.72\nFR,France,yes,0.72\n", ":3: `FR` is listed twice"),
        ("alpha2,country,eu_member,overall\nFR,France,maybe,0.72\n", ":2: eu_member must be yes or no, not `maybe`"),
        ("alpha2,country,eu_member,overall\nFR,France,yes,1.2\n", "must be a number from 0 to 1, not `1.2`"),
        ("alpha2,country,eu_member,overall\nFR,France,yes,n/a\n", "must be a number from 0 to 1, not `n/a`"),
        ("alpha2,country,eu_member,overall\n", "no countries"),
    ],
    ids=["missing-column", "bad-code", "duplicate", "bad-eu-member", "out-of-range", "not-a-number", "empty"],
)
def test_a_bad_csv_is_a_clear_error(
    tmp_path: Path, library: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    csv_path = tmp_path / "rule_of_law_2025.csv"
    csv_path.write_text(content, encoding="utf-8")
    before = _snapshot(library)
    assert _run("--csv", csv_path, "--policies", library) == 2
    err = capsys.readouterr().err
    assert err.startswith("generate_jurisdictions: error: ") and message in err
    assert "Traceback" not in err
    assert _snapshot(library) == before


def test_unreadable_inputs_are_clear_errors(tmp_path: Path, library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--csv", tmp_path / "missing_2025.csv", "--policies", library) == 2
    assert "missing_2025.csv: cannot read" in capsys.readouterr().err
    assert _run("--csv", CSV_2024, "--policies", tmp_path / "nowhere") == 2
    assert "nowhere: not a directory" in capsys.readouterr().err
    undated = _write_csv(tmp_path / "index.csv", _rows())
    assert _run("--csv", undated, "--policies", library) == 2
    assert "pass --edition" in capsys.readouterr().err
    assert _run("--csv", undated, "--policies", library, "--edition", "WJP Rule of Law Index 2024", "--check") == 0


def test_a_policy_file_it_cannot_scan_is_reported_with_its_location(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = library / "jurisdictions" / "broken.policy"
    broken.write_text('jurisdiction XX "Unterminated {\n', encoding="utf-8")
    before = _snapshot(library)
    assert _run("--csv", CSV_2024, "--policies", library) == 2
    err = capsys.readouterr().err
    assert "jurisdictions/broken.policy:1:17: cannot scan an unterminated string" in err
    assert "policyengine check" in err
    assert _snapshot(library) == before


def test_factor_scores_are_kept_in_step_and_added_where_missing(library: Path, tmp_path: Path) -> None:
    """The eight WJP factors are generated like the overall score: changed values
    are rewritten in place, missing ones are added after `rule_of_law`."""
    eu = library / "jurisdictions" / "eu.policy"
    text = eu.read_text(encoding="utf-8")
    # Remove Denmark's factor lines, as in a library from before the factors.
    dk_start = text.index('jurisdiction DK "Denmark" in EU {\n')
    dk_end = text.index("}\n", dk_start)
    block = text[dk_start:dk_end]
    stripped = "".join(line for line in block.splitlines(keepends=True) if line.split(" = ")[0].strip() not in gen.FACTORS)
    eu.write_text(text[:dk_start] + stripped + text[dk_end:], encoding="utf-8")
    rows = _edited(_rows(), "FR", fundamental_rights="0.41")
    csv_path = _write_csv(tmp_path / "rule_of_law_2024.csv", rows)
    assert _run("--csv", csv_path, "--policies", library) == 0
    engine = policyengine.load(library)
    fr = engine.policy_set.jurisdictions["FR"].attrs
    dk = engine.policy_set.jurisdictions["DK"].attrs
    (dk_row,) = [r for r in rows if r["alpha2"] == "DK"]
    assert fr["fundamental_rights"] == 0.41
    assert {f: dk[f] for f in gen.FACTORS} == {f: float(dk_row[f]) for f in gen.FACTORS}
    once = _snapshot(library)
    assert _run("--csv", csv_path, "--policies", library, "--check") == 0
    assert _snapshot(library) == once


def test_a_csv_without_factor_columns_leaves_the_factors_alone(library: Path, tmp_path: Path) -> None:
    rows = [{k: r[k] for k in FIELDS} for r in _rows()]
    csv_path = _write_csv(tmp_path / "rule_of_law_2024.csv", rows)
    before = _snapshot(library)
    assert _run("--csv", csv_path, "--policies", library) == 0
    assert _snapshot(library) == before


def test_some_factor_columns_but_not_all_is_bad_input(library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{k: r[k] for k in [*FIELDS, "fundamental_rights"]} for r in _rows()]
    csv_path = _write_csv(tmp_path / "rule_of_law_2024.csv", rows)
    assert _run("--csv", csv_path, "--policies", library) == 2
    err = capsys.readouterr().err
    assert "has some factor columns but not constraints_on_government_powers" in err
