"""No human or text output carries a raw control character (issue 12, point 7).

The reproduction: a jurisdiction named ``Rus<ESC>[2Jsia`` cleared the screen
through ``matrix --format csv``, the markdown matrix and ``fmt --diff``.  Here
a set with terminal escapes in a jurisdiction name, a demand description, a
principle statement, a because text and a test name goes through every
command in every format.  Text formats must show the escapes as ``\\x1b``;
JSON must carry them, JSON-escaped, so that a program reads the original.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policyengine.cli.main import main

ESC_NAME = "Rus\x1b[2Jsia\x07"
TEXT = (
    f'jurisdiction RU "{ESC_NAME}" {{ rule_of_law = 0.3\n'
    '  demand d "keys \x1b]8;;http://example.com\x07now\u202e" '
    "{ kind = key_disclosure; category = all_users; legal_basis = statute }\n"
    "}\n"
    'principle encryption "We \x1b[31mnever\x9b" {\n'
    '  rule no_keys: withdraw when demand.kind == key_disclosure because "keys \x1b[2J {jurisdiction.name}"\n'
    "}\n"
    'test "fails \x1b[2J" {\n'
    "  RU.d -> comply\n"
    "}\n"
)


def _raw_controls(text: str) -> list[str]:
    return sorted({repr(c) for c in text if not (c in "\n\t" or c.isprintable())})


@pytest.fixture
def sets(tmp_path: Path) -> tuple[str, str]:
    new, old = tmp_path / "new", tmp_path / "old"
    for root, text in ((new, TEXT), (old, TEXT.replace("withdraw when", "negotiate when"))):
        root.mkdir()
        (root / "main.policy").write_text(text, encoding="utf-8")
    return str(old), str(new)


COMMANDS = [
    *(["check", "--format", f] for f in ("human", "plain", "json")),
    *(["decide", "--jurisdiction", "RU", "--format", f] for f in ("human", "json")),
    ["decide", "--jurisdiction", "RU", "--demand", "d"],
    *(["explain", "--jurisdiction", "RU", "--format", f] for f in ("human", "json")),
    *(["test", "--format", f] for f in ("human", "json")),
    *(["lint", "--format", f] for f in ("human", "json")),
    *(["matrix", "--format", f] for f in ("human", "markdown", "csv", "json", "html")),
    ["fmt", "--diff"],
    ["fmt", "--check"],
]


#: Outputs that show the jurisdiction name or the file text: the escape must be visible.
SHOWN = [["matrix", "--format", "human"], ["matrix", "--format", "markdown"], ["matrix", "--format", "csv"], ["fmt", "--diff"]]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a))
def test_no_raw_control_character_reaches_the_output(
    argv: list[str], sets: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    main([*argv, sets[1]])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert _raw_controls(out + err) == []
    if "json" in argv:
        if argv[0] in ("decide", "explain", "matrix"):
            assert ESC_NAME in _strings(json.loads(out))  # carried, and read back as it was
    elif argv in (
        ["matrix", "--format", "human"],
        ["matrix", "--format", "markdown"],
        ["matrix", "--format", "csv"],
        ["fmt", "--diff"],
    ):
        assert "\\x1b" in out  # shown, escaped


def _strings(obj: object) -> set[str]:
    if isinstance(obj, str):
        return {obj}
    if isinstance(obj, dict):
        return set().union(*(_strings(v) for v in obj.values())) if obj else set()
    if isinstance(obj, list):
        return set().union(*(_strings(v) for v in obj)) if obj else set()
    return set()


@pytest.mark.parametrize("fmt", ["human", "json"])
def test_diff_output_is_escaped(fmt: str, sets: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    main(["diff", "--format", fmt, *sets])
    out, err = capsys.readouterr()
    assert _raw_controls(out + err) == []
    if fmt == "json":
        json.loads(out)


def test_the_csv_matrix_keeps_the_name_readable(sets: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    main(["matrix", "--format", "csv", sets[1]])
    out = capsys.readouterr().out
    assert "RU,Rus\\x1b[2Jsia\\x07,false,withdraw" in out


def test_bad_request_lines_are_escaped(tmp_path: Path, sets: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    lines = tmp_path / "requests.jsonl"
    lines.write_text(
        '{"jurisdiction": "R\\u001b[2JU", "demand": {"kind": "key\\u001b[2J"}}\n'
        '{"jurisdiction": "RU", "demand": {"kind": "key_disclosure", "category": "x\\u001b]0;t\\u0007"}}\n',
        encoding="utf-8",
    )
    main(["decide", "--requests", str(lines), sets[1]])
    out, err = capsys.readouterr()
    assert _raw_controls(out + err) == []
    for line in out.splitlines():
        json.loads(line)
