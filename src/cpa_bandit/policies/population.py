"""Level one of the model: what the eligible offers have in common, learned from them.

An offer with little evidence is judged by the population it belongs to (empirical Bayes):
the conversion rates of the eligible offers are taken as draws from one Beta whose mean and
strength are fitted to their pooled counts, and their payouts as draws around the mean
payout of the offers that converted (or declared one). A flat Beta(1, 1), mean 50 %, on
traffic that converts at 0.1–10 % sends the first thousand clicks to offers that only look
good because nothing is known about them.

The prior an offer starts from is deliberately *optimistic*: its mean is an upper quantile
of the fitted population and it weighs at most ``PRIOR_CLICKS`` clicks, so an untried offer
is explored early and written off after a few dozen clicks that do not convert.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .arms import ArmStats

HYPER_RATE = 0.02
"""The population's conversion rate before any evidence (CPA traffic converts at 0.1–10 %)."""
HYPER_CLICKS = 100.0
"""How many resolved clicks that guess weighs in the population's mean rate."""
STRENGTH_RANGE = (2.0, 2_000.0)
"""Bounds of the fitted population strength (its Beta's α + β)."""
DEFAULT_STRENGTH = 30.0
"""The population's strength while fewer than two offers have resolved clicks."""
OPTIMISM_LEVEL = 0.8
"""Quantile of the fitted population at which an offer's prior mean rate sits."""
PRIOR_CLICKS = 30.0
"""Most clicks an offer's prior weighs: a few dozen, so that its own evidence soon leads."""

NEUTRAL_PAYOUT = 1.0
"""Payout of every offer while none converted or declared one: only its presence matters
then (all offers share it, so values are proportional to conversion rates)."""
PAYOUT_CV2_PRIOR = 0.25
"""Squared coefficient of variation of one offer's payouts before any offer converted
twice (0.5: revenue-share-like); CPA offers' fixed payouts bring it towards 0 fast."""
PAYOUT_CV2_DOF = 2.0
"""Degrees of freedom that prior weighs against the observed spreads."""


@dataclass(frozen=True, slots=True)
class Population:
    """The fitted population of the eligible offers."""

    rate_mean: float
    rate_strength: float
    """The population's Beta: mean and α + β (small: offers differ a lot)."""
    prior_alpha: float
    prior_beta: float
    """The optimistic Beta an offer's own evidence updates."""
    payout_mean: float
    payout_var: float
    """Mean and variance of the offers' mean payouts: an unconverted offer's payout prior."""
    payout_cv2: float
    """Pooled squared coefficient of variation of one offer's payouts (0: fixed payouts)."""


def fit_rate(resolved: np.ndarray, conversions: np.ndarray) -> tuple[float, float]:
    """Mean and strength of the population's Beta, by moments (DerSimonian–Laird).

    The spread between offers is what the offers' observed rates vary by beyond binomial
    noise: E[Σ nᵢ(p̂ᵢ − μ)²] ≈ (m − 1)·μ(1 − μ) + τ²·(N − Σnᵢ²/N), and a Beta of strength s
    has τ² = μ(1 − μ)/(s + 1). The mean is then re-weighted by 1/(μ(1 − μ)/nᵢ + τ²), each
    offer one draw of the population: the pooled rate alone would be the rate of the
    offers the bandit already favours (they have most of the clicks). ``HYPER_CLICKS`` of
    ``HYPER_RATE`` keep the fit sane while evidence is thin.
    """
    total = float(resolved.sum())
    mean = (float(conversions.sum()) + HYPER_RATE * HYPER_CLICKS) / (total + HYPER_CLICKS)
    seen = resolved > 0
    offers = int(seen.sum())
    if offers < 2:
        return mean, DEFAULT_STRENGTH
    n, k = resolved[seen], conversions[seen]
    binomial = mean * (1.0 - mean)
    tau2 = (float(np.sum((k - n * mean) ** 2 / n)) - (offers - 1) * binomial) / (total - float(n @ n) / total)
    if tau2 <= 0:
        return mean, STRENGTH_RANGE[1]
    weight = 1.0 / (binomial / n + tau2)
    hyper = 1.0 / (binomial / HYPER_CLICKS + tau2)
    mean = (float(weight @ (k / n)) + hyper * HYPER_RATE) / (float(weight.sum()) + hyper)
    strength = mean * (1.0 - mean) / tau2 - 1.0
    return mean, min(max(strength, STRENGTH_RANGE[0]), STRENGTH_RANGE[1])


def optimistic_prior(mean: float, strength: float) -> tuple[float, float]:
    """The Beta an offer starts from: mean at ``OPTIMISM_LEVEL`` of the population, worth
    at most ``PRIOR_CLICKS`` clicks."""
    upper = float(special.betaincinv(mean * strength, (1.0 - mean) * strength, OPTIMISM_LEVEL))
    clicks = min(strength, PRIOR_CLICKS)
    return clicks * upper, clicks * (1.0 - upper)


def fit_payout(stats: ArmStats) -> tuple[float, float, float]:
    """Mean and variance of the offers' mean payouts, and the pooled within-offer cv².

    An offer's mean payout is its observed one once it converted, else its declared one;
    the population is those of the eligible offers (``NEUTRAL_PAYOUT`` when there are none).
    """
    converted = stats.conversions > 0
    k = stats.conversions[converted]
    observed = stats.reward[converted] / k
    count, total, squares = len(observed), float(observed.sum()), float(observed @ observed)
    if stats.declared_payout is not None:
        declared = stats.declared_payout[~converted]
        declared = declared[~np.isnan(declared)]
        count, total, squares = count + len(declared), total + float(declared.sum()), squares + float(declared @ declared)
    if count == 0:
        return NEUTRAL_PAYOUT, NEUTRAL_PAYOUT**2, PAYOUT_CV2_PRIOR
    mean = total / count
    var = (squares - count * mean * mean) / (count - 1) if count > 1 else mean * mean
    var = max(var, (0.05 * mean) ** 2, 1e-12)  # never certain that every offer pays alike
    return mean, var, _within_cv2(stats, converted, k, observed)


def _within_cv2(stats: ArmStats, converted: np.ndarray, k: np.ndarray, observed: np.ndarray) -> float:
    """Σ (kᵢ − 1)·sᵢ²/x̄ᵢ² / Σ (kᵢ − 1) over the offers, with the prior's degrees of freedom."""
    if stats.reward_sq is None:
        return PAYOUT_CV2_PRIOR
    dof = k - 1.0
    spread = np.maximum(stats.reward_sq[converted] - stats.reward[converted] * observed, 0.0)  # (kᵢ−1)·sᵢ²
    return float(
        (PAYOUT_CV2_DOF * PAYOUT_CV2_PRIOR + np.sum(spread / (observed * observed)))
        / (PAYOUT_CV2_DOF + dof.sum())
    )


def fit_population(stats: ArmStats) -> Population:
    rate_mean, strength = fit_rate(stats.resolved, stats.conversions)
    alpha, beta = optimistic_prior(rate_mean, strength)
    payout_mean, payout_var, cv2 = fit_payout(stats)
    return Population(rate_mean, strength, alpha, beta, payout_mean, payout_var, cv2)
