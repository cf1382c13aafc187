"""How the store's counters become the evidence the model learns from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .money import MICROS
from .policies import ArmStats, SourceCounts
from .store.base import OfferRows


@dataclass(frozen=True, slots=True)
class Learning:
    """How evidence becomes statistics (settings ``CPA_BANDIT_ATTRIBUTION_WINDOW_DAYS`` …)."""

    attribution_window_s: float = 30 * 86_400.0
    source_prior_clicks: float = 200.0
    change_detection: bool = True
    """Test each offer for a change of its conversion rate and forget the evidence before it."""


def learning_stats(rows: OfferRows, source: str | None, learning: Learning) -> ArmStats:
    """The evidence the model learns from: since each offer's last restart, pooled and for
    the click's source."""
    declared = None
    if rows.payout_micros.max(initial=-1) >= 0:
        declared = np.where(rows.payout_micros >= 0, rows.payout_micros / MICROS, np.nan)
    own = None
    if source:
        own = SourceCounts(*_since_restart(rows.by_source, rows.by_source_before), weight=learning.source_prior_clicks)
    return ArmStats(
        *_since_restart(rows.pooled, rows.pooled_before),
        declared_payout=declared,
        reward_sq=rows.reward_sq - rows.reward_sq_before,
        source=own,
    )


def _since_restart(counters: np.ndarray, before: np.ndarray) -> list[np.ndarray]:
    """Clicks, resolved, conversions and reward of the evidence since the restart:
    expired clicks count as resolved non-conversions. Clicks pending at the restart that
    resolved since then count as new evidence (a few, at usual delays)."""
    clicks, resolved, conversions, reward_micros, expired, *_pending = np.array(
        (counters - before).T, dtype=np.float64, order="C"
    )
    return [clicks, resolved + expired, conversions, reward_micros / MICROS]
