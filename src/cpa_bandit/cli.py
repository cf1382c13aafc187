"""The `cpa-bandit` command: wires settings, store and app together."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from .config import DEFAULT_STORE
from .keys import Role, is_loopback

app = typer.Typer(help="Multi-armed-bandit offer selection for CPA platforms.", no_args_is_help=True)


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
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API with uvicorn."""
    import uvicorn

    from .config import Settings

    if store is not None:
        # Workers are separate processes that build their own app from the environment.
        os.environ["CPA_BANDIT_STORE"] = store
    settings = Settings()  # fail here, once, on bad settings rather than in every worker
    keys = settings.key_ring()
    unkeyed = [role for role in Role if not keys.has_key_for(role)]
    if not keys.configured and not is_loopback(host):
        raise typer.BadParameter(
            f"no API keys are configured: refusing to serve on {host}, a public interface; set"
            " CPA_BANDIT_KEYS (or CPA_BANDIT_KEYS_FILE), or serve on 127.0.0.1",
            param_hint="--host",
        )
    if unkeyed:
        typer.echo(
            f"cpa-bandit: no key configured for {', '.join(unkeyed)}: those routes answer loopback clients only"
            + (" (admin routes are disabled)" if Role.admin in unkeyed else ""),
            err=True,
        )
    uvicorn.run(
        "cpa_bandit.api:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
    )


@app.command()
def simulate(
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            help="static, drift, new-offers, long-delays or source-specific; repeat for several (default: all).",
            show_default=False,
        ),
    ] = None,
    policy: Annotated[
        list[str] | None,
        typer.Option(
            "--policy",
            help="Service samplers ucb, ucb-pooled, thompson, thompson-pooled; sim-only random, epsilon-greedy,"
            " ucb1, seed-ucb, seed-thompson, oracle. Repeat for several (default: all but oracle).",
            show_default=False,
        ),
    ] = None,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds 0 … N-1; scores are mean ± std over them.")] = 3,
    clicks: Annotated[int, typer.Option(min=1, help="Clicks per run.")] = 10_000,
    offers: Annotated[int, typer.Option(min=1, help="Offers in the world.")] = 30,
    sources: Annotated[int, typer.Option(min=1, help="Traffic sources.")] = 4,
    eligible: Annotated[int, typer.Option(min=1, help="Eligible offers per click.")] = 10,
    delay: Annotated[float, typer.Option(min=0, help="Mean feedback delay, in clicks.")] = 100.0,
    seconds_per_click: Annotated[float, typer.Option(min=0, help="Simulated seconds between clicks.")] = 60.0,
    http: Annotated[
        str | None,
        typer.Option(help="Drive a running server on this machine (e.g. http://127.0.0.1:8000) instead of in process."),
    ] = None,
    store: Annotated[
        str, typer.Option(help="In-process store of the service's policies: memory or sqlite (temp file).")
    ] = "memory",
    jsonl: Annotated[
        str | None, typer.Option(help="Write one JSON line per (scenario, policy, seed) to this file.")
    ] = None,
    plots: Annotated[str | None, typer.Option(help="Write PNG charts per scenario into this directory.")] = None,
) -> None:
    """Compare the service's samplers with baselines on simulated CPA traffic."""
    from pathlib import Path

    from rich.console import Console

    from .sim.command import Plan, run
    from .sim.runner import RunOptions
    from .sim.world import WorldConfig

    try:
        base = WorldConfig(clicks=clicks, offers=offers, sources=sources, eligible=eligible, mean_delay=delay)
        plan = Plan.check(
            scenario, policy, seeds, base, RunOptions(seconds_per_click), store, http,
            Path(jsonl) if jsonl else None, Path(plots) if plots else None,
        )  # fmt: skip
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    console = Console()
    run(plan, console if console.is_terminal else Console(width=120))  # a file or pipe: no wrapped cells
