"""Baselines the service's samplers must beat; they live only in the simulator, never served.

Each keeps the counters a store would keep (clicks decided, clicks resolved, conversions,
reward) and learns from the same delayed feedback as the service. ``SeedUCB`` and
``SeedThompson`` are reconstructions of the seed's formulas from the service-core issue's
description (the seed's code itself is not in this repository): both multiply by the
observed revenue per click over *all* clicks, pending ones included, so an offer that has
not converted yet scores 0 and, once any eligible offer converted, is never tried again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..money import MICROS
from ..policies import argmax_random
from .stream import ClickStream


def _argmax(scores: np.ndarray, rng: np.random.Generator) -> int:
    """Ties break uniformly at random, as the service's do."""
    return argmax_random(scores, rng)[0]


class Baseline(ABC):
    """Counters per offer over the whole run (all sources pooled) and the choice protocol."""

    def __init__(self, offers: int, rng: np.random.Generator) -> None:
        self.rng = rng
        self.clicks = np.zeros(offers)
        self.resolved = np.zeros(offers)
        self.conversions = np.zeros(offers)
        self.reward = np.zeros(offers)
        self.max_payout = 0.0
        self._offer_of: dict[int, int] = {}

    def choose(self, click: int, source: int, offers: np.ndarray) -> int:
        index = self.pick(click, offers)
        offer = int(offers[index])
        self.clicks[offer] += 1
        self._offer_of[click] = offer
        return index

    def feedback(self, click: int, reward_micros: int) -> None:
        offer = self._offer_of.pop(click)
        reward = reward_micros / MICROS
        self.resolved[offer] += 1
        self.conversions[offer] += reward > 0
        self.reward[offer] += reward
        self.max_payout = max(self.max_payout, reward)

    def close(self) -> None:
        """Nothing to release; the runner closes every policy alike."""

    @abstractmethod
    def pick(self, click: int, offers: np.ndarray) -> int:
        """Index into ``offers`` of the offer to show for ``click``."""


class RandomChoice(Baseline):
    """Uniform over the eligible offers: efficiency 0 by definition, in expectation."""

    def pick(self, click: int, offers: np.ndarray) -> int:
        return int(self.rng.integers(len(offers)))


class EpsilonGreedy(Baseline):
    """Observed rpc of resolved clicks, greedy except for a share ``epsilon`` of random clicks."""

    def __init__(self, offers: int, rng: np.random.Generator, epsilon: float = 0.1) -> None:
        super().__init__(offers, rng)
        self.epsilon = epsilon

    def pick(self, click: int, offers: np.ndarray) -> int:
        if self.rng.random() < self.epsilon:
            return int(self.rng.integers(len(offers)))
        resolved = self.resolved[offers]
        rpc = np.divide(self.reward[offers], resolved, out=np.zeros(len(offers)), where=resolved > 0)
        return _argmax(rpc, self.rng)


class UCB1(Baseline):
    """Textbook UCB1 on revenue per click: mean + sqrt(2 ln t / n) over resolved clicks, with
    rewards scaled to [0, 1] by the largest payout seen; an offer never resolved goes first.

    At CPA rates the mean is tiny next to the bonus, so it explores nearly uniformly: the
    point of having it is to show why the service's bound has to be in rpc units.
    """

    def pick(self, click: int, offers: np.ndarray) -> int:
        n = self.resolved[offers]
        if not n.all():
            return _argmax((n == 0).astype(float), self.rng)
        mean = self.reward[offers] / n / max(self.max_payout, 1e-12)
        return _argmax(mean + np.sqrt(2 * np.log(self.resolved.sum()) / n), self.rng)


class SeedUCB(Baseline):
    """The seed's UCB (reconstructed): observed_rpc × (observed_cr + c·sqrt(2·ln t)/n).

    ``t`` is the click id (the seed used it as the time step), ``n`` the offer's clicks, and
    the exploration term is divided by ``n`` outside the square root. Rates are over all
    clicks, pending included; an offer without clicks has rpc 0 (the seed divided by zero).
    """

    def __init__(self, offers: int, rng: np.random.Generator, c: float = 1.0) -> None:
        super().__init__(offers, rng)
        self.c = c

    def pick(self, click: int, offers: np.ndarray) -> int:
        n = self.clicks[offers]
        shown = np.maximum(n, 1.0)
        rpc = self.reward[offers] / shown
        cr = self.conversions[offers] / shown
        t = click + 1
        return _argmax(rpc * (cr + self.c * np.sqrt(2 * np.log(t)) / shown), self.rng)


class SeedThompson(Baseline):
    """The seed's Thompson (reconstructed): Beta(a + conv, b + clicks − conv) draw × observed rpc,
    with rpc = reward / clicks over all clicks, pending included."""

    def __init__(self, offers: int, rng: np.random.Generator, a: float = 1.0, b: float = 1.0) -> None:
        super().__init__(offers, rng)
        self.a, self.b = a, b

    def pick(self, click: int, offers: np.ndarray) -> int:
        n = self.clicks[offers]
        conversions = self.conversions[offers]
        rpc = self.reward[offers] / np.maximum(n, 1.0)
        draw = self.rng.beta(self.a + conversions, self.b + n - conversions)
        return _argmax(draw * rpc, self.rng)


class Oracle:
    """Knows the true expected rpc of every offer for every click: efficiency 1 by definition.
    Not a contender; it checks the scoring and is the top of every chart."""

    def __init__(self, stream: ClickStream) -> None:
        self.expected_rpc = stream.expected_rpc

    def choose(self, click: int, source: int, offers: np.ndarray) -> int:
        return int(np.argmax(self.expected_rpc[click]))

    def feedback(self, click: int, reward_micros: int) -> None:
        """The oracle learns nothing."""

    def close(self) -> None:
        """Nothing to release."""
