"""A bounded load test of `policyengine serve`, with reloads of good and broken sets mid-way.

8 keep-alive clients post decisions to a real server process on loopback for
5 seconds (longer, up to 30, only until one good and one broken reload have
happened; at most 200,000 requests) while another thread rewrites a
policy file, alternately into two good sets and a broken one, and asks for
``POST /v1/reload`` after each write.  What must hold: no answer is a 5xx,
every answer is the decision its request gets from the set that was served
(a broken set is never served, and no decision is a blend of two sets), and
the server ends on a good set.  Latency and throughput are printed and
recorded (``record_property``, in the JUnit report), never asserted on: the
machine is shared.  docs/service.md has the figures.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from service_kit import FR_SUSPECT, RU_KEYS, copy_library, load, serve

import policyengine

IN_OFFICE = {"jurisdiction": "IN", "demand": {"kind": "local_representative", "category": "all_users", "legal_basis": "statute"}}
US_BLOCK = {"jurisdiction": "US", "demand": {"kind": "channel_block", "category": "all_users", "legal_basis": "court_order"}}
REQUESTS = [RU_KEYS, FR_SUSPECT, IN_OFFICE, US_BLOCK]


def test_load_with_reloads_of_good_and_broken_sets(tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    root = copy_library(tmp_path / "policies")
    target = root / "principles" / "encryption.policy"
    original = target.read_text(encoding="utf-8")
    variants = {
        "good-a": original,
        "good-b": original.replace("never hands them over", "never, ever hands them over"),
        "broken": original + "\nprinciple broken {\n",
    }
    expected: dict[str, list[tuple[str, str]]] = {}
    for name in ("good-a", "good-b"):
        variant = copy_library(tmp_path / name)
        (variant / "principles" / "encryption.policy").write_text(variants[name], encoding="utf-8")
        engine = policyengine.load(variant)
        expected[engine.version] = [(engine.decide(r).outcome.value, engine.version) for r in REQUESTS]
    bodies = [json.dumps(r).encode() for r in REQUESTS]
    reloads: list[tuple[str, int, str | None]] = []
    rejected: set[str] = set()
    stop = threading.Event()

    with serve(str(root), "--no-watch") as s:

        def reloader() -> None:
            order = ["good-b", "broken", "good-a", "broken"]
            n = 0
            with httpx.Client(base_url=s.url, timeout=30) as http:
                time.sleep(0.3)
                while not stop.is_set() and n < 40:
                    name = order[n % len(order)]
                    target.write_text(variants[name], encoding="utf-8")
                    r = http.post("/v1/reload")
                    body = r.json()
                    reloads.append((name, r.status_code, body.get("rejected_version")))
                    if r.status_code == 422:
                        rejected.add(body["rejected_version"])
                    n += 1
                    stop.wait(0.4)

        thread = threading.Thread(target=reloader)
        thread.start()
        try:
            # 5 s, longer only until a good and a broken reload both happened (a slow machine)
            figures = load(s.url, bodies, clients=8, seconds=5.0, until=lambda: len(reloads) >= 2)
        finally:
            stop.set()
            thread.join(60)
        final = httpx.get(f"{s.url}/v1/policy").json()

    answers = figures["answers"]
    statuses = {a[0] for a in answers}
    assert all(status < 500 for status in statuses), statuses
    assert statuses == {200}
    served = {a[3] for a in answers}
    assert served <= set(expected), f"served versions {served - set(expected)} that are not good sets"
    assert not served & rejected
    for _status, index, outcome, version, _ in answers:
        assert (outcome, version) == expected[version][index]  # type: ignore[index]
    names = [name for name, _, _ in reloads]
    assert "broken" in names and ("good-b" in names)
    assert all((code == 422) == (name == "broken") for name, code, _ in reloads)
    assert len(served) >= 2, "the reloads never swapped a set in while clients were deciding"
    assert final["version"] in expected

    summary = (
        f"service load: {figures['requests']} requests in {figures['seconds']:.1f} s from {figures['clients']} clients = "
        f"{figures['rps']:.0f} req/s; p50 {figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms; "
        f"{len(reloads)} reloads ({sum(1 for n in names if n == 'broken')} broken, refused); "
        f"{len(served)} good versions served, 0 broken, 0 5xx"
    )
    print(summary)
    for key in ("requests", "rps", "p50_ms", "p99_ms"):
        record_property(key, round(figures[key], 3))
    record_property("reloads", len(reloads))
