"""Request checks (policyengine/evaluation/requests.py): one table, two paths, stable codes.

* The fast path (``AttributeCheck.accept``: accept and normalise, or decline)
  and the precise path (``refuse``: the exact error) of every entry of
  ``CHECKS`` accept exactly the same values, for random attribute types and
  random values (hypothesis), and a whole demand is accepted by
  ``DemandChecks.fast`` iff ``DemandChecks.normalize`` does not raise, with the
  same result.
* Every request error carries one of the documented codes.
* Nothing unchecked enters a memo, whatever the door (dict, ``Request``,
  ``standing``, ``market``): regressions of a red-team finding.
"""

from __future__ import annotations

import enum
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policyengine
from policyengine import Request, RequestError
from policyengine.errors import PolicyEngineError
from policyengine.evaluation import decide as decide_module
from policyengine.evaluation.requests import (
    CHECKS,
    DECLINED,
    JURISDICTION,
    MAX_CODE,
    MAX_TEXT,
    MISSING,
    REQUEST_CODES,
    STANDING_ID,
    AttributeCheck,
    DemandChecks,
)
from policyengine.language.model import AttributeType, Kind

DOCS = Path(__file__).resolve().parent.parent / "docs"

POLICY = """
vocabulary {
    enum channel "how the demand arrived" {
        letter  "a letter"
        portal  "the authorities' portal"
    }
    attribute demand.users: number from 0 to 1000000000 "how many users the demand concerns"
    attribute demand.score: number from -1.5 to 2.5 or unknown "a score"
    attribute demand.urgent: bool or unknown "urgent"
    attribute demand.channel: channel or unknown "how it arrived"
    attribute demand.note: text = "" "free text for the because texts"
}
principle lawful "We help with lawful court orders" {
    rule court: comply when demand.kind == user_data and demand.legal_basis == court_order and demand.users < 10
        because "a court ordered it for {demand.users} users ({demand.note})"
}
jurisdiction FR "France" {
    rule_of_law = 0.72
    demand data_request "a court asks for a suspect's data" {
        kind = user_data
        category = criminal_suspect
        legal_basis = court_order
        users = 1
    }
}
"""

GOOD = {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order", "users": 1}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("checks")
    (path / "main.policy").write_text(POLICY, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def engine(root: Path) -> policyengine.Engine:
    return policyengine.load(root, cache=False)


def request(code: Any = "FR", **demand: Any) -> dict[str, Any]:
    return {"jurisdiction": code, "demand": {**GOOD, **demand}}


# --- one table, two paths ---------------------------------------------------------------------


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    ONE = 1


class Text(str):
    """A str subclass that is not an enum."""


ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=12)
ENUM_VALUES = ("red", "green", "blue", "")
RAW = st.one_of(
    st.just(MISSING),
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(),
    st.sampled_from([10**308, 2 * 10**308, -(10**309), 1.5, -1.5, 2.5, 0, 1e308]),
    st.sampled_from(ENUM_VALUES),
    ANY_TEXT,
    st.sampled_from(["x" * MAX_TEXT, "x" * (MAX_TEXT + 1), "F" * MAX_CODE, "F" * (MAX_CODE + 1), "\ud800", "ok\udfff", "é"]),
    st.sampled_from([Colour.RED, Level.ONE, Text("red"), Text("\ud800")]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@st.composite
def attribute_types(draw: st.DrawFn) -> AttributeType:
    kind = draw(st.sampled_from([Kind.ENUM, Kind.BOOL, Kind.NUMBER, Kind.TEXT]))
    unknown = draw(st.booleans())
    extra: dict[str, Any] = {}
    if kind is Kind.ENUM:
        extra = {"enum": "colour", "values": tuple(draw(st.lists(st.sampled_from(ENUM_VALUES), min_size=1, unique=True)))}
        default: st.SearchStrategy[Any] = st.sampled_from(extra["values"])
    elif kind is Kind.NUMBER:
        bounds = st.none() | st.floats(-1e6, 1e6) | st.sampled_from([0.0, 1.0, 1e308])
        lo, hi = draw(bounds), draw(bounds)
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        extra = {"lo": lo, "hi": hi}
        default = st.sampled_from([v for v in (lo, hi, 0.0) if v is not None] or [0.0])
    elif kind is Kind.BOOL:
        default = st.booleans()
    else:
        default = st.text(max_size=5)
    if draw(st.booleans()):
        extra.update(default=draw(default), has_default=True)
    return AttributeType("demand", "a", kind, unknown_allowed=unknown, **extra)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (``True == 1 == 1.0`` must not pass), NaN aside."""
    return type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)))


def _agree(check: AttributeCheck, value: Any) -> None:
    accepted = check.accept(value)
    refusal = check.refuse(value)
    assert (accepted is DECLINED) == (refusal is not None), (check.attr, value, accepted, refusal)
    if refusal is not None:
        assert refusal.code in REQUEST_CODES and refusal.field == check.field
        with pytest.raises(RequestError) as info:
            check.check(value)
        assert (info.value.code, info.value.message) == (refusal.code, refusal.message)
        return
    assert _same(check.check(value), accepted)
    # What is accepted is normalised: plain str, float, bool, or None.
    assert accepted is None or type(accepted) in (str, float, bool)
    if type(accepted) is float:
        assert math.isfinite(accepted)
    if type(accepted) is str:
        assert len(accepted) <= MAX_TEXT
        accepted.encode("utf-8")  # no lone surrogate


@settings(max_examples=600, deadline=None)
@given(attribute_types(), RAW)
def test_fast_and_precise_paths_accept_the_same_values(attr: AttributeType, value: Any) -> None:
    _agree(AttributeCheck(attr), value)


@settings(max_examples=200, deadline=None)
@given(RAW)
def test_jurisdiction_and_standing_id_checks_agree(value: Any) -> None:
    _agree(JURISDICTION, value)
    _agree(STANDING_ID, value)


def test_every_kind_has_an_entry() -> None:
    """A new kind (DATE, TEXTS, ...) without a check would fail here, not at the first request."""
    assert set(CHECKS) == set(Kind)


DEMAND_KEYS = st.sampled_from(["kind", "category", "legal_basis", "mandatory", "users", "score", "urgent", "channel", "note"])
DEMAND_VALUES = (
    st.sampled_from(["user_data", "criminal_suspect", "court_order", "statute", "letter", "portal", "fraud"]) | RAW
).filter(lambda v: v is not MISSING)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(DEMAND_KEYS | st.sampled_from(["id", "description"]), DEMAND_VALUES, max_size=10))
def test_a_demand_is_fast_accepted_iff_it_normalises(engine: policyengine.Engine, partial: dict[str, Any]) -> None:
    checks = DemandChecks(engine.compiled)
    demand = {**GOOD, **partial}
    fast = checks.fast(demand)
    try:
        precise = checks.normalize(demand)
    except RequestError as err:
        assert fast is None, (demand, err)
        return
    assert fast is not None and list(fast) == list(precise)
    assert all(_same(fast[k], precise[k]) for k in fast), (fast, precise)


# --- stable codes -----------------------------------------------------------------------------

CODED: list[tuple[str, Any, str]] = [
    ("not-an-object", ["FR", GOOD], "request.bad-type"),
    ("extra-field", {"jurisdiction": "FR", "demand": GOOD, "priority": "high"}, "request.unknown-field"),
    ("empty-field", {"jurisdiction": "FR", "demand": GOOD, "": 1}, "request.unknown-field"),
    ("no-jurisdiction", {"demand": GOOD}, "request.missing"),
    ("no-demand", {"jurisdiction": "FR"}, "request.missing"),
    ("missing-attribute", {"jurisdiction": "FR", "demand": {"kind": "user_data"}}, "request.missing"),
    ("jurisdiction-number", request(250), "request.bad-type"),
    ("jurisdiction-huge", request("F" * 100_000), "request.too-large"),
    ("jurisdiction-surrogate", request("F\ud800"), "request.not-unicode"),
    ("demand-list", {"jurisdiction": "FR", "demand": [GOOD]}, "request.bad-type"),
    ("unknown-attribute", request(kindd="user_data"), "request.unknown-attribute"),
    ("enum-outside", request(kind="nuclear_codes"), "request.bad-value"),
    ("enum-number", request(kind=3), "request.bad-type"),
    ("null", request(kind=None), "request.bad-type"),
    ("bool-as-string", request(mandatory="yes"), "request.bad-type"),
    ("number-nan", request(users=math.nan), "request.bad-value"),
    ("number-out-of-range", request(users=-1), "request.bad-value"),
    ("number-huge-int", request(users=10**400), "request.too-large"),
    ("text-huge", request(note="n" * (MAX_TEXT + 1)), "request.too-large"),
    ("text-surrogate", request(note="x\udfff"), "request.not-unicode"),
]


@pytest.mark.parametrize("case", CODED, ids=[c[0] for c in CODED])
def test_request_errors_carry_a_stable_code(engine: policyengine.Engine, case: tuple[str, Any, str]) -> None:
    _, bad, code = case
    with pytest.raises(RequestError) as info:
        engine.decide(bad)
    assert info.value.code == code
    assert isinstance(info.value, PolicyEngineError)


@pytest.mark.parametrize(
    ("text", "code"),
    [("{", "request.bad-json"), ('{"a": NaN}', "request.bad-json"), ("[" * 200 + "]" * 200, "request.too-large")],
)
def test_json_errors_carry_a_stable_code(text: str, code: str) -> None:
    with pytest.raises(RequestError) as info:
        policyengine.parse_json(text)
    assert info.value.code == code


def test_standing_and_market_errors_carry_a_stable_code(engine: policyengine.Engine) -> None:
    cases = [
        (lambda: engine.standing("ZZ", "data_request"), "request.unknown-jurisdiction"),
        (lambda: engine.standing("FR", "data_reqest"), "request.unknown-demand"),
        (lambda: engine.market("ZZ"), "request.unknown-jurisdiction"),
        # Not texts: a RequestError, not a TypeError from slicing a number.
        (lambda: engine.standing("FR", None), "request.bad-type"),
        (lambda: engine.market(5), "request.bad-type"),
        (lambda: engine.market("F" * 100_000), "request.too-large"),
    ]
    for call, code in cases:
        with pytest.raises(RequestError) as info:
            call()
        assert info.value.code == code
    with pytest.raises(RequestError) as info:
        engine.standing("FR", "data_reqest")
    assert info.value.hint == "did you mean `data_request`?"


def test_every_code_is_documented() -> None:
    """docs/embedding.md is the contract callers read: it lists exactly REQUEST_CODES."""
    text = (DOCS / "embedding.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(request\.[a-z-]+)`", text))
    assert documented == set(REQUEST_CODES)
    assert all(code in (DOCS / "cli.md").read_text(encoding="utf-8") for code in REQUEST_CODES)


# --- nothing unchecked enters a memo (red-team regressions) -----------------------------------


@pytest.mark.parametrize(
    ("code", "error"), [("\ud800", "request.not-unicode"), ("F" * 100_000, "request.too-large")], ids=["surrogate", "huge"]
)
def test_a_request_object_is_checked_like_a_dict(engine: policyengine.Engine, code: str, error: str) -> None:
    """Once, a ``Request`` skipped the jurisdiction checks a dict gets: it was
    decided and memoised, then the same request as a dict hit the memo and was
    decided instead of refused, and ``decision_json`` raised on the surrogate."""
    for attempt in (lambda: engine.decide(Request(jurisdiction=code, demand=GOOD)), lambda: engine.decide(request(code))):
        with pytest.raises(RequestError) as info:
            attempt()
        assert (info.value.field, info.value.code) == ("jurisdiction", error)
    # A good request by either door still gets its decision, which still serialises.
    d = engine.decide(Request(jurisdiction="FR", demand=GOOD))
    assert d == engine.decide(request()) and d.outcome == "comply"
    assert engine.decision_json(d) == d.model_dump_json()


def test_a_refused_request_leaves_no_memo_entry(engine: policyengine.Engine) -> None:
    decider = engine._decider
    before = len(decider._memo)
    for code in ("\ud800", "F" * 100_000):
        for bad in (Request(jurisdiction=code, demand=GOOD), request(code)):
            with pytest.raises(RequestError):
                engine.decide(bad)
    assert len(decider._memo) == before


def test_standing_demands_go_through_the_request_checks(engine: policyengine.Engine) -> None:
    """A standing demand is decided from the same checked, normalised attributes
    as the request that spells it out (defaults and float numbers included)."""
    standing = engine.standing("FR", "data_request")
    spelled = engine.decide(request(id="data_request", description="a court asks for a suspect's data"))
    assert standing.outcome == spelled.outcome
    assert standing.reasons == spelled.reasons
    assert standing.request == spelled.request


# --- did you mean, once per unknown code ------------------------------------------------------


def test_the_hint_of_an_unknown_code_is_kept_per_code_and_bounded(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decide_module, "HINT_CACHE_SIZE", 8)
    e = policyengine.load(root, memo=False, cache=False)
    calls: list[str] = []
    real = decide_module.did_you_mean

    def counted(word: str, choices: Any) -> str | None:
        calls.append(word)
        return real(word, choices)

    monkeypatch.setattr(decide_module, "did_you_mean", counted)
    first = e.decide(request("FX"))  # well-formed, not defined: decided, with the hint looked up once
    assert e.decide(request("FX")) == first  # memo off, decided again: the hint is reused
    assert calls == ["FX"]
    for n in range(20):
        e.decide(request(f"Q{chr(65 + n)}"))
    assert len(e._decider._hints) <= 8
    with pytest.raises(RequestError) as err:  # an alpha-3 code is refused, naming the alpha-2 one
        e.decide(request("FRA"))
    assert err.value.hint is not None and err.value.hint.startswith("did you mean `FR`?")
    assert e.decide(request("FX")) == first  # recomputed after the table refilled: the same hint
