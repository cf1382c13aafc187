"""Conversion caps: an offer at its cap leaves the rotation until its day or month ends, in
its own time zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cpa_bandit.api import create_app
from cpa_bandit.caps import capped_until, periods
from cpa_bandit.config import Settings
from cpa_bandit.domain import Offer
from cpa_bandit.sim.runner import SimClock

ADMIN = {"X-Admin-Key": "test-admin-key-0123456"}
NEW_YORK = ZoneInfo("America/New_York")


def at(*args: int, tz: ZoneInfo = NEW_YORK) -> float:
    return datetime(*args, tzinfo=tz).timestamp()


@pytest.fixture
def clock() -> SimClock:
    clock = SimClock()
    clock.now = at(2026, 3, 31, 22, 0)  # 22:00 in New York, already April in UTC
    return clock


@pytest.fixture
def client(tmp_path: Path, clock: SimClock) -> Iterator[TestClient]:
    settings = Settings(store=f"sqlite:///{tmp_path}/caps.db", admin_key="test-admin-key-0123456")
    with TestClient(create_app(settings, rng=np.random.default_rng(3), clock=clock)) as test_client:
        yield test_client


def convert(client: TestClient, click_id: str, offer_ids: str = "1,2", status: str = "approved") -> int:
    offer_id = client.get("/sample/", params={"click_id": click_id, "offer_ids": offer_ids}).json()["offer_id"]
    response = client.get("/postback", params={"subid": click_id, "payout": 5, "status": status})
    assert response.status_code == 200, response.text
    return offer_id


def chosen(client: TestClient, prefix: str, offer_ids: str = "1,2", n: int = 40) -> set[int]:
    return {
        client.get("/sample/", params={"click_id": f"{prefix}{i}", "offer_ids": offer_ids}).json()["offer_id"]
        for i in range(n)
    }


def test_periods_follow_the_offers_time_zone_and_its_dst() -> None:
    offer = Offer(1, cap_daily=3, cap_monthly=50, timezone="America/New_York")
    day, month = periods(offer, at(2026, 3, 8, 12, 0))  # the spring-forward day: 23 hours
    assert (day.key, month.key) == ("d:2026-03-08", "m:2026-03")
    assert day.ends_at - at(2026, 3, 8, 0, 0) == 23 * 3600
    assert month.ends_at == at(2026, 4, 1, 0, 0)
    assert [(p.key, p.cap) for p in periods(Offer(1), 0.0)] == [("d:1970-01-01", None), ("m:1970-01", None)]
    assert capped_until(offer, at(2026, 3, 8, 12, 0), {"d:2026-03-08": 3}) == day.ends_at
    assert capped_until(offer, at(2026, 3, 8, 12, 0), {"d:2026-03-08": 2, "m:2026-03": 50}) == month.ends_at
    assert capped_until(offer, at(2026, 3, 8, 12, 0), {"d:2026-03-07": 9}) == 0.0


def test_an_offer_at_its_daily_cap_leaves_the_rotation_until_the_next_local_day(
    client: TestClient, clock: SimClock
) -> None:
    body = {"cap_daily": 2, "timezone": "America/New_York"}
    assert client.put("/offers/1", json=body, headers=ADMIN).status_code == 200
    convert(client, "a", "1")
    convert(client, "b", "1", status="lead")  # pending conversions count too
    assert chosen(client, "after") == {2}, "a capped offer is never chosen"
    refused = client.get("/sample/", params={"click_id": "x", "offer_ids": "1"})
    assert refused.status_code == 409
    retried = client.get("/sample/", params={"click_id": "a", "offer_ids": "1"})
    assert retried.json() == {"click_id": "a", "offer_id": 1}, "a retried click keeps its first answer"
    assert (refused.json()["capped"], refused.json()["paused"]) == ([1], [])
    assert client.get("/offers/1").json()["capped_until"] == at(2026, 4, 1, 0, 0)
    clock.now = at(2026, 4, 1, 0, 0) - 1
    assert chosen(client, "late", n=10) == {2}
    clock.now = at(2026, 4, 1, 0, 0)  # midnight in New York: a new day
    assert client.get("/offers/1").json()["capped_until"] is None
    assert 1 in chosen(client, "next"), "back in the rotation (it converted best before its cap)"


def test_a_cap_set_during_the_day_counts_the_days_conversions(client: TestClient) -> None:
    convert(client, "a", "1")  # offer 1 is not even registered yet
    convert(client, "b", "1")
    assert client.put("/offers/1", json={"cap_daily": 2}, headers=ADMIN).json()["capped_until"] is not None
    assert chosen(client, "after") == {2}


def test_duplicates_and_rejections_do_not_use_the_cap(client: TestClient) -> None:
    client.put("/offers/1", json={"cap_daily": 2}, headers=ADMIN)
    convert(client, "a", "1")
    client.get("/postback", params={"subid": "a", "payout": 5})  # a retried postback
    convert(client, "b", "1", status="rejected")
    assert client.get("/sample/", params={"click_id": "c", "offer_ids": "1"}).status_code == 200
    convert(client, "d", "1", status="sale")
    assert client.get("/sample/", params={"click_id": "e", "offer_ids": "1"}).status_code == 409


def test_a_monthly_cap_and_changing_caps_midway(client: TestClient, clock: SimClock) -> None:
    ny = {"timezone": "America/New_York"}
    client.put("/offers/1", json={"cap_monthly": 3, **ny}, headers=ADMIN)
    for i in range(3):
        convert(client, f"m{i}", "1")
    assert client.get("/offers/1").json()["capped_until"] == at(2026, 4, 1, 0, 0)
    # raising the cap lets the offer back at once; the month's conversions still count
    assert client.put("/offers/1", json={"cap_monthly": 4, **ny}, headers=ADMIN).json()["capped_until"] is None
    convert(client, "m3", "1")
    assert client.put("/offers/1", json={"cap_monthly": 4, **ny}, headers=ADMIN).json()["capped_until"] is not None
    # and lowering a cap below the month's count rests the offer at once
    client.put("/offers/1", json={"cap_monthly": 9, **ny}, headers=ADMIN)
    assert client.put("/offers/1", json={"cap_monthly": 2, **ny}, headers=ADMIN).json()["capped_until"] is not None
    clock.now = at(2026, 4, 15, 12, 0)
    assert chosen(client, "april", "1", n=3) == {1}


def test_paused_and_capped_together(client: TestClient) -> None:
    client.put("/offers/1", json={"cap_daily": 1}, headers=ADMIN)
    client.put("/offers/2", json={"status": "paused"}, headers=ADMIN)
    convert(client, "a", "1")
    refused = client.get("/sample/", params={"click_id": "x", "offer_ids": "1,2"}).json()
    assert (refused["capped"], refused["paused"]) == ([1], [2])
    assert "paused and at its conversion cap" in refused["detail"]


def test_a_bad_time_zone_is_refused(client: TestClient) -> None:
    response = client.put("/offers/1", json={"cap_daily": 1, "timezone": "Mars/Olympus"}, headers=ADMIN)
    assert response.status_code == 422 and "time zone" in response.text
    assert client.put("/offers/1", json={"cap_daily": 0}, headers=ADMIN).status_code == 422
    assert client.get("/offers/1").status_code == 404


def test_utc_is_the_default_time_zone(client: TestClient, clock: SimClock) -> None:
    client.put("/offers/1", json={"cap_daily": 1}, headers=ADMIN)
    convert(client, "a", "1")
    assert client.get("/offers/1").json()["capped_until"] == datetime(2026, 4, 2, tzinfo=timezone.utc).timestamp()


def test_a_capped_offer_shows_status_capped_until_its_period_ends(client: TestClient, clock: SimClock) -> None:
    """``/stats/`` (every offer, and the ones asked), ``GET /offers`` and ``GET /offers/{id}``
    say ``capped`` with the time it returns, and ``active`` again once the day ends."""
    client.put("/offers/1", json={"cap_daily": 1, "timezone": "America/New_York"}, headers=ADMIN)
    client.put("/offers/2", json={"name": "uncapped"}, headers=ADMIN)
    convert(client, "a", "1")
    midnight = at(2026, 4, 1, 0, 0)

    def shown() -> list[tuple[str, float | None]]:
        every = {row["offer_id"]: row for row in client.get("/stats/").json()["offers"]}
        (asked,) = client.get("/stats/", params={"offer_ids": "1"}).json()["offers"]
        listed = {row["offer_id"]: row for row in client.get("/offers").json()["offers"]}
        return [
            (row["status"], row["capped_until"])
            for row in (every[1], asked, listed[1], client.get("/offers/1").json())
        ] + [(every[2]["status"], every[2]["capped_until"]), (listed[2]["status"], listed[2]["capped_until"])]

    assert shown() == [("capped", midnight)] * 4 + [("active", None)] * 2
    clock.now = midnight
    assert shown() == [("active", None)] * 6


def test_paused_and_archived_take_precedence_over_capped(client: TestClient) -> None:
    """archived > paused > capped > active; ``capped_until`` still says when the cap ends."""
    client.put("/offers/1", json={"cap_daily": 1}, headers=ADMIN)
    convert(client, "a", "1")
    until = client.get("/offers/1").json()["capped_until"]
    for status in ("paused", "archived", "active"):
        assert client.patch("/offers/1", json={"status": status}, headers=ADMIN).status_code == 200
        (row,) = client.get("/stats/", params={"offer_ids": "1"}).json()["offers"]
        entry = client.get("/offers/1").json()
        expected = "capped" if status == "active" else status
        assert (row["status"], row["capped_until"]) == (entry["status"], entry["capped_until"]) == (expected, until)
    refused = client.get("/sample/", params={"click_id": "x", "offer_ids": "1"})
    assert refused.status_code == 409 and refused.json()["capped"] == [1]
