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
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from .store.base import COUNTER_COLUMNS, OfferRows

_WIDTH = len(COUNTER_COLUMNS)
_ROW = 2 * _WIDTH + 3  # pooled, by source, declared payout, paused, capped until


class OfferCache:
    def __init__(self, max_entries: int = 200_000) -> None:
        self._rows: OrderedDict[tuple[int, str], tuple[float, np.ndarray]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def put(self, offer_ids: Sequence[int], source: str | None, rows: OfferRows, at: float) -> None:
        packed = np.column_stack(
            [rows.pooled, rows.by_source, rows.payout_micros, rows.paused.astype(np.int64), rows.capped_until]
        )
        with self._lock:
            for offer_id, row in zip(offer_ids, packed):
                key = (offer_id, source or "")
                self._rows[key] = (at, row)
                self._rows.move_to_end(key)
            while len(self._rows) > self._max:
                self._rows.popitem(last=False)

    def get(self, offer_ids: Sequence[int], source: str | None, read_after: float) -> OfferRows | None:
        """The offers' rows if every one was read after ``read_after``; else None."""
        with self._lock:
            found = [self._rows.get((offer_id, source or "")) for offer_id in offer_ids]
        if any(entry is None or entry[0] <= read_after for entry in found):
            return None
        return _unpack(np.array([entry[1] for entry in found], dtype=np.int64).reshape(len(offer_ids), _ROW))

    def last_known(self, offer_ids: Sequence[int], source: str | None) -> OfferRows:
        """The latest rows read of each offer, however old; zeros for offers never read."""
        empty = np.zeros(_ROW, dtype=np.int64)
        empty[2 * _WIDTH] = -1  # no declared payout
        with self._lock:
            rows = [self._rows.get((offer_id, source or ""), (0.0, empty))[1] for offer_id in offer_ids]
        return _unpack(np.array(rows, dtype=np.int64).reshape(len(offer_ids), _ROW))


def _unpack(matrix: np.ndarray) -> OfferRows:
    return OfferRows(
        pooled=matrix[:, :_WIDTH],
        by_source=matrix[:, _WIDTH : 2 * _WIDTH],
        payout_micros=matrix[:, 2 * _WIDTH],
        paused=matrix[:, 2 * _WIDTH + 1].astype(bool),
        capped_until=matrix[:, 2 * _WIDTH + 2],
    )
