"""What a simulation tells a person and a machine: Rich tables, the acceptance targets, JSON lines.

Each scenario is judged on the part of the run its :class:`~.scenarios.Scenario` names (the
second half after a drift); the JSON lines carry every score, so any other view can be
computed from them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict

import numpy as np
from rich.console import Console
from rich.table import Table

from .contenders import BASELINES
from .runner import SeedRun
from .scenarios import CORE_SCENARIOS, SCENARIOS
from .summary import Summary, judged_efficiency
from .targets import target_lines


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


def _header(scenario: str, judged: bool = True) -> str:
    """The scenario's column, naming the part of the run judged when it is not all of it."""
    second_half = judged and SCENARIOS[scenario].judged_on == "second_half"
    return scenario + (" (2nd half)" if second_half else "")


def _grid(title: str, headers: Iterable[str], rows: Iterable[tuple[str, Sequence[str]]]) -> Table:
    """A policy per row (baselines dimmed), a column per header."""
    out = Table(title=title, title_justify="left")
    out.add_column("policy", style="bold")
    for header in headers:
        out.add_column(header, justify="right")
    for policy, cells in rows:
        out.add_row(policy, *cells, style="dim" if policy in BASELINES else None)
    return out


def _spread(values: np.ndarray, fmt: str) -> str:
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():{fmt}} ± {std:{fmt}}"


def efficiency_table(summary: Summary) -> Table:
    """Judged efficiency per scenario and, when they all ran, its mean over the core scenarios
    (per seed, then mean ± std over seeds)."""
    title = f"Efficiency, mean ± std over {len(summary.seeds)} seed(s)"
    headers = [_header(s) for s in summary.scenarios]
    if summary.has_core:
        title += f"; mean: per seed over {', '.join(CORE_SCENARIOS)}"
        headers.append("mean")

    def cells(policy: str) -> list[str]:
        out = [_spread(summary.values(s, policy, "judged_efficiency"), ".3f") for s in summary.scenarios]
        if summary.has_core:
            out.append(_spread(np.fromiter(summary.core_mean(policy).values(), dtype=float), ".3f"))
        return out

    return _grid(title, headers, ((policy, cells(policy)) for policy in summary.policies))


def regret_table(summary: Summary) -> Table:
    rows = ((p, [_spread(summary.values(s, p, "regret"), ",.0f") for s in summary.scenarios]) for p in summary.policies)
    headers = (_header(s, judged=False) for s in summary.scenarios)
    return _grid("Cumulative regret (expected revenue lost to the oracle)", headers, rows)


def print_report(summary: Summary, console: Console) -> None:
    console.print(efficiency_table(summary))
    console.print(regret_table(summary))
    for scenario in summary.scenarios:
        console.print(f"[bold]{scenario}[/]: {SCENARIOS[scenario].description}")
    for met, line in target_lines(summary):
        console.print(("[green]met    [/] " if met else "[red]missed [/] ") + line)
