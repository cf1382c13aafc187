"""Size limits on what a request may carry, checked before any route sees it.

Trackers and traffic partners call the service from the internet; an oversized query
string, header block or body costs parsing and memory before validation could refuse it.
Plain functions that the click path's front calls for every request: a few comparisons.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.types import Message, Receive, Scope, Send


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


def refusal(limits: Limits, scope: Scope) -> tuple[int, str] | None:
    """The status and reason to refuse a request with before reading it, if any."""
    headers = scope["headers"]
    if len(scope["query_string"]) > limits.query_bytes:
        return 414, f"query string over {limits.query_bytes} bytes"
    if len(headers) > limits.headers or sum(len(k) + len(v) for k, v in headers) > limits.header_bytes:
        return 431, f"headers over {limits.headers} fields or {limits.header_bytes} bytes"
    for name, value in headers:
        if name == b"content-length" and (not value.isdigit() or int(value) > limits.body_bytes):
            return 413, f"body over {limits.body_bytes} bytes (or a bad Content-Length)"
    return None


def counted(limits: Limits, receive: Receive) -> Receive:
    """``receive`` that raises ``BodyTooLarge`` once the body grows past the limit (a
    chunked body has no Content-Length to check beforehand)."""
    received = 0

    async def counted_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limits.body_bytes:
                raise BodyTooLarge
        return message

    return counted_receive


async def send_refusal(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
