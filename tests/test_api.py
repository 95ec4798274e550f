"""The public Python API, as an embedder uses it.

Runs against ``tests/data/decide``, a small policy set written for these
tests (the shipped library changes as policy evolves; these contracts must
not).  Everything is imported from ``policyengine`` itself.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pydantic
import pytest

import policyengine
from policyengine import Decision, Engine, MarketDecision, Outcome, Request, RequestError

DATA = Path(__file__).parent / "data" / "decide"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return policyengine.load(DATA)


def req(code: str, kind: str, category: str, legal_basis: str, **more: Any) -> dict[str, Any]:
    return {"jurisdiction": code, "demand": {"kind": kind, "category": category, "legal_basis": legal_basis, **more}}


def qualified(reasons: tuple[policyengine.Reason, ...]) -> list[str]:
    return [r.qualified for r in reasons]


def line_of(path: str, text: str) -> int:
    """1-based line of the first line of ``path`` (under DATA) that contains ``text``."""
    for n, line in enumerate((DATA / path).read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            return n
    raise AssertionError(f"{text!r} not in {path}")


# --- public names ---------------------------------------------------------------------


def test_every_public_name_imports() -> None:
    for name in policyengine.__all__:
        assert getattr(policyengine, name) is not None


def test_outcome_is_a_str_enum_ordered_by_severity() -> None:
    assert Outcome.COMPLY == "comply" and str(Outcome.WITHDRAW) == "withdraw"
    assert Outcome("negotiate") is Outcome.NEGOTIATE
    assert sorted(Outcome, key=lambda o: o.severity) == [Outcome.COMPLY, Outcome.NEGOTIATE, Outcome.WITHDRAW]


def test_engine_is_immutable(engine: Engine) -> None:
    with pytest.raises(AttributeError):
        engine.version = "x"  # type: ignore[misc]


def test_decision_is_frozen(engine: Engine) -> None:
    d = engine.decide(req("FR", "hotline", "terrorism", "statute"))
    with pytest.raises(pydantic.ValidationError):
        d.outcome = Outcome.COMPLY  # type: ignore[misc]


# --- outcomes, reasons, facts -------------------------------------------------------------


def test_withdraw_reason_names_principle_rule_because_and_source(engine: Engine) -> None:
    d = engine.decide(req("RU", "key_disclosure", "all_users", "statute"))
    assert d.outcome is Outcome.WITHDRAW
    assert d.default_applied is False
    [r] = d.reasons
    assert (r.principle, r.rule, r.outcome) == ("encryption", "no_keys", Outcome.WITHDRAW)
    assert r.statement == "We never weaken end-to-end encryption"
    assert r.because == "handing over key_disclosure would expose every user's messages"
    assert r.source == f"principles.policy:{line_of('principles.policy', 'rule no_keys')}"
    assert [str(f) for f in r.facts] == ["demand.kind = key_disclosure: in {key_disclosure, encryption_backdoor}"]
    assert d.summary.startswith("withdraw: encryption.no_keys: handing over")


def test_less_severe_matches_are_outranked(engine: Engine) -> None:
    d = engine.decide(req("RU", "key_disclosure", "all_users", "administrative_order"))
    assert d.outcome is Outcome.WITHDRAW
    assert qualified(d.reasons) == ["encryption.no_keys"]
    assert qualified(d.outranked) == ["due_process.no_order"]
    assert d.outranked[0].outcome is Outcome.NEGOTIATE
    assert d.outranked[0].because == "a administrative_order that is not binding (mandatory: false) can be discussed"


def test_ties_give_every_match_as_a_reason_sorted(engine: Engine) -> None:
    d = engine.decide(req("IR", "user_data", "fraud", "informal"))
    assert d.outcome is Outcome.NEGOTIATE
    assert qualified(d.reasons) == ["due_process.no_order", "due_process.unmeasured"]
    assert d.outranked == ()


def test_no_match_negotiates_with_the_default(engine: Engine) -> None:
    d = engine.decide(req("TW", "hotline", "terrorism", "statute"))
    assert d.outcome is Outcome.NEGOTIATE
    assert d.default_applied is True
    assert d.reasons == () and d.outranked == ()
    assert "no rule matched this demand" in d.summary
    # The default names what was considered and asks for a person.
    assert d.considered and all(p in d.summary for p in d.considered)
    assert [(a.action, a.rule) for a in d.actions] == [("human_review", "policyengine.default")]


def test_facts_of_not_and_not_in(engine: Engine) -> None:
    d = engine.decide(req("BR", "user_data", "fraud", "court_order"))
    assert qualified(d.reasons) == ["due_process.weak_courts"]
    assert [str(f) for f in d.reasons[0].facts] == [
        "demand.legal_basis = court_order: == court_order",
        "jurisdiction.rule_of_law = 0.5: < 0.55",
    ]
    d = engine.decide(req("FR", "user_data", "fraud", "court_order"))
    assert [str(f) for f in d.reasons[0].facts] == [
        "demand.legal_basis = court_order: == court_order",
        "demand.category = fraud: not in {all_users, peaceful_protest, political_opposition, journalism}",
        "jurisdiction.rule_of_law = 0.72: >= 0.55",
    ]


def test_fact_values_keep_their_types(engine: Engine) -> None:
    d = engine.decide(req("TW", "user_data", "fraud", "informal"))
    facts = {f.attribute: f.value for f in d.reasons[0].facts}
    assert facts == {"demand.legal_basis": "informal", "demand.mandatory": False}
    assert [f.test for f in d.reasons[0].facts] == ["in {administrative_order, informal}", "is false"]


def test_unknown_value_makes_rules_undetermined(engine: Engine) -> None:
    d = engine.decide(req("IR", "user_data", "criminal_suspect", "court_order"))
    assert d.outcome is Outcome.NEGOTIATE
    assert qualified(d.reasons) == ["due_process.unmeasured"]
    assert [str(f) for f in d.reasons[0].facts] == [
        "jurisdiction.rule_of_law = unknown: is unknown",
        "demand.kind = user_data: == user_data",
    ]
    assert d.reasons[0].because == "nobody has measured the courts of Iran (rule of law unknown)"
    assert [(u.principle, u.rule, u.outcome, u.unknown) for u in d.undetermined] == [
        ("due_process", "court_order", Outcome.COMPLY, ("jurisdiction.rule_of_law",)),
        ("due_process", "weak_courts", Outcome.NEGOTIATE, ("jurisdiction.rule_of_law",)),
    ]


def test_undetermined_only_rules_fall_back_to_the_default(engine: Engine) -> None:
    d = engine.decide(req("IR", "content_removal", "fraud", "court_order"))
    assert d.default_applied and d.reasons == ()
    assert [u.rule for u in d.undetermined] == ["court_order", "weak_courts"]
    assert "jurisdiction.rule_of_law unknown" in d.summary


def test_unknown_demand_attribute(engine: Engine) -> None:
    # users is declared `or unknown`: null and omission are both unknown, not errors.
    a = engine.decide(req("FR", "hotline", "terrorism", "statute", users=None))
    b = engine.decide(req("FR", "hotline", "terrorism", "statute"))
    assert a == b and a.request["users"] is None


def test_inherited_attribute_and_chain(engine: Engine) -> None:
    d = engine.decide(req("DE", "user_data", "fraud", "court_order"))
    assert d.outcome is Outcome.COMPLY
    assert d.jurisdiction_chain == ("DE", "EU")
    rule_of_law = next(f for f in d.reasons[0].facts if f.attribute == "jurisdiction.rule_of_law")
    assert (rule_of_law.value, rule_of_law.origin) == (0.7, "EU")
    assert str(rule_of_law) == "jurisdiction.rule_of_law = 0.7 (from EU): >= 0.55"
    own = engine.decide(req("FR", "user_data", "fraud", "court_order"))
    assert next(f for f in own.reasons[0].facts if f.attribute == "jurisdiction.rule_of_law").origin is None


def test_inherited_bool_attribute_in_a_truth_test(engine: Engine) -> None:
    d = engine.decide(req("FR", "local_representative", "all_users", "statute"))
    assert qualified(d.reasons) == ["openness.eu_office"]
    assert str(d.reasons[0].facts[0]) == "jurisdiction.eu_member = true (from EU): is true"
    assert engine.decide(req("TW", "local_representative", "all_users", "statute")).default_applied


def test_policy_version_is_the_engines(engine: Engine) -> None:
    d = engine.decide(req("FR", "hotline", "terrorism", "statute"))
    assert d.policy_version == engine.version
    assert re.fullmatch(r"[0-9a-f]{16}", engine.version)


def test_request_shows_the_decided_attributes_with_defaults(engine: Engine) -> None:
    d = engine.decide(req("FR", "hotline", "terrorism", "statute"))
    given = {"category": "terrorism", "kind": "hotline", "legal_basis": "statute", "mandatory": False, "users": None}
    assert {k: d.request[k] for k in given} == given
    # An absent claim is the assessment; the record's defaults apply like any other.
    assert (d.request["claimed_category"], d.request["status"], d.request["addressee"]) == (
        "terrorism",
        "in_force",
        "this_platform",
    )
    assert set(d.request) == {a.name for a in engine.compiled.demand_attrs}


# --- the JSON contract ------------------------------------------------------------------------


def test_json_contract_keys_and_round_trip(engine: Engine) -> None:
    d = engine.decide(req("RU", "key_disclosure", "all_users", "administrative_order"))
    data = json.loads(d.model_dump_json())
    assert {"outcome", "jurisdiction", "reasons", "outranked", "default_applied", "policy_version"} <= set(data)
    assert data["outcome"] == "withdraw"
    reason = data["reasons"][0]
    assert {"principle", "rule", "outcome", "because", "source", "facts"} <= set(reason)
    assert reason["facts"][0] == {
        "attribute": "demand.kind",
        "value": "key_disclosure",
        "test": "in {key_disclosure, encryption_backdoor}",
        "origin": None,
    }
    assert Decision.model_validate_json(d.model_dump_json()) == d


def test_market_json_round_trip(engine: Engine) -> None:
    m = engine.market("RU")
    assert MarketDecision.model_validate_json(m.model_dump_json()) == m


# --- batches and Request models ---------------------------------------------------------------------


def _varied_requests() -> list[dict[str, Any]]:
    kinds = ["key_disclosure", "user_data", "channel_block", "transparency_report", "hotline", "local_representative"]
    categories = ["fraud", "peaceful_protest", "all_users", "journalism"]
    bases = ["court_order", "statute", "administrative_order", "informal"]
    codes = ["FR", "DE", "EU", "RU", "IR", "TR", "BR", "TW", "XX"]
    out = []
    for i, code in enumerate(codes):
        for j, kind in enumerate(kinds):
            for k, cat in enumerate(categories):
                basis = bases[(i + j + k) % len(bases)]
                out.append(req(code, kind, cat, basis, mandatory=(i + k) % 2 == 0))
    return out


def test_decide_many_equals_decide(engine: Engine) -> None:
    requests = _varied_requests()
    fresh = policyengine.load(DATA)  # no memo shared with the batch below
    assert engine.decide_many(requests) == [fresh.decide(r) for r in requests]
    assert engine.decide_many(iter(requests[:5])) == [fresh.decide(r) for r in requests[:5]]


def test_request_model_decides_like_a_dict(engine: Engine) -> None:
    data = req("FR", "user_data", "fraud", "court_order", mandatory=True)
    assert engine.decide(Request(**data)) == engine.decide(data)
    assert engine.decide(Request.model_validate_json(json.dumps(data))) == engine.decide(data)


def test_threads_share_one_engine() -> None:
    requests = _varied_requests() * 8
    serial = policyengine.load(DATA)
    want = [serial.decide(r) for r in requests]
    shared = policyengine.load(DATA)
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(shared.decide, requests, chunksize=7))
    assert got == want
    with ThreadPoolExecutor(max_workers=4) as pool:
        markets = list(pool.map(shared.market, ["RU", "FR", "IR", "TW"] * 10))
    assert markets == [serial.market(c) for c in ["RU", "FR", "IR", "TW"] * 10]


# --- unknown jurisdictions ----------------------------------------------------------------------------


def test_unknown_jurisdiction_negotiates_and_says_why(engine: Engine) -> None:
    d = engine.decide(req("XX", "user_data", "fraud", "court_order"))
    assert d.outcome is Outcome.NEGOTIATE and d.jurisdiction_known is False
    [r] = [r for r in d.reasons if r.principle == "policyengine"]
    assert r.source == "<engine>" and r.rule == "unknown_jurisdiction"
    assert "no jurisdiction `XX`" in r.because and "no jurisdiction `XX`" in d.summary
    assert r.facts[0].attribute == "jurisdiction.code" and r.facts[0].value == "XX"
    assert ("human_review", "policyengine.unknown_jurisdiction") in [(a.action, a.rule) for a in d.actions]


def test_unknown_jurisdiction_still_decides_what_needs_no_jurisdiction_fact(engine: Engine) -> None:
    d = engine.decide(req("ZZ", "key_disclosure", "all_users", "statute"))
    assert d.outcome is Outcome.WITHDRAW and d.jurisdiction_known is False
    assert [r.qualified for r in d.reasons] == ["encryption.no_keys"]
    assert "policyengine.unknown_jurisdiction" in [r.qualified for r in d.outranked]


@pytest.mark.parametrize(
    ("code", "meant"), [("ru", "RU"), (" RU", "RU"), ("RU ", "RU"), ("RUS", "RU"), ("eu", "EU"), ("FRA", "FR")]
)
def test_an_inexact_code_is_a_request_error_naming_the_code_meant(engine: Engine, code: str, meant: str) -> None:
    with pytest.raises(RequestError) as err:
        engine.decide(req(code, "key_disclosure", "all_users", "statute"))
    assert err.value.field == "jurisdiction" and err.value.code == "request.bad-jurisdiction"
    assert err.value.hint is not None and err.value.hint.startswith(f"did you mean `{meant}`?")


def test_unknown_jurisdiction_still_validates_the_demand(engine: Engine) -> None:
    with pytest.raises(RequestError) as err:
        engine.decide(req("XX", "user_dat", "fraud", "court_order"))
    assert err.value.field == "demand.kind"


# --- bad requests ------------------------------------------------------------------------------------------


KIND_VALUES = (
    "key_disclosure",
    "encryption_backdoor",
    "traceability",
    "channel_block",
    "content_removal",
    "user_data",
    "data_localization",
    "local_representative",
    "hotline",
    "transparency_report",
)

BAD_REQUESTS = {
    "missing kind": ({"jurisdiction": "FR", "demand": {"category": "fraud"}}, "demand.kind", True, None),
    "misspelt kind": (req("FR", "key_disclosur", "fraud", "statute"), "demand.kind", True, "did you mean `key_disclosure`?"),
    "kind of the wrong type": (req("FR", 3, "fraud", "statute"), "demand.kind", True, None),  # type: ignore[arg-type]
    "null kind": (req("FR", None, "fraud", "statute"), "demand.kind", True, None),  # type: ignore[arg-type]
    "category outside the vocabulary": (req("FR", "user_data", "politics", "statute"), "demand.category", False, None),
    "value of another enumeration": (req("FR", "user_data", "court_order", "statute"), "demand.category", False, None),
    "bool as text": (req("FR", "user_data", "fraud", "statute", mandatory="yes"), "demand.mandatory", False, None),
    "bool as number": (req("FR", "user_data", "fraud", "statute", mandatory=1), "demand.mandatory", False, None),
    "number as text": (req("FR", "user_data", "fraud", "statute", users="many"), "demand.users", False, None),
    "number as bool": (req("FR", "user_data", "fraud", "statute", users=True), "demand.users", False, None),
    "infinite number": (req("FR", "user_data", "fraud", "statute", users=float("inf")), "demand.users", False, None),
    "unknown attribute": (
        req("FR", "user_data", "fraud", "statute", mandatry=True),
        "demand.mandatry",
        False,
        "did you mean `mandatory`?",
    ),
    "demand not an object": ({"jurisdiction": "FR", "demand": ["user_data"]}, "demand", False, None),
    "request not an object": (["FR"], "request", False, None),
    "missing jurisdiction": ({"demand": {"kind": "user_data"}}, "jurisdiction", False, None),
    "jurisdiction not text": ({"jurisdiction": 33, "demand": {}}, "jurisdiction", False, None),
    "missing demand": ({"jurisdiction": "FR"}, "demand", False, None),
    "extra request field": ({"jurisdiction": "FR", "demnd": {}, "demand": {}}, "demnd", False, "did you mean `demand`?"),
}


@pytest.mark.parametrize(("request_", "field", "lists_kinds", "hint"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_bad_request_names_the_field(engine: Engine, request_: Any, field: str, lists_kinds: bool, hint: str | None) -> None:
    with pytest.raises(RequestError) as caught:
        engine.decide(request_)
    err = caught.value
    assert err.field == field
    assert str(err).startswith(f"{field}: ")
    assert "\n" not in str(err)
    if lists_kinds:
        assert set(err.allowed) == set(KIND_VALUES)
    if hint is not None:
        assert err.hint == hint


@pytest.mark.parametrize(
    ("request_", "ending"),
    [
        (req("FR", 3, "fraud", "statute"), "not a number"),  # type: ignore[arg-type]
        (req("FR", "user_data", "fraud", "statute", mandatory="yes"), "not a text"),
        (req("FR", "user_data", "fraud", "statute", users=True), "not `true`"),
        (req("FR", "user_data", "fraud", "statute", users=[1]), "not an array"),
        ({"jurisdiction": "FR", "demand": None}, "not null"),
        ({"jurisdiction": {}, "demand": {}}, "not an object"),
    ],
)
def test_wrong_types_are_named_in_json_terms(engine: Engine, request_: Any, ending: str) -> None:
    with pytest.raises(RequestError) as caught:
        engine.decide(request_)
    assert caught.value.message.endswith(ending)


def test_bad_value_lists_the_allowed_values_in_the_message(engine: Engine) -> None:
    with pytest.raises(RequestError) as caught:
        engine.decide(req("FR", "user_data", "politics", "statute"))
    assert "`politics` is not a `category` value" in caught.value.message
    assert "`political_opposition`" in caught.value.message
    assert "political_opposition" in caught.value.allowed


def test_request_error_is_a_value_error(engine: Engine) -> None:
    with pytest.raises(ValueError):
        engine.decide({})


def test_bad_request_inside_a_batch_raises(engine: Engine) -> None:
    with pytest.raises(RequestError):
        engine.decide_many([req("FR", "user_data", "fraud", "statute"), req("FR", "nope", "fraud", "statute")])


# --- standing demands and markets ----------------------------------------------------------------------------


def test_standing_demand_including_an_inherited_one(engine: Engine) -> None:
    d = engine.standing("FR", "dsa_reports")
    assert (d.outcome, d.demand, d.jurisdiction) == (Outcome.COMPLY, "dsa_reports", "FR")
    assert d.request["description"] == "Publish transparency reports under the DSA"


def test_standing_errors(engine: Engine) -> None:
    with pytest.raises(RequestError) as err:
        engine.standing("RU", "fsb_key")
    assert (err.value.field, err.value.hint) == ("demand", "did you mean `fsb_keys`?")
    assert set(err.value.allowed) == {"fsb_keys", "protest_block"}
    with pytest.raises(RequestError) as err:
        engine.standing("RUS", "fsb_keys")
    assert err.value.field == "jurisdiction"


def test_market_withdraws_for_a_mandatory_withdrawn_demand(engine: Engine) -> None:
    m = engine.market("RU")
    assert m.outcome is Outcome.WITHDRAW
    assert m.decisive == ("fsb_keys",)
    assert [(d.demand, d.outcome) for d in m.decisions] == [("fsb_keys", Outcome.WITHDRAW), ("protest_block", Outcome.WITHDRAW)]
    assert m.name == "Russia" and m.policy_version == engine.version


def test_market_negotiates_when_a_withdrawn_demand_is_not_mandatory(engine: Engine) -> None:
    m = engine.market("TR")
    assert m.outcome is Outcome.NEGOTIATE
    assert m.decisive == ("journalists",)
    assert m.decisions[0].outcome is Outcome.WITHDRAW


def test_market_negotiates_when_a_mandatory_demand_is_negotiated(engine: Engine) -> None:
    m = engine.market("BR")
    assert (m.outcome, m.decisive) == (Outcome.NEGOTIATE, ("takedown",))


def test_market_complies_without_demands_and_with_inherited_ones(engine: Engine) -> None:
    assert engine.market("TW").outcome is Outcome.COMPLY
    assert engine.market("TW").decisions == ()
    fr = engine.market("FR")
    assert fr.outcome is Outcome.COMPLY
    assert [d.demand for d in fr.decisions] == ["dsa_reports"]
    assert fr.jurisdiction_chain == ("FR", "EU")


def test_market_of_an_unknown_jurisdiction_is_a_request_error(engine: Engine) -> None:
    with pytest.raises(RequestError) as err:
        engine.market("Fr")
    assert err.value.field == "jurisdiction"
    assert err.value.hint == "did you mean `FR`?"


def test_market_decisions_equal_standing_decisions(engine: Engine) -> None:
    m = engine.market("IR")
    assert list(m.decisions) == [engine.standing("IR", d.demand or "") for d in m.decisions]
