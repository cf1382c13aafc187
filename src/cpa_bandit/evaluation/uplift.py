"""How much more the bandit earns than the holdout: the answer an operator asks for first.

A share of clicks (the holdout) is served uniformly at random among the same eligible
offers, chosen by a hash of the click id, so the two groups are the same traffic at the same
times and differ only in who chose the offer. The difference of their revenue per click is
then an unbiased estimate of the bandit's uplift over random rotation, without the
assumptions of off-policy estimates.

Each group's clicks are independent given the offers they were shown, so the variance of a
group's mean revenue per click is estimated by its sample variance over n (Welch, normal
interval): around the group's own mean it also holds the spread between the offers' expected
values, which makes the interval a little conservative for the bandit's adaptive choices.
Only clicks whose outcome is known count (feedback received, or the attribution window
passed): a pending click would count as a 0 that may still convert.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class GroupRevenue:
    """The resolved clicks of one group and their revenue, summed as they stream by."""

    clicks: int = 0
    revenue: float = 0.0
    revenue_sq: float = 0.0
    pending: int = 0
    """Clicks left out: no feedback yet, within their attribution window."""

    def plus(self, reward: float) -> GroupRevenue:
        return replace(self, clicks=self.clicks + 1, revenue=self.revenue + reward, revenue_sq=self.revenue_sq + reward**2)

    def plus_pending(self) -> GroupRevenue:
        return replace(self, pending=self.pending + 1)

    @property
    def rpc(self) -> float | None:
        return self.revenue / self.clicks if self.clicks else None

    @property
    def variance_of_mean(self) -> float | None:
        """The sample variance of a click's revenue over n; None below two clicks."""
        if self.clicks < 2:
            return None
        mean = self.revenue / self.clicks
        variance = max(self.revenue_sq - self.clicks * mean * mean, 0.0) / (self.clicks - 1)
        return variance / self.clicks


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float
    low: float
    high: float

    def times(self, factor: float) -> Interval:
        return Interval(self.estimate * factor, self.low * factor, self.high * factor)


@dataclass(frozen=True, slots=True)
class Uplift:
    bandit: GroupRevenue
    holdout: GroupRevenue
    difference: Interval | None
    """Bandit's revenue per click minus the holdout's, with its interval; None until each
    group has two resolved clicks."""

    @property
    def extra_revenue(self) -> Interval | None:
        """What the bandit's clicks earned above what they would have at the holdout's
        rate: its clicks times the difference."""
        return None if self.difference is None else self.difference.times(self.bandit.clicks)


def uplift(bandit: GroupRevenue, holdout: GroupRevenue, confidence: float = CONFIDENCE) -> Uplift:
    """The difference of the groups' revenue per click with its two-sided interval."""
    var_b, var_h = bandit.variance_of_mean, holdout.variance_of_mean
    if var_b is None or var_h is None:
        return Uplift(bandit, holdout, None)
    difference = bandit.revenue / bandit.clicks - holdout.revenue / holdout.clicks
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * math.sqrt(var_b + var_h)
    return Uplift(bandit, holdout, Interval(difference, difference - half, difference + half))
