"""The dashboard in a real headless Chromium, served by the real server.

The page opens on an empty service (its empty state), a run is seeded through the API, the
page's own refresh brings the offers in (Playwright's clock stands in for the 10 s wait), and
then: the table lists the seeded offers with their names as text, both charts have drawn
shapes, a source can be chosen, nothing was logged to the console, no request left loopback.
Screenshots go to ``test-artifacts/`` at the repository root. The browser and what a page
must not do are in ``headless.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from dashboard_run import OFFERS, SOURCES, seed_run
from e2e_harness import BanditServer
from headless import ARTEFACTS, Watched, browser  # noqa: F401  (browser: a fixture)
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.e2e

ADMIN_KEY = "dashboard-e2e-admin-key-0123"
REFRESH_MS = 10_000

DRAWN_SHAPES = """svg => [...svg.querySelectorAll("rect, circle, path")]
    .filter(shape => shape.querySelector("title") || shape.tagName === "path")
    .map(shape => shape.getBBox())
    .filter(box => box.width > 0 && box.height > 0).length"""
"""Data marks of a chart (shapes with a tooltip, and lines) that the browser laid out with a size."""


def test_the_dashboard_shows_a_seeded_run(serve_bandit: Callable[..., BanditServer], browser: Browser) -> None:
    server = serve_bandit(env={"CPA_BANDIT_ADMIN_KEY": ADMIN_KEY})
    ARTEFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    watched = Watched(page)
    page.clock.install()
    page.goto(f"{server.base_url}/dashboard")

    expect(page.locator("#status")).to_contain_text("Updated")
    expect(page.locator("#offers-empty")).to_be_visible()
    expect(page.locator("#share-chart")).to_contain_text("No clicks in the last 24 hours")
    page.screenshot(path=ARTEFACTS / "dashboard-empty.png", full_page=True)

    with server.client() as client:
        seed_run(client, ADMIN_KEY)
    page.clock.fast_forward(REFRESH_MS)

    rows = page.locator("#offers tbody tr")
    expect(rows).to_have_count(len(OFFERS))
    assert sorted(int(row.get_attribute("data-offer-id")) for row in rows.all()) == sorted(OFFERS)
    for offer_id, (name, _, _) in OFFERS.items():
        cell = page.locator(f'#offers tr[data-offer-id="{offer_id}"] td').first
        expect(cell).to_have_text(f"#{offer_id} {name}" if name else f"#{offer_id}")
    assert page.locator("#offers b").count() == 0, "an offer name's markup must show as text"
    expect(page.locator("#offers-empty")).to_be_hidden()
    expect(page.locator("#total-clicks")).to_have_text("300")
    expect(page.locator("#refused tbody")).to_contain_text("unknown_click")
    expect(page.locator("#refused tbody")).to_contain_text("unreplaced_macro")
    for chart in ("#share-chart", "#revenue-chart"):
        assert page.locator(f"{chart} svg").evaluate(DRAWN_SHAPES) > 0, f"{chart} drew nothing"
        expect(page.locator(f"{chart} svg")).to_contain_text("Casino DE")  # the legend
    screenshot = ARTEFACTS / "dashboard.png"
    page.screenshot(path=screenshot, full_page=True)
    print(f"dashboard screenshot: {screenshot}")

    page.select_option("#source", SOURCES[0])
    expect(page.locator("#offers-title")).to_have_text(f"Offers · source {SOURCES[0]}")
    expect(page.locator("#total-clicks")).to_have_text("150")
    assert f"source={SOURCES[0]}" in page.url  # the view is in the URL, for a bookmark

    assert watched.problems == []
    assert watched.foreign == []


READ_KEY = "dashboard-e2e-read-key-0123"


def test_the_dashboard_opens_with_a_read_key_as_the_basic_password(
    serve_bandit: Callable[..., BanditServer], browser: Browser
) -> None:
    """With a ``read`` key configured, Chromium answers the 401's Basic challenge with the
    credentials it is given (as a person types them into its prompt), and the page and its
    API calls load; without them, the page is refused."""
    server = serve_bandit(env={"CPA_BANDIT_KEYS": f"read={READ_KEY},admin={ADMIN_KEY}"})
    anonymous = browser.new_context()
    refused = anonymous.request.get(f"{server.base_url}/dashboard")
    assert refused.status == 401
    assert [h["value"] for h in refused.headers_array if h["name"].lower() == "www-authenticate"] == [
        'Basic realm="cpa-bandit"', "Bearer"
    ]
    anonymous.close()
    context = browser.new_context(http_credentials={"username": "ops", "password": READ_KEY})
    page = context.new_page()
    watched = Watched(page)
    assert page.goto(f"{server.base_url}/dashboard").status == 200
    expect(page.locator("#status")).to_contain_text("Updated")
    expect(page.locator("#offers-empty")).to_be_visible()
    assert watched.problems == [] and watched.foreign == []
    context.close()


BADGE_TIME = """until => new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" })
    .format(new Date(until * 1000))"""
"""How the page writes a time in a badge's tooltip (the browser's locale and time zone)."""


def test_resting_offers_have_badges_and_archived_ones_hide_until_asked(
    serve_bandit: Callable[..., BanditServer], browser: Browser
) -> None:
    """A capped offer shows a ``capped`` badge whose tooltip says until when, a paused one a
    ``paused`` badge; an archived one leaves the table (its clicks still in the totals) until
    "Show archived" is ticked, a choice kept in the URL; reactivated, it is back."""
    server = serve_bandit(env={"CPA_BANDIT_ADMIN_KEY": ADMIN_KEY})
    offers = {21: ("Capped DE", {"cap_daily": 1}), 22: ("Paused US", {"status": "paused"}), 23: ("Archived FR", {}),
              24: ("Active IT", {})}  # fmt: skip
    with server.client(headers={"X-Admin-Key": ADMIN_KEY}) as client:
        for offer_id, (name, fields) in offers.items():
            assert client.put(f"/offers/{offer_id}", json={"name": name, **fields}).status_code == 200
        for offer_id in (21, 23, 24):
            assert client.get("/sample/", params={"click_id": f"b{offer_id}", "offer_ids": offer_id}).status_code == 200
        assert client.get("/postback", params={"subid": "b21", "payout": "5"}).status_code == 200
        capped_until = client.get("/offers/21").json()["capped_until"]
        assert capped_until is not None
        assert client.delete("/offers/23").json()["status"] == "archived"

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    watched = Watched(page)
    page.goto(f"{server.base_url}/dashboard")
    rows = page.locator("#offers tbody tr")

    def offer_ids() -> list[int]:
        return sorted(int(row.get_attribute("data-offer-id")) for row in rows.all())

    def badge(offer_id: int):
        return page.locator(f'#offers tr[data-offer-id="{offer_id}"] .badge')

    expect(rows).to_have_count(3)
    assert offer_ids() == [21, 22, 24]
    expect(page.locator("#total-clicks")).to_have_text("3")  # the archived offer's click counts
    expect(page.locator("#archived-count")).to_have_text("(1)")
    expect(badge(21)).to_have_text("capped")
    expect(badge(21)).to_have_attribute(
        "title", f"At its conversion cap: back in rotation on {page.evaluate(BADGE_TIME, capped_until)}"
    )
    expect(badge(22)).to_have_text("paused")
    expect(badge(22)).to_have_attribute("title", "Paused in the registry: never chosen")
    expect(badge(24)).to_have_count(0)
    page.screenshot(path=ARTEFACTS / "dashboard-statuses.png", full_page=True)

    page.check("#show-archived")
    expect(rows).to_have_count(4)
    expect(badge(23)).to_have_text("archived")
    assert "archived=1" in page.url
    page.reload()  # the choice is in the URL: a bookmark keeps it
    expect(page.locator("#show-archived")).to_be_checked()
    expect(rows).to_have_count(4)
    page.uncheck("#show-archived")
    expect(rows).to_have_count(3)

    with server.client(headers={"X-Admin-Key": ADMIN_KEY}) as client:
        assert client.patch("/offers/23", json={"status": "active"}).json()["status"] == "active"
        for offer_id in (21, 22, 24):
            assert client.delete(f"/offers/{offer_id}").status_code == 200
    page.reload()
    expect(rows).to_have_count(1)
    assert offer_ids() == [23]
    expect(badge(23)).to_have_count(0)
    expect(page.locator("#archived-count")).to_have_text("(3)")

    with server.client(headers={"X-Admin-Key": ADMIN_KEY}) as client:
        assert client.delete("/offers/23").status_code == 200
    page.reload()
    expect(page.locator("#offers-all-archived")).to_be_visible()
    expect(page.locator("#offers")).to_be_hidden()
    expect(page.locator("#offers-empty")).to_be_hidden()
    assert watched.problems == []
    assert watched.foreign == []
