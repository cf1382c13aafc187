"""Upper confidence bound on revenue per click.

score = mean payout × Wilson upper bound of the conversion rate, with z² = c²·ln(N) / 2.
The Wilson bound stays tight at conversion rates of 0.1–10 % where a Hoeffding bound on
payouts of up to hundreds would explore for ever, and it is positive at zero conversions,
so an offer that has not converted yet keeps being tried until its bound falls below the
leader's. The exploration term, payout × (bound − rate), is in rpc units and grows with the
log of the total number of clicks, scaled by ``c``. The constant is calibrated on the
simulator: the textbook z² = 2·ln N (UCB1's width) keeps exploring long after the ranking is
clear at CPA conversion rates. An eighth of it, ln(N)/4, explored least and earned most on
the simulator's averages, but starved a high-payout, low-rate best offer in a harder world
(a test in tests/test_policies.py); a quarter of it, z² = ln(N)/2 at c = 1, kept most of
the gain without that failure (docs/learning.md).

Delayed feedback: the width of an offer's bound uses all its clicks, pending ones included
(their information is in flight), while its rate is learned from resolved clicks only.
Counting only resolved clicks would send every click to the same offer until its feedback
arrived. An offer never shown is tried first.
"""

from __future__ import annotations

import numpy as np

from .arms import ArmStats
from .payout import mean_payout, prior_payout

WIDTH = 0.5
"""z² per unit of c² ln N (see the module docstring)."""


def ucb_scores(stats: ArmStats, c: float) -> np.ndarray:
    """Upper bounds on rpc per offer; +inf for offers never shown."""
    clicks = stats.clicks
    z2 = WIDTH * c * c * np.log(max(clicks.sum(), 2.0))
    rate = _conversion_rate(stats)
    q = z2 / np.maximum(clicks, 1.0)  # z²/n; offers without clicks are overwritten below
    # Wilson: (p + z²/2n + sqrt(z²p(1-p)/n + z⁴/4n²)) / (1 + z²/n), which never exceeds 1
    upper = (rate + 0.5 * q + np.sqrt(q * (rate * (1.0 - rate) + 0.25 * q))) / (1.0 + q)
    scores = mean_payout(stats, prior_payout(stats)) * upper
    scores[clicks == 0] = np.inf
    return scores


def _conversion_rate(stats: ArmStats) -> np.ndarray:
    """Observed rate of resolved clicks; offers with none resolved yet get the pooled rate."""
    resolved = stats.resolved
    total_resolved = resolved.sum()
    pooled = stats.conversions.sum() / total_resolved if total_resolved > 0 else 0.0
    rate = np.divide(stats.conversions, resolved, out=np.full(len(resolved), pooled), where=resolved > 0)
    return np.minimum(rate, 1.0, out=rate)  # a store never counts more conversions than clicks; guard anyway
