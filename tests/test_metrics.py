"""``GET /metrics`` in one process: exact counters after known traffic, route templates as
labels, the store measured, scrape-time values from the store, the read role."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from cpa_bandit.api import create_app
from cpa_bandit.config import Settings
from cpa_bandit.domain import StoreBusy, StoreUnavailable, UnknownClick
from cpa_bandit.store import MemoryStore
from cpa_bandit.telemetry.metrics import Metrics, StoreCollector
from cpa_bandit.telemetry.store import instrumented

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def sample(client: TestClient, click_id: str, offer_ids: str, source: str | None = None) -> dict:
    params = {"click_id": click_id, "offer_ids": offer_ids} | ({"source": source} if source else {})
    response = client.get("/sample/", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_decisions_are_counted_by_offer_and_source(client: TestClient) -> None:
    for i in range(3):
        sample(client, f"s{i}", "2", source="s1")
    for i in range(2):
        sample(client, f"n{i}", "3")
    text = client.get("/metrics").text
    assert 'cpa_bandit_decisions_total{offer="2",source="s1"} 3.0' in text.splitlines()
    samples = parse(text)
    assert value(samples, "cpa_bandit_decisions_total", offer="3", source="") == 2
    assert value(samples, "cpa_bandit_degraded_decisions_total") == 0
    assert value(samples, "cpa_bandit_pending_clicks") == 5
    # each decision reads the offers' counters and records the click: one call each
    assert value(samples, "cpa_bandit_store_duration_seconds_count", operation="record_decision") == 5


def test_feedback_conversions_count_once(client: TestClient) -> None:
    for i in range(3):
        sample(client, f"f{i}", "4")
    for click, reward in (("f0", 7.25), ("f0", 7.25), ("f1", 0), ("f2", 2.75)):  # f0 twice: a replay
        assert client.put("/feedback/", params={"click_id": click, "reward": reward}).status_code == 200
    samples = parse(client.get("/metrics").text)
    assert value(samples, "cpa_bandit_conversions_total", offer="4") == 2
    assert value(samples, "cpa_bandit_revenue_total", offer="4") == 10.0
    assert value(samples, "cpa_bandit_pending_clicks") == 0


def test_postbacks_move_conversions_revenue_and_the_store_counts(client: TestClient) -> None:
    for i in range(1, 6):
        sample(client, f"c{i}", "2")
    assert client.put("/feedback/", params={"click_id": "c1", "reward": 0}).status_code == 200
    calls = [
        ({"subid": "c3", "payout": "12.5"}, 200),  # approved at once
        ({"subid": "c3", "payout": "12.5"}, 200),  # the tracker retries: a duplicate
        ({"subid": "nobody", "payout": "1"}, 404),  # refused: unknown_click
        ({"subid": "c4", "tid": "t4", "status": "lead", "payout": "5"}, 200),  # pending
    ]
    for params, status in calls:
        assert client.get("/postback", params=params).status_code == status
    samples = scrape(client)
    assert value(samples, "cpa_bandit_pending_conversions") == 1
    assert value(samples, "cpa_bandit_conversions_total", offer="2") == 1
    assert value(samples, "cpa_bandit_revenue_total", offer="2") == 12.5

    # approved with its final payout, then the first conversion charged back
    approval = {"subid": "c4", "tid": "t4", "status": "sale", "payout": "6"}
    assert client.get("/postback", params=approval).status_code == 200
    assert client.get("/postback", params={"subid": "c3", "status": "chargeback"}).status_code == 200
    samples = scrape(client)
    assert value(samples, "cpa_bandit_conversions_total", offer="2") == 2
    assert value(samples, "cpa_bandit_revenue_total", offer="2") == 18.5
    assert value(samples, "cpa_bandit_reversed_conversions_total", offer="2") == 1
    assert value(samples, "cpa_bandit_reversed_revenue_total", offer="2") == 12.5
    assert value(samples, "cpa_bandit_pending_conversions") == 0
    assert value(samples, "cpa_bandit_pending_clicks") == 2  # c2 and c5: no feedback, no approval
    assert value(samples, "cpa_bandit_postbacks_total", outcome="applied", reason="") == 4
    assert value(samples, "cpa_bandit_postbacks_total", outcome="duplicate", reason="") == 1
    assert value(samples, "cpa_bandit_postbacks_total", outcome="refused", reason="unknown_click") == 1


def test_requests_are_labelled_by_route_template_never_by_path(client: TestClient) -> None:
    for offer_id in (2, 2, 7):
        assert client.get(f"/offer_ids/{offer_id}/stats/").status_code == 200
    assert client.get("/no/such/route").status_code == 404
    assert client.get("/sample/", params={"click_id": "x", "offer_ids": "1", "pad": "a" * 9_000}).status_code == 414
    assert client.request("BREW", "/stats/").status_code == 405
    text = client.get("/metrics").text
    samples = parse(text)
    stats = {"route": "/offer_ids/{offer_id}/stats/", "method": "GET", "status": "200"}
    assert value(samples, "cpa_bandit_http_requests_total", **stats) == 3
    assert value(samples, "cpa_bandit_http_request_duration_seconds_count", **stats) == 3
    unrouted = {"route": "unmatched", "method": "GET"}
    assert value(samples, "cpa_bandit_http_requests_total", **unrouted, status="404") == 1
    assert value(samples, "cpa_bandit_http_requests_total", **unrouted, status="414") == 1
    assert value(samples, "cpa_bandit_http_requests_total", route="/stats/", method="OTHER", status="405") == 1
    assert "/offer_ids/7/" not in text and "/no/such" not in text and "BREW" not in text


class UnrecordingStore(MemoryStore):
    """Reads work; recording a decision finds the store gone."""

    def record_decision(self, decision):
        raise StoreUnavailable("store unavailable: connection refused")


def test_degraded_decisions_and_store_errors_are_counted() -> None:
    app = create_app(Settings(store="memory://"), store=UnrecordingStore(), rng=np.random.default_rng(0))
    with TestClient(app) as client:
        assert sample(client, "d1", "4", source="s9")["recorded"] is False
        assert client.put("/feedback/", params={"click_id": "never", "reward": 0}).status_code == 404
        samples = scrape(client)
    assert value(samples, "cpa_bandit_decisions_total", offer="4", source="s9") == 1
    assert value(samples, "cpa_bandit_degraded_decisions_total") == 1
    assert value(samples, "cpa_bandit_store_errors_total", operation="record_decision", error="StoreUnavailable") == 1
    # an unknown click is the store's answer, not its failure
    errors = [dict(labels) for name, labels in samples if name == "cpa_bandit_store_errors_total"]
    assert errors == [{"operation": "record_decision", "error": "StoreUnavailable"}]
    assert value(samples, "cpa_bandit_store_duration_seconds_count", operation="resolve_click") == 1


def test_each_app_has_its_own_metrics() -> None:
    first = TestClient(create_app(Settings(store="memory://")))
    second = TestClient(create_app(Settings(store="memory://")))
    sample(first, "a", "1")
    assert value(scrape(first), "cpa_bandit_decisions_total", offer="1", source="") == 1
    assert value(scrape(second), "cpa_bandit_decisions_total", offer="1", source="") is None


def test_metrics_need_the_read_role(tmp_path: Path) -> None:
    keys = "read=read-key-0123456789,traffic=traffic-key-0123456789"
    with TestClient(create_app(Settings(store=f"sqlite:///{tmp_path}/k.db", keys=keys))) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"X-API-Key": "traffic-key-0123456789"}).status_code == 403
        response = client.get("/metrics", headers={"Authorization": "Bearer read-key-0123456789"})
        assert response.status_code == 200 and "cpa_bandit_http_requests_total" in response.text


def test_metrics_are_not_in_the_openapi_schema(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


class Backend:
    """A store-like object with calls that succeed, fail and refuse."""

    reads = 3

    def brand_new_operation(self, x: int) -> int:
        return x + 1

    def busy(self) -> None:
        raise StoreBusy("store busy: database is locked")

    def refuse(self) -> None:
        raise UnknownClick("unknown click_id 'x'")

    def broken(self) -> None:
        raise RuntimeError("a bug")


def test_instrumented_store_measures_any_method_and_counts_only_store_failures() -> None:
    metrics = Metrics()
    store = instrumented(Backend(), metrics)  # type: ignore[arg-type]
    assert store.brand_new_operation(1) == 2 and store.brand_new_operation(2) == 3
    assert store.reads == 3  # attributes are the store's own
    for call, raised in ((store.busy, StoreBusy), (store.refuse, UnknownClick), (store.broken, RuntimeError)):
        with pytest.raises(raised):
            call()
    samples = parse(metrics.render().decode())
    assert value(samples, "cpa_bandit_store_duration_seconds_count", operation="brand_new_operation") == 2
    for operation in ("busy", "refuse", "broken"):
        assert value(samples, "cpa_bandit_store_duration_seconds_count", operation=operation) == 1
    errors = {dict(labels)["operation"]: (dict(labels)["error"], n) for (name, labels), n in samples.items()
              if name == "cpa_bandit_store_errors_total"}  # fmt: skip
    assert errors == {"busy": ("StoreBusy", 1), "broken": ("RuntimeError", 1)}


class UnreachableStore(MemoryStore):
    def known_offer_ids(self):
        raise StoreUnavailable("store unavailable: timeout")


def test_a_store_that_does_not_answer_leaves_its_metrics_out_of_the_scrape() -> None:
    assert list(StoreCollector(UnreachableStore()).collect()) == []


def test_serve_is_reached_before_prometheus_client_is_imported() -> None:
    """prometheus-client picks multiprocess mode when first imported: with one worker, the
    app is imported in the ``serve`` process itself, after serve set the directory up."""
    program = "import sys, cpa_bandit.cli; sys.exit('prometheus_client' in sys.modules)"
    subprocess.run([sys.executable, "-c", program], timeout=60, check=True)
