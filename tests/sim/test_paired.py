"""Paired differences computed by hand: seeds in common only, s.e. with ddof=1, per-seed means."""

from __future__ import annotations

import math

import pytest

from cpa_bandit.sim.paired import Estimate, differences, seed_means


def test_differences_pair_the_seeds_both_have() -> None:
    assert differences({0: 0.5, 1: 0.7, 3: 0.1}, {1: 0.4, 0: 0.2, 2: 0.9}) == pytest.approx({0: 0.3, 1: 0.3})


def test_the_standard_error_is_the_sample_std_over_root_n() -> None:
    estimate = Estimate.of({0: 0.1, 1: 0.3, 2: 0.8})
    assert estimate.n == 3 and estimate.mean == pytest.approx(0.4)
    # deviations -0.3, -0.1, 0.4: sum of squares 0.26, / (3 - 1), sqrt, / sqrt(3)
    assert estimate.se == pytest.approx(math.sqrt(0.13) / math.sqrt(3))
    assert str(estimate) == "+0.400 ± 0.208"


def test_one_seed_shows_no_spread_and_none_shows_nothing() -> None:
    assert str(Estimate.of({4: -0.25})) == "-0.250 ± —"
    assert Estimate.of({}).n == 0 and str(Estimate.of({})) == "—"


def test_seed_means_average_over_scenarios_on_the_seeds_all_have() -> None:
    assert seed_means([{0: 0.2, 1: 0.4, 2: 1.0}, {0: 0.6, 1: 0.0}]) == pytest.approx({0: 0.4, 1: 0.2})
    assert seed_means([]) == {}
