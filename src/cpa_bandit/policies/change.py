"""Did an offer's conversion rate change? A Bernoulli generalised-likelihood-ratio test.

An offer whose landing page breaks, or whose advertiser changes the funnel, converts at a
new rate from one hour on; evidence from before then only misleads. The test looks at the
offer's hourly click cohorts since its evidence last started (resolved clicks and
conversions of the clicks of each hour) and asks whether one rate before some hour and
another after explain them better than a single rate:

    GLR = max over splits s of  n₁·kl(p̂₁, p̂) + n₂·kl(p̂₂, p̂)

with kl the Bernoulli Kullback–Leibler divergence, p̂₁, p̂₂ the rates before and after the
split and p̂ the rate of all. It fires when GLR exceeds β(n, δ) = ln(3·n^{3/2}/δ), the
threshold of GLR-klUCB's change detector (Besson, Kaufmann, Maillard & Seznec), which
keeps the probability of ever firing on a stationary offer below about δ however long it
is watched. On a detection the policy layer forgets the offer's evidence (a local restart).

Only splits that leave ``MIN_CLICKS`` resolved clicks on each side are tried: a handful of
clicks after a split are a rate's noise, not its change.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

DELTA = 0.1
"""Bound on the probability that a stationary offer's evidence is ever restarted."""
MIN_CLICKS = 30.0
"""Fewest resolved clicks on each side of a split."""


def bernoulli_kl(x: np.ndarray, y: np.ndarray | float) -> np.ndarray:
    """kl(Bernoulli(x), Bernoulli(y)), with 0·ln 0 = 0; y strictly inside (0, 1)."""
    return special.xlogy(x, x / y) + special.xlogy(1.0 - x, (1.0 - x) / (1.0 - y))


def threshold(n: float, delta: float = DELTA) -> float:
    return math.log(3.0 * n**1.5 / delta)


def glr_statistic(resolved: np.ndarray, conversions: np.ndarray) -> tuple[float, int]:
    """The largest log-likelihood ratio over the splits between cohorts, and the index of
    the first cohort after the best split (0 when no split is allowed)."""
    n1 = np.cumsum(resolved)[:-1]
    k1 = np.cumsum(conversions)[:-1]
    total, converted = float(resolved.sum()), float(conversions.sum())
    n2, k2 = total - n1, converted - k1
    allowed = (n1 >= MIN_CLICKS) & (n2 >= MIN_CLICKS)
    if not allowed.any() or converted <= 0 or converted >= total:
        return 0.0, 0
    n1, k1, n2, k2 = n1[allowed], k1[allowed], n2[allowed], k2[allowed]
    rate = converted / total
    llr = n1 * bernoulli_kl(k1 / n1, rate) + n2 * bernoulli_kl(k2 / n2, rate)
    best = int(np.argmax(llr))
    return float(llr[best]), int(np.flatnonzero(allowed)[best]) + 1


def changed(resolved: np.ndarray, conversions: np.ndarray, delta: float = DELTA) -> int | None:
    """Index of the first cohort after a detected change, or None when the cohorts (in time
    order) are consistent with one rate."""
    statistic, split = glr_statistic(resolved, conversions)
    if split == 0 or statistic <= threshold(float(resolved.sum()), delta):
        return None
    return split
