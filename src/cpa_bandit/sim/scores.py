"""How a run is scored: on the *expected* revenue of its choices, not on the luck of the draws.

Efficiency = (policy − random) / (oracle − random) on expected revenue per click: 0 is
choosing uniformly among the eligible offers, 1 is always choosing the offer with the best
true rpc for that click's source at that time. Expected values make a few seeds enough;
the realised revenue is reported beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..money import MICROS
from .stream import ClickStream


@dataclass(frozen=True, slots=True)
class Scores:
    efficiency: float
    efficiency_first_half: float
    efficiency_second_half: float
    regret: float
    """Cumulative expected revenue lost against the oracle, in currency units."""
    expected_revenue: float
    oracle_revenue: float
    random_revenue: float
    revenue: float
    """Realised: the payouts of the clicks that converted."""
    pending: int
    """Clicks whose feedback was still due when the run ended."""


def efficiency(policy: float, oracle: float, random: float) -> float:
    """(policy − random) / (oracle − random); 1 when every choice is as good as the best."""
    span = oracle - random
    return float((policy - random) / span) if span > 0 else 1.0


def regret_per_click(stream: ClickStream, chosen: np.ndarray) -> np.ndarray:
    """Expected revenue lost on each click by the choice ``chosen[i]`` (a column of ``eligible``)."""
    rows = np.arange(stream.clicks)
    return stream.expected_rpc.max(axis=1) - stream.expected_rpc[rows, chosen]


def score(stream: ClickStream, chosen: np.ndarray) -> Scores:
    rows = np.arange(stream.clicks)
    got = stream.expected_rpc[rows, chosen]
    best = stream.expected_rpc.max(axis=1)
    mean = stream.expected_rpc.mean(axis=1)
    half = stream.clicks // 2

    def eff(part: slice) -> float:
        return efficiency(got[part].sum(), best[part].sum(), mean[part].sum())

    return Scores(
        efficiency=eff(slice(None)),
        efficiency_first_half=eff(slice(0, half)),
        efficiency_second_half=eff(slice(half, None)),
        regret=float((best - got).sum()),
        expected_revenue=float(got.sum()),
        oracle_revenue=float(best.sum()),
        random_revenue=float(mean.sum()),
        revenue=float(stream.reward_micros[rows, chosen].sum() / MICROS),
        pending=int((stream.due >= stream.clicks).sum()),
    )
