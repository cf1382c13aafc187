"""What a conversion of each offer is worth: learned from its payouts, shrunk to a prior.

Both policies need a payout for offers that have not converted yet; valuing them at 0 (as
the seed did) stops exploration for good. The prior is the mean payout of the eligible
offers that did convert, weighted as ``PRIOR_WEIGHT`` pseudo-conversions, so one cheap
conversion does not make an offer look cheap forever.
"""

from __future__ import annotations

import numpy as np

from .arms import ArmStats

PRIOR_WEIGHT = 1.0
"""Pseudo-conversions of prior evidence on each offer's mean payout."""

NEUTRAL_PAYOUT = 1.0
"""Payout prior when no eligible offer has converted: all offers share it, so only its
presence matters (scores are then proportional to conversion rates)."""


def prior_payout(stats: ArmStats) -> float:
    """Mean payout per conversion over the eligible offers that converted."""
    conversions = stats.conversions.sum()
    if conversions <= 0:
        return NEUTRAL_PAYOUT
    return float(stats.reward.sum() / conversions)


def mean_payout(stats: ArmStats, prior: float) -> np.ndarray:
    """Posterior mean payout per offer: observed payouts shrunk towards ``prior``."""
    return (PRIOR_WEIGHT * prior + stats.reward) / (PRIOR_WEIGHT + stats.conversions)


def sample_payout(stats: ArmStats, prior: float, rng: np.random.Generator) -> np.ndarray:
    """One posterior draw of each offer's mean payout.

    Model: payouts exponential with rate λ, λ ~ Gamma(PRIOR_WEIGHT + 1, PRIOR_WEIGHT·prior).
    The posterior of the mean 1/λ is inverse-gamma whose mean is exactly ``mean_payout``;
    its spread shrinks like 1/√conversions. The exponential likelihood overstates the spread
    of fixed payouts, which only errs towards exploring.
    """
    shape = PRIOR_WEIGHT + 1.0 + stats.conversions
    rate = PRIOR_WEIGHT * prior + stats.reward
    return rate / rng.standard_gamma(shape)
