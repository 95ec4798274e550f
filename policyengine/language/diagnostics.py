"""Diagnostics: the one shape every problem in a policy set takes.

Stage contract: every stage before decide (load, parse, validate, lint) reports
problems as :class:`Diagnostic` values and returns them; it does not raise.  The
registry :data:`CODES` gives each code its stable number, severity and a
one-line title; docs/language.md lists them and a test checks that every code
has a golden rendering.  Rendering lives in :mod:`policyengine.render`.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import PolicyEngineError
from .source import Span


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    code: str
    severity: Severity
    title: str


_E, _W = Severity.ERROR, Severity.WARNING

#: Every diagnostic code.  Numbers are stable: never renumber, only add.
#: PE0xx loading, PE1xx syntax, PE2xx meaning, PE4xx lint (analysis).
CODES: dict[str, CodeInfo] = {
    info.code: info
    for info in [
        CodeInfo("PE001", _E, "cannot read policy file"),
        CodeInfo("PE002", _E, "policy file is not UTF-8 text"),
        CodeInfo("PE003", _E, "policy file is binary"),
        CodeInfo("PE004", _E, "policy file is too large"),
        CodeInfo("PE005", _E, "no policy files found"),
        CodeInfo("PE006", _W, "policy file is empty"),
        CodeInfo("PE007", _E, "link not followed"),
        #: Reported only by a PolicyStore reload (see evaluation/store.py).
        CodeInfo("PE008", _E, "policy file emptied since the last load"),
        CodeInfo("PE101", _E, "unexpected token"),
        CodeInfo("PE102", _E, "unexpected character"),
        CodeInfo("PE103", _E, "unexpected end of file"),
        CodeInfo("PE104", _E, "unterminated string"),
        CodeInfo("PE105", _E, "nesting too deep"),
        CodeInfo("PE106", _E, "string too long"),
        CodeInfo("PE107", _E, "invalid escape sequence"),
        CodeInfo("PE108", _E, "invalid number"),
        CodeInfo("PE109", _E, "unclosed brace or parenthesis"),
        CodeInfo("PE201", _E, "duplicate id"),
        CodeInfo("PE202", _E, "unknown jurisdiction"),
        CodeInfo("PE203", _E, "unknown attribute"),
        CodeInfo("PE204", _E, "unknown value"),
        CodeInfo("PE205", _E, "type mismatch"),
        CodeInfo("PE206", _E, "unknown type"),
        CodeInfo("PE207", _E, "membership cycle"),
        CodeInfo("PE208", _E, "unknown group"),
        CodeInfo("PE209", _E, "unknown attribute in text"),
        CodeInfo("PE210", _E, "unknown demand"),
        CodeInfo("PE211", _E, "unknown rule"),
        CodeInfo("PE212", _E, "condition can never hold"),
        CodeInfo("PE213", _E, "missing required attribute"),
        CodeInfo("PE214", _E, "value out of range"),
        CodeInfo("PE215", _E, "invalid jurisdiction code"),
        CodeInfo("PE216", _E, "operator not allowed for this type"),
        CodeInfo("PE217", _W, "attribute can never be unknown"),
        CodeInfo("PE218", _E, "unknown enumeration"),
        CodeInfo("PE219", _W, "duplicate value"),
        CodeInfo("PE220", _E, "malformed placeholder in text"),
        CodeInfo("PE221", _E, "invalid vocabulary declaration"),
        CodeInfo("PE222", _E, "invalid date"),
        CodeInfo("PE223", _E, "unknown action"),
        CodeInfo("PE224", _E, "invalid deadline"),
        CodeInfo("PE225", _E, "invalid conflict"),
        # Lint (policyengine/lint.py, docs/analysis.md): all warnings.
        CodeInfo("PE401", _W, "rule never matches"),
        CodeInfo("PE402", _W, "rule never decides"),
        CodeInfo("PE403", _W, "duplicate rule"),
        CodeInfo("PE404", _W, "demands no rule decides"),
        CodeInfo("PE405", _W, "jurisdiction-specific outcome"),
        CodeInfo("PE406", _W, "principle without rules"),
        CodeInfo("PE407", _W, "unused enumeration value"),
        CodeInfo("PE408", _W, "duplicate test"),
        CodeInfo("PE409", _W, "malformed lint directive"),
        CodeInfo("PE410", _W, "unused lint directive"),
        CodeInfo("PE411", _W, "analysis incomplete"),
        CodeInfo("PE412", _W, "contradictory actions"),
    ]
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem, located in a source file.

    ``message`` is written for a policy author: lower case, no final period,
    names in backticks.  The fix, when we can guess it, goes in ``hint``.
    ``label`` is the short text shown under the caret.
    """

    code: str
    message: str
    span: Span
    hint: str | None = None
    label: str | None = None

    @property
    def severity(self) -> Severity:
        return CODES[self.code].severity

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.span.path, self.span.start, self.code, self.message)

    def __str__(self) -> str:
        # A problem with a whole file (missing, unreadable) has no line to point at: the path
        # alone, exactly as the rendered diagnostic and the CLI show it.
        where = self.span.location() if self.span.source.text else self.span.path
        return f"{where}: {self.severity.value}[{self.code}]: {self.message}"


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by file, position and code, duplicates removed: output is deterministic."""
    unique = {(d.sort_key(), d.hint, d.label): d for d in diagnostics}
    return [unique[k] for k in sorted(unique, key=lambda k: (k[0], k[1] or "", k[2] or ""))]


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A ``did you mean `x`?`` hint for a misspelled name, or None."""
    pool = sorted(set(candidates))
    matches = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in pool}
        if name.lower() in lowered:
            matches = [lowered[name.lower()]]
    return f"did you mean `{matches[0]}`?" if matches else None


def one_of(values: Iterable[str], limit: int = 12) -> str:
    """`a`, `b` or `c` — for listing the allowed values in a hint."""
    items = [f"`{v}`" for v in sorted(values)]
    if len(items) > limit:
        items = [*items[:limit], f"… ({len(items) - limit} more)"]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def all_of(values: Iterable[str]) -> str:
    """`a`, `b` and `c` — for naming everything that is missing (``one_of`` is for a choice)."""
    items = [f"`{v}`" for v in sorted(values)]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class PolicyError(PolicyEngineError):
    """Raised by :func:`policyengine.load` when a policy set has errors.

    Carries every diagnostic (errors and warnings) so callers can render them
    all; ``str()`` gives one line per error.
    """

    code = "policy"

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted_diagnostics(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error]
        head = f"{len(errors)} error(s) in policy set"
        super().__init__(head, "run `policyengine check` on the set to see each error with its line")
        self.args = ("\n".join([head, *(str(d) for d in errors)]),)
