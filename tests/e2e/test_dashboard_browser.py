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
