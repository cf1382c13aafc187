"""The learning statistics of the offers a worker decides on, kept in its memory.

A decision needs its eligible offers' counters; reading them from the store on every click
costs more than the decision itself (and a network round trip on Redis). A worker keeps
them here instead:

* its own decisions and feedback are applied at once, after the store took them, so its
  next decision sees them;
* other workers' and replicas' changes arrive when an offer's counters are read again from
  the store, at most ``CPA_BANDIT_DECISION_CACHE_MS`` after the last read: that is the
  staleness of *decisions* only. Counters, reports, postbacks and caps always come from
  the store;
* the registry's changes made through this worker (pause, archive, payout, caps) and evidence
  restarts drop the offer here, so they apply to the next decision;
* when the store cannot be reached, the last counters read (however old) still make a
  sound decision, answered as not recorded.

Pooled counters are kept per offer and a source's per (offer, source), so that a click
counts once in the offer's pooled counters whichever source it came from. Memory is
bounded: past ``max_offers`` offers or ``max_sources`` (offer, source) pairs, everything is
dropped and read again (a worker deciding on that many is rare, and a read is cheap).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from ..money import MICROS
from ..store.base import COUNTER_COLUMNS, OfferRows

_CLICKS, _RESOLVED, _CONVERSIONS, _REWARD = (COUNTER_COLUMNS.index(c) for c in ("clicks", "resolved", "conversions", "reward_micros"))
_OFFER_FIELDS = ("pooled", "pooled_before", "payout_micros", "status", "capped_until", "since", "reward_sq", "reward_sq_before")
_SOURCE_FIELDS = ("by_source", "by_source_before")


class _Table:
    """Rows of some of ``OfferRows``'s fields, one per key, with when each was read."""

    def __init__(self, fields: Sequence[str], capacity: int) -> None:
        self.slots: dict[object, int] = {}
        self.capacity = capacity
        template = OfferRows.unseen(1)
        self.columns = {
            name: np.zeros((capacity, *getattr(template, name).shape[1:]), dtype=getattr(template, name).dtype)
            for name in fields
        }
        self.read_at = np.zeros(capacity)

    def find(self, keys: Sequence[object]) -> np.ndarray | None:
        """The keys' slots, or None if one was never read."""
        slots = self.slots
        try:
            return np.fromiter((slots[key] for key in keys), dtype=np.intp, count=len(keys))
        except KeyError:
            return None

    def found(self, keys: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
        """Of the keys, the positions that were read and their slots."""
        pairs = [(i, self.slots[key]) for i, key in enumerate(keys) if key in self.slots]
        positions = np.array([i for i, _ in pairs], dtype=np.intp)
        return positions, np.array([slot for _, slot in pairs], dtype=np.intp)

    def store(self, keys: Sequence[object], rows: OfferRows, at: float) -> None:
        if len(self.slots) + len(keys) > self.capacity:
            self.slots.clear()
        slots = self.slots
        index = np.fromiter((slots.setdefault(key, len(slots)) for key in keys), dtype=np.intp, count=len(keys))
        for name, column in self.columns.items():
            column[index] = getattr(rows, name)
        self.read_at[index] = at

    def slot(self, key: object) -> int | None:
        return self.slots.get(key)

    def expire(self, which: Callable[[object], bool]) -> None:
        """Make the keys for which ``which(key)`` holds stale (their slots stay allocated)."""
        for key, slot in self.slots.items():
            if which(key):
                self.read_at[slot] = -np.inf


class LocalCounters:
    def __init__(self, max_offers: int = 100_000, max_sources: int = 400_000) -> None:
        self._offers = _Table(_OFFER_FIELDS, max_offers)
        self._sources = _Table(_SOURCE_FIELDS, max_sources)
        self._lock = threading.Lock()

    def fresh(self, offer_ids: Sequence[int], source: str | None, read_after: float) -> OfferRows | None:
        """The offers' rows if every one was read after ``read_after``; else None."""
        with self._lock:
            offer_slots = self._offers.find(offer_ids)
            if offer_slots is None or self._offers.read_at[offer_slots].min(initial=np.inf) <= read_after:
                return None
            source_slots = None
            if source:
                source_slots = self._sources.find([(offer_id, source) for offer_id in offer_ids])
                if source_slots is None or self._sources.read_at[source_slots].min(initial=np.inf) <= read_after:
                    return None
            return self._gather(offer_slots, source_slots)

    def last_known(self, offer_ids: Sequence[int], source: str | None) -> OfferRows:
        """The latest rows read of each offer, however old; an unseen offer's for the others."""
        rows = OfferRows.unseen(len(offer_ids))
        tables: list[tuple[_Table, Sequence[object]]] = [(self._offers, offer_ids)]
        if source:
            tables.append((self._sources, [(offer_id, source) for offer_id in offer_ids]))
        with self._lock:
            for table, keys in tables:
                positions, slots = table.found(keys)
                for name, column in table.columns.items():
                    getattr(rows, name)[positions] = column[slots]
        return rows

    def put(self, offer_ids: Sequence[int], source: str | None, rows: OfferRows, at: float) -> None:
        """Rows just read from the store, at ``at`` (time.monotonic)."""
        with self._lock:
            self._offers.store(offer_ids, rows, at)
            if source:
                self._sources.store([(offer_id, source) for offer_id in offer_ids], rows, at)

    def count_click(self, offer_id: int, source: str | None) -> None:
        """A decision this worker recorded."""
        with self._lock:
            if (slot := self._offers.slot(offer_id)) is not None:
                self._offers.columns["pooled"][slot, _CLICKS] += 1
            if source and (slot := self._sources.slot((offer_id, source))) is not None:
                self._sources.columns["by_source"][slot, _CLICKS] += 1

    def count_outcome(self, offer_id: int, reward_micros: int) -> None:
        """A click this worker resolved (its source's counters follow at the next read)."""
        with self._lock:
            slot = self._offers.slot(offer_id)
            if slot is None:
                return
            pooled = self._offers.columns["pooled"]
            pooled[slot, _RESOLVED] += 1
            if reward_micros > 0:
                pooled[slot, _CONVERSIONS] += 1
                pooled[slot, _REWARD] += reward_micros
                self._offers.columns["reward_sq"][slot] += (reward_micros / MICROS) ** 2

    def forget(self, offer_ids: Sequence[int] | None = None) -> None:
        """Read these offers (every offer: None) from the store at their next decision: the
        registry or an evidence restart changed them."""
        with self._lock:
            if offer_ids is None:
                self._offers.slots.clear()
                self._sources.slots.clear()
                return
            dropped = set(offer_ids)
            self._offers.expire(lambda key: key in dropped)
            self._sources.expire(lambda key: key[0] in dropped)  # type: ignore[index]

    def _gather(self, offer_slots: np.ndarray, source_slots: np.ndarray | None) -> OfferRows:
        offers = {name: column[offer_slots] for name, column in self._offers.columns.items()}
        if source_slots is None:
            zeros = np.zeros((len(offer_slots), len(COUNTER_COLUMNS)), dtype=np.int64)
            sources = {"by_source": zeros, "by_source_before": zeros}
        else:
            sources = {name: column[source_slots] for name, column in self._sources.columns.items()}
        return OfferRows(**offers, **sources)
