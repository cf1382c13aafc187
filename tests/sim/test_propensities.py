"""Logged propensities against how often the policy really makes each choice.

A simulated run through the real service logs its decisions; for decisions taken at
several stages of learning, the policy is asked again many times on the same evidence,
and the share of each choice must match the probability the log carries."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cpa_bandit.decision_log import evidence_stats
from cpa_bandit.policies import ArmStats, PolicyParams, Sampler, choice_probabilities, select
from cpa_bandit.policies.population import fit_population
from cpa_bandit.policies.thompson import thompson_scores
from cpa_bandit.clickpath.decisions import DecisionPath
from cpa_bandit.service import BanditService
from cpa_bandit.sim.contenders import ServicePolicy
from cpa_bandit.sim.runner import RunOptions, SimClock, play
from cpa_bandit.sim.stream import draw
from cpa_bandit.sim.world import WorldConfig
from cpa_bandit.store import MemoryStore

DRAWS = 40_000
TOLERANCE = 0.01
"""What the log promises for Thompson (the integral is within 1/128 by construction)."""


def logged_run(params: PolicyParams, pass_source: bool, seed: int, cache_ms: float = 0.0) -> list:
    config = WorldConfig(clicks=800, offers=8, sources=2, eligible=5, mean_delay=20.0)
    _, stream = draw(config, seed)
    clock = SimClock()
    path = DecisionPath(cache_ms=cache_ms)
    service = BanditService(MemoryStore(), np.random.default_rng(seed), clock, decision_path=path)
    play(stream, ServicePolicy(service, params, pass_source), clock, RunOptions())
    return list(service.decision_log())


def choice_frequency(stats: ArmStats, params: PolicyParams, rng: np.random.Generator) -> np.ndarray:
    """How often the policy picks each offer when asked again and again on ``stats``:
    ``DRAWS`` independent decisions of ``thompson_scores``, the function ``select`` draws
    with, in one call. Optimistic draws tie often (untried offers all draw their prior's
    mean at once), so ties break at random here as ``select`` breaks them."""
    k = len(stats)
    if params.sampler is Sampler.ucb:
        picks = [select(stats, params, rng).index for _ in range(2_000)]
        return np.bincount(picks, minlength=k) / 2_000
    scores = thompson_scores(stats, params.fixed_prior, rng, draws=DRAWS)
    leaders = scores == scores.max(axis=1, keepdims=True)
    picks = (leaders * rng.random(scores.shape)).argmax(axis=1)  # ties break at random, as in select
    explore = rng.random(DRAWS) < k * params.floor(k)  # the floor's uniform share, as in select
    picks[explore] = rng.integers(k, size=int(explore.sum()))
    return np.bincount(picks, minlength=k) / DRAWS


def within_tolerance(probabilities: np.ndarray, frequency: np.ndarray, draws: int) -> bool:
    noise = 4 * np.sqrt(probabilities * (1 - probabilities) / draws)
    return bool(np.all(np.abs(frequency - probabilities) <= TOLERANCE + noise))


@pytest.mark.parametrize(
    ("params", "pass_source", "cache_ms"),
    [
        (PolicyParams(Sampler.thompson), False, 0.0),
        (PolicyParams(Sampler.thompson), True, 0.0),
        (PolicyParams(Sampler.thompson, thompson_a=0.5, thompson_b=4.0), True, 0.0),
        (PolicyParams(Sampler.ucb, ucb_c=1.0), True, 0.0),
        (PolicyParams(Sampler.thompson), True, 60_000.0),
        (PolicyParams(Sampler.thompson, min_share=0.05), True, 0.0),
        (PolicyParams(Sampler.ucb, ucb_c=1.0, min_share=0.05), True, 0.0),
    ],
    ids=[
        "thompson-pooled", "thompson-by-source", "thompson-fixed-prior-by-source", "ucb", "thompson-cached-model",
        "thompson-floor", "ucb-floor",
    ],  # fmt: skip
)
def test_logged_propensities_match_the_frequency_of_choices(
    params: PolicyParams, pass_source: bool, cache_ms: float
) -> None:
    """``thompson-cached-model``: the worker keeps its counters and its population fit for
    the whole run (as within a staleness bound), so each decision's population is older
    than its evidence: the replay must use the one the decision logged."""
    rows = logged_run(params, pass_source, seed=3, cache_ms=cache_ms)
    refits = [fit_population(replace(evidence_stats(row.evidence), population=None)) for row in rows[::40]]
    stale = [refit != evidence_stats(row.evidence).population for refit, row in zip(refits, rows[::40])]
    assert any(stale) == (cache_ms > 0)
    assert len(rows) == 800 and all(0 < row.pscore <= 1 for row in rows)
    rng = np.random.default_rng(11)
    draws = 2_000 if params.sampler is Sampler.ucb else DRAWS
    for row in rows[::40]:  # from the first click to well into exploitation
        stats = evidence_stats(row.evidence)
        assert stats.population is not None
        probabilities = choice_probabilities(stats, params)
        chosen = row.evidence.offers.index(row.offer_id)
        assert row.pscore == pytest.approx(probabilities[chosen], abs=1e-6)
        assert probabilities.sum() == pytest.approx(1.0, abs=TOLERANCE)
        frequency = choice_frequency(stats, params, rng)
        assert within_tolerance(probabilities, frequency, draws), (row.round, probabilities, frequency)
        assert probabilities.min() >= params.floor(len(stats)) - 1e-12


def test_the_comparison_catches_a_wrong_prior() -> None:
    """Probabilities computed with the learned prior instead of the one the policy used are
    told apart by the same comparison: the test has teeth."""
    params = PolicyParams(Sampler.thompson, thompson_a=0.5, thompson_b=4.0)
    rows = logged_run(params, True, seed=3)
    rng = np.random.default_rng(12)
    caught = 0
    for row in rows[:200:20]:
        stats = evidence_stats(row.evidence)
        wrong = choice_probabilities(stats, PolicyParams(Sampler.thompson))
        caught += not within_tolerance(wrong, choice_frequency(stats, params, rng), DRAWS)
    assert caught >= 5
