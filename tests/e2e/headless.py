"""Debian's headless Chromium through Playwright, for the tests of the pages the service serves.

``browser`` is a fixture: a test module imports it (with :class:`Watched`) to use it. The
browser is Debian's ``chromium`` (``make test`` installs it), never one that
``playwright install`` would download.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
"""Screenshots, at the repository root."""
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "the browser tests need Debian's chromium: `make chromium`"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class Watched:
    """What a page did that a clean page of this service never does: console messages of any
    level, uncaught errors, failed requests, and requests to hosts other than loopback
    (aborted, so that the page meets them as it would offline)."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        self.foreign: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", lambda request: self.problems.append(f"failed: {request.url} {request.failure}"))
        page.route("**/*", self._route)

    def _console(self, message: ConsoleMessage) -> None:
        self.problems.append(f"console {message.type}: {message.text}")

    def _route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith("data:") or urlsplit(url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()
