"""A small run of traffic for the dashboard's tests, sent through the public API.

The same run seeds an in-process app (``TestClient``) and a real server (``httpx2.Client``):
both clients take the same ``get``/``put`` calls.
"""

from __future__ import annotations

import random
from typing import Any, Protocol

OFFERS = {
    11: ("Casino DE", 25.0, 0.10),
    12: ('Dating <b>US</b> & "friends"', 40.0, 0.04),
    13: ("Crypto's best", 8.5, 0.20),
    14: (None, 12.0, 0.06),
}
"""offer id: (registry name, payout, conversion rate); offer 14 is not registered, offer 12's
name is markup that must show as text."""
SOURCES = ("fb-12", "gg.search")
PENDING_CLICKS = 5
"""The last clicks get no feedback: one of them a pending postback conversion instead."""


class Client(Protocol):
    def get(self, url: str, **kwargs: Any) -> Any: ...
    def put(self, url: str, **kwargs: Any) -> Any: ...


def seed_run(client: Client, admin_key: str, clicks: int = 300) -> None:
    """Registry entries, ``clicks`` decisions over both sources with feedback (conversions at
    each offer's rate), a pending postback conversion, and two refused postbacks."""
    for offer_id, (name, payout, _) in OFFERS.items():
        if name is not None:
            response = client.put(
                f"/offers/{offer_id}", json={"name": name, "payout": payout}, headers={"X-Admin-Key": admin_key}
            )
            assert response.status_code == 200, response.text
    rng = random.Random(7)
    offer_ids = ",".join(map(str, OFFERS))
    for i in range(clicks):
        params = {"click_id": f"d{i}", "offer_ids": offer_ids, "source": SOURCES[i % 2], "sampler": "thompson"}
        response = client.get("/sample/", params=params)
        assert response.status_code == 200, response.text
        if i >= clicks - PENDING_CLICKS:
            continue
        _, payout, rate = OFFERS[response.json()["offer_id"]]
        reward = payout if rng.random() < rate else 0
        assert client.put("/feedback/", params={"click_id": f"d{i}", "reward": reward}).status_code == 200
    pending = client.get("/postback", params={"subid": f"d{clicks - 1}", "payout": "30", "status": "lead", "tid": "t1"})
    assert pending.status_code == 200, pending.text
    assert client.get("/postback", params={"subid": "no-such-click", "payout": "5"}).status_code == 404
    assert client.get("/postback", params={"subid": "{subid}", "payout": "5"}).status_code == 422
