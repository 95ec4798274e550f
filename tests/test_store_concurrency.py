"""Concurrency proof for PolicyStore: decide under load while sets are swapped.

Several threads decide continuously (hundreds of thousands of decisions in
all) while another thread rewrites the policy directory and reloads it
dozens of times, alternating two valid sets with broken ones of every kind.
The test asserts:

* no decision raises;
* every decision carries the version of one of the two valid sets, and its
  outcome and deciding rules are exactly what that version decides;
* no broken set is ever served (its would-be version never appears, and the
  store's version never changes on a rejected reload);
* a snapshot taken with ``store.engine`` answers consistently even while the
  store moves on (a market decision and all its parts share one version).

The run is bounded by counts, not by time: it stops once both the reload
target and the decision target are met.  docs/reliability.md records the
numbers of a run repeated twenty times.
"""

from __future__ import annotations

import os
import random
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import policyengine
from policyengine import PolicyStore
from policyengine.evaluation.store import _content_version as content_version
from policyengine.language.loader import read_sources

THREADS = 4
#: Decisions each thread makes at least (4 × 50,000 = 200,000 in all).
DECISIONS_PER_THREAD = 50_000
#: Reloads at least: half of them valid, half broken.
RELOADS = 40
#: Hang guard only (seconds): far above a normal run, which takes a few seconds.
HANG_GUARD = 240

VOCAB_AND_PLACES = """
group EU "European Union" { rule_of_law = 0.7 }
jurisdiction FR "France" in EU { }
jurisdiction DE "Germany" in EU { rule_of_law = 0.85 }
jurisdiction RU "Russia" {
    rule_of_law = 0.3
    demand fsb_keys "Hand over the keys" { kind = key_disclosure; category = all_users; legal_basis = statute; mandatory = true }
    demand rkn_block "Block protest channels" {
        kind = channel_block; category = peaceful_protest; legal_basis = administrative_order
    }
}
"""

SET_A = {
    "places.policy": VOCAB_AND_PLACES,
    "principles.policy": """
principle encryption "We never weaken encryption" {
    rule no_keys: withdraw when demand.kind in {key_disclosure, encryption_backdoor}
        because "handing over {demand.kind} would expose every user"
}
principle lawful "We help with lawful court orders" {
    rule court: comply when demand.kind == user_data and demand.legal_basis == court_order and jurisdiction.rule_of_law >= 0.6
        because "a judge in {jurisdiction.name} ordered it"
}
principle speech "We do not silence peaceful protest" {
    rule protest: withdraw when demand.category in {peaceful_protest, journalism} and demand.mandatory
        because "we will not be made to silence {demand.category}"
    rule protest_soft: negotiate when demand.category in {peaceful_protest, journalism}
        because "we push back on demands about {demand.category}"
}
""",
}

# B decides differently on purpose: keys are negotiated, the court rule asks
# for a stronger rule of law, and protest demands are refused outright.
SET_B = {
    "places.policy": VOCAB_AND_PLACES.replace("rule_of_law = 0.3", "rule_of_law = unknown"),
    "principles.policy": SET_A["principles.policy"]
    .replace("rule no_keys: withdraw", "rule no_keys: negotiate")
    .replace(">= 0.6", ">= 0.8")
    .replace("rule protest_soft: negotiate", "rule protest_soft: withdraw"),
}

# Broken sets: each is one of the valid sets with one kind of damage.
BROKEN: list[dict[str, bytes | str | None]] = [
    {**SET_B, "extra.policy": 'principle half "cut off" {\n    rule r: withdraw when demand.kind =='},  # syntax
    {**SET_A, "extra.policy": 'principle x "y" {\n  rule r: withdraw when demand.kindd == hotline because "z"\n}\n'},  # meaning
    {**SET_B, "extra.policy": b"\x00\x01\x02 binary junk"},  # binary
    {**SET_A, "extra.policy": b'principle caf\xe9 "latin-1" { }'},  # not UTF-8
    {**SET_B, "extra.policy": SET_B["principles.policy"]},  # duplicate principles
    {"places.policy": None, "principles.policy": None},  # no files at all
    {**SET_A, "places.policy": VOCAB_AND_PLACES.replace("in EU", "in EUU")},  # unknown group
]

KINDS = ["key_disclosure", "user_data", "channel_block", "hotline", "content_removal"]
CATEGORIES = ["criminal_suspect", "peaceful_protest", "journalism", "fraud"]
BASES = ["court_order", "statute", "administrative_order"]
PLACES = ["FR", "DE", "RU", "EU", "XX"]


def requests() -> list[dict[str, Any]]:
    out = []
    for j in PLACES:
        for k in KINDS:
            for c in CATEGORIES:
                for b in BASES:
                    for mandatory in (False, True):
                        demand = {"kind": k, "category": c, "legal_basis": b, "mandatory": mandatory}
                        out.append({"jurisdiction": j, "demand": demand})
    return out


def key_of(d: policyengine.Decision) -> tuple[str, tuple[str, ...]]:
    """What must not change between two decisions of one version: outcome and deciding rules."""
    return d.outcome.value, tuple(r.qualified for r in d.reasons)


def put_set(root: Path, files: dict[str, bytes | str | None]) -> None:
    """Make ``root`` hold exactly ``files`` (None: absent), each replaced by rename."""
    for old in root.glob("*.policy"):
        if old.name not in files or files[old.name] is None:
            old.unlink()
    for name, content in files.items():
        if content is None:
            continue
        tmp = root / f".{name}.tmp"
        tmp.write_bytes(content.encode() if isinstance(content, str) else content)
        os.replace(tmp, root / name)


def test_decisions_stay_consistent_while_sets_are_swapped(policy_dir: Callable[..., Path]) -> None:
    reqs = requests()
    # What each valid set decides, computed once, outside the store.
    expected: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    versions = {}
    for name, files in (("A", SET_A), ("B", SET_B)):
        engine = policyengine.load(policy_dir({k: v for k, v in files.items()}))
        versions[name] = engine.version
        expected[engine.version] = [key_of(engine.decide(r)) for r in reqs]
    assert versions["A"] != versions["B"]
    differing = sum(a != b for a, b in zip(expected[versions["A"]], expected[versions["B"]]))
    assert differing > len(reqs) // 10, "the two sets must disagree often, or a mix-up could go unseen"

    root = policy_dir({k: v for k, v in SET_A.items()})
    # The version each broken set would have had: it must never be served.
    broken_versions: set[str] = set()
    for files in BROKEN:
        put_set(root, files)
        broken_versions.add(content_version(*read_sources([root])))
    assert not broken_versions & set(versions.values())
    put_set(root, SET_A)

    store = PolicyStore(root)
    assert store.version == versions["A"]
    stop = threading.Event()
    reloads_done = threading.Event()
    failures: list[str] = []
    counts = [0] * THREADS
    seen: list[set[str]] = [set() for _ in range(THREADS)]

    def decider(n: int) -> None:
        rng = random.Random(n)
        local_seen = seen[n]
        count = 0
        try:
            while not stop.is_set():
                for _ in range(500):
                    i = rng.randrange(len(reqs))
                    req = reqs[i]
                    if count % 10 == 0:
                        # A unique id misses the memo: the full decision path runs too.
                        req = {"jurisdiction": req["jurisdiction"], "demand": {**req["demand"], "id": f"t{n}-{count}"}}
                    d = store.decide(req)
                    version = d.policy_version
                    want = expected.get(version)
                    if want is None:
                        failures.append(f"thread {n}: served unknown version {version}")
                        return
                    if key_of(d) != want[i]:
                        failures.append(f"thread {n}: {req} decided {key_of(d)} under {version}, expected {want[i]}")
                        return
                    local_seen.add(version)
                    count += 1
                # Now and then, a snapshot: a market and all its parts agree.
                engine = store.engine
                market = engine.market("RU")
                if {market.policy_version, *(x.policy_version for x in market.decisions)} != {engine.version}:
                    failures.append(f"thread {n}: a market mixed versions")
                    return
                counts[n] = count
                if count >= DECISIONS_PER_THREAD and reloads_done.is_set():
                    return
                # Let the reloader in: a reload must not wait behind whole batches.
                time.sleep(0)
        except Exception:
            failures.append(f"thread {n}: {traceback.format_exc()}")
        finally:
            counts[n] = count

    def reloader() -> None:
        rng = random.Random(99)
        valid = [("A", SET_A), ("B", SET_B)]
        reloads = 0
        try:
            while not stop.is_set():
                if reloads % 2 == 0:
                    name, files = valid[(reloads // 2) % 2]
                    put_set(root, files)
                    status = store.reload()
                    if status.version != versions[name] or not status.ok:
                        failures.append(f"reload {reloads}: set {name} did not load: {status}")
                        return
                else:
                    before = store.version
                    put_set(root, rng.choice(BROKEN))
                    status = store.reload()
                    if status.last_attempt != "rejected" or store.version != before:
                        failures.append(f"reload {reloads}: a broken set was not rejected: {status}")
                        return
                    if status.rejected_version not in broken_versions:
                        failures.append(f"reload {reloads}: unexpected rejected version {status.rejected_version}")
                        return
                reloads += 1
                if reloads >= RELOADS:
                    reloads_done.set()
                    if sum(counts) >= THREADS * DECISIONS_PER_THREAD:
                        return
                # Give the deciders the GIL between reloads.
                stop.wait(0.01)
        except Exception:
            failures.append(f"reloader: {traceback.format_exc()}")
        finally:
            reloads_done.set()
            result["reloads"] = reloads

    result: dict[str, int] = {}
    threads = [threading.Thread(target=decider, args=(n,), name=f"decider-{n}") for n in range(THREADS)]
    threads.append(threading.Thread(target=reloader, name="reloader"))
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG_GUARD)
    stop.set()
    hung = [t.name for t in threads if t.is_alive()]
    for t in threads:
        t.join(10)
    store.close()

    assert not failures, "\n".join(failures[:5])
    assert not hung, f"threads did not finish: {hung}"
    assert result["reloads"] >= RELOADS
    assert all(c >= DECISIONS_PER_THREAD for c in counts), counts
    # Both valid sets were really served to the deciders, and nothing else.
    all_seen = set().union(*seen)
    assert all_seen == set(versions.values())
    assert store.status.rejections >= RELOADS // 2
    print(f"\n{sum(counts):,} decisions by {THREADS} threads, {result['reloads']} reloads ({store.status.rejections} rejected)")
