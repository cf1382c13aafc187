"""Baselines behave as documented, the seed's flaw included."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cpa_bandit.policies import argmax_random
from cpa_bandit.sim.baselines import UCB1, Baseline, EpsilonGreedy, SeedThompson, SeedUCB
from cpa_bandit.sim.runner import RunOptions, SimClock, play
from cpa_bandit.sim.stream import draw
from cpa_bandit.sim.world import WorldConfig


class NeverExploresAfterAConversion:
    """Checks, before every choice of a seed baseline, its characteristic flaw: when any
    eligible offer has converted, an offer that has not is never chosen."""

    def __init__(self, inner: Baseline) -> None:
        self.inner = inner
        self.checked = 0

    def choose(self, click: int, source: int, offers: np.ndarray) -> int:
        converted = self.inner.reward[offers] > 0
        index = self.inner.choose(click, source, offers)
        if converted.any():
            assert converted[index], f"click {click}: chose offer {offers[index]} without conversions"
            self.checked += 1
        return index

    def feedback(self, click: int, reward_micros: int) -> None:
        self.inner.feedback(click, reward_micros)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("baseline", [SeedUCB, SeedThompson])
def test_the_seed_never_explores_an_offer_after_another_converted(baseline, small: WorldConfig) -> None:
    _, stream = draw(small, 0)
    checker = NeverExploresAfterAConversion(baseline(small.offers, np.random.default_rng(0)))
    play(stream, checker, SimClock(), RunOptions())
    assert checker.checked > small.clicks // 2, "the flaw was exercised on most clicks"
    never_converted = checker.inner.reward == 0
    assert never_converted.any(), "some offers were written off"


def test_seed_ucb_formula() -> None:
    policy = SeedUCB(3, np.random.default_rng(0), c=1.0)
    policy.clicks[:] = [10, 10, 40]
    policy.conversions[:] = [1, 0, 2]
    policy.reward[:] = [5.0, 0.0, 40.0]
    click = 99  # t = 100
    rpc, cr = np.array([0.5, 0.0, 1.0]), np.array([0.1, 0.0, 0.05])
    scores = rpc * (cr + np.sqrt(2 * np.log(100)) / np.array([10, 10, 40]))
    assert policy.pick(click, np.arange(3)) == int(np.argmax(scores))


def test_ucb1_tries_every_offer_never_resolved_first() -> None:
    policy = UCB1(4, np.random.default_rng(0))
    policy.resolved[:] = [5, 0, 3, 0]
    picks = {policy.pick(0, np.arange(4)) for _ in range(50)}
    assert picks == {1, 3}


def test_ucb1_scales_rewards_by_the_largest_payout() -> None:
    policy = UCB1(2, np.random.default_rng(0))
    policy.resolved[:] = [1_000, 1_000]
    policy.reward[:] = [500.0, 100.0]
    policy.max_payout = 100.0
    assert policy.pick(0, np.arange(2)) == 0


def test_epsilon_greedy_is_greedy_on_resolved_rpc_but_explores() -> None:
    policy = EpsilonGreedy(3, np.random.default_rng(0), epsilon=0.1)
    policy.resolved[:] = [100, 100, 0]
    policy.reward[:] = [10.0, 30.0, 0.0]
    picks = np.array([policy.pick(0, np.arange(3)) for _ in range(2_000)])
    assert 0.9 < np.mean(picks == 1) < 0.96
    assert (picks == 2).any()


def test_feedback_updates_the_chosen_offer_only(small: WorldConfig) -> None:
    policy = SeedThompson(small.offers, np.random.default_rng(0))
    offers = np.array([2, 5, 7])
    index = policy.choose(0, 0, offers)
    policy.feedback(0, 12_500_000)
    offer = offers[index]
    assert policy.clicks[offer] == policy.resolved[offer] == policy.conversions[offer] == 1
    assert policy.reward[offer] == 12.5 and policy.max_payout == 12.5
    assert policy.clicks.sum() == 1


def test_ties_break_at_random() -> None:
    rng = np.random.default_rng(0)
    picks = {argmax_random(np.array([1.0, 3.0, 3.0, 0.0, 3.0]), rng)[0] for _ in range(100)}
    assert picks == {1, 2, 4}


def test_late_feedback_does_not_stop_the_baselines(small: WorldConfig) -> None:
    config = replace(small, mean_delay=2_000.0)
    _, stream = draw(config, 0)
    for baseline in (UCB1, EpsilonGreedy, SeedUCB, SeedThompson):
        play(stream, baseline(config.offers, np.random.default_rng(0)), SimClock(), RunOptions())
