"""Diagnostics in the editor: the set's diagnostics as LSP diagnostics, and their fixes.

Stage contract: :func:`to_lsp` turns one
:class:`~policyengine.language.diagnostics.Diagnostic` into an LSP diagnostic
with its code, the hint on a line of its own, and related locations;
:func:`fix` reads the ``did you mean `x`?`` hint of a diagnostic as a text
edit (what the quick fix "replace with `x`" applies).  Neither raises.

The language's diagnostics name other places in words (``it is first
declared at eu.policy:3:5``) and carry no list of related spans, so the
locations are read back from those words, and a did-you-mean's suggestion
is looked up in the index to point at its declaration.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lsprotocol import types

from ..language.diagnostics import Diagnostic, Severity
from ..language.source import Span
from .index import SetIndex
from .positions import LineIndex
from .project import Snapshot

SOURCE = "policyengine"

_DID_YOU_MEAN = re.compile(r"did you mean `([^`]+)`\?")
_LOCATION = re.compile(r"\bat ([^\s`,;]+):(\d+):(\d+)")
_NAME_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass(frozen=True)
class Fix:
    """Replace ``span`` (part of a diagnostic's span) with ``text``."""

    title: str
    span: Span
    text: str


def suggestion(d: Diagnostic) -> str | None:
    m = _DID_YOU_MEAN.match(d.hint or "")
    return m.group(1) if m else None


def fix(d: Diagnostic) -> Fix | None:
    """The edit that applies a did-you-mean hint, or None.

    A diagnostic's span is the whole of what is wrong: a name (``key_disclousre``),
    an attribute (``demand.knd``), a placeholder, or a clause that ends with the
    name (``by encrpytion.no_keys``).  A span of one word is replaced whole;
    otherwise the last name in it with as many dots as the suggestion is."""
    wanted = suggestion(d)
    if wanted is None:
        return None
    text = d.span.text
    title = f"replace with `{wanted}`"
    if not text or text == wanted:
        return None
    if not any(ch.isspace() for ch in text):
        return Fix(title, d.span, wanted)
    dots = wanted.count(".")
    last = None
    for m in _NAME_PATH.finditer(text):
        if m.group().count(".") == dots:
            last = m
    if last is None:
        return None
    start = d.span.start + last.start()
    return Fix(title, Span(d.span.source, start, start + len(last.group())), wanted)


def _related_by_name(d: Diagnostic, index: SetIndex) -> list[tuple[str, Span]]:
    """The declaration of a did-you-mean's suggestion, when the index has one."""
    wanted = suggestion(d)
    if wanted is None:
        return []
    o = index.at(d.span.path, d.span.end)
    if o is None or not (d.span.start <= o.span.start <= d.span.end):
        return []
    name = wanted.strip("{}").replace(" ", "")
    key = name if "." in name or "." not in o.key else f"{o.key.rsplit('.', 1)[0]}.{name}"
    return [(f"`{wanted}` is declared here", decl.span) for decl in index.definitions(o.kind, key)[:1]]


def to_lsp(
    d: Diagnostic,
    snapshot: Snapshot,
    lines: LineIndex | None,
    uri_of: Callable[[str], str | None],
) -> types.Diagnostic:
    """``d`` for the editor; ``lines`` is the line index of the file it is in (None for a
    file that could not be decoded), ``uri_of`` names a file of the set by its path."""
    if lines is None or lines.text is not d.span.source.text:
        lines = LineIndex(d.span.source.text, snapshot.project.encoding)
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    related: list[types.DiagnosticRelatedInformation] = []
    for m in _LOCATION.finditer(f"{d.message} {d.hint or ''}"):
        path, line, col = m.group(1), int(m.group(2)), int(m.group(3))
        doc = snapshot.document(path)
        uri = uri_of(path)
        if doc is None or doc.parsed is None or uri is None:
            continue
        at = doc.parsed.lines.line_col_offset(line, col)
        location = types.Location(uri=uri, range=doc.parsed.lines.range(at, at))
        related.append(types.DiagnosticRelatedInformation(location=location, message="see here"))
    for text, span in _related_by_name(d, snapshot.index):
        doc = snapshot.document(span.path)
        uri = uri_of(span.path)
        if doc is None or doc.parsed is None or uri is None:
            continue
        location = types.Location(uri=uri, range=doc.parsed.lines.range(span.start, span.end))
        related.append(types.DiagnosticRelatedInformation(location=location, message=text))
    return types.Diagnostic(
        range=lines.range(d.span.start, d.span.end),
        message=message,
        severity=types.DiagnosticSeverity.Error if d.severity is Severity.ERROR else types.DiagnosticSeverity.Warning,
        code=d.code,
        source=SOURCE,
        related_information=related or None,
    )
