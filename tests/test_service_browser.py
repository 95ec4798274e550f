"""The pages in a real browser: Debian's chromium, headless, driven by Selenium through chromedriver.

Nothing is downloaded at run time: the browser and the driver are the
system's (``/usr/bin/chromium``, ``/usr/bin/chromedriver``; ``.ci/run``
installs them).  Under ``CI=true`` a missing browser fails the test instead
of skipping it.  The test logs in with a review token, loads the playground,
types a mistake and sees its diagnostic, decides a demand, then records an
effect on a journaled negotiate decision in the review queue, and checks
that the browser reported no CSP violation on the way.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_kit import REVIEW_TOKEN, TOKEN_TABLE, live

from policyengine.journal import open_journal
from policyengine.service import ServiceConfig
from policyengine.service.auth import parse_tokens

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
IN_OFFICE = {"jurisdiction": "IN", "demand": {"kind": "local_representative", "category": "all_users", "legal_basis": "statute"}}
WAIT = 30


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromedriver are needed for the browser test (.ci/run installs them)")
        pytest.skip("chromium/chromedriver not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_playground_and_review_queue_in_a_real_browser(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    journal = tmp_path / "journal.db"
    config = ServiceConfig(sighup=False, journal=str(journal), tokens=parse_tokens(TOKEN_TABLE, "tokens.txt"))
    with live(config) as s:
        wait = WebDriverWait(browser, WAIT)
        # A router's negotiate decision, journaled, for the review queue.
        decided = httpx.post(f"{s.url}/v1/decide", json=IN_OFFICE, headers={"Authorization": f"Bearer {REVIEW_TOKEN}"}).json()
        assert decided["outcome"] == "negotiate"

        browser.get(f"{s.url}/login")
        browser.find_element(By.NAME, "token").send_keys(REVIEW_TOKEN + Keys.ENTER)
        wait.until(ec.presence_of_element_located((By.ID, "source")))

        # The playground: the server's file arrives, highlighted by our lexer.
        Select(browser.find_element(By.ID, "file")).select_by_visible_text("principles/encryption.policy")
        wait.until(lambda b: "principle encryption" in b.find_element(By.ID, "source").get_attribute("value"))
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#highlight span.decl"))
        wait.until(ec.text_to_be_present_in_element((By.ID, "diagnostics"), "no problems"))

        # Type a mistake: a misspelt enumeration value at the end of the file.
        source = browser.find_element(By.ID, "source")
        source.click()
        source.send_keys(Keys.CONTROL, Keys.END)
        source.send_keys(
            '\nprinciple typo "a typo" {\n    rule oops:\n        withdraw when demand.kind == key_disclousre\n'
            '        because "x"\n}\n'
        )
        wait.until(ec.text_to_be_present_in_element((By.ID, "diagnostics"), "PE204"))
        diagnostics = browser.find_element(By.ID, "diagnostics").text
        assert "principles/encryption.policy:" in diagnostics
        assert "did you mean `key_disclosure`?" in diagnostics
        assert "edited copy" in browser.find_element(By.ID, "state").text

        # Back to the server's set, and decide a demand from the menus.
        browser.find_element(By.ID, "reset").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "diagnostics"), "no problems"))
        Select(browser.find_element(By.ID, "jurisdiction")).select_by_value("RU")
        for name, value in (("kind", "key_disclosure"), ("category", "all_users"), ("legal_basis", "statute")):
            Select(browser.find_element(By.CSS_SELECTOR, f"[data-attr='{name}']")).select_by_visible_text(value)
        browser.find_element(By.ID, "decide").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "outcome"), "withdraw"))
        decision = browser.find_element(By.ID, "decision").text
        assert "encryption.no_keys" in decision and "Matrix row: RU" in decision

        # The review queue: the negotiate decision, oldest first, and an effect recorded with a note.
        browser.get(f"{s.url}/review")
        entry = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f"li[data-decision='{decided['decision_id']}']")))
        assert "cooperation.local_representative" in entry.text and "due" in entry.text
        Select(entry.find_element(By.NAME, "effect")).select_by_visible_text("escalated")
        entry.find_element(By.NAME, "note").send_keys("sent to the legal team")
        entry.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "queue"), "nothing awaits an effect"))

        logs = browser.get_log("browser")
        violations = [entry["message"] for entry in logs if "Content Security Policy" in entry["message"]]
        assert violations == []

    with open_journal(journal) as j:
        (event,) = j.effects(decided["decision_id"])
        assert (event.effect, event.by, event.note) == ("escalated", "reviewer", "sent to the legal team")
