"""The language server's parts, in process: analysis, index, positions, fixes, completion, tokens.

tests/test_lsp.py drives the whole server over stdio; these pin the pieces
whose cases are too many for that (every kind of did-you-mean fix, every
completion context) and the promises the server relies on (incremental
analysis gives what the pipeline gives; every named AST node is indexed).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from fuzz_strategies import hostile_files
from hypothesis import HealthCheck, given, settings

pytest.importorskip("lsprotocol")
import contextlib

from lsprotocol import types

from policyengine.language import ast
from policyengine.language.loader import read_sources
from policyengine.language.parser import KEYWORDS
from policyengine.language.pipeline import analyse_sources
from policyengine.language.source import Source
from policyengine.lsp import completion, diagnostics, hover, outline, rename, tokens
from policyengine.lsp.index import _CODE_FIELDS, _NODE_TYPES, Kind, _Collector, _fields
from policyengine.lsp.positions import UTF8, UTF16, UTF32, LineIndex
from policyengine.lsp.project import Project, Snapshot, analyse_files
from policyengine.lsp.server import Settings

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "policies"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lsp-units") / "policies"
    shutil.copytree(LIBRARY, root)
    return root


@pytest.fixture(scope="module")
def snapshot(library: Path) -> Snapshot:
    project = Project(library)
    project.reload_disk()
    return project.analyse()


def _text(library: Path, path: str) -> str:
    return (library / path).read_text(encoding="utf-8")


def _analysed(library: Path, edits: dict[str, str]) -> Snapshot:
    project = Project(library)
    project.reload_disk()
    for path, text in edits.items():
        project.open(path, text, 1)
    return project.analyse()


# --- analysis ----------------------------------------------------------------------------------


BROKEN_SETS = {
    "a rule that does not parse, named by a test": {
        "p.policy": 'principle p "s" {\n    rule ok: comply when demand.kind == hotline because "x"\n'
        '    rule bad: comply when demand.kind == == hotline because "x"\n}\n',
        "t.policy": 'test "t" { FR { kind = hotline; category = fraud; legal_basis = statute } -> comply by p.bad }\n',
    },
    "misspellings across files": {
        "p.policy": 'principle p "s" {\n    rule r: withdraw when demand.knd == key_disclousre because "{demand.kindd}"\n}\n',
        "j.policy": 'jurisdiction XA "A" in NOPE { rule_of_lw = 0.5\n    demand d "d" { kind = hotlin } }\n',
        "t.policy": 'test "t" { XA.dd -> withdraw by p.rr\n    market XB -> comply }\n',
    },
    "a header that does not parse": {"p.policy": 'principle "no name" {\n}\njurisdiction XA "A" { rule_of_law = 2 }\n'},
}


@pytest.mark.parametrize("files", [*BROKEN_SETS.values(), None], ids=[*BROKEN_SETS, "the shipped library"])
def test_incremental_analysis_gives_what_the_pipeline_gives(files: dict[str, str] | None, tmp_path: Path) -> None:
    if files is None:
        sources, _ = read_sources([LIBRARY])
    else:
        sources = [Source(name, text) for name, text in sorted(files.items())]
    want_set, want = analyse_sources(sources)
    project = Project(tmp_path)
    for source in sources:
        project.open(source.path, source.text, 1)
    snap = project.analyse()
    got = snap.diagnostics
    assert [(str(d), d.hint, d.label) for d in got] == [(str(d), d.hint, d.label) for d in want]
    assert (snap.policy_set is None) == (want_set is None)
    # The same through analyse_files directly.
    parsed = [d.parsed for d in snap.documents.values() if d.parsed is not None]
    _, again = analyse_files([p.result for p in parsed], [p.source for p in parsed])
    assert [str(d) for d in again] == [str(d) for d in want]


def test_an_edit_parses_only_the_edited_file(library: Path) -> None:
    project = Project(library)
    project.reload_disk()
    before = project.analyse()
    path = "principles/encryption.policy"
    project.open(path, _text(library, path) + "\n# edited\n", 2)
    after = project.analyse()
    assert after.documents[path].parsed is not before.documents[path].parsed
    for other, doc in after.documents.items():
        if other != path:
            assert doc.parsed is before.documents[other].parsed, other
    assert project.current() is after  # nothing changed: no new analysis


def test_the_last_decisions_stay_available_while_the_set_has_errors(library: Path) -> None:
    project = Project(library)
    project.reload_disk()
    good = project.analyse()
    decisions, current = good.decisions()
    assert decisions is not None and current
    path = "principles/encryption.policy"
    project.open(path, _text(library, path).replace("key_disclosure", "key_disclousre"), 2)
    bad = project.analyse()
    assert bad.policy_set is None
    stale, current = bad.decisions()
    assert stale is decisions and not current


# --- the index follows the AST ------------------------------------------------------------------------


def test_every_node_that_holds_a_name_is_indexed() -> None:
    """A construct added to the language that names something needs a `visit_` method
    (or a field named like the jurisdiction fields), or its names go unindexed."""
    for cls in _NODE_TYPES:
        names = [f for f in _fields(cls) if "Ident" in str(next(x.type for x in dataclasses.fields(cls) if x.name == f))]
        if not names:
            continue
        handled = hasattr(_Collector, f"visit_{cls.__name__}") or all(f in _CODE_FIELDS for f in names)
        assert handled, f"ast.{cls.__name__} has names ({', '.join(names)}) that lsp/index.py does not index"


def test_every_declaration_has_an_outline_entry() -> None:
    declaring = {ast.Vocabulary, ast.EnumDecl, ast.EnumValue, ast.AttributeDecl, ast.Principle, ast.Rule}
    declaring |= {ast.Jurisdiction, ast.Demand, ast.Test, ast.StandingExpectation, ast.InlineExpectation, ast.MarketExpectation}
    assert declaring <= set(outline.OUTLINE)
    assert set(outline.OUTLINE) <= _NODE_TYPES


def test_values_are_typed_by_the_attribute_they_are_compared_with(snapshot: Snapshot) -> None:
    index = snapshot.index
    refs = index.references(Kind.VALUE, "kind.key_disclosure")
    paths = {r.path for r in refs}
    assert {"<standard>/vocabulary.policy", "principles/encryption.policy", "jurisdictions/world.policy"} <= paths
    assert [r for r in refs if r.definition] == index.definitions(Kind.VALUE, "kind.key_disclosure")
    # `jurisdiction.code in {…}` names jurisdictions, not values.
    codes = [o for o in index.references(Kind.JURISDICTION, "RU") if not o.definition]
    assert codes


def test_a_demand_named_through_a_member_is_the_groups_demand(snapshot: Snapshot) -> None:
    refs = snapshot.index.references(Kind.DEMAND, "EU.chat_control")
    assert any(r.via == "FR" for r in refs), "FR.chat_control in a test refers to EU's demand"
    assert snapshot.index.demand_owner("FR", "chat_control") == "EU"


# --- positions ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("encoding", "column"), [(UTF16, 3), (UTF8, 5), (UTF32, 2)])
def test_positions_count_the_negotiated_code_units(encoding: str, column: int) -> None:
    lines = LineIndex("a😀b\nsecond", encoding)
    at_b = 2
    assert lines.position(at_b) == types.Position(line=0, character=column)
    assert lines.offset(types.Position(line=0, character=column)) == at_b
    assert lines.offset(types.Position(line=1, character=99)) == len("a😀b\nsecond")
    assert lines.offset(types.Position(line=9, character=0)) == len("a😀b\nsecond")
    assert lines.position(10_000) == types.Position(line=1, character=6)


def test_a_position_inside_a_surrogate_pair_is_the_start_of_the_character() -> None:
    lines = LineIndex("a😀b", UTF16)
    assert lines.offset(types.Position(line=0, character=2)) == 1


# --- did-you-mean fixes -------------------------------------------------------------------------------------

GOOD = {
    "p.policy": 'principle p "s" {\n    rule r:\n        withdraw when demand.kind == key_disclosure and not demand.mandatory\n'
    '        because "{demand.kind} in {jurisdiction.name}"\n}\n',
    "j.policy": 'group XG "G" { rule_of_law = 0.5 }\njurisdiction XA "A" in XG {\n'
    '    demand d "d" { kind = hotline; category = fraud; legal_basis = statute }\n}\n',
    "t.policy": 'test "t" {\n    XA.d -> negotiate by default\n'
    "    XA { kind = key_disclosure; category = fraud; legal_basis = statute }"
    " -> withdraw by p.r\n    market XA -> negotiate\n}\n",
}
TYPOS = [
    ("p.policy", "== key_disclosure", "== key_disclousre"),
    ("p.policy", "when demand.kind", "when demand.knd"),
    ("p.policy", "{demand.kind}", "{demand.kindd}"),
    ("p.policy", "rule r:", "rul r:"),
    ("p.policy", "withdraw when", "withdrew when"),
    ("j.policy", "in XG", "in XGG"),
    ("j.policy", "kind = hotline", "kind = hotlin"),
    ("j.policy", "rule_of_law", "rule_of_lw"),
    ("t.policy", "by p.r", "by p.rr"),
    ("t.policy", "XA.d ->", "XA.dd ->"),
    ("t.policy", "market XA", "market XAA"),
    ("t.policy", "category = fraud; legal_basis = statute }", "categori = fraud; legal_basis = statute }"),
]


def _sources(files: dict[str, str]) -> list[Source]:
    return [Source(p, t) for p, t in sorted(files.items())]


def test_the_fixture_set_is_valid() -> None:
    policy_set, found = analyse_sources(_sources(GOOD))
    assert policy_set is not None, [str(d) for d in found]


@pytest.mark.parametrize(("path", "good", "typo"), TYPOS, ids=[t[2] for t in TYPOS])
def test_the_quick_fix_of_a_did_you_mean_repairs_the_set(path: str, good: str, typo: str) -> None:
    files = {**GOOD, path: GOOD[path].replace(good, typo, 1)}
    _, found = analyse_sources(_sources(files))
    fixes = [(d, f) for d in found if (f := diagnostics.fix(d)) is not None]
    assert fixes, [f"{d} ({d.hint})" for d in found]
    d, f = fixes[0]
    assert f.title.startswith("replace with `")
    text = files[f.span.path]
    files[f.span.path] = text[: f.span.start] + f.text + text[f.span.end :]
    policy_set, after = analyse_sources(_sources(files))
    assert files[path] == GOOD[path], f"{d}: the fix gave {files[path]!r}"
    assert policy_set is not None, [str(x) for x in after]


def test_no_fix_without_a_single_suggestion() -> None:
    _, found = analyse_sources(_sources({**GOOD, "p.policy": GOOD["p.policy"].replace("key_disclosure", "zzzzzz")}))
    assert found and all(diagnostics.fix(d) is None for d in found)


# --- completion ---------------------------------------------------------------------------------------------------


def _labels(snapshot: Snapshot, before: str) -> list[str]:
    return [i.label for i in completion.complete(snapshot, before)]


@pytest.mark.parametrize(
    ("before", "wanted", "unwanted"),
    [
        ("", {"principle", "jurisdiction", "group", "vocabulary", "test"}, {"rule"}),
        ('principle p "s" {\n    ', {"rule"}, {"principle"}),
        ('principle p "s" {\n    rule r: withdraw ', {"when"}, set()),
        ('principle p "s" {\n    rule r: withdraw when ', {"demand.", "jurisdiction.", "not"}, {"kind"}),
        ('principle p "s" {\n    rule r: withdraw when demand.kind is ', {"known", "unknown"}, set()),
        ('principle p "s" {\n    rule r: withdraw when demand.kind ', {"in", "is", "and", "because"}, set()),
        ('principle p "s" {\n    rule r: withdraw when demand.mandatory == ', {"true", "false"}, {"unknown"}),
        ('principle p "s" {\n    rule r: withdraw when demand.category not in {terrorism, ', {"csam", "fraud"}, {"hotline"}),
        ('principle p "s" {\n    rule r: withdraw when demand.kind == hotline because "{demand.', {"kind", "id"}, set()),
        (
            'principle p "s" {\n    rule r: withdraw when demand.kind == hotline because "in {jurisdiction.',
            {"name", "rule_of_law"},
            set(),
        ),
        ('principle p "s" {\n    # demand.', set(), {"kind"}),
        ("vocabulary {\n    attribute demand.x: ", {"bool", "number", "text", "kind", "category"}, set()),
        ("vocabulary {\n    extend enum ", {"kind", "category"}, set()),
        ("vocabulary {\n    attribute demand.x: number ", {"from", "or"}, set()),
        ("vocabulary {\n    ", {"attribute", "enum", "extend"}, set()),
        ('jurisdiction XA "A" in ', {"EU"}, {"FR"}),
        ('jurisdiction XA "A" ', {"in"}, set()),
        ('jurisdiction XA "A" {\n    ', {"rule_of_law", "eu_member", "demand"}, {"kind", "code"}),
        ('jurisdiction XA "A" {\n    rule_of_law = unknown\n    demand d "d" { ', {"kind", "category"}, {"rule_of_law"}),
        ('jurisdiction XA "A" {\n    demand d "d" { kind = hotline; category = ', {"fraud"}, {"hotline"}),
        ('jurisdiction XA "A" {\n    rule_of_law = ', {"unknown"}, set()),
        ('test "t" {\n    market ', {"RU", "EU"}, {"market"}),
        ('test "t" {\n    RU.fsb_keys -> ', {"comply", "negotiate", "withdraw"}, set()),
        ('test "t" {\n    RU.fsb_keys -> withdraw by encryption.', {"no_keys", "no_backdoor"}, {"encryption.no_keys"}),
        ('test "t" {\n    RU.fsb_keys -> withdraw ', {"by", "RU", "market"}, set()),
        ('test "t" {\n    FR.', {"chat_control", "dsa_transparency"}, set()),
        # The language of issue 11: actions, conflicts, `as of`, counted demands.
        ('principle p "s" {\n    rule r: withdraw when demand.mandatory because "b" ', {"actions", "rule"}, set()),
        ('principle p "s" {\n    rule r: withdraw when demand.mandatory because "b" actions ', {"human_review"}, {"kind"}),
        (
            'principle p "s" {\n    rule r: withdraw when demand.mandatory because "b" actions geo_restrict ',
            {"within", "when"},
            set(),
        ),
        (
            'principle p "s" {\n    rule r: withdraw when demand.mandatory because "b" actions geo_restrict within 24h, ',
            {"notify_user", "narrow_scope"},
            {"within"},
        ),
        (
            'principle p "s" {\n    rule r: withdraw when demand.mandatory because "b" actions notify_user when not demand.',
            {"gag_order"},
            {"human_review"},
        ),
        ("vocabulary {\n    conflict ", {"notify_user"}, {"attribute"}),
        ("vocabulary {\n    conflict notify_user, ", {"human_review", "demand."}, set()),
        ("vocabulary {\n    conflict notify_user, demand.", {"gag_order"}, {"kind"}),
        ('vocabulary {\n    conflict notify_user, demand.gag_order "why"\n    ', {"attribute", "conflict"}, {"notify_user"}),
        ('test "t" {\n    RU.fsb_keys as ', {"of"}, set()),
        ('test "t" {\n    RU.fsb_keys -> withdraw by encryption.no_keys ', {"actions"}, {"counting"}),
        ('test "t" {\n    RU.fsb_keys -> withdraw actions {human_review, ', {"notify_user"}, {"RU"}),
        ('test "t" {\n    market RU as of 2015-01-01 -> withdraw ', {"actions", "counting"}, set()),
        ('test "t" {\n    market RU -> withdraw counting {', {"fsb_keys", "landing_law"}, {"human_review"}),
        ('test "t" {\n    market FR -> negotiate\n    market RU -> withdraw counting {', {"fsb_keys"}, {"chat_control"}),
        ('jurisdiction XA "A" {\n    demand d "d" { status = ', {"in_force", "lifted"}, {"court"}),
    ],
)
def test_completion_in_context(snapshot: Snapshot, before: str, wanted: set[str], unwanted: set[str]) -> None:
    labels = set(_labels(snapshot, before))
    assert wanted <= labels, wanted - labels
    assert not (unwanted & labels), unwanted & labels


def test_keywords_offered_are_keywords_of_the_language(snapshot: Snapshot) -> None:
    contexts = ["", 'principle p "s" {\n', 'principle p "s" {\n rule r: withdraw when ', "vocabulary {\n", 'test "t" {\n']
    for before in contexts:
        for item in completion.complete(snapshot, before):
            if item.kind == types.CompletionItemKind.Keyword:
                assert item.label in KEYWORDS, item.label


# --- hover, tokens, rename, settings ------------------------------------------------------------------------------


def test_hover_on_a_group_demand_shows_the_outcome_in_each_member(snapshot: Snapshot, library: Path) -> None:
    text = _text(library, "jurisdictions/eu.policy")
    found = hover.hover(snapshot, "jurisdictions/eu.policy", text.index("demand chat_control") + 8)
    assert found is not None
    shown, span = found
    assert span.text == "chat_control"
    assert "In its members:" in shown and "**withdraw**: AT, BE" in shown


def test_semantic_tokens_are_sorted_on_one_line_each_and_never_overlap(snapshot: Snapshot) -> None:
    for path, doc in snapshot.documents.items():
        if doc.parsed is None:
            continue
        data = tokens.semantic_tokens(snapshot.index, path, doc.parsed.lines)
        lines = doc.parsed.source.text.split("\n")
        line = char = 0
        end_of_previous = (-1, -1)
        for i in range(0, len(data), 5):
            dl, dc, length, ttype, _mods = data[i : i + 5]
            assert dl >= 0 and length > 0 and ttype < len(tokens.TOKEN_TYPES)
            line += dl
            char = dc if dl else char + dc
            assert char + length <= len(lines[line].encode("utf-16-le")) // 2
            assert (line, char) >= end_of_previous, f"{path}: overlapping tokens at {line + 1}:{char + 1}"
            end_of_previous = (line, char + length)


def test_rename_of_a_group_demand_covers_the_tests_of_its_members(snapshot: Snapshot, library: Path) -> None:
    text = _text(library, "jurisdictions/eu.policy")
    o, spans = rename.rename_edits(snapshot.index, "jurisdictions/eu.policy", text.index("demand chat_control") + 8, "scanning")
    assert o.key == "EU.chat_control"
    assert {s.path for s in spans} == {"jurisdictions/eu.policy", "tests/standing_demands.policy"}
    assert all(s.text == "chat_control" for s in spans)
    at = text.index("demand chat_control") + 8
    with pytest.raises(rename.RenameError, match=r"already a demand `EU\.dsa_transparency`"):
        rename.rename_edits(snapshot.index, "jurisdictions/eu.policy", at, "dsa_transparency")
    # A member's own demand of that id would clash with the one it inherits.
    with pytest.raises(rename.RenameError, match="`DE` already makes a demand `netzdg_removal`"):
        rename.rename_edits(snapshot.index, "jurisdictions/eu.policy", at, "netzdg_removal")


def test_settings_ignore_what_they_do_not_know() -> None:
    s = Settings().updated({"policyengine": {"policies": "policies", "debounceMs": 40, "lint": False, "other": 1}})
    assert s == Settings(("policies",), 40, False)
    assert Settings().updated({"debounceMs": True, "lint": "yes", "policies": [1]}) == Settings()
    assert Settings().updated(None) == Settings()


def test_the_vscode_extension_passes_the_settings_the_server_reads() -> None:
    import json

    from policyengine.cli.main import build_parser
    from policyengine.lsp.server import DEFAULT_DEBOUNCE_MS

    vscode = ROOT / "editors" / "vscode"
    package = json.loads((vscode / "package.json").read_text(encoding="utf-8"))
    assert (vscode / package["main"]).is_file()
    assert "vscode-languageclient" in package["dependencies"]
    properties = package["contributes"]["configuration"]["properties"]
    passed = {k.removeprefix("policyengine.") for k in properties if not k.startswith("policyengine.server.")}
    assert passed == {"policies", "debounceMs", "lint"}
    defaults = {k: properties[f"policyengine.{k}"]["default"] for k in passed}
    assert Settings().updated(defaults) == Settings()
    assert defaults["debounceMs"] == DEFAULT_DEBOUNCE_MS
    script = (vscode / "extension.js").read_text(encoding="utf-8")
    for key in [*passed, "server.path", "server.args"]:
        assert f'"{key}"' in script, key
    lsp_command = build_parser().parse_args(["lsp"])
    assert lsp_command.debounce == DEFAULT_DEBOUNCE_MS
    scopes = package["contributes"]["semanticTokenScopes"][0]["scopes"]
    assert {k.split(".")[1] for k in scopes} == {"comply", "negotiate", "withdraw"} <= set(tokens.TOKEN_MODIFIERS)


def test_the_lsp_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from policyengine.cli import main

    assert main(["lsp", "--help"]) == 0
    assert "--policies" in capsys.readouterr().out
    assert main(["lsp", "--debounce", "-5"]) == 2
    assert "--debounce must be 0 or more" in capsys.readouterr().err


def test_the_lsp_command_says_what_to_install_when_the_extra_is_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from policyengine.cli import main

    for name in [m for m in sys.modules if m == "pygls" or m.startswith(("pygls.", "policyengine.lsp.server"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pygls", None)
    assert main(["lsp"]) == 2
    assert "needs the `lsp` extra (pygls is not installed): pip install 'policyengine[lsp]'" in capsys.readouterr().err


# --- hostile input ---------------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(files=hostile_files())
def test_no_feature_raises_on_hostile_files(files: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> None:
    """Damaged files, as an editor would send them: every feature answers at every place."""
    project = Project(tmp_path_factory.mktemp("hostile"))
    for name, data in files.items():
        project.open(name, data.decode("utf-8", errors="surrogateescape"), 1)
    snap = project.analyse()
    for d in snap.diagnostics:
        diagnostics.fix(d)
        if d.span.path in snap.documents:
            diagnostics.to_lsp(d, snap, None, lambda p: f"file:///{p}")
    for path, doc in snap.documents.items():
        if doc.parsed is None or doc.standard:
            continue
        text = doc.parsed.source.text
        outline.document_symbols(doc.parsed.result.file, doc.parsed.lines)
        tokens.semantic_tokens(snap.index, path, doc.parsed.lines)
        for offset in range(0, len(text) + 1, max(1, len(text) // 40)):
            hover.hover(snap, path, offset)
            completion.complete(snap, text[:offset])
            pos = doc.parsed.lines.position(offset)
            assert doc.parsed.lines.offset(pos) == offset
            with contextlib.suppress(rename.RenameError):
                rename.rename_edits(snap.index, path, offset, "renamed")
