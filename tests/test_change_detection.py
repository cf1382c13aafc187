"""The change test as the service runs it: maintenance restarts an offer whose rate broke,
reports show where its evidence starts, and a quiet offer is left alone."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cpa_bandit.api.app import create_app
from cpa_bandit.config import Settings
from cpa_bandit.policies import PolicyParams, Sampler
from cpa_bandit.service import BanditService, Learning
from cpa_bandit.sim.runner import SimClock
from cpa_bandit.store import MemoryStore

T0 = 1_700_000_000.0
CLICKS_PER_HOUR = 40


def run_hours(
    service: BanditService, clock: SimClock, rates: list[float], rng: np.random.Generator, start: int = 0
) -> list[int]:
    """Clicks on offer 1 (with a steady rival, offer 2, so there is a population), each
    resolved at once at the hour's rate; maintenance after every hour. Returns the clicks
    of offer 1 before each restart."""
    restarts, shown = [], 0
    for hour, rate in enumerate(rates, start):
        for i in range(CLICKS_PER_HOUR):
            clock.now = T0 + hour * 3_600 + i * 60
            for offer, p in ((1, rate), (2, 0.02)):
                click = f"{offer}-{hour}-{i}"
                service.decide(click, [offer], PolicyParams(Sampler.thompson))
                service.feedback(click, 10_000_000 if rng.random() < p else 0)
            shown += 1
        clock.now = T0 + (hour + 1) * 3_600
        restarts += [shown] * service.maintain().restarted.count(1)
    return restarts


def test_a_broken_landing_page_restarts_its_offer_within_a_few_hundred_clicks() -> None:
    clock, rng = SimClock(), np.random.default_rng(4)
    service = BanditService(MemoryStore(), rng, clock)
    restarts = run_hours(service, clock, [0.05] * 40 + [0.0] * 20, rng)
    assert len(restarts) == 1, restarts
    assert 0 < restarts[0] - 40 * CLICKS_PER_HOUR <= 400
    report = {r.counters.offer_id: r for r in service.report([1, 2])}
    assert report[1].evidence_since > T0 + 40 * 3_600 and report[2].evidence_since == 0.0
    assert report[1].counters.clicks == 60 * CLICKS_PER_HOUR  # the lifetime counters never forget
    rows = service.store.read_offers([1])
    assert rows.pooled[0, 0] - rows.pooled_before[0, 0] == 60 * CLICKS_PER_HOUR - restarts[0]  # only what came after


@pytest.mark.parametrize("enabled", [True, False])
def test_a_quiet_offer_is_left_alone_and_the_setting_turns_the_test_off(enabled: bool) -> None:
    clock, rng = SimClock(), np.random.default_rng(5)
    service = BanditService(MemoryStore(), rng, clock, Learning(change_detection=enabled))
    assert run_hours(service, clock, [0.05] * 60, rng) == []
    if not enabled:
        assert run_hours(service, clock, [0.0] * 20, rng, start=60) == []


def test_stats_show_where_an_offers_evidence_starts(tmp_path) -> None:
    clock = SimClock()
    clock.now = T0
    app = create_app(Settings(store=f"sqlite:///{tmp_path}/c.db"), rng=np.random.default_rng(0), clock=clock)
    with TestClient(app) as client:
        assert client.get("/sample/", params={"click_id": "a", "offer_ids": "7"}).status_code == 200
        assert client.get("/stats/").json()["offers"][0]["evidence_since"] is None
        assert app.state.service.store.restart_offer(7, T0 + 5.0, 0.0)
        assert client.get("/stats/").json()["offers"][0]["evidence_since"] == T0 + 5.0
        lines = [line.split() for line in client.get("/metrics").text.splitlines() if not line.startswith("#")]
        since = {name: float(value) for name, value in lines if name.startswith("cpa_bandit_evidence_since")}
        assert since == {'cpa_bandit_evidence_since_seconds{offer="7"}': T0 + 5.0}
