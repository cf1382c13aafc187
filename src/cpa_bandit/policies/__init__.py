"""Bandit policies: pure functions from per-offer statistics to one chosen offer.

No I/O here; the random generator is injected so that decisions are reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from .arms import ArmStats, SourceCounts
from .probabilities import thompson_probabilities, ucb_probabilities
from .thompson import thompson_scores
from .ties import argmax_random
from .ucb import ucb_scores

__all__ = [
    "MODEL_VERSION",
    "ArmStats",
    "Choice",
    "PolicyParams",
    "Sampler",
    "SourceCounts",
    "argmax_random",
    "choice_probabilities",
    "select",
]


MODEL_VERSION = 2
"""Version of the model the samplers decide by (``posterior``), logged with each decision's
evidence: 2 is the hierarchical empirical-Bayes model with change detection."""


class Sampler(str, Enum):
    ucb = "ucb"
    thompson = "thompson"


@dataclass(frozen=True, slots=True)
class PolicyParams:
    """A sampler and its parameters, as the seed's `/sample/` takes them.

    ``thompson_a`` and ``thompson_b``, when a client sends them, fix a Beta(a, b) prior on
    every offer's rate as in the seed (one sent alone takes the seed's 1 for the other);
    both left out (None), the prior is learned from the eligible offers (``population``)."""

    sampler: Sampler = Sampler.ucb
    ucb_c: float = 1.0
    thompson_a: float | None = None
    thompson_b: float | None = None
    min_share: float = 0.0
    """The traffic floor: every offer is chosen with at least this probability (at most
    1 / offers), so that none is starved of the evidence that would show it recovered."""
    holdout: bool = False
    """This click is in the holdout group: served uniformly at random among the offers, the
    baseline that the bandit's uplift is measured against."""

    @property
    def fixed_prior(self) -> tuple[float, float] | None:
        if self.thompson_a is None and self.thompson_b is None:
            return None
        return (1.0 if self.thompson_a is None else self.thompson_a), (1.0 if self.thompson_b is None else self.thompson_b)

    @classmethod
    def from_dict(cls, params: dict[str, float | str]) -> PolicyParams:
        """The parameters as ``as_dict`` wrote them (a decision's logged policy)."""
        numbers = {name: float(params[name]) for name in _NUMBERS if name in params}  # type: ignore[arg-type]
        return cls(Sampler(params["sampler"]), holdout=bool(params.get("holdout", False)), **numbers)

    def as_dict(self) -> dict[str, float | str]:
        """The seed's parameters, plus the floor and the holdout mark where they apply (a
        decision logged without them had neither)."""
        if self.sampler is Sampler.ucb:
            params: dict[str, float | str] = {"sampler": self.sampler.value, "ucb_c": self.ucb_c}
        elif self.fixed_prior is None:
            params = {"sampler": self.sampler.value}
        else:
            a, b = self.fixed_prior
            params = {"sampler": self.sampler.value, "thompson_a": a, "thompson_b": b}
        if self.min_share:
            params["min_share"] = self.min_share
        if self.holdout:
            params["holdout"] = 1.0
        return params

    def floor(self, offers: int) -> float:
        """Each of ``offers``' least probability: ``min_share``, or uniform when they are too
        many for it."""
        return min(self.min_share, 1.0 / offers) if offers else 0.0


_NUMBERS = ("ucb_c", "thompson_a", "thompson_b", "min_share")
"""The numeric parameters of a logged policy; a decision's log may hold other context beside
them (the smartlink it came through)."""


@dataclass(frozen=True, slots=True)
class Choice:
    """The index of the chosen offer and, for UCB, the probability with which it was
    chosen (1 / number of tied leaders). Thompson's is left out (None): its integral costs
    0.1–2 ms, ten to a hundred times the decision, and the decision log keeps the evidence
    that ``choice_probabilities`` computes it from when the log is read."""

    index: int
    propensity: float | None


def select(stats: ArmStats, params: PolicyParams, rng: np.random.Generator) -> Choice:
    """Pick one offer; ties between equal scores break uniformly at random.

    A holdout click is uniform. With a floor f over n offers, a share n·f of clicks is
    uniform and the rest the sampler's, so each offer's probability is f + (1 − n·f)·p."""
    n = len(stats)
    if params.holdout:
        return Choice(index=int(rng.integers(n)), propensity=1.0 / n)
    floor = params.floor(n)
    explore = floor > 0 and rng.random() < n * floor
    if params.sampler is Sampler.ucb:
        scores = ucb_scores(stats, params.ucb_c)
    else:
        scores = thompson_scores(stats, params.fixed_prior, rng)
    index, tied = argmax_random(scores, rng)
    if explore:
        index = int(rng.integers(n))
    if params.sampler is not Sampler.ucb:
        return Choice(index=index, propensity=None)
    policy = 1.0 / tied if scores[index] == scores.max() else 0.0
    return Choice(index=index, propensity=floor + (1.0 - n * floor) * policy)


def choice_probabilities(stats: ArmStats, params: PolicyParams, arms: np.ndarray | None = None) -> np.ndarray:
    """The probability of each offer (of ``arms`` only, when given: others may be left at
    0) being chosen by ``select`` on these statistics."""
    n = len(stats)
    if params.holdout:
        return np.full(n, 1.0 / n)
    if params.sampler is Sampler.ucb:
        policy = ucb_probabilities(stats, params.ucb_c)
    else:
        policy = thompson_probabilities(stats, params.fixed_prior, arms)
    floor = params.floor(n)
    return floor + (1.0 - n * floor) * policy if floor else policy
