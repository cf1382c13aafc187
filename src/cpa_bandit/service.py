"""The use cases, independent of HTTP: decide, take feedback, report stats, reset."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .domain import ConflictingDecision, ConflictingFeedback, Decision, OfferCounters, Outcome
from .money import MICROS, from_micros
from .policies import ArmStats, PolicyParams, select
from .store import Store

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class OfferStats:
    """What ``/offer_ids/{id}/stats/`` reports: lifetime counters and per-click ratios."""

    offer_id: int
    clicks: int
    conversions: int
    reward: float
    cr: float
    rpc: float

    @classmethod
    def of(cls, counters: OfferCounters) -> OfferStats:
        clicks = counters.clicks
        reward = from_micros(counters.reward_micros)
        return cls(
            offer_id=counters.offer_id,
            clicks=clicks,
            conversions=counters.conversions,
            reward=reward,
            cr=counters.conversions / clicks if clicks else 0.0,
            rpc=reward / clicks if clicks else 0.0,
        )


class BanditService:
    def __init__(self, store: Store, rng: np.random.Generator, clock: Clock = time.time) -> None:
        self.store = store
        self._rng = rng
        self._clock = clock

    def decide(
        self, click_id: str, offer_ids: Sequence[int], params: PolicyParams, source: str | None = None
    ) -> Decision:
        """Choose an offer for a click and record it; a retried click gets its first answer."""
        # rows in the store's COUNTER_COLUMNS order, each contiguous for the policy's ufuncs
        clicks, resolved, conversions, reward_micros = np.array(
            self.store.read_counters(offer_ids).T, dtype=np.float64, order="C"
        )
        stats = ArmStats.from_counts(clicks, resolved, conversions, reward_micros / MICROS)
        choice = select(stats, params, self._rng)
        decision = Decision(
            click_id=click_id,
            offer_id=offer_ids[choice.index],
            source=source,
            created_at=self._clock(),
            params=params.as_dict(),
            propensity=choice.propensity,
        )
        stored, created = self.store.record_decision(decision)
        if not created and stored.offer_id not in offer_ids:
            raise ConflictingDecision(
                f"click_id {click_id!r} was already given offer {stored.offer_id},"
                " which is not among the offers listed now",
                offer_id=stored.offer_id,
            )
        return stored

    def feedback(self, click_id: str, reward_micros: int) -> Outcome:
        """Resolve a click; the same feedback again is answered alike and changes nothing."""
        outcome, _ = self.store.resolve_click(click_id, reward_micros, self._clock())
        if outcome.reward_micros != reward_micros:
            raise ConflictingFeedback(
                f"click_id {click_id!r} was already resolved with reward"
                f" {from_micros(outcome.reward_micros)}; feedback cannot change it",
                offer_id=outcome.offer_id,
                reward=from_micros(outcome.reward_micros),
                is_conversion=outcome.is_conversion,
            )
        return outcome

    def offer_stats(self, offer_id: int) -> OfferStats:
        row = self.store.read_counters([offer_id])[0]
        return OfferStats.of(OfferCounters(offer_id, *(int(v) for v in row)))

    def reset(self) -> None:
        self.store.reset()

