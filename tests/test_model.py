"""The model both samplers read (policies.population, .posterior) and the change test,
against closed forms, brute force and synthetic populations with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from cpa_bandit.policies import ArmStats, PolicyParams, Sampler, SourceCounts, select
from cpa_bandit.policies.change import bernoulli_kl, changed, glr_statistic, threshold
from cpa_bandit.policies.population import PRIOR_CLICKS, fit_population, fit_rate, optimistic_prior
from cpa_bandit.policies.posterior import payout_posterior, posterior
from cpa_bandit.policies.ucb import SCALE, ucb_scores


def arms(clicks, resolved, conversions, reward, declared=None, reward_sq=None, source=None) -> ArmStats:
    f = lambda x: None if x is None else np.asarray(x, dtype=np.float64)  # noqa: E731
    return ArmStats(f(clicks), f(resolved), f(conversions), f(reward), f(declared), f(reward_sq), source)


# --- level one: the population --------------------------------------------------------


@pytest.mark.parametrize(("mean", "strength", "clicks"), [(0.03, 60.0, 500), (0.01, 20.0, 2_000), (0.1, 200.0, 300)])
def test_the_fit_recovers_a_known_population(mean: float, strength: float, clicks: int) -> None:
    """300 offers drawn from Beta(mean·s, (1−mean)·s), binomial counts: the fit finds the
    mean within 10 % and the strength within 35 %. Without the binomial-noise correction
    the strength would come out several times too small at these click counts."""
    rng = np.random.default_rng(7)
    fitted = []
    for _ in range(5):
        rates = rng.beta(mean * strength, (1 - mean) * strength, 300)
        n = rng.integers(clicks // 2, 2 * clicks, 300).astype(np.float64)
        fitted.append(fit_rate(n, rng.binomial(n.astype(int), rates).astype(np.float64)))
    got_mean, got_strength = np.mean(fitted, axis=0)
    assert got_mean == pytest.approx(mean, rel=0.10)
    assert got_strength == pytest.approx(strength, rel=0.35)


def test_the_population_mean_is_not_the_rate_of_the_offers_with_most_clicks() -> None:
    """One offer with 10,000 clicks at 8 % and nine with 300 clicks at 1 %: each offer is
    one draw of the population, so the mean sits near the typical offer, not at 8 %."""
    n = np.array([10_000.0] + [300.0] * 9)
    k = np.array([800.0] + [3.0] * 9)
    got, _ = fit_rate(n, k)
    assert got < 0.03 < k.sum() / n.sum()


def test_without_evidence_the_prior_is_the_hyper_prior() -> None:
    mean, strength = fit_rate(np.zeros(3), np.zeros(3))
    assert mean == pytest.approx(0.02) and strength == pytest.approx(30.0)


def test_the_prior_of_an_offer_is_optimistic_and_light() -> None:
    alpha, beta = optimistic_prior(0.02, 500.0)
    assert alpha + beta == pytest.approx(PRIOR_CLICKS)  # a few dozen clicks, whatever the fitted strength
    assert alpha / (alpha + beta) == pytest.approx(special.betaincinv(10.0, 490.0, 0.8))
    assert alpha / (alpha + beta) > 0.02


# --- levels two and three: offer and source -------------------------------------------


def test_a_fixed_prior_is_the_seeds_beta_updated_by_the_counts() -> None:
    post = posterior(arms([10, 50], [8, 40], [1, 4], [5, 20]), fixed_prior=(1.0, 1.0))
    assert post.alpha.tolist() == [2.0, 5.0] and post.beta.tolist() == [8.0, 37.0]
    assert post.pending.tolist() == [2.0, 10.0]


def test_the_learned_prior_is_the_populations() -> None:
    stats = arms([100, 100, 0], [100, 100, 0], [2, 6, 0], [20, 60, 0])
    population = fit_population(stats)
    post = posterior(stats)
    assert post.alpha[2] == pytest.approx(population.prior_alpha) and post.beta[2] == pytest.approx(population.prior_beta)
    assert post.alpha[0] == pytest.approx(population.prior_alpha + 2)
    assert post.beta[0] == pytest.approx(population.prior_beta + 98)


def test_a_sources_prior_carries_its_offers_uncertainty() -> None:
    """Monte Carlo of the hierarchy p ~ Beta(A, B), p_s | p ~ Beta(w·p, w·(1−p)): the
    source's prior (before its own counts) has the same mean and variance as the Beta the
    model puts there."""
    source = SourceCounts(np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), weight=200.0)
    stats = arms([40, 5_000], [40, 5_000], [2, 150], [20, 1_500], source=source)
    post = posterior(stats, fixed_prior=(1.0, 1.0))
    rng = np.random.default_rng(3)
    for i, (a, b) in enumerate([(3.0, 39.0), (151.0, 4_851.0)]):
        p = rng.beta(a, b, 400_000)
        draws = rng.beta(200.0 * p, 200.0 * (1 - p))
        model = stats_beta(post.alpha[i], post.beta[i])
        assert model.mean() == pytest.approx(draws.mean(), rel=0.01)
        assert model.var() == pytest.approx(draws.var(), rel=0.02)
    # a long record elsewhere makes the source's prior worth about w clicks; a short one, far fewer
    assert post.alpha[1] + post.beta[1] == pytest.approx(200.0, rel=0.05)
    assert post.alpha[0] + post.beta[0] < 40


def stats_beta(alpha: float, beta: float):
    return stats.beta(alpha, beta)


def test_a_sources_own_counts_update_its_prior_and_are_not_counted_twice() -> None:
    source = SourceCounts(np.array([100.0]), np.array([100.0]), np.array([10.0]), np.array([50.0]), weight=50.0)
    with_own = posterior(arms([1_100], [1_100], [20], [100], source=source), fixed_prior=(1.0, 1.0))
    empty = SourceCounts(np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), weight=50.0)
    prior_only = posterior(arms([1_000], [1_000], [10], [50], source=empty), fixed_prior=(1.0, 1.0))
    assert with_own.alpha[0] == pytest.approx(prior_only.alpha[0] + 10)
    assert with_own.beta[0] == pytest.approx(prior_only.beta[0] + 90)


# --- payouts -------------------------------------------------------------------------


def test_one_conversion_settles_a_fixed_payout() -> None:
    """Offers that converted many times at one payout each: the pooled spread is ~0, so an
    offer's single conversion gives its payout within 2 %, not halfway to the others'."""
    k = np.array([30.0, 40.0, 1.0])
    payout = np.array([10.0, 20.0, 120.0])
    stats = arms(k * 20, k * 20, k, k * payout, reward_sq=k * payout**2)
    mean, se = payout_posterior(stats, fit_population(stats))
    assert mean[:2] == pytest.approx(payout[:2], rel=1e-3)
    assert mean[2] == pytest.approx(payout[2], rel=0.02)
    assert se[2] < 0.1 * payout[2]


def test_spread_payouts_shrink_to_the_prior_as_the_normal_model_says() -> None:
    """Revenue share: the offer's payouts vary, so few conversions leave the mean between
    the declared payout and the observed one; closed form of the normal–normal update."""
    k = np.array([2.0, 50.0])
    reward = np.array([40.0, 500.0])
    reward_sq = np.array([40.0**2 / 2 + 2 * 15.0**2, 50 * 10.0**2 + 49 * 6.0**2])
    stats = arms(k * 10, k * 10, k, reward, declared=[10.0, np.nan], reward_sq=reward_sq)
    population = fit_population(stats)
    mean, se = payout_posterior(stats, population)
    own = (reward_sq[0] - reward[0] ** 2 / k[0]) / (20.0**2)  # (k−1)·s²/x̄² of offer 0
    cv2 = (2 * population.payout_cv2 + own) / (2 + 1)
    data = k[0] / (cv2 * 20.0**2)
    expected = (10.0 / population.payout_var + data * 20.0) / (1 / population.payout_var + data)
    assert mean[0] == pytest.approx(expected)
    assert 10.0 < mean[0] < 20.0
    assert se[0] == pytest.approx((1 / population.payout_var + data) ** -0.5)


def test_before_any_conversion_the_declared_payout_else_the_populations() -> None:
    stats = arms([10, 10, 30], [10, 10, 30], [0, 0, 3], [0, 0, 90], declared=[25.0, np.nan, np.nan], reward_sq=[0, 0, 2700])
    mean, _ = payout_posterior(stats, fit_population(stats))
    assert mean[0] == pytest.approx(25.0)
    assert mean[1] == pytest.approx(np.mean([30.0, 25.0]))  # the mean payout of the offers that know one


# --- the samplers on the model --------------------------------------------------------


def test_ucb_is_the_posterior_quantile_and_zero_is_greedy() -> None:
    """c = 1/SCALE is Bayes-UCB itself: the quantile at 1 − 1/t, pending clicks counted as
    resolved at the mean rate; c = 0 the posterior mean; between, between."""
    stats = arms([200, 300, 10], [150, 300, 10], [3, 9, 0], [30, 90, 0], reward_sq=[300, 900, 0])
    post = posterior(stats)
    level = 1 - 1 / 510
    rate = post.rate
    upper = special.betaincinv(post.alpha + post.pending * rate, post.beta + post.pending * (1 - rate), level)
    expected = upper * (post.payout + special.ndtri(level) * post.payout_se)
    assert ucb_scores(stats, 1.0 / SCALE) == pytest.approx(expected)
    assert ucb_scores(stats, 0.0) == pytest.approx(post.rpc)
    half = ucb_scores(stats, 0.5 / SCALE)
    assert np.all((half > post.rpc) & (half < expected))


def test_thompson_draws_follow_the_posterior() -> None:
    """One offer against a constant: the share of wins is P(rate draw × payout > rival)."""
    stats = arms([100, 100], [100, 100], [5, 0], [50, 0], declared=[np.nan, 1e-9], reward_sq=[500, 0])
    params = PolicyParams(Sampler.thompson, thompson_a=1.0, thompson_b=1.0)
    rng = np.random.default_rng(11)
    wins = np.mean([select(stats, params, rng).index == 0 for _ in range(4_000)])
    assert wins == pytest.approx(1.0, abs=0.001)


# --- the change test -------------------------------------------------------------------


def test_bernoulli_kl_matches_its_definition() -> None:
    x, y = np.array([0.0, 0.3, 1.0]), 0.2
    expected = [np.log(1 / 0.8), 0.3 * np.log(0.3 / 0.2) + 0.7 * np.log(0.7 / 0.8), np.log(1 / 0.2)]
    assert bernoulli_kl(x, y) == pytest.approx(expected)


def test_the_glr_statistic_is_the_best_split_by_brute_force() -> None:
    rng = np.random.default_rng(5)
    n = rng.integers(30, 60, 12).astype(np.float64)
    k = rng.binomial(n.astype(int), np.r_[[0.1] * 6, [0.02] * 6]).astype(np.float64)
    statistic, split = glr_statistic(n, k)
    p = k.sum() / n.sum()

    def llr(s: int) -> float:
        out = 0.0
        for part in (slice(0, s), slice(s, None)):
            m, c = n[part].sum(), k[part].sum()
            out += c * np.log(c / m / p) if c else 0.0
            out += (m - c) * np.log((1 - c / m) / (1 - p))
        return out

    brute = max(range(1, 12), key=llr)
    assert split == brute and statistic == pytest.approx(llr(brute))


def test_a_broken_landing_page_is_found_within_a_few_hundred_clicks() -> None:
    """5 % for 60 cohorts of 40 clicks, then nothing converts: found within 400 clicks."""
    rng = np.random.default_rng(1)
    found = []
    for _ in range(50):
        n = np.full(120, 40.0)
        k = rng.binomial(40, np.r_[[0.05] * 60, [0.0] * 60]).astype(np.float64)
        first = next((h for h in range(61, 121) if changed(n[:h], k[:h]) is not None), None)
        assert first is not None
        found.append((first - 60) * 40)
    assert np.median(found) <= 400


@pytest.mark.slow
def test_a_stationary_offer_rarely_restarts() -> None:
    """1,000 stationary offers watched for 150 cohorts (testing after every cohort, as the
    service does): at most δ = 1 % ever fire. A threshold without its n^{3/2} term (the
    price of testing every split, every hour) fires on several times more."""
    rng = np.random.default_rng(2)
    fired, fired_naive = 0, 0
    for _ in range(1_000):
        n = rng.integers(10, 50, 150).astype(np.float64)
        k = rng.binomial(n.astype(int), rng.uniform(0.005, 0.1)).astype(np.float64)
        statistics = [glr_statistic(n[:h], k[:h])[0] for h in range(10, 151, 10)]
        fired += any(s > threshold(n[:h].sum()) for s, h in zip(statistics, range(10, 151, 10)))
        fired_naive += any(s > np.log(1 / 0.01) for s in statistics)
    assert fired <= 10
    assert fired_naive >= 3 * max(fired, 5)


def test_ucb_over_many_offers_leads_with_the_exact_index() -> None:
    """Over 1,000 offers the exact quantile is computed only where a bound says an offer
    could lead: the leader and its index are those of the quantile over every offer, and
    no pruned offer's score reaches it."""
    rng = np.random.default_rng(9)
    k = 1_000
    resolved = rng.integers(50, 5_000, k).astype(np.float64)
    conversions = rng.binomial(resolved.astype(int), rng.uniform(0.001, 0.1, k)).astype(np.float64)
    payout = rng.lognormal(2.0, 1.2, k)
    stats = arms(resolved + 20, resolved, conversions, conversions * payout, reward_sq=conversions * payout**2)
    scores = ucb_scores(stats, 1.0)
    post = posterior(stats).in_flight()
    level = 1 - 1 / stats.clicks.sum()
    c = SCALE
    full = (post.rate + c * (special.betaincinv(post.alpha, post.beta, level) - post.rate)) * (
        post.payout + c * special.ndtri(level) * post.payout_se
    )
    assert np.argmax(scores) == np.argmax(full) and scores.max() == pytest.approx(full.max())
    computed = np.isclose(scores, full)
    assert np.all(scores[~computed] > full[~computed])  # a bound, above the offer's own index
    assert np.all(scores[~computed] < full.max()) and computed.sum() < k / 2
