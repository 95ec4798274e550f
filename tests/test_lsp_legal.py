"""`policyengine lsp` and the language of issue 11: actions, conflicts, dates, lists, `as of`.

A real server over stdio, driven by pytest-lsp, on a copy of the shipped
library plus a vocabulary of the set's own that extends the enumeration
`action` and declares a conflict (so completion, hover and navigation are
checked on a set's own action as well as on the standard ones).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pytest_lsp")
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from test_lsp import (
    LIBRARY,
    PRELUDE,
    close_doc,
    completion_labels,
    hover_text,
    open_doc,
    position,
    uri,
    wait_for_diagnostics,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
Workspace = dict[str, Path]
LEGENDS: list[types.SemanticTokensLegend] = []

OWN_VOCABULARY = """\
vocabulary {
    extend enum action {
        consult_counsel "ask the platform's lawyers before answering"
    }

    conflict consult_counsel, emergency_disclosure
        "in an emergency the disclosure comes first; counsel is consulted afterwards"
}
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    base = tmp_path_factory.mktemp("lsp-legal")
    library = base / "library"
    shutil.copytree(LIBRARY, library)
    (library / "own_vocabulary.policy").write_text(OWN_VOCABULARY, encoding="utf-8")
    return {"library": library}


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-m", "policyengine", "lsp", "--debounce", "20"]),
)
async def client(lsp_client: LanguageClient, workspace: Workspace) -> Any:
    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:
        """The file watcher the server registers (VS Code would watch the files)."""

    result = await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
            root_uri=workspace["library"].as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace["library"].as_uri(), name="library")],
        )
    )
    provider = result.capabilities.semantic_tokens_provider
    assert isinstance(provider, types.SemanticTokensOptions)
    LEGENDS.append(provider.legend)
    yield
    await lsp_client.shutdown_session()


def doc_id(path: Path) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri(path))


# --- completion ------------------------------------------------------------------------------------

RULE = """\
principle scratch "s" {
    rule r:
        negotiate when demand.kind == user_data
        because "b"
        actions HOLE
}
"""


async def test_completion_offers_actions_after_the_keyword_and_after_a_comma(
    client: LanguageClient, workspace: Workspace
) -> None:
    path = workspace["library"] / "principles" / "scratch_actions.policy"
    after_because = RULE.replace("\n        actions HOLE", "\n        ")
    open_doc(client, path, after_because)
    labels = await completion_labels(client, path, position(after_because, 'because "b"\n', 20))
    assert "actions" in labels and "rule" in labels
    for version, hole in enumerate(("", "human_review, ", "human_review within 24h, notify_user when not demand.gag_order, "), 2):
        text = RULE.replace("HOLE", hole)
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri(path), version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        labels = await completion_labels(client, path, position(text, f"actions {hole}", 8 + len(hole)))
        # The standard actions and the set's own extension, nothing else.
        assert {"human_review", "notify_user", "publish_in_transparency_report", "consult_counsel"} <= set(labels), hole
        assert "key_disclosure" not in labels and "comply" not in labels
    text = RULE.replace("HOLE", "notify_user ")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri(path), version=9),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
    labels = await completion_labels(client, path, position(text, "notify_user ", 12))
    assert {"within", "when"} <= set(labels)
    text = RULE.replace("HOLE", "notify_user when ")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri(path), version=10),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
    labels = await completion_labels(client, path, position(text, "notify_user when ", 17))
    assert {"not", "demand."} <= set(labels)
    close_doc(client, path)


async def test_completion_of_the_new_vocabulary_and_of_tests(client: LanguageClient, workspace: Workspace) -> None:
    path = workspace["library"] / "jurisdictions" / "scratch_record.policy"
    text = 'jurisdiction XS "Scratch" {\n    demand d "d" {\n        status = \n        authority = \n    }\n}\n'
    open_doc(client, path, text)
    labels = await completion_labels(client, path, position(text, "status = ", 9))
    assert {"proposed", "in_force", "lifted", "overturned"} <= set(labels) and "court" not in labels
    labels = await completion_labels(client, path, position(text, "authority = ", 12))
    assert {"court", "prosecutor", "intelligence_service", "unknown"} <= set(labels)
    labels = await completion_labels(client, path, position(text, "        status", 8))
    assert {"authority", "scope", "status", "addressee", "instrument", "issued", "lifted", "sources", "claimed_category"} <= set(
        labels
    )
    close_doc(client, path)

    tests = workspace["library"] / "tests" / "scratch_actions.policy"
    t = 'test "t" {\n    RU.fsb_keys as of 2018-01-01 -> withdraw by encryption.no_keys actions {human_review, }\n}\n'
    open_doc(client, tests, t)
    labels = await completion_labels(client, tests, position(t, "human_review, ", 14))
    assert {"notify_user", "consult_counsel"} <= set(labels) and "RU" not in labels
    labels = await completion_labels(client, tests, position(t, "no_keys ", 8))
    assert "actions" in labels
    close_doc(client, tests)

    voc = workspace["library"] / "scratch_vocabulary.policy"
    v = "vocabulary {\n    conflict \n}\n"
    open_doc(client, voc, v)
    labels = await completion_labels(client, voc, position(v, "conflict ", 9))
    assert {"human_review", "consult_counsel"} <= set(labels)
    close_doc(client, voc)
    v = "vocabulary {\n    conflict consult_counsel, demand.\n}\n"
    open_doc(client, voc, v)
    labels = await completion_labels(client, voc, position(v, "demand.", 7))
    # The second of a conflict is an action or a bool attribute: only bool attributes are offered.
    assert {"gag_order", "emergency", "mandatory"} <= set(labels) and "kind" not in labels
    close_doc(client, voc)


# --- hover -------------------------------------------------------------------------------------------


async def test_hover_on_actions_and_conflicts(client: LanguageClient, workspace: Workspace) -> None:
    coop = workspace["library"] / "principles" / "cooperation.policy"
    c = coop.read_text(encoding="utf-8")
    # A use: the rule, its condition for the action, what the action is.
    shown = await hover_text(client, coop, position(c, "notify_user when not demand.gag_order", 2, nth=1))
    assert "action.notify_user" in shown and "tell the user concerned" in shown
    assert "Asked for by rule `cooperation.copyright`: no deadline, when `not demand.gag_order`" in shown
    assert "`notify_user` conflicts with `demand.gag_order`" in shown
    own = workspace["library"] / "own_vocabulary.policy"
    # The declaration of the set's own action, with the conflict it is in.
    shown = await hover_text(client, own, position(OWN_VOCABULARY, "consult_counsel", 3))
    assert "ask the platform's lawyers before answering" in shown
    assert "`consult_counsel` conflicts with `emergency_disclosure`" in shown
    # The conflict declaration itself (its text, away from the names).
    shown = await hover_text(client, own, position(OWN_VOCABULARY, "in an emergency", 5))
    assert "conflict consult_counsel, emergency_disclosure" in shown
    assert "the text says which side wins" in shown


async def test_hover_on_a_rule_action_with_a_deadline(client: LanguageClient, workspace: Workspace) -> None:
    path = workspace["library"] / "principles" / "scratch_deadline.policy"
    text = RULE.replace("HOLE", "consult_counsel within 48h when demand.mandatory")
    open_doc(client, path, text)
    await wait_for_diagnostics(client, path, lambda d: not any(x.severity == types.DiagnosticSeverity.Error for x in d))
    shown = await hover_text(client, path, position(text, "consult_counsel", 3))
    assert "Asked for by rule `scratch.r`: within `48h`, when `demand.mandatory`" in shown
    close_doc(client, path)


async def test_hover_on_a_standing_demand_shows_its_actions(client: LanguageClient, workspace: Workspace) -> None:
    tests = workspace["library"] / "tests" / "standing_demands.policy"
    s = tests.read_text(encoding="utf-8")
    shown = await hover_text(client, tests, position(s, "IR.data_localization", 5))
    assert "Decision in `IR`: **negotiate** by `cooperation.data_localization`" in shown
    assert shown.count("; actions: `human_review`") == 1


# --- navigation --------------------------------------------------------------------------------------


async def test_definition_and_references_of_actions_and_conflict_subjects(client: LanguageClient, workspace: Workspace) -> None:
    coop = workspace["library"] / "principles" / "cooperation.policy"
    c = coop.read_text(encoding="utf-8")
    found = await client.text_document_definition_async(
        types.DefinitionParams(text_document=doc_id(coop), position=position(c, "actions human_review", 9))
    )
    assert isinstance(found, list) and len(found) == 1
    prelude_text = PRELUDE.read_text(encoding="utf-8")
    assert found[0].uri.endswith("vocabulary.policy")
    assert found[0].range.start == position(prelude_text, "human_review  ")
    own = workspace["library"] / "own_vocabulary.policy"
    refs = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=doc_id(own),
            position=position(OWN_VOCABULARY, "consult_counsel", 2),
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    assert refs is not None
    # The declaration and the conflict that names it.
    assert sorted((r.uri, r.range.start.line) for r in refs) == [(uri(own), 2), (uri(own), 5)]
    refs = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=doc_id(coop),
            position=position(c, "notify_user when", 2),
            context=types.ReferenceContext(include_declaration=False),
        )
    )
    assert refs is not None
    paths = {Path(r.uri).name for r in refs}
    # Rules, the standard conflict, test expectations.
    assert {"cooperation.policy", "vocabulary.policy", "legal_record.policy"} <= paths
    # The conflict's subject, `demand.gag_order`, goes to the attribute.
    found = await client.text_document_definition_async(
        types.DefinitionParams(text_document=doc_id(own), position=position(OWN_VOCABULARY, "emergency_disclosure", 2))
    )
    assert isinstance(found, list) and len(found) == 1
    assert found[0].range.start == position(prelude_text, "emergency_disclosure  ")
    voc = workspace["library"] / "scratch_conflict.policy"
    v = 'vocabulary {\n    conflict consult_counsel, demand.gag_order "the gag order wins"\n}\n'
    open_doc(client, voc, v)
    found = await client.text_document_definition_async(
        types.DefinitionParams(text_document=doc_id(voc), position=position(v, "gag_order", 2))
    )
    assert isinstance(found, list) and len(found) == 1
    assert found[0].range.start == position(prelude_text, "attribute demand.gag_order", 17)
    close_doc(client, voc)


# --- outline, tokens ---------------------------------------------------------------------------------


async def test_outline_and_semantic_tokens_cover_the_new_constructs(client: LanguageClient, workspace: Workspace) -> None:
    own = workspace["library"] / "own_vocabulary.policy"
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc_id(own)))
    assert symbols is not None
    (vocabulary,) = symbols
    assert isinstance(vocabulary, types.DocumentSymbol)
    names = [s.name for s in vocabulary.children or []]
    assert names == ["extend enum action", "conflict consult_counsel, emergency_disclosure"]
    coop = workspace["library"] / "principles" / "cooperation.policy"
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc_id(coop)))
    assert symbols is not None
    (principle,) = symbols
    assert isinstance(principle, types.DocumentSymbol)
    copyright_rule = next(r for r in principle.children or [] if r.name == "copyright")
    actions = [(a.name, a.detail) for a in copyright_rule.children or []]
    assert actions == [("human_review", None), ("notify_user", "when not demand.gag_order")]

    legend = LEGENDS[-1]
    path = workspace["library"] / "tests" / "scratch_tokens.policy"
    text = (
        'test "t" {\n'
        "    RU.fsb_keys as of 2018-01-01 -> withdraw by encryption.no_keys actions {publish_in_transparency_report}\n"
        "    market RU as of 2015-01-01 -> withdraw counting {fsb_keys}\n"
        '    FR { kind = user_data; issued = 2020-05-01; sources = ["a", "b"] } -> negotiate\n'
        "}\n"
    )
    open_doc(client, path, text)
    result = await client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(text_document=doc_id(path)))
    assert result is not None
    decoded: dict[str, set[str]] = {}
    lines = text.split("\n")
    line = char = 0
    last_end = (0, 0)
    for i in range(0, len(result.data), 5):
        dl, dc, length, t, _ = result.data[i : i + 5]
        line += dl
        char = dc if dl else char + dc
        assert (line, char) >= last_end, "tokens overlap"
        last_end = (line, char + length)
        decoded.setdefault(lines[line][char : char + length], set()).add(legend.token_types[t])
    assert decoded["publish_in_transparency_report"] == {"enumMember"}
    assert decoded["fsb_keys"] == {"method"}
    assert decoded["issued"] == {"property"} and decoded["sources"] == {"property"}
    assert decoded["2018-01-01"] == {"number"} and decoded["2020-05-01"] == {"number"}
    assert {"as", "of", "actions", "counting"} <= {word for word, kinds in decoded.items() if kinds == {"keyword"}}
    close_doc(client, path)


# --- diagnostics -------------------------------------------------------------------------------------

BROKEN = {
    "PE222": (
        'jurisdiction XB "B" {\n    demand d "d" {\n        kind = user_data; issued = 2017-02-30\n    }\n}\n',
        "2017-02-30",
    ),
    "PE223": (RULE.replace("HOLE", "notify_usr"), "notify_usr"),
    "PE224": (RULE.replace("HOLE", "challenge_in_court within 400d"), "400d"),
    "PE225": ('vocabulary {\n    conflict notify_user, demand.legal_basis "a court order wins"\n}\n', "demand.legal_basis"),
}


@pytest.mark.parametrize("code", sorted(BROKEN))
async def test_new_diagnostics_come_through_with_their_codes(client: LanguageClient, workspace: Workspace, code: str) -> None:
    text, needle = BROKEN[code]
    path = workspace["library"] / f"scratch_{code}.policy"
    open_doc(client, path, text)
    found = await wait_for_diagnostics(client, path, lambda d: any(x.code == code for x in d))
    (diag,) = [d for d in found if d.code == code]
    assert diag.severity == types.DiagnosticSeverity.Error
    assert diag.range.start == position(text, needle)
    close_doc(client, path)
    await wait_for_diagnostics(client, path, lambda d: not d)
