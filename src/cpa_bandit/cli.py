"""The `cpa-bandit` command: wires settings, store and app together."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from .config import DEFAULT_STORE

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
    Settings()  # fail here, once, on bad settings rather than in every worker
    uvicorn.run(
        "cpa_bandit.api:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
    )
