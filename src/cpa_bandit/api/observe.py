"""Every request measured, logged and given an id, whatever answers it.

A pure ASGI middleware (as ``limits.py``: a few operations per request on the hot routes)
wrapped around the whole middleware stack, Starlette's ``ServerErrorMiddleware`` included:
a size refusal, a 404 and the 500 of an unhandled exception are measured, logged and carry
``X-Request-ID`` like any answer.

Routes are labelled by their template (``/offer_ids/{offer_id}/stats/``), never by the raw
path, whose values are unbounded. The access log has the path without its query string:
postback URLs carry secret tokens there, and no header is logged at all (API keys travel in
them).
"""

from __future__ import annotations

import logging
import re
import uuid
from time import perf_counter

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..telemetry.logs import request_id
from ..telemetry.metrics import UNROUTED, Metrics

access_log = logging.getLogger("cpa_bandit.access")

_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
"""An incoming X-Request-ID is reused only if it is a short plain token (as click ids are):
it is echoed in a header and written to every log line of the request."""


def incoming_or_new_request_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id" and _SANE_REQUEST_ID.fullmatch(value):
            return value.decode("ascii")
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The path template of the route that took the request, as routing left it in the
    scope: FastAPI's routes record themselves; plain Starlette routes (the lean hot routes,
    the docs) only their endpoint, and as long as they have no path parameters their path
    is their template."""
    if (route := scope.get("route")) is not None:
        return route.path_format
    if "endpoint" in scope and not scope.get("path_params"):
        return scope["path"]
    return UNROUTED


class RequestObserver:
    def __init__(self, app: ASGIApp, metrics: Metrics, log_requests: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_or_new_request_id(scope["headers"])
        token = request_id.set(rid)
        id_header = (b"x-request-id", rid.encode("ascii"))
        status = 500  # what the server answers if the app fails before starting a response
        started = perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._done(scope, status, perf_counter() - started)
        # Reset only after a normal end: an exception goes on to the server, which logs it in
        # this request's task (its own context), and that line should carry the id too.
        request_id.reset(token)

    def _done(self, scope: Scope, status: int, seconds: float) -> None:
        route, method = route_template(scope), scope["method"]
        self.metrics.request(route, method, status, seconds)
        level = logging.WARNING if status >= 500 else logging.INFO
        if self.log_requests and access_log.isEnabledFor(level):
            path = scope["path"]
            client = scope.get("client")
            access_log.log(
                level,
                "%s %s %d",
                method,
                path,
                status,
                extra={
                    "method": method,
                    "route": route,
                    "path": path,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                    "client": client[0] if client else None,
                },
            )


def observe_requests(app: FastAPI, metrics: Metrics, log_requests: bool) -> None:
    """Put :class:`RequestObserver` around ``app``'s whole middleware stack (which Starlette
    builds on the first request), outside its ``ServerErrorMiddleware``."""
    build = app.build_middleware_stack

    def build_observed() -> ASGIApp:
        return RequestObserver(build(), metrics, log_requests)

    app.build_middleware_stack = build_observed  # type: ignore[method-assign]
