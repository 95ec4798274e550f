"""Journal entries as JSON lines in the shape of OPA decision logs.

Stage contract: :func:`export_record` turns a :class:`JournalEntry` (and its
effects) into one JSON object with OPA's field names, ``decision_id``,
``timestamp``, ``policy_version`` (OPA: the bundle revision), ``input`` and
``result``, plus ours: the chain position and hashes and the effect events.
:func:`read_export` reads such lines back into replayable inputs; it raises
:class:`~policyengine.journal.JournalError` naming the line of a bad one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from .backends import JournalError
from .chain import format_time
from .journal import EffectEvent, JournalEntry


def export_record(entry: JournalEntry, effects: Iterable[EffectEvent] = ()) -> dict[str, Any]:
    return {
        "decision_id": entry.decision_id,
        "timestamp": format_time(entry.timestamp),
        "policy_version": entry.policy_version,
        "input": entry.input,
        "result": {
            "outcome": entry.outcome,
            "rules": list(entry.rules),
            "default_applied": entry.default_applied,
            "demand": entry.demand,
            "jurisdiction_chain": list(entry.jurisdiction_chain),
            "actions": list(entry.actions),
            "as_of": entry.as_of,
        },
        "seq": entry.seq,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
        "effects": [
            {
                "id": e.id,
                "effect": e.effect,
                "at": format_time(e.at),
                "by": e.by,
                "note": e.note,
                "recorded": format_time(e.recorded),
            }
            for e in effects
        ],
    }


def read_export(lines: Iterable[str], name: str = "<export>") -> Iterator[dict[str, Any]]:
    """The records of an export, each checked for the fields replay and reports read."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise JournalError(f"{name}:{n}: not JSON ({exc})") from None
        if not (
            isinstance(record, dict)
            and isinstance(record.get("decision_id"), str)
            and isinstance(record.get("input"), dict)
            and isinstance(record.get("result"), dict)
        ):
            raise JournalError(f"{name}:{n}: not a journal export record (decision_id, input and result are required)")
        yield record


def write_lines(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False, sort_keys=True))
        out.write("\n")
        count += 1
    return count
