"""Choosing the best score when several offers share it."""

from __future__ import annotations

import numpy as np


def argmax_random(scores: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """Index of a highest score, uniformly at random among equal ones, and how many tied.

    A fixed tie-break (the first offer listed) would hand every tie to whichever offer a
    client happens to list first.
    """
    leaders = np.flatnonzero(scores == scores.max())
    return int(leaders[0] if len(leaders) == 1 else rng.choice(leaders)), len(leaders)
