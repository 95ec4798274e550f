"""`policyengine report`: the counts against an oracle, every format, the HTML page in a real
headless Chromium (a screenshot is saved), and DSA statements of reasons validated one by one."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import policyengine
from policyengine.cli.main import main
from policyengine.journal import open_journal
from policyengine.journal.dsa import SCHEMA, validate

DEMANDS = [
    {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order"},
    {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "informal"},
    {"kind": "content_removal", "category": "hate_speech", "legal_basis": "court_order"},
    {"kind": "content_removal", "category": "terrorism", "legal_basis": "informal"},
    {"kind": "content_removal", "category": "peaceful_protest", "legal_basis": "statute"},
    {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"},
]
COUNTRIES = ["FR", "DE", "RU", "IN", "BR", "TR"]


@pytest.fixture(scope="module")
def journal_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[policyengine.Decision], dict[str, float]]:
    """Every (country, demand) twice, the market of RU, and effects on some decisions."""
    db = tmp_path_factory.mktemp("report") / "j.db"
    engine = policyengine.load()
    hours: dict[str, float] = {}
    with open_journal(db) as journal:
        j = engine.with_journal(journal)
        decisions = j.decide_many([{"jurisdiction": c, "demand": dict(d)} for c in COUNTRIES for d in DEMANDS] * 2)
        decisions += list(j.market("RU").decisions)
        for i, d in enumerate(decisions):
            assert d.decision_id is not None
            if i % 3 == 0 and d.outcome.value == "comply":
                delay = 2.0 + i
                journal.record_effect(d.decision_id, "given", by="ops", at=datetime.now(UTC) + timedelta(hours=delay))
                hours[d.decision_id] = delay
            elif i % 5 == 0:
                journal.record_effect(d.decision_id, "refused", by="legal")
    return db, decisions, hours


def _csv(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, str]]:
    assert main(["report", *argv, "--format", "csv"]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_csv_has_one_row_per_country_kind_legal_process(
    journal_db: tuple[Path, list[policyengine.Decision], dict[str, float]], capsys: pytest.CaptureFixture[str]
) -> None:
    db, decisions, _ = journal_db
    rows = _csv(capsys, "--journal", str(db))
    keys = [(r["country_iso2"], r["request_category"], r["legal_process"]) for r in rows]
    assert len(keys) == len(set(keys))
    oracle = Counter((d.jurisdiction, str(d.request["kind"]), str(d.request["legal_basis"])) for d in decisions)
    assert {k: int(r["requests_received"]) for k, r in zip(keys, rows, strict=True)} == dict(oracle)
    outcomes = Counter(
        (d.jurisdiction, str(d.request["kind"]), str(d.request["legal_basis"]), d.outcome.value) for d in decisions
    )
    for k, r in zip(keys, rows, strict=True):
        for o in ("comply", "negotiate", "withdraw"):
            assert int(r[f"outcome_{o}"]) == outcomes[(*k, o)]
    ru = [r for r in rows if r["country_iso2"] == "RU"]
    assert all(r["market_withdrawn"] == "True" for r in ru)  # RU's mandatory key demand is refused
    assert all(r["market_withdrawn"] == "False" for r in rows if r["country_iso2"] == "FR")


def test_median_hours_and_data_produced(
    journal_db: tuple[Path, list[policyengine.Decision], dict[str, float]], capsys: pytest.CaptureFixture[str]
) -> None:
    db, decisions, hours = journal_db
    rows = _csv(capsys, "--journal", str(db))
    by_key = {(r["country_iso2"], r["request_category"], r["legal_process"]): r for r in rows}
    import statistics

    expected: dict[tuple[str, str, str], list[float]] = {}
    for d in decisions:
        if d.decision_id in hours:
            expected.setdefault((d.jurisdiction, str(d.request["kind"]), str(d.request["legal_basis"])), []).append(
                hours[d.decision_id]
            )
    assert expected
    for key, values in expected.items():
        row = by_key[key]
        assert float(row["median_hours_to_effect"]) == pytest.approx(statistics.median(values), abs=0.02)
        if key[1] == "user_data":
            assert int(row["requests_some_data_produced"]) == len(values)
            assert float(row["pct_some_data_produced"]) == pytest.approx(
                100 * len(values) / int(row["requests_received"]), abs=0.1
            )
    content = [r for r in rows if r["request_category"] == "content_removal"]
    assert all(r["pct_some_data_produced"] == "" for r in content)  # not a demand for data


def test_period_selects_and_formats_agree(
    journal_db: tuple[Path, list[policyengine.Decision], dict[str, float]], capsys: pytest.CaptureFixture[str]
) -> None:
    db, decisions, _ = journal_db
    now = datetime.now(UTC)
    quarter = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
    assert len(_csv(capsys, "--journal", str(db), "--period", quarter)) == len(_csv(capsys, "--journal", str(db)))
    assert _csv(capsys, "--journal", str(db), "--period", "2001-Q1") == []
    assert main(["report", "--journal", str(db), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["decisions"] == len(decisions) and data["markets_withdrawn"] == ["RU"]
    assert main(["report", "--journal", str(db), "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("# Transparency report") and md.count("\n| ") == len(data["rows"]) + 1
    assert main(["report", "--journal", str(db)]) == 0
    assert "markets withdrawn from: RU" in capsys.readouterr().out
    assert main(["report", "--journal", str(db), "--period", "2026-Q5"]) == 2
    assert "is not a period" in capsys.readouterr().err


def _driver(tmp_path: Path):  # type: ignore[no-untyped-def]
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true and chromium/chromedriver are missing")
        pytest.skip("no chromium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1800"):
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tmp_path / 'chrome-profile'}")
    return webdriver.Chrome(service=Service(driver), options=options)


def test_html_report_opens_in_chromium_with_charts(
    journal_db: tuple[Path, list[policyengine.Decision], dict[str, float]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, _, _ = journal_db
    page = tmp_path / "report.html"
    assert main(["report", "--journal", str(db), "--format", "html", "-o", str(page)]) == 0
    capsys.readouterr()
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "default-src 'none'" in html and "http" not in html.split("<body>")[1].lower()
    from selenium.webdriver.common.by import By

    browser = _driver(tmp_path)
    try:
        browser.get(page.as_uri())
        assert browser.title.startswith("Transparency report")
        charts = browser.find_elements(By.CSS_SELECTOR, "svg")
        assert len(charts) == 2
        for chart in charts:
            assert chart.is_displayed() and chart.size["width"] > 200 and chart.size["height"] > 50
            bars = chart.find_elements(By.CSS_SELECTOR, "rect")
            assert bars and all(b.size["width"] > 0 and b.size["height"] > 0 for b in bars)
        country_labels = {t.text for t in charts[0].find_elements(By.CSS_SELECTOR, "text")}
        assert set(COUNTRIES) <= country_labels
        rows = browser.find_elements(By.CSS_SELECTOR, "table tr")
        assert len(rows) > 10
        shot = tmp_path / "report.png"
        assert browser.save_screenshot(str(shot))
        if os.environ.get("POLICYENGINE_KEEP_SCREENSHOT"):
            shutil.copy(shot, os.environ["POLICYENGINE_KEEP_SCREENSHOT"])
        assert shot.stat().st_size > 10_000
    finally:
        browser.quit()


def test_every_dsa_statement_validates(
    journal_db: tuple[Path, list[policyengine.Decision], dict[str, float]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, decisions, _ = journal_db
    out = tmp_path / "sor.jsonl"
    assert main(["report", "--journal", str(db), "--dsa-sor", "-o", str(out)]) == 0
    capsys.readouterr()
    batches = [json.loads(line) for line in out.read_text().splitlines()]
    statements = [s for b in batches for s in b["statements"]]
    assert all(1 <= len(b["statements"]) <= 100 for b in batches)
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    for s in statements:
        assert validate(s) == [], s
    eu = {"FR", "DE"}
    wanted = {
        d.decision_id
        for d in decisions
        if d.jurisdiction in eu and d.request["kind"] == "content_removal" and d.outcome.value == "comply"
    }
    refused = set()
    with open_journal(db) as journal:
        for d in decisions:
            effects = journal.effects(d.decision_id or "")
            if effects and effects[0].effect == "refused":
                refused.add(d.decision_id)
    assert {s["puid"] for s in statements} == wanted - refused
    assert wanted - refused
    informal = [s for s in statements if s["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"]
    assert all("incompatible_content_ground" in s and "illegal_content_legal_ground" not in s for s in informal)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda s: s.pop("decision_facts"), "decision_facts"),
        (lambda s: s.update(decision_facts="x" * 5001), "too long"),
        (lambda s: s.update(category="STATEMENT_CATEGORY_SPAM"), "category"),
        (lambda s: s.update(puid="has space"), "puid"),
        (lambda s: s.update(decision_visibility=["DECISION_VISIBILITY_OTHER"]), "decision_visibility_other"),
        (lambda s: s.pop("illegal_content_legal_ground"), "illegal_content_legal_ground"),
        (lambda s: s.update(content_date="1999-12-31"), "content_date"),
        (lambda s: [s.pop(k) for k in ("decision_visibility",)], "anyOf"),
    ],
    ids=[
        "facts-missing",
        "facts-too-long",
        "bad-category",
        "bad-puid",
        "other-without-text",
        "legal-ground-missing",
        "too-old",
        "no-decision",
    ],
)
def test_the_schema_refuses_what_the_database_refuses(change, problem: str) -> None:  # type: ignore[no-untyped-def]
    good = {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
        "illegal_content_legal_ground": "court order of FR",
        "illegal_content_explanation": "a judge ordered it",
        "content_type": ["CONTENT_TYPE_TEXT"],
        "category": "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
        "territorial_scope": ["FR"],
        "content_date": "2026-11-30",
        "application_date": "2026-12-01",
        "decision_facts": "facts",
        "source_type": "SOURCE_TYPE_OTHER_NOTIFICATION",
        "source_identity": "Paris court",
        "automated_detection": "No",
        "automated_decision": "AUTOMATED_DECISION_PARTIALLY",
        "puid": "0190-abc_1",
    }
    assert validate(good) == []
    bad = copy.deepcopy(good)
    change(bad)
    problems = validate(bad)
    assert problems
    assert problem == "anyOf" or any(problem in p for p in problems), problems
