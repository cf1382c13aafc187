"""The interactive API documentation, ``GET /docs``, served entirely by this service.

FastAPI's own ``/docs`` page loads Swagger UI from a CDN, so without internet access (behind
a firewall, on a laptop offline) it is a blank page. The app is made with ``docs_url=None``
and this router serves the same page, pointed at Swagger UI's files as shipped by the pinned
``fastapi-offline`` package (Swagger UI 5, which renders the OpenAPI 3.1 that FastAPI emits),
under ``/docs/static/<package version>/``: a new pin is a new URL, so the files are cached for
good and the page is revalidated every time. The online validator's badge is off (an image
from validator.swagger.io), and the page's Content-Security-Policy forbids loading anything
from another origin, as the dashboard's does.

ReDoc (FastAPI's ``/redoc``) is off too: the package ships its script, but the page loads
the Redocly logo from Redocly's CDN.

The files are a fixed list served by a route, not a static mount: nothing else of the disk
is reachable, and the metrics label them by the route's template, never by the raw path.

Like ``/openapi.json`` these routes are open to anyone (docs/security.md): they show what the
schema shows, and every call made from the page needs its route's key.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import metadata, resources
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = f"{DOCS_URL}/oauth2-redirect"
"""FastAPI's default ``swagger_ui_oauth2_redirect_url``: the page OAuth2 flows return to."""

ASSETS_PACKAGE = "fastapi-offline"
ASSETS_VERSION = metadata.version(ASSETS_PACKAGE)
ASSETS_URL = f"{DOCS_URL}/static/{ASSETS_VERSION}"
ASSETS_DIR = Path(str(resources.files("fastapi_offline") / "static"))
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
"""The files under ``ASSETS_URL`` (the package's ReDoc script is not among them)."""

ASSET_HEADERS = {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}
"""Their URL changes with the pinned version, so a browser or a proxy may keep them for good."""

SWAGGER_UI_PARAMETERS = {"validatorUrl": None}
"""Over FastAPI's defaults: no online validator badge."""

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

router = APIRouter(prefix=DOCS_URL, include_in_schema=False)
"""Its routes answer GET and HEAD, as FastAPI's own docs routes do."""


def _page(page: HTMLResponse) -> HTMLResponse:
    """The page, revalidated every time, allowed to run this origin's scripts and its own
    inline ones (by their digests), and to load or call nothing from elsewhere."""
    digests = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(page.body.decode())
    )
    page.headers.update(
        {
            "Content-Security-Policy": (
                f"default-src 'none'; script-src 'self' {digests}; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            ),
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        }
    )
    return page


@router.api_route("", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    """FastAPI's page, with this service's copy of Swagger UI (and its root path, behind a
    proxy that mounts the service under a prefix, as FastAPI's page has)."""
    app = request.app
    root = request.scope.get("root_path", "").rstrip("/")
    return _page(
        get_swagger_ui_html(
            openapi_url=root + app.openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=root + OAUTH2_REDIRECT_URL,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), **SWAGGER_UI_PARAMETERS},
        )
    )


@router.api_route("/oauth2-redirect", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def oauth2_redirect() -> HTMLResponse:
    return _page(get_swagger_ui_oauth2_redirect_html())


@router.api_route(f"/static/{ASSETS_VERSION}/{{name}}", methods=["GET", "HEAD"])
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404, f"no documentation file {name!r}")
    return FileResponse(ASSETS_DIR / name, media_type=ASSETS[name], headers=ASSET_HEADERS)
