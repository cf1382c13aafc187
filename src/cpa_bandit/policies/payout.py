"""What a conversion of each offer is worth: learned from its payouts, shrunk to a prior.

Both policies need a payout for offers that have not converted yet; valuing them at 0 (as
the seed did) stops exploration for good. The prior is the offer's declared payout, else
the mean payout of the eligible offers that did convert, weighted as ``PRIOR_WEIGHT``
pseudo-conversions, so one cheap conversion does not make an offer look cheap forever.
"""

from __future__ import annotations

import numpy as np

from .arms import ArmStats

PRIOR_WEIGHT = 1.0
"""Pseudo-conversions of prior evidence on each offer's mean payout."""

NEUTRAL_PAYOUT = 1.0
"""Payout prior when no eligible offer has converted: all offers share it, so only its
presence matters (scores are then proportional to conversion rates)."""


def prior_payout(stats: ArmStats) -> np.ndarray | float:
    """Each offer's prior mean payout: its declared payout, else the mean payout per
    conversion of the eligible offers that converted, else the mean declared payout."""
    conversions = stats.conversions.sum()
    declared = stats.declared_payout
    if conversions > 0:
        pooled = float(stats.reward.sum() / conversions)
    elif declared is not None and not np.isnan(declared).all():
        pooled = float(np.nanmean(declared))
    else:
        pooled = NEUTRAL_PAYOUT
    if declared is None:
        return pooled
    return np.where(np.isnan(declared), pooled, declared)


def mean_payout(stats: ArmStats, prior: np.ndarray | float) -> np.ndarray:
    """Posterior mean payout per offer: observed payouts shrunk towards ``prior``."""
    return (PRIOR_WEIGHT * prior + stats.reward) / (PRIOR_WEIGHT + stats.conversions)


def sample_payout(
    stats: ArmStats, prior: np.ndarray | float, rng: np.random.Generator, draws: int | None = None
) -> np.ndarray:
    """A posterior draw of each offer's mean payout (``draws`` rows of them if given).

    Model: payouts exponential with rate λ, λ ~ Gamma(PRIOR_WEIGHT + 1, PRIOR_WEIGHT·prior).
    The posterior of the mean 1/λ is inverse-gamma whose mean is exactly ``mean_payout``;
    its spread shrinks like 1/√conversions. The exponential likelihood overstates the spread
    of fixed payouts, which only errs towards exploring.
    """
    shape = PRIOR_WEIGHT + 1.0 + stats.conversions
    rate = PRIOR_WEIGHT * prior + stats.reward
    return rate / rng.standard_gamma(shape, size=None if draws is None else (draws, len(stats)))
