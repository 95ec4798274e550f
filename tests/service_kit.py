"""A real uvicorn server on a loopback ephemeral port, for the service tests.

The server runs in a thread of the test process (uvicorn installs no signal
handlers outside the main thread); tests talk HTTP to it with httpx, so
every byte goes through uvicorn's HTTP parser and the ASGI app exactly as in
production.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
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
