"""The dashboard's "Uplift over holdout" panel, read in a real headless Chromium: a server with
a 30 % holdout (``CPA_BANDIT_HOLDOUT_SHARE``) and feedback shows both groups' revenue per
resolved click, their difference with its 95 % interval and the extra revenue, as the
decision log has them; a server without a holdout says how to get one."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import pytest
from e2e_harness import BanditServer
from headless import Watched, browser  # noqa: F401  (browser: a fixture)
from playwright.sync_api import Browser, Page, expect

from cpa_bandit.holdout import holdout_point

pytestmark = pytest.mark.e2e

ADMIN_KEY = "dashboard-uplift-admin-key"
SHARE = 0.3
CLICKS = 60
PENDING = 4
"""The last clicks, left without feedback."""
Z95 = 1.959964


def reward(i: int, holdout: bool) -> float:
    """The holdout converts less often than the bandit's clicks: every 5th at 8.0, against
    every 3rd at 12.0."""
    if holdout:
        return 8.0 if i % 5 == 0 else 0.0
    return 12.0 if i % 3 == 0 else 0.0


def click_through(server: BanditServer) -> dict[bool, list[float]]:
    """``CLICKS`` clicks through ``/sample/``, all but the last ``PENDING`` fed back; the
    resolved rewards per group (True: the holdout), told apart as the service does."""
    resolved: dict[bool, list[float]] = {False: [], True: []}
    with server.client(headers={"X-API-Key": ADMIN_KEY}) as client:
        for i in range(CLICKS):
            click = f"up-{i}"
            params = {"click_id": click, "offer_ids": "1,2,3", "sampler": "thompson"}
            assert client.get("/sample/", params=params).status_code == 200
            if i >= CLICKS - PENDING:
                continue  # pending: left out of the uplift
            holdout = holdout_point(click) < SHARE
            resolved[holdout].append(reward(i, holdout))
            assert client.put("/feedback/", params={"click_id": click, "reward": resolved[holdout][-1]}).status_code == 200
    return resolved


def expected(resolved: dict[bool, list[float]]) -> dict[str, float]:
    """RPCs, the difference with its Welch interval and the extra revenue, from the rewards."""
    mean = {group: sum(rewards) / len(rewards) for group, rewards in resolved.items()}
    var = {
        group: sum((r - mean[group]) ** 2 for r in rewards) / (len(rewards) - 1) / len(rewards)
        for group, rewards in resolved.items()
    }
    difference = mean[False] - mean[True]
    half = Z95 * math.sqrt(var[False] + var[True])
    n = len(resolved[False])
    return {
        "bandit": mean[False], "holdout": mean[True], "difference": difference,
        "low": difference - half, "high": difference + half, "extra": n * difference,
        "extra_low": n * (difference - half), "extra_high": n * (difference + half),
    }  # fmt: skip


def number(text: str) -> float:
    return float(text.replace(",", "").replace("+", "").replace("\u2212", "-"))


def interval(text: str) -> tuple[float, float]:
    found = re.fullmatch(r"95 % interval: (\S+) to (\S+)", text)
    assert found, text
    return number(found[1]), number(found[2])


def open_dashboard(browser: Browser, server: BanditServer) -> tuple[Page, Watched]:
    context = browser.new_context(http_credentials={"username": "ops", "password": ADMIN_KEY})
    page = context.new_page()
    watched = Watched(page)
    page.goto(f"{server.base_url}/dashboard")
    expect(page.locator("#status")).to_contain_text("Updated")
    return page, watched


def test_the_panel_shows_the_uplift_over_the_holdout(
    serve_bandit: Callable[..., BanditServer], browser: Browser
) -> None:
    server = serve_bandit(env={"CPA_BANDIT_ADMIN_KEY": ADMIN_KEY, "CPA_BANDIT_HOLDOUT_SHARE": str(SHARE)})
    resolved = click_through(server)
    assert len(resolved[True]) >= 5 and len(resolved[False]) >= 5, resolved  # both groups measured
    want = expected(resolved)
    page, watched = open_dashboard(browser, server)

    panel = page.locator("#uplift")
    expect(panel.locator("h2")).to_contain_text("Uplift over holdout")
    expect(page.locator("#uplift-figures")).to_be_visible()
    expect(page.locator("#uplift-empty")).to_be_hidden()
    text = {name: page.locator(f"#uplift-{name}").inner_text() for name in (
        "bandit-rpc", "bandit-clicks", "holdout-rpc", "holdout-clicks", "difference", "difference-interval",
        "extra", "extra-interval", "verdict", "pending", "currency",
    )}  # fmt: skip
    for group, name in ((False, "bandit"), (True, "holdout")):
        left = sum((holdout_point(f"up-{i}") < SHARE) == group for i in range(CLICKS - PENDING, CLICKS))
        want_text = f"{len(resolved[group])} resolved clicks" + (f" · {left} pending" if left else "")
        assert text[f"{name}-clicks"] == want_text, text
    assert number(text["bandit-rpc"]) == pytest.approx(want["bandit"], abs=0.0005)
    assert number(text["holdout-rpc"]) == pytest.approx(want["holdout"], abs=0.0005)
    assert number(text["difference"]) == pytest.approx(want["difference"], abs=0.0005)
    assert interval(text["difference-interval"]) == pytest.approx((want["low"], want["high"]), abs=0.0005)
    assert number(text["extra"]) == pytest.approx(want["extra"], abs=0.005)
    assert interval(text["extra-interval"]) == pytest.approx((want["extra_low"], want["extra_high"]), abs=0.005)
    assert text["currency"] == "USD"
    assert text["pending"].startswith(f"{PENDING} clicks are still pending and left out."), text
    assert text["verdict"].startswith("Not told apart" if want["low"] <= 0 <= want["high"] else "The bandit earns")
    assert watched.problems == [] and watched.foreign == []  # CSP kept: no inline script or style refused
    page.context.close()


def test_without_a_holdout_the_panel_says_how_to_measure(
    serve_bandit: Callable[..., BanditServer], browser: Browser
) -> None:
    server = serve_bandit(env={"CPA_BANDIT_ADMIN_KEY": ADMIN_KEY})
    with server.client(headers={"X-API-Key": ADMIN_KEY}) as client:
        for i in range(5):
            assert client.get("/sample/", params={"click_id": f"n-{i}", "offer_ids": "1,2"}).status_code == 200
            assert client.put("/feedback/", params={"click_id": f"n-{i}", "reward": 0}).status_code == 200
    page, watched = open_dashboard(browser, server)
    expect(page.locator("#uplift-empty")).to_be_visible()
    expect(page.locator("#uplift-empty")).to_contain_text("Set a holdout share")
    expect(page.locator("#uplift-empty")).to_contain_text("CPA_BANDIT_HOLDOUT_SHARE")
    expect(page.locator("#uplift-figures")).to_be_hidden()
    expect(page.locator("#uplift-verdict")).to_be_hidden()
    assert watched.problems == [] and watched.foreign == []
    page.context.close()


def test_a_holdout_whose_clicks_are_all_pending_is_waited_for(
    serve_bandit: Callable[..., BanditServer], browser: Browser
) -> None:
    server = serve_bandit(env={"CPA_BANDIT_ADMIN_KEY": ADMIN_KEY, "CPA_BANDIT_HOLDOUT_SHARE": str(SHARE)})
    clicks = [f"w-{i}" for i in range(20)]
    with server.client(headers={"X-API-Key": ADMIN_KEY}) as client:
        for click in clicks:  # no feedback: every click pending
            assert client.get("/sample/", params={"click_id": click, "offer_ids": "1,2"}).status_code == 200
    in_holdout = sum(holdout_point(click) < SHARE for click in clicks)
    assert in_holdout > 1
    page, watched = open_dashboard(browser, server)
    expect(page.locator("#uplift-waiting")).to_have_text(
        f"The holdout's {in_holdout} clicks in this window are all still pending: the comparison shows once some are"
        " resolved (fed back, or past the attribution window)."
    )
    expect(page.locator("#uplift-empty")).to_be_hidden()
    expect(page.locator("#uplift-figures")).to_be_hidden()
    assert watched.problems == [] and watched.foreign == []
    page.context.close()
