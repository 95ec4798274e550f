"""One bounded memo type for every table the engine keeps.

Stage contract: :class:`Memo` maps keys to values that are *pure functions of
the key* for the life of the memo (a decision of a checked request, a rule's
explanation, a fact, a hint).  It never raises on its own and never changes
what a caller computes: a miss only means the value is built again.

Why this shape:

* **Lookups take no lock.**  ``get`` is the table's own ``dict.get``, bound
  once, so a memo hit costs one C call (the decision memo is the whole cost
  of a repeated request, about a microsecond).  Sharing one memo between
  threads is safe because every thread that stores under a key would store
  an equal value: a lost race stores the same thing twice.
* **Bounded, and what "full" means is simple.**  When a new key arrives and
  the table already holds ``maxsize`` entries, the table is emptied first and
  starts again with the new entry.  Memory therefore never exceeds the
  bound (plus, for a moment, one entry per thread storing at that instant),
  and a memo filled by one kind of traffic (a flood of one-off requests, say)
  follows the traffic that comes next instead of staying full of it forever.
  An LRU would keep the hot entries through a flood, but it must reorder on
  every hit, which needs a lock and costs more than the hit itself.
* ``maxsize=0`` keeps nothing, for the engine's ``memo=False``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    """A table of at most ``maxsize`` entries; emptied when a new key finds it full."""

    __slots__ = ("_table", "get", "maxsize")

    def __init__(self, maxsize: int):
        if maxsize < 0:
            raise ValueError(f"a memo's maxsize must be at least 0, not {maxsize}")
        self.maxsize = maxsize
        self._table: dict[K, V] = {}
        #: ``get(key)`` → the stored value, or None.  The dict's own method,
        #: bound once: nothing runs in Python on a hit.
        self.get: Callable[[K], V | None] = self._table.get

    def put(self, key: K, value: V) -> V:
        """Store ``value`` under ``key`` (unless ``maxsize`` is 0) and return it."""
        table = self._table
        if len(table) >= self.maxsize and key not in table:
            if not self.maxsize:
                return value
            table.clear()
        table[key] = value
        return value

    def clear(self) -> None:
        self._table.clear()

    def __len__(self) -> int:
        return len(self._table)

    def __contains__(self, key: object) -> bool:
        return key in self._table

    def __repr__(self) -> str:
        return f"Memo({len(self._table)}/{self.maxsize})"
