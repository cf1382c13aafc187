"""How far each service sampler leads the best baseline of each scenario: what a user of
the simulator asks of a run (is the bandit worth it here?), paired seed by seed.
"""

from __future__ import annotations

from .contenders import BASELINES
from .paired import Estimate, differences
from .summary import Summary

SAMPLERS = ("thompson", "ucb")
"""The service's samplers (with sources) that are held up against the baselines."""
EXEMPT_BASELINE = "eb-greedy"
"""A baseline the samplers are not held up against: empirical-Bayes greedy, a reference for
what sharing evidence across offers could reach rather than an alternative to deploy. Named
here, not flagged in ``contenders``, so that the rule holds whether or not a run includes it."""


def best_baseline(summary: Summary, scenario: str) -> str | None:
    """The best simulator baseline on ``scenario`` by mean judged efficiency, the exempt one
    aside; None when no such baseline ran."""
    baselines = [p for p in summary.policies if p in BASELINES and p != EXEMPT_BASELINE]
    return max(baselines, key=lambda p: summary.mean(scenario, p), default=None)


def lead_lines(summary: Summary) -> list[tuple[bool, str]]:
    """(leads, sentence) per sampler and scenario of this run that has a baseline."""
    lines = []
    for sampler in (s for s in SAMPLERS if s in summary.policies):
        for scenario in summary.scenarios:
            if (baseline := best_baseline(summary, scenario)) is not None:
                lead = Estimate.of(differences(summary.judged(scenario, sampler), summary.judged(scenario, baseline)))
                lines.append((lead.mean > 0, f"{sampler} − best baseline on {scenario} ({baseline}): {lead}"))
    return lines
