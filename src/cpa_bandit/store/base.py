"""The one protocol every store implements: atomic operations of the domain.

Each method is a whole use case made atomic by the store (one SQLite transaction, one Lua
script…), never a get/set pair that the service would stitch together and that would race
between worker processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ..domain import Decision, Outcome

COUNTER_COLUMNS = ("clicks", "resolved", "conversions", "reward_micros")
"""Column order of the matrix that ``read_counters`` returns."""


class Store(Protocol):
    def record_decision(self, decision: Decision) -> tuple[Decision, bool]:
        """Make the click pending with its offer and count the click, once.

        Returns the stored decision and whether this call created it; a click id that was
        already decided is returned as stored, with nothing counted again.
        """

    def resolve_click(self, click_id: str, reward_micros: int, at: float) -> tuple[Outcome, bool]:
        """Resolve a pending click with its reward, once.

        Returns the stored outcome and whether this call applied it; an already resolved
        click is returned with its stored reward and nothing changed. Raises
        ``UnknownClick`` for a click id that was never decided.
        """

    def read_counters(self, offer_ids: Sequence[int]) -> np.ndarray:
        """Lifetime counters as an int64 matrix, one row per offer id (in the given order),
        columns as ``COUNTER_COLUMNS``; offers never seen are rows of zeros."""

    def reset(self) -> None:
        """Forget every click and counter."""

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
