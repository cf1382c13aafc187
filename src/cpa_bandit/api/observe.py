"""Every request measured, logged and given an id, whatever answers it.

The click path's front (``clickpath.front``) calls these for every request, outside the
app's whole middleware stack, Starlette's ``ServerErrorMiddleware`` included: a size
refusal, a 404 and the 500 of an unhandled exception are measured, logged and carry
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

from starlette.types import Scope

from ..telemetry.logs import RequestLog
from ..telemetry.metrics import UNROUTED, Metrics

access_log = logging.getLogger("cpa_bandit.access")
request_log = RequestLog(access_log)

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
    scope: FastAPI's routes record themselves; plain Starlette routes (the docs) only their
    endpoint, and as long as they have no path parameters their path is their template."""
    if (route := scope.get("route")) is not None:
        return route.path_format
    if "endpoint" in scope and not scope.get("path_params"):
        return scope["path"]
    return UNROUTED


def observed(metrics: Metrics, log_requests: bool, scope: Scope, route: str, status: int, seconds: float) -> None:
    """Count, time and (if asked) log one answered request."""
    method = scope["method"]
    metrics.request(route, method, status, seconds)
    if log_requests:
        client = scope.get("client")
        level = logging.WARNING if status >= 500 else logging.INFO
        request_log.log(level, method, route, scope["path"], status, seconds, client[0] if client else None)
