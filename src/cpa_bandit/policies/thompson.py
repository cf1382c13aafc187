"""Thompson sampling on revenue per click.

One posterior draw per offer of the conversion rate, Beta(a + conversions, b + resolved −
conversions), times the posterior mean of its payout. Pending clicks are left out (unknown,
not failures); randomisation alone keeps delayed feedback from piling traffic on one offer.

The payout enters at its posterior mean rather than as a draw: CPA payouts are mostly fixed
per offer, so the first conversion settles the payout while the rate stays uncertain for
hundreds of clicks. Drawing the payout too (from a posterior that must allow for
heavy-tailed payouts) mostly added noise: on the simulator it lowered efficiency in every
scenario (docs/learning.md). The payout posterior's spread still shows in ``rpc_posterior``.
"""

from __future__ import annotations

import numpy as np

from .arms import ArmStats
from .payout import mean_payout, prior_payout, sample_payout


def rate_posterior(stats: ArmStats, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Beta parameters of each offer's conversion rate."""
    return a + stats.conversions, b + np.maximum(stats.resolved - stats.conversions, 0.0)


def thompson_scores(stats: ArmStats, a: float, b: float, rng: np.random.Generator) -> np.ndarray:
    """One posterior draw of rpc per offer."""
    alpha, beta = rate_posterior(stats, a, b)
    return rng.beta(alpha, beta) * mean_payout(stats, prior_payout(stats))


POSTERIOR_SAMPLES = 2_000_000
"""Most Monte Carlo draws one summary may take (offers × draws per offer), so that a stats
page over very many offers stays bounded in time and memory."""


def rpc_posterior(
    stats: ArmStats, rng: np.random.Generator, a: float = 1.0, b: float = 1.0, draws: int = 2_000
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Posterior mean and 90 % interval of each offer's revenue per click, and the
    probability that it is the best of these offers: the model Thompson samples from,
    summarised for the operators who read the stats. Past 1,000 offers each gets fewer
    draws (at least 100)."""
    draws = max(100, min(draws, POSTERIOR_SAMPLES // max(len(stats), 1)))
    alpha, beta = rate_posterior(stats, a, b)
    prior = prior_payout(stats)
    rpc = rng.beta(alpha, beta, size=(draws, len(stats))) * sample_payout(stats, prior, rng, draws)
    low, high = np.quantile(rpc, [0.05, 0.95], axis=0)
    best = np.bincount(rpc.argmax(axis=1), minlength=len(stats)) / draws
    return alpha / (alpha + beta) * mean_payout(stats, prior), low, high, best
