"""Size limits on what a request may carry, checked before any route sees it.

Trackers and traffic partners call the service from the internet; an oversized query
string, header block or body costs parsing and memory before validation could refuse it.
A pure ASGI middleware (not Starlette's ``BaseHTTPMiddleware``) keeps the check to a few
comparisons per request on the hot routes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True, slots=True)
class Limits:
    query_bytes: int = 8_192
    header_bytes: int = 16_384
    headers: int = 100
    body_bytes: int = 65_536

    @classmethod
    def for_offers(cls, max_offers: int) -> Limits:
        """Room in the query string for ``max_offers`` offer ids of up to 19 digits."""
        return cls(query_bytes=max(8_192, 20 * max_offers + 2_048))


class BodyTooLarge(Exception):
    pass


class LimitsMiddleware:
    def __init__(self, app: ASGIApp, limits: Limits = Limits()) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self.limits
        headers = scope["headers"]
        if len(scope["query_string"]) > limits.query_bytes:
            await _refuse(send, 414, f"query string over {limits.query_bytes} bytes")
            return
        if len(headers) > limits.headers or sum(len(k) + len(v) for k, v in headers) > limits.header_bytes:
            await _refuse(send, 431, f"headers over {limits.headers} fields or {limits.header_bytes} bytes")
            return
        for name, value in headers:
            if name == b"content-length" and (not value.isdigit() or int(value) > limits.body_bytes):
                await _refuse(send, 413, f"body over {limits.body_bytes} bytes (or a bad Content-Length)")
                return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limits.body_bytes:
                    raise BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if not started:  # a chunked body that grew too large: nothing was answered yet
                await _refuse(send, 413, f"body over {limits.body_bytes} bytes")


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
