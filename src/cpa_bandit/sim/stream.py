"""The click stream of one (scenario, seed): drawn once, replayed identically to every policy.

Common random numbers: a click's source, its eligible offers, the uniform draw that decides
whether each eligible offer would convert on it, and its feedback delay are fixed before any
policy runs. Two policies then differ only by their choices, never by luck of the draw, so
a comparison on a few seeds already means something.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..money import MICROS
from .world import World, WorldConfig, make_world

_CHUNK_CELLS = 4_000_000
"""Random keys drawn at once to pick eligible subsets: bounds memory with thousands of offers."""


@dataclass(frozen=True, slots=True)
class ClickStream:
    """Per click ``i`` (rows) and eligible offer ``j`` (columns, offer indices ascending)."""

    source: np.ndarray
    """(N,) source index of each click."""
    eligible: np.ndarray
    """(N, E) offer indices eligible for each click."""
    uniform: np.ndarray
    """(N, E) the draw deciding conversion: offer ``eligible[i, j]`` converts click ``i`` iff
    ``uniform[i, j]`` < its true conversion rate for that source at that time."""
    delay: np.ndarray
    """(N,) clicks until the feedback of click ``i`` arrives, >= 1."""
    expected_rpc: np.ndarray
    """(N, E) true expected revenue of choosing ``eligible[i, j]`` for click ``i``."""
    reward_micros: np.ndarray
    """(N, E) the reward that choice would bring: the payout if it converts, else 0."""

    @property
    def clicks(self) -> int:
        return len(self.source)

    @property
    def due(self) -> np.ndarray:
        """(N,) the click before whose decision the feedback of click ``i`` is delivered."""
        return np.arange(self.clicks) + self.delay


def draw(config: WorldConfig, seed: int) -> tuple[World, ClickStream]:
    """The world and the stream of ``seed``, each from its own child of the seed, so that
    policies (seeded apart, see ``runner.policy_rng``) never shift the stream's draws."""
    world_seed, stream_seed = np.random.SeedSequence(seed).spawn(2)
    world = make_world(config, world_seed)
    return world, make_stream(world, stream_seed)


def make_stream(world: World, seed: np.random.SeedSequence) -> ClickStream:
    config = world.config
    rng = np.random.default_rng(seed)
    n, e = config.clicks, config.eligible
    clicks = np.arange(n)
    source = rng.choice(config.sources, size=n, p=world.source_weights)
    eligible = _eligible_sets(world, rng)
    uniform = rng.random((n, e))
    mu = np.log(config.mean_delay) - config.delay_sigma**2 / 2  # lognormal with that mean
    delay = np.maximum(np.ceil(rng.lognormal(mu, config.delay_sigma, n)), 1).astype(np.int64)

    phase = world.phase(clicks)[:, None]
    cr = world.cr[phase, source[:, None], eligible]
    payout = world.payout[phase, eligible]
    payout_micros = np.rint(payout * MICROS).astype(np.int64)
    return ClickStream(
        source=source,
        eligible=eligible,
        uniform=uniform,
        delay=delay,
        expected_rpc=cr * payout,
        reward_micros=np.where(uniform < cr, payout_micros, 0),
    )


def _eligible_sets(world: World, rng: np.random.Generator) -> np.ndarray:
    """A uniform random subset of the started offers per click: the ``eligible`` smallest of
    one random key per offer, with offers not started yet keyed out of reach."""
    n, e, k = world.config.clicks, world.config.eligible, world.config.offers
    out = np.empty((n, e), dtype=np.int64)
    chunk = max(1, _CHUNK_CELLS // k)
    for first in range(0, n, chunk):
        rows = np.arange(first, min(first + chunk, n))
        keys = rng.random((len(rows), k))
        keys[world.start[None, :] > rows[:, None]] = 2.0
        out[rows] = np.sort(np.argpartition(keys, e - 1, axis=1)[:, :e], axis=1)
    return out
