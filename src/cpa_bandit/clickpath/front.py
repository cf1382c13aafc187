"""The ASGI layer in front of the FastAPI app: the hot routes served directly.

FastAPI and Starlette spend, around an endpoint that is already lean, about as much as the
endpoint itself: a middleware stack of several layers, each wrapping ``send``, a router
that tries every route's pattern in turn, the request/response adapters. On the routes of
every click (``/sample/``, ``/feedback/``, the postbacks) the front does instead, as plain
function calls: the size limits, the request id, the endpoint (found in one dict lookup),
the app's own exception handlers for its refusals, then the metrics and the access log.
Every other request goes to the app, behind the same limits, id, metrics and log.

The hot endpoints stay ordinary FastAPI routes, declared and documented where they are
(marked with :func:`hot`): FastAPI generates their OpenAPI, and would serve them the same
without the front. The app is a :class:`FrontedApp`, so that requests meet the front before
FastAPI's own entry.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..api.limits import BodyTooLarge, Limits, counted, refusal, send_refusal
from ..api.observe import incoming_or_new_request_id, observed, route_template
from ..telemetry.logs import request_id
from ..telemetry.metrics import UNROUTED, Metrics

Endpoint = Callable[[Request], Awaitable[Response]]

_INTERNAL_ERROR = Response("Internal Server Error", status_code=500, media_type="text/plain")


def hot(endpoint: Endpoint) -> Endpoint:
    """Mark a route's endpoint as one the front serves itself: it takes the bare request and
    returns a ``Response``, with no FastAPI dependencies, and at most one path parameter, at
    the end of its path (``/go/{name}``: one segment, in ``request.path_params``)."""
    endpoint.hot = True  # type: ignore[attr-defined]
    return endpoint


_LAST_PARAMETER = re.compile(r"^(?P<prefix>[^{}]*/)\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}$")


@dataclass(frozen=True, slots=True)
class HotRoutes:
    """The hot routes by (method, path), and those ending in a parameter by (method, the
    path before it)."""

    exact: dict[tuple[str, str], Endpoint]
    tails: dict[tuple[str, str], tuple[str, str, Endpoint]]
    """(method, prefix) → (the route's template, its parameter's name, endpoint)."""

    def match(self, method: str, path: str) -> tuple[str, Endpoint, dict[str, str] | None] | None:
        """The route's template, its endpoint and path parameters (None: none), or None."""
        if (endpoint := self.exact.get((method, path))) is not None:
            return path, endpoint, None
        prefix, _, tail = path.rpartition("/")
        found = self.tails.get((method, prefix + "/")) if tail else None
        return None if found is None else (found[0], found[2], {found[1]: tail})


def hot_routes(routers: Sequence[APIRouter]) -> HotRoutes:
    """The routes marked :func:`hot` (routers included in the app without a prefix)."""
    routes = [
        (method, route.path, route.endpoint)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and getattr(route.endpoint, "hot", False)
        for method in route.methods
    ]
    exact = {(method, path): endpoint for method, path, endpoint in routes if "{" not in path}
    tails = {}
    for method, path, endpoint in routes:
        if "{" in path:
            if (parts := _LAST_PARAMETER.match(path)) is None:
                raise ValueError(f"a hot route has one path parameter at most, at its end: {path}")
            tails[(method, parts["prefix"])] = (path, parts["name"], endpoint)
    return HotRoutes(exact, tails)


class Front:
    def __init__(
        self, stack: ASGIApp, app: FastAPI, routes: HotRoutes, metrics: Metrics, limits: Limits, log_requests: bool,
    ) -> None:  # fmt: skip
        self._stack = stack
        self._routes = routes
        self._app = app
        self._metrics = metrics
        self._limits = limits
        self._log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._stack(scope, receive, send)
            return
        rid = incoming_or_new_request_id(scope["headers"])
        token = request_id.set(rid)
        id_header = (b"x-request-id", rid.encode("ascii"))
        status = 0  # none sent yet; 500 is what the server answers if the app fails before one
        hot = self._routes.match(scope["method"], scope["path"])
        started = perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
            await send(message)

        refused = refusal(self._limits, scope)
        try:
            if refused is not None:
                await send_refusal(send_with_id, *refused)
            elif hot is not None:
                if hot[2] is not None:
                    scope["path_params"] = hot[2]
                await self._serve(hot[1], scope, counted(self._limits, receive), send_with_id)
            else:
                await self._stack(scope, counted(self._limits, receive), send_with_id)
        except BodyTooLarge:
            if not status:  # a chunked body that grew too large: nothing was answered yet
                await send_refusal(send_with_id, 413, f"body over {self._limits.body_bytes} bytes")
        finally:
            route = UNROUTED if refused is not None else hot[0] if hot is not None else route_template(scope)
            observed(self._metrics, self._log_requests, scope, route, status or 500, perf_counter() - started)
        # Reset only after a normal end: an exception goes on to the server, which logs it in
        # this request's task (its own context), and that line should carry the id too.
        request_id.reset(token)

    async def _serve(self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        """Run a hot endpoint and send its response (or its refusal, by the app's handler)."""
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except BodyTooLarge:
            raise
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:  # a bug: answer 500 and let the server log the traceback
                await _send(send, _INTERNAL_ERROR)
                raise
            response = await handler(request, exc)
        await _send(send, response)

    def _handler(self, exc: Exception) -> Callable[[Request, Exception], Any] | None:
        """The app's handler for this exception (the nearest class up its MRO), as
        Starlette's ``ExceptionMiddleware`` would pick it (looked up when needed: handlers
        may be added after the front is made)."""
        handlers = self._app.exception_handlers
        for cls in type(exc).__mro__:
            if (handler := handlers.get(cls)) is not None:
                return handler
        return None


async def _send(send: Send, response: Response) -> None:
    await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


class FrontedApp(FastAPI):
    """A FastAPI app whose every request enters through its :class:`Front`: the hot routes
    skip FastAPI's and Starlette's entry (``FastAPI.__call__``, the middleware stack) too;
    everything else goes on to them. ``uvicorn module:app`` and test clients see an
    ordinary FastAPI app."""

    front: Front | None = None

    def serve_hot(self, routers: Sequence[APIRouter], metrics: Metrics, limits: Limits, log_requests: bool) -> None:
        """Serve the hot routes of ``routers`` (included without a prefix) in the front."""
        self.front = Front(super().__call__, self, hot_routes(routers), metrics, limits, log_requests)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is None:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        await self.front(scope, receive, send)
