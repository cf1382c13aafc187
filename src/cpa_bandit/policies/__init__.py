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

    @property
    def fixed_prior(self) -> tuple[float, float] | None:
        if self.thompson_a is None and self.thompson_b is None:
            return None
        return (1.0 if self.thompson_a is None else self.thompson_a), (1.0 if self.thompson_b is None else self.thompson_b)

    @classmethod
    def from_dict(cls, params: dict[str, float | str]) -> PolicyParams:
        """The parameters as ``as_dict`` wrote them (a decision's logged policy)."""
        sampler = Sampler(params["sampler"])
        return cls(sampler, **{name: float(value) for name, value in params.items() if name != "sampler"})

    def as_dict(self) -> dict[str, float | str]:
        if self.sampler is Sampler.ucb:
            return {"sampler": self.sampler.value, "ucb_c": self.ucb_c}
        if self.fixed_prior is None:
            return {"sampler": self.sampler.value}
        a, b = self.fixed_prior
        return {"sampler": self.sampler.value, "thompson_a": a, "thompson_b": b}


@dataclass(frozen=True, slots=True)
class Choice:
    """The index of the chosen offer and, for UCB, the probability with which it was
    chosen (1 / number of tied leaders). Thompson's is left out (None): its integral costs
    0.1–2 ms, ten to a hundred times the decision, and the decision log keeps the evidence
    that ``choice_probabilities`` computes it from when the log is read."""

    index: int
    propensity: float | None


def select(stats: ArmStats, params: PolicyParams, rng: np.random.Generator) -> Choice:
    """Pick one offer; ties between equal scores break uniformly at random."""
    if params.sampler is Sampler.ucb:
        scores = ucb_scores(stats, params.ucb_c)
    else:
        scores = thompson_scores(stats, params.fixed_prior, rng)
    index, tied = argmax_random(scores, rng)
    return Choice(index=index, propensity=1.0 / tied if params.sampler is Sampler.ucb else None)


def choice_probabilities(stats: ArmStats, params: PolicyParams, arms: np.ndarray | None = None) -> np.ndarray:
    """The probability of each offer (of ``arms`` only, when given: others may be left at
    0) being chosen by ``select`` on these statistics."""
    if params.sampler is Sampler.ucb:
        return ucb_probabilities(stats, params.ucb_c)
    return thompson_probabilities(stats, params.fixed_prior, arms)
