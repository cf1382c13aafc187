"""The last offer statistics this replica read, for deciding fast and for deciding when the
store is down.

A decision needs its eligible offers' counters; with a shared store across the network that
read is the decision's main cost. Within a staleness bound of milliseconds the counters
barely move (a few clicks among thousands), so a replica may reuse what it read. And when
the store cannot answer, the last known counters (however old) still make a sound decision,
which beats refusing the click: the decision is then answered as not recorded. Counters and
reports never use this cache.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import fields

import numpy as np

from .store.base import OfferRows

_FIELDS = tuple(field.name for field in fields(OfferRows))
_NEVER_READ = (0.0, None, -1)


class OfferCache:
    """Per (offer, source): when it was last read, and the read it is in (rows and index).

    Keeping references to the reads, not copies of rows, keeps ``put`` cheap: it runs on
    every decision, while ``get`` and ``last_known`` gather rows only when they are used.
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self._entries: dict[tuple[int, str], tuple[float, OfferRows | None, int]] = {}
        self._max = max_entries
        self._lock = threading.Lock()

    def put(self, offer_ids: Sequence[int], source: str | None, rows: OfferRows, at: float) -> None:
        source = source or ""
        with self._lock:
            if len(self._entries) + len(offer_ids) > self._max:
                self._entries.clear()  # rare: far more (offer, source) pairs than a replica decides on
            for i, offer_id in enumerate(offer_ids):
                self._entries[(offer_id, source)] = (at, rows, i)

    def get(self, offer_ids: Sequence[int], source: str | None, read_after: float) -> OfferRows | None:
        """The offers' rows if every one was read after ``read_after``; else None."""
        found = self._found(offer_ids, source)
        if any(at <= read_after for at, _, _ in found):
            return None
        return _gather(found)

    def last_known(self, offer_ids: Sequence[int], source: str | None) -> OfferRows:
        """The latest rows read of each offer, however old; zeros for offers never read."""
        return _gather(self._found(offer_ids, source))

    def _found(self, offer_ids: Sequence[int], source: str | None) -> list[tuple[float, OfferRows | None, int]]:
        source = source or ""
        with self._lock:
            return [self._entries.get((offer_id, source), _NEVER_READ) for offer_id in offer_ids]


def _gather(found: list[tuple[float, OfferRows | None, int]]) -> OfferRows:
    """The rows found, in their order: copied a whole read at a time (a decision's offers
    mostly come from one read), every field of ``OfferRows``."""
    gathered = OfferRows.unseen(len(found))
    reads: dict[int, tuple[OfferRows, list[int], list[int]]] = {}
    for j, (_, rows, i) in enumerate(found):
        if rows is not None:
            _, into, rows_at = reads.setdefault(id(rows), (rows, [], []))
            into.append(j)
            rows_at.append(i)
    for rows, into, rows_at in reads.values():
        into_index, rows_index = np.array(into), np.array(rows_at)
        for name in _FIELDS:
            getattr(gathered, name)[into_index] = getattr(rows, name)[rows_index]
    return gathered
