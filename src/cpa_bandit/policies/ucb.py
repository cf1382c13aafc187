"""Upper confidence bound on revenue per click.

score = mean payout × Wilson upper bound of the conversion rate, with z² = 2·c²·ln N.
The Wilson bound stays tight at conversion rates of 0.1–10 % where a Hoeffding bound on
payouts of up to hundreds would explore for ever, and it is positive at zero conversions,
so an offer that has not converted yet keeps being tried until its bound falls below the
leader's. The exploration term, payout × (bound − rate), is in rpc units and grows with the
log of the total number of clicks, scaled by ``c``.

Delayed feedback: the width of an offer's bound uses all its clicks, pending ones included
(their information is in flight), while its rate is learned from resolved clicks only.
Counting only resolved clicks would send every click to the same offer until its feedback
arrived. An offer never shown is tried first.
"""

from __future__ import annotations

import numpy as np

from .arms import ArmStats
from .payout import mean_payout, prior_payout


def ucb_scores(stats: ArmStats, c: float) -> np.ndarray:
    """Upper bounds on rpc per offer; +inf for offers never shown."""
    clicks = stats.clicks
    total = clicks.sum()
    z2 = 2.0 * c * c * np.log(max(total, 2.0))
    rate = _conversion_rate(stats)
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.where(clicks > 0, clicks, 1.0)
        centre = rate + z2 / (2.0 * n)
        half_width = np.sqrt(z2 * rate * (1.0 - rate) / n + z2 * z2 / (4.0 * n * n))
        upper = np.minimum((centre + half_width) / (1.0 + z2 / n), 1.0)
    scores = mean_payout(stats, prior_payout(stats)) * upper
    return np.where(clicks > 0, scores, np.inf)


def _conversion_rate(stats: ArmStats) -> np.ndarray:
    """Observed rate of resolved clicks; offers with none resolved yet get the pooled rate."""
    resolved = stats.resolved
    total_resolved = resolved.sum()
    pooled = stats.conversions.sum() / total_resolved if total_resolved > 0 else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(resolved > 0, stats.conversions / resolved, pooled)
    return np.clip(rate, 0.0, 1.0)
