"""The policy sets an editor has open: files on disk overlaid by open documents.

Stage contract: a :class:`Project` is one policy set (a directory, or a lone
file outside every directory the server watches).  It holds the text of its
files as read from disk and, over them, the text of the documents open in the
editor; :meth:`Project.analyse` turns that into an immutable :class:`Snapshot`
(the parsed files, their index, every diagnostic, the validated policy set
when there are no errors).  Nothing here raises on author input: a file that
cannot be read or decoded, is binary or too large becomes a diagnostic, as it
does for ``policyengine check``.

Analysis is incremental where the pipeline allows it.  Each file is parsed
(and indexed) once per text: after an edit only the edited file is parsed
again, then the whole set is validated (validation is the part that needs
every file: names cross files).  On the shipped library an edit costs the
parse of one file plus ~15 ms of validation, where a full
:func:`~policyengine.language.pipeline.analyse_sources` parses every file
again (~170 ms).  :func:`analyse_files` is that composition of the
pipeline's public stages; ``tests/test_lsp_units.py`` checks that it gives
exactly what ``analyse_sources`` gives.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..evaluation.engine import Engine
from ..language.diagnostics import Diagnostic, sorted_diagnostics
from ..language.loader import SUFFIX, Limits, decode, read_sources
from ..language.model import AttributeType, PolicySet
from ..language.parser import ParseResult, parse_file
from ..language.pipeline import analyse_sources, prelude_sources
from ..language.source import Source
from ..language.validate import PRELUDE_PREFIX, validate
from .decisions import Decisions
from .index import FileIndex, SetIndex, index_file
from .positions import UTF16, LineIndex

logger = logging.getLogger(__name__)

#: Codes that say a name is not declared; after a syntax error they are held
#: back when the name is one recovery skipped (the rule of
#: :func:`policyengine.language.pipeline.analyse_sources`, which does not take
#: files already parsed).
_UNDECLARED_NAME = frozenset({"PE202", "PE203", "PE204", "PE206", "PE208", "PE209", "PE210", "PE211", "PE218"})
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@functools.lru_cache(maxsize=1)
def builtin_attributes() -> tuple[AttributeType, ...]:
    """The attributes the language declares itself (``jurisdiction.code`` …), from
    validating the standard vocabulary alone, so that they are never restated here."""
    policy_set, _ = analyse_sources([])
    if policy_set is None:  # pragma: no cover - the standard vocabulary is valid (tests/test_library.py)
        return ()
    return tuple(a for a in policy_set.vocabulary.attributes.values() if a.builtin)


@functools.lru_cache(maxsize=8)
def standard_file(path: str) -> Path | None:
    """Where the file of the standard vocabulary shown as ``path`` is installed, if on disk."""
    if not path.startswith(PRELUDE_PREFIX):
        return None
    entry = resources.files("policyengine.language").joinpath("prelude", path[len(PRELUDE_PREFIX) :])
    candidate = Path(str(entry))
    return candidate if candidate.is_file() else None


@dataclass(frozen=True)
class Parsed:
    """One file's text, parsed and indexed (cached per text)."""

    source: Source
    result: ParseResult
    index: FileIndex
    lines: LineIndex


@dataclass(frozen=True)
class Document:
    """A file of the set as it was analysed.

    ``parsed`` is None when the file could not be decoded (binary, too large,
    not UTF-8); its problems are in the snapshot's diagnostics all the same.
    ``version`` is the editor's version of an open document, None for a file
    read from disk."""

    path: str
    file: Path | None
    parsed: Parsed | None
    version: int | None = None

    @property
    def standard(self) -> bool:
        return self.path.startswith(PRELUDE_PREFIX)

    @property
    def source(self) -> Source | None:
        return self.parsed.source if self.parsed else None


def analyse_files(parsed: Sequence[ParseResult], sources: Sequence[Source]) -> tuple[PolicySet | None, list[Diagnostic]]:
    """Validate files already parsed: what ``analyse_sources`` does after its parse step."""
    diagnostics: list[Diagnostic] = []
    skipped: set[str] = set()
    for result in parsed:
        diagnostics.extend(result.diagnostics)
        skipped |= result.skipped
    policy_set, found = validate([r.file for r in parsed], list(sources))
    for d in found:
        if skipped and d.code in _UNDECLARED_NAME and any(w in skipped for w in _WORD.findall(d.span.text)):
            continue
        diagnostics.append(d)
    if any(d.is_error for d in diagnostics):
        policy_set = None
    return policy_set, sorted_diagnostics(diagnostics)


class Snapshot:
    """A policy set as analysed at one moment: immutable, shared by every request."""

    def __init__(
        self,
        project: Project,
        documents: dict[str, Document],
        diagnostics: list[Diagnostic],
        policy_set: PolicySet | None,
        index: SetIndex,
    ):
        self.project = project
        self.documents = documents
        self.diagnostics = diagnostics
        self.policy_set = policy_set
        self.index = index
        self._decisions: Decisions | None = None

    def document(self, path: str) -> Document | None:
        return self.documents.get(path)

    def diagnostics_by_path(self) -> dict[str, list[Diagnostic]]:
        """Diagnostics grouped by file, with an entry (maybe empty) for every author file."""
        out: dict[str, list[Diagnostic]] = {p: [] for p, d in self.documents.items() if not d.standard}
        for d in self.diagnostics:
            if d.span.path in out:
                out[d.span.path].append(d)
        return out

    def decisions(self) -> tuple[Decisions | None, bool]:
        """What decides for this snapshot, and whether it is current.

        While the set has errors, the engine of the last version without errors
        decides (``False``): an author in the middle of an edit still sees what
        the set decided a moment ago, marked as such."""
        if self.policy_set is not None:
            if self._decisions is None:
                self._decisions = Decisions(Engine(self.policy_set))
                self.project.last_decisions = self._decisions
            return self._decisions, True
        return self.project.last_decisions, False


@dataclass
class _Overlay:
    text: str
    version: int | None
    source: Source | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)


def standard_path(file: Path) -> str | None:
    """The name (``<standard>/vocabulary.policy``) of the installed file of the standard
    vocabulary at ``file``, or None when ``file`` is not one."""
    absolute = Path(os.path.abspath(file))
    for source in prelude_sources():
        installed = standard_file(source.path)
        if installed is not None and Path(os.path.abspath(installed)) == absolute:
            return source.path
    return None


class Project:
    """One policy set: a directory (``root``), a single file outside every root, or
    (neither) the standard vocabulary alone."""

    def __init__(self, root: Path | None, limits: Limits = Limits(), encoding: str = UTF16, single: Path | None = None):
        self.root = Path(os.path.abspath(root)) if root is not None else None
        self.single = Path(os.path.abspath(single)) if single is not None else None
        self.limits = limits
        self.encoding = encoding
        self._disk: dict[str, tuple[Source | None, list[Diagnostic]]] = {}
        self._unplaced: list[Diagnostic] = []
        self._overlays: dict[str, _Overlay] = {}
        self._cache: dict[str, Parsed] = {}
        self.snapshot: Snapshot | None = None
        self.last_decisions: Decisions | None = None
        self.dirty = True

    # -- paths -----------------------------------------------------------------

    def display(self, file: Path) -> str | None:
        """How ``file`` is named in this set, or None when it is not one of its files."""
        absolute = Path(os.path.abspath(file))
        if self.single is not None:
            return absolute.name if absolute == self.single else None
        if self.root is None:
            return None
        try:
            rel = absolute.relative_to(self.root)
        except ValueError:
            return None
        # The loader's rules: `.policy` files only, hidden files and directories skipped.
        if not rel.parts or rel.suffix != SUFFIX or any(part.startswith(".") for part in rel.parts):
            return None
        return rel.as_posix()

    def file_of(self, path: str) -> Path | None:
        if path.startswith(PRELUDE_PREFIX):
            return standard_file(path)
        if self.single is not None:
            return self.single if path == self.single.name else None
        return self.root.joinpath(*path.split("/")) if self.root is not None else None

    # -- inputs -------------------------------------------------------------------

    def reload_disk(self) -> None:
        """Read the set's files from disk again (at start, and when files change)."""
        self.dirty = True
        if self.root is None:
            self._disk = {}
            return
        sources, diagnostics = read_sources([self.root], self.limits)
        disk: dict[str, tuple[Source | None, list[Diagnostic]]] = {s.path: (s, []) for s in sources}
        self._unplaced = []
        for d in diagnostics:
            if d.code == "PE005":
                continue  # a directory without policy files yet: nothing to show in an editor
            if d.span.path.endswith(SUFFIX):
                source, found = disk.get(d.span.path, (None, []))
                disk[d.span.path] = (source, [*found, d])
            else:
                # No file to show it on (an unreadable directory): the server's log says it.
                logger.warning("%s", d)
                self._unplaced.append(d)
        self._disk = disk

    def open(self, path: str, text: str, version: int | None) -> None:
        current = self._overlays.get(path)
        if current is not None and current.text == text:
            current.version = version
            return
        self._overlays[path] = _Overlay(text, version)
        self.dirty = True

    def close(self, path: str) -> None:
        if self._overlays.pop(path, None) is not None:
            self.dirty = True

    def is_open(self, path: str) -> bool:
        return path in self._overlays

    @property
    def unplaced(self) -> list[Diagnostic]:
        """Problems of the set that belong to no file (an unreadable directory)."""
        return list(self._unplaced)

    # -- analysis -------------------------------------------------------------------

    def _decoded(self, path: str, overlay: _Overlay) -> tuple[Source | None, list[Diagnostic]]:
        if overlay.source is None and not overlay.diagnostics:
            # The loader's checks (size, NUL bytes, encoding, line endings) on
            # the editor's text, so an open file is read as it would be from disk.
            data = overlay.text.encode("utf-8", "surrogatepass")
            overlay.source, overlay.diagnostics = decode(path, data, self.limits)
        return overlay.source, overlay.diagnostics

    def _parse(self, source: Source) -> Parsed:
        cached = self._cache.get(source.path)
        if cached is not None and cached.source.text == source.text:
            return cached
        result = parse_file(source)
        parsed = Parsed(source, result, index_file(result.file), LineIndex(source.text, self.encoding))
        self._cache[source.path] = parsed
        return parsed

    def analyse(self) -> Snapshot:
        """Analyse the set as it is now; reuses every parse whose text did not change."""
        entries: dict[str, tuple[Source | None, list[Diagnostic], int | None]] = {
            path: (source, diags, None) for path, (source, diags) in self._disk.items()
        }
        for path, overlay in self._overlays.items():
            source, diags = self._decoded(path, overlay)
            entries[path] = (source, diags, overlay.version)
        documents: dict[str, Document] = {}
        read_problems: list[Diagnostic] = []
        results: list[ParseResult] = []
        sources: list[Source] = []
        for source in prelude_sources():
            parsed = self._parse(source)
            documents[source.path] = Document(source.path, standard_file(source.path), parsed)
            results.append(parsed.result)
            sources.append(parsed.source)
        for path in sorted(entries):
            source, diags, version = entries[path]
            read_problems.extend(diags)
            parsed_file = self._parse(source) if source is not None else None
            documents[path] = Document(path, self.file_of(path), parsed_file, version)
            if parsed_file is not None:
                results.append(parsed_file.result)
                sources.append(parsed_file.source)
        for stale in set(self._cache) - set(documents):
            del self._cache[stale]
        policy_set, diagnostics = analyse_files(results, sources)
        index = SetIndex((d.parsed.index for d in documents.values() if d.parsed), builtin_attributes())
        snapshot = Snapshot(self, documents, sorted_diagnostics([*read_problems, *diagnostics]), policy_set, index)
        self.snapshot = snapshot
        self.dirty = False
        return snapshot

    def current(self) -> Snapshot:
        """The snapshot of the set as it is now (analysed again only if something changed)."""
        if self.dirty or self.snapshot is None:
            return self.analyse()
        return self.snapshot


def project_for(projects: Iterable[Project], file: Path) -> tuple[Project, str] | None:
    """The project (deepest root first) that ``file`` belongs to, with its name there."""
    best: tuple[Project, str] | None = None
    depth = -1
    for project in projects:
        path = project.display(file)
        if path is None:
            continue
        d = len(project.root.parts) if project.root is not None else 10_000
        if d > depth:
            best, depth = (project, path), d
    return best
