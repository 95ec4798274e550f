"""A real uvicorn server on a loopback ephemeral port, for the service tests.

The server runs in a thread of the test process (uvicorn installs no signal
handlers outside the main thread); tests talk HTTP to it with httpx, so
every byte goes through uvicorn's HTTP parser and the ASGI app exactly as in
production.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from policyengine.language.loader import default_policy_dir
from policyengine.service import ServiceConfig, create_app

RU_KEYS = {"jurisdiction": "RU", "demand": {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"}}
FR_SUSPECT = {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order"}}
#: Passes parse_tokens' length rule.
DECIDE_TOKEN = "decide-token-0123456789"
REVIEW_TOKEN = "review-token-0123456789"
ADMIN_TOKEN = "admin-token-0123456789ab"
TOKEN_TABLE = f"decide {DECIDE_TOKEN} router\nreview {REVIEW_TOKEN} reviewer\nadmin {ADMIN_TOKEN} ops\n"


def copy_library(target: Path) -> Path:
    """The shipped library, copied so that a test can break and mend it."""
    shutil.copytree(default_policy_dir(), target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target


class LiveServer:
    def __init__(self, app: Any):
        self.app = app
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    @property
    def service(self) -> Any:
        return self.app.service

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)


@contextmanager
def live(config: ServiceConfig | None = None) -> Iterator[LiveServer]:
    server = LiveServer(create_app(config or ServiceConfig(sighup=False))).start()
    try:
        yield server
    finally:
        server.stop()


# --- `policyengine serve` as a subprocess ------------------------------------------------------

LISTENING = re.compile(r"on (https?://[\w.\[\]:]+)")


class Served:
    def __init__(self, proc: subprocess.Popen[str], url: str, lines: list[str]):
        self.proc = proc
        self.url = url
        self.lines = lines


@contextmanager
def serve(*args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "policyengine", "serve", "--port", "0", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    lines: list[str] = []
    url = None
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while url is None and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if (m := LISTENING.search(line)) is not None:
            url = m.group(1)
    if url is None:
        proc.kill()
        proc.wait()
        rest = proc.stderr.read()
        proc.stderr.close()
        raise AssertionError("the server did not start: " + "".join(lines) + rest)

    def drain() -> None:  # keep stderr flowing so the server never blocks on a full pipe
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        yield Served(proc, url, lines)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(5)
        proc.stderr.close()


# --- a bounded load ------------------------------------------------------------------------------


def load(
    url: str,
    bodies: list[bytes],
    *,
    clients: int = 8,
    seconds: float = 5.0,
    max_requests: int = 200_000,
    until: Callable[[], bool] | None = None,
    max_seconds: float = 30.0,
) -> dict[str, Any]:
    """``clients`` keep-alive clients posting ``bodies`` round robin to /v1/decide for ``seconds``.

    Bounded in time and in count: past ``seconds`` the clients go on only
    while ``until()`` is false (e.g. the reloads a test needs have not all
    happened on a slow machine), and never past ``max_seconds``.  Returns
    every answer's (status, body index, outcome, policy version) and the
    latencies, and the figures.
    """
    results: list[list[tuple[int, int, str | None, str | None, float]]] = [[] for _ in range(clients)]
    start_time = time.monotonic()
    per_client = max_requests // clients

    def running() -> bool:
        elapsed = time.monotonic() - start_time
        if elapsed < seconds:
            return True
        return elapsed < max_seconds and until is not None and not until()

    def client(n: int) -> None:
        out = results[n]
        with httpx.Client(base_url=url, timeout=30, headers={"Content-Type": "application/json"}) as http:
            i = n
            while running() and len(out) < per_client:
                body = bodies[i % len(bodies)]
                start = time.perf_counter()
                r = http.post("/v1/decide", content=body)
                took = time.perf_counter() - start
                data = r.json() if r.status_code == 200 else {}
                out.append((r.status_code, i % len(bodies), data.get("outcome"), data.get("policy_version"), took))
                i += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max_seconds + 60)
    elapsed = time.perf_counter() - started
    answers = [a for r in results for a in r]
    latencies = sorted(a[4] for a in answers)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "answers": answers,
        "requests": len(answers),
        "seconds": elapsed,
        "rps": len(answers) / elapsed,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "clients": clients,
    }
