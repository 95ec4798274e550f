"""The service with a journal (`--journal`): decision ids, effects, the review queue, shutdown.

Through a real uvicorn server on loopback, with the journal on SQLite in a
temporary directory (tests/test_journal_postgres.py covers PostgreSQL under
the journal itself).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from service_kit import DECIDE_TOKEN, FR_SUSPECT, REVIEW_TOKEN, RU_KEYS, TOKEN_TABLE, live

from policyengine.journal import EFFECTS, open_journal
from policyengine.service import ServiceConfig
from policyengine.service.auth import parse_tokens
from policyengine.service.models import EFFECT_ALIASES
from policyengine.service.models import EFFECTS as SERVICE_EFFECTS

IN_OFFICE = {"jurisdiction": "IN", "demand": {"kind": "local_representative", "category": "all_users", "legal_basis": "statute"}}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_the_service_speaks_the_journals_effects() -> None:
    assert set(SERVICE_EFFECTS) == set(EFFECTS)
    assert set(EFFECT_ALIASES.values()) <= set(EFFECTS)


def test_every_decision_carries_its_journal_id(tmp_path: Path) -> None:
    target = tmp_path / "journal.db"
    with live(ServiceConfig(sighup=False, journal=str(target))) as s, s.client() as http:
        r = http.post("/v1/decide", json=RU_KEYS)
        body = r.json()
        assert body["outcome"] == "withdraw"
        assert UUID.match(body["decision_id"]), body["decision_id"]
        assert r.headers["x-decision-id"] == body["decision_id"]
        batch = http.post("/v1/decide/batch", json=[RU_KEYS, {"jurisdiction": "RU"}, FR_SUSPECT]).json()
        ids = [item["decision"]["decision_id"] for item in batch["results"] if "decision" in item]
        assert len(ids) == 2 and len(set(ids) | {body["decision_id"]}) == 3
        assert http.get("/v1/policy").json()["journal"] == str(target)
        market = http.get("/v1/markets/RU").json()
        market_ids = [d["decision_id"] for d in market["decisions"]]
        assert market_ids and all(UUID.match(i) for i in market_ids)
        ids += market_ids
        metrics = http.get("/metrics").text
        count = next(line for line in metrics.splitlines() if line.startswith("policyengine_journal_write_seconds_count"))
        assert float(count.split()[1]) == 3.0  # one decide, one batch, one market (each committed together)
    # The server closed the journal on shutdown; what it answered is what it kept.
    with open_journal(target) as journal:
        kept = {e.decision_id: e for e in journal.entries()}
        assert set(kept) == {body["decision_id"], *ids}
        assert kept[body["decision_id"]].outcome == "withdraw"
        assert journal.verify().ok


def test_effects_are_journal_events_and_leave_the_queue(tmp_path: Path) -> None:
    target = tmp_path / "journal.db"
    with live(ServiceConfig(sighup=False, journal=str(target))) as s, s.client() as http:
        first = http.post("/v1/decide", json=IN_OFFICE).json()
        second = http.post("/v1/decide", json={**IN_OFFICE, "jurisdiction": "TR"}).json()
        assert (first["outcome"], second["outcome"]) == ("negotiate", "negotiate")
        page = http.get("/review").text
        assert page.index(first["decision_id"]) < page.index(second["decision_id"])  # oldest first
        assert "cooperation.local_representative" in page and "due " in page
        r = http.post("/v1/effects", json={"decision_id": first["decision_id"], "effect": "complied", "note": "office named"})
        assert r.status_code == 201
        answer = r.json()
        assert answer["effect"] == "complied" and answer["by"] == "local"
        page = http.get("/review").text
        assert first["decision_id"] not in page and second["decision_id"] in page
        r = http.post("/v1/effects", json={"decision_id": "0190a0a0-0000-7000-8000-000000000000", "effect": "refused"})
        assert r.status_code == 404 and r.json()["code"] == "journal.unknown-decision"
    with open_journal(target) as journal:
        (event,) = journal.effects(first["decision_id"])
        assert (event.effect, event.by, event.note) == ("given", "local", "office named")
        assert [e.decision_id for e in journal.pending()] == [second["decision_id"]]


def test_the_review_form_records_an_effect_with_a_review_token(tmp_path: Path) -> None:
    tokens = parse_tokens(TOKEN_TABLE, "tokens.txt")
    with live(ServiceConfig(sighup=False, journal=str(tmp_path / "j.db"), tokens=tokens)) as s:
        with s.client(DECIDE_TOKEN) as http:
            decided = http.post("/v1/decide", json=IN_OFFICE).json()
            assert http.get("/review").status_code == 403
        with s.client(REVIEW_TOKEN, follow_redirects=False) as http:
            form = f"decision_id={decided['decision_id']}&effect=escalated&note=legal+team"
            r = http.post(
                "/review/effect",
                content=form,
                headers={"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"},
            )
            assert r.status_code == 303 and r.headers["location"] == "/review"
            assert decided["decision_id"] not in http.get("/review").text
        journal = s.service.journal
        (event,) = journal.effects(decided["decision_id"])
        assert (event.effect, event.by, event.note) == ("escalated", "reviewer", "legal team")


@pytest.mark.parametrize("target", ["/nonexistent-dir/x/journal.db"])
def test_a_journal_that_cannot_be_opened_is_a_setup_error(target: str) -> None:
    from policyengine.service import ServiceSetupError, create_app

    with pytest.raises(ServiceSetupError, match="--journal"):
        create_app(ServiceConfig(sighup=False, journal=target))


def test_decision_json_stays_the_cli_contract_with_an_id(tmp_path: Path) -> None:
    import policyengine

    with live(ServiceConfig(sighup=False, journal=str(tmp_path / "j.db"))) as s, s.client() as http:
        body = http.post("/v1/decide", json=FR_SUSPECT).json()
    expected = json.loads(policyengine.load().decide(FR_SUSPECT).model_dump_json())
    assert {k: v for k, v in body.items() if k != "decision_id"} == {k: v for k, v in expected.items() if k != "decision_id"}
