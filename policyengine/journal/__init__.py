"""The decision journal: decisions recorded in a hash chain, effects, reports and replay.

Layer 3 (docs/architecture.md): imports evaluation and language, and
analysis's diff shape.  The public API::

    from policyengine.journal import open_journal
    with open_journal("decisions.db") as journal:
        engine = policyengine.load(journal=journal)
        d = engine.decide(request)           # d.decision_id: its journal entry
        journal.record_effect(d.decision_id, "given", by="legal team")
        assert journal.verify().ok

docs/journal.md describes the format, the chain, durability and masking.
"""

from __future__ import annotations

from .backends import JournalError
from .journal import EFFECTS, EffectEvent, Journal, JournalEntry, VerifyResult, open_journal
from .masking import Masking, MaskingError

__all__ = [
    "EFFECTS",
    "EffectEvent",
    "Journal",
    "JournalEntry",
    "JournalError",
    "Masking",
    "MaskingError",
    "VerifyResult",
    "open_journal",
]
