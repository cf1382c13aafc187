"""Baseline apps for bench/run.py: the price of the HTTP stack with no bandit behind it.

A req/s figure means little on its own (it depends on the machine and on whatever else
runs on it), so run.py serves these with the same uvicorn settings as the real server in
the same run and reports the real routes as ratios to them:

* ``async_app``: FastAPI, ``async def`` route with the same query parameters as /sample/;
* ``sync_app``: the same route as plain ``def``, which FastAPI runs in its thread pool;
* ``raw_app``: a bare ASGI callable answering a constant, the ceiling of uvicorn itself.

Each answers ``GET /`` too, which run.py polls to know the server is up.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from fastapi import FastAPI

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

async_app = FastAPI()
sync_app = FastAPI()


@async_app.get("/sample/")
async def sample_async(
    click_id: str,
    offer_ids: str,
    sampler: str = "ucb",
    ucb_c: float = 1.0,
    thompson_a: float = 1.0,
    thompson_b: float = 1.0,
) -> dict[str, Any]:
    """Validates the parameters like a real route, then decides nothing."""
    return {"click_id": click_id, "offer_id": 1}


@sync_app.get("/sample/")
def sample_sync(
    click_id: str,
    offer_ids: str,
    sampler: str = "ucb",
    ucb_c: float = 1.0,
    thompson_a: float = 1.0,
    thompson_b: float = 1.0,
) -> dict[str, Any]:
    """As ``sample_async``, plus the hop to the thread pool and back."""
    return {"click_id": click_id, "offer_id": 1}


@async_app.get("/")
@sync_app.get("/")
async def health() -> dict[str, str]:
    """Readiness probe for run.py."""
    return {"status": "ok"}


_RAW_BODY = b'{"click_id":"1","offer_id":1}'
_RAW_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_RAW_BODY)).encode())]


async def raw_app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Answers every HTTP request with the same body, reading nothing: no framework at all."""
    if scope["type"] == "lifespan":
        # Acknowledge start-up and shutdown so uvicorn logs no "lifespan unsupported" noise.
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": _RAW_HEADERS})
    await send({"type": "http.response.body", "body": _RAW_BODY})
