"""`policyengine schema`: the request and decision schemas carry the loaded vocabulary.

A JSON Schema validator given ``policyengine schema request`` must refuse what
the engine refuses for lack of a fitting value (a misspelt enum value, a
number out of range, an unknown attribute, a missing required one) and accept
what it decides; the decision and market schemas must accept what ``decide``
prints.  The doc's walk-through in docs/cli.md is run as written.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from policyengine.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "decide"


def schema_of(capsys: pytest.CaptureFixture[str], which: str, *paths: str) -> dict[str, Any]:
    code = main(["schema", which, *paths])
    out, err = capsys.readouterr()
    assert code == 0, err
    schema: dict[str, Any] = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def errors(schema: dict[str, Any], instance: Any) -> list[str]:
    return sorted(f"{e.json_path} {e.validator}" for e in jsonschema.Draft202012Validator(schema).iter_errors(instance))


def _request(**demand: Any) -> dict[str, Any]:
    return {
        "jurisdiction": "RU",
        "demand": {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute", **demand},
    }


def test_request_schema_refuses_a_misspelt_kind(capsys: pytest.CaptureFixture[str]) -> None:
    schema = schema_of(capsys, "request")
    assert errors(schema, _request()) == []
    assert errors(schema, _request(kind="key_disclosur")) == ["$.demand.kind enum"]


def test_request_schema_matches_the_engine_on_each_kind_of_value(capsys: pytest.CaptureFixture[str]) -> None:
    """For each kind of attribute of the shipped vocabulary, a value the engine refuses
    is refused by the schema, and one it accepts is accepted."""
    import policyengine
    from policyengine.evaluation.requests import RequestError

    schema = schema_of(capsys, "request")
    engine = policyengine.load()
    cases: list[tuple[dict[str, Any], bool]] = [
        (_request(), True),
        (_request(mandatory=True), True),
        (_request(mandatory="yes"), False),
        (_request(category="journalsm"), False),
        (_request(colour="red"), False),
        ({"jurisdiction": "RU", "demand": {"kind": "user_data", "category": "fraud"}}, False),  # legal_basis missing
        ({"jurisdiction": "RU", "demand": _request()["demand"], "extra": 1}, False),
        (_request(id="a-demand", description="some text"), True),
    ]
    for request, accepted in cases:
        try:
            engine.decide(request)
            engine_accepts = True
        except RequestError:
            engine_accepts = False
        assert engine_accepts is accepted, request
        assert (errors(schema, request) == []) is accepted, request


def test_every_enum_attribute_lists_its_values(capsys: pytest.CaptureFixture[str]) -> None:
    import policyengine
    from policyengine.language.model import Kind

    schema = schema_of(capsys, "request")
    props = schema["properties"]["demand"]["properties"]
    engine = policyengine.load()
    enums = [a for a in engine.compiled.demand_attrs if a.kind is Kind.ENUM]
    assert enums
    for attr in enums:
        allowed = [v for v in props[attr.name]["enum"] if v is not None]
        assert allowed == list(attr.values), attr.name
    assert set(schema["properties"]["demand"]["required"]) >= {"kind", "category", "legal_basis"}


def test_a_set_with_its_own_attributes_gets_its_own_schema(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "v.policy").write_text(
        "vocabulary {\n"
        '    extend enum kind { age_check "verify users\' ages" }\n'
        '    attribute demand.users: number from 0 to 1000000000 or unknown "how many users"\n'
        "}\n"
        'principle p "P" {\n    rule r:\n        negotiate when demand.kind == age_check\n        because "reviewed"\n}\n',
        encoding="utf-8",
    )
    schema = schema_of(capsys, "request", str(tmp_path))
    users = schema["properties"]["demand"]["properties"]["users"]
    assert users["type"] == ["number", "null"] and users["minimum"] == 0 and users["maximum"] == 1e9
    assert errors(schema, _request(kind="age_check", users=12)) == []
    assert errors(schema, _request(kind="age_check", users=None)) == []
    assert errors(schema, _request(users=-1)) == ["$.demand.users minimum"]
    # The shipped library has no `age_check`: its schema refuses it.
    assert errors(schema_of(capsys, "request"), _request(kind="age_check")) == ["$.demand.kind enum"]


def test_decision_and_market_schemas_accept_what_decide_prints(capsys: pytest.CaptureFixture[str]) -> None:
    decision = schema_of(capsys, "decision")
    market = schema_of(capsys, "market")
    for code in ("RU", "DE", "FR", "BR", "IR"):
        assert main(["decide", "--jurisdiction", code, "--format", "json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert errors(market, out) == [], code
        for d in out["decisions"]:
            assert errors(decision, d) == [], (code, d["demand"])
    assert set(decision["properties"]["request"]["properties"]) >= {"kind", "category", "legal_basis", "id"}


def test_schema_of_a_broken_set_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "bad.policy").write_text("principle {\n", encoding="utf-8")
    assert main(["schema", "request", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "error" in err


def _doc_section() -> str:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    start = text.index("## policyengine schema")
    return text[start : text.index("\n## ", start + 1)]


def test_the_docs_walk_through_runs_as_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/cli.md: the shell command, then the Python snippet, print what the doc shows."""
    blocks = dict(re.findall(r"```(sh|python|text)\n(.*?)```", _doc_section(), re.S))
    command = blocks["sh"].strip()
    assert command == "policyengine schema request > request.schema.json"
    argv, target = command.split(" > ")
    monkeypatch.chdir(tmp_path)
    assert main(argv.split()[1:]) == 0
    Path(target).write_text(capsys.readouterr().out, encoding="utf-8")
    ran = subprocess.run([sys.executable, "-c", blocks["python"]], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == blocks["text"]


def test_request_as_of_and_the_decision_record(capsys: pytest.CaptureFixture[str]) -> None:
    request = schema_of(capsys, "request")
    assert errors(request, {**_request(), "as_of": "2015-01-01"}) == []
    assert errors(request, {**_request(), "as_of": "01.01.2015"}) == ["$.as_of pattern"]
    assert errors(request, {**_request(), "as_of": None}) == ["$.as_of type"]  # the engine refuses null too
    decision = schema_of(capsys, "decision")
    props = decision["properties"]
    assert {"actions", "claim", "as_of", "considered", "source_root", "request"} <= set(props)
    assert "as_of" in decision["required"]
    action = decision["$defs"]["Action"]
    assert set(action["properties"]) == {"action", "within_hours", "rule"}
    market = schema_of(capsys, "market")
    assert {"as_of", "counted", "context"} <= set(market["properties"])
