"""A process-local store for tests, benchmarks and the simulator; nothing survives exit."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from ..domain import Decision, Offer, Outcome, UnknownClick
from .base import COUNTER_COLUMNS, NO_SOURCE, OfferRows

_CLICKS, _RESOLVED, _CONVERSIONS, _REWARD, _EXPIRED = range(len(COUNTER_COLUMNS))


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clear()

    def record_decision(self, decision: Decision) -> tuple[Decision, bool]:
        with self._lock:
            stored = self._decisions.setdefault(decision.click_id, decision)
            if stored is not decision:
                return stored, False
            for row in self._rows(decision):
                row[_CLICKS] += 1
            return decision, True

    def resolve_click(self, click_id: str, reward_micros: int, at: float) -> tuple[Outcome, bool]:
        with self._lock:
            decision = self._decisions.get(click_id)
            if decision is None:
                raise UnknownClick(f"unknown click_id {click_id!r}: no decision was recorded for it")
            stored = self._rewards.get(click_id)
            if stored is not None:
                return Outcome(click_id, decision.offer_id, stored), False
            self._rewards[click_id] = reward_micros
            was_expired = self._expired.pop(click_id, False)
            for row in self._rows(decision):
                row[_RESOLVED] += 1
                row[_CONVERSIONS] += reward_micros > 0
                row[_REWARD] += reward_micros
                row[_EXPIRED] -= was_expired
            return Outcome(click_id, decision.offer_id, reward_micros), True

    def expire_clicks(self, decided_before: float, limit: int) -> int:
        with self._lock:
            due = [
                d for click_id, d in self._decisions.items()
                if d.created_at < decided_before and click_id not in self._rewards and click_id not in self._expired
            ][:limit]  # fmt: skip
            for decision in due:
                self._expired[decision.click_id] = True
                for row in self._rows(decision):
                    row[_EXPIRED] += 1
            return len(due)

    def read_offers(self, offer_ids: Sequence[int], source: str | None = None) -> OfferRows:
        k = len(offer_ids)
        pooled = np.zeros((k, len(COUNTER_COLUMNS)), dtype=np.int64)
        by_source = np.zeros_like(pooled)
        payout = np.full(k, -1, dtype=np.int64)
        paused = np.zeros(k, dtype=bool)
        with self._lock:
            for i, offer_id in enumerate(offer_ids):
                if (row := self._counters.get((offer_id, NO_SOURCE))) is not None:
                    pooled[i] = row
                if source and (row := self._counters.get((offer_id, source))) is not None:
                    by_source[i] = row
                if (offer := self._offers.get(offer_id)) is not None:
                    payout[i] = -1 if offer.payout_micros is None else offer.payout_micros
                    paused[i] = offer.paused
        return OfferRows(pooled, by_source, payout, paused)

    def known_offer_ids(self) -> list[int]:
        with self._lock:
            return sorted({offer_id for offer_id, _ in self._counters} | set(self._offers))

    def recent_choices(self, decisions: int) -> dict[int, int]:
        with self._lock:
            latest = sorted(self._decisions.values(), key=lambda d: d.created_at)[-decisions:]
        counts: dict[int, int] = {}
        for decision in latest:
            counts[decision.offer_id] = counts.get(decision.offer_id, 0) + 1
        return counts

    def put_offer(self, offer: Offer) -> Offer:
        with self._lock:
            self._offers[offer.offer_id] = offer
        return offer

    def get_offers(self, offer_ids: Sequence[int] | None = None) -> list[Offer]:
        with self._lock:
            wanted = self._offers.keys() if offer_ids is None else set(offer_ids) & self._offers.keys()
            return [self._offers[offer_id] for offer_id in sorted(wanted)]

    def reset(self) -> None:
        with self._lock:
            self._clear()

    def close(self) -> None:
        pass

    def _clear(self) -> None:
        self._decisions: dict[str, Decision] = {}
        self._rewards: dict[str, int] = {}
        self._expired: dict[str, bool] = {}
        self._counters: dict[tuple[int, str], list[int]] = {}
        self._offers: dict[int, Offer] = {}

    def _rows(self, decision: Decision) -> list[list[int]]:
        """The pooled counter row of the decision's offer and, with a source, its source row."""
        keys = [(decision.offer_id, NO_SOURCE)]
        if decision.source:
            keys.append((decision.offer_id, decision.source))
        return [self._counters.setdefault(key, [0] * len(COUNTER_COLUMNS)) for key in keys]
