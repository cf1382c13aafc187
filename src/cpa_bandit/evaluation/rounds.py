"""From logged rows to the arrays the estimators need: one pass over the log.

Each usable round keeps its logged offer, propensity and reward; its eligible offers are
kept flattened (``entry_*``, ragged across rounds), with the target's probability of each
and whether the logging policy could have chosen it. Pending rows are counted and left out
(their reward is unknown); so are rows whose propensity cannot weigh anything (missing,
zero, above 1) or whose chosen offer is not among their evidence's offers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ..decision_log import LogRow
from .targets import Target, logging_support

Progress = Callable[[int], None]
"""Called with the number of rows read since the last call."""

PROGRESS_EVERY = 1_000
"""Rows between two progress calls."""


@dataclass(frozen=True, slots=True)
class Rounds:
    """Usable rounds (length n) and their eligible offers flattened (length m)."""

    offer: np.ndarray
    """(n,) the logged offer id."""
    source: np.ndarray
    """(n,) the traffic source, as a code: 0 for the first source seen, 1 for the next…"""
    pscore: np.ndarray
    """(n,) the logged propensity of the logged offer."""
    reward: np.ndarray
    """(n,) the logged reward, currency units."""
    target_chosen: np.ndarray
    """(n,) the target's probability of the logged offer."""
    entry_round: np.ndarray
    """(m,) the round of each eligible offer."""
    entry_offer: np.ndarray
    entry_target: np.ndarray
    """(m,) the target's probability of that offer in that round."""
    entry_supported: np.ndarray
    """(m,) whether the logging policy could have chosen that offer in that round."""
    pending: int
    """Rows left out because their outcome is not known yet."""
    invalid: int
    """Rows left out because their propensity or evidence cannot be used."""

    def __len__(self) -> int:
        return len(self.reward)

    @property
    def weights(self) -> np.ndarray:
        return self.target_chosen / self.pscore


class _Collector:
    """Gathers the usable rows in lists; the arrays are built once, at the end."""

    def __init__(self) -> None:
        self.offer: list[int] = []
        self.source: list[int] = []
        self.sources: dict[str, int] = {}
        self.pscore: list[float] = []
        self.reward: list[float] = []
        self.target_chosen: list[float] = []
        self.entry_round: list[np.ndarray] = []
        self.entry_offer: list[tuple[int, ...]] = []
        self.entry_target: list[np.ndarray] = []
        self.entry_supported: list[np.ndarray] = []
        self.pending = 0
        self.invalid = 0

    def add(self, row: LogRow, target: Target) -> None:
        if row.reward is None:
            self.pending += 1
            return
        offers = row.evidence.offers
        if not (0 < row.pscore <= 1 and math.isfinite(row.reward)) or row.offer_id not in offers:
            self.invalid += 1
            return
        probabilities = target.probabilities(row.evidence)
        self.entry_round.append(np.full(len(offers), len(self.reward)))
        self.offer.append(row.offer_id)
        self.source.append(self.sources.setdefault(row.source, len(self.sources)))
        self.pscore.append(row.pscore)
        self.reward.append(row.reward)
        self.target_chosen.append(float(probabilities[offers.index(row.offer_id)]))
        self.entry_offer.append(offers)
        self.entry_target.append(probabilities)
        self.entry_supported.append(logging_support(row.sampler, row.params, row.evidence))

    def rounds(self) -> Rounds:
        return Rounds(
            offer=np.array(self.offer, dtype=np.int64),
            source=np.array(self.source, dtype=np.intp),
            pscore=np.array(self.pscore, dtype=np.float64),
            reward=np.array(self.reward, dtype=np.float64),
            target_chosen=np.array(self.target_chosen, dtype=np.float64),
            entry_round=_flat(self.entry_round, np.intp),
            entry_offer=_flat(self.entry_offer, np.int64),
            entry_target=_flat(self.entry_target, np.float64),
            entry_supported=_flat(self.entry_supported, np.bool_),
            pending=self.pending,
            invalid=self.invalid,
        )


def _flat(parts: list, dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def collect(rows: Iterable[LogRow], target: Target, on_progress: Progress | None = None) -> Rounds:
    """Read every row once, asking the target what it would have chosen on each."""
    collector = _Collector()
    count = 0
    for count, row in enumerate(rows, start=1):
        collector.add(row, target)
        if on_progress is not None and count % PROGRESS_EVERY == 0:
            on_progress(PROGRESS_EVERY)
    if on_progress is not None:
        on_progress(count % PROGRESS_EVERY)
    return collector.rounds()
