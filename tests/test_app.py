"""The application around the routes: admin reset, health, start-up, settings, CLI."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cpa_bandit.api import create_app
from cpa_bandit.cli import app as cli_app
from cpa_bandit.config import Settings
from cpa_bandit.domain import StoreUnavailable
from cpa_bandit.store import MemoryStore

ADMIN_KEY = "test-admin-key-0123456"  # as configured by the `app` fixture in conftest.py


def clicks_of(client: TestClient, offer_id: int = 1) -> int:
    return client.get(f"/offer_ids/{offer_id}/stats/").json()["clicks"]


def test_reset_needs_the_admin_key(client: TestClient) -> None:
    client.get("/sample/", params={"click_id": 1, "offer_ids": "1"})
    missing = client.post("/admin/reset")
    assert missing.status_code == 401 and missing.headers.get_list("www-authenticate") == ['Basic realm="cpa-bandit"', "Bearer"]
    assert client.post("/admin/reset", headers={"X-Admin-Key": "wrong"}).status_code == 401
    assert client.post("/admin/reset", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert clicks_of(client) == 1
    assert client.post("/admin/reset", headers={"X-Admin-Key": ADMIN_KEY}).status_code == 200
    assert clicks_of(client) == 0
    client.get("/sample/", params={"click_id": 1, "offer_ids": "1"})
    assert client.post("/admin/reset", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json() == {"status": "reset"}
    assert clicks_of(client) == 0
    assert client.put("/feedback/", params={"click_id": 1, "reward": 0}).status_code == 404


def test_reset_is_refused_when_no_admin_key_is_configured(tmp_path: Path) -> None:
    app = create_app(Settings(store=f"sqlite:///{tmp_path}/x.db", admin_key=None))
    with TestClient(app) as client:
        client.get("/sample/", params={"click_id": 1, "offer_ids": "1"})
        response = client.post("/admin/reset", headers={"X-Admin-Key": ""})
        assert response.status_code == 403 and "CPA_BANDIT_ADMIN_KEY" in response.json()["detail"]
        assert clicks_of(client) == 1


def test_start_up_never_clears_state(tmp_path: Path) -> None:
    settings = Settings(store=f"sqlite:///{tmp_path}/keep.db")
    with TestClient(create_app(settings)) as client:
        client.get("/sample/", params={"click_id": "k1", "offer_ids": "4"})
    with TestClient(create_app(settings)) as client:
        assert clicks_of(client, 4) == 1
        assert client.put("/feedback/", params={"click_id": "k1", "reward": 1}).status_code == 200


def test_seed_entry_point_and_reset_stats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`uvicorn app:app` and the seed's `reset_stats()` keep working, on SQLite by default."""
    monkeypatch.setenv("CPA_BANDIT_STORE", f"sqlite:///{tmp_path}/seed.db")
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1]))
    sys.modules.pop("app", None)
    seed = importlib.import_module("app")
    with TestClient(seed.app) as client:
        client.get("/sample/", params={"click_id": 1, "offer_ids": "1"})
        assert clicks_of(client) == 1
        seed.reset_stats()
        assert clicks_of(client) == 0
    assert (tmp_path / "seed.db").exists()
    sys.modules.pop("app", None)


def test_default_store_is_sqlite_under_data() -> None:
    assert Settings().store == "sqlite:///data/cpa-bandit.db"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CPA_BANDIT_STORE", "memory://")
    monkeypatch.setenv("CPA_BANDIT_MAX_OFFERS", "2")
    monkeypatch.setenv("CPA_BANDIT_ADMIN_KEY", "k" * 16)
    settings = Settings()
    assert (settings.store, settings.max_offers, settings.admin_key.get_secret_value()) == ("memory://", 2, "k" * 16)
    with TestClient(create_app(settings)) as client:
        assert client.get("/sample/", params={"click_id": 1, "offer_ids": "1,2,3"}).status_code == 422
        assert client.get("/sample/", params={"click_id": 1, "offer_ids": "1,2"}).status_code == 200


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "unrecorded_decisions": 0}


class BrokenStore(MemoryStore):
    """A store whose backend is gone: every operation fails as SQLite does when locked."""

    def _fail(self, *args, **kwargs):
        raise StoreUnavailable("store unavailable: database is locked")

    record_decision = resolve_click = read_offers = reset = apply_postback = _fail


def test_store_failures_answer_503_with_retry_after_but_clicks_still_get_an_offer() -> None:
    app = create_app(Settings(store="memory://", admin_key=ADMIN_KEY), store=BrokenStore(), rng=np.random.default_rng(0))
    with TestClient(app, raise_server_exceptions=False) as client:
        sample = client.get("/sample/", params={"click_id": 1, "offer_ids": "4,5"})
        assert sample.status_code == 200
        assert sample.json()["recorded"] is False and sample.json()["offer_id"] in (4, 5)
        for response in (
            client.put("/feedback/", params={"click_id": 1, "reward": 0}),
            client.get("/postback", params={"subid": "1", "payout": 3}),
            client.get("/offer_ids/1/stats/"),
            client.get("/healthz"),
        ):
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
            assert "database is locked" in response.json()["detail"]


@pytest.mark.parametrize("url", ["postgres://x", "nothing", "sqlite://"])
def test_unknown_store_urls_fail_at_start_up(url: str) -> None:
    with pytest.raises(ValueError, match="store"):
        create_app(Settings(store=url))


def test_cli_documents_serve() -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--store", "--workers"):
        assert option in result.output


def test_oversized_requests_are_refused_before_any_route(client: TestClient) -> None:
    many = ",".join(str(10**18 + i) for i in range(50))  # max_offers=50 of the longest ids fits
    assert client.get("/sample/", params={"click_id": "big", "offer_ids": many}).status_code == 200
    huge = client.get("/sample/", params={"click_id": "x", "offer_ids": "1", "pad": "a" * 9_000})
    assert huge.status_code == 414 and "query string" in huge.json()["detail"]
    headers = {f"x-h{i}": "v" for i in range(120)}
    assert client.get("/healthz", headers=headers).status_code == 431
    assert client.get("/healthz", headers={"x-big": "v" * 20_000}).status_code == 431
    body = client.post("/postback", content=b"subid=x&" + b"a" * 70_000,
                       headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert body.status_code == 413

    def chunks():
        for _ in range(100):
            yield b"a" * 1_000

    streamed = client.post("/postback", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"})
    assert streamed.status_code == 413
    assert client.get("/stats/").status_code == 200
