"""Policies tested statistically: fixed seeds, enough draws, tolerances a wrong formula fails."""

from __future__ import annotations

import numpy as np
import pytest

from cpa_bandit.policies import ArmStats, PolicyParams, Sampler, choice_probabilities, select
from cpa_bandit.policies.posterior import posterior
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
    clicks, resolved, conversions, reward, reward_sq = (np.zeros(k) for _ in range(5))
    converts = world.random(steps) < CR[:, None]  # common random numbers per offer
    picks = np.empty(steps, dtype=int)
    for t in range(steps):
        if delay and t >= delay:
            j = picks[t - delay]
            resolved[j] += 1
            conversions[j] += converts[j, t - delay]
            reward[j] += PAYOUT[j] * converts[j, t - delay]
            reward_sq[j] += PAYOUT[j] ** 2 * converts[j, t - delay]
        i = select(ArmStats(clicks, resolved, conversions, reward, reward_sq=reward_sq), params, rng).index
        picks[t] = i
        clicks[i] += 1
        if not delay:
            resolved[i] += 1
            conversions[i] += converts[i, t]
            reward[i] += PAYOUT[i] * converts[i, t]
            reward_sq[i] += PAYOUT[i] ** 2 * converts[i, t]
    return picks


STARVED = pytest.mark.xfail(
    strict=True,
    reason="known limitation: UCB at its calibrated scale writes off the best offer (2 % at $20) after"
    " 148 clicks without a conversion (a 5 % event), while the offers that converted pay $1-10:"
    " an unconverted offer's payout prior is theirs (docs/learning.md)",
)


@pytest.mark.parametrize(
    ("params", "seed"),
    [(p, seed) if (p.sampler, seed) != (Sampler.ucb, 1) else pytest.param(p, seed, marks=STARVED)
     for p in POLICIES for seed in range(3)],
    ids=lambda v: v.sampler.value if isinstance(v, PolicyParams) else str(v),
)  # fmt: skip
def test_tries_every_unseen_offer_then_concentrates_on_best_rpc(params: PolicyParams, seed: int) -> None:
    picks = simulate(params, 20_000, seed)
    assert set(picks[:60]) == set(range(len(CR))), "every offer is tried early"
    late = np.bincount(picks[-5_000:], minlength=len(CR)) / 5_000
    assert late[BEST] > 0.75, late
    assert late[0] < 0.05, f"best conversion rate, low payout must lose: {late}"
    random_rpc, oracle_rpc = RPC.mean(), RPC.max()
    efficiency = (RPC[picks].mean() - random_rpc) / (oracle_rpc - random_rpc)
    assert efficiency > 0.5, efficiency


def test_ucb_tries_an_unseen_offer_before_one_that_did_not_convert() -> None:
    rng = np.random.default_rng(3)
    k = 7
    clicks = np.zeros(k)
    for _ in range(k):
        i = select(stats(clicks, clicks, np.zeros(k), np.zeros(k)), PolicyParams(), rng).index
        assert clicks[i] == 0
        clicks[i] += 5


def test_an_offer_without_conversions_is_still_explored() -> None:
    """The seed's fatal flaw: once one offer converted, the others scored 0 for ever."""
    s = stats([50, 50, 50], [50, 50, 50], [1, 0, 0], [10.0, 0, 0])
    assert np.all(ucb_scores(s, 1.0)[1:] > 0)
    draws = [np.argmax(thompson_scores(s, (1, 1), np.random.default_rng(i))) for i in range(2_000)]
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
    """Two offers with the same resolved evidence have the same posterior mean however many
    clicks are pending on one of them: pending is unknown, not a non-conversion. The
    pending clicks only narrow its posterior (their feedback is on its way)."""
    s = stats([100, 1_000], [100, 100], [5, 5], [50.0, 50.0])
    post = posterior(s)
    assert post.rate[0] == post.rate[1] and post.pending.tolist() == [0.0, 900.0]
    flight = post.in_flight()
    np.testing.assert_allclose(flight.rate, post.rate)
    assert flight.alpha[1] + flight.beta[1] == pytest.approx(post.alpha[1] + post.beta[1] + 900)
    draws = np.array([thompson_scores(s, None, np.random.default_rng(i)) for i in range(4_000)])
    np.testing.assert_allclose(np.median(draws, axis=0), post.rpc, rtol=0.03)  # optimistic: no draw below the mean


def test_ucb_exploration_is_in_rpc_units_and_scaled_by_c() -> None:
    s = stats([1_000, 1_000], [1_000, 1_000], [20, 20], [200.0, 2_000.0])  # payouts 10 and 100
    greedy = ucb_scores(s, 0.0)
    np.testing.assert_allclose(greedy, posterior(s).rpc)
    bonus = ucb_scores(s, 1.0) - greedy
    # the same conversion evidence, so the bonus scales with payout: rpc units
    np.testing.assert_allclose(bonus[1] / bonus[0], greedy[1] / greedy[0], rtol=1e-3)
    assert np.all(ucb_scores(s, 2.0) - greedy > 1.9 * bonus)
    # the exploration term grows with the total number of clicks
    more = stats([1_000, 1_000, 1e6], [1_000, 1_000, 1e6], [20, 20, 0], [200.0, 2_000.0, 0])
    assert np.all(ucb_scores(more, 1.0)[:2] - posterior(more).rpc[:2] > bonus)


def test_ties_break_at_random_and_ucb_reports_its_propensity() -> None:
    rng = np.random.default_rng(11)
    s = stats([10, 10, 10], [10, 10, 10], [1, 1, 1], [5.0, 5.0, 5.0])
    choices = [select(s, PolicyParams(), rng) for _ in range(3_000)]
    counts = np.bincount([c.index for c in choices], minlength=3)
    assert counts.min() > 900, counts
    assert all(c.propensity == pytest.approx(1 / 3) for c in choices)


def test_thompson_draws_from_beta_times_payout_posterior() -> None:
    """E[score] = E[max(B, r̄)] × posterior mean payout, B ~ Beta(a + conv, b + resolved −
    conv) with pending clicks in flight, r̄ its mean: in closed form r̄·I_r̄(α, β) +
    r̄·(1 − I_r̄(α + 1, β)). Counting pending clicks as failures, or drawing below the
    mean, moves the mean by more than 5 %; the tolerance is 1 %."""
    from scipy import special

    a, b = 2.0, 3.0
    s = stats([40, 10], [10, 10], [3, 6], [30.0, 30.0])
    rng = np.random.default_rng(5)
    draws = thompson_scores(s, (a, b), rng, draws=200_000)
    post = posterior(s, (a, b)).in_flight()
    alpha, beta, mean = post.alpha, post.beta, post.rate
    expected = mean * special.betainc(alpha, beta, mean) + mean * (1 - special.betainc(alpha + 1, beta, mean))
    np.testing.assert_allclose(draws.mean(axis=0), expected * post.payout, rtol=0.01)
    assert np.all(np.abs(expected / mean - 1) > 0.05)  # the floor matters at these counts


def test_rpc_posterior_interval_combines_rate_and_payout_uncertainty() -> None:
    """90 % interval of rpc ≈ mean × (1 ± 1.645 · sqrt(cv_rate² + cv_payout²)) when both
    posteriors are near normal; leaving out either spread makes it ~30 % too narrow."""
    from cpa_bandit.policies.thompson import rpc_posterior

    n, k = 10_000.0, 200.0
    s = ArmStats(*(np.array([x]) for x in (n, n, k, 10.0 * k)))  # reward_sq unknown: the prior's spread
    mean, low, high, _ = rpc_posterior(s, np.random.default_rng(4), draws=200_000)
    post = posterior(s)
    assert mean[0] == pytest.approx(post.rpc[0])
    rate = post.rate[0]
    cv_rate = np.sqrt((1 - rate) / (rate * (post.alpha[0] + post.beta[0] + 1)))
    cv_payout = post.payout_se[0] / post.payout[0]
    assert 0.01 < cv_payout < 0.5 and 0.01 < cv_rate < 0.5
    expected = 1.645 * np.hypot(cv_rate, cv_payout)
    assert (high[0] - low[0]) / 2 / mean[0] == pytest.approx(expected, rel=0.06)


def test_choice_probabilities_in_closed_form_cases() -> None:
    thompson = PolicyParams(Sampler.thompson, thompson_a=1.0, thompson_b=1.0)
    # two offers with the same posterior: one half each, by symmetry
    twins = stats([50, 50], [50, 50], [3, 3], [30, 30])
    assert choice_probabilities(twins, thompson) == pytest.approx([0.5, 0.5], abs=2e-3)
    # Beta(1, 1) against Beta(2, 1) at equal payouts, each draw no lower than its mean (1/2 and
    # 2/3): the first wins when U > 2/3 and V < U, ∫_{2/3}^1 u² du = 19/81
    fresh = stats([0, 1], [0, 1], [0, 1], [0, 10])
    declared = ArmStats(fresh.clicks, fresh.resolved, fresh.conversions, fresh.reward, np.array([10.0, 10.0]))
    assert choice_probabilities(declared, thompson) == pytest.approx([19 / 81, 62 / 81], abs=2e-3)
    # an offer whose whole posterior lies below another's is never chosen (pruned, exactly 0)
    clear = stats([10_000, 10_000], [10_000, 10_000], [100, 900], [1_000, 9_000])
    assert choice_probabilities(clear, thompson).tolist() == [0.0, 1.0]
    # an offer declared worthless only wins when every offer is: then by the uniform tie-break
    worthless = ArmStats(*(np.zeros(3) for _ in range(4)), np.array([0.0, 5.0, np.nan]))
    assert choice_probabilities(worthless, thompson)[0] == 0.0
    nothing = ArmStats(*(np.zeros(2) for _ in range(4)), np.array([0.0, 0.0]))
    assert choice_probabilities(nothing, thompson).tolist() == [0.5, 0.5]
    # UCB: offers never shown lead together
    ucb = choice_probabilities(stats([50, 0, 0], [50, 0, 0], [0, 0, 0], [0, 0, 0]), PolicyParams(Sampler.ucb))
    assert ucb.tolist() == [0.0, 0.5, 0.5]


def test_select_reports_ucbs_propensity_and_leaves_thompsons_to_the_log() -> None:
    rng = np.random.default_rng(0)
    s = stats([40, 60, 30], [35, 50, 30], [2, 5, 1], [20, 45, 12])
    choice = select(s, PolicyParams(Sampler.ucb, ucb_c=0.5), rng)
    assert choice.propensity == choice_probabilities(s, PolicyParams(Sampler.ucb, ucb_c=0.5))[choice.index] == 1.0
    assert select(s, PolicyParams(Sampler.thompson, thompson_a=2.0), rng).propensity is None
    params = PolicyParams(Sampler.thompson, thompson_a=2.0)
    assert params.fixed_prior == (2.0, 1.0)  # the seed's default for the one not sent
    assert PolicyParams.from_dict(params.as_dict()).fixed_prior == params.fixed_prior
    learned = PolicyParams(Sampler.thompson)
    assert learned.as_dict() == {"sampler": "thompson"} and PolicyParams.from_dict(learned.as_dict()) == learned


@pytest.mark.parametrize("sampler", [Sampler.ucb, Sampler.thompson])
def test_the_floor_gives_every_offer_its_share_and_the_probabilities_say_so(sampler: Sampler) -> None:
    """A clear leader takes nearly all of the sampler's choices; with a 5 % floor over 5
    offers each other offer still gets 5 %, the leader the rest, exactly as
    ``choice_probabilities`` (the logged propensity) says."""
    s = stats([500, 500, 500, 500, 500], [500] * 5, [5, 5, 5, 5, 100], [50, 50, 50, 50, 1_000])
    params = PolicyParams(sampler, min_share=0.05)
    rng = np.random.default_rng(5)
    n = 8_000
    picks = [select(s, params, rng) for _ in range(n)]
    shares = np.bincount([p.index for p in picks], minlength=5) / n
    probabilities = choice_probabilities(s, params)
    assert probabilities == pytest.approx([0.05, 0.05, 0.05, 0.05, 0.80], abs=1e-3)
    assert np.all(np.abs(shares - probabilities) <= 4 * np.sqrt(probabilities * (1 - probabilities) / n))
    if sampler is Sampler.ucb:  # stored at decision time: the floor is in it
        assert {round(p.propensity, 9) for p in picks} == {0.05, 0.8}
    assert PolicyParams.from_dict(params.as_dict()) == params
    too_many = PolicyParams(sampler, min_share=0.4)  # 5 × 0.4 > 1: uniform, not more than certain
    assert choice_probabilities(s, too_many) == pytest.approx([0.2] * 5)


def test_a_holdout_click_is_uniform_and_logged_as_such() -> None:
    s = stats([500, 500, 500], [500] * 3, [5, 5, 100], [50, 50, 1_000])
    params = PolicyParams(Sampler.thompson, holdout=True)
    rng = np.random.default_rng(6)
    picks = [select(s, params, rng) for _ in range(6_000)]
    shares = np.bincount([p.index for p in picks], minlength=3) / 6_000
    assert np.all(np.abs(shares - 1 / 3) <= 4 * np.sqrt(2 / 9 / 6_000))
    assert {p.propensity for p in picks} == {1 / 3}
    assert choice_probabilities(s, params).tolist() == [1 / 3] * 3
    assert params.as_dict() == {"sampler": "thompson", "holdout": 1.0}
    assert PolicyParams.from_dict(params.as_dict()) == params
