"""The language server: editor messages in, diagnostics, hovers, edits out.

Stage contract: :func:`build_server` returns a pygls ``LanguageServer`` for
``.policy`` files; :func:`serve` runs one over stdin/stdout until the client
says ``exit``.  A request never fails because of what is in a policy file:
every feature answers from the last analysis of the set, which error
recovery always produces.

How it runs.  Every handler runs on pygls's event loop, one at a time, so
the state (:class:`~policyengine.lsp.project.Project` per policy set) needs
no locks.  An edit updates the document and arms a timer (the *debounce*,
``debounce_ms``); when it fires the set is analysed again and the
diagnostics of every file whose diagnostics changed are published (a file
that is fixed gets an empty list).  A request that arrives before the timer
fires does not wait for it: it analyses the set then (after an edit, that is
the parse of the edited file and the validation of the set), so it answers
on the text the editor shows.

Which files make a policy set.  Each workspace folder is one set (all its
``.policy`` files, hidden ones skipped, as ``policyengine check DIR``
reads it), unless the ``policies`` setting (or ``--policies``) names the
directories that hold sets.  A file opened outside every set is a set of
its own.  Open documents overlay the files on disk; files changed on disk
are read again when the client reports it (``workspace/didChangeWatchedFiles``).

Settings (``initializationOptions``, or ``policyengine`` in
``workspace/didChangeConfiguration``): ``policies`` (list of directories,
relative to the workspace folder), ``debounceMs`` (default 150) and
``lint`` (default true: ``policyengine lint`` warnings for a set without
errors).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from .. import __version__
from ..language.diagnostics import Diagnostic
from ..language.format import FormatterBug, format_source
from ..language.validate import PRELUDE_PREFIX
from . import completion, diagnostics, hover, outline, rename, tokens
from .index import Occurrence
from .project import Project, Snapshot, project_for, standard_path
from .rename import RenameError

logger = logging.getLogger(__name__)

DEFAULT_DEBOUNCE_MS = 150


@dataclass(frozen=True)
class Settings:
    policies: tuple[str, ...] = ()
    debounce_ms: int = DEFAULT_DEBOUNCE_MS
    lint: bool = True

    def updated(self, raw: Any) -> Settings:
        """These settings with what the client sent (unknown keys and bad values are ignored)."""
        if not isinstance(raw, dict):
            return self
        if isinstance(raw.get("policyengine"), dict):
            raw = raw["policyengine"]
        out = self
        policies = raw.get("policies")
        if isinstance(policies, str):
            policies = [policies]
        if isinstance(policies, list) and all(isinstance(p, str) for p in policies):
            out = replace(out, policies=tuple(policies))
        debounce = raw.get("debounceMs")
        if isinstance(debounce, int) and not isinstance(debounce, bool) and 0 <= debounce <= 10_000:
            out = replace(out, debounce_ms=debounce)
        lint = raw.get("lint")
        if isinstance(lint, bool):
            out = replace(out, lint=lint)
        return out


def _handler(method: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A plain function for a bound method: pygls marks the functions it registers."""

    def handler(params: Any) -> Any:
        return method(params)

    handler.__name__ = method.__name__
    return handler


class PolicyServer:
    """The state behind the handlers: the projects, the debounce timer, what was published."""

    def __init__(self, settings: Settings = Settings()):
        self.settings = settings
        self.ls = LanguageServer("policyengine", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.projects: list[Project] = []
        self.singles: dict[Path, Project] = {}
        self.uris: dict[tuple[int, str], str] = {}  # (id(project), path) → the client's URI of an open document
        #: What each file was last told (files never told anything are not in it).
        self.published: dict[str, list[types.Diagnostic]] = {}
        self.lint_cache: dict[int, tuple[Snapshot, list[Diagnostic]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._waiting: list[Project] = []
        self._standard: Project | None = None
        self._register()

    # -- setup -------------------------------------------------------------------------

    @property
    def encoding(self) -> str:
        try:
            return str(self.ls.workspace.position_encoding or types.PositionEncodingKind.Utf16)
        except RuntimeError:  # before initialize
            return types.PositionEncodingKind.Utf16

    def _roots(self) -> list[Path]:
        folders: list[Path] = []
        try:
            for folder in self.ls.workspace.folders.values():
                path = to_fs_path(folder.uri)
                if path:
                    folders.append(Path(path))
            if not folders and self.ls.workspace.root_path:
                folders.append(Path(self.ls.workspace.root_path))
        except RuntimeError:
            pass
        if not self.settings.policies:
            return folders
        roots = []
        for p in self.settings.policies:
            given = Path(os.path.expanduser(p))
            if given.is_absolute():
                roots.append(given)
            else:
                roots.extend(f / given for f in (folders or [Path.cwd()]))
        return roots

    def _make_projects(self) -> None:
        old = {p.root: p for p in self.projects}
        self.projects = []
        for root in dict.fromkeys(Path(os.path.abspath(r)) for r in self._roots()):
            project = old.pop(root, None) or Project(root, encoding=self.encoding)
            if project.snapshot is None:
                project.reload_disk()
            self.projects.append(project)
        for gone in old.values():
            self._clear(gone)

    def _register(self) -> None:
        ls = self.ls
        ls.feature(types.INITIALIZE)(_handler(self.initialize))
        ls.feature(types.INITIALIZED)(_handler(self.initialized))
        ls.feature(types.TEXT_DOCUMENT_DID_OPEN)(_handler(self.did_open))
        ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)(_handler(self.did_change))
        ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)(_handler(self.did_close))
        ls.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)(_handler(self.did_change_watched_files))
        ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(_handler(self.did_change_configuration))
        ls.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)(_handler(self.did_change_workspace_folders))
        ls.feature(types.TEXT_DOCUMENT_HOVER)(_handler(self.hover))
        ls.feature(types.TEXT_DOCUMENT_DEFINITION)(_handler(self.definition))
        ls.feature(types.TEXT_DOCUMENT_REFERENCES)(_handler(self.references))
        ls.feature(types.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)(_handler(self.highlight))
        ls.feature(
            types.TEXT_DOCUMENT_COMPLETION,
            types.CompletionOptions(trigger_characters=[".", " ", "{", ">"]),
        )(_handler(self.completion))
        ls.feature(types.TEXT_DOCUMENT_FORMATTING)(_handler(self.formatting))
        ls.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)(_handler(self.document_symbols))
        ls.feature(types.WORKSPACE_SYMBOL)(_handler(self.workspace_symbols))
        ls.feature(
            types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL,
            types.SemanticTokensLegend(token_types=list(tokens.TOKEN_TYPES), token_modifiers=list(tokens.TOKEN_MODIFIERS)),
        )(_handler(self.semantic_tokens))
        ls.feature(
            types.TEXT_DOCUMENT_CODE_ACTION,
            types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
        )(_handler(self.code_action))
        ls.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)(_handler(self.prepare_rename))
        ls.feature(types.TEXT_DOCUMENT_RENAME)(_handler(self.rename))

    # -- lifecycle -------------------------------------------------------------------------

    def initialize(self, params: types.InitializeParams) -> None:
        self.settings = self.settings.updated(params.initialization_options)

    def initialized(self, params: types.InitializedParams) -> None:
        self._make_projects()
        for project in self.projects:
            self._publish(project, self._analyse(project))
        self._watch_files()

    def _watch_files(self) -> None:
        caps = self.ls.client_capabilities.workspace
        watched = caps.did_change_watched_files if caps else None
        if not (watched and watched.dynamic_registration):
            return
        options = types.DidChangeWatchedFilesRegistrationOptions(watchers=[types.FileSystemWatcher(glob_pattern="**/*.policy")])
        registration = types.Registration(
            id="policyengine-files", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES, register_options=options
        )
        self.ls.client_register_capability(types.RegistrationParams(registrations=[registration]))

    # -- documents ---------------------------------------------------------------------------

    def _locate(self, uri: str, create: bool = False) -> tuple[Project, str] | None:
        fs = to_fs_path(uri)
        file = Path(fs) if fs else Path(uri.rsplit("/", 1)[-1] or "untitled.policy")
        if fs and (standard := standard_path(file)) is not None:
            # Opened from a definition: read from the set it was reached from
            # (the first, it is the same in every set), never checked as a set of its own.
            return (self.projects or [*self.singles.values()] or [self._standard_only()])[0], standard
        found = project_for(self.projects, file) if fs else None
        if found is not None:
            return found
        key = Path(os.path.abspath(file))
        single = self.singles.get(key)
        if single is None and create:
            single = self.singles[key] = Project(None, encoding=self.encoding, single=key)
        if single is None:
            return None
        return single, key.name

    def _standard_only(self) -> Project:
        if self._standard is None:
            self._standard = Project(None, encoding=self.encoding)
        return self._standard

    def uri_of(self, project: Project, path: str) -> str | None:
        uri = self.uris.get((id(project), path))
        if uri is not None:
            return uri
        file = project.file_of(path)
        return from_fs_path(str(file)) if file is not None else None

    def did_open(self, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        found = self._locate(doc.uri, create=True)
        if found is None:
            return
        project, path = found
        if path.startswith(PRELUDE_PREFIX):
            return  # the standard vocabulary is read as installed; edits to it are not the set's
        self.uris[(id(project), path)] = doc.uri
        project.open(path, doc.text, doc.version)
        self._schedule(project, 0)

    def did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        found = self._locate(params.text_document.uri)
        if found is None:
            return
        project, path = found
        if path.startswith(PRELUDE_PREFIX):
            return
        text = self.ls.workspace.get_text_document(params.text_document.uri).source
        project.open(path, text, params.text_document.version)
        self._schedule(project, self.settings.debounce_ms)

    def did_close(self, params: types.DidCloseTextDocumentParams) -> None:
        found = self._locate(params.text_document.uri)
        if found is None:
            return
        project, path = found
        if path.startswith(PRELUDE_PREFIX):
            return
        project.close(path)
        self.uris.pop((id(project), path), None)
        if project.single is not None:
            self.singles.pop(project.single, None)
            self._clear(project)
            return
        self._schedule(project, 0)

    def did_change_watched_files(self, params: types.DidChangeWatchedFilesParams) -> None:
        touched = set()
        for change in params.changes:
            fs = to_fs_path(change.uri)
            if not fs:
                continue
            for project in self.projects:
                if project.root is not None and Path(os.path.abspath(fs)).is_relative_to(project.root):
                    touched.add(id(project))
        for project in self.projects:
            if id(project) in touched:
                project.reload_disk()
                self._schedule(project, self.settings.debounce_ms)

    def did_change_configuration(self, params: types.DidChangeConfigurationParams) -> None:
        before = self.settings
        self.settings = self.settings.updated(params.settings)
        if self.settings.policies != before.policies:
            self._make_projects()
            for project in self.projects:
                self._schedule(project, 0)
        elif self.settings.lint != before.lint:
            for project in self.projects:
                self._schedule(project, 0)

    def did_change_workspace_folders(self, params: types.DidChangeWorkspaceFoldersParams) -> None:
        # pygls has updated its list of folders; the sets follow it.
        self._make_projects()
        for project in self.projects:
            self._schedule(project, 0)

    # -- analysis and diagnostics ------------------------------------------------------------------

    def _analyse(self, project: Project) -> Snapshot:
        try:
            return project.current()
        except Exception:  # a bug must cost one analysis, never the server
            logger.exception("analysis failed; keeping the previous one")
            if project.snapshot is None:
                raise
            project.dirty = False
            return project.snapshot

    def _schedule(self, project: Project, delay_ms: int) -> None:
        if project not in self._waiting:
            self._waiting.append(project)
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(delay_ms / 1000, self._flush)

    def _flush(self) -> None:
        self._timer = None
        waiting, self._waiting = self._waiting, []
        for project in waiting:
            try:
                self._publish(project, self._analyse(project))
            except Exception:
                logger.exception("publishing diagnostics failed")

    def _lint(self, snapshot: Snapshot) -> list[Diagnostic]:
        if not self.settings.lint or snapshot.policy_set is None:
            return []
        cached = self.lint_cache.get(id(snapshot.project))
        if cached is not None and cached[0] is snapshot:
            return cached[1]
        decisions, _ = snapshot.decisions()
        found: list[Diagnostic] = []
        if decisions is not None:
            from ..analysis.lint import lint

            try:
                found = list(lint(decisions.engine.compiled).findings)
            except Exception:
                logger.exception("lint failed")
        self.lint_cache[id(snapshot.project)] = (snapshot, found)
        return found

    def _publish(self, project: Project, snapshot: Snapshot) -> None:
        by_path = snapshot.diagnostics_by_path()
        for d in self._lint(snapshot):
            if d.span.path in by_path:
                by_path[d.span.path].append(d)
        seen: set[str] = set()
        for path, found in sorted(by_path.items()):
            uri = self.uri_of(project, path)
            if uri is None:
                continue
            doc = snapshot.document(path)
            lines = doc.parsed.lines if doc is not None and doc.parsed is not None else None
            converted = [diagnostics.to_lsp(d, snapshot, lines, lambda p: self.uri_of(project, p)) for d in found]
            seen.add(uri)
            self._send(uri, converted, doc.version if doc is not None else None)
        for uri in list(self.published):
            if uri not in seen and self._owner(uri) is project:
                self._send(uri, [], None)

    def _owner(self, uri: str) -> Project | None:
        found = self._locate(uri)
        return found[0] if found else None

    def _send(self, uri: str, found: list[types.Diagnostic], version: int | None) -> None:
        previous = self.published.get(uri)
        # A file that never had diagnostics is not told it has none: a set of
        # a thousand clean files costs no messages.
        if previous == found or (previous is None and not found):
            return
        self.published[uri] = found
        if not found:
            self.published.pop(uri, None)
        self.ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=found, version=version))

    def _clear(self, project: Project) -> None:
        for uri in list(self.published):
            found = self._locate(uri)
            if found is None or found[0] is project:
                self._send(uri, [], None)

    # -- requests ----------------------------------------------------------------------------------------

    def _at(self, uri: str) -> tuple[Project, str, Snapshot] | None:
        found = self._locate(uri)
        if found is None:
            return None
        project, path = found
        return project, path, self._analyse(project)

    def _offset(self, snapshot: Snapshot, path: str, position: types.Position) -> int | None:
        doc = snapshot.document(path)
        if doc is None or doc.parsed is None:
            return None
        return doc.parsed.lines.offset(position)

    def _location(self, project: Project, snapshot: Snapshot, o: Occurrence) -> types.Location | None:
        uri = self.uri_of(project, o.path)
        doc = snapshot.document(o.path)
        if uri is None or doc is None or doc.parsed is None:
            return None
        return types.Location(uri=uri, range=doc.parsed.lines.range(o.span.start, o.span.end))

    def hover(self, params: types.HoverParams) -> types.Hover | None:
        at = self._at(params.text_document.uri)
        if at is None:
            return None
        _, path, snapshot = at
        offset = self._offset(snapshot, path, params.position)
        if offset is None:
            return None
        found = hover.hover(snapshot, path, offset)
        if found is None:
            return None
        text, span = found
        lines = snapshot.documents[path].parsed.lines  # type: ignore[union-attr]
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
            range=lines.range(span.start, span.end),
        )

    def _occurrence(self, uri: str, position: types.Position) -> tuple[Project, Snapshot, Occurrence] | None:
        at = self._at(uri)
        if at is None:
            return None
        project, path, snapshot = at
        offset = self._offset(snapshot, path, position)
        if offset is None:
            return None
        o = snapshot.index.at(path, offset)
        return (project, snapshot, o) if o is not None else None

    def definition(self, params: types.DefinitionParams) -> list[types.Location] | None:
        found = self._occurrence(params.text_document.uri, params.position)
        if found is None:
            return None
        project, snapshot, o = found
        out = [loc for d in snapshot.index.definitions(o.kind, o.key) if (loc := self._location(project, snapshot, d))]
        return out or None

    def references(self, params: types.ReferenceParams) -> list[types.Location] | None:
        found = self._occurrence(params.text_document.uri, params.position)
        if found is None:
            return None
        project, snapshot, o = found
        refs = snapshot.index.references(o.kind, o.key)
        if not params.context.include_declaration:
            refs = [r for r in refs if not r.definition]
        return [loc for r in refs if (loc := self._location(project, snapshot, r))]

    def highlight(self, params: types.DocumentHighlightParams) -> list[types.DocumentHighlight] | None:
        found = self._occurrence(params.text_document.uri, params.position)
        if found is None:
            return None
        _, snapshot, o = found
        lines = snapshot.documents[o.path].parsed.lines  # type: ignore[union-attr]
        return [
            types.DocumentHighlight(
                range=lines.range(r.span.start, r.span.end),
                kind=types.DocumentHighlightKind.Write if r.definition else types.DocumentHighlightKind.Read,
            )
            for r in snapshot.index.references(o.kind, o.key)
            if r.path == o.path
        ]

    def completion(self, params: types.CompletionParams) -> types.CompletionList | None:
        at = self._at(params.text_document.uri)
        if at is None:
            return None
        _, path, snapshot = at
        offset = self._offset(snapshot, path, params.position)
        doc = snapshot.document(path)
        if offset is None or doc is None or doc.parsed is None:
            return types.CompletionList(is_incomplete=False, items=[])
        items = completion.complete(snapshot, doc.parsed.source.text[:offset])
        return types.CompletionList(is_incomplete=False, items=items)

    def formatting(self, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
        at = self._at(params.text_document.uri)
        if at is None:
            return None
        _, path, snapshot = at
        doc = snapshot.document(path)
        if doc is None or doc.parsed is None or doc.standard:
            return None
        try:
            formatted, _ = format_source(doc.parsed.source)
        except FormatterBug as bug:
            self.ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=str(bug)))
            return None
        editor = self.ls.workspace.get_text_document(params.text_document.uri).source
        if formatted is None or formatted == editor:
            return [] if formatted is not None else None
        lines = doc.parsed.lines
        return [types.TextEdit(range=types.Range(start=types.Position(line=0, character=0), end=lines.end()), new_text=formatted)]

    def document_symbols(self, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol] | None:
        at = self._at(params.text_document.uri)
        if at is None:
            return None
        _, path, snapshot = at
        doc = snapshot.document(path)
        if doc is None or doc.parsed is None:
            return None
        return outline.document_symbols(doc.parsed.result.file, doc.parsed.lines)

    def workspace_symbols(self, params: types.WorkspaceSymbolParams) -> list[types.WorkspaceSymbol]:
        out: list[types.WorkspaceSymbol] = []
        for project in [*self.projects, *self.singles.values()]:
            snapshot = self._analyse(project)
            for kind, key, span, symbol_kind in outline.workspace_symbols(snapshot.index, params.query):
                o = Occurrence(kind, key, span, True)
                loc = self._location(project, snapshot, o)
                if loc is not None:
                    out.append(types.WorkspaceSymbol(name=key, kind=symbol_kind, location=loc, container_name=kind.value))
        return out

    def semantic_tokens(self, params: types.SemanticTokensParams) -> types.SemanticTokens | None:
        at = self._at(params.text_document.uri)
        if at is None:
            return None
        _, path, snapshot = at
        doc = snapshot.document(path)
        if doc is None or doc.parsed is None:
            return types.SemanticTokens(data=[])
        return types.SemanticTokens(data=tokens.semantic_tokens(snapshot.index, path, doc.parsed.lines))

    def code_action(self, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        at = self._at(params.text_document.uri)
        if at is None:
            return None
        project, path, snapshot = at
        doc = snapshot.document(path)
        if doc is None or doc.parsed is None:
            return None
        lines = doc.parsed.lines
        start, end = lines.offset(params.range.start), lines.offset(params.range.end)
        out: list[types.CodeAction] = []
        for d in snapshot.diagnostics_by_path().get(path, []):
            if d.span.end < start or d.span.start > end or d.span.source.text is not lines.text:
                continue
            fix = diagnostics.fix(d)
            if fix is None:
                continue
            edit = types.TextEdit(range=lines.range(fix.span.start, fix.span.end), new_text=fix.text)
            out.append(
                types.CodeAction(
                    title=fix.title,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[diagnostics.to_lsp(d, snapshot, lines, lambda p: self.uri_of(project, p))],
                    edit=types.WorkspaceEdit(changes={params.text_document.uri: [edit]}),
                    is_preferred=True,
                )
            )
        return out

    def prepare_rename(self, params: types.PrepareRenameParams) -> types.PrepareRenamePlaceholder | None:
        at = self._at(params.text_document.uri)
        if at is None:
            return None
        _, path, snapshot = at
        offset = self._offset(snapshot, path, params.position)
        if offset is None:
            return None
        try:
            o = rename.rename_target(snapshot.index, path, offset)
        except RenameError as err:
            raise JsonRpcException(str(err), code=types.LSPErrorCodes.RequestFailed) from None
        lines = snapshot.documents[path].parsed.lines  # type: ignore[union-attr]
        return types.PrepareRenamePlaceholder(range=lines.range(o.span.start, o.span.end), placeholder=o.name)

    def rename(self, params: types.RenameParams) -> types.WorkspaceEdit | None:
        at = self._at(params.text_document.uri)
        if at is None:
            return None
        project, path, snapshot = at
        offset = self._offset(snapshot, path, params.position)
        if offset is None:
            return None
        try:
            _, spans = rename.rename_edits(snapshot.index, path, offset, params.new_name)
        except RenameError as err:
            raise JsonRpcException(str(err), code=types.LSPErrorCodes.RequestFailed) from None
        changes: dict[str, list[types.TextEdit]] = {}
        for span in spans:
            uri = self.uri_of(project, span.path)
            doc = snapshot.document(span.path)
            if uri is None or doc is None or doc.parsed is None:
                continue
            changes.setdefault(uri, []).append(
                types.TextEdit(range=doc.parsed.lines.range(span.start, span.end), new_text=params.new_name)
            )
        return types.WorkspaceEdit(changes=changes)


def build_server(settings: Settings = Settings()) -> PolicyServer:
    return PolicyServer(settings)


class _RefusalsAreNotErrors(logging.Filter):
    """pygls logs every error response with its traceback; a refusal the server
    answers on purpose (this name cannot be renamed) is an answer, not a fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, JsonRpcException) and exc.code == types.LSPErrorCodes.RequestFailed)


def serve(policies: Sequence[str] = (), debounce_ms: int = DEFAULT_DEBOUNCE_MS, lint: bool = True) -> None:
    """Run the language server on stdin/stdout until the client asks it to exit."""
    logging.getLogger("pygls.protocol.json_rpc").addFilter(_RefusalsAreNotErrors())
    server = build_server(Settings(tuple(policies), debounce_ms, lint))
    server.ls.start_io()
