"""The use cases on every click: choose an offer and record it; take a click's feedback.

Each is split in a *choice* (pure computation on the worker's counters) and a *write* to
the store, so that the writes of concurrent requests can be committed together
(``group_commit``), and a *settle* step that applies what the store took to the worker's
counters. ``decide`` and ``feedback`` chain them for callers that write one at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..decision_log import evidence_of
from ..domain import (
    STATUSES,
    ConflictingDecision,
    ConflictingFeedback,
    Decision,
    NoEligibleOffer,
    Outcome,
    StoreBusy,
    StoreUnavailable,
)
from ..holdout import in_holdout
from ..learning import Learning, learning_stats
from ..money import from_micros
from ..policies import ArmStats, PolicyParams, select
from ..policies.population import Population, fit_population
from ..store import Store
from ..store.base import OfferRows
from .counters import LocalCounters

Clock = Callable[[], float]

MAX_MODELS = 10_000
"""Offer sets whose population fit a worker keeps; past that, all are refitted."""


@dataclass(frozen=True, slots=True)
class DecisionPath:
    """How decisions read statistics (settings ``CPA_BANDIT_DECISION_CACHE_MS`` …)."""

    cache_ms: float = 0.0
    """How stale a decision's view of other workers' changes may be: this worker's own
    decisions and feedback count at once, the store is read again after this long (and the
    population refitted); 0 = read the store on every decision."""
    store_retry_s: float = 1.0
    """After the store failed a decision, decide from the last known statistics for this long
    before trying the store again, so that a dead store does not cost every click a timeout."""
    log_evidence: bool = True
    """Log each decision's evidence (the decision log); off when its retention is 0."""
    holdout_share: float = 0.0
    """Share of ``/sample/`` clicks served uniformly at random (``CPA_BANDIT_HOLDOUT_SHARE``):
    the baseline of ``/uplift``. A smartlink has its own."""


@dataclass(frozen=True, slots=True)
class Via:
    """How a click came in: through a smartlink (logged with the decision, so that its uplift
    can be read per smartlink) with its own holdout share, or ``/sample/`` (None, None: the
    service's share)."""

    smartlink: str | None = None
    holdout: float | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the store answered for a decision: the stored one (the first answer for a
    retried click id) and whether this call created it."""

    decision: Decision
    created: bool


def _nothing_to_choose(offer_ids: Sequence[int], rows: OfferRows, now: float) -> NoEligibleOffer:
    """The refusal, each offer listed under one reason: archived > paused > capped."""
    archived = [offer_ids[i] for i in np.flatnonzero(rows.status == STATUSES.index("archived"))]
    paused = [offer_ids[i] for i in np.flatnonzero(rows.status == STATUSES.index("paused"))]
    capped = [offer_ids[i] for i in np.flatnonzero((rows.status == 0) & (rows.capped_until > now))]
    why = [part for part, ids in (("paused", paused), ("archived", archived), ("at its conversion cap", capped)) if ids]
    reasons = " and ".join(why) if len(why) < 3 else f"{why[0]}, {why[1]} and {why[2]}"
    return NoEligibleOffer(
        f"every listed offer is {reasons}; nothing can be chosen",
        offer_ids=list(offer_ids),
        paused=paused,
        capped=capped,
        archived=archived,
    )


class Decider:
    def __init__(self, store: Store, rng: np.random.Generator, clock: Clock, learning: Learning, path: DecisionPath) -> None:
        self.store = store
        self._rng = rng
        self._clock = clock
        self._learning = learning
        self._path = path
        self.counters = LocalCounters()
        self._models: dict[tuple[int, ...], tuple[float, Population]] = {}
        self._store_down_until = 0.0
        self.unrecorded_decisions = 0
        """Decisions answered while the store was unreachable, since start."""

    # --- decisions ---------------------------------------------------------------------

    def decide(
        self,
        click_id: str,
        offer_ids: Sequence[int],
        params: PolicyParams,
        source: str | None = None,
        via: Via = Via(),
    ) -> Decision:
        """Choose an offer for a click and record it; a retried click gets its first answer.

        With the store unreachable, the choice is made from the last statistics this worker
        read and returned with ``recorded=False``: the click still gets a sound offer."""
        return self.settle(self.record(self.choose(click_id, offer_ids, params, source, via), offer_ids))

    def choose(
        self, click_id: str, offer_ids: Sequence[int], params: PolicyParams, source: str | None, via: Via = Via()
    ) -> Decision:
        """The decision for a click, not recorded yet (``recorded=False`` when the store is
        known to be down: it will not be). A click in the holdout group is served uniformly."""
        share = self._path.holdout_share if via.holdout is None else via.holdout
        if in_holdout(click_id, share):
            params = replace(params, holdout=True)
        rows, reachable = self._rows(offer_ids, source)
        now = self._clock()
        resting = rows.resting(now)
        chosen_from = list(offer_ids)
        arms = learning_stats(rows, source, self._learning)
        if resting.any():
            active = np.flatnonzero(~resting)
            if len(active) == 0:
                # a retried click still gets its first answer, even if that offer rests now
                stored = self.store.find_click(click_id)
                if stored is not None and stored.decision.offer_id in offer_ids:
                    return stored.decision
                raise _nothing_to_choose(offer_ids, rows, now)
            chosen_from = [offer_ids[i] for i in active]
            arms = arms.take(active)
        arms = replace(arms, population=self._population(chosen_from, arms))
        choice = select(arms, params, self._rng)
        return Decision(
            click_id=click_id,
            offer_id=chosen_from[choice.index],
            source=source,
            created_at=now,
            params=params.as_dict() if via.smartlink is None else {**params.as_dict(), "smartlink": via.smartlink},
            propensity=choice.propensity,
            evidence=evidence_of(chosen_from, arms, arms.population) if self._path.log_evidence else None,
            recorded=reachable,
        )

    def record(self, decision: Decision, offer_ids: Sequence[int]) -> Recorded:
        """Store a chosen decision (one write: the part to commit with others')."""
        if not decision.recorded:
            return Recorded(decision, False)
        try:
            stored, created = self.store.record_decision(decision)
        except StoreBusy:
            raise  # the caller retries off the event loop, where waiting is allowed
        except StoreUnavailable:
            self._store_failed()
            return Recorded(replace(decision, recorded=False), False)
        if not created and stored.offer_id not in offer_ids:
            raise ConflictingDecision(
                f"click_id {decision.click_id!r} was already given offer {stored.offer_id},"
                " which is not among the offers listed now",
                offer_id=stored.offer_id,
            )
        return Recorded(stored, created)

    def settle(self, recorded: Recorded) -> Decision:
        """The decision to answer, once the store took it: counted at once in this worker."""
        decision = recorded.decision
        if recorded.created:
            self.counters.count_click(decision.offer_id, decision.source)
        elif not decision.recorded:
            self.unrecorded_decisions += 1
        return decision

    # --- feedback ----------------------------------------------------------------------

    def feedback(self, click_id: str, reward_micros: int) -> tuple[Outcome, bool]:
        """Resolve a click; the same feedback again is answered alike and changes nothing.
        Returns the outcome and whether this call applied it (False for a replay)."""
        return self.settle_feedback(self.resolve(click_id, reward_micros))

    def resolve(self, click_id: str, reward_micros: int) -> tuple[Outcome, bool]:
        """Store a click's feedback (the write)."""
        outcome, applied = self.store.resolve_click(click_id, reward_micros, self._clock())
        if outcome.reward_micros != reward_micros:
            raise ConflictingFeedback(
                f"click_id {click_id!r} was already resolved with reward"
                f" {from_micros(outcome.reward_micros)}; feedback cannot change it",
                offer_id=outcome.offer_id,
                reward=from_micros(outcome.reward_micros),
                is_conversion=outcome.is_conversion,
            )
        return outcome, applied

    def settle_feedback(self, resolved: tuple[Outcome, bool]) -> tuple[Outcome, bool]:
        outcome, applied = resolved
        if applied:
            self.counters.count_outcome(outcome.offer_id, outcome.reward_micros)
        return resolved

    # --- what decisions read -------------------------------------------------------------

    def forget(self, offer_ids: Sequence[int] | None = None) -> None:
        """The registry or the evidence of these offers (None: of every offer) changed:
        the next decision reads them from the store and refits their population."""
        self.counters.forget(offer_ids)
        self._models.clear()

    def _rows(self, offer_ids: Sequence[int], source: str | None) -> tuple[OfferRows, bool]:
        """The offers' statistics, and whether the store answered (or recently did)."""
        now = time.monotonic()
        if self._path.cache_ms > 0:
            fresh = self.counters.fresh(offer_ids, source, read_after=now - self._path.cache_ms / 1000)
            if fresh is not None:
                return fresh, now >= self._store_down_until
        if now < self._store_down_until:
            return self.counters.last_known(offer_ids, source), False
        try:
            rows = self.store.read_offers(offer_ids, source)
        except StoreBusy:
            raise
        except StoreUnavailable:
            self._store_failed()
            return self.counters.last_known(offer_ids, source), False
        self.counters.put(offer_ids, source, rows, now)
        return rows, True

    def _population(self, offer_ids: list[int], arms: ArmStats) -> Population:
        """The population fit of these offers: refitted once per staleness bound (a fit
        moves little in a few milliseconds, and costs as much as the rest of a decision)."""
        if self._path.cache_ms <= 0:
            return fit_population(arms)
        key = tuple(offer_ids)
        now = time.monotonic()
        cached = self._models.get(key)
        if cached is not None and cached[0] > now - self._path.cache_ms / 1000:
            return cached[1]
        if len(self._models) >= MAX_MODELS:
            self._models.clear()
        population = fit_population(arms)
        self._models[key] = (now, population)
        return population

    def _store_failed(self) -> None:
        """Spare the next decisions the store for a while: they would only wait for it to fail."""
        self._store_down_until = time.monotonic() + self._path.store_retry_s

