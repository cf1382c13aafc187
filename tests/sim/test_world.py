"""Worlds and streams: CPA-like rates, drift at the chosen click, late offers, the trap,
delays, CRN."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cpa_bandit.sim.scenarios import CORE_SCENARIOS, scenario_config
from cpa_bandit.sim.stream import draw
from cpa_bandit.sim.world import WorldConfig


def test_rates_and_payouts_are_cpa_like() -> None:
    config = WorldConfig(offers=2_000, source_spread=0.0)
    world, _ = draw(replace(config, clicks=10), 0)
    cr, payout = world.cr[0, 0], world.payout[0]
    assert cr.min() >= 0.001 and cr.max() <= 0.10
    # log-uniform: as many offers per decade
    decades = np.histogram(np.log10(cr), bins=[-3, -2, -1])[0]
    assert abs(decades[0] - decades[1]) < 200, decades
    assert payout.min() >= 0.5 and payout.max() <= 200.0
    assert np.array_equal(payout, payout.round(2)), "payouts are whole cents"
    assert payout.max() > 15 * np.median(payout), "a heavy tail of big payouts"
    assert payout.mean() > 1.5 * np.median(payout)


def test_the_best_rpc_offer_is_often_not_the_best_converting_one() -> None:
    differ = 0
    for seed in range(40):
        world, _ = draw(WorldConfig(clicks=10), seed)
        differ += np.argmax(world.source_weights @ world.cr[0]) != np.argmax(world.pooled_rpc())
    assert differ >= 20


def test_source_spread_makes_sources_disagree() -> None:
    def disagreements(spread: float) -> int:
        count = 0
        for seed in range(20):
            world, _ = draw(WorldConfig(clicks=10, source_spread=spread), seed)
            count += len(set(np.argmax(world.rpc[0], axis=1).tolist())) > 1
        return count

    assert disagreements(0.0) == 0
    assert disagreements(1.0) > disagreements(0.3)


def test_drift_changes_the_true_rates_at_the_chosen_click(small: WorldConfig) -> None:
    config = replace(small, drift_at=600, drift_payout_factor=0.5)
    world, stream = draw(config, 1)
    top = np.argsort(-world.pooled_rpc(0))[: config.drift_top]
    assert np.allclose(world.cr[1][:, top], world.cr[0][:, top] * 0.2)
    assert np.allclose(world.payout[1][top], (world.payout[0][top] * 0.5).round(2))
    boosted = np.flatnonzero(np.isclose(world.cr[1][0], world.cr[0][0] * 5.0))
    assert len(boosted) == config.drift_low
    assert set(boosted.tolist()).isdisjoint(top.tolist())

    rows = np.arange(stream.clicks)[:, None]
    phase = (rows >= 600).astype(int)
    expected = world.rpc[phase, stream.source[:, None], stream.eligible]
    assert np.allclose(stream.expected_rpc, expected)
    # the same offers on the same source are worth something else from click 600 on
    changed = ~np.isclose(stream.expected_rpc, world.rpc[0, stream.source[:, None], stream.eligible])
    assert not changed[:600].any() and changed[600:].any()


def test_without_drift_both_phases_are_equal(small: WorldConfig) -> None:
    world, _ = draw(small, 0)
    assert np.array_equal(world.cr[0], world.cr[1]) and np.array_equal(world.payout[0], world.payout[1])


def test_late_offers_are_not_eligible_before_their_start(small: WorldConfig) -> None:
    config = scenario_config("new-offers", small)
    world, stream = draw(config, 2)
    late = np.flatnonzero(world.start > 0)
    assert len(late) == config.late_offers == 4
    assert np.argmax(world.pooled_rpc()) in late, "the best offer is one of the newcomers"
    assert ((world.start >= 300) & (world.start < 750))[late].all()
    starts = world.start[stream.eligible]
    assert (starts <= np.arange(stream.clicks)[:, None]).all()
    for offer in late:
        first_seen = np.flatnonzero((stream.eligible == offer).any(axis=1))[0]
        assert world.start[offer] <= first_seen < world.start[offer] + 50


def test_eligible_sets_are_distinct_offers_of_the_world(small: WorldConfig) -> None:
    _, stream = draw(small, 0)
    assert stream.eligible.shape == (small.clicks, small.eligible)
    assert (np.diff(stream.eligible, axis=1) > 0).all(), "sorted, no repeats"
    assert stream.eligible.min() >= 0 and stream.eligible.max() < small.offers
    assert len(np.unique(stream.eligible[:50], axis=0)) > 40, "a fresh subset per click"


def test_delays_are_long_tailed_with_the_configured_mean() -> None:
    _, stream = draw(WorldConfig(clicks=50_000, mean_delay=100.0), 0)
    assert stream.delay.min() >= 1
    assert 85 < stream.delay.mean() < 120
    assert np.median(stream.delay) < 0.5 * stream.delay.mean(), "most feedback is quick, the tail is long"
    assert np.percentile(stream.delay, 99) > 10 * np.median(stream.delay)


def test_rewards_follow_the_common_uniform_draws(small: WorldConfig) -> None:
    world, stream = draw(small, 3)
    cr = world.cr[0, stream.source[:, None], stream.eligible]
    converts = stream.uniform < cr
    assert np.array_equal(stream.reward_micros > 0, converts)
    assert np.array_equal(stream.reward_micros[converts], np.rint(world.payout[0][stream.eligible][converts] * 1e6))


def test_same_seed_same_stream_other_seed_other_stream(small: WorldConfig) -> None:
    (_, a), (_, b), (_, c) = draw(small, 5), draw(small, 5), draw(small, 6)
    for field in ("source", "eligible", "uniform", "delay", "expected_rpc", "reward_micros"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert not np.array_equal(a.uniform, c.uniform)


def test_scenarios_share_the_seed_s_offers(small: WorldConfig) -> None:
    static, _ = draw(scenario_config("static", small), 4)
    for name in CORE_SCENARIOS:
        world, _ = draw(scenario_config(name, small), 4)
        assert np.array_equal(world.payout[0], static.payout[0]), name
    drift, _ = draw(scenario_config("drift", small), 4)
    assert np.array_equal(drift.cr[0], static.cr[0])


def test_a_seed_draws_the_offers_it_always_drew() -> None:
    """Pinned: a field added to the world config must leave the worlds of its default alone,
    or a run could no longer be paired with one from an earlier checkout."""
    world, _ = draw(WorldConfig(clicks=10, offers=6, sources=2, eligible=3), 0)
    assert world.payout[0].tolist() == [26.73, 26.29, 12.98, 32.03, 4.12, 20.38]
    assert world.cr[0, 0] == pytest.approx([0.062038, 0.003424, 0.04129, 0.001747, 0.008189, 0.019133], abs=1e-6)


def trap_world(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pooled conversion rate, payout and pooled rpc of each offer of the trap of ``seed``."""
    world, _ = draw(WorldConfig(clicks=10, offers=5, eligible=5, offer_draw="trap"), seed)
    return world.source_weights @ world.cr[0], world.payout[0], world.pooled_rpc()


def test_in_a_trap_the_best_converter_pays_least_and_the_best_offer_converts_rarely() -> None:
    positions = set()
    for seed in range(200):
        cr, payout, rpc = trap_world(seed)
        trap, best = int(np.argmax(cr)), int(np.argmax(rpc))
        assert trap == np.argmin(payout) and 0.08 <= cr[trap] <= 0.15, seed
        assert best == np.argmin(cr) and cr[best] < 0.01, seed
        assert rpc[best] >= 1.49 * rpc[trap], "the best earns clearly more than the trap"
        assert (np.delete(rpc, best) <= 0.701 * rpc[best]).all(), "no near tie for the best"
        assert np.array_equal(payout, payout.round(2)), "payouts are whole cents"
        positions.add((trap, best))
    assert len(positions) > 10, "the trap and the best are not always the same offers"


def test_the_trap_keeps_mild_source_differences() -> None:
    world, _ = draw(WorldConfig(clicks=10, offers=5, eligible=5, offer_draw="trap"), 0)
    ratios = world.cr[0] / (world.source_weights @ world.cr[0])
    assert not np.allclose(ratios, 1.0), "sources still differ"
    assert (ratios > 0.3).all() and (ratios < 3.0).all()


def test_the_trap_has_sizes_of_its_own() -> None:
    base = WorldConfig(clicks=3_000, offers=30, sources=3, eligible=10, mean_delay=50.0)
    default = scenario_config("trap", base, clicks_given=False)
    assert (default.clicks, default.offers, default.eligible, default.offer_draw) == (4_000, 5, 5, "trap")
    assert (default.sources, default.mean_delay) == (3, 50.0), "sources and delays are the base world's"
    assert scenario_config("trap", base, clicks_given=True).clicks == 3_000
    assert scenario_config("static", base, clicks_given=False).clicks == 3_000


@pytest.mark.parametrize(
    "change, message",
    [
        ({"eligible": 13}, "eligible"),
        ({"late_offers": 8}, "late"),
        ({"mean_delay": 0.0}, "mean_delay"),
        ({"drift_at": 10, "drift_low": 7}, "drift_low"),
        ({"offers": 1, "eligible": 1, "offer_draw": "trap"}, "trap"),
    ],
)
def test_impossible_worlds_are_refused(small: WorldConfig, change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(small, **change)


def test_unknown_scenario_is_refused(small: WorldConfig) -> None:
    with pytest.raises(ValueError, match="unknown scenario 'sunny'"):
        scenario_config("sunny", small)
