"""The clients in examples/ (curl, JavaScript) against a real server, as docs/service.md shows them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from service_kit import live

from policyengine.service import ServiceConfig

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is needed for this test")
        pytest.skip(f"{tool} is not installed")


def test_the_curl_script(tmp_path: Path) -> None:
    _need("curl")
    with live(ServiceConfig(sighup=False, journal=str(tmp_path / "j.db"))) as s:
        done = subprocess.run(
            ["sh", str(EXAMPLES / "service_curl.sh")],
            env={**os.environ, "POLICYENGINE_URL": s.url},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert '"outcome":"withdraw"' in lines
    assert any(line.startswith('"decision_id":"') for line in lines)
    assert '"code": "request.bad-json"' in lines


def test_the_javascript_client(tmp_path: Path) -> None:
    _need("node")
    with live(ServiceConfig(sighup=False, journal=str(tmp_path / "j.db"))) as s:
        env = {**os.environ, "POLICYENGINE_URL": s.url}
        ok = subprocess.run(
            ["node", str(EXAMPLES / "service_client.mjs"), "FR", "user_data", "criminal_suspect", "court_order"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        bad = subprocess.run(
            ["node", str(EXAMPLES / "service_client.mjs"), "RU", "key_disclosur"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert ok.returncode == 0, ok.stderr
    answer = json.loads(ok.stdout)
    assert answer["outcome"] == "comply" and answer["decided_by"] == ["lawful_access.court_order"] and answer["decision_id"]
    assert bad.returncode == 2
    assert json.loads(bad.stdout) == {
        "status": 400,
        "code": "request.bad-value",
        "field": "demand.kind",
        "did_you_mean": "key_disclosure",
    }
