"""examples/router.py: routes requests by decision, through the public API only."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import policyengine

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data" / "decide"


def _load_router() -> ModuleType:
    spec = importlib.util.spec_from_file_location("router_example", ROOT / "examples" / "router.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


router = _load_router()


def req(code: str, kind: str, category: str, legal_basis: str) -> dict[str, Any]:
    return {"jurisdiction": code, "demand": {"kind": kind, "category": category, "legal_basis": legal_basis}}


@pytest.fixture(scope="module")
def engine() -> policyengine.Engine:
    return policyengine.load(DATA)


def test_comply_goes_to_fulfilment(engine: policyengine.Engine) -> None:
    r = router.Router(engine).route("t1", req("FR", "user_data", "criminal_suspect", "court_order"))
    assert r.queue == "fulfilment"
    assert r.note.startswith("allowed by due_process.court_order (principles.policy:")
    assert r.decision is not None and r.decision.outcome is policyengine.Outcome.COMPLY


def test_withdraw_goes_to_refusal_with_the_explanation(engine: policyengine.Engine) -> None:
    r = router.Router(engine).route("t2", req("RU", "key_disclosure", "all_users", "statute"))
    assert r.queue == "refusal"
    lines = r.note.splitlines()
    assert lines[0] == "We will not carry out this demand from RU."
    assert lines[1].startswith(
        "- We never weaken end-to-end encryption: handing over key_disclosure would expose every user's messages "
        "(encryption.no_keys, principles.policy:"
    )
    assert lines[-1] == f"Decided under policy version {engine.version}."


def test_negotiate_goes_to_legal_review_with_what_to_look_at(engine: policyengine.Engine) -> None:
    rt = router.Router(engine)
    default = rt.route("t3", req("TW", "hotline", "terrorism", "statute"))
    assert (default.queue, default.note) == ("legal_review", "no principle covers this demand")
    unknown = rt.route("t4", req("IR", "user_data", "criminal_suspect", "court_order"))
    assert unknown.queue == "legal_review"
    assert unknown.note.startswith("due_process.unmeasured: nobody has measured the courts of Iran")
    assert unknown.note.endswith("(could not evaluate 2 rule(s): jurisdiction.rule_of_law unknown)")
    stranger = rt.route("t5", req("XX", "user_data", "fraud", "court_order"))
    assert stranger.queue == "legal_review" and "no jurisdiction `XX`" in stranger.note
    assert [x.ticket for x in rt.queues["legal_review"]] == ["t3", "t4", "t5"]


def test_bad_request_is_returned_with_the_field_to_fix(engine: policyengine.Engine) -> None:
    r = router.Router(engine).route("t6", req("FR", "user_dat", "fraud", "statute"))
    assert r.queue == "returned" and r.decision is None
    assert r.note.startswith("fix `demand.kind`: `user_dat` is not a `kind` value")
    assert r.note.endswith("(did you mean `user_data`?)")


def test_main_routes_an_inbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inbox = tmp_path / "inbox.jsonl"
    items = [
        {"ticket": "A-1", "request": req("RU", "key_disclosure", "all_users", "statute")},
        {"ticket": "A-2", "request": req("FR", "user_data", "criminal_suspect", "court_order")},
        {"ticket": "A-3", "request": req("TW", "hotline", "terrorism", "statute")},
        {"ticket": "A-4", "request": {"jurisdiction": "FR"}},
    ]
    inbox.write_text("\n".join(json.dumps(i) for i in items) + "\n\nnot json\n", encoding="utf-8")
    assert router.main([str(inbox), "--policies", str(DATA)]) == 0
    out = capsys.readouterr().out
    assert "== fulfilment (1)\n[A-2] allowed by due_process.court_order" in out
    assert "== legal_review (1)\n[A-3] no principle covers this demand" in out
    assert "== refusal (1)\n[A-1] We will not carry out this demand from RU.\n    - We never weaken" in out
    assert "== returned (2)\n[A-4] fix `demand`: is required" in out
    assert "[line-6] fix `request`: is not valid JSON: Expecting value at line 1, column 1" in out


# --- the red team's inputs (issue 12, point 10): the router fails closed and prints nothing raw ------


def _route_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str | bytes]) -> str:
    inbox = tmp_path / "inbox.jsonl"
    inbox.write_bytes(b"\n".join(x if isinstance(x, bytes) else x.encode("utf-8", "surrogatepass") for x in lines) + b"\n")
    assert router.main([str(inbox), "--policies", str(DATA)]) == 0
    out, err = capsys.readouterr()
    raw = [c for c in out + err if not (c in "\n\t" or c.isprintable())]
    assert raw == [], f"raw control characters printed: {raw!r}"
    return out


def _queue(out: str, name: str) -> str:
    return out.split(f"== {name} (", 1)[1].split("\n== ", 1)[0]


def test_duplicate_keys_cannot_route_a_key_demand_to_fulfilment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """json.loads kept the last `kind`: a key demand read as user_data and went to fulfilment."""
    line = (
        '{"ticket": "DUP-1", "request": {"jurisdiction": "FR", "demand": {"kind": "key_disclosure", '
        '"category": "criminal_suspect", "legal_basis": "court_order", "kind": "user_data"}}}'
    )
    twice = (
        '{"ticket": "DUP-2", "request": {"jurisdiction": "RU", "jurisdiction": "FR", '
        '"demand": {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order"}}}'
    )
    out = _route_lines(tmp_path, capsys, [line, twice])
    assert "== fulfilment (0)" in out
    returned = _queue(out, "returned")
    assert returned.startswith("2)") and "[line-1] fix `request`:" in returned and "[line-2]" in returned
    assert "has the key `kind` twice" in returned and "has the key `jurisdiction` twice" in returned


def test_deep_nesting_is_returned_and_the_batch_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """json.loads raised RecursionError: the whole batch was lost."""
    deep = '{"ticket": "DEEP", "request": ' + "[" * 100_000 + "]" * 100_000 + "}"
    good = json.dumps({"ticket": "OK-1", "request": req("FR", "user_data", "criminal_suspect", "court_order")})
    out = _route_lines(tmp_path, capsys, [deep, good])
    assert "== fulfilment (1)\n[OK-1] allowed by" in out
    assert "[line-1] fix `request`: is nested more than" in out


def test_a_lone_surrogate_is_returned_not_a_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A ticket `"\\ud800"` was routed, then printing the report raised UnicodeEncodeError."""
    line = '{"ticket": "\\ud800", "request": ' + json.dumps(req("RU", "key_disclosure", "all_users", "statute")) + "}"
    out = _route_lines(tmp_path, capsys, [line, b"\xff\xfe not utf-8"])
    assert "[line-1] fix `request`: has a string with an unpaired surrogate escape" in out
    assert "[line-2] fix `request`: is not UTF-8 text" in out


def test_ticket_texts_cannot_drive_the_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tickets = ["ESC\x1b[2J", "OSC\x1b]8;;http://example.com\x07link", "BIDI\u202eevil", "C1\x9bJ"]
    keys = req("RU", "key_disclosure", "all_users", "statute")
    lines = [json.dumps({"ticket": t, "request": keys}) for t in tickets]  # JSON-escaped, as a sender would send them
    lines.append('{"ticket": "RAW\x1b[2J", "request": ' + json.dumps(keys) + "}")  # raw: not valid JSON
    out = _route_lines(tmp_path, capsys, lines)
    refusal = _queue(out, "refusal")
    assert refusal.startswith("4)")
    for escaped in ("[ESC\\x1b[2J]", "[OSC\\x1b]8;;http://example.com\\x07link]", "[BIDI\\u202eevil]", "[C1\\x9bJ]"):
        assert escaped in refusal
    assert "[line-5] fix `request`: is not valid JSON" in _queue(out, "returned")


class _Exploding(dict[str, Any]):
    """A request whose every read fails: a stand-in for any unexpected error inside decide()."""

    def _fail(self, *args: Any) -> Any:
        raise RuntimeError("disk on fire")

    get = __getitem__ = items = keys = __iter__ = _fail  # type: ignore[assignment]


def test_an_unexpected_error_never_fulfils(engine: policyengine.Engine) -> None:
    r = router.Router(engine).route("T-9", _Exploding(jurisdiction="FR"))
    assert r.queue == "legal_review" and "could not be decided (RuntimeError: disk on fire)" in r.note


def test_main_reports_policy_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.policy").write_text("principle {", encoding="utf-8")
    inbox = tmp_path / "inbox.jsonl"
    inbox.write_text("", encoding="utf-8")
    assert router.main([str(inbox), "--policies", str(tmp_path)]) == 1
    assert "cannot load the policies" in capsys.readouterr().err


def test_router_uses_only_the_public_api() -> None:
    tree = ast.parse((ROOT / "examples" / "router.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("policyengine"):
            assert node.module == "policyengine", f"imports from {node.module}"
            assert {a.name for a in node.names} <= set(policyengine.__all__)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "policyengine":
            assert node.attr in policyengine.__all__, f"policyengine.{node.attr} is not public"
