"""The one model both samplers read: each eligible offer's posterior revenue per click.

Three levels. The population of eligible offers (``population``) gives every offer an
optimistic Beta prior on its conversion rate and a prior on its mean payout. Each offer's
own evidence, pooled over sources, updates them. A click's source, when it names one, is a
third level: the source's rate varies around its offer's, so the offer's record on the
*other* sources (its uncertainty included, not a point estimate) becomes the source's
prior, worth up to ``SourceCounts.weight`` clicks:

    offer on the other sources:  p ~ Beta(A, B),  A = α₀ + k_other, B = β₀ + n_other − k_other
    source given the offer:      p_s | p ~ Beta(w·p, w·(1 − p))
    prior of p_s (moments):      mean p̄ = A/(A+B),  var = v + (p̄(1 − p̄) − v)/(w + 1),  v = Var p

matched to a Beta of strength p̄(1 − p̄)/var − 1 and updated by the source's own counts.
An offer with a long record on other sources gives a new source a prior worth ``w``
clicks; one with little gives a vague one. The source's own data is never counted twice.

Payouts are pooled over sources: a normal model of each offer's mean payout, with the
population's mean and variance as prior and the offer's observed payouts as data, each
with the offer's within-offer spread (its own, shrunk to the population's). Fixed CPA
payouts have no spread, so one conversion settles the payout; revenue-share offers keep a
wider posterior until their conversions pile up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arms import ArmStats
from .population import PAYOUT_CV2_DOF, Population, fit_population

MIN_STRENGTH = 1e-12
"""Least α + β of a source's prior, and the least distance of its mean from 0 and 1: the
moments of a client's extreme prior (a = 5e-324) would give 0, or 0/0, and a rate of NaN."""

SPREAD_FLOOR = 1e-9
"""Least squared cv of one offer's payouts, so that fixed payouts divide by no zero."""


@dataclass(frozen=True, slots=True)
class Posterior:
    """Per offer: Beta(alpha, beta) on the conversion rate (of the click's source when it
    named one), and the mean payout with its standard error."""

    alpha: np.ndarray
    beta: np.ndarray
    payout: np.ndarray
    payout_se: np.ndarray
    pending: np.ndarray
    """Clicks whose outcome is still unknown, at the same level as the rate."""

    @property
    def rate(self) -> np.ndarray:
        return self.alpha / (self.alpha + self.beta)

    def in_flight(self) -> Posterior:
        """The posterior as if the pending clicks had resolved at the current mean rate:
        as wide as the evidence will be once their feedback arrives, with the same mean."""
        rate = self.rate
        return Posterior(
            self.alpha + self.pending * rate,
            self.beta + self.pending * (1.0 - rate),
            self.payout,
            self.payout_se,
            np.zeros_like(self.pending),
        )

    @property
    def rpc(self) -> np.ndarray:
        """Posterior mean revenue per click (rate and payout are independent a posteriori)."""
        return self.rate * self.payout


def posterior(stats: ArmStats, fixed_prior: tuple[float, float] | None = None) -> Posterior:
    """The posterior of each offer; ``fixed_prior`` (a, b) replaces the learned rate prior
    by Beta(a, b) for every offer, as a client's ``thompson_a``/``thompson_b`` ask."""
    population = fit_population(stats) if stats.population is None else stats.population
    a0, b0 = fixed_prior if fixed_prior is not None else (population.prior_alpha, population.prior_beta)
    payout, payout_se = payout_posterior(stats, population)
    source = stats.source
    if source is None:
        alpha, beta = a0 + stats.conversions, b0 + np.maximum(stats.resolved - stats.conversions, 0.0)
        return Posterior(alpha, beta, payout, payout_se, np.maximum(stats.clicks - stats.resolved, 0.0))
    other_n = np.maximum(stats.resolved - source.resolved, 0.0)
    other_k = np.minimum(np.maximum(stats.conversions - source.conversions, 0.0), other_n)
    a, b = a0 + other_k, b0 + other_n - other_k
    mean = np.clip(a / (a + b), MIN_STRENGTH, 1.0 - MIN_STRENGTH)  # never exactly 0 or 1: a Beta needs both > 0
    binomial = mean * (1.0 - mean)
    offer_var = binomial / (a + b + 1.0)
    source_var = offer_var + (binomial - offer_var) / (source.weight + 1.0)
    strength = np.maximum(binomial / source_var - 1.0, MIN_STRENGTH)
    alpha = strength * mean + source.conversions
    beta = strength * (1.0 - mean) + np.maximum(source.resolved - source.conversions, 0.0)
    return Posterior(alpha, beta, payout, payout_se, np.maximum(source.clicks - source.resolved, 0.0))


def payout_posterior(stats: ArmStats, population: Population) -> tuple[np.ndarray, np.ndarray]:
    """Each offer's posterior mean payout and its standard error (normal–normal model).

    Prior: the declared payout, else the population's mean, with the population's variance
    between offers. Data: the offer's k payouts, each with variance cv²·x̄², its cv² the
    pooled one shrunk by ``PAYOUT_CV2_DOF`` towards its own observed spread."""
    k = stats.conversions
    prior = np.full(len(k), population.payout_mean)
    if stats.declared_payout is not None:
        prior = np.where(np.isnan(stats.declared_payout), prior, stats.declared_payout)
    observed = np.divide(stats.reward, k, out=prior.copy(), where=k > 0)
    if stats.reward_sq is None:  # the offer's own spread is unknown: the population's
        cv2 = np.full(len(k), max(population.payout_cv2, SPREAD_FLOOR))
    else:
        own = np.maximum(stats.reward_sq - stats.reward * observed, 0.0) / (observed * observed)  # (k−1)·s²/x̄²
        dof = np.maximum(k - 1.0, 0.0)
        cv2 = np.maximum((PAYOUT_CV2_DOF * population.payout_cv2 + own) / (PAYOUT_CV2_DOF + dof), SPREAD_FLOOR)
    data_precision = np.divide(k, cv2 * observed * observed, out=np.zeros(len(k)), where=k > 0)
    precision = 1.0 / population.payout_var + data_precision
    mean = (prior / population.payout_var + data_precision * observed) / precision
    return mean, 1.0 / np.sqrt(precision)
