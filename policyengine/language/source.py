"""Source text and spans.

Stage contract: a :class:`Source` is the decoded text of one policy file; a
:class:`Span` is a pair of character offsets into it.  Line and column numbers
are derived only when something is rendered, so parsing stays cheap and spans
stay exact whatever the line endings of the file.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, eq=False)
class Source:
    """The decoded text of one policy file.

    ``path`` is the name shown to authors (relative to the policy set when it
    was loaded from a directory), ``text`` the text with line endings
    normalised to ``\\n`` so that columns and carets agree on every platform.
    """

    path: str
    text: str
    _line_starts: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        starts = [0]
        find = self.text.find
        pos = find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find("\n", pos + 1)
        object.__setattr__(self, "_line_starts", starts)

    @property
    def line_count(self) -> int:
        return len(self._line_starts)

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column (in characters) of ``offset``."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        """The text of 1-based ``line`` without its newline."""
        if line < 1 or line > len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end == -1 else self.text[start:end]


@dataclass(frozen=True, slots=True)
class Span:
    """Half-open range ``[start, end)`` of character offsets in ``source``."""

    source: Source = field(compare=False, hash=False, repr=False)
    start: int
    end: int

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def line(self) -> int:
        return self.source.line_col(self.start)[0]

    @property
    def column(self) -> int:
        return self.source.line_col(self.start)[1]

    def end_line_col(self) -> tuple[int, int]:
        return self.source.line_col(self.end)

    @property
    def text(self) -> str:
        return self.source.text[self.start : self.end]

    def location(self) -> str:
        """``path:line:col``, the form every diagnostic and reason shows."""
        line, col = self.source.line_col(self.start)
        return f"{self.source.path}:{line}:{col}"

    def short_location(self) -> str:
        """``path:line``, the form decisions cite."""
        return f"{self.source.path}:{self.line}"

    def to(self, other: Span) -> Span:
        """The span from the start of this one to the end of ``other``."""
        return Span(self.source, min(self.start, other.start), max(self.end, other.end))
