"""What a simulation tells a person and a machine: Rich tables, the acceptance targets, JSON lines.

Each scenario is judged on the part of the run its :class:`~.scenarios.Scenario` names (the
second half after a drift); the JSON lines carry every score, so any other view can be
computed from them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict

import numpy as np
from rich.console import Console
from rich.table import Table

from .contenders import BASELINES
from .runner import SeedRun
from .scenarios import SCENARIOS
from .scores import Scores

CHAMPION = "thompson"
"""The service's sampler the acceptance targets are about (Thompson with sources)."""
TARGETS = {"static": 0.80, "drift": 0.70, "new-offers": 0.80}
"""Least mean judged efficiency of the champion per scenario."""
MARGIN = 0.10
"""By how much the champion must beat the best baseline in every scenario."""


def judged_efficiency(scenario: str, scores: Scores) -> float:
    if SCENARIOS[scenario].judged_on == "second_half":
        return scores.efficiency_second_half
    return scores.efficiency


def json_lines(seed_run: SeedRun, run_info: dict) -> Iterator[str]:
    """One line per policy: its scores, and the world config plus ``run_info`` (mode, store…)."""
    for run in seed_run.runs:
        yield json.dumps(
            {
                "scenario": seed_run.scenario,
                "policy": run.policy,
                "seed": seed_run.seed,
                "judged_efficiency": judged_efficiency(seed_run.scenario, run.scores),
                **asdict(run.scores),
                "config": {**asdict(seed_run.config), **run_info},
            }
        )


class Summary:
    """Scores over seeds per (scenario, policy)."""

    def __init__(self, seed_runs: Sequence[SeedRun]) -> None:
        self._scores: dict[tuple[str, str], list[Scores]] = defaultdict(list)
        for seed_run in seed_runs:
            for run in seed_run.runs:
                self._scores[seed_run.scenario, run.policy].append(run.scores)
        self.scenarios = list(dict.fromkeys(scenario for scenario, _ in self._scores))
        self.policies = list(dict.fromkeys(policy for _, policy in self._scores))

    def values(self, scenario: str, policy: str, metric: str) -> np.ndarray:
        scores = self._scores[scenario, policy]
        if metric == "judged_efficiency":
            return np.array([judged_efficiency(scenario, s) for s in scores])
        return np.array([getattr(s, metric) for s in scores])

    def mean(self, scenario: str, policy: str, metric: str = "judged_efficiency") -> float:
        return float(self.values(scenario, policy, metric).mean())

    def cell(self, scenario: str, policy: str, metric: str, fmt: str) -> str:
        values = self.values(scenario, policy, metric)
        std = values.std(ddof=1) if len(values) > 1 else 0.0
        return f"{values.mean():{fmt}} ± {std:{fmt}}"


def table(summary: Summary, metric: str, title: str, fmt: str) -> Table:
    out = Table(title=title, title_justify="left")
    out.add_column("policy", style="bold")
    for scenario in summary.scenarios:
        judged = metric == "judged_efficiency" and SCENARIOS[scenario].judged_on == "second_half"
        part = " (2nd half)" if judged else ""
        out.add_column(scenario + part, justify="right")
    for policy in summary.policies:
        style = "dim" if policy in BASELINES else None
        out.add_row(policy, *(summary.cell(s, policy, metric, fmt) for s in summary.scenarios), style=style)
    return out


def target_lines(summary: Summary) -> list[tuple[bool, str]]:
    """(met, sentence) per acceptance target that this run can check."""
    if CHAMPION not in summary.policies:
        return []
    lines = []
    for scenario in summary.scenarios:
        got = summary.mean(scenario, CHAMPION)
        if scenario in TARGETS:
            need = TARGETS[scenario]
            lines.append((got >= need, f"{CHAMPION} on {scenario}: {got:.3f} (target >= {need:.2f})"))
        baselines = [p for p in summary.policies if p in BASELINES]
        if baselines:
            best = max(baselines, key=lambda p: summary.mean(scenario, p))
            lead = got - summary.mean(scenario, best)
            lines.append(
                (
                    lead >= MARGIN,
                    f"{CHAMPION} vs best baseline on {scenario} ({best}): {lead:+.3f} (target >= +{MARGIN:.2f})",
                )
            )
    return lines


def print_report(summary: Summary, seeds: int, console: Console) -> None:
    console.print(table(summary, "judged_efficiency", f"Efficiency, mean ± std over {seeds} seed(s)", ".3f"))
    console.print(table(summary, "regret", "Cumulative regret (expected revenue lost to the oracle)", ",.0f"))
    for scenario in summary.scenarios:
        console.print(f"[bold]{scenario}[/]: {SCENARIOS[scenario].description}")
    for met, line in target_lines(summary):
        console.print(("[green]met    [/] " if met else "[red]missed [/] ") + line)
