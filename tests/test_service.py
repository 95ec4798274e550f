"""The HTTP API of `policyengine serve`, through a real uvicorn server on loopback.

Each test talks HTTP with httpx to :mod:`service_kit`'s server: the JSON
contract of decisions, problem+json for every kind of bad input (never a
500), limits, roles, reloads that keep the last good set, metrics, the
OpenAPI document checked against real answers, and the security headers.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_kit import ADMIN_TOKEN, DECIDE_TOKEN, FR_SUSPECT, REVIEW_TOKEN, RU_KEYS, TOKEN_TABLE, copy_library, live

import policyengine
from policyengine.evaluation.jsonio import RequestLimits
from policyengine.service import ServiceConfig
from policyengine.service.auth import ENV_VAR, TokenFileError, parse_tokens
from policyengine.service.http import CSP


@pytest.fixture(scope="module")
def server() -> Iterator[object]:
    with live(ServiceConfig(sighup=False, limits=RequestLimits(max_bytes=20_000, max_depth=8))) as s:
        yield s


@pytest.fixture
def http(server: object) -> Iterator[httpx.Client]:
    with server.client() as c:  # type: ignore[attr-defined]
        yield c


def _problem(r: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"urn:policyengine:{code}"
    assert "Traceback" not in r.text
    return body


# --- decisions ---------------------------------------------------------------------------------


def test_decide_answers_the_json_contract_of_decide_request(http: httpx.Client) -> None:
    r = http.post("/v1/decide", json=RU_KEYS)
    assert r.status_code == 200
    body = r.json()
    expected = json.loads(policyengine.load().decide(RU_KEYS).model_dump_json())
    assert body["decision_id"] is None  # no journal: said so, not left out
    assert body == expected
    assert body["outcome"] == "withdraw"
    assert r.headers["x-policy-version"] == body["policy_version"]
    assert r.headers["x-decision-id"] == "none"


def test_curl_default_form_content_type_is_read_as_json(http: httpx.Client) -> None:
    r = http.post("/v1/decide", content=json.dumps(FR_SUSPECT), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.json()["outcome"] == "comply"


def test_malformed_json_is_a_400_problem(http: httpx.Client) -> None:
    body = _problem(
        http.post("/v1/decide", content=b'{"jurisdiction": "RU",', headers={"Content-Type": "application/json"}),
        400,
        "request.bad-json",
    )
    assert body["field"] == "request"
    assert "line 1" in str(body["detail"])


def test_a_bad_value_names_the_field_the_allowed_values_and_a_guess(http: httpx.Client) -> None:
    bad = {"jurisdiction": "RU", "demand": {**RU_KEYS["demand"], "kind": "key_disclosur"}}
    body = _problem(http.post("/v1/decide", json=bad), 400, "request.bad-value")
    assert body["field"] == "demand.kind"
    assert "key_disclosure" in body["allowed"]  # type: ignore[operator]
    assert body["did_you_mean"] == "key_disclosure"
    assert body["hint"] == "did you mean `key_disclosure`?"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b'{"jurisdiction": "RU", "jurisdiction": "FR", "demand": {}}', "request.bad-json"),
        (b'{"jurisdiction": "RU", "demand": {"kind": NaN}}', "request.bad-json"),
        (b'{"jurisdiction": "\\ud800", "demand": {}}', "request.not-unicode"),
        (b'{"jurisdiction": "RU", "demand": {"kind": "\xff"}}', "request.not-unicode"),
        (b"[1, 2]", "request.bad-type"),
        (b"null", "request.bad-type"),
        (b'{"jurisdiction": "RU"}', "request.missing"),
        (b'{"jurisdiction": "RU", "demand": {"kind": 1e999}}', "request.bad-type"),
        (b'{"jurisdiction": "RU", "demand": {}, "extra": 1}', "request.unknown-field"),
        (b"", "request.bad-json"),
    ],
    ids=[
        "duplicate-key",
        "nan",
        "surrogate",
        "not-utf8",
        "array",
        "null",
        "no-demand",
        "huge-number-for-enum",
        "unknown-field",
        "empty",
    ],
)
def test_hostile_bodies_get_a_4xx_problem_never_a_500(http: httpx.Client, content: bytes, code: str) -> None:
    r = http.post("/v1/decide", content=content, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["code"] == code


def test_an_oversized_body_is_413_whether_declared_or_streamed(http: httpx.Client) -> None:
    big = json.dumps({"jurisdiction": "RU", "demand": {"description": "x" * 30_000}}).encode()
    _problem(http.post("/v1/decide", content=big, headers={"Content-Type": "application/json"}), 413, "request.too-large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(30):
            yield b" " * 1000

    _problem(http.post("/v1/decide", content=chunks(), headers={"Content-Type": "application/json"}), 413, "request.too-large")


def test_nesting_past_the_depth_limit_is_413(http: httpx.Client) -> None:
    deep = b'{"jurisdiction": "RU", "demand": ' + b"[" * 20 + b"]" * 20 + b"}"
    _problem(http.post("/v1/decide", content=deep, headers={"Content-Type": "application/json"}), 413, "request.too-large")


def test_a_wrong_content_type_is_415(http: httpx.Client) -> None:
    r = http.post("/v1/decide", content=b"<xml/>", headers={"Content-Type": "application/xml"})
    body = _problem(r, 415, "request.media-type")
    assert "application/json" in str(body["hint"])


def test_batch_decides_an_array_with_per_item_errors(http: httpx.Client) -> None:
    bad = {"jurisdiction": "RU", "demand": {"kind": "nope"}}
    r = http.post("/v1/decide/batch", json=[RU_KEYS, bad, FR_SUSPECT, 7])
    assert r.status_code == 200
    body = r.json()
    assert (body["decided"], body["errors"]) == (2, 2)
    assert [item["index"] for item in body["results"]] == [0, 1, 2, 3]
    assert body["results"][0]["decision"]["outcome"] == "withdraw"
    assert body["results"][1]["error"]["field"] == "demand.kind"
    assert body["results"][2]["decision"]["outcome"] == "comply"
    assert body["results"][3]["error"]["code"] == "request.bad-type"
    assert {item["decision"]["policy_version"] for item in body["results"] if "decision" in item} == {body["policy_version"]}


def test_batch_reads_json_lines_and_numbers_them_from_one(http: httpx.Client) -> None:
    lines = "\n".join([json.dumps(RU_KEYS), "{not json", "", json.dumps(FR_SUSPECT)]) + "\n"
    r = http.post("/v1/decide/batch", content=lines.encode(), headers={"Content-Type": "application/x-ndjson"})
    body = r.json()
    assert [(i["index"], "decision" in i) for i in body["results"]] == [(1, True), (2, False), (4, True)]
    assert body["results"][1]["error"]["code"] == "request.bad-json"


def test_batch_that_is_not_an_array_is_400(http: httpx.Client) -> None:
    _problem(http.post("/v1/decide/batch", json={"jurisdiction": "RU"}), 400, "request.bad-type")


def test_markets_and_an_unknown_code(http: httpx.Client) -> None:
    r = http.get("/v1/markets/RU")
    assert r.status_code == 200 and r.json()["outcome"] == "withdraw"
    body = _problem(http.get("/v1/markets/XX"), 404, "request.unknown-jurisdiction")
    assert "RU" in body["allowed"]  # type: ignore[operator]


def test_jurisdictions_list_every_code_of_the_set(http: httpx.Client) -> None:
    body = http.get("/v1/jurisdictions").json()
    engine = policyengine.load()
    assert [j["code"] for j in body["jurisdictions"]] == sorted(engine.jurisdictions())
    fr = next(j for j in body["jurisdictions"] if j["code"] == "FR")
    assert fr["chain"][:2] == ["FR", "EU"]


def test_policy_says_version_files_and_journal(http: httpx.Client) -> None:
    body = http.get("/v1/policy").json()
    assert body["version"] == policyengine.load().version
    assert "principles/encryption.policy" in body["files"]
    assert body["journal"] is None
    assert body["status"]["last_attempt"] in ("loaded", "unchanged")


def test_unknown_paths_and_methods_are_problems(http: httpx.Client) -> None:
    _problem(http.get("/v1/nothing"), 404, "http.not-found")
    _problem(http.get("/v1/decide"), 405, "http.method-not-allowed")


def test_effects_without_a_journal_say_so(http: httpx.Client) -> None:
    body = _problem(http.post("/v1/effects", json={"decision_id": "d1", "effect": "complied"}), 409, "service.no-journal")
    assert "--journal" in str(body["hint"])


def test_a_misspelt_effect_is_refused_with_the_allowed_values(http: httpx.Client) -> None:
    body = _problem(http.post("/v1/effects", json={"decision_id": "d1", "effect": "complyed"}), 400, "request.bad-value")
    assert body["field"] == "effect"
    assert body["did_you_mean"] == "complied"
    assert "escalated" in body["allowed"]  # type: ignore[operator]


# --- operations --------------------------------------------------------------------------------


def test_healthz_readyz(http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz").json()
    assert ready["ready"] is True and ready["version"] == policyengine.load().version


def test_metrics_count_decisions_by_outcome_and_group(http: httpx.Client) -> None:
    def count(text: str, outcome: str, group: str) -> float:
        for line in text.splitlines():
            if line.startswith("policyengine_decisions_total{") and f'outcome="{outcome}"' in line and f'group="{group}"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = http.get("/metrics").text
    http.post("/v1/decide", json=FR_SUSPECT)
    http.post("/v1/decide", json=FR_SUSPECT)
    after = http.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    assert count(after.text, "comply", "EU") == count(before, "comply", "EU") + 2
    assert "policyengine_decision_seconds_bucket" in after.text
    assert 'policyengine_reloads_total{result="rejected"}' in after.text
    assert "policyengine_journal_write_seconds_count 0.0" in after.text


def test_reload_keeps_the_last_good_set_and_reports_why(tmp_path: Path) -> None:
    root = copy_library(tmp_path / "policies")
    with live(ServiceConfig(paths=[str(root)], sighup=False)) as s, s.client() as http:
        good = http.get("/v1/policy").json()["version"]
        target = root / "principles" / "encryption.policy"
        original = target.read_text(encoding="utf-8")
        target.write_text(original.replace("rule no_keys", "rule no_keys no_keys", 1), encoding="utf-8")
        body = _problem(http.post("/v1/reload"), 422, "policy.rejected")
        assert body["version"] == good and body["rejected_version"] not in (None, good)
        assert body["diagnostics"] and body["diagnostics"][0]["path"] == "principles/encryption.policy"  # type: ignore[index]
        assert http.post("/v1/decide", json=RU_KEYS).json()["policy_version"] == good
        assert http.get("/v1/policy").json()["status"]["rejected_version"] == body["rejected_version"]
        target.write_text(original.replace("never hands them over", "never, ever hands them over"), encoding="utf-8")
        answer = http.post("/v1/reload").json()
        assert answer["result"] == "loaded" and answer["version"] != good
        assert http.post("/v1/decide", json=RU_KEYS).json()["policy_version"] == answer["version"]
        metrics = http.get("/metrics").text
        assert 'policyengine_reloads_total{result="rejected"} 1.0' in metrics
        assert 'policyengine_reloads_total{result="accepted"} 1.0' in metrics
        assert f'policyengine_policy_info{{version="{answer["version"]}"}} 1.0' in metrics


# --- security ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded() -> Iterator[object]:
    with live(ServiceConfig(sighup=False, tokens=parse_tokens(TOKEN_TABLE, "tokens.txt"))) as s:
        yield s


def test_no_token_is_401_with_a_bearer_challenge(guarded: object) -> None:
    with guarded.client() as http:  # type: ignore[attr-defined]
        r = http.post("/v1/decide", json=RU_KEYS)
        _problem(r, 401, "auth.missing-token")
        assert r.headers["www-authenticate"].startswith("Bearer")
        _problem(
            http.post("/v1/decide", json=RU_KEYS, headers={"Authorization": "Bearer not-a-real-token-at-all"}),
            401,
            "auth.bad-token",
        )
        assert http.get("/healthz").status_code == 200  # probes need no token
        for page in ("/", "/review"):  # a browser without a token is sent to log in
            r = http.get(page, follow_redirects=False)
            assert (r.status_code, r.headers["location"]) == (303, "/login")


def test_roles_decide_cannot_reload_admin_can(guarded: object) -> None:
    with guarded.client(DECIDE_TOKEN) as http:  # type: ignore[attr-defined]
        assert http.post("/v1/decide", json=RU_KEYS).json()["outcome"] == "withdraw"
        body = _problem(http.post("/v1/reload"), 403, "auth.forbidden")
        assert "`admin`" in str(body["detail"])
        _problem(http.post("/v1/effects", json={"decision_id": "x", "effect": "complied"}), 403, "auth.forbidden")
    with guarded.client(REVIEW_TOKEN) as http:  # type: ignore[attr-defined]
        _problem(http.post("/v1/reload"), 403, "auth.forbidden")
        _problem(http.post("/v1/effects", json={"decision_id": "x", "effect": "complied"}), 409, "service.no-journal")
    with guarded.client(ADMIN_TOKEN) as http:  # type: ignore[attr-defined]
        assert http.post("/v1/reload").json()["result"] == "unchanged"


def test_login_sets_a_strict_cookie_and_cross_site_writes_are_refused(guarded: object) -> None:
    with guarded.client(follow_redirects=False) as http:  # type: ignore[attr-defined]
        r = http.post("/login", content=f"token={REVIEW_TOKEN}", headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 303
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert http.get("/review").status_code == 200
        r = http.post("/v1/decide", json=RU_KEYS, headers={"Sec-Fetch-Site": "cross-site"})
        _problem(r, 403, "auth.cross-site")
        assert http.post("/v1/decide", json=RU_KEYS, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
        _problem(
            http.post("/login", content="token=wrong", headers={"Content-Type": "application/x-www-form-urlencoded"}),
            401,
            "auth.bad-token",
        )


def test_token_tables_are_checked() -> None:
    tokens = parse_tokens(f"# ops\nadmin,decide {ADMIN_TOKEN} ops  # the operators\n", "t")
    who = tokens.role_of(ADMIN_TOKEN)
    assert who is not None and who.name == "ops" and who.may("review")
    assert tokens.role_of(ADMIN_TOKEN[:-1]) is None
    assert len(parse_tokens(f"decide {DECIDE_TOKEN}; review {REVIEW_TOKEN}", ENV_VAR)) == 2
    for bad, words in [
        ("boss " + ADMIN_TOKEN, "`boss` is not a role"),
        ("admin short", "at least 16"),
        (f"admin {ADMIN_TOKEN}\ndecide {ADMIN_TOKEN}", "already listed"),
        ("admin", "found 1 word"),
        ("# nothing\n", "no tokens"),
    ]:
        with pytest.raises(TokenFileError, match=words):
            parse_tokens(bad, "tokens.txt")


def test_every_answer_carries_the_strict_csp(http: httpx.Client) -> None:
    for r in (
        http.get("/"),
        http.get("/review"),
        http.get("/static/playground.js"),
        http.post("/v1/decide", json=RU_KEYS),
        http.get("/nope"),
    ):
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "access-control-allow-origin" not in r.headers  # CORS is off
    assert "'unsafe-inline'" not in CSP and "default-src 'none'" in CSP


def test_cors_preflight_is_not_answered(http: httpx.Client) -> None:
    r = http.options("/v1/decide", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert r.status_code == 405 and "access-control-allow-origin" not in r.headers


# --- the contract ------------------------------------------------------------------------------


def test_openapi_lists_every_route_and_real_answers_validate(http: httpx.Client, server: object) -> None:
    doc = http.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    app_paths = {r.path for r in server.app.app.routes}  # type: ignore[attr-defined]
    documented = set(doc["paths"])
    pages = {"/", "/review", "/review/effect", "/login", "/static/{name}"}
    assert app_paths - pages <= documented

    def schema(name: str) -> dict[str, object]:
        return {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}

    def check(r: httpx.Response, path: str, method: str = "post", status: str = "200") -> None:
        content = doc["paths"][path][method]["responses"][status]["content"]
        media = "application/problem+json" if status != "200" and status != "201" else "application/json"
        jsonschema.validate(r.json(), {**content[media]["schema"], "components": doc["components"]})

    check(http.post("/v1/decide", json=RU_KEYS), "/v1/decide")
    check(http.post("/v1/decide", json={"jurisdiction": 1}), "/v1/decide", status="400")
    check(http.post("/v1/decide/batch", json=[RU_KEYS, 3]), "/v1/decide/batch")
    check(http.get("/v1/markets/RU"), "/v1/markets/{code}", "get")
    check(http.get("/v1/jurisdictions"), "/v1/jurisdictions", "get")
    check(http.get("/v1/policy"), "/v1/policy", "get")
    check(http.get("/readyz"), "/readyz", "get")
    jsonschema.validate(http.post("/v1/decide", json=FR_SUSPECT).json(), schema("DecisionResponse"))


def test_access_log_is_json_lines_without_bodies_unless_asked() -> None:
    for bodies in (False, True):
        out = io.StringIO()
        with live(ServiceConfig(sighup=False, access_log=out, access_log_bodies=bodies)) as s, s.client() as http:
            http.post("/v1/decide", json=RU_KEYS)
            http.get("/v1/markets/XX")
        records = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [(r["method"], r["path"], r["status"]) for r in records] == [
            ("POST", "/v1/decide", 200),
            ("GET", "/v1/markets/XX", 404),
        ]
        assert records[0]["who"] == "local" and records[0]["ms"] >= 0 and records[0]["bytes"] > 0
        assert ("body" in records[0]) is bodies
        if bodies:
            assert json.loads(records[0]["body"]) == RU_KEYS


def test_a_page_of_another_site_cannot_write_through_a_visitors_browser(http: httpx.Client) -> None:
    # What fetch(..., {mode: "no-cors"}) from another site sends: a simple POST with any body.
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}, {"Origin": "null"}):
        for path in ("/v1/decide", "/v1/reload", "/v1/effects"):
            r = http.post(path, content=json.dumps(RU_KEYS), headers={**form, **headers})
            _problem(r, 403, "auth.cross-site")
    same = {"Origin": http.base_url.scheme + "://" + http.base_url.netloc.decode(), "Sec-Fetch-Site": "same-origin"}
    assert http.post("/v1/decide", json=RU_KEYS, headers=same).status_code == 200


def test_without_tokens_only_loopback_host_names_are_answered(http: httpx.Client) -> None:
    # DNS rebinding: evil.example resolved to 127.0.0.1 still says `Host: evil.example`.
    body = _problem(http.post("/v1/decide", json=RU_KEYS, headers={"Host": "evil.example:8181"}), 403, "auth.host")
    assert "--tokens" in str(body["hint"])
    _problem(http.get("/", headers={"Host": "evil.example"}), 403, "auth.host")
    for host in ("localhost:8181", "127.0.0.1", "[::1]:8181"):
        assert http.post("/v1/decide", json=RU_KEYS, headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "path", ["/v1/markets/%FF%FE", "/v1/markets/" + "A" * 5000, "/v1/markets/%00", "/v1/markets/R%C3%9C", "/%2e%2e/etc/passwd"]
)
def test_hostile_paths_get_a_4xx_problem(http: httpx.Client, path: str) -> None:
    r = http.get(path)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/problem+json"


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
requestish = st.fixed_dictionaries(
    {},
    optional={
        "jurisdiction": st.sampled_from(["RU", "FR", "EU", "XX", ""]) | st.text(max_size=8) | json_values,
        "demand": st.dictionaries(
            st.sampled_from(["kind", "category", "legal_basis", "mandatory", "users", "x"]),
            st.sampled_from(["key_disclosure", "user_data", "all_users", "statute", "court_order"]) | json_values,
            max_size=5,
        )
        | json_values,
        "extra": json_values,
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(requestish.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200)), batch=st.booleans())
def test_no_body_gets_a_5xx(http: httpx.Client, body: bytes, batch: bool) -> None:
    path = "/v1/decide/batch" if batch else "/v1/decide"
    r = http.post(path, content=b"[" + body + b"]" if batch else body, headers={"Content-Type": "application/json"})
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"]
