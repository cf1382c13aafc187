"""PNG charts per scenario: cumulative regret over clicks, and where each policy sent its traffic.

Figures are built with matplotlib's object API (``Figure`` renders PNG through Agg), so no
display and no pyplot global state are involved.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .contenders import BASELINES, ORACLE
from .runner import SeedRun

TOP_OFFERS = 6
"""Offers shown one by one in the allocation chart; the rest are summed as "other"."""
WINDOWS = 40
"""Time windows of the allocation chart."""
COLOURS = [f"C{i}" for i in range(TOP_OFFERS)]


def write_plots(seed_runs: Sequence[SeedRun], directory: Path) -> list[Path]:
    """Two PNGs per scenario in ``directory``; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for scenario in dict.fromkeys(r.scenario for r in seed_runs):
        runs = [r for r in seed_runs if r.scenario == scenario]
        paths.append(_save(_regret_figure(runs), directory / f"{scenario}-regret.png"))
        paths.append(_save(_allocation_figure(runs[0]), directory / f"{scenario}-allocation.png"))
    return paths


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=100)
    return path


def _drift_line(axes, seed_run: SeedRun) -> None:
    if seed_run.config.drift_at is not None:
        axes.axvline(seed_run.config.drift_at, color="black", linestyle=":", linewidth=1)


def _regret_figure(runs: Sequence[SeedRun]) -> Figure:
    """Mean cumulative regret over seeds per policy; baselines dashed.

    No spread band: seeds draw different worlds whose revenue scales differ, so the spread
    of absolute regret says more about the worlds than about the policies (the tables give
    the spread of efficiency instead)."""
    figure = Figure(figsize=(9, 5.5), layout="constrained")
    axes = figure.add_subplot()
    clicks = np.arange(1, runs[0].config.clicks + 1)
    for i, policy in enumerate(run.policy for run in runs[0].runs):
        mean = np.mean([np.cumsum(r.runs[i].regret) for r in runs], axis=0)
        axes.plot(clicks, mean, label=policy, linewidth=1.5, linestyle="--" if policy in BASELINES else "-")
    _drift_line(axes, runs[0])
    axes.set(
        title=f"{runs[0].scenario}: cumulative regret (mean over {len(runs)} seed(s))",
        xlabel="click",
        ylabel="expected revenue lost to the oracle",
    )
    axes.legend(loc="upper left", fontsize="small")
    return figure


def _allocation_figure(seed_run: SeedRun) -> Figure:
    """Share of clicks per offer over time, the oracle's first, then each policy's (one seed)."""
    panels = [("oracle (best offer per click)", seed_run.best_offers)]
    panels += [(run.policy, run.offers) for run in seed_run.runs if run.policy != ORACLE]
    top = np.argsort(-np.bincount(seed_run.best_offers), kind="stable")[:TOP_OFFERS]
    edges = np.linspace(0, seed_run.config.clicks, WINDOWS + 1).astype(int)
    centres = (edges[:-1] + edges[1:]) / 2
    columns = min(4, len(panels))
    rows = -(-len(panels) // columns)
    figure = Figure(figsize=(4 * columns, 2.8 * rows), layout="constrained")
    figure.suptitle(f"{seed_run.scenario}: share of clicks per offer over time (seed {seed_run.seed})")
    for n, (title, offers) in enumerate(panels):
        axes = figure.add_subplot(rows, columns, n + 1)
        shares = _shares(offers, top, edges)
        axes.stackplot(
            centres, shares, labels=[f"offer {k}" for k in top] + ["other"], colors=COLOURS[: len(top)] + ["lightgrey"]
        )
        _drift_line(axes, seed_run)
        axes.set(title=title, ylim=(0, 1), xlim=(0, seed_run.config.clicks))
        axes.tick_params(labelsize="small")
    figure.legend(*axes.get_legend_handles_labels(), loc="outside lower center", ncols=TOP_OFFERS + 1, fontsize="small")
    return figure


def _shares(offers: np.ndarray, top: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(len(top) + 1, windows): share of each top offer, then of all others, per window."""
    window = np.searchsorted(edges, np.arange(len(offers)), side="right") - 1
    counts = np.zeros((len(top) + 1, len(edges) - 1))
    row = np.full(max(offers.max(), top.max()) + 1, len(top))  # offer -> its row; others last
    row[top] = np.arange(len(top))
    np.add.at(counts, (row[offers], window), 1)
    return counts / np.maximum(counts.sum(axis=0), 1)
