"""A smartlink against the real server, keys configured: a browser opens `/go/` without any
key and is redirected to the landing page; a retry goes to the same place; the tracker's
postback for that click id closes the loop and the offer's statistics show the conversion."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from e2e_harness import BanditServer

pytestmark = pytest.mark.e2e

TRAFFIC_KEY = "smartlink-e2e-traffic-key-01"
POSTBACK_KEY = "smartlink-e2e-postback-key-1"
READ_KEY = "smartlink-e2e-read-key-00001"
ADMIN_KEY = "smartlink-e2e-admin-key-0001"
TOKEN = "smartlink-e2e-postback-token-01"
KEYS = f"traffic={TRAFFIC_KEY},postback={POSTBACK_KEY},read={READ_KEY},admin={ADMIN_KEY}"
"""Every role keyed: nothing is open to a loopback client without a key, so the browser's
redirect owes nothing to coming from 127.0.0.1."""
PAYOUT = 21.0
BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "de-DE,de;q=0.9",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
}


def test_a_browser_follows_a_smartlink_and_a_postback_closes_the_loop(serve_bandit, tmp_path) -> None:
    server: BanditServer = serve_bandit(
        tmp_path / "smartlinks.db", env={"CPA_BANDIT_KEYS": KEYS, "CPA_BANDIT_POSTBACK_TOKEN": TOKEN}
    )
    with server.client(headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        for offer_id in (7, 8):
            url = f"https://lp{offer_id}.example.com/de?click={{click_id}}&pub={{source}}&s1={{sub1}}"
            response = admin.put(f"/offers/{offer_id}", json={"payout": PAYOUT, "url": url})
            assert response.status_code == 200, response.text
        link = {"offers": [7, 8], "click_id_param": "subid", "source_param": "pub"}
        response = admin.put("/smartlinks/eu-dating", json=link)
        assert response.status_code == 200, response.text

    visit = "/go/eu-dating?subid=k3j4h5g6f7&pub=site-1&sub1=summer%20sale%20%26%20more"
    with httpx2.Client(base_url=server.base_url, follow_redirects=False, headers=BROWSER, timeout=15.0) as browser:
        first = browser.get(visit)
        assert first.status_code == 302, first.text
        location = first.headers["location"]
        parts = urlsplit(location)
        offer_id = int(parts.hostname.removeprefix("lp").removesuffix(".example.com"))
        assert offer_id in (7, 8), location
        assert location == f"https://lp{offer_id}.example.com/de?click=k3j4h5g6f7&pub=site-1&s1=summer%20sale%20%26%20more"
        assert parse_qs(parts.query) == {"click": ["k3j4h5g6f7"], "pub": ["site-1"], "s1": ["summer sale & more"]}
        assert first.headers["cache-control"] == "no-store" and first.content == b""
        # the visitor reloads, or the partner retries: the same landing page
        again = browser.get(visit)
        assert (again.status_code, again.headers["location"]) == (302, location)
        # nothing else is open to an unkeyed browser
        assert browser.get("/smartlinks").status_code == 401
        assert browser.get("/clicks/k3j4h5g6f7").status_code == 401
        assert browser.get("/sample/", params={"click_id": "b1", "offer_ids": "7,8"}).status_code == 401

    # the tracker's postback (Keitaro's template, docs/postbacks.md) for that click id
    with server.client() as tracker:
        postback = tracker.get(
            "/postback", params={"subid": "k3j4h5g6f7", "payout": PAYOUT, "status": "sale", "tid": "t-1", "token": TOKEN}
        )
        assert postback.status_code == 200, postback.text
        assert postback.json()["offer_id"] == offer_id and postback.json()["conversion_status"] == "approved"

    with server.client(headers={"X-API-Key": READ_KEY}) as reader:
        stats = server.stats(reader, offer_id)
        assert (stats["clicks"], stats["conversions"], stats["reward"]) == (1, 1, pytest.approx(PAYOUT))
        other = server.stats(reader, 15 - offer_id)
        assert (other["clicks"], other["conversions"]) == (0, 0)
        recorded = reader.get("/clicks/k3j4h5g6f7").json()
        assert (recorded["offer_id"], recorded["source"], recorded["state"]) == (offer_id, "site-1", "resolved")
        assert recorded["params"]["smartlink"] == "eu-dating"
