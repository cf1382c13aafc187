"""JSON log lines and request ids: every answer carries an id, every line logged while
serving carries it too, and no secret of a request (token, key, cookie) reaches a log.
Also how ``cpa-bandit serve`` sets logging and the metrics directory up for its workers."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cpa_bandit.api import create_app
from cpa_bandit.cli import app as cli
from cpa_bandit.config import Settings
from cpa_bandit.telemetry.logs import JsonFormatter
from cpa_bandit.telemetry.multiprocess import MULTIPROC_ENV

POSTBACK_TOKEN = "tok-SECRET-0123456789"
KEYS = {"postback": "postback-key-0123456789", "read": "read-key-0123456789"}
ACCESS_FIELDS = {
    *("time", "level", "logger", "message"),
    *("request_id", "method", "route", "path", "status", "duration_ms", "client"),
}


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict]]]:
    """The service's log lines while the test runs, formatted as ``serve`` formats them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    service_log = logging.getLogger("cpa_bandit")
    level = service_log.level
    service_log.addHandler(handler)
    service_log.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    service_log.removeHandler(handler)
    service_log.setLevel(level)


def keyed_app(**settings: object) -> FastAPI:
    keys = ",".join(f"{role}={key}" for role, key in KEYS.items())
    return create_app(
        Settings(store="memory://", keys=keys, postback_token=POSTBACK_TOKEN, **settings), rng=np.random.default_rng(0)
    )


def test_a_sane_incoming_request_id_is_kept_anything_else_replaced(client: TestClient) -> None:
    for sent in ("abc-123.X:y_z", "a" * 64):
        assert client.get("/healthz", headers={"X-Request-ID": sent}).headers["x-request-id"] == sent
    generated = set()
    for headers in ({}, {"X-Request-ID": "a" * 65}, {"X-Request-ID": "two words"}, {"X-Request-ID": "<script>"}):
        rid = client.get("/healthz", headers=headers).headers["x-request-id"]
        assert len(rid) == 32 and int(rid, 16) >= 0
        generated.add(rid)
    assert len(generated) == 4


def test_every_answer_carries_a_request_id(log_lines: Callable[[], list[dict]]) -> None:
    app = keyed_app()

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        answers = [
            client.get("/no/such/route"),  # 404
            client.get("/sample/", params={"click_id": "x"}),  # 422
            client.get("/stats/"),  # 401: a read key exists and none was sent
            client.get("/sample/", params={"click_id": "x", "offer_ids": "1", "pad": "a" * 30_000}),  # 414, unrouted
            client.get("/boom"),  # 500: the exception reached Starlette's error middleware
        ]
    assert [r.status_code for r in answers] == [404, 422, 401, 414, 500]
    ids = [r.headers["x-request-id"] for r in answers]
    assert len(set(ids)) == len(ids)
    lines = log_lines()
    assert [(line["request_id"], line["status"]) for line in lines] == list(zip(ids, [404, 422, 401, 414, 500]))
    assert lines[-1]["level"] == "WARNING" and lines[-1]["route"] == "/boom"


def test_request_lines_are_json_with_the_request_and_no_secret(log_lines: Callable[[], list[dict]]) -> None:
    secrets = [POSTBACK_TOKEN, "wrong-token-0123456789", *KEYS.values(), "cookie-secret-0123456789"]
    with TestClient(keyed_app()) as client:
        responses = [
            client.get("/sample/", params={"click_id": "c1", "offer_ids": "1,2", "source": "fb-1"},
                       headers={"X-Request-ID": "trace-42"}),
            client.get("/postback", params={"subid": "c1", "payout": "2", "token": POSTBACK_TOKEN}),
            client.get("/postback", params={"subid": "c1", "payout": "2", "token": "wrong-token-0123456789"}),
            client.get("/offer_ids/1/stats/", headers={"Authorization": f"Bearer {KEYS['read']}",
                                                       "Cookie": "session=cookie-secret-0123456789"}),
            client.put("/feedback/", params={"click_id": "c2", "reward": "0"}, headers={"X-API-Key": KEYS["postback"]}),
        ]  # fmt: skip
    assert [r.status_code for r in responses] == [200, 200, 403, 200, 404]
    lines = log_lines()
    assert [line["request_id"] for line in lines] == [r.headers["x-request-id"] for r in responses]
    assert lines[0]["request_id"] == "trace-42"
    for line in lines:
        assert set(line) == ACCESS_FIELDS, line
        assert line["logger"] == "cpa_bandit.access" and line["client"] == "testclient"
        assert datetime.fromisoformat(line["time"]).tzinfo == UTC
        assert "?" not in line["path"] and line["message"] == f"{line['method']} {line['path']} {line['status']}"
    assert [(line["route"], line["path"]) for line in lines[2:4]] == [
        ("/postback", "/postback"),
        ("/offer_ids/{offer_id}/stats/", "/offer_ids/1/stats/"),
    ]
    text = json.dumps(lines)
    assert "token" not in text
    assert not [secret for secret in secrets if secret in text]


def test_lines_logged_while_serving_carry_the_request_id(log_lines: Callable[[], list[dict]]) -> None:
    app = create_app(Settings(store="memory://"))

    def probe() -> dict:  # a plain def: FastAPI runs it in a worker thread
        logging.getLogger("cpa_bandit.probe").info("probing")
        return {}

    app.add_api_route("/probe", probe)
    with TestClient(app) as client:
        rid = client.get("/probe").headers["x-request-id"]
    logging.getLogger("cpa_bandit.probe").info("after the request")
    probing, access, after = log_lines()
    assert (probing["message"], probing["request_id"]) == ("probing", rid)
    assert access["request_id"] == rid and access["route"] == "/probe"
    assert "request_id" not in after and "status" not in after


def test_the_access_log_can_be_turned_off(log_lines: Callable[[], list[dict]]) -> None:
    with TestClient(create_app(Settings(store="memory://", access_log=False))) as client:
        assert client.get("/healthz").headers["x-request-id"]
    assert log_lines() == []


def test_formatter_writes_exceptions_and_only_known_fields() -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info())
    record.color_message = "\x1b[31mfailed\x1b[0m"  # what uvicorn adds: not copied
    line = json.loads(JsonFormatter().format(record))
    assert set(line) == {"time", "level", "logger", "message", "exception"}
    assert (line["level"], line["logger"], line["message"]) == ("ERROR", "uvicorn.error", "failed x")
    assert "ValueError: bad value" in line["exception"]


def test_log_config_sends_uvicorns_loggers_through_json() -> None:
    """In a fresh interpreter, as each worker applies it."""
    program = (
        "import logging, logging.config; from cpa_bandit.telemetry.logs import log_config;"
        "logging.config.dictConfig(log_config('info'));"
        "logging.getLogger('uvicorn.error').info('Started server process [%d]', 7);"
        "logging.getLogger('cpa_bandit.x').debug('hidden')"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True)
    (line,) = [json.loads(text) for text in done.stderr.splitlines()]
    assert (line["logger"], line["level"], line["message"]) == ("uvicorn.error", "INFO", "Started server process [7]")


# --- cpa-bandit serve ---------------------------------------------------------------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict:
    """What ``serve`` hands uvicorn (which is not started) and configures logging with (which
    is left alone: it belongs to pytest here)."""
    seen: dict = {}

    def run(app: str, **kwargs: object) -> None:
        directory = Path(os.environ[MULTIPROC_ENV])
        seen.update(kwargs, directory=directory, files=sorted(p.name for p in directory.iterdir()))

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.setattr(logging.config, "dictConfig", lambda config: seen.setdefault("dict_config", config))
    monkeypatch.setenv("CPA_BANDIT_STORE", "memory://")
    monkeypatch.setenv("CPA_BANDIT_LOG_LEVEL", "info")  # serve sets it from --log-level; restored after
    return seen


def test_serve_logs_json_without_uvicorns_access_log_and_a_fresh_metrics_directory(
    served: dict, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    result = CliRunner().invoke(cli, ["serve", "--log-level", "WARNING"])
    assert result.exit_code == 0, result.output
    assert served["access_log"] is False and served["log_level"] == "warning"
    assert served["log_config"] is served["dict_config"]
    assert served["log_config"]["formatters"]["json"]["()"] is JsonFormatter
    assert served["log_config"]["root"]["level"] == "WARNING"
    assert served["files"] == []
    assert not served["directory"].exists() and MULTIPROC_ENV not in os.environ
    assert any("no key configured" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


def test_serve_empties_the_operators_metrics_directory_of_old_values(
    served: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "counter_4242.db").write_bytes(b"a previous run's counters")
    (tmp_path / "notes.txt").write_text("not prometheus-client's")
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 0, result.output
    assert served["directory"] == tmp_path and served["files"] == ["notes.txt"]
    assert tmp_path.is_dir() and os.environ[MULTIPROC_ENV] == str(tmp_path)


def test_the_access_log_fast_path_writes_exactly_the_formatters_line() -> None:
    """Under ``serve``'s logging (one JSON handler on the root), access lines are encoded
    directly; they must be the lines the formatter writes for the same request."""
    from cpa_bandit.telemetry.logs import RequestLog, log_config, request_id

    logger = logging.getLogger("cpa_bandit.access")
    root_handlers, root_level = logging.root.handlers[:], logging.root.level
    direct, formatted = io.StringIO(), io.StringIO()
    config = log_config("info")
    config["handlers"]["stderr"]["stream"] = direct
    token = request_id.set("rid-1")
    try:
        logging.config.dictConfig(config)
        log = RequestLog(logger)
        for path, client in [("/sample/", "127.0.0.1"), ('/odd"path/\\ü\n', None)]:
            assert log._direct_handler() is not None
            log.log(logging.INFO, "GET", "/sample/", path, 200, 0.0012345, client)
        handler = logging.StreamHandler(formatted)  # a second handler: lines go through logging
        handler.setFormatter(JsonFormatter())
        logging.root.addHandler(handler)
        assert log._direct_handler() is None
        log.log(logging.INFO, "GET", "/sample/", "/sample/", 200, 0.0012345, "127.0.0.1")
        log.log(logging.INFO, "GET", "/sample/", '/odd"path/\\ü\n', 200, 0.0012345, None)
    finally:
        request_id.reset(token)
        logging.root.handlers[:] = root_handlers
        logging.root.setLevel(root_level)
    fast, slow = ([json.loads(line) for line in stream.getvalue().splitlines()] for stream in (direct, formatted))
    assert len(fast) == 4 and len(slow) == 2  # direct: its own two lines, then the two through logging
    for line in fast + slow:
        assert datetime.strptime(line.pop("time"), "%Y-%m-%dT%H:%M:%S.%fZ")
    assert fast[:2] == slow == fast[2:]
