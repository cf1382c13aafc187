"""Thompson sampling on revenue per click: one draw per offer from the model's posterior.

The conversion rate is drawn from its Beta posterior (``posterior``), no lower than the
posterior mean (optimistic Thompson sampling, May et al. 2012), and multiplied by the
posterior mean payout. A draw below the mean only ever argues against exploring an offer
whose mean already says what it is worth; cutting those draws off spent fewer clicks on
clear losers and measured higher in every scenario (docs/learning.md).

Pending clicks are unknown, not failures: they leave the mean rate as it is and narrow the
posterior as if they had resolved at that mean (``Posterior.in_flight``), their
information being on its way; without it, every click during a feedback delay is another
exploration of the same uncertainty.

The payout enters at its posterior mean rather than as a draw: CPA payouts are mostly fixed
per offer, so the first conversion settles the payout while the rate stays uncertain for
hundreds of clicks; drawing it too mostly added noise on the simulator (docs/learning.md).
The payout's spread still shows in ``rpc_posterior``, what operators read.
"""

from __future__ import annotations

import numpy as np

from .arms import ArmStats
from .posterior import Posterior, posterior

FixedPrior = tuple[float, float] | None
"""A client's own Beta(a, b) prior on every offer's rate, or None for the learned one."""


def thompson_posterior(stats: ArmStats, prior: FixedPrior) -> Posterior:
    """The posterior Thompson draws from (and its propensities integrate over)."""
    return posterior(stats, prior).in_flight()


def thompson_scores(
    stats: ArmStats, prior: FixedPrior, rng: np.random.Generator, draws: int | None = None
) -> np.ndarray:
    """One posterior draw of rpc per offer (``draws`` rows of them, when given: as many
    independent decisions on the same evidence)."""
    post = thompson_posterior(stats, prior)
    size = None if draws is None else (draws, len(stats))
    # fmax: a prior as thin as a client may send (a = b = 5e-324) draws NaN; the mean stands
    return np.fmax(rng.beta(post.alpha, post.beta, size=size), post.rate) * post.payout


POSTERIOR_SAMPLES = 2_000_000
"""Most Monte Carlo draws one summary may take (offers × draws per offer), so that a stats
page over very many offers stays bounded in time and memory."""


def rpc_posterior(
    stats: ArmStats, rng: np.random.Generator, draws: int = 2_000
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Posterior mean and 90 % interval of each offer's revenue per click, and the
    probability that it is the best of these offers, with the payout's uncertainty drawn
    too: the model both samplers read, summarised for the operators who read the stats.
    Past 1,000 offers each gets fewer draws (at least 100)."""
    draws = max(100, min(draws, POSTERIOR_SAMPLES // max(len(stats), 1)))
    post = posterior(stats)
    rpc = rng.beta(post.alpha, post.beta, size=(draws, len(stats))) * _payout_draws(post, rng, draws)
    low, high = np.quantile(rpc, [0.05, 0.95], axis=0)
    best = np.bincount(rpc.argmax(axis=1), minlength=len(stats)) / draws
    return post.rpc, low, high, best


def _payout_draws(post: Posterior, rng: np.random.Generator, draws: int) -> np.ndarray:
    """Gamma draws with each offer's posterior mean and standard error of its payout
    (positive, unlike the normal they approximate)."""
    shape = (post.payout / post.payout_se) ** 2
    return rng.gamma(shape, post.payout / shape, size=(draws, len(post.payout)))

