"""The evidence a policy sees: one array entry per eligible offer, pooled and for one source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .population import Population


@dataclass(frozen=True, slots=True)
class SourceCounts:
    """One traffic source's counters of each offer (aligned with the offers of ``ArmStats``)
    and how many clicks' worth its offer's record weighs as the source's prior (the
    ``CPA_BANDIT_SOURCE_PRIOR_CLICKS`` setting: kept with the evidence, since it shapes
    the decision and a logged decision must be replayable)."""

    clicks: np.ndarray
    resolved: np.ndarray
    conversions: np.ndarray
    reward: np.ndarray
    weight: float

    def take(self, index: np.ndarray) -> SourceCounts:
        return SourceCounts(
            self.clicks[index], self.resolved[index], self.conversions[index], self.reward[index], self.weight
        )


@dataclass(frozen=True, slots=True)
class ArmStats:
    """Per-offer evidence, pooled over sources, in aligned arrays of equal length.

    ``clicks`` counts every decision (pending or not); ``resolved`` only the clicks whose
    outcome is known (feedback came, or the attribution window passed without it). Policies
    learn rates from resolved clicks alone: a pending click is unknown, not a failure.
    ``reward`` is the revenue of the resolved clicks in currency units and ``reward_sq``
    the sum of their squares (None: not kept, the spread of payouts is then the prior's).
    ``declared_payout`` is the payout the operator declared per offer (NaN where none).
    ``source`` holds the counters of the click's source, when it named one. Counts are the
    evidence since each offer's last detected change (``policies.change``).

    ``population`` is the fit of level one of the model (``population.fit_population``) to
    use instead of fitting these statistics: a fit a little older (a replica refits once per
    staleness bound, not on every click), or the one a logged decision used, which its
    replay must use too. None: fitted from these statistics.
    """

    clicks: np.ndarray
    resolved: np.ndarray
    conversions: np.ndarray
    reward: np.ndarray
    declared_payout: np.ndarray | None = None
    reward_sq: np.ndarray | None = None
    source: SourceCounts | None = None
    population: Population | None = None

    def take(self, index: np.ndarray) -> ArmStats:
        """The statistics of a subset of the offers (the population of the whole set does
        not describe a subset: it is left out)."""
        return ArmStats(
            self.clicks[index],
            self.resolved[index],
            self.conversions[index],
            self.reward[index],
            None if self.declared_payout is None else self.declared_payout[index],
            None if self.reward_sq is None else self.reward_sq[index],
            None if self.source is None else self.source.take(index),
        )

    def __len__(self) -> int:
        return len(self.clicks)
