"""The dashboard's routes in process: the page and its files, the snapshot it polls (its
uplift section hand-checked), access."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from dashboard_run import OFFERS, PENDING_CLICKS, SOURCES, seed_run
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cpa_bandit.api import create_app, dashboard_routes
from cpa_bandit.config import Settings
from cpa_bandit.holdout import holdout_point
from cpa_bandit.keys import Role
from cpa_bandit.sim.runner import SimClock

ADMIN_KEY = "dashboard-admin-key-0123"
DASHBOARD_ROUTES = [
    "/dashboard",
    "/dashboard/data",
    "/dashboard/static/dashboard.js",
    "/dashboard/static/dashboard.css",
]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One seeded app for the read-only tests of this module (seeding takes a second)."""
    db = tmp_path_factory.mktemp("dashboard") / "d.db"
    app = create_app(Settings(store=f"sqlite:///{db}", admin_key=ADMIN_KEY), rng=np.random.default_rng(3))
    with TestClient(app) as client:
        seed_run(client, ADMIN_KEY, clicks=200)
        yield client


def test_the_page_loads_only_its_own_files(client: TestClient) -> None:
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert set(urls) == {"data:,", "dashboard/static/dashboard.css", "dashboard/static/dashboard.js"}
    for url, kind in (
        ("dashboard/static/dashboard.css", "text/css"),
        ("dashboard/static/dashboard.js", "text/javascript"),
    ):
        response = client.get(f"/{url}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
        assert "://" not in response.text  # nothing fetched from elsewhere
    for name in ("index.html", "..%2Fcharts.py", "dashboard.jsx"):
        assert client.get(f"/dashboard/static/{name}").status_code == 404


def test_the_dashboard_is_not_part_of_the_api_schema(client: TestClient) -> None:
    assert not [path for path in client.get("/openapi.json").json()["paths"] if path.startswith("/dashboard")]


def test_a_snapshot_of_a_service_without_traffic(client: TestClient) -> None:
    data = client.get("/dashboard/data").json()
    assert data["offers"] == [] and data["sources"] == [] and data["source"] is None
    assert data["postbacks"] == {"applied": 0, "duplicate": 0, "refused": {}}
    assert data["hours"] == 24 and data["currency"] == "USD"
    for svg in (data["share_svg"], data["revenue_svg"]):
        assert "No clicks in the last 24 hours" in svg
        ET.fromstring(svg)
    uplift = data["uplift"]
    assert uplift["since"] == pytest.approx(data["updated_at"] - 24 * 3600, abs=5)
    assert uplift["bandit"] == uplift["holdout"] == {"clicks": 0, "revenue": 0.0, "rpc": None, "pending": 0}
    assert uplift["difference"] is None and uplift["extra_revenue"] is None and uplift["confidence"] == 0.95


def test_the_pooled_snapshot(seeded: TestClient) -> None:
    data = seeded.get("/dashboard/data", params={"hours": 6}).json()
    assert data["sources"] == sorted(SOURCES) and data["source"] is None and data["hours"] == 6
    rows = {int(row["offer_id"]): row for row in data["offers"]}
    assert set(rows) == set(OFFERS)
    assert {offer_id: row["name"] for offer_id, row in rows.items()} == {i: o[0] for i, o in OFFERS.items()}
    assert sum(row["clicks"] for row in rows.values()) == 200
    assert sum(row["pending_conversions"] for row in rows.values()) == 1
    assert sum(row["pending"] for row in rows.values()) == PENDING_CLICKS
    assert sum(row["p_best"] for row in rows.values()) == pytest.approx(1.0)
    for row in rows.values():
        assert row["rpc_low"] <= row["rpc_mean"] <= row["rpc_high"]
        assert 0 <= row["recent_share"] <= 1
    assert data["postbacks"] == {"applied": 1, "duplicate": 0, "refused": {"unknown_click": 1, "unreplaced_macro": 1}}
    for svg in (data["share_svg"], data["revenue_svg"]):
        root = ET.fromstring(svg)
        assert "No clicks" not in svg
        assert "Dating &lt;b&gt;US&lt;/b&gt; &amp; &quot;friends&quot;" in svg  # the legend, escaped
        assert len(list(root.iter("{http://www.w3.org/2000/svg}title"))) > len(OFFERS)


def test_a_snapshot_per_source(seeded: TestClient) -> None:
    views = [seeded.get("/dashboard/data", params={"source": source}).json() for source in SOURCES]
    assert [view["source"] for view in views] == list(SOURCES)
    assert [sum(row["clicks"] for row in view["offers"]) for view in views] == [100, 100]
    unknown = seeded.get("/dashboard/data", params={"source": "nobody"}).json()
    assert [row["clicks"] for row in unknown["offers"]] == [0] * len(OFFERS)


@pytest.mark.parametrize("params", [{"hours": 0}, {"hours": 169}, {"hours": "x"}, {"source": "a b"}])
def test_invalid_parameters_are_422(client: TestClient, params: dict) -> None:
    response = client.get("/dashboard/data", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


def test_the_dashboard_needs_the_read_role(tmp_path: Path) -> None:
    keys = {role: f"{role.value}-key-0123456789" for role in Role}
    settings = Settings(store=f"sqlite:///{tmp_path}/k.db", keys=",".join(f"{r}={k}" for r, k in keys.items()))
    with TestClient(create_app(settings)) as client:
        for path in DASHBOARD_ROUTES:
            assert client.get(path).status_code == 401
            assert client.get(path, headers={"X-API-Key": "not-a-key-at-all-000"}).status_code == 401
            for role in (Role.traffic, Role.postback):
                assert client.get(path, headers={"X-API-Key": keys[role]}).status_code == 403
            for role in (Role.read, Role.admin):
                assert client.get(path, headers={"Authorization": f"Bearer {keys[role]}"}).status_code == 200


def test_without_a_read_key_the_dashboard_serves_loopback_only(app: FastAPI) -> None:
    remote, local = (TestClient(app, client=(host, 40000)) for host in ("203.0.113.9", "127.0.0.1"))
    for path in DASHBOARD_ROUTES:
        assert remote.get(path).status_code == 403
        assert local.get(path).status_code == 200


# --- the uplift section: /uplift over the charts' window ----------------------------------

T0 = 1_796_000_000.0
BANDIT_REWARDS = [10.0, 10.0, 0.0, 0.0]
HOLDOUT_REWARDS = [4.0, 0.0, 0.0, 0.0]
"""The resolved clicks of the last hour. By hand: bandit 20.0 over 4 (RPC 5.0, sample variance
100/3, of the mean 25/3), holdout 4.0 over 4 (RPC 1.0, variance 4, of the mean 1): difference
4.0 ± 1.959964 × sqrt(25/3 + 1) = 4.0 ± 5.98779; extra revenue 4 clicks × that = 16.0 ± 23.95115."""


def click_ids(holdout: bool, n: int, prefix: str) -> list[str]:
    """The first ``n`` click ids of the form prefix-i that fall in (or out of) a 0.5 holdout."""
    ids = (f"{prefix}-{i}" for i in range(10_000))
    return [click for click in ids if (holdout_point(click) < 0.5) == holdout][:n]


@pytest.fixture
def holdout_run(tmp_path: Path) -> Iterator[tuple[TestClient, SimClock]]:
    """Half the clicks in the holdout (by their ids): 25 hours ago one resolved click of each
    group at 100.0; an hour ago the rewards above, and one pending click in each group."""
    clock = SimClock()
    settings = Settings(store=f"sqlite:///{tmp_path}/u.db", admin_key=ADMIN_KEY, holdout_share=0.5)
    with TestClient(create_app(settings, rng=np.random.default_rng(5), clock=clock)) as client:

        def click(click_id: str, reward: float | None) -> None:
            response = client.get("/sample/", params={"click_id": click_id, "offer_ids": "1,2"})
            assert response.status_code == 200, response.text
            if reward is not None:
                assert client.put("/feedback/", params={"click_id": click_id, "reward": reward}).status_code == 200

        clock.now = T0 - 25 * 3600
        for holdout in (False, True):
            click(click_ids(holdout, 1, "old")[0], 100.0)
        clock.now = T0 - 3600
        for holdout, rewards in ((False, BANDIT_REWARDS), (True, HOLDOUT_REWARDS)):
            for click_id, reward in zip(click_ids(holdout, 5, "new"), [*rewards, None], strict=True):
                click(click_id, reward)
        clock.now = T0
        yield client, clock


def test_the_uplift_over_the_charts_window(holdout_run: tuple[TestClient, SimClock]) -> None:
    client, _ = holdout_run
    data = client.get("/dashboard/data", params={"hours": 24}).json()
    uplift = data["uplift"]
    assert uplift["since"] == T0 - 24 * 3600 and uplift["computed_at"] == T0 and uplift["confidence"] == 0.95
    assert uplift["bandit"] == {"clicks": 4, "revenue": 20.0, "rpc": 5.0, "pending": 1}  # the pending click left out
    assert uplift["holdout"] == {"clicks": 4, "revenue": 4.0, "rpc": 1.0, "pending": 1}
    assert uplift["difference"] == pytest.approx({"estimate": 4.0, "low": -1.98779, "high": 9.98779}, abs=1e-4)
    assert uplift["extra_revenue"] == pytest.approx({"estimate": 16.0, "low": -7.95115, "high": 39.95115}, abs=1e-4)
    # the same figures as /uplift over the same range
    api = client.get("/uplift", params={"since": T0 - 24 * 3600}).json()
    assert {k: api[k] for k in ("bandit", "holdout", "difference", "extra_revenue")} == {
        k: uplift[k] for k in ("bandit", "holdout", "difference", "extra_revenue")
    }
    # two days hold the clicks of 25 hours ago too
    wider = client.get("/dashboard/data", params={"hours": 48}).json()["uplift"]
    assert wider["bandit"] == {"clicks": 5, "revenue": 120.0, "rpc": 24.0, "pending": 1}
    assert wider["holdout"] == {"clicks": 5, "revenue": 104.0, "rpc": 20.8, "pending": 1}


def test_the_uplift_is_read_from_the_log_at_most_once_a_minute(
    holdout_run: tuple[TestClient, SimClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = holdout_run
    first = client.get("/dashboard/data").json()["uplift"]
    pending = click_ids(True, 5, "new")[-1]
    assert client.put("/feedback/", params={"click_id": pending, "reward": 6.0}).status_code == 200
    assert client.get("/dashboard/data").json()["uplift"] == first  # reused: the log is not read again
    monkeypatch.setattr(dashboard_routes, "UPLIFT_REFRESH_S", 0.0)
    again = client.get("/dashboard/data").json()["uplift"]
    assert again["holdout"] == {"clicks": 5, "revenue": 10.0, "rpc": 2.0, "pending": 0} and again["computed_at"] == T0
    # every source, whichever the page shows
    assert client.get("/dashboard/data", params={"source": "fb-12"}).json()["uplift"] == again
