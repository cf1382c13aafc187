"""``/docs`` served by the real server, in a real headless Chromium cut off from the internet.

Every request of the page whose host is not loopback is aborted and recorded, as if the
machine were offline: Swagger UI must still render every operation of the schema, expand one
to its parameters and call another ("Try it out", with a key), with nothing in the console
and no request for anything elsewhere. The service has keys configured, and the docs open
without one, like ``/openapi.json``. The HTTP test checks the page's asset URLs and how the
assets are served. A screenshot goes to ``test-artifacts/docs.png``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from e2e_harness import BanditServer
from headless import ARTEFACTS, Watched, browser  # noqa: F401  (browser: a fixture)
from playwright.sync_api import Browser, Locator, Page, expect

from cpa_bandit.api.docs_routes import ASSETS_URL

pytestmark = pytest.mark.e2e

READ_KEY = "docs-e2e-read-key-0123"
KEYED = {"CPA_BANDIT_KEYS": f"read={READ_KEY}"}

ASSET_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png"}
OPERATION_PATHS = "operations => operations.map(o => o.querySelector('.opblock-summary-path').dataset.path)"


def operation(page: Page, method: str, path: str) -> Locator:
    return page.locator(f".opblock-{method}").filter(has=page.locator(f'.opblock-summary-path[data-path="{path}"]'))


def test_docs_render_and_call_the_api_with_no_internet(
    serve_bandit: Callable[..., BanditServer], browser: Browser
) -> None:
    server = serve_bandit(env=KEYED)
    with server.client() as client:
        spec = client.get("/openapi.json").json()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watched = Watched(page)
    assert page.goto(f"{server.base_url}/docs").status == 200

    operations = page.locator(".opblock")
    expect(operations).to_have_count(sum(len(methods) for methods in spec["paths"].values()))
    paths = operations.evaluate_all(OPERATION_PATHS)
    assert {"/sample/", "/feedback/", "/postback", "/offer_ids/{offer_id}/stats/"} <= set(paths)
    expect(page.locator(".info .title")).to_contain_text("cpa-bandit")

    sample = operation(page, "get", "/sample/")
    sample.locator(".opblock-summary").click()
    for name in ("click_id", "offer_ids", "source", "sampler", "ucb_c"):
        expect(sample.locator(f'tr[data-param-name="{name}"]')).to_be_visible()

    stats = operation(page, "get", "/offer_ids/{offer_id}/stats/")
    stats.locator(".opblock-summary").click()
    stats.get_by_role("button", name="Try it out").click()
    stats.locator('tr[data-param-name="offer_id"] input').fill("7")
    stats.locator('tr[data-param-name="x-api-key"] input').fill(READ_KEY)
    stats.get_by_role("button", name="Execute").click()
    answer = stats.locator(".live-responses-table tr.response")
    expect(answer.locator(".response-col_status")).to_have_text("200")
    expect(answer.locator(".response-col_description")).to_contain_text('"offer_id": 7')
    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTEFACTS / "docs.png", full_page=True)

    assert watched.foreign == [], "the page asked for something outside this service"
    assert watched.problems == []


def test_docs_page_names_only_this_services_files(serve_bandit: Callable[..., BanditServer]) -> None:
    server = serve_bandit(env=KEYED)
    with server.client() as client:
        page = client.get("/docs")  # no key: open like the schema
        assert page.status_code == 200 and client.get("/openapi.json").status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["cache-control"] == "no-cache"
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "http" not in policy
        html = page.text
        assert not re.search(r"https?:|//", html), "the page names another host"
        assert "url: '/openapi.json'" in html and '"validatorUrl": null' in html
        assets = re.findall(r'(?:src|href)="([^"]*)"', html)
        assert len(assets) == 3 and all(url.startswith(f"{ASSETS_URL}/") for url in assets), assets

        for url in assets:
            response = client.get(url)
            assert response.status_code == 200, url
            assert response.headers["content-type"] == ASSET_TYPES[url[url.rindex(".") :]], url
            assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert int(response.headers["content-length"]) == len(response.content) > 1000
            head = client.head(url)
            assert (head.status_code, head.content) == (200, b"") and head.headers["etag"] == response.headers["etag"]
        bundle = client.get(f"{ASSETS_URL}/swagger-ui-bundle.js").text
        assert re.search(r'PACKAGE_VERSION:"5\.', bundle), "Swagger UI 5 renders OpenAPI 3.1"

        redirect = client.get("/docs/oauth2-redirect")
        assert redirect.status_code == 200 and "swaggerUIRedirectOauth2" in redirect.text
        assert client.get("/redoc").status_code == 404
        for name in ("redoc.standalone.js", "core.py", "..%2F__init__.py"):
            assert client.get(f"{ASSETS_URL}/{name}").status_code == 404, name
        metrics = client.get("/metrics", headers={"X-API-Key": READ_KEY}).text
        assert f'route="{ASSETS_URL}/{{name}}",status="404"' in metrics  # the template, never the raw path
        assert "core.py" not in metrics
