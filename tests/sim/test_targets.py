"""The acceptance targets on made-up scores: both champions, the core mean, the exempt baseline."""

from __future__ import annotations

import numpy as np

from cpa_bandit.sim.contenders import BASELINES
from cpa_bandit.sim.runner import PolicyRun, SeedRun
from cpa_bandit.sim.scenarios import CORE_SCENARIOS
from cpa_bandit.sim.scores import Scores
from cpa_bandit.sim.summary import Summary
from cpa_bandit.sim.targets import EXEMPT_BASELINE, target_baseline, target_lines
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


def test_both_champions_are_judged_on_every_target_this_run_can_check() -> None:
    efficiency = {s: {"thompson": [0.76, 0.76], "ucb": [0.70, 0.74], "random": [0.0, 0.0]} for s in CORE_SCENARIOS}
    efficiency["drift"] = {"thompson": [0.62, 0.62], "ucb": [0.60, 0.60], "random": [0.0, 0.0]}
    efficiency["trap"] = {"thompson": [0.9, 0.7], "ucb": [-0.1, -0.1], "random": [0.0, 0.0]}
    lines = dict((line, met) for met, line in target_lines(summary(efficiency)))
    # thompson: 0.76 on four core scenarios, 0.62 on drift -> mean 0.732
    assert lines["thompson mean over the 5 core scenarios: 0.732 (target >= 0.75)"] is False
    assert lines["thompson on drift: 0.620 (target >= 0.62)"] is True
    assert lines["thompson on trap: 0.800 (target >= 0.80)"] is True
    assert lines["thompson vs best baseline on trap (random): +0.800 ± 0.100 (target > 0)"] is True
    assert lines["ucb on drift: 0.600 (target >= 0.62)"] is False
    assert lines["ucb vs best baseline on trap (random): -0.100 ± 0.000 (target > 0)"] is False
    assert len(lines) == 2 * (1 + 2 + 6), "per champion: the mean, drift and trap, a baseline per scenario"


def test_without_every_core_scenario_there_is_no_mean_target() -> None:
    lines = [line for _, line in target_lines(summary({"static": {"ucb": [0.9], "random": [0.1]}}))]
    assert lines == ["ucb vs best baseline on static (random): +0.800 ± — (target > 0)"]


def test_no_champion_no_targets() -> None:
    assert target_lines(summary({"trap": {"random": [0.0], "epsilon-greedy": [0.3]}})) == []


def test_the_exempt_baseline_is_never_the_one_to_beat() -> None:
    assert EXEMPT_BASELINE in BASELINES
    run = summary({"static": {"ucb": [0.5], EXEMPT_BASELINE: [0.9], "epsilon-greedy": [0.4], "random": [0.0]}})
    assert target_baseline(run, "static") == "epsilon-greedy"
    assert [met for met, _ in target_lines(run)] == [True]
    assert target_baseline(summary({"static": {"ucb": [0.5], EXEMPT_BASELINE: [0.9]}}), "static") is None
