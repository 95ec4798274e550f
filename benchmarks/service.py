"""Requests per second of `policyengine serve` with 1 and 2 workers: ``python -m benchmarks.service``.

Starts ``policyengine serve --workers N`` on a loopback port, then drives it
from client *processes* (so that the clients' own Python does not share the
server's GIL, and a slow client does not pass for a slow server) with
keep-alive connections for a fixed time.  Prints one Markdown row per worker
count: requests, req/s, p50 and p99 latency.  benchmarks/test_service.py runs
the same under pytest-benchmark.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

REQUESTS = [
    {"jurisdiction": "RU", "demand": {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"}},
    {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order"}},
    {"jurisdiction": "IN", "demand": {"kind": "local_representative", "category": "all_users", "legal_basis": "statute"}},
    {"jurisdiction": "US", "demand": {"kind": "channel_block", "category": "all_users", "legal_basis": "court_order"}},
]
_LISTENING = re.compile(r"on (https?://[\w.\[\]:]+)")


@contextmanager
def server(workers: int) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "policyengine", "serve", "--port", "0", "--workers", str(workers), "--no-watch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    url = None
    for line in proc.stderr:
        if (m := _LISTENING.search(line)) is not None:
            url = m.group(1)
            break
    if url is None:
        proc.kill()
        raise RuntimeError("the server did not start")
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # every worker up: each answers readyz once its set is loaded
        try:
            if all(httpx.get(f"{url}/readyz").status_code == 200 for _ in range(2 * workers)):
                break
        except httpx.TransportError:
            time.sleep(0.1)
    try:
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        proc.stderr.close()


def _client(url: str, seconds: float, threads: int) -> list[float]:
    import httpx

    bodies = [json.dumps(r).encode() for r in REQUESTS]
    out: list[list[float]] = [[] for _ in range(threads)]
    deadline = time.monotonic() + seconds

    def run(n: int) -> None:
        with httpx.Client(base_url=url, headers={"Content-Type": "application/json"}, timeout=30) as http:
            i = n
            while time.monotonic() < deadline:
                start = time.perf_counter()
                r = http.post("/v1/decide", content=bodies[i % len(bodies)])
                if r.status_code != 200:
                    raise RuntimeError(f"status {r.status_code}")
                out[n].append(time.perf_counter() - start)
                i += 1

    ts = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return [x for xs in out for x in xs]


def measure(workers: int, *, seconds: float = 5.0, client_processes: int = 2, threads: int = 4) -> dict[str, Any]:
    # spawn, not fork: the parent has threads (the server's stderr reader), and a
    # forked child can inherit a lock one of them held and hang.
    spawn = multiprocessing.get_context("spawn")
    with server(workers) as url, ProcessPoolExecutor(client_processes, mp_context=spawn) as pool:
        _client(url, 0.5, 2)  # warm the memo of every worker a little
        started = time.perf_counter()
        futures = [pool.submit(_client, url, seconds, threads) for _ in range(client_processes)]
        latencies = sorted(x for f in futures for x in f.result())
        elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {
        "workers": workers,
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "clients": client_processes * threads,
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    print("| workers | clients | requests | req/s | p50 | p99 |\n|---|---|---|---|---|---|")
    for workers in (1, 2):
        m = measure(workers, seconds=args.seconds)
        print(
            f"| {workers} | {m['clients']} | {m['requests']:,} | {m['rps']:,.0f} | {m['p50_ms']:.2f} ms | {m['p99_ms']:.2f} ms |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
