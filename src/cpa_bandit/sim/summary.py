"""A run's scores by (scenario, policy, seed), and the one number each scenario is judged on.

Each scenario is judged on the part of the run its :class:`~.scenarios.Scenario` names (the
second half after a drift). Scores stay keyed by seed so that two policies, or two runs, can
be compared seed by seed (:mod:`.paired`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .paired import seed_means
from .runner import SeedRun
from .scenarios import CORE_SCENARIOS, SCENARIOS
from .scores import Scores


def judged_efficiency(scenario: str, scores: Scores) -> float:
    if SCENARIOS[scenario].judged_on == "second_half":
        return scores.efficiency_second_half
    return scores.efficiency


class Summary:
    """Scores per (scenario, policy), by seed."""

    def __init__(self, seed_runs: Sequence[SeedRun]) -> None:
        self._scores: dict[tuple[str, str], dict[int, Scores]] = {}
        for seed_run in seed_runs:
            for run in seed_run.runs:
                self._scores.setdefault((seed_run.scenario, run.policy), {})[seed_run.seed] = run.scores
        self.scenarios = list(dict.fromkeys(scenario for scenario, _ in self._scores))
        self.policies = list(dict.fromkeys(policy for _, policy in self._scores))
        self.seeds = sorted({seed for by_seed in self._scores.values() for seed in by_seed})

    def judged(self, scenario: str, policy: str) -> dict[int, float]:
        """Judged efficiency by seed; empty where the policy did not run on the scenario."""
        by_seed = self._scores.get((scenario, policy), {})
        return {seed: judged_efficiency(scenario, scores) for seed, scores in by_seed.items()}

    def values(self, scenario: str, policy: str, metric: str) -> np.ndarray:
        """``metric`` (a :class:`Scores` field, or ``judged_efficiency``) over seeds."""
        if metric == "judged_efficiency":
            return np.fromiter(self.judged(scenario, policy).values(), dtype=float)
        return np.array([getattr(s, metric) for s in self._scores[scenario, policy].values()])

    def mean(self, scenario: str, policy: str) -> float:
        """Mean judged efficiency over seeds."""
        return float(self.values(scenario, policy, "judged_efficiency").mean())

    @property
    def has_core(self) -> bool:
        """Whether every core scenario ran, so that their mean means what its target says."""
        return set(CORE_SCENARIOS) <= set(self.scenarios)

    def core_mean(self, policy: str) -> dict[int, float]:
        """Per seed, the mean judged efficiency over the core scenarios (all must have run)."""
        return seed_means([self.judged(scenario, policy) for scenario in CORE_SCENARIOS])
