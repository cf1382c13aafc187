"""Paired differences: what common random numbers buy when two runs are compared.

Every policy replays the same stream on a (scenario, seed), and so does a run from another
checkout with the same world config. The difference of two efficiencies seed by seed
therefore cancels the luck of the world (an easy or a hard market), and its spread over
seeds is far smaller than either efficiency's. Its standard error says whether a change is
real: a mean difference within about two standard errors of 0 is not established yet.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

PerSeed = Mapping[int, float]
"""A value per seed: one policy's judged efficiency on one scenario, or a difference of two."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """Mean over seeds with its standard error."""

    mean: float
    se: float
    """std (ddof=1) / sqrt(n); NaN with a single seed, where no spread can be seen."""
    n: int

    @classmethod
    def of(cls, values: PerSeed) -> Estimate:
        """With no seed at all, an empty estimate (n = 0, NaNs) that prints as a dash."""
        array = np.fromiter(values.values(), dtype=float)
        mean = float(array.mean()) if len(array) else math.nan
        se = float(array.std(ddof=1) / math.sqrt(len(array))) if len(array) > 1 else math.nan
        return cls(mean, se, len(array))

    def __str__(self) -> str:
        """``+0.012 ± 0.004``; a dash for what the seeds cannot show."""
        if not self.n:
            return "—"
        return f"{self.mean:+.3f} ± {'—' if self.n < 2 else f'{self.se:.3f}'}"


def differences(this: PerSeed, that: PerSeed) -> dict[int, float]:
    """``this − that`` on each seed both have."""
    return {seed: this[seed] - that[seed] for seed in sorted(this.keys() & that.keys())}


def seed_means(per_scenario: Sequence[PerSeed]) -> dict[int, float]:
    """Per seed, the mean over scenarios, on the seeds every scenario has: a seed's scenarios
    share its offers, so its mean is one paired observation, not several."""
    seeds = sorted(set.intersection(*(set(values) for values in per_scenario))) if per_scenario else []
    return {seed: float(np.mean([values[seed] for values in per_scenario])) for seed in seeds}
