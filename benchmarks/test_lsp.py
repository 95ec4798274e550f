"""The language server's latency on the shipped library: one request at a time, over stdio.

``pytest benchmarks/test_lsp.py --benchmark-only`` times each kind of
request with pytest-benchmark; ``python -m benchmarks.test_lsp`` prints the
p50 and p99 of each over many positions (every name of every file for the
requests at a position), which is what docs/tools.md quotes.  The target is
200 ms for every request (the edit row is an edit of the largest file and
the wait for its diagnostics, debounce included).

The server is a real process (``python -m policyengine lsp``) on a copy of
``policies/``, driven by pytest-lsp's client, as in tests/test_lsp.py.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pytest_lsp")
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

from policyengine.lsp.project import Project

Awaitable = Coroutine[Any, Any, Any]
LIBRARY = Path(__file__).resolve().parent.parent / "policies"
#: The largest file of the library, edited by the edit benchmark.
EDITED = "jurisdictions/world.policy"
DEBOUNCE_MS = 150


class Session:
    """A server on a copy of the library and a client on a private event loop."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="policyengine-lsp-bench-"))
        self.root = self.tmp / "policies"
        shutil.copytree(LIBRARY, self.root)
        self.loop = asyncio.new_event_loop()
        self.client: LanguageClient = make_test_lsp_client()
        self.run(self.client.start_io(sys.executable, "-m", "policyengine", "lsp", "--debounce", str(DEBOUNCE_MS)))
        self.run(
            self.client.initialize_session(
                types.InitializeParams(capabilities=client_capabilities("neovim"), root_uri=self.root.as_uri())
            )
        )
        project = Project(self.root)
        project.reload_disk()
        self.snapshot = project.analyse()
        self.files = sorted(p for p in self.snapshot.documents if not p.startswith("<"))
        self.version = 1
        # The first request waits for the initial load; it is not what is measured.
        self.run(self.client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=self.doc(EDITED))))

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(coro)

    def uri(self, path: str) -> str:
        return (self.root / path).as_uri()

    def doc(self, path: str) -> types.TextDocumentIdentifier:
        return types.TextDocumentIdentifier(uri=self.uri(path))

    def names(self) -> list[tuple[str, types.Position]]:
        """A position on every name of every file (the middle of the name)."""
        out = []
        for path in self.files:
            doc = self.snapshot.documents[path]
            assert doc.parsed is not None
            for o in self.snapshot.index.occurrences(path):
                out.append((path, doc.parsed.lines.position((o.span.start + o.span.end) // 2)))
        return out

    def close(self) -> None:
        self.run(self.client.shutdown_session())
        self.run(self.client.stop())
        self.loop.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- one request of each kind ------------------------------------------------------------------

    def requests(self) -> dict[str, Callable[[], Iterator[Coroutine[Any, Any, Any]]]]:
        c = self.client
        names = self.names()

        def at(
            make: Callable[[str, types.Position], Coroutine[Any, Any, Any]],
        ) -> Callable[[], Iterator[Coroutine[Any, Any, Any]]]:
            return lambda: (make(path, pos) for path, pos in names)

        def per_file(make: Callable[[str], Awaitable]) -> Callable[[], Iterator[Awaitable]]:
            return lambda: (make(path) for path in self.files)

        return {
            "hover": at(lambda p, pos: c.text_document_hover_async(types.HoverParams(text_document=self.doc(p), position=pos))),
            "definition": at(
                lambda p, pos: c.text_document_definition_async(types.DefinitionParams(text_document=self.doc(p), position=pos))
            ),
            "references": at(
                lambda p, pos: c.text_document_references_async(
                    types.ReferenceParams(
                        text_document=self.doc(p), position=pos, context=types.ReferenceContext(include_declaration=True)
                    )
                )
            ),
            "completion": at(
                lambda p, pos: c.text_document_completion_async(types.CompletionParams(text_document=self.doc(p), position=pos))
            ),
            "code action": at(
                lambda p, pos: c.text_document_code_action_async(
                    types.CodeActionParams(
                        text_document=self.doc(p),
                        range=types.Range(start=pos, end=pos),
                        context=types.CodeActionContext(diagnostics=[]),
                    )
                )
            ),
            "prepare rename": at(lambda p, pos: self._prepare_rename(p, pos)),
            "semantic tokens": per_file(
                lambda p: c.text_document_semantic_tokens_full_async(types.SemanticTokensParams(text_document=self.doc(p)))
            ),
            "document symbols": per_file(
                lambda p: c.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=self.doc(p)))
            ),
            "formatting": per_file(
                lambda p: c.text_document_formatting_async(
                    types.DocumentFormattingParams(
                        text_document=self.doc(p), options=types.FormattingOptions(tab_size=4, insert_spaces=True)
                    )
                )
            ),
            "workspace symbols": lambda: (
                c.workspace_symbol_async(types.WorkspaceSymbolParams(query=q)) for q in ("", "keys", "RU", "demand.k", "zz")
            ),
        }

    async def _prepare_rename(self, path: str, pos: types.Position) -> Any:
        try:
            return await self.client.text_document_prepare_rename_async(
                types.PrepareRenameParams(text_document=self.doc(path), position=pos)
            )
        except Exception:  # names that cannot be renamed answer with an error: still an answer
            return None

    async def _hover_after_edit(self) -> None:
        """An edit of the largest file and, at once, a hover in it: the request analyses the set
        again (parse of that file, validation of the set) instead of waiting for the debounce."""
        path = self.root / EDITED
        text = path.read_text(encoding="utf-8")
        uri = self.uri(EDITED)
        if self.version == 1:
            self.client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(uri=uri, language_id="policy", version=1, text=text)
                )
            )
        self.version += 1
        edited = text if self.version % 2 else text.replace("rule_of_law = 0.43", "rule_of_law = 0.44", 1)
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=edited)],
            )
        )
        at = edited.index("demand fsb_keys") + 8
        pos = types.Position(line=edited.count("\n", 0, at), character=at - edited.rfind("\n", 0, at) - 1)
        found = await self.client.text_document_hover_async(types.HoverParams(text_document=self.doc(EDITED), position=pos))
        assert found is not None

    async def _edit(self, broken: bool) -> None:
        """Break the largest file (or mend it) and wait for its diagnostics to say so."""
        path = self.root / EDITED
        text = path.read_text(encoding="utf-8")
        content = text.replace("kind = key_disclosure", "kind = key_disclousre", 1) if broken else text
        uri = self.uri(EDITED)
        if self.version == 1:
            self.client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(uri=uri, language_id="policy", version=1, text=text)
                )
            )
        self.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=content)],
            )
        )
        deadline = time.monotonic() + 10
        while bool(self.client.diagnostics.get(uri)) != broken:
            if time.monotonic() > deadline:
                raise AssertionError("no diagnostics after an edit")
            await asyncio.sleep(0.001)

    async def _edit_round_trip(self) -> None:
        await self._edit(True)
        await self._edit(False)


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    s = Session()
    yield s
    s.close()


KINDS = [
    "hover",
    "definition",
    "references",
    "completion",
    "code action",
    "prepare rename",
    "semantic tokens",
    "document symbols",
    "formatting",
    "workspace symbols",
]


@pytest.mark.parametrize("kind", KINDS)
def test_request(benchmark: Any, session: Session, kind: str) -> None:
    make = session.requests()[kind]

    def forever() -> Iterator[Coroutine[Any, Any, Any]]:
        while True:
            yield from make()

    calls = forever()

    def one() -> None:
        session.run(next(calls))

    benchmark.pedantic(one, rounds=50, iterations=1, warmup_rounds=2)


def test_hover_after_an_edit(benchmark: Any, session: Session) -> None:
    benchmark.pedantic(lambda: session.run(session._hover_after_edit()), rounds=10, iterations=1)


def test_edit_to_diagnostics(benchmark: Any, session: Session) -> None:
    """Two edits of the largest file (break it, mend it), each until its diagnostics arrive, debounce included."""
    benchmark.pedantic(lambda: session.run(session._edit_round_trip()), rounds=5, iterations=1)


def main() -> None:
    """p50 and p99 of each kind of request, in milliseconds, over every position of the library."""
    session = Session()
    try:
        print(f"{'request':<22} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        rows: list[tuple[str, Callable[[], Iterator[Coroutine[Any, Any, Any]]]]] = list(session.requests().items())
        rows.append(("hover after an edit", lambda: (session._hover_after_edit() for _ in range(40))))
        rows.append(("edit → diagnostics", lambda: (session._edit(i % 2 == 0) for i in range(40))))
        for kind, make in rows:
            times = []
            # The first request of a kind also builds pygls's (de)serialisers for its
            # types, once per session (up to ~100 ms): not what a request costs.
            session.run(next(iter(make())))
            for call in make():
                start = time.perf_counter()
                session.run(call)
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            p50 = statistics.median(times)
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            print(f"{kind:<22} {len(times):>5} {p50:>8.1f} {p99:>8.1f} {times[-1]:>8.1f}")
    finally:
        session.close()


if __name__ == "__main__":
    main()
