"""``AsyncBanditClient``: the same calls for asyncio apps (FastAPI, aiohttp, bots).

Each method is :class:`~cpa_bandit.client.BanditClient`'s, awaited: same parameters, same
results, same exceptions, same retries (waiting with ``asyncio.sleep``, so the event loop
keeps serving while a call backs off). Requests and parsing are shared (``calls.py``); only
the sending and the waiting are here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import TracebackType
from typing import TypeVar, Unpack

import httpx2

from . import calls
from .calls import DEFAULT_BASE_URL, Call, Number, OfferFields, OfferIds, Sampler
from .results import Click, ClickId, Decision, Feedback, Offer, OfferStats, PostbackCounts, PostbackResult, StatsPage
from .retry import Attempts, RetryPolicy

T = TypeVar("T")


class AsyncBanditClient:
    """A connection pool to one cpa-bandit service, for ``async`` code; the arguments are
    :class:`~cpa_bandit.client.BanditClient`'s (``transport`` an async one). Use
    ``async with``, or ``await aclose()``."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        *,
        timeout: float = 5.0,
        retries: int | RetryPolicy = 3,
        postback_token: str | None = None,
        token_param: str = "token",
        headers: Mapping[str, str] | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.retry = retries if isinstance(retries, RetryPolicy) else RetryPolicy(retries=retries)
        self.postback_token = postback_token
        self.token_param = token_param
        self._http = httpx2.AsyncClient(
            **calls.connection_options(base_url, api_key, timeout, headers), transport=transport
        )

    # --- I/O: the only part that differs from BanditClient ----------------------------

    async def _run(self, call: Call[T]) -> T:
        request = call.request(self._http)
        attempts = Attempts(self.retry, str(call))
        while True:
            try:
                response = await self._http.send(request)
            except httpx2.TransportError as error:
                delay = attempts.after_error(error)
            else:
                delay = attempts.after_response(response)
                if delay is None:
                    return call.result(response)
            await asyncio.sleep(delay)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncBanditClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # --- the calls: see BanditClient for what each does -------------------------------

    async def sample(
        self,
        click_id: ClickId,
        offer_ids: OfferIds,
        *,
        sampler: Sampler | None = None,
        ucb_c: Number | None = None,
        thompson_a: Number | None = None,
        thompson_b: Number | None = None,
        source: str | None = None,
    ) -> Decision:
        """``GET /sample/``: see :meth:`BanditClient.sample`."""
        return await self._run(calls.sample(click_id, offer_ids, sampler, ucb_c, thompson_a, thompson_b, source))

    async def feedback(self, click_id: ClickId, reward: Number) -> Feedback:
        """``PUT /feedback/``: see :meth:`BanditClient.feedback`."""
        return await self._run(calls.feedback(click_id, reward))

    async def postback(
        self,
        click_id: ClickId,
        *,
        payout: Number | None = None,
        status: str | None = None,
        transaction_id: str | None = None,
        currency: str | None = None,
        event: str | None = None,
        token: str | None = None,
    ) -> PostbackResult:
        """``GET /postback``: see :meth:`BanditClient.postback`."""
        token = self.postback_token if token is None else token
        return await self._run(
            calls.postback(click_id, payout, status, transaction_id, currency, event, token, self.token_param)
        )

    async def postback_stats(self) -> PostbackCounts:
        """``GET /postbacks/stats``."""
        return await self._run(calls.postback_stats())

    async def click(self, click_id: ClickId) -> Click:
        """``GET /clicks/{id}``."""
        return await self._run(calls.click(click_id))

    async def offer_stats(self, offer_id: int, source: str | None = None) -> OfferStats:
        """``GET /offer_ids/{id}/stats/``."""
        return await self._run(calls.offer_stats(offer_id, source))

    async def stats(self, offer_ids: OfferIds | None = None, source: str | None = None) -> StatsPage:
        """``GET /stats/``."""
        return await self._run(calls.stats(offer_ids, source))

    async def get_offer(self, offer_id: int) -> Offer:
        """``GET /offers/{id}``."""
        return await self._run(calls.get_offer(offer_id))

    async def list_offers(self, include_archived: bool = True) -> tuple[Offer, ...]:
        """``GET /offers``: see :meth:`BanditClient.list_offers`."""
        return await self._run(calls.list_offers(include_archived))

    async def put_offer(self, offer_id: int, **entry: Unpack[OfferFields]) -> Offer:
        """``PUT /offers/{id}`` (admin key): see :meth:`BanditClient.put_offer`."""
        return await self._run(calls.put_offer(offer_id, entry))

    async def patch_offer(self, offer_id: int, **fields: Unpack[OfferFields]) -> Offer:
        """``PATCH /offers/{id}`` (admin key): see :meth:`BanditClient.patch_offer`."""
        return await self._run(calls.patch_offer(offer_id, fields))

    async def archive_offer(self, offer_id: int) -> Offer:
        """``DELETE /offers/{id}`` (admin key): see :meth:`BanditClient.archive_offer`."""
        return await self._run(calls.archive_offer(offer_id))
