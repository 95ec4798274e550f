"""Rich output at 80 columns and in a pipe: tables fit, and no word is split across lines.

A word split by a narrow layout shows up as a fragment that the same output
laid out very wide does not contain; names shortened on purpose end in `…`.
"""

from __future__ import annotations

import pytest

from policyengine.cli import main
from policyengine.cli.common import PIPED_WIDTH

COMMANDS = [
    ["test", "--coverage"],
    ["matrix"],
    ["matrix", "--set", "data=message_content", "--kinds", "user_data,local_representative", "--groups"],
]


def render(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], columns: int | None) -> str:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", str(columns))
    assert main(argv) == 0
    return capsys.readouterr().out


def words(text: str) -> set[str]:
    """The words of ``text``; rules (───) and names shortened on purpose (…) are not words."""
    return {w for w in text.split() if not w.endswith("…") and w.strip("─")}


#: The line matrix adds when its assumptions table would be too wide (the wide layout has no need of it).
SHARED = "every column: "


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("columns", [80, None], ids=["80-columns", "piped"])
def test_no_line_is_too_wide_and_no_word_is_split(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], columns: int | None
) -> None:
    wide = render(capsys, monkeypatch, argv, 400)
    out = render(capsys, monkeypatch, argv, columns)
    width = columns or PIPED_WIDTH
    lines = out.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width
    assert words("\n".join(line for line in lines if not line.startswith(SHARED))) <= words(wide)


def test_piped_output_has_a_fixed_width_of_its_own(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    out = render(capsys, monkeypatch, ["test", "--coverage"], None)
    # Wide enough for the rule and its source on one line: grep finds both together.
    assert PIPED_WIDTH >= 100
    rows = [line for line in out.splitlines() if line.startswith("lawful_access.court_order ")]
    assert rows and "principles/lawful_access.policy:" in rows[0]


def test_at_80_columns_the_source_goes_under_its_rule(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = render(capsys, monkeypatch, ["test", "--coverage"], 80).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("lawful_access.court_order "))
    # The source as it opens from here: under the working directory, relative to it.
    assert lines[at + 1].startswith("policies/principles/lawful_access.policy:")


def test_at_80_columns_matrix_kind_names_stay_whole(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    out = render(capsys, monkeypatch, ["matrix"], 80)
    for kind in ("encryption_backdoor", "local_representative", "transparency_report", "data_localization"):
        assert kind in words(out)
    assert "every column: mandatory = false" in out
