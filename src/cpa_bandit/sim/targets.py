"""The acceptance targets of the service's samplers, and the baseline each scenario holds up.

Both service samplers with sources are judged, whichever of them ran: a change to either
must not lose what the other has shown to be reachable.
"""

from __future__ import annotations

from .contenders import BASELINES
from .paired import Estimate, differences
from .scenarios import CORE_SCENARIOS
from .summary import Summary

CHAMPIONS = ("thompson", "ucb")
"""The service's samplers (with sources) the targets are about."""
MEAN_TARGET = 0.75
"""Least mean judged efficiency over the core scenarios."""
SCENARIO_TARGETS = {"trap": 0.80, "drift": 0.62}
"""Least mean judged efficiency per scenario (drift: its second half)."""
EXEMPT_BASELINE = "eb-greedy"
"""A baseline the champions need not beat: empirical-Bayes greedy, a reference for what
sharing evidence across offers could reach rather than a bar for the service. Named here,
not flagged in ``contenders``, so that the rule holds whether or not a run includes it."""


def target_baseline(summary: Summary, scenario: str) -> str | None:
    """The best simulator baseline on ``scenario`` by mean judged efficiency, the exempt one
    aside; None when no such baseline ran."""
    baselines = [p for p in summary.policies if p in BASELINES and p != EXEMPT_BASELINE]
    return max(baselines, key=lambda p: summary.mean(scenario, p), default=None)


def target_lines(summary: Summary) -> list[tuple[bool, str]]:
    """(met, sentence) per acceptance target that this run can check."""
    lines = []
    for champion in (c for c in CHAMPIONS if c in summary.policies):
        if summary.has_core:
            got = Estimate.of(summary.core_mean(champion)).mean
            sentence = f"{champion} mean over the {len(CORE_SCENARIOS)} core scenarios: {got:.3f}"
            sentence += f" (target >= {MEAN_TARGET:.2f})"
            lines.append((got >= MEAN_TARGET, sentence))
        for scenario in summary.scenarios:
            if scenario in SCENARIO_TARGETS:
                got, need = summary.mean(scenario, champion), SCENARIO_TARGETS[scenario]
                lines.append((got >= need, f"{champion} on {scenario}: {got:.3f} (target >= {need:.2f})"))
            if (baseline := target_baseline(summary, scenario)) is not None:
                lead = Estimate.of(differences(summary.judged(scenario, champion), summary.judged(scenario, baseline)))
                sentence = f"{champion} vs best baseline on {scenario} ({baseline}): {lead} (target > 0)"
                lines.append((lead.mean > 0, sentence))
    return lines
