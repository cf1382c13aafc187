"""``BanditClient``: the blocking client, for scripts, workers and WSGI apps."""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType
from typing import TypeVar, Unpack

import httpx2

from . import calls
from .calls import DEFAULT_BASE_URL, Call, Number, OfferFields, OfferIds, Sampler
from .results import Click, ClickId, Decision, Feedback, Offer, OfferStats, PostbackCounts, PostbackResult, StatsPage
from .retry import Attempts, RetryPolicy

T = TypeVar("T")


class BanditClient:
    """A connection pool to one cpa-bandit service.

    ``api_key`` is sent as ``Authorization: Bearer`` (None: ``$CPA_BANDIT_API_KEY``; ``""``:
    none, for a local service without keys). ``timeout`` bounds each attempt, in seconds.
    ``retries`` is how many times a call is sent again after a connection failure, a timeout
    or a 503 (or a :class:`RetryPolicy`); every route is idempotent, so a retry never counts
    anything twice. ``postback_token`` is the service's ``CPA_BANDIT_POSTBACK_TOKEN``, sent
    with every :meth:`postback` (under ``token_param``). ``transport`` replaces the network,
    e.g. with ``httpx2.MockTransport`` in tests.

    Refusals raise :class:`~cpa_bandit.client.BanditHTTPError` subclasses; a service that
    stayed unreachable raises :class:`~cpa_bandit.client.BanditUnavailable`. Use it as a
    context manager, or call :meth:`close`, to release its connections.
    """

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
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        self.retry = retries if isinstance(retries, RetryPolicy) else RetryPolicy(retries=retries)
        self.postback_token = postback_token
        self.token_param = token_param
        self._http = httpx2.Client(**calls.connection_options(base_url, api_key, timeout, headers), transport=transport)

    # --- I/O: the only part that differs from AsyncBanditClient -----------------------

    def _run(self, call: Call[T]) -> T:
        request = call.request(self._http)
        attempts = Attempts(self.retry, str(call))
        while True:
            try:
                response = self._http.send(request)
            except httpx2.TransportError as error:
                delay = attempts.after_error(error)
            else:
                delay = attempts.after_response(response)
                if delay is None:
                    return call.result(response)
            time.sleep(delay)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BanditClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- decisions and outcomes -------------------------------------------------------

    def sample(
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
        """The offer for a click, among ``offer_ids`` (``GET /sample/``). Parameters left
        None take the service's defaults (UCB, ``ucb_c`` 1, a learned Thompson prior). The
        same ``click_id`` again gets the same offer; raises BanditConflict if the stored one
        is not listed, or every listed offer is paused, archived or capped."""
        return self._run(calls.sample(click_id, offer_ids, sampler, ucb_c, thompson_a, thompson_b, source))

    def feedback(self, click_id: ClickId, reward: Number) -> Feedback:
        """Resolve a click with its revenue, 0 for none (``PUT /feedback/``). Unknown click:
        BanditNotFound; another reward for a resolved click: BanditConflict (``body`` has the
        stored one). Pass a ``Decimal`` to send an amount exactly as written."""
        return self._run(calls.feedback(click_id, reward))

    def postback(
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
        """Report a conversion as a tracker would (``GET /postback``): no status = approved,
        no payout = the offer's declared one. The conversion is (click id, transaction id):
        the same again answers ``duplicate=True``. ``token`` overrides ``postback_token``.
        Refusals carry the service's ``reason`` (``bad_token``, ``disallowed_move``…)."""
        token = self.postback_token if token is None else token
        return self._run(
            calls.postback(click_id, payout, status, transaction_id, currency, event, token, self.token_param)
        )

    def postback_stats(self) -> PostbackCounts:
        """Postbacks applied, duplicate and refused by reason (``GET /postbacks/stats``)."""
        return self._run(calls.postback_stats())

    def click(self, click_id: ClickId) -> Click:
        """A click's decision and conversions (``GET /clicks/{id}``); BanditNotFound if unknown."""
        return self._run(calls.click(click_id))

    # --- statistics -------------------------------------------------------------------

    def offer_stats(self, offer_id: int, source: str | None = None) -> OfferStats:
        """An offer's lifetime counters, on one traffic source or pooled
        (``GET /offer_ids/{id}/stats/``); all zero for an offer never seen."""
        return self._run(calls.offer_stats(offer_id, source))

    def stats(self, offer_ids: OfferIds | None = None, source: str | None = None) -> StatsPage:
        """Every offer (or those listed) with the model's view of it (``GET /stats/``)."""
        return self._run(calls.stats(offer_ids, source))

    # --- the offer registry -----------------------------------------------------------

    def get_offer(self, offer_id: int) -> Offer:
        """A registry entry (``GET /offers/{id}``); BanditNotFound when not registered."""
        return self._run(calls.get_offer(offer_id))

    def list_offers(self, include_archived: bool = True) -> tuple[Offer, ...]:
        """The whole registry (``GET /offers``); ``include_archived=False`` leaves out the
        archived offers."""
        return self._run(calls.list_offers(include_archived))

    def put_offer(self, offer_id: int, **entry: Unpack[OfferFields]) -> Offer:
        """Create or replace an entry (``PUT /offers/{id}``, admin key): the whole entry, so
        omitted fields take their defaults; :meth:`patch_offer` changes some fields only."""
        return self._run(calls.put_offer(offer_id, entry))

    def patch_offer(self, offer_id: int, **fields: Unpack[OfferFields]) -> Offer:
        """Change the fields given and keep the others (``PATCH /offers/{id}``, admin key);
        None clears a nullable one, e.g. ``patch_offer(7, cap_daily=None)``. BanditNotFound
        when the offer is not registered (a patch never creates one)."""
        return self._run(calls.patch_offer(offer_id, fields))

    def archive_offer(self, offer_id: int) -> Offer:
        """Archive an offer (``DELETE /offers/{id}``, admin key): never chosen again, its
        counters and history kept; ``patch_offer(offer_id, status="active")`` brings it
        back. Archiving an archived offer changes nothing; BanditNotFound when not registered."""
        return self._run(calls.archive_offer(offer_id))
