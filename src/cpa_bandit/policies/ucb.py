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
from .posterior import posterior

SCALE = 0.3
"""Share of Bayes-UCB's distance from the mean at ``ucb_c`` = 1."""


def ucb_scores(stats: ArmStats, c: float) -> np.ndarray:
    """The index of each offer."""
    post = posterior(stats).in_flight()
    rate = post.rate
    c *= SCALE
    if c == 0:
        return rate * post.payout
    level = 1.0 - 1.0 / max(float(stats.clicks.sum()), 2.0)
    upper = special.betaincinv(post.alpha, post.beta, level)
    z = float(special.ndtri(level))
    scores = (rate + c * (upper - rate)) * (post.payout + c * z * post.payout_se)
    scores[stats.clicks == 0] = np.inf
    return scores
