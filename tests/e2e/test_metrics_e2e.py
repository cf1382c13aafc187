"""``/metrics`` of the real server with two worker processes, and its JSON log.

Known traffic goes to both workers (a new connection per request, until each worker's own
metric file shows decisions); then every scrape, whichever worker answers it, must show
exactly that traffic: the counters are summed over both processes' files, and the
store-wide values come from the shared SQLite file. The server's log must be JSON lines
with request ids and without the postback token.
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from e2e_harness import BanditServer

pytestmark = pytest.mark.e2e

TOKEN = "e2e-postback-token-0123456789"
WRONG_TOKEN = "e2e-guessed-token-0123456789"
SOURCES = ("s1", "s2", "")
BATCH = 20
MAX_BATCHES = 20
FEEDBACKS = 10
SCRAPES = 6


def decisions_by_process(directory: Path) -> dict[int, float]:
    """Decisions that each worker counted, read from that worker's own file alone."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        with tempfile.TemporaryDirectory() as alone:
            shutil.copy(path, alone)
            counts[int(path.stem.removeprefix("counter_"))] = sum(
                sample.value
                for family in MultiProcessCollector(None, path=alone).collect()
                for sample in family.samples
                if sample.name == "cpa_bandit_decisions_total"
            )
    return counts


def scrape(server: BanditServer) -> dict[tuple[str, frozenset], float]:
    with server.client(headers={"Connection": "close"}) as client:
        response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_sum_both_workers_exactly(serve_bandit, tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_999999.db").write_bytes(b"not a metrics file: a stale one must be removed")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "CPA_BANDIT_POSTBACK_TOKEN": TOKEN}
    server = serve_bandit(workers=2, env=env, log_level="info")
    assert not (directory / "counter_999999.db").exists()

    decisions: Counter[tuple[str, str]] = Counter()
    clicks: list[tuple[str, int]] = []
    numbers = itertools.count()
    with server.client(headers={"Connection": "close"}) as client:  # each request on a new connection
        for _ in range(MAX_BATCHES):
            for _ in range(BATCH):
                n = next(numbers)
                click_id, source = f"e2e-{n}", SOURCES[n % len(SOURCES)]
                params = {"click_id": click_id, "offer_ids": "1,2,3"} | ({"source": source} if source else {})
                response = client.get("/sample/", params=params)
                assert response.status_code == 200, response.text
                offer_id = response.json()["offer_id"]
                decisions[(str(offer_id), source)] += 1
                clicks.append((click_id, offer_id))
            if len([n for n in decisions_by_process(directory).values() if n]) == 2:
                break
        else:
            pytest.fail(f"one worker took every connection of {len(clicks)}")

        for click_id, _ in clicks[:FEEDBACKS]:
            assert client.put("/feedback/", params={"click_id": click_id, "reward": 0}).status_code == 200
        assert client.put("/feedback/", params={"click_id": clicks[0][0], "reward": 0}).status_code == 200  # a replay
        converted, offer_id = clicks[FEEDBACKS]
        approved = {"subid": converted, "payout": "12.5", "token": TOKEN}
        assert client.get("/postback", params=approved).json()["duplicate"] is False
        assert client.get("/postback", params=approved).json()["duplicate"] is True
        assert client.get("/postback", params={**approved, "token": WRONG_TOKEN}).status_code == 403
        assert client.get("/postback", params={**approved, "subid": "never-sampled"}).status_code == 404
        traced = client.get("/healthz", headers={"X-Request-ID": "e2e-trace-1"})
        assert traced.headers["x-request-id"] == "e2e-trace-1"

    def series(name: str, **labels: str) -> tuple[str, frozenset]:
        return name, frozenset(labels.items())

    expected = {
        **{series("cpa_bandit_decisions_total", offer=o, source=s): n for (o, s), n in decisions.items()},
        series("cpa_bandit_degraded_decisions_total"): 0,
        series("cpa_bandit_conversions_total", offer=str(offer_id)): 1,
        series("cpa_bandit_revenue_total", offer=str(offer_id)): 12.5,
        series("cpa_bandit_pending_clicks"): len(clicks) - FEEDBACKS - 1,
        series("cpa_bandit_pending_conversions"): 0,
    }
    for outcome, reason in [("applied", ""), ("duplicate", ""), ("refused", "bad_token"), ("refused", "unknown_click")]:
        expected[series("cpa_bandit_postbacks_total", outcome=outcome, reason=reason)] = 1
    for route, method, status, n in [
        ("/sample/", "GET", "200", len(clicks)),
        ("/feedback/", "PUT", "200", FEEDBACKS + 1),
        ("/postback", "GET", "200", 2),
        ("/postback", "GET", "403", 1),
        ("/postback", "GET", "404", 1),
    ]:
        expected[series("cpa_bandit_http_requests_total", route=route, method=method, status=status)] = n
    decision_series = {key for key in expected if key[0] == "cpa_bandit_decisions_total"}
    for _ in range(SCRAPES):  # new connections: either worker may answer any of them
        samples = scrape(server)
        assert {key: samples.get(key) for key in expected} == expected
        assert {key for key in samples if key[0] == "cpa_bandit_decisions_total"} == decision_series

    server.stop()
    head, *lines = server.log_text().splitlines()
    assert head.startswith("$ ") and lines
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"uvicorn.error", "cpa_bandit.access"} <= {entry["logger"] for entry in entries}
    (trace,) = [entry for entry in entries if entry.get("request_id") == "e2e-trace-1"]
    assert (trace["route"], trace["path"], trace["status"]) == ("/healthz", "/healthz", 200)
    assert len([entry for entry in entries if entry.get("route") == "/sample/"]) == len(clicks)
    text = server.log_text()
    assert TOKEN not in text and WRONG_TOKEN not in text and "token=" not in text
