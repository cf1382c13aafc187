"""The holdout's uplift and the traffic floor against the simulator's truth (issue 15).

Ten seeds of simulated traffic go through ``BanditService.decide`` in process (memory store,
delayed conversions, Thompson sampling by source) with 10 % of clicks in the holdout
(``DecisionPath(holdout_share=0.1)``). Once every click is resolved, ``service.uplift()``'s
95 % interval must hold the true difference in at least 9 of the 10 seeds. The true
difference is taken given the offers shown: for each group, the mean over its clicks of the
expected revenue of the offer the click was shown (its true conversion rate for the click's
source times its payout, ``ClickStream.expected_rpc``), bandit minus holdout. It is what the
difference of observed revenue per click estimates without bias: a click's conversion is
drawn apart from its own choice and every earlier one (``sim.stream``), so observed minus
expected revenue is a sum of zero-mean steps, however the later choices adapt to it.

Measured on seeds 0–9: covered 10 of 10, mean difference +0.43 $ a click (true +0.68),
median half-width 0.36; on seeds 10–39 the interval held the truth in 29 of 30, half as
wide in 22. The runs take 30–45 s on two shared cores: made once per module.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest

from cpa_bandit.clickpath.decisions import DecisionPath
from cpa_bandit.decision_log import evidence_stats
from cpa_bandit.evaluation.uplift import Uplift
from cpa_bandit.holdout import in_holdout
from cpa_bandit.learning import Learning
from cpa_bandit.money import MICROS, from_micros
from cpa_bandit.policies import PolicyParams, Sampler
from cpa_bandit.policies.ucb import ucb_scores
from cpa_bandit.service import BanditService
from cpa_bandit.sim.contenders import ServicePolicy, source_id
from cpa_bandit.sim.runner import RunOptions, SimClock, play, policy_rng
from cpa_bandit.sim.stream import draw
from cpa_bandit.sim.world import WorldConfig
from cpa_bandit.store import MemoryStore

WORLD = WorldConfig(clicks=5_000, offers=12, sources=3, eligible=5, mean_delay=30.0)
"""The rates and payouts of ``cpa-bandit simulate`` (0.1–10 %, heavy-tailed payouts up to
$200) on a small market; 5,000 clicks put about 500 in the holdout, enough for an interval
narrower than the uplift in most seeds, at about 3 s a seed."""

SEEDS = range(10)
SHARE = 0.1
MIN_COVERED = 9
"""Of 10 seeds: a 95 % interval misses about one in twenty, so one miss may happen; two
mean the interval is too narrow or the estimate biased (the issue's bar)."""
PARAMS = PolicyParams(Sampler.thompson)
OPTIONS = RunOptions()
Z = 1.959963984540054
"""The normal quantile of a two-sided 95 % interval."""


class SeededClicks(ServicePolicy):
    """``ServicePolicy`` with click ids ``"<seed>-<i>"``: holdout membership is a hash of the
    click id, so the same ids on every seed would put the same clicks in the holdout."""

    def __init__(self, service: BanditService, params: PolicyParams, seed: int) -> None:
        super().__init__(service, params, pass_source=True)
        self.prefix = f"{seed}-"

    def click_id(self, click: int) -> str:
        return f"{self.prefix}{click}"

    def choose(self, click: int, source: int, offers: np.ndarray) -> int:
        ids = offers.tolist()
        return ids.index(self.service.decide(self.click_id(click), ids, self.params, source_id(source)).offer_id)

    def feedback(self, click: int, reward_micros: int) -> None:
        self.service.feedback(self.click_id(click), int(reward_micros))


@dataclass(frozen=True, slots=True)
class UpliftRun:
    """One seed's run: what ``/uplift`` answered, beside the simulator's truth."""

    seed: int
    uplift: Uplift
    truth: float
    """Mean expected revenue of the offers shown: bandit's clicks minus the holdout's."""
    hashed: np.ndarray
    """Per click: in the holdout by the hash of its click id (``holdout.in_holdout``)."""
    marked: np.ndarray
    """Per click: marked as holdout in the decision log."""
    unresolved: int
    """Logged decisions neither fed back nor expired when ``uplift`` was read."""
    revenue: tuple[float, float]
    """What the stream says the bandit's and the holdout's clicks earned."""
    holdout_columns: np.ndarray
    """The column of ``stream.eligible`` shown to each holdout click."""
    holdout_propensities: np.ndarray

    @property
    def share(self) -> float:
        return float(self.hashed.mean())

    @property
    def estimate(self) -> float:
        assert self.uplift.difference is not None
        return self.uplift.difference.estimate

    @property
    def half_width(self) -> float:
        assert self.uplift.difference is not None
        return (self.uplift.difference.high - self.uplift.difference.low) / 2

    def covered(self, half_width: float) -> bool:
        return abs(self.estimate - self.truth) <= half_width

    def describe(self) -> str:
        return (
            f"seed {self.seed}: holdout {self.share:.3f}, difference {self.estimate:+.3f} ± {self.half_width:.3f}"
            f" (truth {self.truth:+.3f}, z {(self.estimate - self.truth) / (self.half_width / Z):+.2f})"
            f"{'' if self.covered(self.half_width) else ' MISS'}"
        )


def uplift_run(seed: int) -> UpliftRun:
    _, stream = draw(WORLD, seed)
    clock = SimClock()
    service = BanditService(
        MemoryStore(), policy_rng(seed, "uplift"), clock, decision_path=DecisionPath(holdout_share=SHARE)
    )
    policy = SeededClicks(service, PARAMS, seed)
    chosen = play(stream, policy, clock, OPTIONS)
    # what is still in flight when the stream ends arrives at its due time, days before the
    # attribution window ends: every click is resolved by its feedback. (Not past the window:
    # the decision log's default retention is as long, and maintenance would empty it.)
    in_flight = np.flatnonzero(stream.due >= stream.clicks)
    for click in in_flight[np.argsort(stream.due[in_flight], kind="stable")].tolist():
        clock.now = float(stream.due[click]) * OPTIONS.seconds_per_click
        policy.feedback(click, int(stream.reward_micros[click, chosen[click]]))
    assert clock.now < Learning().attribution_window_s
    service.maintain()
    found = service.uplift()

    rows = np.arange(stream.clicks)
    expected = stream.expected_rpc[rows, chosen]
    reward = stream.reward_micros[rows, chosen]
    hashed = np.array([in_holdout(policy.click_id(i), SHARE) for i in rows.tolist()])
    index = {policy.click_id(i): i for i in rows.tolist()}
    marked = np.zeros(stream.clicks, dtype=bool)
    propensities = np.full(stream.clicks, np.nan)
    unresolved = 0
    for logged in service.store.decision_log(-math.inf, math.inf):
        click = index[logged.decision.click_id]
        marked[click] = bool(logged.decision.params.get("holdout"))
        if logged.decision.propensity is not None:
            propensities[click] = logged.decision.propensity
        unresolved += logged.totals.reward_micros is None and not logged.expired
    service.store.close()
    return UpliftRun(
        seed=seed,
        uplift=found,
        truth=float(expected[~hashed].mean() - expected[hashed].mean()),
        hashed=hashed,
        marked=marked,
        unresolved=unresolved,
        revenue=(from_micros(int(reward[~hashed].sum())), from_micros(int(reward[hashed].sum()))),
        holdout_columns=chosen[hashed],
        holdout_propensities=propensities[hashed],
    )


@pytest.fixture(scope="module")
def runs() -> list[UpliftRun]:
    return [uplift_run(seed) for seed in SEEDS]


def summary(runs: list[UpliftRun]) -> str:
    return "\n".join(run.describe() for run in runs)


@pytest.mark.slow
def test_the_holdout_is_its_share_of_clicks_served_uniformly(runs: list[UpliftRun]) -> None:
    """The decision log marks exactly the clicks whose id hashes into the holdout; their
    share is 10 % within binomial noise; each is served uniformly among the eligible offers
    and logged with that propensity; ``uplift`` counts every one of them (all resolved) with
    the revenue the stream says they earned."""
    e = WORLD.eligible
    for run in runs:
        n = len(run.hashed)
        holdout = int(run.hashed.sum())
        assert np.array_equal(run.marked, run.hashed), run.seed
        assert abs(run.share - SHARE) <= 4 * math.sqrt(SHARE * (1 - SHARE) / n), run.describe()
        assert np.all(run.holdout_propensities == 1 / e), run.seed
        counts = np.bincount(run.holdout_columns, minlength=e)
        assert np.all(np.abs(counts - holdout / e) <= 4 * math.sqrt(holdout * (1 / e) * (1 - 1 / e))), counts
        assert run.unresolved == 0
        assert (run.uplift.bandit.clicks, run.uplift.holdout.clicks) == (n - holdout, holdout)
        assert run.uplift.bandit.revenue == pytest.approx(run.revenue[0], rel=1e-9)
        assert run.uplift.holdout.revenue == pytest.approx(run.revenue[1], rel=1e-9)


@pytest.mark.slow
def test_the_uplift_interval_holds_the_true_difference(runs: list[UpliftRun]) -> None:
    """At least 9 of 10 seeds' intervals hold the truth, and the bandit earns more per click
    than uniform rotation on average (estimated and true)."""
    covered = sum(run.covered(run.half_width) for run in runs)
    report = (
        f"covered {covered} of {len(runs)}; mean difference {np.mean([run.estimate for run in runs]):+.3f}"
        f" (true {np.mean([run.truth for run in runs]):+.3f}), median half-width"
        f" {np.median([run.half_width for run in runs]):.3f}\n{summary(runs)}"
    )
    print(report)
    assert covered >= MIN_COVERED, report
    assert np.mean([run.truth for run in runs]) > 0, report
    assert np.mean([run.estimate for run in runs]) > 0, report


WRONG_HALF_WIDTHS: dict[str, Callable[[UpliftRun], float]] = {
    "half as wide": lambda run: run.half_width / 2,
    "the holdout's variance left out": lambda run: Z * math.sqrt(run.uplift.bandit.variance_of_mean or 0.0),
}
"""Intervals computed wrongly: the quantile halved (nominal coverage 67 %), and the variance
of the smaller group's mean forgotten, as a one-sample interval around the bandit would."""


@pytest.mark.slow
@pytest.mark.parametrize("wrong", WRONG_HALF_WIDTHS)
def test_the_coverage_check_fails_a_wrong_interval(runs: list[UpliftRun], wrong: str) -> None:
    """The same check on the same runs, with an interval computed wrongly, fails: the
    coverage check has teeth."""
    half_width = WRONG_HALF_WIDTHS[wrong]
    covered = sum(run.covered(half_width(run)) for run in runs)
    right = sum(run.covered(run.half_width) for run in runs)
    print(f"{wrong}: covered {covered} of {len(runs)} (the service's interval: {right})")
    assert covered < MIN_COVERED
    assert covered < right


# --- the traffic floor --------------------------------------------------------------------

FLOOR = 0.05
FLOOR_DECISIONS = 2_000
FLOOR_RATES = (0.25, 0.04, 0.03, 0.03, 0.02, 0.02)
"""Six offers paying $1 on conversion, the first clearly best: without a floor the bandit
soon sends the others less than 5 % of clicks each."""
FLOOR_OFFERS = list(range(1, len(FLOOR_RATES) + 1))


@cache
def floor_run(sampler: Sampler, min_share: float) -> tuple[np.ndarray, BanditService]:
    """``FLOOR_DECISIONS`` decisions through the service, each fed back at once: the share
    of each offer, and the service (its decision log)."""
    rng = np.random.default_rng(21)
    params = PolicyParams(sampler, min_share=min_share)
    service = BanditService(MemoryStore(), np.random.default_rng(22), SimClock())
    chosen = np.empty(FLOOR_DECISIONS, dtype=np.intp)
    for i in range(FLOOR_DECISIONS):
        offer_id = service.decide(str(i), FLOOR_OFFERS, params, "src-0").offer_id
        chosen[i] = FLOOR_OFFERS.index(offer_id)
        service.feedback(str(i), MICROS if rng.random() < FLOOR_RATES[chosen[i]] else 0)
    shares = np.bincount(chosen, minlength=len(FLOOR_OFFERS)) / FLOOR_DECISIONS
    return shares, service


FLOOR_TOLERANCE = 4 * math.sqrt(FLOOR * (1 - FLOOR) / FLOOR_DECISIONS)


@pytest.mark.slow
@pytest.mark.parametrize("sampler", list(Sampler), ids=lambda s: s.value)
def test_the_floor_gives_every_offer_its_share_and_its_propensity(sampler: Sampler) -> None:
    """With ``min_share`` 0.05 each offer gets at least 5 % of clicks (within binomial
    noise), and every logged propensity includes the floor: at least 0.05, and for UCB
    exactly floor + (1 − n·floor) × UCB's own probability (1 / tied leaders, else 0),
    recomputed here from the logged evidence."""
    shares, service = floor_run(sampler, FLOOR)
    rows = list(service.decision_log())
    print(f"{sampler.value}: shares with the floor {np.round(shares, 4)}")
    assert np.all(shares >= FLOOR - FLOOR_TOLERANCE), shares
    assert shares[0] > 0.5, shares  # the floor leaves the best offer most of the traffic
    assert len(rows) == FLOOR_DECISIONS
    assert all(row.pscore >= FLOOR - 1e-9 for row in rows)
    if sampler is Sampler.ucb:
        n = len(FLOOR_OFFERS)
        off_leader = 0
        for row in rows:
            scores = ucb_scores(evidence_stats(row.evidence), PolicyParams(sampler).ucb_c)
            leaders = np.flatnonzero(scores == scores.max())
            chosen = row.evidence.offers.index(row.offer_id)
            policy = 1 / len(leaders) if chosen in leaders else 0.0
            off_leader += policy == 0.0
            assert row.pscore == pytest.approx(FLOOR + (1 - n * FLOOR) * policy, abs=1e-9), row.round
        assert off_leader > 0  # the floor's picks away from the leader: logged at the floor, not 0


@pytest.mark.slow
@pytest.mark.parametrize("sampler", list(Sampler), ids=lambda s: s.value)
def test_without_the_floor_some_offer_falls_below_it(sampler: Sampler) -> None:
    """The same traffic without a floor starves the worse offers below 5 %: the check above
    binds, it does not pass for any bandit on this market."""
    shares, _ = floor_run(sampler, 0.0)
    print(f"{sampler.value}: shares without the floor {np.round(shares, 4)}")
    assert shares.min() < FLOOR - FLOOR_TOLERANCE, shares
