"""`policyengine serve` as an operator runs it: a subprocess, signals, exit codes.

The done-means sequence of the issue runs here against a real
``policyengine serve`` process: withdraw with a decision id (``--journal``),
malformed JSON → 400 problem+json, no token → 401, a ``decide`` token cannot
reload → 403.  Also: SIGHUP reloads keeping the last good set, SIGTERM lets
an in-flight request finish and closes the journal, two workers answer and
reload on SIGHUP, and the refusals (public host without tokens, bad token
file, policy errors) exit with their codes before anything listens.
"""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_kit import ADMIN_TOKEN, DECIDE_TOKEN, RU_KEYS, TOKEN_TABLE, copy_library, serve

from policyengine.cli import main
from policyengine.journal import open_journal


def _wait_for(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_done_means_sequence(tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    with serve("--journal", str(journal)) as s:
        assert any("loopback only" in line for line in s.lines)
        r = httpx.post(
            f"{s.url}/v1/decide",
            content=('{"jurisdiction":"RU","demand":{"kind":"key_disclosure","category":"all_users","legal_basis":"statute"}}'),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )  # what `curl -d` sends
        body = r.json()
        assert body["outcome"] == "withdraw" and body["decision_id"]
        r = httpx.post(f"{s.url}/v1/decide", content=b'{"jurisdiction":', headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    with open_journal(journal) as j:
        assert [e.decision_id for e in j.entries()] == [body["decision_id"]]
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(TOKEN_TABLE, encoding="utf-8")
    with serve("--tokens", str(tokens)) as s:
        assert not any("loopback only" in line for line in s.lines)
        assert httpx.post(f"{s.url}/v1/decide", json=RU_KEYS).status_code == 401
        decide = {"Authorization": f"Bearer {DECIDE_TOKEN}"}
        assert httpx.post(f"{s.url}/v1/decide", json=RU_KEYS, headers=decide).json()["outcome"] == "withdraw"
        r = httpx.post(f"{s.url}/v1/reload", headers=decide)
        assert r.status_code == 403 and r.json()["code"] == "auth.forbidden"
        assert httpx.post(f"{s.url}/v1/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200


def test_tokens_from_the_environment(tmp_path: Path) -> None:
    with serve(env={"POLICYENGINE_TOKENS": f"admin {ADMIN_TOKEN} ops"}) as s:
        assert httpx.get(f"{s.url}/v1/policy").status_code == 401
        assert httpx.get(f"{s.url}/v1/policy", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200


def test_a_public_host_without_tokens_is_refused(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLICYENGINE_TOKENS", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to listen on `0.0.0.0` without tokens" in err
    assert "hint: give --tokens FILE" in err


@pytest.mark.parametrize(
    ("table", "words"),
    [("boss abcdefghijklmnopqrstuvwxyz", "`boss` is not a role"), ("admin short", "at least 16 are needed")],
)
def test_a_bad_token_file_exits_2_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, words: str
) -> None:
    path = tmp_path / "tokens.txt"
    path.write_text("# tokens\n" + table + "\n", encoding="utf-8")
    assert main(["serve", "--tokens", str(path), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: " in err and words in err


def test_a_missing_token_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--tokens", str(tmp_path / "none.txt"), "--port", "0"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_policy_errors_exit_1_before_listening(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.policy").write_text("principle p {\n", encoding="utf-8")
    assert main(["serve", str(tmp_path), "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "bad.policy:" in err and "error[" in err


def test_sighup_reloads_and_keeps_the_last_good_set(tmp_path: Path) -> None:
    root = copy_library(tmp_path / "policies")
    target = root / "principles" / "encryption.policy"
    original = target.read_text(encoding="utf-8")
    with serve(str(root), "--no-watch") as s:
        good = httpx.get(f"{s.url}/v1/policy").json()["version"]
        target.write_text(original + "\nprinciple broken {\n", encoding="utf-8")
        s.proc.send_signal(signal.SIGHUP)
        _wait_for(lambda: httpx.get(f"{s.url}/v1/policy").json()["status"]["last_attempt"] == "rejected")
        assert httpx.post(f"{s.url}/v1/decide", json=RU_KEYS).json()["policy_version"] == good
        target.write_text(original.replace("never hands them over", "never, ever hands them over"), encoding="utf-8")
        s.proc.send_signal(signal.SIGHUP)
        _wait_for(lambda: httpx.get(f"{s.url}/v1/policy").json()["version"] != good)
        assert httpx.get(f"{s.url}/readyz").json()["ready"] is True


def test_file_changes_reload_by_themselves(tmp_path: Path) -> None:
    root = copy_library(tmp_path / "policies")
    target = root / "principles" / "encryption.policy"
    with serve(str(root)) as s:
        good = httpx.get(f"{s.url}/v1/policy").json()["version"]
        target.write_text(
            target.read_text(encoding="utf-8").replace("never hands them over", "never hands keys over"), encoding="utf-8"
        )
        _wait_for(lambda: httpx.get(f"{s.url}/v1/policy").json()["version"] != good)


def test_sigterm_lets_an_in_flight_request_finish_and_closes_the_journal(tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    with serve("--journal", str(journal), "--journal-mode", "buffered") as s:
        # A slow request: a large batch sent in pieces, still uploading when SIGTERM arrives.
        line = httpx.Request("POST", "/", json=RU_KEYS).content + b"\n"
        sent = threading.Event()

        def body() -> Iterator[bytes]:
            yield line * 50
            sent.set()
            time.sleep(1.0)
            yield line * 50

        result: dict[str, httpx.Response] = {}

        def post() -> None:
            result["r"] = httpx.post(
                f"{s.url}/v1/decide/batch", content=body(), headers={"Content-Type": "application/x-ndjson"}, timeout=30
            )

        client = threading.Thread(target=post)
        client.start()
        assert sent.wait(10)
        time.sleep(0.2)
        s.proc.send_signal(signal.SIGTERM)
        client.join(30)
        assert s.proc.wait(30) == 0
        r = result["r"]
        assert r.status_code == 200 and r.json()["decided"] == 100
    with open_journal(journal) as j:
        # buffered mode: the entries were flushed when the journal closed at shutdown
        assert len(list(j.entries())) == 100


def test_two_workers_answer_and_reload_on_sighup(tmp_path: Path) -> None:
    root = copy_library(tmp_path / "policies")
    target = root / "principles" / "encryption.policy"
    with serve(str(root), "--workers", "2", "--no-watch") as s:
        assert any("2 workers" in line for line in s.lines)
        _wait_for(lambda: _answers(s.url))
        good = httpx.get(f"{s.url}/v1/policy").json()["version"]
        target.write_text(
            target.read_text(encoding="utf-8").replace("never hands them over", "never hands keys over"), encoding="utf-8"
        )
        s.proc.send_signal(signal.SIGHUP)
        # every worker reloads: many fresh connections (spread over the workers) all see the new version
        _wait_for(lambda: all(httpx.get(f"{s.url}/v1/policy").json()["version"] != good for _ in range(12)))
        # POST /v1/reload to one worker reloads them all (through the parent)
        second = httpx.get(f"{s.url}/v1/policy").json()["version"]
        target.write_text(
            target.read_text(encoding="utf-8").replace("never hands keys over", "never gives keys"), encoding="utf-8"
        )
        assert httpx.post(f"{s.url}/v1/reload").json()["result"] == "loaded"
        _wait_for(lambda: all(httpx.get(f"{s.url}/v1/policy").json()["version"] not in (good, second) for _ in range(12)))
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(30) == 0


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz").status_code == 200
    except httpx.TransportError:
        return False


def test_tls_through_uvicorns_options(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl is needed to make the test certificate")
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(TOKEN_TABLE, encoding="utf-8")
    with serve("--ssl-certfile", str(cert), "--ssl-keyfile", str(key), "--tokens", str(tokens)) as s:
        assert s.url.startswith("https://")
        with httpx.Client(verify=ssl.create_default_context(cafile=str(cert))) as http:
            r = http.post(f"{s.url}/v1/decide", json=RU_KEYS, headers={"Authorization": f"Bearer {DECIDE_TOKEN}"})
            assert r.status_code == 200 and r.json()["outcome"] == "withdraw"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{s.url}/healthz")  # the certificate is not one the default trust store knows


def test_ssl_options_go_together(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--ssl-certfile", "x.pem", "--port", "0"]) == 2
    assert "go together" in capsys.readouterr().err
