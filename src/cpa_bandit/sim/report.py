"""What a simulation tells a person: Rich tables of efficiency, paired differences and regret,
then the acceptance targets.

Efficiency varies from seed to seed mostly with the world (some markets are easy), so its
spread says little about a difference between policies; the paired tables, seed by seed on
the same streams, do. The JSON lines (:mod:`.jsonl`) carry every score, so any other view
can be computed from them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
from rich.console import Console
from rich.table import Table

from .contenders import BASELINES
from .jsonl import EarlierRun
from .paired import Estimate, PerSeed, differences, seed_means
from .scenarios import CORE_SCENARIOS, SCENARIOS
from .summary import Summary
from .leads import EXEMPT_BASELINE, best_baseline, lead_lines

Pairing = Callable[[str, str], PerSeed]
"""(scenario, policy) → that policy's paired differences on that scenario, by seed."""


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


def _paired_grid(
    summary: Summary, title: str, headers: Mapping[str, str], policies: Sequence[str], pairing: Pairing
) -> Table:
    """Mean ± s.e. of ``pairing`` per scenario (``headers``: scenario → its column) and, when
    every core scenario is a column, of its per-seed mean over them. A cell paired on fewer
    seeds than the run has says on how many."""
    with_mean = set(CORE_SCENARIOS) <= headers.keys()

    def cells(policy: str) -> list[str]:
        per_scenario = {scenario: pairing(scenario, policy) for scenario in headers}
        estimates = [Estimate.of(values) for values in per_scenario.values()]
        if with_mean:
            estimates.append(Estimate.of(seed_means([per_scenario[s] for s in CORE_SCENARIOS])))
        return [f"{e} (n={e.n})" if 0 < e.n < len(summary.seeds) else str(e) for e in estimates]

    return _grid(title, [*headers.values(), *(["mean"] if with_mean else [])], ((p, cells(p)) for p in policies))


def reference_table(summary: Summary, reference: str | None) -> Table | None:
    """Each policy − ``reference`` on the same streams; by default − the best baseline of each
    scenario, the one its target holds up. None when there is nothing to compare with."""
    if reference is None:
        references = {s: best_baseline(summary, s) for s in summary.scenarios}
        headers = {s: f"{_header(s)}\nvs {r}" for s, r in references.items()}
        policies = summary.policies
        title = f"Paired difference from each scenario's best baseline ({EXEMPT_BASELINE} aside)"
    else:
        references = dict.fromkeys(summary.scenarios, reference)
        headers = {s: _header(s) for s in summary.scenarios}
        policies = [p for p in summary.policies if p != reference]
        title = f"Paired difference, policy − {reference}"
    if None in references.values() or not policies:
        return None
    title += f", in efficiency: mean ± s.e. over {len(summary.seeds)} seed(s)"

    def pairing(scenario: str, policy: str) -> PerSeed:
        return differences(summary.judged(scenario, policy), summary.judged(scenario, references[scenario]))

    return _paired_grid(summary, title, headers, policies, pairing)


def earlier_table(summary: Summary, earlier: EarlierRun) -> Table:
    """This run − the earlier one per (scenario, policy), seed by seed, where both have them."""
    scenarios = [s for s in summary.scenarios if any(earlier.judged(s, p) for p in summary.policies)]
    policies = [p for p in summary.policies if any(earlier.judged(s, p) for s in summary.scenarios)]
    title = f"This run − {earlier.path.name}, in efficiency: mean ± s.e. over the seeds both have"
    return _paired_grid(
        summary, title, {s: _header(s) for s in scenarios}, policies,
        lambda s, p: differences(summary.judged(s, p), earlier.judged(s, p)),
    )  # fmt: skip


def print_report(
    summary: Summary, console: Console, reference: str | None = None, earlier: EarlierRun | None = None
) -> None:
    console.print(efficiency_table(summary))
    if (paired := reference_table(summary, reference)) is not None:
        console.print(paired)
    if earlier is not None:
        console.print(earlier_table(summary, earlier))
    console.print(regret_table(summary))
    for scenario in summary.scenarios:
        console.print(f"[bold]{scenario}[/]: {SCENARIOS[scenario].description}")
    for leads, line in lead_lines(summary):
        console.print(("[green]leads  [/] " if leads else "[red]trails [/] ") + line)
