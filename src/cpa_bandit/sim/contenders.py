"""The policies a simulation compares, by name, behind one small protocol.

The service's samplers run through ``BanditService.decide`` on the real store code (or over
HTTP against a running server), so the simulator measures exactly what ``/sample/`` serves;
``*-pooled`` variants withhold the traffic source, to show what learning per source is worth.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from ..policies import PolicyParams, Sampler
from ..service import BanditService, Clock, Learning
from ..store import open_store
from .baselines import UCB1, EpsilonGreedy, Oracle, RandomChoice, SeedThompson, SeedUCB
from .stream import ClickStream


class SimPolicy(Protocol):
    def choose(self, click: int, source: int, offers: np.ndarray) -> int:
        """Index into ``offers`` (the click's eligible offer indices) of the offer shown."""

    def feedback(self, click: int, reward_micros: int) -> None:
        """The click's outcome: its payout if it converted, else 0."""

    def close(self) -> None:
        """Release what the policy holds (a store, a connection)."""


SERVICE_POLICIES: dict[str, tuple[PolicyParams, bool]] = {
    "ucb": (PolicyParams(Sampler.ucb), True),
    "ucb-pooled": (PolicyParams(Sampler.ucb), False),
    "thompson": (PolicyParams(Sampler.thompson), True),
    "thompson-pooled": (PolicyParams(Sampler.thompson), False),
}
"""Service samplers by name: their parameters and whether the click's source is passed on."""

SIMPLE_BASELINES: dict[str, Callable[[int, np.random.Generator], SimPolicy]] = {
    "random": RandomChoice,
    "epsilon-greedy": EpsilonGreedy,
    "ucb1": UCB1,
    "seed-ucb": SeedUCB,
    "seed-thompson": SeedThompson,
}
"""Simulator-only baselines by name, built from (number of offers, generator)."""

MODEL_BASELINES: dict[str, tuple[PolicyParams, bool]] = {
    "eb-greedy": (PolicyParams(Sampler.ucb, ucb_c=0.0), True),
}
"""Simulator-only baselines on the service's own model: ``eb-greedy`` chooses the highest
posterior mean (the hierarchical empirical-Bayes model, optimistic prior, observed
payouts), exploring only through that prior. It shows what the samplers' exploration is
worth on top of the model."""

BASELINES = (*SIMPLE_BASELINES, *MODEL_BASELINES)

DEFAULT_POLICIES = (*SERVICE_POLICIES, *BASELINES)
ORACLE = "oracle"
"""Selectable by name but not run by default: it scores 1 by construction."""
ALL_POLICIES = (*DEFAULT_POLICIES, ORACLE)


def source_id(source: int) -> str:
    """The source as the service sees it (a ``source`` query value)."""
    return f"src-{source}"


class ServicePolicy:
    """A service sampler in process: ``BanditService.decide`` and ``feedback`` on a real store.

    Offer ``k`` of the world is offer id ``k``; click ``i`` is click id ``"i"``. ``service`` is
    public so that the runner's maintenance hook can reach it.
    """

    def __init__(self, service: BanditService, params: PolicyParams, pass_source: bool) -> None:
        self.service = service
        self.params = params
        self.pass_source = pass_source

    def choose(self, click: int, source: int, offers: np.ndarray) -> int:
        ids = offers.tolist()
        decision = self.service.decide(str(click), ids, self.params, source_id(source) if self.pass_source else None)
        return ids.index(decision.offer_id)

    def feedback(self, click: int, reward_micros: int) -> None:
        self.service.feedback(str(click), int(reward_micros))

    def close(self) -> None:
        self.service.store.close()


class InProcess:
    """Builds in-process contenders; service ones get a fresh store each run (memory, or a
    new SQLite file under ``directory``), so that every run learns from scratch."""

    def __init__(self, store: str = "memory", directory: Path | None = None, learning: Learning = Learning()) -> None:
        if store not in ("memory", "sqlite"):
            raise ValueError(f"store must be memory or sqlite, got {store!r}")
        if store == "sqlite" and directory is None:
            raise ValueError("a SQLite store needs a directory for its files")
        self.store = store
        self.directory = directory
        self.learning = learning
        self._files = 0

    def service_policy(
        self, params: PolicyParams, pass_source: bool, rng: np.random.Generator, clock: Clock
    ) -> SimPolicy:
        if self.store == "memory":
            url = "memory://"
        else:
            self._files += 1
            url = f"sqlite:///{Path(self.directory).resolve() / f'run-{self._files}.db'}"
        return ServicePolicy(BanditService(open_store(url), rng, clock, self.learning), params, pass_source)


class Backend(Protocol):
    """Where the service's samplers run: in process or behind a server's HTTP routes."""

    def service_policy(
        self, params: PolicyParams, pass_source: bool, rng: np.random.Generator, clock: Clock
    ) -> SimPolicy: ...


def make_policy(
    name: str, stream: ClickStream, offers: int, rng: np.random.Generator, clock: Clock, backend: Backend
) -> SimPolicy:
    """The contender ``name`` for one run; ``rng`` is its own generator, apart from the stream's."""
    if name in SERVICE_POLICIES:
        params, pass_source = SERVICE_POLICIES[name]
        return backend.service_policy(params, pass_source, rng, clock)
    if name in MODEL_BASELINES:
        params, pass_source = MODEL_BASELINES[name]
        return backend.service_policy(params, pass_source, rng, clock)
    if name in SIMPLE_BASELINES:
        return SIMPLE_BASELINES[name](offers, rng)
    if name == ORACLE:
        return Oracle(stream)
    raise ValueError(f"unknown policy {name!r}; choose from {', '.join(ALL_POLICIES)}")
