"""Each sampler against the best baseline, on made-up scores; the exempt baseline."""

from __future__ import annotations

import numpy as np

from cpa_bandit.sim.contenders import BASELINES
from cpa_bandit.sim.leads import EXEMPT_BASELINE, best_baseline, lead_lines
from cpa_bandit.sim.runner import PolicyRun, SeedRun
from cpa_bandit.sim.scores import Scores
from cpa_bandit.sim.summary import Summary
from cpa_bandit.sim.world import WorldConfig


def summary(efficiency: dict[str, dict[str, list[float]]]) -> Summary:
    """A summary whose judged efficiency is ``efficiency[scenario][policy][seed]``."""
    seed_runs = []
    for scenario, by_policy in efficiency.items():
        for seed in range(len(next(iter(by_policy.values())))):
            runs = [
                PolicyRun(policy, _scores(values[seed]), np.zeros(1, int), np.zeros(1))
                for policy, values in by_policy.items()
            ]
            seed_runs.append(SeedRun(scenario, seed, WorldConfig(), np.zeros(1, int), runs))
    return Summary(seed_runs)


def _scores(efficiency: float) -> Scores:
    return Scores(efficiency, efficiency, efficiency, 0.0, 0.0, 0.0, 0.0, 0.0, 0)


def test_each_sampler_is_paired_with_the_best_baseline_of_each_scenario() -> None:
    efficiency = {
        "static": {"thompson": [0.76, 0.76], "ucb": [0.70, 0.74], "random": [0.0, 0.0], "epsilon-greedy": [0.5, 0.6]},
        "trap": {"thompson": [0.9, 0.7], "ucb": [-0.1, -0.1], "random": [0.0, 0.0], "epsilon-greedy": [-0.5, -0.5]},
    }
    lines = dict((line, leads) for leads, line in lead_lines(summary(efficiency)))
    assert lines == {
        "thompson − best baseline on static (epsilon-greedy): +0.210 ± 0.050": True,
        "thompson − best baseline on trap (random): +0.800 ± 0.100": True,
        "ucb − best baseline on static (epsilon-greedy): +0.170 ± 0.030": True,
        "ucb − best baseline on trap (random): -0.100 ± 0.000": False,
    }
    assert not any("target" in line for line in lines)


def test_no_sampler_no_lines() -> None:
    assert lead_lines(summary({"trap": {"random": [0.0], "epsilon-greedy": [0.3]}})) == []


def test_the_exempt_baseline_is_never_the_one_to_beat() -> None:
    assert EXEMPT_BASELINE in BASELINES
    run = summary({"static": {"ucb": [0.5], EXEMPT_BASELINE: [0.9], "epsilon-greedy": [0.4], "random": [0.0]}})
    assert best_baseline(run, "static") == "epsilon-greedy"
    assert [leads for leads, _ in lead_lines(run)] == [True]
    assert best_baseline(summary({"static": {"ucb": [0.5], EXEMPT_BASELINE: [0.9]}}), "static") is None
