"""The fast path against a plain reference (issue 14, "Done means").

Every decision the engine makes, by whichever path (memo off, memo on with
repeats, ``decide_many``, the command line's JSON lines), must be byte for
byte the decision that tests/reference_decision.py builds the slow, obvious
way from docs/semantics.md and the policy set's model.  The requests are
seeded and random over the shipped library: every jurisdiction and group and
a few well-formed codes it does not define, every demand attribute of the
vocabulary with valid values, unknowns, omitted defaults, claims that differ
from the assessment, ids and descriptions (texts with quotes, non-ASCII,
bidirectional and control characters) sometimes, ``as_of`` fixed (as the
caller's argument, or in the request).  A ``Request`` model stands in for
the dict now and then (the engine has a path for each).

Sizes, for the suite's time budget (measured on a loaded 2-core machine; the
reference, not the engine, is what costs): :data:`N_REQUESTS` (100,000)
requests with memo off, every one compared; the memo-on engine and
``decide_many`` see a stream of :data:`N_MEMO` of them with repeats
(:data:`REPEATS` of the stream drawn again from earlier requests); the
command line decides :data:`N_CLI` lines.  The reference decides each
distinct request once and is shared by the paths.

A second part draws random policy sets (tests/test_properties_decide.py's
generator) and random requests over them, claims included, and compares the
whole decision the same way.
"""

from __future__ import annotations

import datetime
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reference_decision import jurisdiction_environment, reference_decide
from test_properties_decide import CODES, GROUP, build, demand_attrs, files, policy_specs

import policyengine
from policyengine.cli import main
from policyengine.evaluation.decision import Decision, Request
from policyengine.language.loader import default_policy_dir
from policyengine.language.model import AttributeType, Kind, PolicySet

SEED = 14
AS_OF = datetime.date(2025, 3, 14)
N_REQUESTS = 100_000
N_MEMO = 30_000
N_CLI = 10_000
REPEATS = 0.4
#: Well-formed codes the shipped library does not define; some are a letter away
#: from one it does, for the did-you-mean of the engine's reason.
STRANGERS = ("ZZ", "XX", "QQ", "FX", "RV", "EV", "UX")

TEXTS = (
    "",
    "Order 2024/17",
    "Loi n° 2015-912 du 24 juillet 2015",
    'quote " and backslash \\ inside',
    "tab\there, newline\nthere",
    "bell \x07 and escape \x1b[31m",
    "bidi \u202eoverride\u202c and zero\u200bwidth",
    "emoji \U0001f510 and C1 \x85",
    "a" * 300,
)


# --- random requests over a vocabulary -------------------------------------------------------------


def _value(rng: random.Random, attr: AttributeType) -> Any:
    """A valid request value of ``attr``, as JSON would carry it."""
    if attr.kind is Kind.ENUM:
        return rng.choice(attr.values)
    if attr.kind is Kind.BOOL:
        return rng.random() < 0.5
    if attr.kind is Kind.NUMBER:
        lo = 0.0 if attr.lo is None else attr.lo
        hi = 1e6 if attr.hi is None else attr.hi
        pick = rng.random()
        if pick < 0.3:
            return rng.choice([lo, hi, int(lo), int(hi), (lo + hi) / 2])
        if pick < 0.6:
            return rng.randint(int(lo), int(hi))
        return rng.uniform(lo, hi)
    if attr.kind is Kind.DATE:
        return (datetime.date(2000, 1, 1) + datetime.timedelta(days=rng.randrange(11_000))).isoformat()
    if attr.kind is Kind.TEXTS:
        return [rng.choice(TEXTS) for _ in range(rng.randrange(4))]
    return rng.choice(TEXTS)


def random_demand(rng: random.Random, policy_set: PolicySet) -> dict[str, Any]:
    """Every attribute of the vocabulary: required ones always, the others given,
    omitted (defaults) or null (unknown, where allowed); a claim that differs often."""
    demand: dict[str, Any] = {}
    for attr in sorted(policy_set.vocabulary.scoped("demand"), key=lambda a: a.name):
        if attr.builtin:  # id, description
            pick = rng.random()
            if pick < 0.2:
                demand[attr.name] = f"{attr.name}-{rng.randrange(10**6)}" if rng.random() < 0.7 else rng.choice(TEXTS)
            elif pick < 0.25:
                demand[attr.name] = None
            continue
        if attr.name == "claimed_category":
            continue
        pick = rng.random()
        if attr.required or pick < 0.5:
            demand[attr.name] = _value(rng, attr)
        elif attr.unknown_allowed and pick < 0.7:
            demand[attr.name] = None
    claimed = policy_set.vocabulary.attribute("demand", "claimed_category")
    if claimed is not None:
        pick = rng.random()
        if pick < 0.2:
            demand["claimed_category"] = demand.get("category")
        elif pick < 0.6:
            demand["claimed_category"] = _value(rng, claimed)
        elif pick < 0.7:
            demand["claimed_category"] = None
    return dict(rng.sample(list(demand.items()), len(demand)))  # any key order


def random_request(rng: random.Random, policy_set: PolicySet, codes: tuple[str, ...]) -> dict[str, Any]:
    request: dict[str, Any] = {"jurisdiction": rng.choice(codes), "demand": random_demand(rng, policy_set)}
    if rng.random() < 0.1:
        request["as_of"] = AS_OF.isoformat()  # the request's own date: the engine's slow path
    return request


def shipped_codes(policy_set: PolicySet) -> tuple[str, ...]:
    defined = tuple(sorted(policy_set.jurisdictions))
    assert not set(STRANGERS) & set(defined)
    # Strangers a tenth of the time: each of them about as often as twenty defined codes.
    return defined + STRANGERS * max(1, len(defined) // (10 * len(STRANGERS)))


def as_sent(rng: random.Random, request: dict[str, Any]) -> Any:
    """The request as a caller hands it over: mostly the dict, sometimes a ``Request``."""
    return Request.model_validate(request) if rng.random() < 0.1 else request


# --- the shipped library, every path ---------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> Any:
    return policyengine.load(memo=False)


@pytest.fixture(scope="module")
def corpus(shipped: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """:data:`N_REQUESTS` seeded requests and the reference's JSON of each."""
    policy_set = shipped.policy_set
    rng = random.Random(SEED)
    codes = shipped_codes(policy_set)
    requests = [random_request(rng, policy_set, codes) for _ in range(N_REQUESTS)]
    return requests, [reference_decide(policy_set, r, AS_OF).model_dump_json() for r in requests]


def _first_difference(engine: str, reference: str) -> str:
    at = next((i for i, (a, b) in enumerate(zip(engine, reference)) if a != b), min(len(engine), len(reference)))
    return f"engine    …{engine[max(0, at - 120) : at + 120]}…\nreference …{reference[max(0, at - 120) : at + 120]}…"


def _check(request: Any, engine: str, reference: str) -> None:
    if engine != reference:
        raise AssertionError(f"{request}\n{_first_difference(engine, reference)}")


def test_memo_off_decides_every_request_as_the_reference(shipped: Any, corpus: tuple[list[dict[str, Any]], list[str]]) -> None:
    requests, expected = corpus
    rng = random.Random(SEED + 1)
    for request, reference in zip(requests, expected):
        _check(request, shipped.decide(as_sent(rng, request), as_of=AS_OF).model_dump_json(), reference)


def _stream(n: int, seed: int) -> Iterator[int]:
    """Indices into the corpus: new requests, and a share of repeats of earlier ones."""
    rng = random.Random(seed)
    fresh = 0
    for _ in range(n):
        if fresh and rng.random() < REPEATS:
            yield rng.randrange(fresh)
        else:
            yield fresh
            fresh += 1


def test_memo_on_with_repeats_decides_as_the_reference(corpus: tuple[list[dict[str, Any]], list[str]]) -> None:
    requests, expected = corpus
    engine = policyengine.load()
    rng = random.Random(SEED + 2)
    for i in _stream(N_MEMO, SEED + 3):
        decision = engine.decide(as_sent(rng, requests[i]), as_of=AS_OF)
        _check(requests[i], decision.model_dump_json(), expected[i])
        # The JSON a batch or the service answers with, kept once per memoised decision.
        _check(requests[i], engine.decision_json(decision), expected[i])


def test_decide_many_decides_as_the_reference(corpus: tuple[list[dict[str, Any]], list[str]]) -> None:
    requests, expected = corpus
    engine = policyengine.load()
    order = list(_stream(N_MEMO, SEED + 4))
    for start in range(0, len(order), 1_000):
        chunk = order[start : start + 1_000]
        decisions = engine.decide_many([requests[i] for i in chunk], as_of=AS_OF)
        for i, decision in zip(chunk, decisions):
            _check(requests[i], decision.model_dump_json(), expected[i])


def printable_json(text: str) -> str:
    """What the command line writes for a JSON text: every character that is not
    printable (but the newline) as a JSON ``\\u`` escape, surrogate pairs above U+FFFF."""
    out = []
    for ch in text:
        if ch == "\n" or ch.isprintable():
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            high, low = divmod(ord(ch) - 0x10000, 0x400)
            out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
    return "".join(out)


def test_command_line_json_lines_are_the_reference(
    shipped: Any,
    corpus: tuple[list[dict[str, Any]], list[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``policyengine decide --requests FILE --format json``: one line per request, with
    repeated lines (answered from the run's own table), each the reference's JSON with the
    policy directory as ``source_root``."""
    requests, _ = corpus
    root = default_policy_dir()
    order = list(_stream(N_CLI, SEED + 5))
    path = tmp_path / "requests.jsonl"
    path.write_text("".join(json.dumps(requests[i], ensure_ascii=False) + "\n" for i in order), encoding="utf-8")
    code = main(["decide", "--requests", str(path), "--format", "json", "--as-of", AS_OF.isoformat(), str(root)])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.split("\n")
    assert lines[-1] == "" and len(lines) == len(order) + 1
    policy_set = shipped.policy_set
    for i, line in zip(order, lines):
        reference = reference_decide(policy_set, requests[i], AS_OF).model_copy(update={"source_root": str(root)})
        _check(requests[i], line, printable_json(reference.model_dump_json()))


def test_the_reference_resolves_jurisdictions_as_validation_does(shipped: Any) -> None:
    """The reference reads attributes from the declarations and their groups; validation
    resolves them into the model.  Both must see the same values and origins."""
    policy_set = shipped.policy_set
    for code, j in policy_set.jurisdictions.items():
        env, origins, links = jurisdiction_environment(policy_set, code)
        assert links == j.chain
        assert env == {f"jurisdiction.{k}": v for k, v in j.attrs.items()}
        assert origins == {f"jurisdiction.{k}": o for k, o in j.attr_origin.items() if o and o != code}


# --- random policy sets ----------------------------------------------------------------------------------


@st.composite
def claimed_requests(draw: st.DrawFn) -> dict[str, Any]:
    demand = draw(demand_attrs())
    claim = draw(st.sampled_from(["absent", "null", "same", "other"]))
    if claim == "null":
        demand["claimed_category"] = None
    elif claim == "same":
        demand["claimed_category"] = demand["category"]
    elif claim == "other":
        demand["claimed_category"] = draw(st.sampled_from(["all_users", "criminal_suspect", "peaceful_protest", "fraud"]))
    if draw(st.booleans()):
        demand["id"] = draw(st.sampled_from(["d-1", "d-2"]))
    return {"jurisdiction": draw(st.sampled_from((*CODES, GROUP, "ZZ", "AB"))), "demand": demand}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(spec=policy_specs(), reqs=st.lists(claimed_requests(), min_size=1, max_size=6))
def test_random_policy_sets_decide_as_the_reference(spec: Any, reqs: list[dict[str, Any]]) -> None:
    sources = files(spec)
    engine = build(sources)
    assume(engine is not None)
    assert engine is not None
    cold = policyengine.Engine(engine.policy_set, memo=False)
    for request in [*reqs, *reqs]:  # twice: the second time from the memo
        reference = reference_decide(engine.policy_set, request, AS_OF).model_dump_json()
        _check(request, engine.decide(request, as_of=AS_OF).model_dump_json(), reference)
        _check(request, cold.decide(request, as_of=AS_OF).model_dump_json(), reference)
    for request, decision in zip(reqs, engine.decide_many(reqs, as_of=AS_OF)):
        _check(request, decision.model_dump_json(), reference_decide(engine.policy_set, request, AS_OF).model_dump_json())


def test_decision_json_is_the_models_json() -> None:
    """What the reference compares is the JSON of a validated Decision (the contract),
    so an engine Decision built without validation must serialise like one."""
    engine = policyengine.load()
    d = engine.decide({"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "fraud", "legal_basis": "court_order"}})
    assert Decision.model_validate(d.model_dump()).model_dump_json() == d.model_dump_json()
