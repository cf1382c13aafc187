"""The learning statistics a policy sees: one array entry per eligible offer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class ArmStats:
    """Per-offer evidence, aligned arrays of equal length.

    ``clicks`` counts every decision (pending or not); ``resolved`` only the clicks whose
    outcome is known. Policies learn rates from resolved clicks alone: a pending click is
    unknown, not a failure. ``reward`` is the revenue of the resolved clicks in currency units.
    """

    clicks: np.ndarray
    resolved: np.ndarray
    conversions: np.ndarray
    reward: np.ndarray

    @classmethod
    def from_counts(cls, clicks, resolved, conversions, reward) -> ArmStats:
        return cls(
            clicks=np.asarray(clicks, dtype=np.float64),
            resolved=np.asarray(resolved, dtype=np.float64),
            conversions=np.asarray(conversions, dtype=np.float64),
            reward=np.asarray(reward, dtype=np.float64),
        )

    def __len__(self) -> int:
        return len(self.clicks)
