"""Scores computed by hand on a four-click stream."""

from __future__ import annotations

import numpy as np
import pytest

from cpa_bandit.sim.scores import efficiency, regret_per_click, score
from cpa_bandit.sim.stream import ClickStream

# expected rpc of the two eligible offers on each click; the second offer is best, then worst
EXPECTED = np.array([[1.0, 3.0], [1.0, 3.0], [4.0, 2.0], [4.0, 2.0]])
REWARDS = np.array([[0, 25_000_000], [0, 0], [10_000_000, 0], [0, 0]])
STREAM = ClickStream(
    source=np.zeros(4, dtype=int),
    eligible=np.array([[0, 1]] * 4),
    uniform=np.full((4, 2), 0.5),
    delay=np.array([1, 5, 1, 1]),
    expected_rpc=EXPECTED,
    reward_micros=REWARDS,
)


def test_scores_of_a_policy_right_first_then_wrong() -> None:
    chosen = np.array([1, 1, 1, 1])
    scores = score(STREAM, chosen)
    assert scores.efficiency_first_half == 1.0
    assert scores.efficiency_second_half == -1.0
    # total: policy 10, oracle 14, random 10 -> 0
    assert scores.efficiency == 0.0
    assert scores.regret == 4.0
    assert (scores.expected_revenue, scores.oracle_revenue, scores.random_revenue) == (10.0, 14.0, 10.0)
    assert scores.revenue == 25.0
    assert scores.pending == 2, "click 1 (due at 6) and click 3 (due at 4) never get feedback"
    assert regret_per_click(STREAM, chosen).tolist() == [0.0, 0.0, 2.0, 2.0]


def test_efficiency_is_one_when_every_offer_is_as_good() -> None:
    assert efficiency(2.0, 2.0, 2.0) == 1.0
    assert efficiency(3.0, 5.0, 1.0) == pytest.approx(0.5)
