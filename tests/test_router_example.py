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
    assert "[line-6] fix `request`: must be an object" in out


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
