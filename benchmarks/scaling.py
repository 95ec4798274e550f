"""Scaling probes: load time by stage, peak memory and decision latency for one synthetic set.

Each probe runs in a fresh process (``python -m benchmarks.scaling …``) so
that its peak resident memory and its load times are its own, and prints one
JSON object.  ``--phase cold`` loads from the files (cache off) stage by stage
and then decides; ``--phase warm`` loads the same files again through the
load cache that the cold phase left behind.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .measure import measure, peak_mb, timer_overhead_ns
from .synthetic import requests, write_policy_set

SIZES = ((100, 50), (1_000, 200), (10_000, 1_000))
N_REQUESTS = 5_000


def cold(root: Path) -> dict[str, Any]:
    from policyengine import load
    from policyengine.evaluation.compile import compile_policy
    from policyengine.language.loader import read_sources
    from policyengine.language.parser import get_parser, parse
    from policyengine.language.pipeline import prelude_sources
    from policyengine.language.validate import validate

    baseline = peak_mb()
    get_parser()  # built once per process; not part of loading a set
    t0 = time.perf_counter()
    sources, _ = read_sources([root])
    all_sources = [*prelude_sources(), *sources]
    t1 = time.perf_counter()
    files = [parse(s)[0] for s in all_sources]
    t2 = time.perf_counter()
    policy_set, diagnostics = validate(files, all_sources)
    t3 = time.perf_counter()
    if policy_set is None:
        raise SystemExit(f"synthetic set at {root} does not validate: {[d.message for d in diagnostics[:3]]}")
    compile_policy(policy_set)
    t4 = time.perf_counter()
    peak_load = peak_mb()
    del files, policy_set

    result: dict[str, Any] = {
        "rules": 0,
        "jurisdictions": 0,
        "read_s": t1 - t0,
        "parse_s": t2 - t1,
        "validate_s": t3 - t2,
        "compile_s": t4 - t3,
        "cold_load_s": t4 - t0,
        "baseline_mb": baseline,
        "peak_load_mb": peak_load,
    }
    engine = load(root, cache=True)  # fills the load cache for the warm phase
    cold_engine = load(root, cache=True, memo=False)
    result["rules"] = len(engine.policy_set.rules)
    result["jurisdictions"] = len(engine.compiled.jurisdictions)
    codes = sorted(engine.compiled.jurisdictions)
    reqs = requests(codes, N_REQUESTS)
    overhead = timer_overhead_ns()
    # First decisions of a fresh engine: each new (jurisdiction, kind) pair
    # builds its candidate list and compiles its rules' conditions.
    t = time.perf_counter()
    for r in reqs:
        cold_engine.decide(r)
    first_pass = (time.perf_counter() - t) / len(reqs) * 1e6
    decisions = [engine.decide(r) for r in reqs]
    # How much there is to explain: more rules apply to a request in a bigger set.
    matched = sum(len(d.reasons) + len(d.outranked) for d in decisions) / len(decisions)
    facts = sum(len(x.facts) for d in decisions for x in (*d.reasons, *d.outranked)) / len(decisions)
    candidates = 0
    index = engine.compiled.index
    for r in reqs[:1000]:
        normal = engine._decider._checks.fast(r["demand"])
        j = engine.compiled.jurisdictions[r["jurisdiction"]]
        candidates += len(index.candidates(j, normal).select(normal)) if normal is not None else 0
    warm = measure(engine.decide, reqs, passes=5, overhead=overhead)
    memo_off = measure(cold_engine.decide, reqs, passes=3, overhead=overhead)
    counter = iter(range(10**9))

    def unique_decide(r: dict[str, Any]) -> Any:
        r["demand"]["id"] = f"u{next(counter)}"  # never seen before: the memo misses
        return engine.decide(r)

    unique_reqs = [{"jurisdiction": r["jurisdiction"], "demand": dict(r["demand"])} for r in reqs]  # type: ignore[call-overload]
    unique = measure(unique_decide, unique_reqs, passes=3, overhead=overhead)
    result.update(
        matched_per_decision=matched,
        facts_per_decision=facts,
        candidates_per_decision=candidates / min(len(reqs), 1000),
        first_pass_us=first_pass,
        warm_us=warm.median_us,
        warm_p99_us=warm.p99_us,
        memo_off_us=memo_off.median_us,
        memo_off_p99_us=memo_off.p99_us,
        memo_off_cpu_us=memo_off.cpu_us,
        warm_cpu_us=warm.cpu_us,
        unique_cpu_us=unique.cpu_us,
        unique_us=unique.median_us,
        unique_p99_us=unique.p99_us,
        peak_mb=peak_mb(),
    )
    return result


def warm(root: Path) -> dict[str, Any]:
    from policyengine import load
    from policyengine.evaluation import cache
    from policyengine.language.loader import Limits, read_sources

    # The cold phase left an entry, unless the front end's source changed in
    # between (its hash is part of the key): then fill it again first, so the
    # timed load below is a hit either way.
    sources, _ = read_sources([root])
    refilled = not cache.entry_path(sources, Limits()).exists()
    if refilled:
        load(root)
    t0 = time.perf_counter()
    engine = load(root)
    t1 = time.perf_counter()
    return {"warm_load_s": t1 - t0, "rules": len(engine.policy_set.rules), "warm_peak_mb": peak_mb(), "refilled": refilled}


def run_probe(rules: int, jurisdictions: int, workdir: Path) -> dict[str, Any]:
    """Write the set (once) and run both phases in child processes; merge their results."""
    root = workdir / f"set-{rules}-{jurisdictions}"
    if not root.exists():
        write_policy_set(root, rules, jurisdictions)
    env = dict(os.environ, POLICYENGINE_CACHE_DIR=str(workdir / "cache"), POLICYENGINE_CACHE="on")
    out: dict[str, Any] = {}
    for phase in ("cold", "warm"):
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.scaling", "--phase", phase, str(root)],
            capture_output=True,
            text=True,
            env=env,
            cwd=Path(__file__).resolve().parent.parent,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"scaling probe {phase} {rules}/{jurisdictions} failed:\n{proc.stderr}")
        out.update(json.loads(proc.stdout))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one scaling probe (run by benchmarks.report)")
    parser.add_argument("--phase", choices=("cold", "warm"), required=True)
    parser.add_argument("root", type=Path)
    args = parser.parse_args(argv)
    result = cold(args.root) if args.phase == "cold" else warm(args.root)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
