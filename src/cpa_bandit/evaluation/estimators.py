"""Off-policy estimators of revenue per click, on plain arrays (one entry per logged round).

``w = π_target(a_t) / pscore_t`` is the importance weight of round t, ``r_t`` its reward.

- IPS: mean of w·r. Unbiased when every offer the target may choose had a positive logged
  propensity; its variance grows with the spread of the weights.
- SNIPS: Σ w·r / Σ w. A little biased (O(1/n)), but bounded by the largest reward and much
  steadier when a few rounds carry large weights.
- DR: mean of Σ_a π(a)·q̂(a) + w·(r − q̂(a_t)). The reward model q̂ predicts, the weighted
  residual corrects: unbiased like IPS, with less variance the better q̂ predicts.

Confidence intervals are normal approximations with the sample standard error of the
per-round terms (delta method for SNIPS's ratio). Rounds are dependent through the evidence
the logging policy learned from, but each round's term minus its expectation given the
past is a martingale difference, so the normal approximation holds as for independent
rounds, and the sample variance (which also counts the variation of that expectation
across rounds) errs on the wide side. A bootstrap would cost hundreds of passes and still
not fix what the normal approximation gets wrong here: a heavy tail of rare, large
weighted rewards, which the warnings report instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z_95 = 1.959963984540054
"""The standard normal's 97.5 % quantile: a two-sided 95 % interval."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """An estimated revenue per click with its standard error (NaN when it cannot be told)."""

    name: str
    value: float
    se: float

    @property
    def low(self) -> float:
        return self.value - Z_95 * self.se

    @property
    def high(self) -> float:
        return self.value + Z_95 * self.se


def mean_estimate(name: str, terms: np.ndarray) -> Estimate:
    """The mean of per-round terms, with the standard error of a mean."""
    n = len(terms)
    if n == 0:
        return Estimate(name, math.nan, math.nan)
    se = float(terms.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return Estimate(name, float(terms.mean()), se)


def ips(weights: np.ndarray, reward: np.ndarray) -> Estimate:
    return mean_estimate("IPS", weights * reward)


def snips(weights: np.ndarray, reward: np.ndarray) -> Estimate:
    """Delta method: the ratio's variance is that of the mean of w·(r − V̂), over mean(w)²."""
    n, total = len(weights), float(weights.sum())
    if n == 0 or total <= 0:
        return Estimate("SNIPS", math.nan, math.nan)
    value = float(weights @ reward) / total
    residual = weights * (reward - value)
    se = float(math.sqrt(residual @ residual * n / (n - 1)) / total) if n > 1 else math.nan
    return Estimate("SNIPS", value, se)


def doubly_robust(
    weights: np.ndarray, reward: np.ndarray, predicted_chosen: np.ndarray, predicted_target: np.ndarray
) -> Estimate:
    """``predicted_chosen`` is q̂ of the logged offer, ``predicted_target`` Σ_a π(a)·q̂(a)."""
    return mean_estimate("DR", predicted_target + weights * (reward - predicted_chosen))


def effective_sample_size(weights: np.ndarray) -> float:
    """(Σw)² / Σw²: how many equally weighted rounds the weighted sample is worth; n when
    every weight is equal, 1 when one round carries all the weight."""
    squares = float(weights @ weights)
    return float(weights.sum()) ** 2 / squares if squares > 0 else 0.0
