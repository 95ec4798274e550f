"""`policyengine matrix` and policyengine.analysis.matrix: cells, assumptions, flags, every format, HTML safety."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest

import policyengine
from policyengine.analysis.matrix import REPRESENTATIVE, Matrix, build_matrix, columns, rows_for
from policyengine.cli import main

SET = """\
principle encryption "We never weaken encryption" {
    rule no_keys: withdraw when demand.kind in {key_disclosure, encryption_backdoor, traceability}
        because "{demand.kind} would expose every user"
}
principle speech "Peaceful speech stays up" {
    rule protest: withdraw when demand.kind == channel_block and demand.category == peaceful_protest
        because "blocking protest in {jurisdiction.name} silences it"
    rule terror: comply when demand.kind in {channel_block, content_removal} and demand.category == terrorism
        because "terrorist content comes down"
}
principle lawful "We help lawful investigations" {
    rule court: comply when demand.kind == user_data and demand.legal_basis == court_order and jurisdiction.rule_of_law >= 0.5
        because "a court in {jurisdiction.name} ordered it"
    rule forced: withdraw when demand.kind == user_data and demand.mandatory and demand.legal_basis == informal
        because "a forced informal demand is not law"
    rule weak_state: negotiate when demand.kind == hotline and jurisdiction.rule_of_law < 0.5
        because "a hotline to {jurisdiction.name} needs review"
}
group EU "European Union" { rule_of_law = 0.8 }
jurisdiction FR "France" in EU { }
jurisdiction DE "Germany" in EU { }
jurisdiction RU "Russia" { rule_of_law = 0.3 }
jurisdiction KP "North Korea" { rule_of_law = unknown }
"""

MakeDir = Callable[..., Path]


@pytest.fixture
def root(policy_dir: MakeDir) -> Path:
    return policy_dir({"main.policy": SET})


def _matrix(root: Path, **kw: object) -> Matrix:
    engine = policyengine.load(root)
    return build_matrix(engine, columns(engine, **kw), rows_for(engine))  # type: ignore[arg-type]


def _grid(m: Matrix) -> dict[tuple[str, str], str]:
    """(code, kind) → outcome with the * (default) and ? (undetermined) marks."""
    out = {}
    for row in m.rows:
        for kind, cell in row.cells.items():
            out[row.code, kind] = cell.outcome.value + ("*" if cell.default_applied else "") + ("?" if cell.undetermined else "")
    return out


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["matrix", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


# --- the data -----------------------------------------------------------------------------


def test_cells_have_the_known_outcomes(root: Path) -> None:
    grid = _grid(_matrix(root))
    assert [r.code for r in _matrix(root).rows] == ["DE", "FR", "KP", "RU"]  # groups left out, sorted by code
    for code in ("DE", "FR", "KP", "RU"):
        assert grid[code, "key_disclosure"] == grid[code, "traceability"] == "withdraw"
        assert grid[code, "channel_block"] == "withdraw"  # peaceful_protest by default
        assert grid[code, "content_removal"] == "comply"  # terrorism by default
        assert grid[code, "transparency_report"] == "negotiate*"
    assert [grid[c, "user_data"] for c in ("DE", "FR", "KP", "RU")] == ["comply", "comply", "negotiate*?", "negotiate*"]
    assert [grid[c, "hotline"] for c in ("DE", "FR", "KP", "RU")] == ["negotiate*", "negotiate*", "negotiate*?", "negotiate"]


def test_cells_carry_deciding_rules_and_reasons(root: Path) -> None:
    m = _matrix(root)
    ru = next(r for r in m.rows if r.code == "RU")
    cell = ru.cells["channel_block"]
    assert cell.rules == ("speech.protest",)
    assert cell.because == ("blocking protest in Russia silences it",)
    assert ru.cells["transparency_report"].rules == () and ru.cells["transparency_report"].default_applied
    kp = next(r for r in m.rows if r.code == "KP")
    assert kp.cells["user_data"].undetermined == ("lawful.court",)


def test_every_standard_kind_has_a_documented_representative(root: Path) -> None:
    engine = policyengine.load(root)
    cols = columns(engine)
    assert [c.kind for c in cols] == list(REPRESENTATIVE)
    for col in cols:
        rep = REPRESENTATIVE[col.kind]
        assert col.demand == {"kind": col.kind, "category": rep.category, "legal_basis": rep.legal_basis, "mandatory": False}
        assert len(col.short) <= 6


def test_kinds_added_by_a_policy_set_use_the_fallback(policy_dir: MakeDir) -> None:
    extra = 'vocabulary { extend enum kind { age_verification "check users\' age" } }\n'
    engine = policyengine.load(policy_dir({"main.policy": SET, "kinds.policy": extra}))
    (col,) = columns(engine, ["age_verification"])
    assert col.short == "age_verification" and col.description == "check users' age"
    assert col.demand == {"kind": "age_verification", "category": "all_users", "legal_basis": "statute", "mandatory": False}


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        # every column about terrorism: protest channels are no longer the question
        (["--category", "terrorism"], {"channel_block": "comply", "content_removal": "comply"}),
        # one column only: removal keeps its default category (terrorism), block changes
        (["--category", "channel_block=terrorism"], {"channel_block": "comply", "content_removal": "comply"}),
        (["--category", "content_removal=fraud"], {"channel_block": "withdraw", "content_removal": "negotiate"}),
        # a per-kind value beats the global one, whatever the order of the flags
        (
            ["--category", "channel_block=terrorism", "--category", "fraud"],
            {"channel_block": "comply", "content_removal": "negotiate"},
        ),
        (["--legal-basis", "informal"], {"user_data": "negotiate"}),
        (["--legal-basis", "informal", "--mandatory"], {"user_data": "withdraw"}),
        (["--legal-basis", "user_data=informal", "--mandatory"], {"user_data": "withdraw", "channel_block": "withdraw"}),
    ],
)
def test_flags_change_the_assumptions(
    root: Path, capsys: pytest.CaptureFixture[str], flags: list[str], expected: dict[str, str]
) -> None:
    data = _cli_json(capsys, "--policies", str(root), "--jurisdictions", "FR", *flags)
    (row,) = data["rows"]  # type: ignore[index]
    got = {k: row["cells"][k]["outcome"] for k in expected}
    assert got == expected
    cols = {c["kind"]: c["demand"] for c in data["columns"]}  # type: ignore[index, union-attr]
    assert cols["user_data"]["mandatory"] is ("--mandatory" in flags)


def test_kinds_and_jurisdictions_select_and_order(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _cli_json(capsys, "--policies", str(root), "--kinds", "user_data, hotline,user_data", "--jurisdictions", "RU,EU,FR")
    assert [c["kind"] for c in data["columns"]] == ["user_data", "hotline"]  # type: ignore[index, union-attr]
    assert [r["code"] for r in data["rows"]] == ["RU", "EU", "FR"]  # type: ignore[index, union-attr]
    assert data["totals"]["user_data"] == {"comply": 2, "negotiate": 1, "withdraw": 0}  # type: ignore[index]
    data = _cli_json(capsys, "--policies", str(root), "--groups", "--kinds", "hotline")
    assert [r["code"] for r in data["rows"]] == ["DE", "EU", "FR", "KP", "RU"]  # type: ignore[index, union-attr]
    assert [r["group"] for r in data["rows"]] == [False, True, False, False, False]  # type: ignore[index, union-attr]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--kinds", "user_dat"], "--kinds: `user_dat` is not a demand kind\n  hint: did you mean `user_data`?\n"),
        (["--category", "terorism"], "--category: `terorism` is not a `category` value\n  hint: did you mean `terrorism`?\n"),
        (["--category", "blocks=terrorism"], "--category: `blocks` is not a demand kind"),
        (["--category", "=terrorism"], "--category takes CAT or KIND=CAT, not `=terrorism`"),
        (["--legal-basis", "court"], "--legal-basis: `court` is not a `legal_basis` value"),
        (["--jurisdictions", "FRA"], "--jurisdictions: `FRA` is not a loaded jurisdiction\n  hint: did you mean `FR`? (`FRA`"),
        (["--set", "category=fraud"], "--set: `category` is set by the matrix itself\n  hint: use --category\n"),
        (["--set", "colour=red"], "--set: `colour` is not a demand attribute"),
        (["--kinds", ","], "no demand kinds to show"),
    ],
)
def test_bad_choices_are_usage_errors(root: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str) -> None:
    assert main(["matrix", "--policies", str(root), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"policyengine matrix: error: {message}") and "Traceback" not in err


def test_a_required_attribute_of_the_set_is_given_with_set(policy_dir: MakeDir, capsys: pytest.CaptureFixture[str]) -> None:
    voc = 'vocabulary { attribute demand.users: number from 0 to 100 "how many users" }\n'
    root = policy_dir({"main.policy": SET, "voc.policy": voc})
    assert main(["matrix", "--policies", str(root)]) == 2
    err = capsys.readouterr().err
    assert "the vocabulary requires `users` in every demand\n  hint: give --set users=VALUE\n" in err
    data = _cli_json(capsys, "--policies", str(root), "--set", "users=5", "--kinds", "hotline")
    assert data["columns"][0]["demand"]["users"] == 5.0  # type: ignore[index]
    assert main(["matrix", "--policies", str(root), "--set", "users=many"]) == 2
    assert "`users` is a number, not `many`" in capsys.readouterr().err


def test_policy_errors_exit_1(policy_dir: MakeDir, capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir({"main.policy": 'jurisdiction FR "France" in NOPE { }'})
    assert main(["matrix", "--policies", str(root)]) == 1
    assert "PE208" in capsys.readouterr().err


# --- the formats --------------------------------------------------------------------------


def test_human_grid_states_assumptions_and_legend(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--policies", str(root)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    row = next(line.split() for line in lines if line.split()[:1] == ["block"])
    assert row == ["block", "channel_block", "peaceful_protest", "court_order", "false", "0/0/4"]
    header = next(line.split() for line in lines if line.split()[:1] == ["code"])
    assert header == ["code", "jurisdiction", *(r.short for r in REPRESENTATIVE.values())]
    ru = next(line.split() for line in lines if line.split()[:1] == ["RU"])
    assert ru == ["RU", "Russia", "W", "W", "W", "W", "C", "N*", "N*", "N*", "N", "N*"]
    assert "C comply   N negotiate   W withdraw" in out
    assert "change with --category, --legal-basis, --mandatory" in out


@pytest.mark.parametrize("fmt", ["human", "markdown", "csv", "json", "html"])
def test_every_format_renders_to_stdout_and_file(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    # Pin the generation time, or two runs a second apart would differ.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert main(["matrix", "--policies", str(root), "--format", fmt]) == 0
    shown = capsys.readouterr().out
    target = tmp_path / f"matrix.{fmt}"
    assert main(["matrix", "--policies", str(root), "--format", fmt, "--output", str(target)]) == 0
    assert capsys.readouterr().out == ""
    written = target.read_text(encoding="utf-8")
    for text in (shown, written):
        assert "North Korea" in text and "RU" in text
    if fmt != "human":  # the human grid is laid out for the terminal's width
        assert written == shown


def test_unwritable_output_is_a_usage_error(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--policies", str(root), "--format", "csv", "-o", str(tmp_path / "missing" / "m.csv")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_markdown_states_assumptions_and_escapes(policy_dir: MakeDir, capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir('jurisdiction FR "France | *bold* <b>" { }')
    assert main(["matrix", "--policies", str(root), "--format", "markdown", "--kinds", "user_data"]) == 0
    out = capsys.readouterr().out
    assert "| user | user\\_data | criminal\\_suspect | court\\_order | false |" in out
    assert "| FR | France \\| \\*bold\\* \\<b\\> | negotiate\\* |" in out


def test_csv_is_plain_and_guards_against_formulas(policy_dir: MakeDir, capsys: pytest.CaptureFixture[str]) -> None:
    root = policy_dir('jurisdiction FR "=HYPERLINK(\\"x\\")" { }\njurisdiction DE "Germany, \\"DE\\"" { }')
    assert main(["matrix", "--policies", str(root), "--format", "csv", "--kinds", "key_disclosure,user_data"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [
        ["code", "name", "group", "key_disclosure", "user_data"],
        ["DE", 'Germany, "DE"', "false", "negotiate", "negotiate"],
        ["FR", '\'=HYPERLINK("x")', "false", "negotiate", "negotiate"],
    ]


def test_json_has_every_cell(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _cli_json(capsys, "--policies", str(root))
    assert data["policy_version"] == policyengine.load(root).version
    assert len(data["rows"]) == 4 and all(len(r["cells"]) == 10 for r in data["rows"])  # type: ignore[arg-type, index]
    fr = next(r for r in data["rows"] if r["code"] == "FR")  # type: ignore[attr-defined, index]
    assert fr["cells"]["user_data"]["rules"] == ["lawful.court"]
    assert fr["cells"]["user_data"]["because"] == ["a court in France ordered it"]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


EVIL = """\
principle p "<b>statement</b>" {
    rule r: withdraw when demand.kind == key_disclosure
        because "no keys for {jurisdiction.name} \\"quoted\\" <img src=x onerror=alert(1)>"
}
jurisdiction XX "<script>alert('pwned')</script> & \\"friends\\"" { }
"""


def test_html_is_escaped_and_self_contained(
    policy_dir: MakeDir, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    root = policy_dir(EVIL)
    assert main(["matrix", "--policies", str(root), "--format", "html"]) == 0
    page = capsys.readouterr().out
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt; &amp; &quot;friends&quot;" in page
    # nothing is fetched from anywhere, and the browser is told so
    for needle in ("http://", "https://", "url(", "@import", "//"):
        assert needle not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    parser = _Tags()
    parser.feed(page)
    attributes = {name for _, attrs in parser.tags for name in attrs}
    assert attributes <= {"lang", "charset", "http-equiv", "content", "name", "class", "title", "scope", "datetime"}
    tags = {t for t, _ in parser.tags}
    assert tags <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "h1",
        "h2",
        "p",
        "code",
        "time",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "th",
        "td",
        "b",
        "i",
        "span",
        "div",
    }
    cells = [a for t, a in parser.tags if t == "td" and "o" in (a.get("class") or "").split()]
    assert len(cells) == 10
    keys = next(a for a in cells if "withdraw" in (a.get("class") or ""))
    # the tooltip names the deciding rule and its reason, unescaped by the parser back to the original text
    assert keys["title"] == (
        "<script>alert('pwned')</script> & \"friends\" (XX) — key_disclosure: withdraw\n"
        'decided by p.r: no keys for <script>alert(\'pwned\')</script> & "friends" "quoted" <img src=x onerror=alert(1)>'
    )
    text = "".join(parser.text)
    assert "2023-11-14T22:13:20Z" in text and policyengine.load(root).version in text
    assert "Assumptions" in text and "Legend" in text
    assert "position: sticky" in page


def test_html_is_reproducible_with_source_date_epoch(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert main(["matrix", "--policies", str(root), "--format", "html"]) == 0
    first = capsys.readouterr().out
    assert main(["matrix", "--policies", str(root), "--format", "html"]) == 0
    assert capsys.readouterr().out == first
    assert "1970-01-01T00:00:00Z" in first


def test_shipped_library_matrix_html(capsys: pytest.CaptureFixture[str]) -> None:
    engine = policyengine.load()
    assert main(["matrix", "--format", "html"]) == 0
    page = capsys.readouterr().out
    parser = _Tags()
    parser.feed(page)
    rows = [a for t, a in parser.tags if t == "tr"]
    countries = [j for j in engine.policy_set.jurisdictions.values() if not j.is_group]
    # one header row, one row per jurisdiction, one totals row
    assert len(rows) == len(countries) + 2 + len(REPRESENTATIVE) + 1
    assert sum(1 for t, a in parser.tags if t == "td" and "o" in (a.get("class") or "").split()) == 10 * len(countries)
