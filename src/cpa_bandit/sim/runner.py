"""Replay each (scenario, seed) stream to each policy, with feedback arriving as it falls due.

Per click ``i``: the simulated clock moves to ``i`` × seconds-per-click, the feedback of every
earlier click whose delay has run out is delivered (in order of due time), the maintenance
hook runs every few clicks, then the policy decides click ``i``. Feedback still due when the
stream ends stays pending, as it would in production.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .contenders import Backend, SimPolicy, make_policy
from .scores import Scores, regret_per_click, score
from .stream import ClickStream, draw
from .world import WorldConfig

PROGRESS_EVERY = 500
"""Clicks between two progress reports."""

ProgressCallback = Callable[[int], None]
"""Called with the number of clicks just played."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    seconds_per_click: float = 60.0
    """Simulated seconds between two clicks: at 60, delays of 100 clicks are 100 minutes and
    the long tail of a delay distribution reaches days or weeks."""
    maintain_every: int = 60
    """Clicks between two calls of the maintenance hook (an hour of simulated time at 60 s)."""


class SimClock:
    """The service's clock in a simulation: simulated seconds, moved by the runner only."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def maintenance_hook(policy: SimPolicy) -> None:
    """Where service maintenance runs as simulated time advances (attribution-window expiry
    and the like): the service's ``maintain()`` when it has one, else nothing. Baselines and
    remote servers have no service object here; a server maintains itself."""
    maintain = getattr(getattr(policy, "service", None), "maintain", None)
    if callable(maintain):
        maintain()


def play(
    stream: ClickStream,
    policy: SimPolicy,
    clock: SimClock,
    options: RunOptions,
    on_progress: ProgressCallback | None = None,
) -> np.ndarray:
    """Run ``policy`` over the stream; returns the column of ``stream.eligible`` chosen per click."""
    n = stream.clicks
    order = np.argsort(stream.due, kind="stable")  # delivery order: due click, then click
    delivered_before = np.searchsorted(stream.due[order], np.arange(n), side="right")
    chosen = np.empty(n, dtype=np.intp)
    delivered = 0
    for i in range(n):
        clock.now = i * options.seconds_per_click
        for click in order[delivered : delivered_before[i]].tolist():
            policy.feedback(click, int(stream.reward_micros[click, chosen[click]]))
        delivered = delivered_before[i]
        if i % options.maintain_every == 0:
            maintenance_hook(policy)
        chosen[i] = policy.choose(i, int(stream.source[i]), stream.eligible[i])
        if on_progress is not None and (i + 1) % PROGRESS_EVERY == 0:
            on_progress(PROGRESS_EVERY)
    if on_progress is not None:
        on_progress(n % PROGRESS_EVERY)
    return chosen


@dataclass(frozen=True, slots=True)
class PolicyRun:
    policy: str
    scores: Scores
    offers: np.ndarray
    """The offer shown on each click."""
    regret: np.ndarray
    """Expected revenue lost on each click against the oracle."""


@dataclass(frozen=True, slots=True)
class SeedRun:
    """Every policy's run on the stream of one (scenario, seed)."""

    scenario: str
    seed: int
    config: WorldConfig
    best_offers: np.ndarray
    """The oracle's offer on each click."""
    runs: list[PolicyRun]


def policy_rng(seed: int, policy: str) -> np.random.Generator:
    """A policy's own generator: apart from the world's and the stream's, and the same for a
    policy whatever else runs beside it."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2, zlib.crc32(policy.encode()))))


def run_policy(
    name: str,
    stream: ClickStream,
    config: WorldConfig,
    seed: int,
    backend: Backend,
    options: RunOptions,
    on_progress: ProgressCallback | None = None,
) -> PolicyRun:
    clock = SimClock()
    policy = make_policy(name, stream, config.offers, policy_rng(seed, name), clock, backend)
    try:
        chosen = play(stream, policy, clock, options, on_progress)
    finally:
        policy.close()
    rows = np.arange(stream.clicks)
    return PolicyRun(name, score(stream, chosen), stream.eligible[rows, chosen], regret_per_click(stream, chosen))


def simulate(
    worlds: Mapping[str, WorldConfig],
    policies: Sequence[str],
    seeds: Sequence[int],
    backend: Backend,
    options: RunOptions = RunOptions(),
    on_progress: ProgressCallback | None = None,
) -> Iterator[SeedRun]:
    """Every policy on the same stream per (scenario, seed), scenario by scenario; ``worlds``
    maps each scenario to its config (``scenarios.scenario_config``), sizes resolved."""
    for scenario, config in worlds.items():
        for seed in seeds:
            _, stream = draw(config, seed)
            runs = [run_policy(name, stream, config, seed, backend, options, on_progress) for name in policies]
            best = stream.eligible[np.arange(stream.clicks), stream.expected_rpc.argmax(axis=1)]
            yield SeedRun(scenario, seed, config, best, runs)
