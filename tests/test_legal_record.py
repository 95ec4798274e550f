"""Issue 11, the decision engine: exact codes, unknown jurisdictions, claims, actions, markets as of a date.

Golden decision cases (``tests/golden/legal/*.json``): a tiny policy set, one
input and the whole decision (or error) it must give, as JSON, through the
Python API and, for requests, through ``policyengine decide --format json``.
Regenerate with ``pytest tests/test_legal_record.py --update-golden`` and
read the diff: a golden file is a claim about the semantics.

Then hypothesis properties (docs/semantics.md §7, §8, §11) and the
done-means checks of the issue on the shipped library.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import policyengine
from policyengine import RequestError
from policyengine.analysis.testing import run_tests
from policyengine.cli import main
from policyengine.cli.common import error_fields
from policyengine.evaluation.engine import Engine
from policyengine.language.pipeline import analyse_sources
from policyengine.language.source import Source

GOLDEN = Path(__file__).parent / "golden" / "legal"
CASES = sorted(GOLDEN.glob("*.json"))
PROFILE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _api(engine: Engine, given: dict[str, Any]) -> dict[str, Any]:
    try:
        if "market" in given:
            return engine.market(given["market"], as_of=given.get("as_of")).model_dump(mode="json")
        if "standing" in given:
            code, _, demand = given["standing"].partition(".")
            return engine.standing(code, demand, as_of=given.get("as_of")).model_dump(mode="json")
        return engine.decide(given["request"]).model_dump(mode="json")
    except RequestError as err:
        return {"error": error_fields(err)}


def _cli(capsys: pytest.CaptureFixture[str], root: Path, tmp_path: Path, given: dict[str, Any]) -> tuple[int, Any]:
    """The same input through ``policyengine decide --format json``: a request from a file, a
    market as ``--jurisdiction X --as-of D``, a standing demand with ``--demand`` too."""
    argv = ["decide", "--policies", str(root), "--format", "json"]
    if "request" in given:
        path = tmp_path / "request.json"
        path.write_text(json.dumps(given["request"]), encoding="utf-8")
        argv += ["--request", str(path)]
    else:
        code, _, demand = (given.get("market") or given["standing"]).partition(".")
        argv += ["--jurisdiction", code, *(["--demand", demand] if demand else []), "--as-of", given["as_of"]]
    status = main(argv)
    return status, json.loads(capsys.readouterr().out)


def _rooted(data: Any) -> Any:
    """``data`` without its ``source_root`` fields: the CLI names the policy directory it
    read (a temporary one here), the API none; everything else must agree."""
    if isinstance(data, dict):
        return {k: _rooted(v) for k, v in data.items() if k != "source_root"}
    if isinstance(data, list):
        return [_rooted(v) for v in data]
    return data


def test_there_is_a_golden_case_for_every_point() -> None:
    topics = {p.name.split("-", 1)[0] for p in CASES}
    assert {"exact", "claims", "actions", "market"} <= topics and len(CASES) >= 15


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_case(
    path: Path,
    policy_dir: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    update_golden: bool,
) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    assert set(case) == {"note", "policies", "input", "expected"}, "see this module's docstring"
    root = policy_dir(case["policies"])
    engine = policyengine.load(root, cache=False)
    got = _api(engine, case["input"])
    if update_golden:
        case["expected"] = got
        path.write_text(json.dumps(case, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == case["expected"], case["note"]
    code, out = _cli(capsys, root, tmp_path, case["input"])
    assert _rooted(out) == _rooted(case["expected"])
    assert code == (2 if "error" in out else 0)


# --- properties ---------------------------------------------------------------------------

CATEGORIES = ("journalism", "terrorism", "fraud", "peaceful_protest", "criminal_suspect")
KINDS = ("channel_block", "user_data", "key_disclosure")
OUTCOMES = ("comply", "negotiate", "withdraw")
CODES = ("AA", "BB", "CC")


@st.composite
def label_rules(draw: st.DrawFn) -> str:
    """Rules that read the assessment, the label, both, or neither."""
    lines = []
    for i in range(draw(st.integers(1, 5))):
        outcome = draw(st.sampled_from(OUTCOMES))
        attr = draw(st.sampled_from(("category", "claimed_category", "kind")))
        values = KINDS if attr == "kind" else CATEGORIES
        chosen = draw(st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True))
        negated = draw(st.booleans())
        cond = f"demand.{attr} {'not in' if negated else 'in'} {{{', '.join(chosen)}}}"
        lines.append(f'    rule r{i}: {outcome} when {cond} because "r{i}"')
    return 'principle p "P" {\n' + "\n".join(lines) + "\n}\n"


def _engine(text: str) -> Engine | None:
    policy_set, diagnostics = analyse_sources([Source("p.policy", text)])
    return None if policy_set is None else Engine(policy_set, diagnostics)


def _demand(kind: str, category: str) -> dict[str, Any]:
    return {"kind": kind, "category": category, "legal_basis": "court_order"}


JURISDICTIONS = 'jurisdiction AA "A" { rule_of_law = 0.8 }\njurisdiction BB "B" { rule_of_law = 0.3 }\n'


@PROFILE
@given(rules=label_rules(), kind=st.sampled_from(KINDS), category=st.sampled_from(CATEGORIES))
def test_a_claim_equal_to_the_category_never_changes_a_decision(rules: str, kind: str, category: str) -> None:
    engine = _engine(rules + JURISDICTIONS)
    assume(engine is not None)
    assert engine is not None
    for code in ("AA", "BB", "ZZ"):
        plain = engine.decide({"jurisdiction": code, "demand": _demand(kind, category)})
        claimed = engine.decide({"jurisdiction": code, "demand": {**_demand(kind, category), "claimed_category": category}})
        assert claimed == plain and claimed.claim is None


@PROFILE
@given(rules=label_rules(), kind=st.sampled_from(KINDS), category=st.sampled_from(CATEGORIES), label=st.sampled_from(CATEGORIES))
def test_a_label_never_makes_a_decision_less_protective_than_the_assessment(
    rules: str, kind: str, category: str, label: str
) -> None:
    engine = _engine(rules + JURISDICTIONS)
    assume(engine is not None)
    assert engine is not None
    assessed = engine.decide({"jurisdiction": "AA", "demand": _demand(kind, category)})
    labelled = engine.decide({"jurisdiction": "AA", "demand": {**_demand(kind, category), "claimed_category": label}})
    assert labelled.outcome.severity >= assessed.outcome.severity
    if label != category:
        assert labelled.claim is not None and (labelled.claim.assessed, labelled.claim.claimed) == (category, label)
        assert labelled.claim.decisive in (category, label)


@st.composite
def jurisdiction_free_rules(draw: st.DrawFn) -> str:
    """Rules on demand attributes only, plus (sometimes) rules on jurisdiction facts
    restricted to kinds the drawn demand does not have (they cannot decide it)."""
    lines = []
    for i in range(draw(st.integers(1, 4))):
        outcome = draw(st.sampled_from(OUTCOMES))
        kinds = draw(st.lists(st.sampled_from(KINDS[:2]), min_size=1, max_size=2, unique=True))
        cats = draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3, unique=True))
        lines.append(
            f"    rule r{i}: {outcome} when demand.kind in {{{', '.join(kinds)}}} and demand.category in {{{', '.join(cats)}}}"
            f' because "r{i}"'
        )
    if draw(st.booleans()):
        outcome = draw(st.sampled_from(OUTCOMES))
        lines.append(
            f"    rule j: {outcome} when demand.kind == key_disclosure and jurisdiction.rule_of_law < 0.5 because"
            ' "reads a jurisdiction fact"'
        )
    return 'principle p "P" {\n' + "\n".join(lines) + "\n}\n"


@PROFILE
@given(rules=jurisdiction_free_rules(), kind=st.sampled_from(KINDS[:2]), category=st.sampled_from(CATEGORIES))
def test_a_code_not_in_the_set_never_decides_less_protectively(rules: str, kind: str, category: str) -> None:
    """For a demand whose rules read no jurisdiction fact, ZZ decides at least as
    protectively as every jurisdiction in the set (and never comply)."""
    engine = _engine(rules + JURISDICTIONS + 'jurisdiction CC "C" { rule_of_law = unknown }\n')
    assume(engine is not None)
    assert engine is not None
    demand = _demand(kind, category)
    stranger = engine.decide({"jurisdiction": "ZZ", "demand": demand})
    for code in CODES:
        assert stranger.outcome.severity >= engine.decide({"jurisdiction": code, "demand": demand}).outcome.severity
    assert stranger.outcome.value != "comply" and stranger.jurisdiction_known is False


DAY = st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date(2030, 12, 31))


@st.composite
def standing_sets(draw: st.DrawFn) -> tuple[str, dict[str, dict[str, Any]]]:
    demands: dict[str, dict[str, Any]] = {}
    body = []
    for i in range(draw(st.integers(1, 4))):
        record: dict[str, Any] = {"issued": draw(st.none() | DAY)}
        record["status"] = draw(st.sampled_from(("in_force", "in_force", "proposed", "lifted")))
        record["addressee"] = draw(st.sampled_from(("this_platform", "all_platforms", "other_platform")))
        record["lifted"] = draw(st.none() | DAY)
        parts = ["kind = key_disclosure", "category = all_users", "legal_basis = statute", "mandatory = true"]
        parts += [f"status = {record['status']}", f"addressee = {record['addressee']}"]
        parts += [f"{k} = {record[k].isoformat()}" for k in ("issued", "lifted") if record[k] is not None]
        body.append(f'    demand d{i} "d{i}" {{ {"; ".join(parts)} }}')
        demands[f"d{i}"] = record
    text = (
        'principle e "E" {\n    rule no_keys: withdraw when demand.kind == key_disclosure because "k"\n}\n'
        'jurisdiction RU "R" {\n    rule_of_law = 0.4\n' + "\n".join(body) + "\n}\n"
    )
    return text, demands


@PROFILE
@given(standing=standing_sets(), as_of=DAY)
def test_a_demand_is_out_of_the_market_before_its_issue_date(
    standing: tuple[str, dict[str, dict[str, Any]]], as_of: datetime.date
) -> None:
    text, demands = standing
    engine = _engine(text)
    assert engine is not None
    m = engine.market("RU", as_of=as_of)
    assert m.as_of == as_of and sorted((*m.counted, *(c.demand for c in m.context))) == sorted(demands)
    for ident, record in demands.items():
        if record["issued"] is not None and record["issued"] > as_of:
            assert ident not in m.counted
        expected = (
            record["addressee"] != "other_platform"
            and (record["issued"] is None or record["issued"] <= as_of)
            and (
                (record["status"] == "in_force" and (record["lifted"] is None or record["lifted"] > as_of))
                or (record["status"] == "lifted" and record["lifted"] is not None and record["lifted"] > as_of)
            )
        )
        assert (ident in m.counted) == expected, (ident, record, m.context)
    assert m.outcome.value == ("withdraw" if m.counted else "comply")


# --- done means (the shipped library) ---------------------------------------------------------


@pytest.fixture(scope="module")
def library() -> Engine:
    return policyengine.load()


KEY_DEMAND = {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"}


def test_done_zz_key_disclosure_withdraws_by_encryption(library: Engine) -> None:
    d = library.decide({"jurisdiction": "ZZ", "demand": KEY_DEMAND})
    assert d.outcome.value == "withdraw" and d.reasons[0].principle == "encryption"


def test_done_ru_lower_case_exits_2_suggesting_RU(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"jurisdiction": "ru", "demand": KEY_DEMAND}), encoding="utf-8")
    assert main(["decide", "--request", str(path)]) == 2
    assert "did you mean `RU`?" in capsys.readouterr().err


def test_done_a_turkish_block_labelled_terrorism_assessed_journalism_withdraws(library: Engine) -> None:
    demand = {"kind": "channel_block", "category": "journalism", "claimed_category": "terrorism", "legal_basis": "court_order"}
    d = library.decide({"jurisdiction": "TR", "demand": demand})
    assert d.outcome.value == "withdraw"
    assert d.claim is not None and (d.claim.assessed, d.claim.claimed) == ("journalism", "terrorism")
    assert "`terrorism`" in d.summary and "`journalism`" in d.summary


def test_every_decision_has_actions_and_the_default_asks_for_review(library: Engine) -> None:
    d = library.decide({"jurisdiction": "TW", "demand": {"kind": "hotline", "category": "terrorism", "legal_basis": "statute"}})
    if d.default_applied:
        assert [(a.action, a.rule) for a in d.actions] == [("human_review", "policyengine.default")] and d.considered
    for code in library.jurisdictions():
        for standing in library.market(code).decisions:
            assert isinstance(standing.actions, tuple)


# --- the test runner: as of, actions, counted demands (policyengine/analysis/testing.py) ----------

RUNNER_TESTS = """
test "the record" {
    RU.fsb_keys as of 2024-05-17 -> withdraw by encryption.no_keys
    FR { kind = user_data; category = fraud; legal_basis = court_order; sealed = false }
        -> comply actions {notify_user, preserve_only, publish_in_transparency_report}
    market RU as of 2024-05-17 -> withdraw counting {fsb_keys, storage}
    market RU as of 2015-01-01 -> comply counting {}
}
test "wrong on purpose" {
    FR { kind = user_data; category = fraud; legal_basis = court_order; sealed = true }
        -> comply actions {notify_user, human_review}
    market RU as of 2019-01-01 -> withdraw counting {fsb_keys, draft_keys}
}
"""


def _policies_of(name: str) -> str:
    return str(json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))["policies"]["main.policy"])


def test_the_runner_checks_as_of_actions_and_counted_demands(policy_dir: Callable[..., Path]) -> None:
    files = {
        "market.policy": _policies_of("market-counts-what-is-in-force-today"),
        "acts.policy": _policies_of("actions-merged-by-name-shortest-deadline"),
        "tests.policy": RUNNER_TESTS,
    }
    report = run_tests(policyengine.load(policy_dir(files), cache=False))
    good, bad = report.tests
    assert good.passed, [e.message for e in good.failures]
    assert good.expectations[0].as_of == datetime.date(2024, 5, 17)
    assert good.expectations[2].actual_counted == ("fsb_keys", "storage")
    assert good.expectations[1].text.endswith("-> comply actions {notify_user, preserve_only, publish_in_transparency_report}")
    actions, market = bad.expectations
    assert (actions.status, actions.message) == (
        "failed",
        "expected actions {human_review, notify_user}, got {notify_user, preserve_only, publish_in_transparency_report}: "
        "missing human_review; not expected preserve_only (asked for by lawful_access.court_order), "
        "publish_in_transparency_report (asked for by lawful_access.fraud)",
    )
    assert (market.status, market.message) == (
        "failed",
        "expected the market to count {draft_keys, fsb_keys}, it counted {fsb_keys, old_block, storage}: "
        "`draft_keys` did not count (proposed, not law); `old_block`, `storage` counted too",
    )


# --- request checks for dates and lists of texts (evaluation/requests.py) -------------------------

FR_DATA = {"kind": "user_data", "category": "fraud", "legal_basis": "court_order"}


@pytest.mark.parametrize(
    ("attrs", "code"),
    [
        ({"issued": "2024-02-30"}, "request.bad-value"),
        ({"issued": "20240517"}, "request.bad-value"),
        ({"issued": "2024-5-17"}, "request.bad-value"),
        ({"issued": 20240517}, "request.bad-type"),
        ({"sources": "https://example.org"}, "request.bad-type"),
        ({"sources": ["ok", 3]}, "request.bad-type"),
        ({"sources": ["x"] * 101}, "request.too-large"),
        ({"sources": ["x" * 10_001]}, "request.too-large"),
        ({"sources": ["\ud800"]}, "request.not-unicode"),
    ],
)
def test_dates_and_lists_of_texts_are_checked(library: Engine, attrs: dict[str, Any], code: str) -> None:
    with pytest.raises(RequestError) as err:
        library.decide({"jurisdiction": "FR", "demand": {**FR_DATA, **attrs}})
    assert (err.value.code, err.value.field) == (code, f"demand.{next(iter(attrs))}")


def test_dates_and_lists_of_texts_are_decided_and_echoed(library: Engine) -> None:
    given = {**FR_DATA, "issued": "2024-05-17", "sources": ["https://example.org/a", "Art. 13"]}
    d = library.decide({"jurisdiction": "FR", "demand": given})
    assert d.request["issued"] == datetime.date(2024, 5, 17)
    assert d.request["sources"] == ("https://example.org/a", "Art. 13")
    assert json.loads(d.model_dump_json())["request"]["issued"] == "2024-05-17"
    assert library.decide({"jurisdiction": "FR", "demand": {**given, "sources": ["x"] * 100}}).outcome == d.outcome
