"""``cpa-bandit evaluate``: read a log file, evaluate the target on it, print the report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from ..decision_log import LogRow, read_log
from . import Target, evaluate
from .report import print_report, progress, to_json


class LogUnreadable(ValueError):
    """The file is not a decision log that ``export`` wrote."""


class NothingToEvaluate(ValueError):
    """The log has no resolved row with a propensity: every estimate would be NaN."""


def _rows(path: Path) -> Iterator[LogRow]:
    """The log's rows; whatever the reader stumbles on is told as an unreadable log (raised
    from here, not from the estimators that consume the rows)."""
    try:
        yield from read_log(path)
    except KeyError as exc:
        raise LogUnreadable(f"{path} is not a decision log: it has no column {exc}") from exc
    except (ValueError, TypeError, OSError) as exc:
        raise LogUnreadable(f"{path} is not a readable decision log (CSV or Parquet from export): {exc}") from exc


def run(log: Path, target: Target, as_json: bool) -> None:
    """Print the report (or JSON) on standard output; progress goes to standard error."""
    with progress(Console(stderr=True)) as on_progress:
        evaluation = evaluate(_rows(log), target, on_progress)
    if evaluation.rounds == 0:
        raise NothingToEvaluate(
            f"nothing to evaluate in {log}: no resolved decision with a propensity"
            f" ({evaluation.pending} pending, {evaluation.invalid} without a usable propensity);"
            " wait for feedback, or export a longer range"
        )
    if as_json:
        print(to_json(evaluation))
        return
    console = Console()
    print_report(evaluation, console if console.is_terminal else Console(width=120))  # a file or pipe: 120 columns
