"""What the dashboard's offers table says, read in a real headless Chromium: offer ids above
2**53 exactly as registered, and each EPC inside its own interval (the same basis: resolved
clicks) while most of the offer's clicks are still pending."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from e2e_harness import BanditServer
from headless import Watched, browser  # noqa: F401  (browser: a fixture)
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.e2e

ADMIN_KEY = "dashboard-figures-admin-key"
BIG = 1_000_000_000_000_000_226
"""Above 2**53: as a JavaScript number it would read 1000000000000000300."""
SMALL = 7


def click_through(server: BanditServer) -> None:
    """Per offer: 50 resolved clicks (5 conversions of 10.0) and 450 still pending."""
    admin = {"X-API-Key": ADMIN_KEY}
    with server.client(headers=admin) as client:
        for offer_id in (BIG, SMALL):
            assert client.put(f"/offers/{offer_id}", json={"name": f"offer {offer_id}"}).status_code == 200
            for i in range(500):
                click = f"{offer_id}-{i}"
                assert client.get("/sample/", params={"click_id": click, "offer_ids": offer_id}).status_code == 200
                if i < 50:
                    reward = 10.0 if i < 5 else 0.0
                    assert client.put("/feedback/", params={"click_id": click, "reward": reward}).status_code == 200


def amount(text: str) -> float:
    return float(text.replace(",", ""))


def test_the_offers_table_reads_exactly(serve_bandit: Callable[..., BanditServer], browser: Browser) -> None:
    server = serve_bandit(env={"CPA_BANDIT_ADMIN_KEY": ADMIN_KEY})
    click_through(server)
    context = browser.new_context(http_credentials={"username": "ops", "password": ADMIN_KEY})
    page = context.new_page()
    watched = Watched(page)
    page.goto(f"{server.base_url}/dashboard")

    big = page.locator(f'#offers tr[data-offer-id="{BIG}"]')
    expect(big).to_have_count(1)
    expect(big.locator("td").first).to_have_text(f"#{BIG} offer {BIG}")
    expect(page.locator("#share-chart")).to_contain_text(f"#{BIG}")

    header = page.locator("#offers thead th").nth(4)
    assert "resolved" in header.inner_text() and "pending clicks left out" in header.get_attribute("title")
    for offer_id in (BIG, SMALL):
        cells = page.locator(f'#offers tr[data-offer-id="{offer_id}"] td')
        epc = amount(cells.nth(4).inner_text())
        low, high = (amount(part) for part in cells.nth(5).inner_text().split("–"))
        assert low <= epc <= high, (offer_id, low, epc, high)
        assert epc > 0.5  # 5 × 10.0 over 50 resolved clicks, not over all 500 (0.1)
        assert cells.nth(4).get_attribute("title").startswith("0.100 approved revenue per click over all 500 clicks")
    assert watched.problems == [] and watched.foreign == []
    context.close()
