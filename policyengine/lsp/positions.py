"""Character offsets ↔ LSP positions.

Stage contract: a :class:`LineIndex` maps the character offsets that spans
hold (Python string indices into a :class:`~policyengine.language.source.Source`)
to LSP ``(line, character)`` positions and back, counting ``character`` in the
code units the client and server agreed on at ``initialize`` (UTF-16 unless
the client offers UTF-32 or UTF-8).  It never raises: a position past the end
of a line or of the text is clamped, as the protocol asks.

Sources hold text with line endings normalised to ``\\n``.  That changes no
line number and no column an editor shows (``\\r\\n`` and a lone ``\\r`` are
line breaks to LSP as well), so a position computed on the normalised text is
the same position in the editor's buffer.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

from lsprotocol import types

from ..language.source import Source, Span

UTF8 = types.PositionEncodingKind.Utf8
UTF16 = types.PositionEncodingKind.Utf16
UTF32 = types.PositionEncodingKind.Utf32


def _utf16(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _utf8(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _utf32(text: str) -> int:
    return len(text)


_UNITS: dict[str, Callable[[str], int]] = {UTF8: _utf8, UTF16: _utf16, UTF32: _utf32}


def units_counter(encoding: str) -> Callable[[str], int]:
    """How many code units of ``encoding`` a piece of text takes."""
    return _UNITS.get(encoding, _utf16)


class LineIndex:
    """Line starts of one text, for conversions in both directions."""

    __slots__ = ("_count", "_starts", "encoding", "text")

    def __init__(self, text: str, encoding: str = UTF16):
        self.text = text
        self.encoding = encoding
        self._count = units_counter(encoding)
        starts = [0]
        find = text.find
        pos = find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find("\n", pos + 1)
        self._starts = starts

    @classmethod
    def of(cls, source: Source, encoding: str = UTF16) -> LineIndex:
        return cls(source.text, encoding)

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def _line_end(self, line: int) -> int:
        return self._starts[line + 1] - 1 if line + 1 < len(self._starts) else len(self.text)

    def position(self, offset: int) -> types.Position:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._starts, offset) - 1
        start = self._starts[line]
        piece = self.text[start:offset]
        return types.Position(line=line, character=len(piece) if piece.isascii() else self._count(piece))

    def range(self, start: int, end: int) -> types.Range:
        return types.Range(start=self.position(start), end=self.position(max(start, end)))

    def offset(self, position: types.Position) -> int:
        """The character offset of ``position``; a column in the middle of a
        character (half a surrogate pair) is taken as the start of that character."""
        if position.line < 0:
            return 0
        if position.line >= len(self._starts):
            return len(self.text)
        start = self._starts[position.line]
        end = self._line_end(position.line)
        line = self.text[start:end]
        wanted = max(0, position.character)
        if line.isascii() or self.encoding == UTF32:
            return start + min(wanted, len(line))
        units = 0
        for i, ch in enumerate(line):
            width = self._count(ch)
            if units + width > wanted:
                return start + i
            units += width
        return end

    def line_col_offset(self, line: int, column: int) -> int:
        """The offset of 1-based ``line`` and ``column`` (in characters), as locations print them."""
        if line < 1:
            return 0
        if line > len(self._starts):
            return len(self.text)
        return min(self._starts[line - 1] + max(0, column - 1), self._line_end(line - 1))

    def end(self) -> types.Position:
        return self.position(len(self.text))


def span_range(span: Span, encoding: str = UTF16, index: LineIndex | None = None) -> types.Range:
    """The LSP range of ``span``, with ``index`` when the caller has one for its source."""
    if index is None or index.text is not span.source.text:
        index = LineIndex.of(span.source, encoding)
    return index.range(span.start, span.end)
