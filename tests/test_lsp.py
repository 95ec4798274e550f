"""`policyengine lsp` end to end: a real server process over stdio, driven by a real LSP client.

One server serves the whole module (starting one costs about a second): its
workspace has two folders, a copy of the shipped library and a folder of
broken files.  Each test leaves the documents it opened closed again, so
the sets are as on disk when the next test starts.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pytest_lsp")
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "policies"
PRELUDE = ROOT / "policyengine" / "language" / "prelude" / "vocabulary.policy"

pytestmark = pytest.mark.asyncio(loop_scope="module")
Workspace = dict[str, Path]
#: What the server said it can do, at initialize.
SERVER_CAPABILITIES: list[types.ServerCapabilities] = []

#: The broken files of the second workspace folder.
BROKEN = {
    # A rule that does not parse between two that do.
    "principles.policy": """\
principle p "Keys stay private" {
    rule first:
        withdraw when demand.kind == key_disclosure
        because "never"

    rule broken:
        withdraw when demand.kind == == traceability
        because "broken"

    rule last:
        comply when demand.kind == hotline
        because "fine"
}
""",
    "places.policy": 'jurisdiction XA "Xanadu" { rule_of_law = 0.5 }\n',
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("lsp")
    library = base / "library"
    shutil.copytree(LIBRARY, library)
    # A binary file in the set: reported, never a crash.
    (library / "jurisdictions" / "blob.policy").write_bytes(b"\x00\x01binary\x00")
    broken = base / "broken"
    broken.mkdir()
    for name, text in BROKEN.items():
        (broken / name).write_text(text, encoding="utf-8")
    outside = base / "outside"
    outside.mkdir()
    return {"library": library, "broken": broken, "outside": outside}


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-m", "policyengine", "lsp", "--debounce", "20"]),
)
async def client(lsp_client: LanguageClient, workspace: dict[str, Path]) -> Any:
    # The test client lacks what VS Code does with the file watcher the server registers.
    registered: list[types.RegistrationParams] = []

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:
        registered.append(params)

    folders = [types.WorkspaceFolder(uri=workspace[k].as_uri(), name=k) for k in ("library", "broken")]
    result = await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
            root_uri=workspace["library"].as_uri(),
            workspace_folders=folders,
        )
    )
    SERVER_CAPABILITIES.append(result.capabilities)
    yield
    await lsp_client.shutdown_session()


# --- helpers ---------------------------------------------------------------------------------------


def uri(path: Path) -> str:
    return path.as_uri()


def position(text: str, needle: str, offset: int = 0, nth: int = 0) -> types.Position:
    """The position of the ``nth`` occurrence of ``needle`` in ``text`` (plus ``offset`` characters)."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    at += offset
    line = text.count("\n", 0, at)
    return types.Position(line=line, character=at - (text.rfind("\n", 0, at) + 1))


def open_doc(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    text = path.read_text(encoding="utf-8") if text is None else text
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri(path), language_id="policy", version=version, text=text)
        )
    )
    return text


def change_doc(client: LanguageClient, path: Path, text: str, version: int) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri(path), version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


def close_doc(client: LanguageClient, path: Path) -> None:
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri(path))))


async def wait_for_diagnostics(
    client: LanguageClient, path: Path, ready: Callable[[Sequence[types.Diagnostic]], bool], timeout: float = 10.0
) -> Sequence[types.Diagnostic]:
    """The diagnostics of ``path`` once ``ready`` holds for them (at most ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        found = client.diagnostics.get(uri(path), [])
        if ready(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"diagnostics of {path.name} never became ready; last: {[d.message for d in found]}")
        await asyncio.sleep(0.02)


async def hover_text(client: LanguageClient, path: Path, pos: types.Position) -> str:
    result = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri(path)), position=pos)
    )
    assert result is not None
    assert isinstance(result.contents, types.MarkupContent)
    return result.contents.value


async def completion_labels(client: LanguageClient, path: Path, pos: types.Position) -> list[str]:
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri(path)), position=pos)
    )
    assert isinstance(result, types.CompletionList)
    return [item.label for item in result.items]


def apply(text: str, edits: Sequence[types.TextEdit]) -> str:
    """``text`` with LSP text edits applied (ASCII text: columns are characters)."""
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)

    def offset(p: types.Position) -> int:
        return min(starts[p.line] + p.character, len(text)) if p.line < len(lines) else len(text)

    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(e.range.start)] + e.new_text + text[offset(e.range.end) :]
    return text


# --- diagnostics and quick fixes -------------------------------------------------------------------


async def test_typo_gets_a_did_you_mean_and_a_quick_fix_and_clears_when_fixed(
    client: LanguageClient, workspace: dict[str, Path]
) -> None:
    path = workspace["library"] / "principles" / "encryption.policy"
    good = path.read_text(encoding="utf-8")
    typo = good.replace("demand.kind == key_disclosure", "demand.kind == key_disclousre")
    open_doc(client, path, typo)
    (d,) = await wait_for_diagnostics(client, path, lambda ds: any(x.code == "PE204" for x in ds))
    assert d.severity == types.DiagnosticSeverity.Error
    assert d.source == "policyengine"
    assert "`key_disclousre` is not in enumeration `kind`" in d.message
    assert "hint: did you mean `key_disclosure`?" in d.message
    assert d.range.start == position(typo, "key_disclousre")
    related = d.related_information or []
    assert any(r.location.uri == PRELUDE.as_uri() for r in related), "the suggestion's declaration is a related location"

    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri(path)),
            range=d.range,
            context=types.CodeActionContext(diagnostics=[d]),
        )
    )
    assert actions is not None
    (action,) = actions
    assert isinstance(action, types.CodeAction)
    assert action.title == "replace with `key_disclosure`"
    assert action.kind == types.CodeActionKind.QuickFix
    assert action.edit is not None and action.edit.changes is not None
    fixed = apply(typo, action.edit.changes[uri(path)])
    assert fixed == good

    change_doc(client, path, fixed, 2)
    await wait_for_diagnostics(client, path, lambda ds: not ds)
    close_doc(client, path)


async def test_a_change_in_one_file_is_reported_in_the_files_it_breaks(
    client: LanguageClient, workspace: dict[str, Path]
) -> None:
    """Renaming a rule by hand breaks the tests that name it: the whole set is re-checked."""
    path = workspace["library"] / "principles" / "encryption.policy"
    tests = workspace["library"] / "tests" / "acceptance.policy"
    good = open_doc(client, path)
    change_doc(client, path, good.replace("rule no_keys:", "rule keys_never:"), 2)
    found = await wait_for_diagnostics(client, tests, lambda ds: any(x.code == "PE211" for x in ds))
    assert any("no rule `encryption.no_keys`" in x.message for x in found)
    change_doc(client, path, good, 3)
    await wait_for_diagnostics(client, tests, lambda ds: not ds)
    close_doc(client, path)


async def test_binary_and_huge_files_get_a_diagnostic_not_a_crash(client: LanguageClient, workspace: Workspace) -> None:
    blob = workspace["library"] / "jurisdictions" / "blob.policy"
    (d,) = await wait_for_diagnostics(client, blob, lambda ds: bool(ds))
    assert d.code == "PE003"
    huge = workspace["library"] / "jurisdictions" / "huge.policy"
    open_doc(client, huge, "# padding\n" * 120_000)
    (d,) = await wait_for_diagnostics(client, huge, lambda ds: bool(ds))
    assert d.code == "PE004"
    # Every request on it still answers.
    assert await completion_labels(client, huge, types.Position(line=3, character=0)) == []
    tokens = await client.text_document_semantic_tokens_full_async(
        types.SemanticTokensParams(text_document=types.TextDocumentIdentifier(uri=uri(huge)))
    )
    assert tokens is not None and not tokens.data
    close_doc(client, huge)
    await wait_for_diagnostics(client, huge, lambda ds: not ds)


# --- hover -----------------------------------------------------------------------------------------


async def test_hover_on_a_standing_expectation_shows_the_decision_and_the_deciding_rule(
    client: LanguageClient, workspace: dict[str, Path]
) -> None:
    path = workspace["library"] / "tests" / "acceptance.policy"
    text = path.read_text(encoding="utf-8")
    shown = await hover_text(client, path, position(text, "RU.fsb_keys", 5))
    assert 'demand RU.fsb_keys "Hand over the keys' in shown
    assert "Decision in `RU`: **withdraw** by `encryption.no_keys`" in shown
    assert "Test expectation passes" in shown


async def test_hover_on_a_demand_in_its_jurisdiction_shows_the_decision(
    client: LanguageClient, workspace: dict[str, Path]
) -> None:
    path = workspace["library"] / "jurisdictions" / "world.policy"
    text = path.read_text(encoding="utf-8")
    shown = await hover_text(client, path, position(text, "demand fsb_keys", 8))
    assert "**withdraw** by `encryption.no_keys`" in shown
    assert "`kind` = `key_disclosure`" in shown


async def test_hover_on_each_kind_of_name(client: LanguageClient, workspace: Workspace) -> None:
    world = workspace["library"] / "jurisdictions" / "world.policy"
    w = world.read_text(encoding="utf-8")
    shown = await hover_text(client, world, position(w, 'jurisdiction RU "Russia"', 13))
    assert "Market: **withdraw**" in shown and "`rule_of_law` = `0.43` (set here)" in shown
    eu = workspace["library"] / "jurisdictions" / "eu.policy"
    e = eu.read_text(encoding="utf-8")
    shown = await hover_text(client, eu, position(e, "group EU", 6))
    assert "member(s)" in shown and "`FR`" in shown
    enc = workspace["library"] / "principles" / "encryption.policy"
    t = enc.read_text(encoding="utf-8")
    shown = await hover_text(client, enc, position(t, "principle encryption", 10))
    assert "End-to-end encryption is never weakened" in shown and "`no_keys` → withdraw" in shown
    shown = await hover_text(client, enc, position(t, "rule no_keys", 6))
    assert "withdraw when demand.kind == key_disclosure" in shown and "`RU.fsb_keys`" in shown
    shown = await hover_text(client, enc, position(t, "demand.kind", 8))
    assert "attribute demand.kind: kind" in shown and "`key_disclosure` — hand over the keys" in shown
    shown = await hover_text(client, enc, position(t, "key_disclosure", 2))
    assert "kind.key_disclosure" in shown and "hand over the keys that decrypt users' messages" in shown
    vocabulary = workspace["library"] / "vocabulary.policy"
    v = vocabulary.read_text(encoding="utf-8")
    shown = await hover_text(client, vocabulary, position(v, "extend enum category", 13))
    assert "enum category" in shown and "`intimate_image_abuse`" in shown
    tests = workspace["library"] / "tests" / "acceptance.policy"
    s = tests.read_text(encoding="utf-8")
    shown = await hover_text(client, tests, position(s, "market RU", 0))
    assert "Test expectation passes: expected **withdraw**, decided **withdraw**" in shown


async def test_hover_while_the_set_has_errors_says_the_decision_is_from_the_last_good_version(
    client: LanguageClient, workspace: dict[str, Path]
) -> None:
    enc = workspace["library"] / "principles" / "encryption.policy"
    good = open_doc(client, enc)
    change_doc(client, enc, good.replace("demand.kind == key_disclosure", "demand.kind == key_disclousre"), 2)
    tests = workspace["library"] / "tests" / "acceptance.policy"
    s = tests.read_text(encoding="utf-8")
    shown = await hover_text(client, tests, position(s, "RU.fsb_keys", 5))
    assert "last version of the policy set without errors" in shown
    assert "**withdraw** by `encryption.no_keys`" in shown
    close_doc(client, enc)


# --- navigation ------------------------------------------------------------------------------------


async def test_definition_from_a_test_to_the_rule_and_elsewhere(client: LanguageClient, workspace: Workspace) -> None:
    tests = workspace["library"] / "tests" / "acceptance.policy"
    s = tests.read_text(encoding="utf-8")
    enc = workspace["library"] / "principles" / "encryption.policy"
    t = enc.read_text(encoding="utf-8")

    async def definition(path: Path, pos: types.Position) -> list[types.Location]:
        found = await client.text_document_definition_async(
            types.DefinitionParams(text_document=types.TextDocumentIdentifier(uri=uri(path)), position=pos)
        )
        assert isinstance(found, list)
        return [x for x in found if isinstance(x, types.Location)]

    (loc,) = await definition(tests, position(s, "by encryption.no_keys", 16))
    assert loc.uri == uri(enc) and loc.range.start == position(t, "no_keys")
    (loc,) = await definition(tests, position(s, "by encryption.no_keys", 4))
    assert loc.uri == uri(enc) and loc.range.start == position(t, "principle encryption", 10)
    world = workspace["library"] / "jurisdictions" / "world.policy"
    w = world.read_text(encoding="utf-8")
    (loc,) = await definition(tests, position(s, "RU.fsb_keys", 0))
    assert loc.uri == uri(world) and loc.range.start == position(w, 'RU "Russia"')
    (loc,) = await definition(tests, position(s, "RU.fsb_keys", 4))
    assert loc.uri == uri(world) and loc.range.start == position(w, "fsb_keys")
    (loc,) = await definition(enc, position(t, "key_disclosure"))
    assert loc.uri == PRELUDE.as_uri()
    (loc,) = await definition(enc, position(t, "demand.kind", 8))
    assert loc.uri == PRELUDE.as_uri()


async def test_references_of_a_rule_include_its_tests(client: LanguageClient, workspace: Workspace) -> None:
    enc = workspace["library"] / "principles" / "encryption.policy"
    t = enc.read_text(encoding="utf-8")
    params = types.ReferenceParams(
        text_document=types.TextDocumentIdentifier(uri=uri(enc)),
        position=position(t, "rule no_keys", 6),
        context=types.ReferenceContext(include_declaration=True),
    )
    found = await client.text_document_references_async(params)
    assert found is not None
    files = {Path(x.uri).name if not x.uri.startswith("file://") else x.uri.rsplit("/", 1)[-1] for x in found}
    assert {"encryption.policy", "acceptance.policy", "hard_lines.policy"} <= files
    params.context.include_declaration = False
    without = await client.text_document_references_async(params)
    assert without is not None and len(without) == len(found) - 1
    assert all(x.uri != uri(enc) for x in without)


async def test_references_of_an_enumeration_value_and_a_jurisdiction(client: LanguageClient, workspace: Workspace) -> None:
    enc = workspace["library"] / "principles" / "encryption.policy"
    t = enc.read_text(encoding="utf-8")
    found = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=types.TextDocumentIdentifier(uri=uri(enc)),
            position=position(t, "key_disclosure"),
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    assert found is not None
    names = {x.uri.rsplit("/", 1)[-1] for x in found}
    assert {"vocabulary.policy", "encryption.policy", "world.policy"} <= names  # declaration, rule, demands
    world = workspace["library"] / "jurisdictions" / "world.policy"
    w = world.read_text(encoding="utf-8")
    found = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=types.TextDocumentIdentifier(uri=uri(world)),
            position=position(w, 'RU "Russia"'),
            context=types.ReferenceContext(include_declaration=False),
        )
    )
    assert found is not None and any(x.uri.endswith("acceptance.policy") for x in found)


# --- completion ------------------------------------------------------------------------------------


async def test_completion_by_context(client: LanguageClient, workspace: Workspace) -> None:
    scratch = workspace["library"] / "principles" / "scratch.policy"
    text = 'principle scratch "s" {\n    rule r:\n        withdraw when demand.\n}\n'
    open_doc(client, scratch, text)
    labels = await completion_labels(client, scratch, position(text, "demand.", 7))
    assert {"kind", "category", "legal_basis", "mandatory", "data"} <= set(labels)
    text2 = text.replace("demand.\n", "demand.kind == \n")
    change_doc(client, scratch, text2, 2)
    labels = await completion_labels(client, scratch, position(text2, "== ", 3))
    assert "key_disclosure" in labels and "criminal_suspect" not in labels
    text3 = text.replace("demand.\n", "jurisdiction.code in {\n")
    change_doc(client, scratch, text3, 3)
    labels = await completion_labels(client, scratch, position(text3, "in {", 4))
    assert {"RU", "FR", "EU"} <= set(labels)
    text4 = text.replace("withdraw when demand.\n", "\n")
    change_doc(client, scratch, text4, 4)
    labels = await completion_labels(client, scratch, position(text4, "rule r:", 7))
    assert labels[:3] == ["comply", "negotiate", "withdraw"]
    close_doc(client, scratch)

    tests = workspace["library"] / "tests" / "scratch.policy"
    t = 'test "scratch" {\n    RU.\n}\n'
    open_doc(client, tests, t)
    labels = await completion_labels(client, tests, position(t, "RU.", 3))
    assert {"fsb_keys", "landing_law"} <= set(labels)
    t2 = t.replace("RU.\n", "RU.fsb_keys -> withdraw by \n")
    change_doc(client, tests, t2, 2)
    labels = await completion_labels(client, tests, position(t2, "by ", 3))
    assert "encryption.no_keys" in labels and "default" in labels
    t3 = t.replace("RU.\n", "FR { kind = \n")
    change_doc(client, tests, t3, 3)
    labels = await completion_labels(client, tests, position(t3, "kind = ", 7))
    assert "user_data" in labels
    t4 = t.replace("RU.\n", "\n")
    change_doc(client, tests, t4, 4)
    labels = await completion_labels(client, tests, types.Position(line=1, character=4))
    assert {"RU", "FR", "market"} <= set(labels)
    close_doc(client, tests)


# --- formatting, outline, tokens -------------------------------------------------------------------


async def test_formatting_equals_policyengine_fmt(client: LanguageClient, workspace: Workspace) -> None:
    path = workspace["library"] / "principles" / "messy.policy"
    messy = 'principle   messy "m"{rule a: withdraw when demand.kind==key_disclosure and demand.mandatory because "x"}\n'
    open_doc(client, path, messy)
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri(path)),
            options=types.FormattingOptions(tab_size=4, insert_spaces=True),
        )
    )
    assert edits
    expected = subprocess.run(
        [sys.executable, "-m", "policyengine", "fmt", "-"], input=messy, capture_output=True, text=True, check=True
    ).stdout
    assert apply(messy, edits) == expected
    # A formatted file needs no edit; one with syntax errors gets none.
    change_doc(client, path, expected, 2)
    again = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri(path)),
            options=types.FormattingOptions(tab_size=4, insert_spaces=True),
        )
    )
    assert not again
    close_doc(client, path)


async def test_document_and_workspace_symbols(client: LanguageClient, workspace: Workspace) -> None:
    enc = workspace["library"] / "principles" / "encryption.policy"
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri(enc)))
    )
    assert symbols is not None
    (principle,) = symbols
    assert isinstance(principle, types.DocumentSymbol)
    assert principle.name == "encryption" and principle.kind == types.SymbolKind.Module
    assert [c.name for c in principle.children or []] == ["no_keys", "no_backdoor", "no_traceability", "no_message_content"]
    found = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="nokeys"))
    assert found is not None
    assert any(s.name == "encryption.no_keys" for s in found)


async def test_semantic_tokens_tell_values_from_jurisdictions(client: LanguageClient, workspace: Workspace) -> None:
    legend = SERVER_CAPABILITIES[-1].semantic_tokens_provider
    assert isinstance(legend, types.SemanticTokensOptions)
    types_, modifiers = legend.legend.token_types, legend.legend.token_modifiers
    path = workspace["library"] / "tests" / "scratch2.policy"
    text = 'test "t" {\n    RU { kind = key_disclosure } -> withdraw by encryption.no_keys\n}\n'
    open_doc(client, path, text)
    result = await client.text_document_semantic_tokens_full_async(
        types.SemanticTokensParams(text_document=types.TextDocumentIdentifier(uri=uri(path)))
    )
    assert result is not None
    decoded: dict[str, tuple[str, set[str]]] = {}
    lines = text.split("\n")
    line = char = 0
    data = result.data
    for i in range(0, len(data), 5):
        dl, dc, length, t, mods = data[i : i + 5]
        line += dl
        char = dc if dl else char + dc
        decoded[lines[line][char : char + length]] = (types_[t], {m for b, m in enumerate(modifiers) if mods >> b & 1})
    assert decoded["RU"][0] == "class"
    assert decoded["key_disclosure"] == ("enumMember", {"defaultLibrary"})
    assert decoded["kind"] == ("property", {"defaultLibrary"})
    assert decoded["withdraw"] == ("keyword", {"withdraw"})
    assert decoded["encryption"][0] == "namespace" and decoded["no_keys"][0] == "function"
    assert decoded['"t"'][0] == "string"
    close_doc(client, path)


# --- rename ----------------------------------------------------------------------------------------


async def test_rename_a_rule_across_the_set_with_its_tests(client: LanguageClient, workspace: Workspace) -> None:
    enc = workspace["library"] / "principles" / "encryption.policy"
    t = enc.read_text(encoding="utf-8")
    where = position(t, "rule no_keys", 6)
    prepared = await client.text_document_prepare_rename_async(
        types.PrepareRenameParams(text_document=types.TextDocumentIdentifier(uri=uri(enc)), position=where)
    )
    assert isinstance(prepared, types.PrepareRenamePlaceholder) and prepared.placeholder == "no_keys"
    edit = await client.text_document_rename_async(
        types.RenameParams(text_document=types.TextDocumentIdentifier(uri=uri(enc)), position=where, new_name="never_keys")
    )
    assert edit is not None and edit.changes is not None
    renamed = {
        u.rsplit("/", 1)[-1]: apply(Path(u[len("file://") :]).read_text(encoding="utf-8"), e) for u, e in edit.changes.items()
    }
    assert {"encryption.policy", "acceptance.policy", "hard_lines.policy"} <= set(renamed)
    assert "rule never_keys:" in renamed["encryption.policy"]
    assert "by encryption.never_keys" in renamed["acceptance.policy"] and "no_keys" not in renamed["acceptance.policy"]
    # The renamed set is valid: written to a copy, it checks clean.
    copy = enc.parent.parent.parent / "renamed"
    shutil.copytree(workspace["library"], copy, ignore=shutil.ignore_patterns("blob.policy"))
    for u in edit.changes:
        rel = Path(u[len("file://") :]).relative_to(workspace["library"])
        (copy / rel).write_text(renamed[rel.name], encoding="utf-8")
    check = subprocess.run([sys.executable, "-m", "policyengine", "check", str(copy)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


async def test_rename_refuses_what_cannot_be_renamed(client: LanguageClient, workspace: Workspace) -> None:
    enc = workspace["library"] / "principles" / "encryption.policy"
    t = enc.read_text(encoding="utf-8")
    with pytest.raises(Exception, match="standard vocabulary"):
        await client.text_document_prepare_rename_async(
            types.PrepareRenameParams(
                text_document=types.TextDocumentIdentifier(uri=uri(enc)), position=position(t, "key_disclosure")
            )
        )
    with pytest.raises(Exception, match="already a rule"):
        await client.text_document_rename_async(
            types.RenameParams(
                text_document=types.TextDocumentIdentifier(uri=uri(enc)),
                position=position(t, "rule no_keys", 6),
                new_name="no_backdoor",
            )
        )
    with pytest.raises(Exception, match="keyword"):
        await client.text_document_rename_async(
            types.RenameParams(
                text_document=types.TextDocumentIdentifier(uri=uri(enc)),
                position=position(t, "rule no_keys", 6),
                new_name="withdraw",
            )
        )


async def test_rename_an_enumeration_value_of_the_set(client: LanguageClient, workspace: Workspace) -> None:
    vocabulary = workspace["library"] / "vocabulary.policy"
    v = vocabulary.read_text(encoding="utf-8")
    edit = await client.text_document_rename_async(
        types.RenameParams(
            text_document=types.TextDocumentIdentifier(uri=uri(vocabulary)),
            position=position(v, "message_content"),
            new_name="contents",
        )
    )
    assert edit is not None and edit.changes is not None
    assert uri(workspace["library"] / "principles" / "encryption.policy") in edit.changes
    assert all(e.new_text == "contents" for edits in edit.changes.values() for e in edits)


# --- broken files ----------------------------------------------------------------------------------


async def test_a_file_with_syntax_errors_still_gets_hover_and_completion(
    client: LanguageClient, workspace: dict[str, Path]
) -> None:
    path = workspace["broken"] / "principles.policy"
    text = BROKEN["principles.policy"]
    found = await wait_for_diagnostics(client, path, lambda ds: bool(ds))
    assert any(d.code == "PE101" for d in found)
    shown = await hover_text(client, path, position(text, "rule last", 6))
    assert "comply when demand.kind == hotline" in shown
    shown = await hover_text(client, path, position(text, "key_disclosure"))
    assert "kind.key_disclosure" in shown
    half_typed = text.replace("demand.kind == == traceability", "demand.")
    open_doc(client, path, half_typed)
    labels = await completion_labels(client, path, position(half_typed, "when demand.\n", len("when demand.")))
    assert "kind" in labels
    close_doc(client, path)
    places = workspace["broken"] / "places.policy"
    shown = await hover_text(client, places, types.Position(line=0, character=14))
    assert 'jurisdiction XA "Xanadu"' in shown
    assert "No decision" not in shown  # a jurisdiction hover says what it can


async def test_a_file_outside_every_set_is_a_set_of_its_own(client: LanguageClient, workspace: Workspace) -> None:
    path = workspace["outside"] / "alone.policy"
    text = 'principle alone "a" {\n    rule r:\n        withdraw when demand.kind == hotline\n        because "b"\n}\n'
    open_doc(client, path, text.replace("hotline", "hotlne"))
    (d,) = await wait_for_diagnostics(client, path, lambda ds: bool(ds))
    assert d.code == "PE204" and "did you mean `hotline`?" in d.message
    close_doc(client, path)
    await wait_for_diagnostics(client, path, lambda ds: not ds)


async def test_files_changed_on_disk_are_read_again(client: LanguageClient, workspace: Workspace) -> None:
    path = workspace["broken"] / "new.policy"
    path.write_text('jurisdiction XB "B" in XX { rule_of_law = 0.5 }\n', encoding="utf-8")
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(changes=[types.FileEvent(uri=uri(path), type=types.FileChangeType.Created)])
    )
    (d,) = await wait_for_diagnostics(client, path, lambda ds: bool(ds))
    assert d.code == "PE208"
    path.unlink()
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(changes=[types.FileEvent(uri=uri(path), type=types.FileChangeType.Deleted)])
    )
    await wait_for_diagnostics(client, path, lambda ds: not ds)


async def test_the_standard_vocabulary_opened_from_a_definition_is_read_not_checked(client: LanguageClient) -> None:
    text = open_doc(client, PRELUDE)
    shown = await hover_text(client, PRELUDE, position(text, "key_disclosure"))
    assert "kind.key_disclosure" in shown
    found = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=types.TextDocumentIdentifier(uri=uri(PRELUDE)),
            position=position(text, "key_disclosure"),
            context=types.ReferenceContext(include_declaration=False),
        )
    )
    assert found and any(x.uri.endswith("encryption.policy") for x in found)
    # Checked as a set of its own it would declare every enumeration twice.
    await asyncio.sleep(0.2)
    assert not client.diagnostics.get(uri(PRELUDE))
    close_doc(client, PRELUDE)


async def test_a_workspace_folder_added_is_a_policy_set(client: LanguageClient, workspace: Workspace) -> None:
    extra = workspace["outside"].parent / "extra"
    extra.mkdir()
    (extra / "j.policy").write_text('jurisdiction XC "C" { rule_of_law = 7 }\n', encoding="utf-8")
    folder = types.WorkspaceFolder(uri=uri(extra), name="extra")
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(event=types.WorkspaceFoldersChangeEvent(added=[folder], removed=[]))
    )
    (d,) = await wait_for_diagnostics(client, extra / "j.policy", lambda ds: bool(ds))
    assert d.code == "PE214"
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(event=types.WorkspaceFoldersChangeEvent(added=[], removed=[folder]))
    )
    await wait_for_diagnostics(client, extra / "j.policy", lambda ds: not ds)
