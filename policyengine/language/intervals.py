"""Interval algebra on numbers: the one place that knows what ``< 0.6`` allows.

Stage contract: pure functions over :data:`Interval` values, no state.
Validation uses them to find an ``and`` whose number tests exclude each other
(PE212); the demand space (``analysis/space.py``) to cut a number's range into
the regions that the rules' constants tell apart, to merge adjacent regions
back and to tell whether a number lies in a class.  Both layers reading one
algebra keeps "validation says it can never hold" and "the space finds no
demand where it holds" from drifting apart.

An interval is ``(low, high, low included, high included)``; the ends may be
infinite.  Points are ``(x, x, True, True)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

#: A set of numbers: (low, high, low included, high included).
Interval = tuple[float, float, bool, bool]

INF = math.inf
EVERYTHING: Interval = (-INF, INF, False, False)

_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}


def negated_op(op: str) -> str:
    """The comparison that holds exactly where ``op`` does not (on known numbers)."""
    return _NEGATED[op]


def of_comparison(op: str, x: float) -> Interval | None:
    """The numbers ``v`` with ``v op x``; None for ``!=``, which is not one interval."""
    return {
        "<": (-INF, x, False, False),
        "<=": (-INF, x, False, True),
        ">": (x, INF, False, False),
        ">=": (x, INF, True, False),
        "==": (x, x, True, True),
    }.get(op)


def is_empty(iv: Interval) -> bool:
    lo, hi, lo_in, hi_in = iv
    return lo > hi or (lo == hi and not (lo_in and hi_in))


def intersect(a: Interval, b: Interval) -> Interval:
    """The numbers in both (possibly empty: see :func:`is_empty`)."""
    lo, hi, lo_in, hi_in = a
    blo, bhi, blo_in, bhi_in = b
    if blo > lo or (blo == lo and not blo_in):
        lo, lo_in = blo, blo_in
    if bhi < hi or (bhi == hi and not bhi_in):
        hi, hi_in = bhi, bhi_in
    return (lo, hi, lo_in, hi_in)


def contains(iv: Interval, x: float) -> bool:
    lo, hi, lo_in, hi_in = iv
    return (lo < x or (lo_in and lo == x)) and (x < hi or (hi_in and hi == x))


def regions(lo: float, hi: float, cuts: Iterable[float]) -> list[tuple[Interval, float]]:
    """The points and open intervals that ``cuts`` cut ``[lo, hi]`` into (the ends may be
    infinite), each with a number inside it to stand for it.  Inside one region every
    comparison with a cut has one truth value."""
    points = sorted({c for c in cuts if lo <= c <= hi} | {x for x in (lo, hi) if math.isfinite(x)})
    if not points:
        return [(EVERYTHING, 0.0)]
    out: list[tuple[Interval, float]] = []
    if lo == -INF:
        out.append(((-INF, points[0], False, False), points[0] - 1.0))
    for i, p in enumerate(points):
        out.append(((p, p, True, True), p))
        if i + 1 < len(points):
            q = points[i + 1]
            out.append(((p, q, False, False), p + (q - p) / 2))
    if hi == INF:
        out.append(((points[-1], INF, False, False), points[-1] + 1.0))
    return out


def merge(ivs: Iterable[Interval]) -> tuple[Interval, ...]:
    """Adjacent intervals joined: (0, 0.6) and [0.6, 0.6] become (0, 0.6]."""
    out: list[Interval] = []
    for iv in sorted(ivs):
        if out:
            plo, phi, plo_in, phi_in = out[-1]
            lo, hi, lo_in, hi_in = iv
            if phi == lo and (phi_in or lo_in):
                out[-1] = (plo, hi, plo_in, hi_in)
                continue
        out.append(iv)
    return tuple(out)
