"""API keys with roles: each role reaches exactly its routes, keys rotate live, and an
unkeyed service serves loopback clients only."""

from __future__ import annotations

import base64

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cpa_bandit import keys as keys_module
from cpa_bandit.api import create_app
from cpa_bandit.cli import app as cli
from cpa_bandit.config import Settings
from cpa_bandit.keys import Role, parse_keys

KEYS = {role: f"{role.value}-key-0123456789" for role in Role}

# (method, path, params, role that the route needs)
ROUTES = [
    ("GET", "/sample/", {"click_id": "c1", "offer_ids": "1,2"}, Role.traffic),
    ("PUT", "/feedback/", {"click_id": "c1", "reward": 0}, Role.postback),
    ("GET", "/postback", {"subid": "c1", "payout": 1}, Role.postback),
    ("POST", "/click.php", {"cnv_id": "c1", "payout": 1}, Role.postback),
    ("GET", "/offer_ids/1/stats/", {}, Role.read),
    ("GET", "/stats/", {}, Role.read),
    ("GET", "/offers", {}, Role.read),
    ("GET", "/offers/1", {}, Role.read),
    ("GET", "/clicks/c1", {}, Role.read),
    ("GET", "/postbacks/stats", {}, Role.read),
    ("PUT", "/offers/1", {}, Role.admin),
    ("POST", "/admin/reset", {}, Role.admin),
]
OPEN = [("GET", "/healthz"), ("GET", "/openapi.json"), ("GET", "/docs")]


def request(client: TestClient, method: str, path: str, params: dict, headers: dict):
    body = {"json": {"name": "x"}} if path.startswith("/offers/") and method == "PUT" else {}
    return client.request(method, path, params=params, headers=headers, **body)


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[TestClient]:
    text = ",".join(f"{role}={key}" for role, key in KEYS.items())
    settings = Settings(store=f"sqlite:///{tmp_path}/k.db", keys=text)
    with TestClient(create_app(settings, rng=np.random.default_rng(0))) as client:
        yield client


@pytest.mark.parametrize("role", list(Role))
def test_each_role_reaches_exactly_its_routes(keyed: TestClient, role: Role) -> None:
    key = KEYS[role]
    basic = base64.b64encode(f"any-user:{key}".encode()).decode()
    for header in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}, {"Authorization": f"Basic {basic}"}):
        for method, path, params, needs in ROUTES:
            response = request(keyed, method, path, params, header)
            allowed = role in (needs, Role.admin)
            assert (response.status_code not in (401, 403)) == allowed, (role, method, path, response.text)
            if not allowed:
                assert response.status_code == 403, (role, path)
        for method, path in OPEN:
            assert keyed.request(method, path, headers=header).status_code == 200


def test_missing_and_unknown_keys_are_401_and_open_routes_stay_open(keyed: TestClient) -> None:
    for method, path, params, _ in ROUTES:
        wrong = base64.b64encode(f"user:{KEYS[Role.read]}x".encode()).decode()
        for headers in ({}, {"X-API-Key": "not-a-key-at-all-000"}, {"Authorization": f"Basic {wrong}"},
                        {"Authorization": "Basic not base64!"}):  # fmt: skip
            response = request(keyed, method, path, params, headers)
            assert response.status_code == 401, (method, path, headers, response.text)
    missing = keyed.get("/sample/", params={"click_id": "c9", "offer_ids": "1"})
    # a browser asks for the key (Basic comes first); API clients see Bearer offered too
    assert missing.headers.get_list("www-authenticate") == ['Basic realm="cpa-bandit"', "Bearer"]
    for method, path in OPEN:
        assert keyed.request(method, path).status_code == 200
    assert keyed.get("/stats/", headers={"X-API-Key": KEYS[Role.read]}).json()["offers"] == []


def test_a_postback_token_in_the_url_stands_for_a_postback_key(tmp_path: Path) -> None:
    settings = Settings(
        store=f"sqlite:///{tmp_path}/t.db", keys=f"traffic={KEYS[Role.traffic]}", postback_token="url-token-123"
    )
    with TestClient(create_app(settings, rng=np.random.default_rng(0))) as client:
        client.get("/sample/", params={"click_id": "c1", "offer_ids": "1"}, headers={"X-API-Key": KEYS[Role.traffic]})
        assert client.get("/postback", params={"subid": "c1", "token": "url-token-123"}).status_code == 200
        refused = client.get("/postback", params={"subid": "c1", "token": "wrong"})
        assert (refused.status_code, refused.json()["reason"]) == (403, "bad_token")
        wrong_role = client.get("/postback", params={"subid": "c1"}, headers={"X-API-Key": KEYS[Role.traffic]})
        assert (wrong_role.status_code, wrong_role.json()["reason"]) == (403, "unauthorized")
        assert client.get("/postbacks/stats", headers={"X-API-Key": KEYS[Role.traffic]}).status_code == 403


def test_keys_rotate_live_from_the_keys_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys_module, "FILE_CHECK_S", 0.0)
    path = tmp_path / "keys"
    old, new = "traffic-old-0123456789", "traffic-new-0123456789"
    path.write_text(f"# rotated by ops\ntraffic={old}\nread=read-key-0123456789\n")
    settings = Settings(store=f"sqlite:///{tmp_path}/r.db", keys_file=path)
    with TestClient(create_app(settings, rng=np.random.default_rng(0))) as client:
        def sample(key: str) -> int:
            return client.get("/sample/", params={"click_id": "r1", "offer_ids": "1"}, headers={"X-API-Key": key}).status_code

        assert (sample(old), sample(new)) == (200, 401)
        path.write_text(f"traffic={old}\ntraffic={new}\n")  # both during the switch
        assert (sample(old), sample(new)) == (200, 200)
        path.write_text(f"traffic={new}\n")
        assert (sample(old), sample(new)) == (401, 200)
        path.write_text("traffic=short\n")  # a broken file keeps the last good keys
        assert sample(new) == 200
        path.unlink()  # and so does a file being replaced
        assert sample(new) == 200


def test_an_unkeyed_service_serves_loopback_clients_only(tmp_path: Path) -> None:
    app = create_app(Settings(store=f"sqlite:///{tmp_path}/u.db"), rng=np.random.default_rng(0))
    with TestClient(app, client=("127.0.0.1", 5000)) as local:
        assert local.get("/sample/", params={"click_id": "1", "offer_ids": "1"}).json() == {"click_id": 1, "offer_id": 1}
        assert local.post("/admin/reset").status_code == 403, "admin routes need an admin key, even locally"
    with TestClient(app, client=("203.0.113.9", 5000)) as remote:
        response = remote.get("/sample/", params={"click_id": "2", "offer_ids": "1"})
        assert response.status_code == 403 and "loopback" in response.json()["detail"]
        assert remote.get("/healthz").status_code == 200


def test_serve_refuses_a_public_interface_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CPA_BANDIT_KEYS", "CPA_BANDIT_KEYS_FILE", "CPA_BANDIT_ADMIN_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CPA_BANDIT_STORE", "memory://")  # serve sets it for its workers; restored after
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "refusing to serve" in result.output


def test_key_lists_are_checked() -> None:
    assert parse_keys("traffic=aaaaaaaaaaaaaaaa, read = bbbbbbbbbbbbbbbb # ops\n\nadmin=cccccccccccccccc") == [
        (Role.traffic, "a" * 16), (Role.read, "b" * 16), (Role.admin, "c" * 16),
    ]  # fmt: skip
    for bad in ("traffic", "root=aaaaaaaaaaaaaaaa", "read=short", "=aaaaaaaaaaaaaaaa"):
        with pytest.raises(ValueError, match="CPA_BANDIT_KEYS line 1"):
            parse_keys(bad)
