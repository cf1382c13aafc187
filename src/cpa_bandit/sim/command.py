"""``cpa-bandit simulate``: choose what to run, show progress, then tables, JSON lines and plots."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..service import Learning
from .contenders import ALL_POLICIES, BASELINES, DEFAULT_POLICIES, ORACLE, SERVICE_POLICIES, Backend, InProcess
from .http_client import HttpBackend, Target
from .jsonl import EarlierRun, json_lines, read_earlier
from .report import print_report
from .runner import RunOptions, SeedRun, simulate
from .scenarios import SCENARIOS, scenario_config
from .summary import Summary
from .world import WorldConfig


@dataclass(frozen=True, slots=True)
class Plan:
    """A checked command line: what to run, where, what to compare with, and where to write."""

    worlds: dict[str, WorldConfig]
    """Each scenario to run, with its world's config at the sizes it runs at."""
    policies: list[str]
    seeds: list[int]
    options: RunOptions
    store: str
    http: Target | None
    jsonl: Path | None
    plots: Path | None
    reference: str | None = None
    """The policy the paired table subtracts; None: each scenario's best baseline."""
    earlier: EarlierRun | None = None
    """An earlier run's lines to pair this one with."""
    change_detection: bool = True
    """In process: whether the service's samplers run with the change test."""

    @property
    def scenarios(self) -> list[str]:
        return list(self.worlds)

    @classmethod
    def check(
        cls,
        scenarios: Sequence[str] | None,
        policies: Sequence[str] | None,
        seeds: int,
        base: WorldConfig,
        options: RunOptions,
        store: str,
        http: str | None,
        jsonl: Path | None,
        plots: Path | None,
        *,
        key: str | None = None,
        clicks_given: bool = True,
        reference: str | None = None,
        paired_with: Path | None = None,
        change_detection: bool = True,
    ) -> Plan:
        """Raises ``ValueError`` with a message for the user on anything it cannot run.

        ``clicks_given=False`` (no ``--clicks``) lets a scenario with a run length of its own
        use it. An earlier run to pair with is read and checked here, before anything runs."""
        # unknown names and sizes a scenario cannot use raise here
        worlds = {name: scenario_config(name, base, clicks_given) for name in dict.fromkeys(scenarios or SCENARIOS)}
        if unknown := [p for p in policies or () if p not in ALL_POLICIES]:
            raise ValueError(f"unknown policy(ies) {', '.join(unknown)}; choose from {', '.join(ALL_POLICIES)}")
        if store not in ("memory", "sqlite"):
            raise ValueError(f"--store must be memory or sqlite, got {store!r}")
        if seeds < 1:
            raise ValueError("--seeds must be at least 1")
        target = None
        if http is not None:
            target = Target.parse(http, key)
            if store != "memory":
                raise ValueError("--store applies in process only; over --http the server has its own store")
            if not change_detection:
                raise ValueError(
                    "--no-change-detection applies in process only; a server has its own CPA_BANDIT_CHANGE_DETECTION"
                )
            if sim_only := [p for p in policies or () if p in BASELINES or p == ORACLE]:
                raise ValueError(
                    f"{', '.join(sim_only)} run(s) in the simulator only; leave out --http to compare them"
                )
        policies = list(dict.fromkeys(policies or (SERVICE_POLICIES if target else DEFAULT_POLICIES)))
        if reference is not None and reference not in policies:
            raise ValueError(f"--reference {reference} is not among the policies run: {', '.join(policies)}")
        return cls(
            worlds=worlds,
            policies=policies,
            seeds=list(range(seeds)),
            options=options,
            store=store,
            http=target,
            jsonl=jsonl,
            plots=plots,
            reference=reference,
            earlier=read_earlier(paired_with, worlds, policies, range(seeds)) if paired_with else None,
            change_detection=change_detection,
        )

    def run_info(self) -> dict:
        """What the JSON lines record about the run beside the world's config."""
        where = (
            {"mode": "http", "http": f"{self.http.host}:{self.http.port}"}
            if self.http
            else {"mode": "in-process", "store": self.store, "change_detection": self.change_detection}
        )
        return {
            **where,
            "seconds_per_click": self.options.seconds_per_click,
            "maintain_every": self.options.maintain_every,
        }


def run(plan: Plan, console: Console) -> list[SeedRun]:
    """Run the plan with a progress bar, write its files, print its tables."""
    total = sum(config.clicks for config in plan.worlds.values()) * len(plan.seeds) * len(plan.policies)
    results: list[SeedRun] = []
    started = time.monotonic()
    with ExitStack() as stack:
        backend: Backend
        if plan.http:
            backend = HttpBackend(plan.http)
        else:
            directory = (
                Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cpa-bandit-sim-")))
                if plan.store == "sqlite"
                else None
            )
            backend = InProcess(plan.store, directory, Learning(change_detection=plan.change_detection))
        out = stack.enter_context(open(plan.jsonl, "w", encoding="utf-8")) if plan.jsonl else None
        progress = stack.enter_context(
            Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
            )
        )
        task = progress.add_task("clicks", total=total)
        for seed_run in simulate(
            plan.worlds, plan.policies, plan.seeds, backend, plan.options, lambda clicks: progress.advance(task, clicks)
        ):
            results.append(seed_run)
            progress.update(task, description=f"{seed_run.scenario} seed {seed_run.seed} done")
            if out:
                out.writelines(line + "\n" for line in json_lines(seed_run, plan.run_info()))
                out.flush()
    elapsed = time.monotonic() - started
    print_report(Summary(results), console, plan.reference, plan.earlier)
    runs = len(plan.scenarios) * len(plan.seeds) * len(plan.policies)
    console.print(f"{runs} runs, {total:,} clicks, in {elapsed:.1f} s")
    if plan.jsonl:
        console.print(f"JSON lines: {plan.jsonl}")
    if plan.plots:
        from .plots import write_plots  # matplotlib only when plots are asked for

        for path in write_plots(results, plan.plots):
            console.print(f"plot: {path}")
    return results
