"""Policies tested statistically: fixed seeds, enough draws, tolerances a wrong formula fails."""

from __future__ import annotations

import numpy as np
import pytest

from cpa_bandit.policies import ArmStats, PolicyParams, Sampler, choice_probabilities, select
from cpa_bandit.policies.payout import mean_payout, prior_payout, sample_payout
from cpa_bandit.policies.thompson import thompson_scores
from cpa_bandit.policies.ucb import ucb_scores

# A CPA-like world where the best-converting offer (0) is a poor earner and the best
# revenue per click (1) converts at only 2 %.
CR = np.array([0.10, 0.02, 0.01, 0.005, 0.05])
PAYOUT = np.array([1.0, 20.0, 10.0, 30.0, 4.0])
RPC = CR * PAYOUT
BEST = int(np.argmax(RPC))
POLICIES = [PolicyParams(Sampler.ucb), PolicyParams(Sampler.thompson)]


def stats(clicks, resolved, conversions, reward) -> ArmStats:
    return ArmStats(*(np.asarray(x, dtype=np.float64) for x in (clicks, resolved, conversions, reward)))


def simulate(params: PolicyParams, steps: int, seed: int, delay: int = 0) -> np.ndarray:
    """Offers chosen at each step; feedback of a click arrives ``delay`` steps later."""
    rng, world = np.random.default_rng(seed), np.random.default_rng(seed + 10_000)
    k = len(CR)
    clicks, resolved, conversions, reward = (np.zeros(k) for _ in range(4))
    converts = world.random(steps) < CR[:, None]  # common random numbers per offer
    picks = np.empty(steps, dtype=int)
    for t in range(steps):
        if delay and t >= delay:
            j = picks[t - delay]
            resolved[j] += 1
            conversions[j] += converts[j, t - delay]
            reward[j] += PAYOUT[j] * converts[j, t - delay]
        i = select(ArmStats(clicks, resolved, conversions, reward), params, rng).index
        picks[t] = i
        clicks[i] += 1
        if not delay:
            resolved[i] += 1
            conversions[i] += converts[i, t]
            reward[i] += PAYOUT[i] * converts[i, t]
    return picks


@pytest.mark.parametrize("params", POLICIES, ids=lambda p: p.sampler.value)
def test_tries_every_unseen_offer_then_concentrates_on_best_rpc(params: PolicyParams) -> None:
    for seed in range(3):
        picks = simulate(params, 20_000, seed)
        assert set(picks[:60]) == set(range(len(CR))), "every offer is tried early"
        late = np.bincount(picks[-5_000:], minlength=len(CR)) / 5_000
        assert late[BEST] > 0.75, late
        assert late[0] < 0.05, f"best conversion rate, low payout must lose: {late}"
        random_rpc, oracle_rpc = RPC.mean(), RPC.max()
        efficiency = (RPC[picks].mean() - random_rpc) / (oracle_rpc - random_rpc)
        assert efficiency > 0.6, efficiency


def test_ucb_tries_each_unseen_offer_first() -> None:
    rng = np.random.default_rng(3)
    k = 7
    clicks = np.zeros(k)
    for _ in range(k):
        i = select(stats(clicks, clicks, np.zeros(k), np.zeros(k)), PolicyParams(), rng).index
        assert clicks[i] == 0
        clicks[i] += 1


def test_an_offer_without_conversions_is_still_explored() -> None:
    """The seed's fatal flaw: once one offer converted, the others scored 0 for ever."""
    s = stats([50, 50, 50], [50, 50, 50], [1, 0, 0], [10.0, 0, 0])
    assert np.all(ucb_scores(s, 1.0)[1:] > 0)
    draws = [np.argmax(thompson_scores(s, 1, 1, np.random.default_rng(i))) for i in range(2_000)]
    assert np.mean(np.array(draws) != 0) > 0.05


@pytest.mark.parametrize("params", POLICIES, ids=lambda p: p.sampler.value)
def test_delayed_feedback_does_not_pile_traffic_on_one_offer(params: PolicyParams) -> None:
    """With all feedback 500 clicks late, the first 500 decisions spread over the offers."""
    picks = simulate(params, 2_000, seed=1, delay=500)
    early = np.bincount(picks[:500], minlength=len(CR))
    assert early.min() >= 50, early
    late = np.bincount(picks[-500:], minlength=len(CR)) / 500
    assert np.argmax(late) == BEST


def test_pending_clicks_are_not_failures() -> None:
    """Two offers with the same resolved evidence score alike however many clicks are
    pending on one of them: pending is unknown, not a non-conversion."""
    rng = np.random.default_rng(0)
    s = stats([100, 1_000], [100, 100], [5, 5], [50.0, 50.0])
    draws = np.array([thompson_scores(s, 1, 1, rng) for _ in range(20_000)])
    assert abs(np.mean(draws[:, 0] > draws[:, 1]) - 0.5) < 0.02


def test_ucb_exploration_is_in_rpc_units_and_scaled_by_c() -> None:
    s = stats([1_000, 1_000], [1_000, 1_000], [20, 20], [200.0, 2_000.0])  # payouts 10 and 100
    scores = ucb_scores(s, 1.0)
    greedy = ucb_scores(s, 0.0)
    mean = mean_payout(s, prior_payout(s))
    np.testing.assert_allclose(greedy, mean * 0.02)
    bonus = scores - greedy
    # the same conversion evidence, so the bonus scales with payout: rpc units
    np.testing.assert_allclose(bonus[1] / bonus[0], mean[1] / mean[0], rtol=1e-12)
    wider = ucb_scores(s, 2.0) - greedy
    assert np.all(wider > 1.9 * bonus)
    # the exploration term grows with the log of the total number of clicks
    more = stats([1_000, 1_000, 1e6], [1_000, 1_000, 1e6], [20, 20, 0], [200.0, 2_000.0, 0])
    assert np.all(ucb_scores(more, 1.0)[:2] - greedy > bonus)


def test_ucb_bound_matches_wilson_interval() -> None:
    """Score = mean payout × upper Wilson bound with z² = c² ln(N) / 2."""
    n, conversions, c = 400.0, 8.0, 1.5
    s = stats([n, n], [n, n], [conversions, conversions], [80.0, 80.0])
    z = c * np.sqrt(np.log(2 * n) / 2)
    p = conversions / n
    wilson = (p + z**2 / (2 * n) + z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))) / (1 + z**2 / n)
    np.testing.assert_allclose(ucb_scores(s, c), 10.0 * wilson, rtol=1e-12)


def test_ties_break_at_random_and_ucb_reports_its_propensity() -> None:
    rng = np.random.default_rng(11)
    s = stats([10, 10, 10], [10, 10, 10], [1, 1, 1], [5.0, 5.0, 5.0])
    choices = [select(s, PolicyParams(), rng) for _ in range(3_000)]
    counts = np.bincount([c.index for c in choices], minlength=3)
    assert counts.min() > 900, counts
    assert all(c.propensity == pytest.approx(1 / 3) for c in choices)


def test_thompson_draws_from_beta_times_payout_posterior() -> None:
    """E[score] = E[Beta(a + conv, b + resolved − conv)] × posterior mean payout, the two
    independent. Counting pending clicks as failures, or all resolved clicks as failures,
    moves the mean by more than 10 %; the tolerance is 1.5 %."""
    a, b = 2.0, 3.0
    s = stats([40, 10], [10, 10], [3, 6], [30.0, 30.0])
    rng = np.random.default_rng(5)
    draws = np.array([thompson_scores(s, a, b, rng) for _ in range(100_000)])
    expected_rate = (a + np.array([3, 6])) / (a + b + 10)
    expected = expected_rate * mean_payout(s, prior_payout(s))
    np.testing.assert_allclose(draws.mean(axis=0), expected, rtol=0.015)


def test_payout_posterior_is_shrunk_towards_the_prior_and_sharpens() -> None:
    s = stats([100, 100, 100], [100, 100, 100], [0, 1, 100], [0.0, 50.0, 5_000.0])
    prior = prior_payout(s)
    assert prior == pytest.approx(5_050 / 101)
    mean = mean_payout(s, prior)
    assert mean[0] == pytest.approx(prior)
    assert mean[1] == pytest.approx((prior + 50) / 2)
    assert mean[2] == pytest.approx((prior + 5_000) / 101)
    draws = np.array([sample_payout(s, prior, np.random.default_rng(i)) for i in range(20_000)])
    np.testing.assert_allclose(draws[:, 2].mean(), mean[2], rtol=0.01)
    assert draws[:, 2].std() / mean[2] < 0.15 < draws[:, 1].std() / mean[1]


def test_a_new_source_starts_from_what_the_offer_does_elsewhere() -> None:
    from cpa_bandit.policies.sources import shrink_to_pool

    pooled = stats([1_000, 50], [1_000, 50], [40, 1], [400.0, 20.0])
    new_source = stats([0, 0], [0, 0], [0, 0], [0.0, 0.0])
    shrunk = shrink_to_pool(new_source, pooled, weight=200)
    np.testing.assert_allclose(shrunk.resolved, [200, 50])  # never more than exists elsewhere
    np.testing.assert_allclose(shrunk.conversions / shrunk.resolved, [0.04, 0.02])
    np.testing.assert_allclose(shrunk.reward / shrunk.conversions, [10.0, 20.0])


def test_a_source_with_its_own_evidence_is_led_by_it() -> None:
    from cpa_bandit.policies.sources import shrink_to_pool

    own = stats([5_000], [5_000], [250], [2_500.0])  # 5 % on this source
    pooled = stats([25_000], [25_000], [450], [4_500.0])  # 1 % on the 20,000 others
    shrunk = shrink_to_pool(own, pooled, weight=200)
    rate = shrunk.conversions[0] / shrunk.resolved[0]
    assert rate == pytest.approx((250 + 200 * 0.01) / 5_200)
    assert 0.045 < rate < 0.05
    # and the source's own data is never counted twice in its prior
    assert shrink_to_pool(own, own, weight=200).resolved[0] == 5_000


def test_rpc_posterior_interval_combines_rate_and_payout_uncertainty() -> None:
    """90 % interval of rpc ≈ mean × (1 ± 1.645 · sqrt(cv_rate² + cv_payout²)) when both
    posteriors are near normal; leaving out either spread makes it ~30 % too narrow."""
    from cpa_bandit.policies.thompson import rpc_posterior

    n, k = 10_000.0, 200.0
    s = stats([n], [n], [k], [10.0 * k])
    mean, low, high, _ = rpc_posterior(s, np.random.default_rng(4), draws=200_000)
    rate = (1 + k) / (2 + n)
    assert mean[0] == pytest.approx(rate * (10.0 + 10.0 * k) / (1 + k))
    cv_rate = np.sqrt((1 - rate) / (rate * (n + 3)))
    cv_payout = 1 / np.sqrt(k)  # inverse gamma with shape 1 + 1 + k
    expected = 1.645 * np.hypot(cv_rate, cv_payout)
    assert (high[0] - low[0]) / 2 / mean[0] == pytest.approx(expected, rel=0.06)


def test_choice_probabilities_in_closed_form_cases() -> None:
    thompson = PolicyParams(Sampler.thompson)
    # two offers with the same posterior: one half each, by symmetry
    twins = stats([50, 50], [50, 50], [3, 3], [30, 30])
    assert choice_probabilities(twins, thompson) == pytest.approx([0.5, 0.5], abs=1e-3)
    # Beta(1, 1) against Beta(2, 1) at equal payouts: P(U > V) with V ~ Beta(2, 1) is 1/3
    fresh = stats([0, 1], [0, 1], [0, 1], [0, 10])
    declared = ArmStats(fresh.clicks, fresh.resolved, fresh.conversions, fresh.reward, np.array([10.0, 10.0]))
    assert choice_probabilities(declared, thompson) == pytest.approx([1 / 3, 2 / 3], abs=2e-3)
    # an offer whose whole posterior lies below another's is never chosen (pruned, exactly 0)
    clear = stats([10_000, 10_000], [10_000, 10_000], [100, 900], [1_000, 9_000])
    assert choice_probabilities(clear, thompson).tolist() == [0.0, 1.0]
    # an offer declared worthless only wins when every offer is: then by the uniform tie-break
    worthless = ArmStats(*(np.zeros(3) for _ in range(4)), np.array([0.0, 5.0, np.nan]))
    assert choice_probabilities(worthless, thompson)[0] == 0.0
    nothing = ArmStats(*(np.zeros(2) for _ in range(4)), np.array([0.0, 0.0]))
    assert choice_probabilities(nothing, thompson).tolist() == [0.5, 0.5]
    # UCB: offers never shown lead together
    ucb = choice_probabilities(stats([5, 0, 0], [5, 0, 0], [1, 0, 0], [5, 0, 0]), PolicyParams(Sampler.ucb))
    assert ucb.tolist() == [0.0, 0.5, 0.5]


def test_select_reports_ucbs_propensity_and_leaves_thompsons_to_the_log() -> None:
    rng = np.random.default_rng(0)
    s = stats([40, 60, 30], [35, 50, 30], [2, 5, 1], [20, 45, 12])
    choice = select(s, PolicyParams(Sampler.ucb, ucb_c=0.5), rng)
    assert choice.propensity == choice_probabilities(s, PolicyParams(Sampler.ucb, ucb_c=0.5))[choice.index] == 1.0
    assert select(s, PolicyParams(Sampler.thompson, thompson_a=2.0), rng).propensity is None
    params = PolicyParams(Sampler.thompson, thompson_a=2.0)
    assert PolicyParams.from_dict(params.as_dict()) == params
