"""The dashboard's routes in process: the page and its files, the snapshot it polls, access."""

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

from cpa_bandit.api import create_app
from cpa_bandit.config import Settings
from cpa_bandit.keys import Role

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
