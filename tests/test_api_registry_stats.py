"""The offer registry, the per-source and operator statistics, and the attribution window,
through HTTP."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cpa_bandit.api import create_app
from cpa_bandit.config import Settings
from cpa_bandit.sim.runner import SimClock

ADMIN = {"X-Admin-Key": "test-admin-key-0123456"}


def sample(client: TestClient, click_id, offer_ids="1,2,3", **params):
    return client.get("/sample/", params={"click_id": click_id, "offer_ids": offer_ids, **params})


def put_offer(client: TestClient, offer_id, headers=ADMIN, **body):
    return client.put(f"/offers/{offer_id}", json=body, headers=headers)


def test_registry_round_trip(client: TestClient) -> None:
    response = put_offer(client, 7, name="Casino DE", payout=25.5, status="paused")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("offer_id", "name", "payout", "status")} == {
        "offer_id": 7, "name": "Casino DE", "payout": 25.5, "status": "paused",
    }
    assert client.get("/offers/7").json() == body
    put_offer(client, 3)
    assert [o["offer_id"] for o in client.get("/offers").json()["offers"]] == [3, 7]
    assert client.get("/offers/3").json()["status"] == "active"
    # a PUT replaces the whole entry
    assert put_offer(client, 7, name="Casino DE").json()["payout"] is None
    missing = client.get("/offers/8")
    assert missing.status_code == 404 and "registry" in missing.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [{"payout": -1}, {"payout": "abc"}, {"status": "deleted"}, {"name": "x" * 201}, {"colour": "red"}, {"payout": 2e9}],
)
def test_bad_registry_entries_are_422_and_change_nothing(client: TestClient, body: dict) -> None:
    response = client.put("/offers/5", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert client.get("/offers/5").status_code == 404


def test_registry_writes_need_the_admin_key(client: TestClient) -> None:
    assert put_offer(client, 5, headers={}).status_code == 401
    assert put_offer(client, 5, headers={"X-Admin-Key": "nope"}).status_code == 401
    assert client.get("/offers/5").status_code == 404
    assert client.put("/offers/abc", json={}, headers=ADMIN).status_code == 422


def test_a_paused_offer_is_never_chosen(client: TestClient) -> None:
    put_offer(client, 2, status="paused")
    picks = {sample(client, f"p{i}").json()["offer_id"] for i in range(30)}
    assert picks == {1, 3}
    refused = sample(client, "p-all", offer_ids="2")
    assert refused.status_code == 409 and "paused" in refused.json()["detail"]
    assert client.get("/offer_ids/2/stats/").json()["clicks"] == 0
    put_offer(client, 2, status="active")
    assert sample(client, "p-back", offer_ids="2").json()["offer_id"] == 2


def patch_offer(client: TestClient, offer_id, headers=ADMIN, **body):
    return client.patch(f"/offers/{offer_id}", json=body, headers=headers)


FULL_ENTRY = {
    "name": "Casino DE",
    "payout": 25.0,
    "status": "paused",
    "cap_daily": 50,
    "cap_monthly": 900,
    "timezone": "Europe/Berlin",
    "multiple_conversions": True,
}
ENTRY_FIELDS = [*FULL_ENTRY, "offer_id", "capped_until"]


def test_a_patch_changes_only_the_fields_sent(client: TestClient) -> None:
    declared = put_offer(client, 7, **FULL_ENTRY).json()
    patched = patch_offer(client, 7, payout=30)
    assert patched.status_code == 200, patched.text
    assert patched.json() == {**declared, "payout": 30.0, "updated_at": patched.json()["updated_at"]}
    assert patched.json()["timezone"] == "Europe/Berlin", "a patch without timezone keeps it (a PUT resets it)"
    assert client.get("/offers/7").json() == patched.json()
    # RFC 7396's media type, and null clearing a nullable field: the other cap stays
    cleared = client.patch(
        "/offers/7", content=b'{"cap_daily": null, "name": null}',
        headers={**ADMIN, "Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert cleared.status_code == 200, cleared.text
    assert {k: cleared.json()[k] for k in ("cap_daily", "cap_monthly", "name", "payout", "timezone", "status")} == {
        "cap_daily": None, "cap_monthly": 900, "name": None, "payout": 30.0, "timezone": "Europe/Berlin",
        "status": "paused",
    }  # fmt: skip
    assert patch_offer(client, 7, payout=None).json()["payout"] is None
    # nothing to change: answered alike, updated_at kept
    settled = client.get("/offers/7").json()
    assert patch_offer(client, 7).json() == patch_offer(client, 7, status="paused", cap_monthly=900).json() == settled


@pytest.mark.parametrize(
    "body",
    [
        {"colour": "red"},
        {"offer_id": 8},
        {"capped_until": None},
        {"status": None},
        {"status": "capped"},
        {"timezone": None},
        {"timezone": "Mars/Olympus"},
        {"multiple_conversions": None},
        {"cap_daily": 0},
        {"payout": -1},
        {"payout": 1e-9},
        {"name": "x" * 201},
        {"payout": 3, "colour": "red"},
    ],
)
def test_a_bad_patch_is_422_and_changes_nothing(client: TestClient, body: dict) -> None:
    declared = put_offer(client, 7, **FULL_ENTRY).json()
    response = client.patch("/offers/7", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert client.get("/offers/7").json() == declared


def test_a_patch_of_an_unregistered_offer_is_404_and_creates_nothing(client: TestClient) -> None:
    assert sample(client, "u1", offer_ids="8").status_code == 200  # served, counted, not registered
    response = patch_offer(client, 8, name="x")
    assert response.status_code == 404 and "not in the registry" in response.json()["detail"]
    assert client.get("/offers/8").status_code == 404
    assert client.get("/offers").json() == {"offers": []}


def test_patch_and_delete_need_the_admin_key(client: TestClient) -> None:
    declared = put_offer(client, 5, name="x").json()
    for headers in ({}, {"X-Admin-Key": "nope"}):
        assert patch_offer(client, 5, headers=headers, name="y").status_code == 401
        assert client.delete("/offers/5", headers=headers).status_code == 401
    assert client.get("/offers/5").json() == declared


def test_delete_archives_an_offer_it_is_never_chosen_and_keeps_its_counters(client: TestClient) -> None:
    put_offer(client, 1, name="one")
    put_offer(client, 2, name="two", payout=12.0, cap_daily=40)
    first = sample(client, "k-before", offer_ids="2").json()
    client.put("/feedback/", params={"click_id": "k-before", "reward": 12})
    counters = client.get("/offer_ids/2/stats/").json()
    assert counters["clicks"] == 1 and counters["reward"] == 12.0

    archived = client.delete("/offers/2", headers=ADMIN)
    assert archived.status_code == 200, archived.text
    entry = archived.json()
    assert entry["status"] == "archived"
    assert {k: entry[k] for k in ("name", "payout", "cap_daily")} == {"name": "two", "payout": 12.0, "cap_daily": 40}
    again = client.delete("/offers/2", headers=ADMIN)  # idempotent: 200, the entry unchanged
    assert again.status_code == 200 and again.json() == entry

    assert {sample(client, f"a{i}", offer_ids="1,2").json()["offer_id"] for i in range(30)} == {1}
    refused = sample(client, "a-only", offer_ids="2")
    assert refused.status_code == 409, refused.text
    assert refused.json() == {
        "detail": "every listed offer is archived; nothing can be chosen",
        "offer_ids": [2], "paused": [], "capped": [], "archived": [2],
    }  # fmt: skip
    put_offer(client, 3, status="paused")
    both = sample(client, "a-both", offer_ids="2,3").json()
    assert (both["archived"], both["paused"]) == ([2], [3]) and "paused and archived" in both["detail"]
    assert sample(client, "k-before", offer_ids="2").json() == first, "a retried click keeps its first answer"

    assert client.get("/offer_ids/2/stats/").json() == counters, "counters are kept"
    row = next(r for r in client.get("/stats/").json()["offers"] if r["offer_id"] == 2)
    assert (row["status"], row["clicks"], row["reward"]) == ("archived", 1, 12.0)
    assert client.get("/offers/2").json() == entry
    listed = client.get("/offers").json()["offers"]
    assert [(o["offer_id"], o["status"]) for o in listed] == [(1, "active"), (2, "archived"), (3, "paused")]
    hidden = client.get("/offers", params={"include_archived": "false"}).json()["offers"]
    assert [o["offer_id"] for o in hidden] == [1, 3]

    back = patch_offer(client, 2, status="active")
    assert back.status_code == 200 and back.json()["status"] == "active"
    assert back.json()["cap_daily"] == 40, "reactivation keeps the entry"
    assert sample(client, "a-back", offer_ids="2").json()["offer_id"] == 2
    # a PUT may archive and reactivate too
    assert put_offer(client, 2, status="archived").json()["status"] == "archived"
    assert sample(client, "a-put", offer_ids="2").status_code == 409
    assert put_offer(client, 2).json()["status"] == "active"
    assert sample(client, "a-put", offer_ids="2").json()["offer_id"] == 2


def test_delete_of_an_unregistered_offer_is_404(client: TestClient) -> None:
    sample(client, "d1", offer_ids="6")
    response = client.delete("/offers/6", headers=ADMIN)
    assert response.status_code == 404 and "not in the registry" in response.json()["detail"]
    assert client.get("/offers/6").status_code == 404
    assert sample(client, "d2", offer_ids="6").json()["offer_id"] == 6


def test_a_declared_payout_is_the_prior_until_conversions_speak(tmp_path: Path) -> None:
    """Two offers with the same evidence and no conversion yet: the one declared 10x more
    valuable gets the traffic; once both converted alike, their own payouts decide."""
    settings = Settings(store=f"sqlite:///{tmp_path}/p.db", admin_key="k" * 16)
    with TestClient(create_app(settings, rng=np.random.default_rng(1))) as client:
        headers = {"X-Admin-Key": "k" * 16}
        client.put("/offers/1", json={"payout": 5}, headers=headers)
        client.put("/offers/2", json={"payout": 50}, headers=headers)

        def resolve(offer: int, prefix: str, rewards: list[float]) -> None:
            for i, reward in enumerate(rewards):
                sample(client, f"{prefix}{offer}-{i}", offer_ids=str(offer))
                client.put("/feedback/", params={"click_id": f"{prefix}{offer}-{i}", "reward": reward})

        resolve(1, "w", [0] * 10)
        resolve(2, "w", [0] * 10)
        picks = [sample(client, f"g{i}", offer_ids="1,2").json()["offer_id"] for i in range(10)]
        assert picks.count(2) == 10
        resolve(1, "c", [5] * 20)  # offer 1 pays what it declared
        resolve(2, "c", [0.5] * 20)  # offer 2 pays a tenth of it
        picks = [sample(client, f"h{i}", offer_ids="1,2", ucb_c=0).json()["offer_id"] for i in range(10)]
        assert picks.count(1) == 10


def test_stats_are_kept_per_source(client: TestClient) -> None:
    sample(client, "s1", offer_ids="4", source="fb")
    sample(client, "s2", offer_ids="4", source="fb")
    sample(client, "s3", offer_ids="4", source="tt")
    client.put("/feedback/", params={"click_id": "s1", "reward": 8})
    assert client.get("/offer_ids/4/stats/").json() == {
        "offer_id": 4, "clicks": 3, "conversions": 1, "reward": 8.0, "cr": 1 / 3, "rpc": 8 / 3,
    }
    assert client.get("/offer_ids/4/stats/", params={"source": "fb"}).json() == {
        "offer_id": 4, "clicks": 2, "conversions": 1, "reward": 8.0, "cr": 0.5, "rpc": 4.0,
    }
    assert client.get("/offer_ids/4/stats/", params={"source": "tt"}).json()["clicks"] == 1
    assert client.get("/offer_ids/4/stats/", params={"source": "other"}).json()["clicks"] == 0
    assert client.get("/offer_ids/4/stats/", params={"source": "bad source"}).status_code == 422


def test_stats_page_reports_every_offer_with_the_models_view(client: TestClient) -> None:
    put_offer(client, 9, name="Registered, never shown", payout=3.0)
    for i in range(40):
        offer = sample(client, f"q{i}", offer_ids="1,2").json()["offer_id"]
        if i < 30:
            client.put("/feedback/", params={"click_id": f"q{i}", "reward": 10 if (offer == 1 and i % 3 == 0) else 0})
    page = client.get("/stats/").json()
    assert page["source"] is None
    rows = {row["offer_id"]: row for row in page["offers"]}
    assert set(rows) == {1, 2, 9}
    assert rows[9]["name"] == "Registered, never shown" and rows[9]["declared_payout"] == 3.0 and rows[9]["clicks"] == 0
    assert rows[1]["clicks"] + rows[2]["clicks"] == 40
    assert rows[1]["pending"] + rows[2]["pending"] == 10
    assert rows[1]["resolved"] + rows[2]["resolved"] == 30
    assert sum(row["recent_share"] for row in rows.values()) == pytest.approx(1.0)
    for row in rows.values():
        assert row["rpc_low"] <= row["rpc_mean"] <= row["rpc_high"]
    assert rows[1]["rpc_mean"] > rows[2]["rpc_mean"]
    subset = client.get("/stats/", params={"offer_ids": "2,1", "source": "none-such"}).json()
    assert [row["offer_id"] for row in subset["offers"]] == [2, 1]
    assert subset["source"] == "none-such" and subset["offers"][0]["clicks"] == 0
    bad = client.get("/stats/", params={"offer_ids": "1,x"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "offer_ids"]


def test_attribution_window_turns_silent_clicks_into_non_conversions(tmp_path: Path) -> None:
    clock = SimClock()
    clock.now = 1_700_000_000.0
    settings = Settings(store=f"sqlite:///{tmp_path}/w.db", attribution_window_days=30)
    app = create_app(settings, rng=np.random.default_rng(0), clock=clock)
    with TestClient(app) as client:
        for i in range(3):
            sample(client, f"w{i}", offer_ids="1")
        clock.now += 29 * 86_400
        sample(client, "w-late", offer_ids="1")
        service = app.state.service
        assert service.maintain().expired == 0
        clock.now += 2 * 86_400  # the first three are now past their 30 days
        assert service.maintain().expired == 3
        row = client.get("/stats/").json()["offers"][0]
        assert (row["pending"], row["expired"], row["resolved"]) == (1, 3, 0)
        late = client.put("/feedback/", params={"click_id": "w0", "reward": 12})
        assert late.status_code == 200 and late.json()["is_conversion"] is True
        row = client.get("/stats/").json()["offers"][0]
        assert (row["pending"], row["expired"], row["resolved"], row["conversions"]) == (1, 2, 1, 1)


def test_the_server_sweeps_expired_clicks_by_itself(tmp_path: Path) -> None:
    """The background maintenance task of a running app expires clicks past the window
    (here a window of ~0.1 s, swept every 0.05 s), without anyone calling maintain()."""
    settings = Settings(
        store=f"sqlite:///{tmp_path}/m.db", attribution_window_days=1e-6, maintenance_interval_s=0.05
    )
    with TestClient(create_app(settings, rng=np.random.default_rng(0))) as client:
        sample(client, "m1", offer_ids="1")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            row = client.get("/stats/").json()["offers"][0]
            if row["expired"] == 1:
                break
            time.sleep(0.05)
        assert (row["pending"], row["expired"]) == (0, 1)
        assert client.put("/feedback/", params={"click_id": "m1", "reward": 3}).json()["is_conversion"]
        assert client.get("/stats/").json()["offers"][0]["expired"] == 0
