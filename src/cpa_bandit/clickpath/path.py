"""The click path's use cases as the event loop runs them: choice on the loop, writes
through the worker's group commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from ..conversions import Postback, PostbackResult
from ..domain import Decision, Outcome, StoreBusy
from ..policies import PolicyParams
from ..service import BanditService
from .group_commit import GroupCommit

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
        self, click_id: str, offer_ids: Sequence[int], params: PolicyParams, source: str | None
    ) -> Decision:
        """``BanditService.decide``, its write committed with the other requests' at hand."""
        decider = self._decider
        decision = await patiently(decider.choose, click_id, offer_ids, params, source)
        return decider.settle(await self._writer.run(decider.record, decision, offer_ids, recording=decision if decision.recorded else None))

    async def feedback(self, click_id: str, reward_micros: int) -> tuple[Outcome, bool]:
        """``BanditService.feedback``, committed with the other requests' at hand."""
        decider = self._decider
        return decider.settle_feedback(await self._writer.run(decider.resolve, click_id, reward_micros))

    async def postback(self, postback: Postback) -> PostbackResult:
        """``BanditService.postback``, committed with the other requests' at hand."""
        return await self._writer.run(self._service.postback, postback)
