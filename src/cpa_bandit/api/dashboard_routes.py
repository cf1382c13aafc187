"""The operator dashboard: ``GET /dashboard``, its data and its two static files.

The page is static HTML; its script asks ``/dashboard/data`` for a snapshot every few seconds
(one view of the offers table, the postback counts, the two charts as server-rendered SVG and
the bandit's uplift over its holdout) and redraws. Everything comes from this service, so the
page works offline and behind a firewall, and its Content-Security-Policy forbids loading
anything from elsewhere.

The routes need the ``read`` role like ``/stats/``. They are left out of the OpenAPI schema:
the snapshot's shape serves this page and changes with it; ``/stats/`` and
``/postbacks/stats`` are the API that clients build on.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..evaluation.uplift import CONFIDENCE, Uplift
from ..keys import Role
from ..service import BanditService, OfferReport
from .charts import Window, offer_series, revenue_chart, share_chart
from .deps import guarded, service_of
from .postback_routes import PostbackCounts
from .seed_routes import SourceQuery
from .smartlink_routes import GroupOut, IntervalOut
from .stats_routes import OfferStatsRow, offer_row

router = APIRouter(prefix="/dashboard", include_in_schema=False, **guarded(Role.read))

STATIC = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}
"""The files under ``/dashboard/static/``: a fixed list, so that no path reaches the disk."""

MAX_HOURS = 168
HOUR = 3600
UPLIFT_REFRESH_S = 60.0
"""How long the uplift panel's figures are reused: they are read from the decision log (every
decision of the window, each costing the store a row to decode), and over hours of resolved
clicks they barely move between two of the page's refreshes."""

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}
"""Only this origin's script, style and data: an offer name that slipped through escaping
could still not run a script nor send anything elsewhere."""


class DashboardOffer(OfferStatsRow):
    """A row of ``/stats/``, its id as text: the page's JavaScript reads JSON numbers as
    doubles, which are exact only up to 2**53, and offer ids go up to 2**63 - 1."""

    offer_id: str  # type: ignore[assignment]


class DashboardUplift(BaseModel):
    """``/uplift`` over the charts' window: every click decided since ``since``, all sources,
    ``/sample/`` and smartlinks together, resolved ones only."""

    since: float = Field(description="Unix seconds: the snapshot's time minus `hours` hours.")
    computed_at: float = Field(description="Service time at which these figures were read from the decision log.")
    confidence: float = Field(description="Of the intervals.")
    bandit: GroupOut
    holdout: GroupOut = Field(description="Clicks served uniformly at random: none without a holdout share.")
    difference: IntervalOut | None = Field(
        description="Bandit's revenue per click minus the holdout's; null until each group has two resolved clicks."
    )
    extra_revenue: IntervalOut | None = Field(description="The bandit's clicks × the difference.")

    @classmethod
    def of(cls, result: Uplift, since: float, computed_at: float) -> DashboardUplift:
        return cls(
            since=since, computed_at=computed_at, confidence=CONFIDENCE,
            bandit=GroupOut.of(result.bandit), holdout=GroupOut.of(result.holdout),
            difference=IntervalOut.of(result.difference), extra_revenue=IntervalOut.of(result.extra_revenue),
        )  # fmt: skip


class DashboardData(BaseModel):
    """One refresh of the page."""

    updated_at: float = Field(description="Service time of the snapshot, Unix seconds.")
    source: str | None = Field(description="The traffic source of `offers`; null = all sources pooled.")
    sources: list[str] = Field(description="Every traffic source that clicks named.")
    offers: list[DashboardOffer]
    postbacks: PostbackCounts
    currency: str = Field(description="Of every amount.")
    hours: int = Field(description="Hours covered by the charts, the current one included.")
    share_svg: str = Field(description="Share of each hour's clicks by offer (SVG).")
    revenue_svg: str = Field(description="Revenue of each hour's clicks by offer (SVG).")
    uplift: DashboardUplift = Field(description="The bandit over its holdout, over the last `hours` hours.")


@cache
def _file(name: str) -> bytes:
    """A file of the package's ``dashboard`` directory (installed as package data)."""
    return (resources.files(__package__) / "dashboard" / name).read_bytes()


def _label(report: OfferReport) -> str:
    name = report.offer.name if report.offer else None
    return f"#{report.counters.offer_id} {name}" if name else f"#{report.counters.offer_id}"


@dataclass
class _UpliftCache:
    """An app's latest uplift figures per chart window, reused for ``UPLIFT_REFRESH_S``; one
    reader at a time, so that many open pages read the log once."""

    lock: threading.Lock
    figures: dict[int, tuple[float, DashboardUplift]]

    @classmethod
    def of(cls, app: FastAPI) -> _UpliftCache:
        state = app.state
        if getattr(state, "dashboard_uplift", None) is None:
            state.dashboard_uplift = cls(threading.Lock(), {})
        return state.dashboard_uplift


def _uplift(service: BanditService, hours: int, cached: _UpliftCache) -> DashboardUplift:
    with cached.lock:
        hit = cached.figures.get(hours)
        if hit is not None and time.monotonic() - hit[0] < UPLIFT_REFRESH_S:
            return hit[1]
        now = service.now()
        since = now - hours * HOUR
        figures = DashboardUplift.of(service.uplift(since), since, now)
        cached.figures[hours] = (time.monotonic(), figures)
        return figures


def _snapshot(
    service: BanditService, source: str | None, hours: int, currency: str, cached: _UpliftCache
) -> DashboardData:
    """Everything the page shows, read at once (seconds of Monte Carlo over many offers, and
    the decision log: callers run it off the event loop)."""
    uplift = _uplift(service, hours, cached)
    now = service.now()
    reports = service.report(None, source)
    window = Window.ending_at(now, hours)
    series = offer_series(service.timeline(hours), window, {r.counters.offer_id: _label(r) for r in reports})
    return DashboardData(
        updated_at=now,
        source=source,
        sources=service.sources(),
        offers=[DashboardOffer(**{**dict(offer_row(report)), "offer_id": str(report.counters.offer_id)}) for report in reports],
        postbacks=PostbackCounts.of(service.postback_counts()),
        currency=currency,
        hours=hours,
        share_svg=share_chart(series, window),
        revenue_svg=revenue_chart(series, window),
        uplift=uplift,
    )


@router.get("")
async def page() -> Response:
    return Response(_file("index.html"), media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in STATIC:
        raise HTTPException(404, f"no dashboard file {name!r}")
    return Response(_file(name), media_type=STATIC[name], headers=PAGE_HEADERS)


@router.get("/data", response_model=DashboardData)
async def data(
    request: Request,
    source: SourceQuery = None,
    hours: Annotated[int, Query(ge=1, le=MAX_HOURS, description="Hours the charts cover.")] = 24,
) -> DashboardData:
    currency = request.app.state.settings.currency
    cached = _UpliftCache.of(request.app)
    return await asyncio.to_thread(_snapshot, service_of(request), source, hours, currency, cached)
