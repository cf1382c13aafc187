"""The application factory: one store and one service per app, no module-level state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np
from fastapi import FastAPI

from .. import __version__
from ..config import Settings
from ..domain import StoreUnavailable
from ..clickpath.front import FrontedApp
from ..clickpath.group_commit import GroupCommit
from ..clickpath.path import ClickPath
from ..service import BanditService, Clock, DecisionPath, Learning, Retention
from ..store import Store, open_store
from ..telemetry.logs import keep_query_strings_out_of_access_logs
from ..telemetry.metrics import Metrics, StoreCollector
from ..telemetry.store import instrumented
from . import (
    admin_routes,
    dashboard_routes,
    docs_routes,
    metrics_routes,
    offer_routes,
    postback_routes,
    seed_routes,
    smartlink_routes,
    stats_routes,
)
from .errors import install_error_handlers
from .limits import Limits

DESCRIPTION = """
Picks the advertiser offer for each click so that revenue per click (conversion rate ×
payout) is maximal, learning from the conversions reported back.

1. `GET /sample/` — choose an offer for a click among the eligible ones.
2. `PUT /feedback/` — report the click's reward (0 = no conversion), once.
3. `GET /offer_ids/{offer_id}/stats/` — the offer's counters.
4. `GET /postback` — a tracker's conversion postback (pending, approved, reversed…).

The offer registry (`/offers`; `PUT` declares an entry whole, `PATCH` changes some fields,
`DELETE` archives) holds payouts, caps and statuses. Only `active` offers are chosen; the
others rest, shown by precedence as `archived` > `paused` > `capped` (at a conversion cap
until `capped_until`, then active again by itself).
"""


log = logging.getLogger("cpa_bandit")


async def maintain_forever(service: BanditService, metrics: Metrics, interval_s: float, stop: asyncio.Event) -> None:
    """Sweep expired clicks now and then, off the event loop (a sweep may take a while),
    until ``stop``. Every worker runs one; a sweep only touches clicks still pending, so they
    never clash. A sweep in progress is finished, never abandoned: its thread would otherwise
    still be using the store when shutdown closes it."""
    while not stop.is_set():
        try:
            done = await asyncio.to_thread(service.maintain)
        except StoreUnavailable as exc:
            log.warning("maintenance skipped: %s", exc.detail)
        else:
            if done.expired:
                log.info("attribution window passed for %d clicks", done.expired)
            if done.restarted:
                metrics.restarted(done.restarted)
                log.info("conversion rate changed: evidence restarted for offers %s", done.restarted)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    rng: np.random.Generator | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    keep_query_strings_out_of_access_logs()  # however uvicorn was started
    settings = settings or Settings()
    store = store or open_store(settings.store, **settings.store_options())
    metrics = Metrics.from_environment()
    store = instrumented(store, metrics)
    learning = Learning(
        attribution_window_s=settings.attribution_window_days * 86_400.0,
        source_prior_clicks=settings.source_prior_clicks,
        change_detection=settings.change_detection,
    )
    path = DecisionPath(
        cache_ms=settings.decision_cache_ms, store_retry_s=settings.store_retry_s, holdout_share=settings.holdout_share
    )
    retention = Retention(decision_log_s=settings.decision_log_days * 86_400.0)
    service = BanditService(
        store, rng or np.random.default_rng(settings.seed), clock or time.time, learning, path, retention
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        maintenance = asyncio.create_task(maintain_forever(service, metrics, settings.maintenance_interval_s, stop))
        yield
        stop.set()
        await maintenance
        store.close()
        metrics.close()

    app = FrontedApp(
        title="cpa-bandit",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's page loads Swagger UI from a CDN: docs_routes serves it from here
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.postback_format = settings.postback_format()
    app.state.keys = settings.key_ring()
    app.state.metrics = metrics
    window_ms = settings.group_commit_ms if settings.group_commit_ms is not None else 0.0 if store.remote else 1.0
    writer = GroupCommit(store, settings.group_commit_max, window_ms / 1000, in_thread=store.remote)
    app.state.click_path = ClickPath(service, writer)
    metrics.registry.register(StoreCollector(store))
    app.serve_hot(
        [seed_routes.router, postback_routes.router, smartlink_routes.router],
        metrics,
        Limits.for_offers(settings.max_offers),
        log_requests=settings.access_log,
    )
    install_error_handlers(app)
    app.include_router(seed_routes.router)
    app.include_router(stats_routes.router)
    app.include_router(offer_routes.router)
    app.include_router(postback_routes.router)
    app.include_router(smartlink_routes.router)
    app.include_router(admin_routes.router)
    app.include_router(dashboard_routes.router)
    app.include_router(metrics_routes.router)
    app.include_router(docs_routes.router)
    return app
