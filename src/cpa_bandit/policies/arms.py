"""The learning statistics a policy sees: one array entry per eligible offer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class ArmStats:
    """Per-offer evidence, aligned arrays of equal length.

    ``clicks`` counts every decision (pending or not); ``resolved`` only the clicks whose
    outcome is known (feedback came, or the attribution window passed without it). Policies
    learn rates from resolved clicks alone: a pending click is unknown, not a failure.
    ``reward`` is the revenue of the resolved clicks in currency units. ``declared_payout``
    is the payout the operator declared per offer (NaN where none), the prior for the
    offer's payout until its own conversions speak. Counts may be fractional: pseudo-counts
    carry prior evidence (see ``sources.shrink_to_pool``).
    """

    clicks: np.ndarray
    resolved: np.ndarray
    conversions: np.ndarray
    reward: np.ndarray
    declared_payout: np.ndarray | None = None

    def take(self, index: np.ndarray) -> ArmStats:
        """The statistics of a subset of the offers."""
        declared = None if self.declared_payout is None else self.declared_payout[index]
        return ArmStats(self.clicks[index], self.resolved[index], self.conversions[index], self.reward[index], declared)

    def __len__(self) -> int:
        return len(self.clicks)
