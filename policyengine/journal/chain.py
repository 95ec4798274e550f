"""The chain: canonical JSON, entry hashes and time-ordered ids.

Stage contract: pure functions, no I/O.  Every journal entry is stored as its
*body*, a JSON object in the canonical encoding of :func:`canonical` (keys
sorted, no whitespace, UTF-8, no NaN), and its hash links it to the entry
before it::

    hash = SHA-256( prev_hash "\\n" seq "\\n" body )      (hex, lower case)

so the position (``seq``), the predecessor and every byte of the body are
bound together: changing, inserting, removing or reordering an entry breaks
the hash of that entry or of the next one.  The first entry's ``prev_hash``
is :data:`GENESIS`; after a prune it is the hash of the last pruned entry,
recorded in a checkpoint entry (docs/journal.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

#: ``prev_hash`` of the first entry of a journal that was never pruned.
GENESIS = "0" * 64

_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def canonical(obj: Any) -> str:
    """The one encoding of a body that is hashed: sorted keys, no spaces, UTF-8, no NaN.

    Python's float repr is the shortest round-trip form, so a number decoded
    and re-encoded gives the same text: verification re-hashes stored text,
    and a body that decodes to the same value always encodes the same way.
    """
    return _encode(obj)


def entry_hash(prev: str, seq: int, body: str) -> str:
    """The hash of the entry at ``seq`` with ``body`` after the entry whose hash is ``prev``."""
    return hashlib.sha256(f"{prev}\n{seq}\n{body}".encode()).hexdigest()


_id_lock = threading.Lock()
#: Seeded from the OS once; a child process made by fork reseeds it (see below).
_random = random.Random().getrandbits
_last_ms = 0
_counter = 0


def new_id() -> tuple[str, str]:
    """A UUIDv7 (RFC 9562) and its UTC timestamp (``2026-12-02T13:29:44.123456Z``).

    The first 48 bits are the Unix time in milliseconds, so ids sort by time;
    within one millisecond a 12-bit counter (``rand_a``, started at a random
    value below 2048) keeps the ids of this process strictly increasing, and
    62 random bits make ids of different processes distinct (from
    :mod:`random`, seeded from the OS: ids need to be unique, not secret).
    """
    global _last_ms, _counter
    now = time.time_ns()
    ms = now // 1_000_000
    with _id_lock:
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter > 0xFFF:
                ms += 1
                _counter = 0
        else:
            _counter = _random(11)
        _last_ms = ms
        counter = _counter
    rand_b = _random(62)
    h = f"{(ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand_b:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}", timestamp_text(max(now, ms * 1_000_000))


def timestamp_text(ns: int) -> str:
    """Nanoseconds since the epoch as the journal writes times: UTC, microseconds, ``Z``."""
    seconds, rest = divmod(ns, 1_000_000_000)
    t = time.gmtime(seconds)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{rest // 1000:06d}Z"


def format_time(when: datetime) -> str:
    """A datetime in the journal's text form (naive datetimes are taken as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}Z"


def parse_time(text: str) -> datetime:
    """The journal's text form of a time, back to an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _reseed() -> None:
    # A forked child would otherwise draw the same "random" bits as its parent.
    global _random
    _random = random.Random().getrandbits


os.register_at_fork(after_in_child=_reseed)
