"""Hostile requests: whatever arrives, the answer is a decision or a RequestError naming the field.

Three doors, three layers of tests:

* the API (``engine.decide(dict)``): wrong types, unknown fields, huge
  strings, NaN and infinities, values outside the vocabulary, unknown
  jurisdictions — and a hypothesis property over arbitrary JSON-like values;
* JSON text (``policyengine.parse_json`` with :class:`RequestLimits`):
  malformed documents, deep nesting, non-JSON constants, huge numbers,
  unpaired surrogates, and the limits themselves;
* the command line (``decide --request`` / ``--requests``): bad lines are
  reported with their line number and skipped or stop the run
  (``--on-error``), good lines are never lost, and the limits are set with
  ``--max-request-bytes`` / ``--max-request-depth``.
"""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policyengine
from policyengine import RequestError, RequestLimits, parse_json
from policyengine.cli import common, main

POLICY = """
vocabulary {
    attribute demand.users: number from 0 to 1000000000 "how many users the demand concerns"
    attribute demand.note: text = "" "free text for the because texts"
}
principle encryption "We never weaken encryption" {
    rule no_keys: withdraw when demand.kind in {key_disclosure, encryption_backdoor}
        because "handing over {demand.kind} would expose every user ({demand.note})"
}
principle lawful "We help with lawful court orders" {
    rule court: comply when demand.kind == user_data and demand.legal_basis == court_order and demand.users < 10
        because "a court ordered it for {demand.users} users"
}
jurisdiction FR "France" { rule_of_law = 0.72 }
"""

GOOD = {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order", "users": 1}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> policyengine.Engine:
    root = tmp_path_factory.mktemp("hostile")
    (root / "main.policy").write_text(POLICY, encoding="utf-8")
    return policyengine.load(root, cache=False)


def request(**demand: Any) -> dict[str, Any]:
    return {"jurisdiction": "FR", "demand": {**GOOD, **demand}}


# --- the API ----------------------------------------------------------------------------------

BAD_REQUESTS: list[tuple[str, Any, str]] = [
    # (id, request, the field the error names)
    ("not-an-object", ["FR", GOOD], "request"),
    ("none", None, "request"),
    ("string", '{"jurisdiction": "FR"}', "request"),
    ("no-jurisdiction", {"demand": GOOD}, "jurisdiction"),
    ("no-demand", {"jurisdiction": "FR"}, "demand"),
    ("extra-field", {"jurisdiction": "FR", "demand": GOOD, "priority": "high"}, "priority"),
    ("jurisdiction-number", {"jurisdiction": 250, "demand": GOOD}, "jurisdiction"),
    ("jurisdiction-null", {"jurisdiction": None, "demand": GOOD}, "jurisdiction"),
    ("jurisdiction-huge", {"jurisdiction": "F" * 100_000, "demand": GOOD}, "jurisdiction"),
    ("demand-list", {"jurisdiction": "FR", "demand": [GOOD]}, "demand"),
    ("demand-string", {"jurisdiction": "FR", "demand": "user_data"}, "demand"),
    ("unknown-attribute", request(kindd="user_data"), "demand.kindd"),
    ("attribute-not-a-string-key", {"jurisdiction": "FR", "demand": {**GOOD, 1: "x"}}, "demand.1"),
    ("attribute-empty-name", {"jurisdiction": "FR", "demand": {**GOOD, "": "x"}}, "demand"),
    ("field-empty-name", {"jurisdiction": "FR", "demand": GOOD, "": "x"}, "request"),
    ("kind-outside-vocabulary", request(kind="nuclear_codes"), "demand.kind"),
    ("kind-number", request(kind=3), "demand.kind"),
    ("kind-object", request(kind={"$ne": None}), "demand.kind"),
    ("kind-list", request(kind=["user_data", "key_disclosure"]), "demand.kind"),
    ("kind-null", request(kind=None), "demand.kind"),
    ("kind-huge", request(kind="k" * 1_000_000), "demand.kind"),
    ("missing-required", {"jurisdiction": "FR", "demand": {"kind": "user_data"}}, "demand.category"),
    ("bool-as-string", request(mandatory="yes"), "demand.mandatory"),
    ("bool-as-number", request(mandatory=1), "demand.mandatory"),
    ("number-as-string", request(users="5"), "demand.users"),
    ("number-as-bool", request(users=True), "demand.users"),
    ("number-nan", request(users=math.nan), "demand.users"),
    ("number-infinity", request(users=math.inf), "demand.users"),
    ("number-minus-infinity", request(users=-math.inf), "demand.users"),
    ("number-huge-int", request(users=10**400), "demand.users"),
    ("number-out-of-range", request(users=-1), "demand.users"),
    ("text-huge", request(note="n" * 10_001), "demand.note"),
    ("text-number", request(note=5), "demand.note"),
    ("description-huge", request(description="d" * 10_001), "demand.description"),
    # Lone surrogates: a Python str can hold one, no JSON or UTF-8 output can.
    ("jurisdiction-surrogate", {"jurisdiction": "F\ud800", "demand": GOOD}, "jurisdiction"),
    ("text-surrogate", request(note="x\udfff"), "demand.note"),
    ("description-surrogate", request(description="\ud83d"), "demand.description"),
]


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_requests_are_request_errors(engine: policyengine.Engine, case: tuple[str, Any, str]) -> None:
    _, bad, field = case
    with pytest.raises(RequestError) as info:
        engine.decide(bad)
    err = info.value
    assert err.field == field
    # The message names the problem without echoing a megabyte back.
    assert len(str(err)) < 2_000
    # Twice: a rejected request leaves nothing behind (the memo only keeps valid ones).
    with pytest.raises(RequestError):
        engine.decide(bad)
    assert engine.decide(request()).outcome == "comply"


def test_values_outside_the_vocabulary_say_what_is_allowed(engine: policyengine.Engine) -> None:
    with pytest.raises(RequestError) as info:
        engine.decide(request(kind="user_dta"))
    assert "user_data" in info.value.allowed
    assert info.value.hint == "did you mean `user_data`?"


@pytest.mark.parametrize("code", ["XX", "ZZ", "XK"])
def test_well_formed_unknown_jurisdictions_are_negotiated_not_errors(engine: policyengine.Engine, code: str) -> None:
    d = engine.decide({"jurisdiction": code, "demand": GOOD})
    assert d.outcome == "negotiate" and not d.jurisdiction_known
    assert "unknown_jurisdiction" in [r.rule for r in d.reasons]
    json.loads(d.model_dump_json())


@pytest.mark.parametrize("code", ["fr", "", " FR", "F\x00R", "🇫🇷", "<script>", "../../etc/passwd", "FR\n", "FRA"])
def test_inexact_codes_are_request_errors(engine: policyengine.Engine, code: str) -> None:
    with pytest.raises(RequestError) as err:
        engine.decide({"jurisdiction": code, "demand": GOOD})
    assert err.value.code == "request.bad-jurisdiction" and err.value.field == "jurisdiction"
    json.dumps(common.error_fields(err.value))


# Any text, lone surrogates included (hypothesis leaves those out by default).
ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=20)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
KEYS = st.sampled_from(["kind", "category", "legal_basis", "mandatory", "users", "note", "id", "description", "other"])
VALUES = st.sampled_from(["user_data", "key_disclosure", "fraud", "court_order", "statute", "criminal_suspect"]) | JSON_VALUES


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries(
            {"jurisdiction": st.sampled_from(["FR", "XX"]) | JSON_VALUES, "demand": st.dictionaries(KEYS, VALUES, max_size=8)}
        ),
    )
)
def test_anything_gives_a_decision_or_a_request_error(engine: policyengine.Engine, value: Any) -> None:
    try:
        d = engine.decide(value)
    except RequestError as err:
        # The error names a field, and says what is wrong with it.
        assert err.field and err.message
        return
    assert d.policy_version == engine.version
    json.loads(d.model_dump_json())


# --- JSON text --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        '{"jurisdiction": "FR",}',
        "{'jurisdiction': 'FR'}",
        '{"jurisdiction": "FR"} trailing',
        '{"jurisdiction": "FR"}{"jurisdiction": "RU"}',
        "\x00",
        "[" * 10_000 + "]" * 10_000,
        '{"a":' * 5_000 + "1" + "}" * 5_000,
        '{"demand": {"users": NaN}}',
        '{"demand": {"users": Infinity}}',
        '{"demand": {"users": -Infinity}}',
        '{"demand": {"users": ' + "9" * 5_000 + "}}",
        '{"jurisdiction": "\\ud800"}',
        '{"jurisdiction": "FR", "demand": {"note": "\\udfff"}}',
        '{"\\ud83d": 1}',
        "\ufeff\ufeff{}",
    ],
    ids=lambda t: repr(t[:24]),
)
def test_malformed_json_is_a_request_error(text: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_json(text)
    assert info.value.field == "request"
    assert len(str(info.value)) < 500


def test_paired_surrogates_are_fine(engine: policyengine.Engine) -> None:
    value = parse_json(
        '{"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "fraud", '
        '"legal_basis": "court_order", "users": 1, "note": "\\ud83d\\ude00 ok"}}'
    )
    assert value["demand"]["note"] == "\U0001f600 ok"
    assert engine.decide(value).request["note"] == "\U0001f600 ok"


def test_a_key_given_twice_is_refused_not_last_wins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # json keeps the last of two equal keys: this request was decided as a key demand (withdraw).
    text = (
        '{"jurisdiction": "FR", "demand": {"kind": "user_data", "kind": "key_disclosure", '
        '"category": "fraud", "legal_basis": "court_order", "users": 1}}'
    )
    with pytest.raises(RequestError, match="`kind` twice") as info:
        parse_json(text)
    assert info.value.field == "request"
    with pytest.raises(RequestError, match="`jurisdiction` twice"):
        parse_json('{"jurisdiction": "FR", "jurisdiction": "RU", "demand": {}}')
    lines = tmp_path / "twice.jsonl"
    lines.write_text(json.dumps(request()) + "\n" + text + "\n", encoding="utf-8")
    assert main(["decide", "--requests", str(lines), "--policies", _policies(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert [json.loads(line).get("line") for line in captured.out.splitlines()] == [None, 2]
    assert "twice.jsonl:2: error: request: has the key `kind` twice" in captured.err


def test_a_bom_is_for_files_not_for_json_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RequestError, match="BOM"):
        parse_json("\ufeff{}")
    # The command line reads files as UTF-8 with an optional byte-order mark.
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(request()).encode())
    assert main(["decide", "--request", str(path), "--policies", _policies(tmp_path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "comply"


def test_exponent_overflow_becomes_a_clear_error(engine: policyengine.Engine) -> None:
    # 1e999 is valid JSON that Python reads as infinity: the number check names the field.
    with pytest.raises(RequestError) as info:
        engine.decide(parse_json(json.dumps(request()).replace('"users": 1', '"users": 1e999')))
    assert info.value.field == "demand.users"


def test_limits_are_explicit_and_configurable() -> None:
    doc = json.dumps(request())
    assert parse_json(doc, RequestLimits(max_bytes=len(doc), max_depth=2))
    with pytest.raises(RequestError, match=f"the limit is {len(doc) - 1}"):
        parse_json(doc, RequestLimits(max_bytes=len(doc) - 1))
    with pytest.raises(RequestError, match="nested more than 1 levels"):
        parse_json(doc, RequestLimits(max_depth=1))
    deep = '{"a": ' * 40 + "1" + "}" * 40
    with pytest.raises(RequestError, match="nested more than 32"):
        parse_json(deep)
    assert parse_json(deep, RequestLimits(max_depth=40))
    # Brackets inside strings are text, not nesting.
    assert parse_json(json.dumps({"note": "[" * 1000}), RequestLimits(max_depth=1))


# --- the command line ------------------------------------------------------------------------------

LINES: list[tuple[str, bool]] = [
    # (line, good?)
    (json.dumps(request()), True),
    ("{not json", False),
    ("", True),  # blank: ignored, neither decided nor bad
    (json.dumps(request(kind="key_disclosure", note="x")), True),
    (json.dumps(request(kind="nuclear_codes")), False),
    ('{"jurisdiction": "FR", "demand": {"users": NaN}}', False),
    ("[" * 100 + "]" * 100, False),
    (json.dumps({"jurisdiction": "XX", "demand": GOOD}), True),
    ('{"jurisdiction": "\\ud800", "demand": {}}', False),
    (json.dumps(request(users=2)), True),
]


@pytest.fixture
def lines_file(tmp_path: Path) -> Path:
    path = tmp_path / "requests.jsonl"
    data = b"\n".join(line.encode() for line, _ in LINES) + b"\n\xff\xfe not utf-8\n"
    data += json.dumps(request(users=3)).encode() + b"\n"
    path.write_bytes(data)
    return path


def _policies(tmp_path: Path) -> str:
    root = tmp_path / "policies"
    root.mkdir(exist_ok=True)
    (root / "main.policy").write_text(POLICY, encoding="utf-8")
    return str(root)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[Any], str]:
    """Exit code, the JSON records printed (one document, or JSON lines), stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    try:
        return code, [json.loads(out)] if out.strip() else [], err
    except json.JSONDecodeError:
        return code, [json.loads(x) for x in out.splitlines() if x.strip()], err


def test_requests_skip_reports_bad_lines_and_keeps_every_good_one(
    engine: policyengine.Engine, lines_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, records, err = _run(capsys, "decide", "--requests", str(lines_file), "--policies", _policies(tmp_path))
    assert code == 2  # some lines were bad
    errors = {r["line"]: r["error"] for r in records if "error" in r}
    decisions = [r for r in records if "outcome" in r]
    numbered = [(n, line, good) for n, (line, good) in enumerate(LINES, 1) if line]
    bad_lines = [n for n, _, good in numbered if not good] + [len(LINES) + 1]
    assert sorted(errors) == bad_lines
    good = [json.loads(line) for _, line, ok in numbered if ok] + [request(users=3)]
    # Every good line is decided, in order, exactly as the API decides it.
    assert [(d["jurisdiction"], d["outcome"], d["request"]) for d in decisions] == [
        (x.jurisdiction, x.outcome.value, json.loads(x.model_dump_json())["request"]) for x in map(engine.decide, good)
    ]
    for n in bad_lines:
        assert f"requests.jsonl:{n}: error:" in err
    assert f"{len(bad_lines)} bad lines skipped" in err


def test_requests_stop_ends_at_the_first_bad_line(lines_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["decide", "--requests", str(lines_file), "--on-error", "stop", "--policies", _policies(tmp_path)]
    code, records, err = _run(capsys, *argv)
    assert code == 2
    assert [r.get("line") for r in records] == [None, 2]  # the good first line, then the error
    assert "requests.jsonl:2: error:" in err and ":4:" not in err


def test_requests_from_stdin(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    data = (json.dumps(request()) + "\n{\n" + json.dumps(request(users=4)) + "\n").encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, records, err = _run(capsys, "decide", "--requests", "-", "--policies", _policies(tmp_path))
    assert code == 2
    assert [r.get("outcome", "bad") for r in records] == ["comply", "bad", "comply"]
    assert "<stdin>:2: error:" in err


def test_an_endless_line_is_reported_and_the_next_line_decided(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "endless.jsonl"
    with open(path, "wb") as fh:
        fh.write(json.dumps(request()).encode() + b"\n")
        fh.write(b'{"jurisdiction": "FR", "demand": {"note": "' + b"x" * 3_000_000 + b'"}}\n')
        fh.write(json.dumps(request(users=5)).encode() + b"\n")
    argv = ["decide", "--requests", str(path), "--max-request-bytes", "10000", "--policies", _policies(tmp_path)]
    code, records, err = _run(capsys, *argv)
    assert code == 2
    assert [r.get("outcome") or r["error"]["message"][:9] for r in records] == ["comply", "is a line", "comply"]
    assert records[1]["line"] == 2 and "the limit is 10,000" in records[1]["error"]["message"]
    assert "endless.jsonl:2: error:" in err


def test_limits_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps(request()), encoding="utf-8")
    policies = _policies(tmp_path)
    assert _run(capsys, "decide", "--request", str(one), "--policies", policies, "--format", "json")[0] == 0
    code, _, err = _run(capsys, "decide", "--request", str(one), "--max-request-bytes", "50", "--policies", policies)
    assert code == 2 and "50-byte limit" in err
    code, _, err = _run(capsys, "decide", "--request", str(one), "--max-request-depth", "1", "--policies", policies)
    assert code == 2 and "nested more than 1 levels" in err
    lines = tmp_path / "deep.jsonl"
    lines.write_text(json.dumps({"jurisdiction": "FR", "demand": {**GOOD, "note": None}}) + "\n", encoding="utf-8")
    code, records, _ = _run(capsys, "decide", "--requests", str(lines), "--max-request-depth", "1", "--policies", policies)
    assert code == 2 and "nested more than 1" in records[0]["error"]["message"]
    for bad in ("0", "-5", "lots", ""):
        code, _, err = _run(capsys, "decide", "--request", str(one), "--max-request-bytes", bad, "--policies", policies)
        assert code == 2 and "--max-request-bytes" in err
    assert main(["explain", "--request", str(one), "--max-request-bytes", "1_000_000", "--policies", policies]) == 0
    assert "court" in capsys.readouterr().out


def test_a_request_file_that_is_not_json_or_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policies = _policies(tmp_path)
    files = {"binary.json": b"\x00\x01\x02", "latin1.json": '{"note": "café"}'.encode("latin-1"), "empty.json": b""}
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        code, _, err = _run(capsys, "decide", "--request", str(path), "--policies", policies)
        assert code == 2, name
        assert "Traceback" not in err and err.strip()


def test_deciding_unknown_jurisdictions_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"jurisdiction": "ZZ", "demand": GOOD}), encoding="utf-8")
    policies = _policies(tmp_path)
    assert main(["decide", "--request", str(one), "--policies", policies, "--format", "json"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["outcome"] == "negotiate" and "unknown_jurisdiction" in [r["rule"] for r in decision["reasons"]]
    # Standing demands need a loaded jurisdiction: that is a usage error, said in one line.
    assert main(["decide", "--jurisdiction", "ZZ", "--policies", policies]) == 2
    assert "ZZ" in capsys.readouterr().err


def test_help_documents_the_limits(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decide", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--max-request-bytes" in text and "1,000,000" in text and "--max-request-depth" in text
