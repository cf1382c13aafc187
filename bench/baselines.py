"""Baseline apps for bench/run.py: the seed's app, and the price of the HTTP stack with no
bandit behind it.

A req/s figure means little on its own (it depends on the machine and on whatever else
runs on it), so run.py serves these with the same uvicorn settings in the same run as the
real server and reports the real routes as ratios to them:

* ``seed_app``: the original project's app re-created: FastAPI, plain ``def`` routes,
  counters in global dicts, no durability (see its section below);
* ``async_app``: FastAPI, ``async def`` route with the same query parameters as /sample/;
* ``sync_app``: the same route as plain ``def``, which FastAPI runs in its thread pool;
* ``raw_app``: a bare ASGI callable answering a constant, the ceiling of uvicorn itself.

Each answers ``GET /`` too, which run.py polls to know the server is up.
"""

from __future__ import annotations

import inspect
from typing import Any, Awaitable, Callable

import numpy as np
from fastapi import FastAPI, HTTPException

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

async_app = FastAPI()
sync_app = FastAPI()
seed_app = FastAPI()


def sample_parameters(
    click_id: str,
    offer_ids: str,
    sampler: str = "ucb",
    ucb_c: float = 1.0,
    thompson_a: float = 1.0,
    thompson_b: float = 1.0,
) -> dict[str, Any]:
    """/sample/'s query parameters, declared once: FastAPI reads a route's parameters (and
    its response type) from its signature, and ``sample_route`` gives each baseline's route
    this one's."""
    raise NotImplementedError("a signature, never called")


def sample_route(app: FastAPI, answer: Callable[..., dict[str, Any]], asynchronous: bool) -> None:
    """``GET /sample/`` on ``app`` with ``sample_parameters``, answered by ``answer(**them)``:
    an ``async def`` route, run on the event loop, or a plain ``def`` one, which FastAPI
    runs in its thread pool (a hop there and back per request)."""
    if asynchronous:

        async def endpoint(**parameters: Any) -> dict[str, Any]:
            return answer(**parameters)

    else:

        def endpoint(**parameters: Any) -> dict[str, Any]:
            return answer(**parameters)

    endpoint.__signature__ = inspect.signature(sample_parameters)  # type: ignore[attr-defined]
    app.get("/sample/")(endpoint)


def empty_answer(click_id: str, **_: Any) -> dict[str, Any]:
    """The parameters were validated like a real route's; nothing is decided."""
    return {"click_id": click_id, "offer_id": 1}


sample_route(async_app, empty_answer, asynchronous=True)
sample_route(sync_app, empty_answer, asynchronous=False)


@async_app.get("/")
@sync_app.get("/")
@seed_app.get("/")
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


# The seed's app: what the project started from, re-created as issue 13 describes it, so
# that the service is measured against what it replaces. Everything lives in this process's
# memory (lost on restart; plain dict updates from the thread pool's threads, as the seed's
# were); the picks use numpy. Two departures, both for the benchmark's sake: click ids are
# strings (the seed's were integers; run.py's fresh ids are "<tag>.t<thread>.<n>"), and
# the served app has a ``GET /`` for run.py's readiness poll.

_clicks: dict[int, int] = {}
"""offer id -> clicks decided for it (pending ones included)"""
_conversions: dict[int, int] = {}
"""offer id -> feedback with reward > 0"""
_reward: dict[int, float] = {}
"""offer id -> total reward of its clicks"""
_click_offer: dict[str, int] = {}
"""click id -> the offer it was given"""


def seed_sample(
    click_id: str, offer_ids: str, sampler: str, ucb_c: float, thompson_a: float, thompson_b: float
) -> dict[str, Any]:
    """UCB1 on revenue per click (mean reward per click + ``ucb_c``·sqrt(2 ln N / n), offers
    never tried first) or Thompson (a Beta(a + conversions, b + clicks − conversions) draw ×
    the offer's mean payout, 0 before its first conversion); the click is then recorded."""
    ids = [int(offer) for offer in offer_ids.split(",")]
    clicks = np.array([_clicks.get(offer, 0) for offer in ids], dtype=float)
    conversions = np.array([_conversions.get(offer, 0) for offer in ids], dtype=float)
    reward = np.array([_reward.get(offer, 0.0) for offer in ids])
    if sampler == "thompson":
        payout = np.divide(reward, conversions, out=np.zeros_like(reward), where=conversions > 0)
        scores = np.random.beta(thompson_a + conversions, thompson_b + clicks - conversions) * payout
    elif (clicks == 0).any():
        scores = (clicks == 0).astype(float)
    else:
        scores = reward / clicks + ucb_c * np.sqrt(2 * np.log(clicks.sum()) / clicks)
    offer_id = ids[int(np.argmax(scores))]
    _clicks[offer_id] = _clicks.get(offer_id, 0) + 1
    _click_offer[click_id] = offer_id
    return {"click_id": click_id, "offer_id": offer_id}


sample_route(seed_app, seed_sample, asynchronous=False)


@seed_app.put("/feedback/")
def seed_feedback(click_id: str, reward: float) -> dict[str, Any]:
    """Adds the click's reward to its offer; a conversion is a reward > 0."""
    offer_id = _click_offer.get(click_id)
    if offer_id is None:
        raise HTTPException(404, "click_id not found")
    _conversions[offer_id] = _conversions.get(offer_id, 0) + (reward > 0)
    _reward[offer_id] = _reward.get(offer_id, 0.0) + reward
    return {"click_id": click_id, "offer_id": offer_id, "is_conversion": reward > 0, "reward": reward}


@seed_app.get("/offer_ids/{offer_id}/stats/")
def seed_stats(offer_id: int) -> dict[str, Any]:
    clicks, conversions, reward = _clicks.get(offer_id, 0), _conversions.get(offer_id, 0), _reward.get(offer_id, 0.0)
    return {
        "offer_id": offer_id,
        "clicks": clicks,
        "conversions": conversions,
        "reward": reward,
        "cr": conversions / clicks if clicks else 0.0,
        "rpc": reward / clicks if clicks else 0.0,
    }
