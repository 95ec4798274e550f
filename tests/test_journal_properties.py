"""Properties of the chain: the canonical encoding is a fixed point, and any one changed byte of
any stored body is found and named, whatever the decisions and whichever byte."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import policyengine
from policyengine.journal import open_journal
from policyengine.journal.chain import canonical, entry_hash

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_canonical_encoding_is_a_fixed_point(value: object) -> None:
    text = canonical(value)
    assert canonical(json.loads(text)) == text


@given(st.text(max_size=40), st.integers(1, 10**9), st.text(max_size=40))
def test_the_hash_binds_position_predecessor_and_body(body: str, seq: int, other: str) -> None:
    h = entry_hash("0" * 64, seq, body)
    assert entry_hash("0" * 64, seq + 1, body) != h
    assert entry_hash("1" * 64, seq, body) != h
    assert other == body or entry_hash("0" * 64, seq, other) != h


ENGINE = policyengine.load()
CODES = ENGINE.jurisdictions()
KINDS = ["user_data", "key_disclosure", "content_removal", "channel_block"]
requests = st.lists(
    st.builds(
        lambda j, k, b: {"jurisdiction": j, "demand": {"kind": k, "category": "criminal_suspect", "legal_basis": b}},
        st.sampled_from(CODES),
        st.sampled_from(KINDS),
        st.sampled_from(["court_order", "statute", "informal"]),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=25, deadline=None)
@given(requests, st.data())
def test_any_changed_byte_is_found_and_named(batch: list[dict[str, object]], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "j.db"
        with open_journal(db) as journal:
            ids = [d.decision_id for d in ENGINE.with_journal(journal).decide_many(batch)]
            assert journal.verify().ok
        victim = data.draw(st.integers(0, len(ids) - 1))
        conn = sqlite3.connect(db)
        (body,) = conn.execute("SELECT body FROM journal_entries WHERE seq = ?", (victim + 1,)).fetchone()
        at = data.draw(st.integers(0, len(body) - 1))
        flipped = chr(ord(body[at]) ^ data.draw(st.sampled_from([1, 2, 4, 8, 16, 32])))
        with conn:
            conn.execute("UPDATE journal_entries SET body = ? WHERE seq = ?", (body[:at] + flipped + body[at + 1 :], victim + 1))
        conn.close()
        with open_journal(db) as journal:
            result = journal.verify()
        assert not result.ok and result.first_bad == ids[victim] and result.entries == victim
