"""The shipped policy library (``policies/``) under load: decide(), decide_many(), market().

Requests are drawn over every jurisdiction and every demand kind, with the
other demand attributes drawn from their declared types, so the measurement
follows the library as it grows without being edited.
"""

from __future__ import annotations

import random
import time
from typing import Any

from .measure import Stats, measure, timer_overhead_ns

N_REQUESTS = 10_000
SEED = 3


def library_requests(engine: Any, n: int = N_REQUESTS, seed: int = SEED) -> list[dict[str, Any]]:
    from policyengine.language.model import Kind

    rng = random.Random(seed)
    codes = sorted(engine.compiled.jurisdictions)
    attrs = engine.compiled.demand_attrs
    kinds = next((a.values for a in attrs if a.name == "kind"), ())
    out = []
    for i in range(n):
        demand: dict[str, Any] = {}
        for a in attrs:
            if a.name == "kind":
                demand["kind"] = kinds[i % len(kinds)] if kinds else None
            elif a.kind is Kind.ENUM:
                demand[a.name] = rng.choice(a.values)
            elif a.kind is Kind.BOOL:
                demand[a.name] = rng.random() < 0.5
            elif a.kind is Kind.NUMBER and a.required:
                lo = a.lo if a.lo is not None else 0.0
                hi = a.hi if a.hi is not None else 1000.0
                demand[a.name] = round(rng.uniform(lo, hi), 2)
        out.append({"jurisdiction": rng.choice(codes), "demand": demand})
    return out


def measure_library() -> dict[str, Any] | None:
    """None when the library is missing or does not load (it is being written)."""
    import policyengine

    try:
        engine = policyengine.load()
        cold = policyengine.load(memo=False)
    except policyengine.PolicyError:
        return None
    reqs = library_requests(engine)
    overhead = timer_overhead_ns()
    for r in reqs:
        engine.decide(r)
    warm = measure(engine.decide, reqs, passes=3, overhead=overhead)
    memo_off = measure(cold.decide, reqs, passes=2, overhead=overhead)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        engine.decide_many(reqs)
        best = min(best, time.perf_counter() - t0)
    many = Stats(best / len(reqs) * 1e6, float("nan"), len(reqs) / best)
    codes = sorted(engine.compiled.jurisdictions)
    market = measure(engine.market, codes * 5, passes=2, overhead=overhead)
    # Never seen: a fresh engine with the memo on meets every request for the
    # first time (the drawn attributes make almost every shape distinct), so
    # each is decided and then stored; one pass per fresh engine, CPU time,
    # the median over three engines.  This is where a router with varied
    # traffic lives.
    shapes = len({(r["jurisdiction"], tuple(sorted(r["demand"].items()))) for r in reqs})
    first = []
    for _ in range(3):
        fresh = policyengine.load()
        t0 = time.process_time()
        for r in reqs:
            fresh.decide(r)
        first.append((time.process_time() - t0) / len(reqs) * 1e6)
    first.sort()
    never_seen = Stats(first[1], float("nan"), 1e6 / first[1], first[1])
    demands = sum(len(j.demands) for j in engine.compiled.jurisdictions.values())
    return {
        "rules": len(engine.policy_set.rules),
        "jurisdictions": len(codes),
        "standing_demands": demands,
        "decide_warm": warm,
        "decide_memo_off": memo_off,
        "decide_never_seen": never_seen,
        "distinct_shapes": shapes,
        "decide_many": many,
        "market": market,
    }
