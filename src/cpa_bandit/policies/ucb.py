"""Bayes-UCB on revenue per click: an upper quantile of the model's posterior.

score = (r̄ + c·s·(Q(1 − 1/t) − r̄)) × (m + c·s·z·se)

with r̄ and Q the posterior mean and quantile function of the offer's conversion rate,
t the eligible offers' total clicks, m and se the posterior mean payout and its standard
error and z the standard normal quantile at the same level (Kaufmann, Cappé & Garivier
2012, on the model of ``posterior``). ``c`` (``ucb_c``) scales the distance from the
mean: 0 is greedy on the posterior mean, larger explores more; at the default c = 1 the
distance is ``SCALE`` of Bayes-UCB's, calibrated on the simulator (docs/learning.md):
the full quantile at level 1 − 1/t kept exploring offers whose optimistic prior had not
been written off yet, long after the leaders were clear.

As in Bayes-UCB, whose quantile level is below ½ for t < 2, an offer never shown is shown
first: the index of an untried offer is its prior's, the same for every one of them.

Delayed feedback: pending clicks narrow the quantile as if they had resolved at the
offer's current mean rate (their information is in flight); the mean itself is learned
from resolved clicks only. Without that, a deterministic index sends every click to the
same offer until its first feedback arrives.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .arms import ArmStats
from .posterior import Posterior, posterior

SCALE = 0.3
"""Share of Bayes-UCB's distance from the mean at ``ucb_c`` = 1."""


EXACT_FIRST = 32
"""Offers whose exact quantile is computed first, the highest bounds; the others only when
their bound could still beat the best of those (``ucb_scores``)."""


def ucb_scores(stats: ArmStats, c: float) -> np.ndarray:
    """The index of each offer that can lead; the others get an upper bound of theirs,
    below the leader's, which changes no choice and spares the exact quantile.

    The exact quantile costs about a microsecond an offer, most of a decision over 1,000
    offers, where most offers are far below the leaders. A Beta is sub-Gaussian with
    variance proxy 1/(4(α + β + 1)) (Marchal & Arbel 2017), so its quantile at 1 − 1/t is
    at most r̄ + sqrt(ln t / (2(α + β + 1))): the exact one is computed for the offers with
    the highest such bounds, then for any other whose bound reaches the best index so far.
    """
    post = posterior(stats).in_flight()
    rate = post.rate
    c *= SCALE
    if c == 0:
        return rate * post.payout
    t = max(float(stats.clicks.sum()), 2.0)
    level = 1.0 - 1.0 / t
    payout = post.payout + c * float(special.ndtri(level)) * post.payout_se
    bound = np.minimum(rate + np.sqrt(np.log(t) / (2.0 * (post.alpha + post.beta + 1.0))), 1.0)
    scores = (rate + c * (bound - rate)) * payout
    scores[stats.clicks == 0] = np.inf
    exact = np.arange(len(scores))
    if len(scores) > EXACT_FIRST:
        first = np.argpartition(-scores, EXACT_FIRST)[:EXACT_FIRST]
        _exact_index(scores, first, post, payout, c, level)
        exact = np.flatnonzero(scores >= scores[first].max())  # the leader of ``first`` again: one more quantile
    _exact_index(scores, exact, post, payout, c, level)
    return scores


def _exact_index(
    scores: np.ndarray, which: np.ndarray, post: Posterior, payout: np.ndarray, c: float, level: float
) -> None:
    """Set ``scores[which]`` to the Bayes-UCB index (offers never shown keep +inf)."""
    which = which[np.isfinite(scores[which])]
    rate = post.rate[which]
    upper = special.betaincinv(post.alpha[which], post.beta[which], level)
    scores[which] = (rate + c * (upper - rate)) * payout[which]
