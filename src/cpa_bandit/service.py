"""The use cases, independent of HTTP: decide, take feedback, maintain, report, configure."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NoReturn

import numpy as np

from .conversions import Postback, PostbackResult
from .decision_log import LogRow, evidence_stats
from .domain import (
    Decision,
    Offer,
    OfferCounters,
    Outcome,
    PostbackRefused,
    StoreUnavailable,
    UnknownClick,
)
from .clickpath.decisions import Clock, Decider, DecisionPath, Via
from .clickpath.landings import Landings
from .evaluation.uplift import GroupRevenue, Uplift, uplift
from .learning import Learning, learning_stats
from .money import from_micros
from .policies import MODEL_VERSION, PolicyParams, choice_probabilities
from .policies.change import changed
from .policies.thompson import rpc_posterior
from .store import Store
from .store.base import HOUR, ClickRecord, HourCounts, LoggedDecision

RECENT_DECISIONS = 1_000
"""How many of the latest decisions the "share of recent decisions" is taken over."""

CHANGE_WINDOW_S = 14 * 86_400.0
"""The change test looks at most this far back: a change is found within days of it, and
older cohorts would only cost reading."""

EXPIRY_BATCH = 10_000
"""Most clicks one maintenance pass expires (or drops from the log) per transaction, to
keep transactions short."""


@dataclass(frozen=True, slots=True)
class Retention:
    """How long history is kept (setting ``CPA_BANDIT_DECISION_LOG_DAYS``)."""

    decision_log_s: float = 40 * 86_400.0
    """Decisions stay in the decision log this long; 0 = no decision log."""
    hours_s: float = 35 * 86_400.0
    """Hourly counters (the dashboard's charts) stay this long."""


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


@dataclass(frozen=True, slots=True)
class OfferReport:
    """An offer as the operator sees it in ``/stats/``: counters, what the model believes
    (posterior mean and 90 % interval of revenue per click, probability of being the best
    of the offers reported) and where traffic goes."""

    counters: OfferCounters
    offer: Offer | None
    rpc_mean: float
    rpc_low: float
    rpc_high: float
    p_best: float
    recent_share: float
    evidence_since: float
    """When the offer's learning evidence starts (0: never restarted by the change test)."""
    at: float = 0.0
    """Service time of the report: ``status`` and ``capped_until`` are as of then."""

    @property
    def stats(self) -> OfferStats:
        return OfferStats.of(self.counters)

    @property
    def status(self) -> str:
        """``Offer.status_at`` the report's time; ``active`` when not registered."""
        return self.offer.status_at(self.at) if self.offer else "active"

    @property
    def capped_until(self) -> float | None:
        """When the offer, at its conversion cap, returns to rotation; None when not capped."""
        return self.offer.capped_until if self.offer and self.offer.capped(self.at) else None


def _counters(offer_id: int, row: np.ndarray) -> OfferCounters:
    return OfferCounters(offer_id, *(int(v) for v in row))


def _propensity(decision: Decision) -> float:
    """The probability that the decision's policy chose its offer: stored for UCB, computed
    from the logged evidence for Thompson (see ``policies.Choice``); NaN (unknown) for a
    Thompson decision of an earlier model, which this one cannot replay."""
    if decision.propensity is not None:
        return decision.propensity
    assert decision.evidence is not None
    if decision.evidence.model != MODEL_VERSION:
        return math.nan
    chosen = decision.evidence.offers.index(decision.offer_id)
    params = PolicyParams.from_dict(decision.params)
    return float(choice_probabilities(evidence_stats(decision.evidence), params, np.array([chosen]))[chosen])


@dataclass(frozen=True, slots=True)
class Maintenance:
    """What one maintenance pass did."""

    expired: int
    """Clicks whose attribution window passed."""
    restarted: list[int]
    """Offers whose rate changed: their learning evidence now starts afresh."""


class BanditService:
    def __init__(
        self,
        store: Store,
        rng: np.random.Generator,
        clock: Clock = time.time,
        learning: Learning = Learning(),
        decision_path: DecisionPath = DecisionPath(),
        retention: Retention = Retention(),
    ) -> None:
        self.store = store
        self._clock = clock
        self._learning = learning
        self._retention = retention
        self.decider = Decider(
            store, rng, clock, learning, replace(decision_path, log_evidence=retention.decision_log_s > 0)
        )
        self.landings = Landings(store, decision_path.cache_ms / 1000)
        """Smartlinks and their offers' landing URLs (``/smartlinks``, ``/go/``)."""

    # --- decisions and feedback (clickpath.decisions) ---------------------------------------

    def decide(
        self, click_id: str, offer_ids: Sequence[int], params: PolicyParams, source: str | None = None, via: Via = Via()
    ) -> Decision:
        return self.decider.decide(click_id, offer_ids, params, source, via)

    def feedback(self, click_id: str, reward_micros: int) -> tuple[Outcome, bool]:
        return self.decider.feedback(click_id, reward_micros)

    @property
    def unrecorded_decisions(self) -> int:
        """Decisions answered while the store was unreachable, since start."""
        return self.decider.unrecorded_decisions

    def postback(self, postback: Postback) -> PostbackResult:
        """Apply a tracker's conversion postback; every outcome, refusals by reason, is counted."""
        try:
            result = self.store.apply_postback(postback, self._clock())
        except UnknownClick as exc:
            self.refuse_postback(PostbackRefused("unknown_click", exc.detail, status_code=404))
        except PostbackRefused as exc:
            self.refuse_postback(exc)
        self.store.count_postback("applied" if result.changed else "duplicate")
        if result.changed:  # its counters (and maybe its cap) moved: decisions read it again
            self.decider.forget([result.conversion.offer_id])
        return result

    def refuse_postback(self, refusal: PostbackRefused) -> NoReturn:
        """Count a refused postback by its reason, and raise the refusal (even when the
        store cannot count it: the tracker must still learn why it was refused)."""
        with contextlib.suppress(StoreUnavailable):
            self.store.count_postback(f"refused:{refusal.reason}")
        raise refusal

    def postback_counts(self) -> dict[str, int]:
        return self.store.postback_counts()

    def click(self, click_id: str) -> ClickRecord:
        """What is stored about a click: where an operator checks what a tracker reported."""
        found = self.store.find_click(click_id)
        if found is None:
            raise UnknownClick(f"unknown click_id {click_id!r}: no decision was recorded for it")
        return found

    def maintain(self) -> Maintenance:
        """Expire the clicks whose attribution window passed without feedback (learning then
        counts them as non-conversions; late feedback still resolves them), drop history
        past retention, and restart the evidence of offers whose rate changed."""
        now = self._clock()
        cutoff = now - self._learning.attribution_window_s
        expired = 0
        while (batch := self.store.expire_clicks(cutoff, EXPIRY_BATCH)) > 0:
            expired += batch
            if batch < EXPIRY_BATCH:
                break
        log_before, hours_before = now - self._retention.decision_log_s, now - self._retention.hours_s
        while self.store.trim_history(log_before, hours_before, EXPIRY_BATCH) == EXPIRY_BATCH:
            pass
        restarted = self.detect_changes(now) if self._learning.change_detection else []
        return Maintenance(expired, restarted)

    def detect_changes(self, now: float) -> list[int]:
        """Test every offer's hourly cohorts since its evidence started (``policies.change``)
        and restart the offers whose rate changed; returns them. Every worker may test: the
        store restarts an offer once, whoever detects it first."""
        offer_ids = self.store.known_offer_ids()
        if not offer_ids:
            return []
        since = self.store.read_offers(offer_ids).since
        start = max(float(since.min()), now - CHANGE_WINDOW_S)
        cohorts: dict[int, list[HourCounts]] = {}
        for hour in self.store.hourly(start, now + HOUR):
            cohorts.setdefault(hour.offer_id, []).append(hour)
        restarted = []
        for offer_id, offer_since in zip(offer_ids, since.tolist()):
            # whole hours after the restart only: the hour it happened in mixes both rates
            first = max(math.ceil(offer_since / HOUR) * HOUR, now - CHANGE_WINDOW_S)
            hours = [h for h in cohorts.get(offer_id, ()) if h.hour >= first]
            if len(hours) < 2:
                continue
            resolved = np.array([h.resolved for h in hours], dtype=np.float64)
            conversions = np.array([h.conversions for h in hours], dtype=np.float64)
            if changed(resolved, conversions) is not None and self.store.restart_offer(offer_id, now, offer_since):
                restarted.append(offer_id)
        if restarted:
            self.decider.forget(restarted)
        return restarted

    # --- history -----------------------------------------------------------------------

    def decision_log(self, since: float = -math.inf, until: float = math.inf) -> Iterator[LogRow]:
        """The logged decisions made in [since, until), in order, with their outcomes so
        far: approved revenue, 0 once the attribution window passed without any, None while
        pending. ``action`` indexes the offer among all known offers (Open Bandit
        Pipeline's integer actions). The offers are read before this returns, so an
        unreachable store fails the call rather than a writer half-way through its output."""
        actions = {offer_id: i for i, offer_id in enumerate(self.store.known_offer_ids())}
        return self._log_rows(actions, self.store.decision_log(since, until))

    @staticmethod
    def _log_rows(actions: dict[int, int], logged_decisions: Iterable[LoggedDecision]) -> Iterator[LogRow]:
        for n, logged in enumerate(logged_decisions):
            decision, reward = logged.decision, logged.totals.reward_micros
            assert decision.evidence is not None, "the log holds decisions with their evidence"
            yield LogRow(
                round=n,
                timestamp=decision.created_at,
                click_id=decision.click_id,
                source=decision.source or "",
                params=decision.params,
                offer_id=decision.offer_id,
                action=actions[decision.offer_id],
                pscore=_propensity(decision),
                reward=from_micros(reward) if reward is not None else 0.0 if logged.expired else None,
                evidence=decision.evidence,
            )

    def timeline(self, hours: int = 24) -> list[HourCounts]:
        """Each offer's clicks, conversions and revenue per hour over the last ``hours``
        hours (this one included), by the hour of the click."""
        until = (self._clock() // HOUR + 1) * HOUR
        return self.store.hourly(until - hours * HOUR, until)

    def sources(self) -> list[str]:
        return self.store.known_sources()

    # --- reports -----------------------------------------------------------------------

    def offer_stats(self, offer_id: int, source: str | None = None) -> OfferStats:
        return OfferStats.of(_counters(offer_id, self.store.read_offers([offer_id], source).seen_from(source)[0]))

    def report(self, offer_ids: Sequence[int] | None = None, source: str | None = None) -> list[OfferReport]:
        """Every offer (or the listed ones), as seen from one source or pooled."""
        ids = list(offer_ids) if offer_ids is not None else self.store.known_offer_ids()
        if not ids:
            return []
        rows = self.store.read_offers(ids, source)
        counters = rows.seen_from(source)
        # the same model as Thompson's with its default prior; a fixed seed keeps reports stable
        mean, low, high, best = rpc_posterior(learning_stats(rows, source, self._learning), np.random.default_rng(0))
        offers = {offer.offer_id: offer for offer in self.store.get_offers(ids)}
        recent = self.store.recent_choices(RECENT_DECISIONS)
        recent_total = sum(recent.values())
        now = self._clock()
        return [
            OfferReport(
                counters=_counters(offer_id, counters[i]),
                offer=offers.get(offer_id),
                rpc_mean=float(mean[i]),
                rpc_low=float(low[i]),
                rpc_high=float(high[i]),
                p_best=float(best[i]),
                recent_share=recent.get(offer_id, 0) / recent_total if recent_total else 0.0,
                evidence_since=float(rows.since[i]),
                at=now,
            )
            for i, offer_id in enumerate(ids)
        ]

    # --- the offer registry --------------------------------------------------------------

    def now(self) -> float:
        return self._clock()

    def put_offer(self, offer: Offer) -> Offer:
        """Create or replace a registry entry, stamped now (its cap state is the store's)."""
        stored = self.store.put_offer(replace(offer, updated_at=self._clock(), capped_until=0.0))
        self.decider.forget([offer.offer_id])
        self.landings.forget()
        return stored

    def patch_offer(self, offer_id: int, changes: Mapping[str, object]) -> Offer | None:
        """Change some fields of a registry entry (``Offer`` field names), the others kept;
        None when the offer has no entry. Changes that change nothing leave it as it was,
        ``updated_at`` included."""
        stored = self.store.patch_offer(offer_id, changes, self._clock())
        if stored is not None:
            self.decider.forget([offer_id])
            self.landings.forget()
        return stored

    def archive_offer(self, offer_id: int) -> Offer | None:
        """Archive a registered offer (never chosen again; counters and history kept); an
        archived one is left as it is. None when the offer has no entry."""
        return self.patch_offer(offer_id, {"status": "archived"})

    def offers(self, offer_ids: Sequence[int] | None = None) -> list[Offer]:
        return self.store.get_offers(offer_ids)

    def reset(self) -> None:
        self.store.reset()
        self.decider.forget()
        self.landings.forget()

    # --- uplift over the holdout -----------------------------------------------------------

    def uplift(self, since: float = -math.inf, until: float = math.inf, smartlink: str | None = None) -> Uplift:
        """Revenue per click of the bandit's and of the holdout's clicks decided in [since,
        until) (through ``smartlink`` only, when given), resolved ones only: fed back, or past
        the attribution window (0). Read from the decision log, where each decision is marked."""
        groups = {False: GroupRevenue(), True: GroupRevenue()}  # in the holdout?
        for logged in self.store.decision_log(since, until):
            params = logged.decision.params
            if smartlink is not None and params.get("smartlink") != smartlink:
                continue
            group, reward = bool(params.get("holdout")), logged.totals.reward_micros
            if reward is None and not logged.expired:  # a 0 now that may still convert
                groups[group] = groups[group].plus_pending()
            else:
                groups[group] = groups[group].plus(from_micros(reward or 0))
        return uplift(groups[False], groups[True])
