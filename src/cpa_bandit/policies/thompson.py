"""Thompson sampling on revenue per click.

One posterior draw per offer: conversion rate ~ Beta(a + conversions, b + resolved −
conversions), times a draw of its mean payout. Pending clicks are left out (unknown, not
failures); randomisation alone keeps delayed feedback from piling traffic on one offer.
"""

from __future__ import annotations

import numpy as np

from .arms import ArmStats
from .payout import prior_payout, sample_payout


def thompson_scores(stats: ArmStats, a: float, b: float, rng: np.random.Generator) -> np.ndarray:
    """One posterior draw of rpc per offer."""
    failures = np.maximum(stats.resolved - stats.conversions, 0.0)
    rate = rng.beta(a + stats.conversions, b + failures)
    return rate * sample_payout(stats, prior_payout(stats), rng)
