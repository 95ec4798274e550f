"""The budget of an analysis: how many classes, seconds and megabytes it may spend.

Stage contract: every analysis that enumerates (the demand space, ``lint``,
``diff``, what-if) takes an optional :class:`Budget` and charges a
:class:`Meter` started from it once per class it builds (a leaf of a split,
a cell of a product of independent parts, a candidate decision).  When a
limit is passed the meter raises :class:`BudgetExceeded`; the analysis
catches it at its entry point, keeps what it has, and reports itself
*incomplete* (lint: the PE411 diagnostic; diff and what-if: an
``incomplete`` text; the CLI: exit code 4).  An incomplete analysis never
reads as a clean one.

Why a budget at all: the demand space is exact, and exactness can cost an
exponential number of classes on a small file (18 boolean attributes tested
together by one rule give 2^18 classes per kind).  The space avoids the
blow-up where the rules allow it (attributes no rule tests together are split
apart, see :mod:`policyengine.analysis.space`), but no construction avoids
it for every set, and a pre-commit hook or a review gate must end.

Why these defaults: the shipped library needs 396 classes for lint and about
2,000 for a diff, a stress set of 400 random rules 49,686 classes (7 s of
lint); 200,000 classes is four times that and stays well under the memory
limit (a class costs well under a kilobyte).  30 seconds bounds a pre-commit
hook; 1,024 MB is the growth of the resident set allowed beyond what the
process held when the analysis started.  Classes are the limit to rely on:
the same input stops at the same place on every machine, while time and
memory depend on the machine and its load.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field

#: Defaults, documented in docs/analysis.md ("The budget") and docs/cli.md.
DEFAULT_MAX_CLASSES = 200_000
DEFAULT_MAX_SECONDS = 30.0
DEFAULT_MAX_MEMORY_MB = 1024

#: The clock and the memory are read once every this many charges: a read of
#: /proc costs a few microseconds, a charge a few nanoseconds.
_CHECK_EVERY = 512


class BudgetExceeded(Exception):
    """Raised by :meth:`Meter.charge` past a limit; caught by the analysis that started the meter."""

    def __init__(self, limit: str, detail: str, flag: str, raise_to: str) -> None:
        super().__init__(detail)
        self.limit = limit  # "classes", "seconds" or "memory"
        self.detail = detail
        self.flag = flag
        self.raise_to = raise_to
        #: The rule (index into ``PolicySet.rules``) whose part of the space was being built, when known.
        self.rule: int | None = None

    @property
    def message(self) -> str:
        """In an author's words: what stopped, and that the findings are partial."""
        return f"analysis incomplete: {self.detail}; what it reports covers only part of the demand space"

    @property
    def hint(self) -> str:
        return f"raise the budget with `{self.flag} {self.raise_to}`, or test fewer attributes together in one rule"


def _rss_mb() -> float:
    """The process's resident set now, in MB (Linux), else its peak (elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1_048_576
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class Budget:
    """Limits for one analysis run; ``None`` for a limit means no limit (the CLI flags write it 0)."""

    max_classes: int | None = DEFAULT_MAX_CLASSES
    max_seconds: float | None = DEFAULT_MAX_SECONDS
    max_memory_mb: float | None = DEFAULT_MAX_MEMORY_MB

    @classmethod
    def unlimited(cls) -> Budget:
        return cls(None, None, None)

    def start(self) -> Meter:
        return Meter(self)


@dataclass
class Meter:
    """The running count of one analysis against its :class:`Budget`."""

    budget: Budget
    classes: int = 0
    started: float = field(default_factory=time.monotonic)
    # Read through the module's name when the meter starts, like every later
    # read: a default_factory bound at class creation would keep the function
    # the module had then, and the start and the reads could disagree.
    rss_start: float = field(default_factory=lambda: _rss_mb())
    _next_check: int = _CHECK_EVERY

    def charge(self, n: int = 1) -> None:
        """Count ``n`` more classes; raise :class:`BudgetExceeded` past a limit."""
        self.classes += n
        b = self.budget
        if b.max_classes is not None and self.classes > b.max_classes:
            raise BudgetExceeded(
                "classes",
                f"stopped after {b.max_classes:,} demand classes (the class budget)",
                "--max-classes",
                f"{b.max_classes * 10}",
            )
        if self.classes >= self._next_check:
            self._next_check = self.classes + _CHECK_EVERY
            self.check()

    def check(self) -> None:
        """Compare the clock and the memory with the budget."""
        b = self.budget
        if b.max_seconds is not None and time.monotonic() - self.started > b.max_seconds:
            raise BudgetExceeded(
                "seconds",
                f"stopped after {b.max_seconds:g} seconds (the time budget), at {self.classes:,} demand classes",
                "--max-seconds",
                f"{b.max_seconds * 4:g}",
            )
        if b.max_memory_mb is not None and _rss_mb() - self.rss_start > b.max_memory_mb:
            raise BudgetExceeded(
                "memory",
                f"stopped when it had used {b.max_memory_mb:g} MB (the memory budget), at {self.classes:,} demand classes",
                "--max-memory",
                f"{b.max_memory_mb * 2:g}",
            )
