"""Per-source learning: an offer's evidence on one traffic source, shrunk to its others.

Sources (arbitrageurs' channels) differ in which offers convert, so each (offer, source)
has its own counters; but one source's evidence on an offer is thin, and a source new to
an offer has none. The estimate for a source therefore adds up to ``weight`` pseudo-clicks
that convert (and pay) as the offer does on all other sources: the empirical-Bayes prior
of a hierarchical model in which sources vary around the offer. A source with many clicks
of its own is led by them; a new source starts from what the offer does elsewhere.
"""

from __future__ import annotations

import numpy as np

from .arms import ArmStats


def shrink_to_pool(own: ArmStats, pooled: ArmStats, weight: float) -> ArmStats:
    """``own`` (one source) plus prior pseudo-counts from ``pooled`` minus ``own``."""
    other_resolved = pooled.resolved - own.resolved
    other_conversions = pooled.conversions - own.conversions
    other_reward = pooled.reward - own.reward
    pseudo = np.minimum(weight, other_resolved)  # never claim more evidence than exists
    rate = np.divide(other_conversions, other_resolved, out=np.zeros_like(pseudo), where=other_resolved > 0)
    payout = np.divide(other_reward, other_conversions, out=np.zeros_like(pseudo), where=other_conversions > 0)
    pseudo_conversions = pseudo * rate
    return ArmStats(
        clicks=own.clicks + pseudo,
        resolved=own.resolved + pseudo,
        conversions=own.conversions + pseudo_conversions,
        reward=own.reward + pseudo_conversions * payout,
        declared_payout=pooled.declared_payout,
    )
