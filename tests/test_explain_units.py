"""Units of evaluation/explain.py: how sources are shown, and the texts of the record lines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policyengine.evaluation.explain import AS_CARRIED, SourcePaths, hours_text


@pytest.mark.parametrize(
    ("source", "want"),
    [
        ("principles/encryption.policy:16", "policies/principles/encryption.policy:16"),
        ("tests.policy:1:1", "policies/tests.policy:1:1"),
        ("a.policy", "policies/a.policy"),
        ("<engine>", "<engine>"),
    ],
)
def test_a_source_under_the_working_directory_is_shown_relative(tmp_path: Path, source: str, want: str) -> None:
    paths = SourcePaths(str(tmp_path / "policies"), str(tmp_path))
    assert paths.show(source) == want


def test_a_source_elsewhere_is_shown_absolute(tmp_path: Path) -> None:
    root = tmp_path / "lib" / "policies"
    paths = SourcePaths(str(root), str(tmp_path / "work"))
    assert paths.show("principles/x.policy:3") == f"{root / 'principles' / 'x.policy'}:3"
    # A sibling would need `../`: absolute instead, which opens from anywhere.
    assert not paths.show("x.policy:1").startswith("..")
    assert os.path.isabs(paths.show("x.policy:1").rsplit(":", 1)[0])


def test_without_a_root_sources_are_shown_as_carried() -> None:
    assert AS_CARRIED.show("principles/x.policy:3") == "principles/x.policy:3"


@pytest.mark.parametrize(
    ("hours", "want"), [(24.0, "24h"), (1.5, "1.5h"), (240.0, "240h (10d)"), (36.0, "36h"), (48.0, "48h (2d)")]
)
def test_deadlines(hours: float, want: str) -> None:
    assert hours_text(hours) == want
