"""Off-policy evaluation: estimators on data whose answer is known exactly, the target's
parameters, the reward model's cross-fitting, the warnings, and ``cpa-bandit evaluate``.

The simulator check (estimates against true values on logs the service wrote) is in
tests/sim/test_evaluation_truth.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cpa_bandit.cli import app
from cpa_bandit.decision_log import LogRow, write_log
from cpa_bandit.domain import Evidence
from cpa_bandit.evaluation import Target, evaluate
from cpa_bandit.evaluation.estimators import Z_95, doubly_robust, effective_sample_size, ips, snips
from cpa_bandit.evaluation.reward_model import SHRINK_ROUNDS, cross_fitted_rewards
from cpa_bandit.evaluation.targets import logging_support

OFFERS = (11, 22, 33)


def evidence(resolved: tuple[float, ...] = (0.0, 0.0, 0.0), payout: tuple[float | None, ...] = (None,) * 3) -> Evidence:
    return Evidence(OFFERS, resolved, resolved, (0.0,) * 3, (0.0,) * 3, payout)


def row(
    t: int,
    offer: int,
    pscore: float,
    reward: float | None,
    sampler: str = "thompson",
    seen: Evidence | None = None,
    source: str = "",
) -> LogRow:
    params: dict[str, float | str] = {"sampler": sampler}
    action = OFFERS.index(offer) if offer in OFFERS else len(OFFERS)
    return LogRow(t, float(t), f"c{t}", source, params, offer, action, pscore, reward, seen or evidence())


# --- estimators on arrays -------------------------------------------------------------


def test_estimators_by_hand() -> None:
    w, r = np.array([2.0, 0.5, 1.0, 0.0]), np.array([1.0, 4.0, 0.0, 3.0])
    assert ips(w, r).value == pytest.approx((2 + 2 + 0 + 0) / 4)
    assert snips(w, r).value == pytest.approx(4 / 3.5)
    q_chosen, q_target = np.array([1.0, 1.0, 1.0, 1.0]), np.array([0.5, 0.5, 0.5, 0.5])
    assert doubly_robust(w, r, q_chosen, q_target).value == pytest.approx(0.5 + (2 * 0 + 0.5 * 3 + 1 * -1 + 0) / 4)
    terms = w * r
    assert ips(w, r).se == pytest.approx(terms.std(ddof=1) / 2)
    assert ips(w, r).high - ips(w, r).value == pytest.approx(Z_95 * ips(w, r).se)


def test_non_uniform_logging_weighs_by_the_inverse_propensity() -> None:
    """One context, logged offers in exact proportion to their propensities (0.5, 0.25,
    0.25): IPS of any target is exactly Σ_a π(a)·r(a). A formula without the division by
    the propensity (or with the wrong one) gives another number."""
    p, reward = np.array([0.5, 0.25, 0.25]), np.array([1.0, 8.0, 2.0])
    target = np.array([0.1, 0.6, 0.3])
    logged = np.array([0, 0, 1, 2])
    w = target[logged] / p[logged]
    assert ips(w, reward[logged]).value == pytest.approx(target @ reward)
    assert snips(w, reward[logged]).value == pytest.approx(target @ reward)  # the weights' mean is exactly 1 here
    assert (target[logged] * reward[logged]).mean() != pytest.approx(target @ reward)


def test_same_policy_weights_are_one() -> None:
    r = np.array([0.0, 5.0, 0.0, 12.0, 0.0])
    w = np.ones(5)
    assert ips(w, r).value == snips(w, r).value == pytest.approx(r.mean())
    assert snips(w, r).se == pytest.approx(ips(w, r).se)  # the delta method reduces to a mean's se
    assert effective_sample_size(w) == pytest.approx(5)


def test_snips_is_blind_to_the_scale_of_the_weights() -> None:
    w, r = np.array([2.0, 0.5, 1.0, 0.0, 3.0]), np.array([1.0, 4.0, 0.0, 3.0, 0.0])
    once, thrice = snips(w, r), snips(3 * w, r)
    assert (thrice.value, thrice.se) == pytest.approx((once.value, once.se))
    assert ips(3 * w, r).se == pytest.approx(3 * ips(w, r).se)


def test_effective_sample_size() -> None:
    assert effective_sample_size(np.array([0.0, 3.0, 0.0])) == pytest.approx(1)
    assert effective_sample_size(np.array([1.0, 1.0, 2.0, 2.0])) == pytest.approx(36 / 10)
    assert effective_sample_size(np.zeros(3)) == 0


def test_doubly_robust_with_a_perfect_model_has_no_error_and_with_none_is_ips() -> None:
    rng = np.random.default_rng(0)
    q = np.array([0.2, 1.5, 0.7])
    target = np.array([0.2, 0.5, 0.3])
    logged = rng.integers(0, 3, 200)
    w = target[logged] * 3  # uniform logging
    perfect = doubly_robust(w, q[logged], q[logged], np.full(200, target @ q))
    assert perfect.value == pytest.approx(target @ q) and perfect.se == pytest.approx(0, abs=1e-12)
    r = q[logged] * 2
    assert doubly_robust(w, r, np.zeros(200), np.zeros(200)).value == pytest.approx(ips(w, r).value)


def test_uniform_logging_recovers_the_target_value_within_its_interval() -> None:
    """Large synthetic log, uniform logging, Bernoulli rewards: every estimator lands within
    its interval of the known value, and the logged mean is the uniform value."""
    rng = np.random.default_rng(7)
    n, rate, payout = 40_000, np.array([0.02, 0.05, 0.01]), np.array([10.0, 3.0, 40.0])
    target = np.array([0.7, 0.2, 0.1])
    logged = rng.integers(0, 3, n)
    r = np.where(rng.random(n) < rate[logged], payout[logged], 0.0)
    w = target[logged] * 3
    truth = target @ (rate * payout)
    for estimate in (ips(w, r), snips(w, r)):
        assert estimate.low <= truth <= estimate.high, estimate


def test_empty_and_single_round_estimates_are_nan_not_errors() -> None:
    empty = np.zeros(0)
    assert math.isnan(ips(empty, empty).value) and math.isnan(snips(empty, empty).value)
    one = ips(np.ones(1), np.ones(1))
    assert one.value == 1 and math.isnan(one.se)


# --- reward model -----------------------------------------------------------------------


def test_reward_model_never_sees_a_rounds_own_reward() -> None:
    """Five rounds, one per fold: round 0's big reward is in everyone's model but its own."""
    offer, source = np.full(5, 7), np.zeros(5, dtype=np.intp)
    reward = np.array([10.0, 0.0, 0.0, 0.0, 0.0])
    q = cross_fitted_rewards(offer, source, reward, np.arange(5), offer)
    assert q[0] == 0
    assert q[1:] == pytest.approx(np.full(4, 2.5))


def test_reward_model_shrinks_offer_and_source_towards_the_offer() -> None:
    n = 1_000
    offer = np.where(np.arange(n) < 500, 1, 2)
    source = (np.arange(n) % 2).astype(np.intp)  # rounds alternate sources, folds cycle by five
    reward = np.where(offer == 1, np.where(source == 0, 2.0, 0.0), 1.0)
    q = cross_fitted_rewards(offer, source, reward, np.array([0, 1, 600, 0]), np.array([1, 1, 2, 2]))
    # offer 1: 200 other-fold rounds per source, mean 2 or 0, shrunk towards the offer's mean 1
    assert q[0] == pytest.approx((400 + SHRINK_ROUNDS * 1.0) / (200 + SHRINK_ROUNDS))
    assert q[1] == pytest.approx((0 + SHRINK_ROUNDS * 1.0) / (200 + SHRINK_ROUNDS))
    assert q[2] == pytest.approx(1.0)
    assert q[3] == pytest.approx(1.0)  # offer 2 on source 0 from round 0's fold: exactly 1


# --- targets ----------------------------------------------------------------------------


def test_target_parameters_default_and_check() -> None:
    assert Target.parse("thompson").params == {}  # the learned prior, as /sample/ without them
    assert Target.parse("thompson").policy_params.fixed_prior is None
    one = Target.parse("thompson", ["thompson_b=50"])
    assert one.params == {"thompson_a": 1.0, "thompson_b": 50.0} and one.policy_params.fixed_prior == (1.0, 50.0)
    assert Target.parse("ucb", ["ucb_c=0"]).params == {"ucb_c": 0.0}
    assert Target.parse("random").describe() == "random"
    refusals = {
        ("greedy", ()): "unknown policy 'greedy'",
        ("thompson", ("ucb_c=1",)): "unknown parameter(s) ucb_c for thompson",
        ("random", ("thompson_a=2",)): "it takes: none",
        ("thompson", ("thompson_a=0",)): "thompson_a must be a finite number > 0",
        ("ucb", ("ucb_c=-1",)): "ucb_c must be a finite number >= 0",
        ("ucb", ("ucb_c=nan",)): "finite",
        ("ucb", ("ucb_c=one",)): "ucb_c must be a number, got 'one'",
        ("ucb", ("ucb_c",)): "is not NAME=VALUE",
        ("ucb", ("ucb_c=1", "ucb_c=2")): "given twice",
    }
    for (policy, params), message in refusals.items():
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            Target.parse(policy, params)


def test_target_probabilities() -> None:
    seen = evidence(resolved=(100.0, 100.0, 100.0))
    assert Target.parse("random").probabilities(seen) == pytest.approx(np.full(3, 1 / 3))
    assert Target.parse("thompson").probabilities(seen).sum() == pytest.approx(1, abs=0.01)
    fresh = Evidence(OFFERS, (5.0, 0.0, 5.0), (5.0, 0.0, 5.0), (0.0,) * 3, (0.0,) * 3, (None,) * 3)
    assert Target.parse("ucb").probabilities(fresh) == pytest.approx([0, 1, 0])  # never shown: tried first
    assert logging_support("ucb", {"sampler": "ucb", "ucb_c": 1.0}, fresh).tolist() == [False, True, False]
    assert logging_support("thompson", {"sampler": "thompson"}, fresh).all()


# --- evaluate on rows -------------------------------------------------------------------


def test_pending_and_unusable_rows_are_left_out_and_counted() -> None:
    rows = [
        row(0, 11, 1 / 3, 3.0),
        row(1, 22, 1 / 3, None),  # pending
        row(2, 22, 0.0, 0.0),  # no propensity
        row(3, 33, math.nan, 0.0),
        row(4, 99, 1 / 3, 0.0),  # offer not among the evidence's
        row(5, 33, 1 / 3, 0.0),
    ]
    evaluation = evaluate(rows, Target.parse("random"))
    assert (evaluation.rounds, evaluation.pending, evaluation.invalid) == (2, 1, 3)
    assert evaluation.logged.value == pytest.approx(1.5)
    assert evaluation.estimates[0].value == pytest.approx(1.5)  # random on uniform logs: weights 1
    codes = {caveat.code for caveat in evaluation.caveats}
    assert {"invalid_rows", "pending", "few_conversions"} <= codes


def test_balanced_uniform_log_gives_every_estimator_the_exact_value() -> None:
    """Offers logged in turn with propensity 1/3 and fixed rewards, balanced within every
    cross-fitting fold: whatever q̂ is, IPS, SNIPS and DR all equal the target's value
    exactly; the target (UCB, offer 22 never shown) chooses offer 22 only."""
    fresh = Evidence(OFFERS, (5.0, 0.0, 5.0), (5.0, 0.0, 5.0), (0.0,) * 3, (0.0,) * 3, (None,) * 3)
    rewards = {11: 1.0, 22: 4.0, 33: 0.0}
    rows = [row(t, OFFERS[t % 3], 1 / 3, rewards[OFFERS[t % 3]], seen=fresh) for t in range(300)]
    evaluation = evaluate(rows, Target.parse("ucb"))
    assert [e.value for e in evaluation.estimates] == pytest.approx([4.0, 4.0, 4.0])
    assert evaluation.logged.value == pytest.approx(5 / 3)
    assert evaluation.ess == pytest.approx(100)


def test_an_empty_log_estimates_nothing() -> None:
    evaluation = evaluate([], Target.parse("thompson"))
    assert evaluation.rounds == 0 and all(math.isnan(e.value) for e in evaluation.estimates)
    assert [caveat.code for caveat in evaluation.caveats] == ["no_rounds"]


def test_a_deterministic_log_is_flagged_as_unsupported() -> None:
    """UCB chose offer 22 (never shown: tried first) with propensity 1; Thompson would
    choose the others too, which the log cannot show."""
    fresh = Evidence(OFFERS, (5.0, 0.0, 5.0), (5.0, 0.0, 5.0), (0.0,) * 3, (0.0,) * 3, (None,) * 3)
    rows = [row(t, 22, 1.0, 1.0 if t % 3 == 0 else 0.0, "ucb", fresh) for t in range(60)]
    evaluation = evaluate(rows, Target.parse("random"))
    assert evaluation.unsupported == pytest.approx(2 / 3)
    assert "unsupported" in {caveat.code for caveat in evaluation.caveats}


def test_concentrated_weights_and_small_propensities_are_flagged() -> None:
    """The logging policy nearly never chose offer 33 (propensity 0.005), which the target
    always chooses: the few rounds that show it carry all the weight."""
    seen = Evidence(OFFERS, (9.0, 9.0, 0.0), (9.0, 9.0, 0.0), (0.0,) * 3, (0.0,) * 3, (None,) * 3)
    rows = [row(t, 11, 0.995, 1.0 if t % 10 == 0 else 0.0, seen=seen) for t in range(400)]
    rows += [row(400 + t, 33, 0.005, 2.0 if t % 2 else 0.0, seen=seen) for t in range(4)]
    evaluation = evaluate(rows, Target.parse("ucb"))  # offer 33 has no clicks: UCB tries it first
    assert evaluation.ess == pytest.approx(4)
    assert evaluation.max_weight == pytest.approx(200) and evaluation.min_pscore == pytest.approx(0.005)
    assert evaluation.estimates[0].value == pytest.approx(2 * 200 * 2 / 404)
    assert evaluation.estimates[1].value == pytest.approx(1.0)  # SNIPS: the mean reward of offer 33's rounds
    assert {"low_ess", "small_propensities"} <= {caveat.code for caveat in evaluation.caveats}


# --- the command ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def log_rows() -> list[LogRow]:
    """Uniform logging over three offers on two sources, rewards by offer."""
    rng = np.random.default_rng(1)
    rows = []
    for t in range(900):
        offer = OFFERS[t % 3]
        reward = 10.0 if rng.random() < (0.05, 0.1, 0.02)[t % 3] else 0.0
        rows.append(row(t, offer, 1 / 3, reward, seen=evidence((t // 3,) * 3), source=f"s{t % 2}"))
    return rows


def evaluate_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["evaluate", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_evaluate_command_table_and_json(tmp_path: Path, log_rows: list[LogRow], fmt: str) -> None:
    path = tmp_path / f"log.{fmt}"
    write_log(log_rows, fmt, path)  # type: ignore[arg-type]
    code, output = evaluate_cli("--log", str(path), "--policy", "thompson", "--param", "thompson_b=20")
    assert code == 0, output
    assert "thompson(thompson_a=1, thompson_b=20): revenue per click on 900 logged clicks" in output
    for name in ("logged policy", "IPS", "SNIPS", "DR", "95 % CI", "ESS"):
        assert name in output

    code, output = evaluate_cli("--log", str(path), "--policy", "random", "--json")
    assert code == 0, output
    report = json.loads(output)
    assert report["target"] == {"policy": "random", "params": {}}
    assert report["rounds"] == 900 and report["ess"] == pytest.approx(900)
    ips_report = report["estimates"]["ips"]
    assert ips_report["estimate"] == pytest.approx(report["logged"]["estimate"])
    assert ips_report["ci_low"] < ips_report["estimate"] < ips_report["ci_high"]
    assert set(report["estimates"]) == {"ips", "snips", "dr"}


def test_evaluate_command_refusals(tmp_path: Path, log_rows: list[LogRow]) -> None:
    path = tmp_path / "log.csv"
    write_log(log_rows[:10], "csv", path)
    not_a_log = tmp_path / "other.csv"
    not_a_log.write_text("a,b\n1,2\n")
    refusals = [
        (["--policy", "thompson", "--param", "ucb_c=1"], "unknown parameter(s) ucb_c for thompson"),
        (["--policy", "ucb", "--param", "ucb_c=-2"], "ucb_c must be a finite number >= 0"),
        (["--policy", "ucb", "--param", "ucb_c=x"], "must be a number"),
        (["--policy", "greedy"], "unknown policy 'greedy'"),
    ]
    for args, message in refusals:
        code, output = evaluate_cli("--log", str(path), *args)
        assert code == 2 and message in " ".join(output.replace("│", " ").split()), output
    for missing in (tmp_path / "missing.csv", not_a_log):
        code, output = evaluate_cli("--log", str(missing), "--policy", "random")
        assert code == 2 and "--log" in output, output


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_evaluate_command_on_a_log_with_nothing_to_evaluate_says_so(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"empty.{fmt}"
    write_log([], fmt, path)  # type: ignore[arg-type]
    for extra in ((), ("--json",)):
        code, output = evaluate_cli("--log", str(path), "--policy", "random", *extra)
        assert code == 1 and "nothing to evaluate" in output and "nan" not in output.lower(), output
