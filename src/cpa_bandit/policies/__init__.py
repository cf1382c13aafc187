"""Bandit policies: pure functions from per-offer statistics to one chosen offer.

No I/O here; the random generator is injected so that decisions are reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from .arms import ArmStats
from .probabilities import thompson_probabilities, ucb_probabilities
from .thompson import thompson_scores
from .ties import argmax_random
from .ucb import ucb_scores

__all__ = ["ArmStats", "Choice", "PolicyParams", "Sampler", "argmax_random", "choice_probabilities", "select"]


class Sampler(str, Enum):
    ucb = "ucb"
    thompson = "thompson"


@dataclass(frozen=True, slots=True)
class PolicyParams:
    """A sampler and its parameters, as the seed's `/sample/` takes them."""

    sampler: Sampler = Sampler.ucb
    ucb_c: float = 1.0
    thompson_a: float = 1.0
    thompson_b: float = 1.0

    @classmethod
    def from_dict(cls, params: dict[str, float | str]) -> PolicyParams:
        """The parameters as ``as_dict`` wrote them (a decision's logged policy)."""
        sampler = Sampler(params["sampler"])
        return cls(sampler, **{name: float(value) for name, value in params.items() if name != "sampler"})

    def as_dict(self) -> dict[str, float | str]:
        if self.sampler is Sampler.ucb:
            return {"sampler": self.sampler.value, "ucb_c": self.ucb_c}
        return {"sampler": self.sampler.value, "thompson_a": self.thompson_a, "thompson_b": self.thompson_b}


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
        scores = thompson_scores(stats, params.thompson_a, params.thompson_b, rng)
    index, tied = argmax_random(scores, rng)
    return Choice(index=index, propensity=1.0 / tied if params.sampler is Sampler.ucb else None)


def choice_probabilities(stats: ArmStats, params: PolicyParams, arms: np.ndarray | None = None) -> np.ndarray:
    """The probability of each offer (of ``arms`` only, when given: others may be left at
    0) being chosen by ``select`` on these statistics."""
    if params.sampler is Sampler.ucb:
        return ucb_probabilities(stats, params.ucb_c)
    return thompson_probabilities(stats, params.thompson_a, params.thompson_b, arms)
