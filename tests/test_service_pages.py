"""The playground's endpoints and the pages, over HTTP (the browser test drives them for real).

The playground checks and decides a policy set held in the page: the texts
it sends replace files of the server's set in memory, never on disk, and
nothing in them is executed.  Pages are server-rendered with every value
escaped, and load only this origin's script and style sheet.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_kit import RU_KEYS, copy_library, live

import policyengine
from policyengine.service import ServiceConfig

ENCRYPTION = "principles/encryption.policy"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_library(tmp_path_factory.mktemp("pages") / "policies")


@pytest.fixture(scope="module")
def http(root: Path) -> Iterator[httpx.Client]:
    with live(ServiceConfig(paths=[str(root)], sighup=False)) as s, s.client() as c:
        yield c


def _text(root: Path) -> str:
    return (root / ENCRYPTION).read_text(encoding="utf-8")


def test_the_server_set_checks_clean_and_is_highlighted_by_our_lexer(http: httpx.Client, root: Path) -> None:
    body = http.post("/v1/playground/check", json={"path": ENCRYPTION}).json()
    assert body["ok"] is True and body["errors"] == 0
    assert body["version"] == policyengine.load(root).version
    assert "".join(t["text"] for t in body["tokens"]) == _text(root)
    kinds = {t["kind"] for t in body["tokens"]}
    assert {"decl", "withdraw", "str", "attr"} <= kinds
    assert "RU" in body["jurisdictions"]
    kind = next(a for a in body["attributes"] if a["name"] == "kind")
    assert "key_disclosure" in kind["values"]


def test_a_mistake_comes_back_as_a_diagnostic_with_file_line_col_and_hint(http: httpx.Client, root: Path) -> None:
    edited = _text(root).replace("key_disclosure", "key_disclousre", 1)
    body = http.post("/v1/playground/check", json={"files": {ENCRYPTION: edited}, "path": ENCRYPTION}).json()
    assert body["ok"] is False and body["errors"] >= 1
    d = next(d for d in body["diagnostics"] if d["code"] == "PE204")
    assert d["path"] == ENCRYPTION and d["line"] >= 1 and d["column"] >= 1
    assert d["hint"] == "did you mean `key_disclosure`?"
    assert d["rendered"].startswith(f"{ENCRYPTION}:{d['line']}:{d['column']}: error[PE204]")
    assert _text(root) != edited  # the server's file is untouched
    assert "key_disclousre" not in (root / ENCRYPTION).read_text(encoding="utf-8")


def test_format_returns_the_canonical_text(http: httpx.Client, root: Path) -> None:
    messy = _text(root).replace("\n    rule ", "\n        rule ", 1)
    body = http.post("/v1/playground/check", json={"files": {ENCRYPTION: messy}, "path": ENCRYPTION, "format": True}).json()
    from policyengine.language.format import format_text

    assert body["formatted"] == format_text(messy, ENCRYPTION)


def test_decide_on_an_edited_copy_with_explanation_and_matrix_row(http: httpx.Client, root: Path) -> None:
    live_answer = http.post("/v1/playground/decide", json={"request": RU_KEYS}).json()
    assert live_answer["decision"]["outcome"] == "withdraw"
    assert "encryption.no_keys" in live_answer["explanation"]
    row = {c["kind"]: c for c in live_answer["matrix_row"]}
    assert row["key_disclosure"]["outcome"] == "withdraw"
    assert row["key_disclosure"]["decided_by"] == ["encryption.no_keys"]
    # An edited copy where the key rule only negotiates.
    edited = _text(root).replace("withdraw when demand.kind == key_disclosure", "negotiate when demand.kind == key_disclosure", 1)
    assert edited != _text(root)
    changed = http.post("/v1/playground/decide", json={"files": {ENCRYPTION: edited}, "request": RU_KEYS}).json()
    assert changed["decision"]["policy_version"] != live_answer["decision"]["policy_version"]
    rules = [*changed["decision"]["reasons"], *changed["decision"]["outranked"]]
    assert {(r["rule"], r["outcome"]) for r in rules if r["rule"] == "no_keys"} == {("no_keys", "negotiate")}


def test_decide_on_a_broken_copy_is_422_and_a_bad_request_400(http: httpx.Client, root: Path) -> None:
    r = http.post("/v1/playground/decide", json={"files": {ENCRYPTION: "principle {"}, "request": RU_KEYS})
    assert r.status_code == 422 and r.json()["code"] == "policy.rejected"
    r = http.post("/v1/playground/decide", json={"request": {"jurisdiction": "RU", "demand": {"kind": "x"}}})
    assert r.status_code == 400 and r.json()["field"] == "demand.kind"
    r = http.post("/v1/playground/check", json={"files": {"../../etc/passwd": "x"}})
    assert r.status_code == 400 and r.json()["field"] == "files"


def test_policy_text_that_looks_like_code_or_markup_stays_inert(http: httpx.Client, root: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = _text(root) + f'\n# __import__("os").system("touch {marker}") <script>alert(1)</script>\n'
    body = http.post("/v1/playground/check", json={"files": {ENCRYPTION: hostile}, "path": ENCRYPTION}).json()
    assert body["ok"] is True
    assert not marker.exists()
    page = http.get("/").text
    assert "<script>alert" not in page


def test_the_playground_page_is_built_from_the_vocabulary_and_loads_only_our_assets(http: httpx.Client) -> None:
    r = http.get("/")
    page = r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "<option value='RU' selected>RU — Russia</option>" in page
    assert "data-attr='legal_basis'" in page
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/playground.js" defer>']
    assert "http://" not in page.replace("http://127.0.0.1", "") and "https://" not in page
    js = http.get("/static/playground.js")
    assert js.headers["content-type"].startswith("text/javascript") and "innerHTML" not in js.text.replace("never innerHTML", "")
    assert http.get("/static/style.css").status_code == 200
    assert http.get("/static/../app.py").status_code == 404


def test_review_page_without_a_journal_says_how_to_get_one(http: httpx.Client) -> None:
    page = http.get("/review").text
    assert "keeps no journal" in page and "--journal" in page
