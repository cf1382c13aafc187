"""The click path's use cases as the event loop runs them: choice on the loop, writes
through the worker's group commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from ..conversions import Postback, PostbackResult
from ..domain import ConflictingDecision, Decision, NoEligibleOffer, Outcome, StoreBusy
from ..policies import PolicyParams
from ..service import BanditService
from ..smartlinks import fill
from .decisions import Via
from .group_commit import GroupCommit
from .landings import Landing


@dataclass(frozen=True, slots=True)
class Visit:
    """A visitor's request to a smartlink, as read from its query string."""

    click_id: str
    source: str | None
    subs: dict[str, str]
    """``sub1`` … ``sub5``, those the visitor's URL carried."""


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str | None
    """Where to send the visitor; None: nowhere (no offer can be chosen, no fallback)."""
    decision: Decision | None
    """The decision made (None: a fallback, or a retried click's earlier offer)."""
    outcome: str
    """``offer``, ``fallback`` or ``nothing``: as ``cpa_bandit_redirects_total`` counts it."""

T = TypeVar("T")


async def patiently(call: Callable[..., T], *args: object) -> T:
    """Run a store call on the event loop (the fast path); if another process holds the
    store's lock, finish it in a worker thread, where it may wait without stalling every
    other request of this worker (health checks included)."""
    try:
        return call(*args)
    except StoreBusy:
        return await run_in_threadpool(call, *args)


class ClickPath:
    def __init__(self, service: BanditService, writer: GroupCommit) -> None:
        self._service = service
        self._decider = service.decider
        self._writer = writer

    async def decide(
        self, click_id: str, offer_ids: Sequence[int], params: PolicyParams, source: str | None, via: Via = Via()
    ) -> Decision:
        """``BanditService.decide``, its write committed with the other requests' at hand."""
        decider = self._decider
        decision = await patiently(decider.choose, click_id, offer_ids, params, source, via)
        return decider.settle(await self._writer.run(decider.record, decision, offer_ids, recording=decision if decision.recorded else None))

    async def feedback(self, click_id: str, reward_micros: int) -> tuple[Outcome, bool]:
        """``BanditService.feedback``, committed with the other requests' at hand."""
        decider = self._decider
        return decider.settle_feedback(await self._writer.run(decider.resolve, click_id, reward_micros))

    async def redirect(self, landing: Landing, visit: Visit) -> Redirect:
        """Where a visitor of a smartlink goes: the chosen offer's landing URL, filled in; its
        fallback URL when none of its offers may be chosen (None: there is nowhere to go).
        The decision is ``/sample/``'s, so a retried click id goes to the offer it went to."""
        link = landing.link
        values = {**visit.subs, "click_id": visit.click_id, "source": visit.source or "", "smartlink": link.name}
        try:
            if not (eligible := landing.offers):
                raise NoEligibleOffer("no offer of the smartlink has a landing URL")
            decision = await self.decide(visit.click_id, eligible, link.policy(), visit.source, Via(link.name, link.holdout))
        except (NoEligibleOffer, ConflictingDecision) as refusal:
            # a retried click still goes where it went, also when its offer was taken off the
            # link (its URL is then not in the landing's) or the link has nothing to choose now
            if (earlier := await patiently(self._earlier, visit.click_id, refusal)) is not None:
                return Redirect(fill(earlier[1], values | {"offer_id": str(earlier[0])}), None, "offer")
            if link.fallback_url is None:
                return Redirect(None, None, "nothing")
            return Redirect(fill(link.fallback_url, values), None, "fallback")
        values |= {"offer_id": str(decision.offer_id), "source": decision.source or ""}  # a retry: as first recorded
        return Redirect(fill(landing.urls[decision.offer_id], values), decision, "offer")

    def _earlier(self, click_id: str, refusal: NoEligibleOffer | ConflictingDecision) -> tuple[int, str] | None:
        """The offer a retried click was sent to and its landing URL (None: a new click, or
        that offer has no URL now). Read from the store: only a refused decision costs it."""
        offer_id = refusal.extra.get("offer_id") if isinstance(refusal, ConflictingDecision) else None
        if not isinstance(offer_id, int):
            stored = self._service.store.find_click(click_id)
            if stored is None:
                return None
            offer_id = stored.decision.offer_id
        url = self._service.landings.url_of(offer_id)
        return None if url is None else (offer_id, url)

    async def postback(self, postback: Postback) -> PostbackResult:
        """``BanditService.postback``, committed with the other requests' at hand."""
        return await self._writer.run(self._service.postback, postback)
