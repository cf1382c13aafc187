"""No log line holds a query string or a secret, however the service is started: by
`cpa-bandit serve` (its own JSON access log) and by `uvicorn app:app`, the seed's way, whose
access log uvicorn writes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from e2e_harness import HOST, STARTUP_TIMEOUT, free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "pb-token-5ecret-7d1c"
KEY = "traffic-key-5ecret-9a2b"
SECRETS = (TOKEN, KEY, "wrong-5ecret-token", "wrong-5ecret-key", "clk-5ecret-q")
ENV = {"CPA_BANDIT_POSTBACK_TOKEN": TOKEN, "CPA_BANDIT_KEYS": f"traffic={KEY}"}


def send_requests_with_secrets(client: httpx2.Client) -> None:
    """Requests whose query strings and headers carry every secret, answered and refused."""
    sample = {"click_id": "clk-5ecret-q", "offer_ids": "1,2"}
    assert client.get("/sample/", params=sample, headers={"X-API-Key": KEY}).status_code == 200
    assert client.get("/sample/", params=sample, headers={"X-API-Key": "wrong-5ecret-key"}).status_code == 401
    postback = {"click_id": "clk-5ecret-q", "payout": "3.5"}
    assert client.get("/postback", params={**postback, "token": TOKEN}).status_code == 200
    assert client.get("/postback", params={**postback, "token": "wrong-5ecret-token"}).status_code == 403


def assert_clean(log: str, *, access_line: str) -> None:
    assert access_line in log, log  # the requests were logged, so the check below means something
    for secret in SECRETS:
        assert secret not in log, f"{secret!r} in the log:\n{log}"
    assert not [line for line in log.splitlines() if "?" in line], log


def test_serve_logs_no_query_string_or_secret(serve_bandit) -> None:
    server = serve_bandit(env=ENV, log_level="info")
    with server.client() as client:
        send_requests_with_secrets(client)
    server.stop()
    assert_clean(server.log_text(), access_line='"path": "/postback", "status": 403')


def test_uvicorn_app_logs_no_query_string_or_secret(tmp_path: Path) -> None:
    """`uvicorn app:app` in the project's directory, uvicorn's access log on, as the seed ran it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPA_BANDIT_")}
    env |= ENV | {"CPA_BANDIT_STORE": f"sqlite:///{tmp_path}/seed.db"}
    log_path = tmp_path / "uvicorn.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app:app", "--host", HOST, "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        with httpx2.Client(base_url=f"http://{HOST}:{port}", timeout=5.0) as client:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                try:
                    client.get("/healthz")
                    break
                except httpx2.TransportError:
                    assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
                    time.sleep(0.1)
            send_requests_with_secrets(client)
    finally:
        proc.terminate()
        proc.wait(10)
    assert_clean(log_path.read_text(), access_line='"GET /postback HTTP/1.1" 403')
