"""Dates and periods as the commands take them: ``2026-12-01``, an ISO time, ``2026-Q3``, ``2026-07``, ``2026``.

Stage contract: text → aware UTC datetimes; :class:`PeriodError` names what
was expected.  A date means its midnight UTC; a period is half-open
``[start, end)``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ..errors import PolicyEngineError


class PeriodError(PolicyEngineError):
    code = "journal.bad-date"


def parse_when(text: str, what: str = "date") -> datetime:
    """``2026-12-01`` (midnight UTC) or an ISO 8601 time (UTC unless it says otherwise)."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PeriodError(
            f"{what}: `{text}` is not a date", "write a date as 2026-12-01 or a time as 2026-12-01T09:30:00Z"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


_PERIOD = re.compile(r"^(\d{4})(?:-(?:Q([1-4])|H([12])|(\d{2})))?$")


def parse_period(text: str) -> tuple[datetime, datetime]:
    """``2026`` · ``2026-H2`` · ``2026-Q3`` · ``2026-07`` → ``[start, end)`` in UTC."""
    m = _PERIOD.match(text.strip())
    if m is None or (m.group(4) is not None and not 1 <= int(m.group(4)) <= 12):
        raise PeriodError(
            f"--period: `{text}` is not a period",
            "a period is a year (2026), half (2026-H2), quarter (2026-Q3) or month (2026-07)",
        )
    year = int(m.group(1))
    if m.group(2):
        first, months = (int(m.group(2)) - 1) * 3 + 1, 3
    elif m.group(3):
        first, months = (int(m.group(3)) - 1) * 6 + 1, 6
    elif m.group(4):
        first, months = int(m.group(4)), 1
    else:
        first, months = 1, 12
    start = datetime(year, first, 1, tzinfo=UTC)
    end_month = first + months
    end = datetime(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=UTC)
    return start, end


def period_of(start: str | None, end: str | None, period: str | None) -> tuple[datetime | None, datetime | None]:
    """The window of ``--from``/``--to`` or ``--period`` (not both)."""
    if period is not None:
        if start is not None or end is not None:
            raise PeriodError("--period goes instead of --from and --to, not with them")
        return parse_period(period)
    lo = parse_when(start, "--from") if start is not None else None
    hi = parse_when(end, "--to") if end is not None else None
    if lo is not None and hi is not None and hi <= lo:
        raise PeriodError(f"--to ({end}) must come after --from ({start})")
    return lo, hi
