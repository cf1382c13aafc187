"""An evaluation for people (a Rich table and its warnings) and for machines (JSON)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import Evaluation
from .estimators import Estimate
from .rounds import Progress as ProgressCallback


def _number(value: float) -> float | None:
    """JSON has no NaN: an estimate that cannot be told is null."""
    return None if math.isnan(value) else value


def _estimate(estimate: Estimate) -> dict[str, float | None]:
    return {
        "estimate": _number(estimate.value),
        "ci_low": _number(estimate.low),
        "ci_high": _number(estimate.high),
        "se": _number(estimate.se),
    }


def as_dict(evaluation: Evaluation) -> dict[str, object]:
    """Revenue per click in currency units; ``ci_*`` bound the 95 % confidence interval."""
    return {
        "target": {"policy": evaluation.target.policy.value, "params": evaluation.target.params},
        "rounds": evaluation.rounds,
        "pending": evaluation.pending,
        "invalid": evaluation.invalid,
        "conversions": evaluation.conversions,
        "logged": _estimate(evaluation.logged),
        "estimates": {estimate.name.lower(): _estimate(estimate) for estimate in evaluation.estimates},
        "ess": evaluation.ess,
        "max_weight": _number(evaluation.max_weight),
        "min_pscore": _number(evaluation.min_pscore),
        "unsupported_share": evaluation.unsupported,
        "warnings": [{"code": caveat.code, "message": caveat.message} for caveat in evaluation.caveats],
    }


def to_json(evaluation: Evaluation) -> str:
    return json.dumps(as_dict(evaluation), indent=2, ensure_ascii=False)


def _money(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.4f}"


def _interval(estimate: Estimate) -> str:
    return "—" if math.isnan(estimate.se) else f"{estimate.low:.4f} … {estimate.high:.4f}"


def print_report(evaluation: Evaluation, console: Console) -> None:
    left_out = ", ".join(
        f"{count:,} {why}" for count, why in ((evaluation.pending, "pending"), (evaluation.invalid, "invalid")) if count
    )
    console.print(
        f"[bold]{evaluation.target.describe()}[/]: revenue per click on {evaluation.rounds:,} logged clicks"
        + (f" ({left_out} left out)" if left_out else ""),
        highlight=False,
    )
    table = Table()
    for column in ("estimator", "revenue per click", "95 % CI", "ESS"):
        table.add_column(column, justify="left" if column == "estimator" else "right")
    table.add_row("logged policy", _money(evaluation.logged.value), _interval(evaluation.logged), "—")
    for estimate in evaluation.estimates:
        table.add_row(estimate.name, _money(estimate.value), _interval(estimate), f"{evaluation.ess:,.0f}")
    console.print(table)
    console.print(
        f"{evaluation.conversions:,} conversions; importance weights up to {evaluation.max_weight:.3g}, smallest"
        f" logged propensity weighed {evaluation.min_pscore:.3g}; target choices the log cannot support:"
        f" {evaluation.unsupported:.1%}",
        highlight=False,
    )
    for caveat in evaluation.caveats:
        console.print(f"[bold yellow]warning[/] ({caveat.code}): {caveat.message}", highlight=False)


@contextmanager
def progress(console: Console) -> Iterator[ProgressCallback | None]:
    """A spinner counting the rows read, on a terminal only: a Thompson target costs
    milliseconds per row, so a long log takes a while."""
    if not console.is_terminal:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.completed:,} rows read"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("evaluate", total=None)
        yield lambda rows: bar.advance(task, rows)
