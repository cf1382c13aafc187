"""The probability with which a policy chooses each offer, given the same evidence.

Logged with every decision (the propensity), this is what makes the decision log usable for
off-policy evaluation: an estimate of another policy's value weighs each logged click by
how much likelier that policy was to choose the same offer.

UCB is deterministic up to ties: each tied leader has probability 1 / (number tied).

Thompson chooses offer i when its draw X_i = m_i·max(B_i, r̄_i) (B_i ~ Beta(α_i, β_i) its
rate's posterior, r̄_i its mean, m_i its posterior mean payout: ``thompson``) is the
largest, so

    P(i) = ∫₀¹ Π_{j≠i} F_j(m_i · max(Q_i(u), r̄_i)) du

with Q_i the quantile function of B_i and F_j(x) = I_{x/m_j}(α_j, β_j) for x ≥ m_j·r̄_j,
0 below, the distribution function of X_j. Where u < I_{r̄_i}(α_i, β_i), X_i sits at its
floor m_i·r̄_i, and ties with the rivals whose floor is the same (offers with identical
evidence, such as untried ones) split evenly. The integrand is non-decreasing in u and lies in [0, 1], so the midpoint
rule is within (widest cell) × (total rise ≤ 1) of the integral whatever the posteriors
(each cell's error is at most its width times the integrand's rise over it): with cells no
wider than 1/128 it meets the ±0.01 the decision log promises, without Monte Carlo noise.
The end cells are cut geometrically towards u = 0 and u = 1: an unlikely offer wins only
in its posterior's upper tail (and a leader loses only in its lower one), and uniform cells
alone got such small probabilities, which importance weights divide by, wrong by tens of
per cent.
Offers whose posterior lies wholly below another's (beyond the 1e-9 tails) are pruned
before integrating; at CPA scale most offers are, once the leaders are clear.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .arms import ArmStats
from .thompson import FixedPrior, thompson_posterior
from .ucb import ucb_scores

_TAIL_EDGES = 2.0 ** -np.arange(40, 7, -1)
_EDGES = np.concatenate([[0.0], _TAIL_EDGES, np.arange(1, 128) / 128, 1.0 - _TAIL_EDGES[::-1], [1.0]])
NODES = (_EDGES[:-1] + _EDGES[1:]) / 2
"""Midpoints of the integral's cells: 126 of width 1/128 (a guaranteed error below 0.008),
and at each end cells halving in width up to 2⁻⁴⁰ of u = 0 and of u = 1."""
WEIGHTS = np.diff(_EDGES)

TAIL = 1e-9
"""Posterior mass ignored at each end when pruning offers that cannot lead."""


def ucb_probabilities(stats: ArmStats, c: float) -> np.ndarray:
    """1 / (number of leaders) for each highest-scoring offer, 0 for the others."""
    scores = ucb_scores(stats, c)
    leaders = scores == scores.max()
    return leaders / leaders.sum()


def thompson_probabilities(stats: ArmStats, prior: FixedPrior, arms: np.ndarray | None = None) -> np.ndarray:
    """Probability that each offer's Thompson draw is the largest (for ``arms`` only, when
    given: the others are left at 0, sparing the integrals nobody asked for)."""
    post = thompson_posterior(stats, prior)
    alpha, beta, payout = post.alpha, post.beta, post.payout
    n = len(stats)
    wanted = np.arange(n) if arms is None else np.asarray(arms)
    out = np.zeros(n)
    worthless = payout <= 0
    if worthless.all():  # every draw is 0: the tie breaks uniformly
        out[wanted] = 1.0 / n
        return out
    floor = payout * post.rate  # optimistic Thompson: no draw below the posterior mean
    atom = special.betainc(alpha, beta, post.rate)  # the chance of drawing exactly that
    low = np.maximum(payout * special.betaincinv(alpha, beta, TAIL), floor)
    high = payout * special.betaincinv(alpha, beta, 1.0 - TAIL)
    contenders = ~worthless & (high >= low.max())
    for i in wanted[contenders[wanted]]:
        # the others that can draw above i's lowest plausible draw; the rest sit below it
        rivals = np.flatnonzero(high > low[i])
        rivals = rivals[rivals != i]
        draws = np.maximum(payout[i] * special.betaincinv(alpha[i], beta[i], NODES), floor[i])
        below = np.where(
            draws >= floor[rivals, None],
            special.betainc(alpha[rivals, None], beta[rivals, None], np.minimum(draws / payout[rivals, None], 1.0)),
            0.0,
        )
        integrand = below.prod(axis=0)
        # at its floor, i ties with every rival whose floor is the same and that drew its own
        # floor too (``below`` counted those as beaten): the tie breaks uniformly
        integrand[NODES < atom[i]] /= 1 + np.count_nonzero(floor[rivals] == floor[i])
        out[i] = integrand @ WEIGHTS
    return out
