"""Off-policy evaluation: what another policy or setting would have earned on a decision log.

The estimand is the revenue per click that the target's choices would have earned on the
logged clicks, given the evidence the service had at each one:

    V(π) = 1/n · Σ_t Σ_a π(a | evidence_t) · rpc(a, click_t)

with rpc(a, click_t) the expected reward of offer a on that click (its source, its time).
It is a one-step counterfactual: the target is asked about each click with the statistics
the *logging* policy had gathered; that its own different choices would have gathered
different statistics, and so chosen differently later, is not modelled (docs/evaluation.md).

Pure computation on logged rows: no store, no HTTP. ``evaluate`` reads the rows once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..decision_log import LogRow
from .diagnostics import Caveat, caveats, unsupported_share
from .estimators import Estimate, doubly_robust, effective_sample_size, ips, mean_estimate, snips
from .reward_model import cross_fitted_rewards
from .rounds import Progress, Rounds, collect
from .targets import Target, TargetPolicy

__all__ = ["Caveat", "Estimate", "Evaluation", "Target", "TargetPolicy", "evaluate"]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The target's estimated revenue per click, and how far the log supports it."""

    target: Target
    rounds: int
    """Resolved rows with a usable propensity: the n of every estimate."""
    pending: int
    invalid: int
    conversions: int
    logged: Estimate
    """The logging policy's own revenue per click on the same rounds (mean reward)."""
    estimates: tuple[Estimate, ...]
    """IPS, SNIPS and DR, in that order."""
    ess: float
    max_weight: float
    min_pscore: float
    """Smallest logged propensity among rounds where the target would choose the logged offer."""
    unsupported: float
    """Share of the target's choices on offers the logging policy could not have chosen."""
    caveats: tuple[Caveat, ...]


def evaluate(rows: Iterable[LogRow], target: Target, on_progress: Progress | None = None) -> Evaluation:
    """Estimate the target's revenue per click on the log's resolved rows (docs/evaluation.md)."""
    rounds = collect(rows, target, on_progress)
    weights = rounds.weights
    ess = effective_sample_size(weights)
    wanted = rounds.target_chosen > 0
    return Evaluation(
        target=target,
        rounds=len(rounds),
        pending=rounds.pending,
        invalid=rounds.invalid,
        conversions=int(np.count_nonzero(rounds.reward > 0)),
        logged=mean_estimate("logged", rounds.reward),
        estimates=(ips(weights, rounds.reward), snips(weights, rounds.reward), _doubly_robust(rounds, weights)),
        ess=ess,
        max_weight=float(weights.max()) if len(weights) else math.nan,
        min_pscore=float(rounds.pscore[wanted].min()) if wanted.any() else math.nan,
        unsupported=unsupported_share(rounds),
        caveats=tuple(caveats(rounds, ess)),
    )


def _doubly_robust(rounds: Rounds, weights: np.ndarray) -> Estimate:
    n = len(rounds)
    predicted = cross_fitted_rewards(
        rounds.offer,
        rounds.source,
        rounds.reward,
        np.concatenate([np.arange(n), rounds.entry_round]),
        np.concatenate([rounds.offer, rounds.entry_offer]),
    )
    chosen, entries = predicted[:n], predicted[n:]
    target_value = np.bincount(rounds.entry_round, weights=rounds.entry_target * entries, minlength=n)
    return doubly_robust(weights, rounds.reward, chosen, target_value)
