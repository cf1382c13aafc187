"""The `cpa-bandit` command: wires settings, store and app together."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from .config import DEFAULT_STORE, ConfigError
from .domain import StoreUnavailable
from .keys import Role, is_loopback

if TYPE_CHECKING:
    from .config import Settings
    from .store import Store

app = typer.Typer(help="Multi-armed-bandit offer selection for CPA platforms.", no_args_is_help=True)
log = logging.getLogger("cpa_bandit.cli")

USAGE_ERROR = 2
"""The exit status of a command that cannot run as configured (click's, for bad options)."""


class CommandFailed(Exception):
    """What a command could not do, said in one line for its user."""


@contextmanager
def one_line_errors(command: str) -> Iterator[None]:
    """A setting, a store or a server a command cannot use is the user's to fix: one line on
    stderr and exit status 2, not a traceback through our modules and redis-py's."""
    try:
        yield
    except (ConfigError, CommandFailed, StoreUnavailable) as exc:
        typer.echo(f"cpa-bandit {command}: {exc}", err=True)
        raise typer.Exit(USAGE_ERROR) from None


@app.callback()
def main() -> None:
    """cpa-bandit: choose offers per click, learn from conversions."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    store: Annotated[
        str | None,
        typer.Option(help=f"Store URL (default: $CPA_BANDIT_STORE or {DEFAULT_STORE}).", show_default=False),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes sharing the store.")] = 1,
    log_level: Annotated[
        str | None,
        typer.Option(
            help="debug, info, warning, error or critical (default: $CPA_BANDIT_LOG_LEVEL or info).", show_default=False
        ),
    ] = None,
) -> None:
    """Serve the HTTP API with uvicorn; logs are JSON lines on stderr."""
    import logging.config

    import uvicorn

    from .config import load_settings
    from .telemetry.logs import log_config
    from .telemetry.multiprocess import metrics_directory

    # Workers are separate processes that build their own app from the environment.
    if store is not None:
        os.environ["CPA_BANDIT_STORE"] = store
    if log_level is not None:
        os.environ["CPA_BANDIT_LOG_LEVEL"] = log_level
    with one_line_errors("serve"):  # here, once, rather than a traceback from every worker
        settings = load_settings()
        keys = settings.key_ring()
        if not keys.configured and not is_loopback(host):
            raise CommandFailed(
                f"no API keys are configured: refusing to serve on {host}, a public interface; set"
                " CPA_BANDIT_KEYS (or CPA_BANDIT_KEYS_FILE), or serve on 127.0.0.1"
            )
        _open_store(settings).close()
    unkeyed = [role for role in Role if not keys.has_key_for(role)]
    logging_config = log_config(settings.log_level)
    logging.config.dictConfig(logging_config)  # this process's lines are JSON too
    if 0 < settings.decision_log_days <= settings.attribution_window_days:
        log.warning(
            "CPA_BANDIT_DECISION_LOG_DAYS (%g) is not longer than the attribution window (%g days): clicks that"
            " expire without feedback leave the log as they expire, so export and /uplift never count them as 0",
            settings.decision_log_days,
            settings.attribution_window_days,
        )
    if unkeyed:
        log.warning(
            "no key configured for %s: those routes answer loopback clients only%s",
            ", ".join(unkeyed),
            " (admin routes are disabled)" if Role.admin in unkeyed else "",
        )
    with metrics_directory():  # before any worker imports prometheus_client
        uvicorn.run(
            "cpa_bandit.api:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level,
            log_config=logging_config,
            access_log=False,  # its lines carry query strings, postback tokens included; the app logs requests
        )


@app.command()
def simulate(
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            help="static, drift, new-offers, long-delays, source-specific or trap; repeat for several"
            " (default: all).",
            show_default=False,
        ),
    ] = None,
    policy: Annotated[
        list[str] | None,
        typer.Option(
            "--policy",
            help="Service samplers ucb, ucb-pooled, thompson, thompson-pooled; sim-only random, epsilon-greedy,"
            " ucb1, seed-ucb, seed-thompson, eb-greedy, oracle. Repeat for several (default: all but oracle).",
            show_default=False,
        ),
    ] = None,
    seeds: Annotated[
        int,
        typer.Option(
            min=1, help="Seeds 0 … N-1; scores are mean ± std over them. Judge a policy change on 16 (seeds 0–15)."
        ),
    ] = 3,
    clicks: Annotated[
        int | None,
        typer.Option(min=1, help="Clicks per run, every scenario (default: 10,000; trap: 4,000).", show_default=False),
    ] = None,
    offers: Annotated[int, typer.Option(min=1, help="Offers in the world (trap: always 5).")] = 30,
    sources: Annotated[int, typer.Option(min=1, help="Traffic sources.")] = 4,
    eligible: Annotated[int, typer.Option(min=1, help="Eligible offers per click (trap: all 5).")] = 10,
    delay: Annotated[float, typer.Option(min=0, help="Mean feedback delay, in clicks.")] = 100.0,
    seconds_per_click: Annotated[float, typer.Option(min=0, help="Simulated seconds between clicks.")] = 60.0,
    http: Annotated[
        str | None,
        typer.Option(help="Drive a running server on this machine (e.g. http://127.0.0.1:8000) instead of in process."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            envvar="CPA_BANDIT_API_KEY",
            help="With --http: an API key with the traffic and postback roles, for a server with keys.",
            show_default=False,
        ),
    ] = None,
    store: Annotated[
        str, typer.Option(help="In-process store of the service's policies: memory or sqlite (temp file).")
    ] = "memory",
    jsonl: Annotated[
        str | None, typer.Option(help="Write one JSON line per (scenario, policy, seed) to this file.")
    ] = None,
    plots: Annotated[str | None, typer.Option(help="Write PNG charts per scenario into this directory.")] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            help="Policy the paired table subtracts from every other (default: each scenario's best baseline).",
            show_default=False,
        ),
    ] = None,
    paired_with: Annotated[
        str | None,
        typer.Option(
            help="A --jsonl file of an earlier run (e.g. the release, from its checkout): show this run − that one"
            " per (scenario, policy, seed) both have. Refused if their world configs differ.",
            show_default=False,
        ),
    ] = None,
    change_detection: Annotated[
        bool,
        typer.Option(
            "--change-detection/--no-change-detection",
            help="In process: run the service's samplers with the change test (off: what it costs a quiet world).",
        ),
    ] = True,
) -> None:
    """Compare the service's samplers with baselines on simulated CPA traffic.

    Every policy replays the same click stream per (scenario, seed), so paired differences (mean ± s.e. over seeds) show what the spread of efficiency hides.

    To judge a policy change, run 16 seeds (0–15) and read the paired table: on the checkout before the change `cpa-bandit simulate --seeds 16 --jsonl before.jsonl`, then on the change `cpa-bandit simulate --seeds 16 --paired-with before.jsonl`.
    """  # one line per paragraph: the help keeps a docstring's line breaks
    from pathlib import Path

    from rich.console import Console

    from .sim.command import Plan, run
    from .sim.http_client import SimHttpError
    from .sim.runner import RunOptions
    from .sim.world import WorldConfig

    try:
        sizes = {"offers": offers, "sources": sources, "eligible": eligible, "mean_delay": delay}
        base = WorldConfig(**sizes) if clicks is None else WorldConfig(clicks=clicks, **sizes)
        plan = Plan.check(
            scenario, policy, seeds, base, RunOptions(seconds_per_click), store, http,
            Path(jsonl) if jsonl else None, Path(plots) if plots else None, key=key,
            clicks_given=clicks is not None, reference=reference,
            paired_with=Path(paired_with) if paired_with else None, change_detection=change_detection,
        )  # fmt: skip
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    console = Console()
    with one_line_errors("simulate"):
        try:
            run(plan, console if console.is_terminal else Console(width=200))  # a file or pipe: no wrapped cells
        except SimHttpError as exc:
            raise CommandFailed(f"{http}: {exc}") from None


@app.command()
def evaluate(
    log: Annotated[str, typer.Option(help="Decision log file: CSV or Parquet, as export writes it.")],
    policy: Annotated[str, typer.Option(help="The policy to evaluate: ucb, thompson, or random (uniform).")],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="NAME=VALUE, repeatable: ucb_c for ucb; thompson_a, thompson_b for thompson (default: the service's).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Estimate the revenue per click another policy or setting would have earned on a decision log."""
    from pathlib import Path

    from .evaluation import Target
    from .evaluation.command import LogUnreadable, NothingToEvaluate, run

    try:
        target = Target.parse(policy, param or ())
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        run(Path(log), target, as_json)
    except LogUnreadable as exc:
        raise typer.BadParameter(str(exc), param_hint="--log") from None
    except NothingToEvaluate as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


def _moment(text: str | None, option: str) -> float | None:
    """Unix seconds from ``text``: a number, or an ISO date or date-time (UTC unless it
    names an offset)."""
    from datetime import UTC, datetime

    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither Unix seconds nor an ISO date or date-time", param_hint=option
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@app.command()
def export(
    since: Annotated[
        str | None, typer.Option(help="First decision time: ISO date/date-time (UTC) or Unix seconds.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Decisions before this time (same forms).")] = None,
    format: Annotated[
        str | None, typer.Option("--format", help="csv or parquet (default: from --output's suffix, else csv).")
    ] = None,
    output: Annotated[str | None, typer.Option(help="File to write (default: standard output).")] = None,
    store: Annotated[
        str | None,
        typer.Option(help=f"Store URL (default: $CPA_BANDIT_STORE or {DEFAULT_STORE}).", show_default=False),
    ] = None,
) -> None:
    """Write the decision log, joined with outcomes, as Open Bandit Pipeline-style rounds.

    It only reads: the store is opened read-only, and a SQLite file must exist."""
    import math
    from pathlib import Path

    import numpy as np

    from .config import load_settings
    from .decision_log import write_log
    from .service import BanditService

    path = Path(output) if output else None
    fmt = format or ("parquet" if path is not None and path.suffix == ".parquet" else "csv")
    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter(f"{fmt!r}: use csv or parquet", param_hint="--format")
    first, end = _moment(since, "--since"), _moment(until, "--until")
    with one_line_errors("export"):
        if first is not None and end is not None and first >= end:
            raise CommandFailed(f"--since {since} is not before --until {until}: there is nothing between them")
        service = BanditService(_open_store(load_settings(), store, read_only=True), np.random.default_rng())
        try:
            rows = service.decision_log(-math.inf if first is None else first, math.inf if end is None else end)
            written = write_log(rows, fmt, path)  # type: ignore[arg-type]
        except OSError as exc:
            raise CommandFailed(f"cannot write {path}: {exc.strerror}") from None
        finally:
            service.store.close()
    if path is not None:
        typer.echo(f"{written} decisions written to {path}", err=True)


def _open_store(settings: Settings, url: str | None = None, *, read_only: bool = False) -> Store:
    """The store a command names (else the settings'), or why it cannot be opened."""
    from .store import open_store

    url = url or settings.store
    try:
        return open_store(url, read_only=read_only, **settings.store_options())
    except (ValueError, RuntimeError) as exc:
        raise CommandFailed(str(exc)) from None
    except OSError as exc:
        raise CommandFailed(f"cannot open the store {url}: {exc.strerror or exc}") from None
