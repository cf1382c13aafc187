"""Decision logs from simulated traffic, made by the real service, and the true value of any
policy on them: the ground truth that ``cpa-bandit evaluate`` is checked against.

    .venv/bin/python bench/simulated_log.py --store sqlite:///sim.db --clicks 5000 --seed 1 \\
        --truth random --truth ucb --truth thompson:thompson_a=2

plays one simulated click stream against ``BanditService.decide`` on that store (Thompson
sampling unless ``--sampler ucb``: a deterministic log, to see what evaluate says about
one), delivers every click's feedback (also what would still be in flight when the stream
ends, so that no row is pending), and prints, for each ``--truth`` policy, its true value
on the log: the estimand of ``cpa-bandit evaluate`` computed from the simulator's true
rates instead of estimated,

    V(π) = 1/n · Σ_t Σ_a π(a | evidence_t) · rpc(a, click_t).

The store then holds the decision log: ``cpa-bandit export`` writes it to a file.

    .venv/bin/python bench/simulated_log.py --coverage 20 --truth random --truth ucb

logs seeds 0 … 19 on memory stores instead and counts, per policy and estimator, the seeds
whose 95 % interval holds the true value (docs/evaluation.md); tests/sim/test_evaluation_truth.py
runs the same check on 10 seeds of the ``narrow`` world.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from cpa_bandit.decision_log import LogRow
from cpa_bandit.evaluation import Evaluation, Target, evaluate
from cpa_bandit.policies import PolicyParams, Sampler
from cpa_bandit.service import BanditService
from cpa_bandit.sim.contenders import ServicePolicy
from cpa_bandit.sim.runner import RunOptions, SimClock, play, policy_rng
from cpa_bandit.sim.stream import ClickStream, draw
from cpa_bandit.sim.world import WorldConfig
from cpa_bandit.store import open_store

WORLDS = {
    "simulate": WorldConfig(offers=12, sources=3, eligible=5, mean_delay=30.0),
    "narrow": WorldConfig(
        offers=12, sources=3, eligible=5, mean_delay=30.0, cr_range=(0.01, 0.1), payout_sigma=0.6, payout_range=(1, 50)
    ),
}
"""``simulate``: the rates and payouts of ``cpa-bandit simulate`` (0.1–10 %, payouts up to
$200), on a smaller market. ``narrow``: higher rates and payouts within $1–50, so that a
few thousand clicks hold conversions of every offer the logging policy tried."""


LOGGING = PolicyParams(Sampler.thompson)
"""The default logging policy, Thompson with the default prior: randomised, so every offer
that can lead keeps a positive propensity, which off-policy estimates need."""


def simulate_log(
    config: WorldConfig, seed: int, store_url: str = "memory://", params: PolicyParams = LOGGING
) -> tuple[BanditService, ClickStream]:
    """The service after playing stream ``seed`` with every click's feedback delivered.

    Offer ``k`` of the world is offer id ``k``, click ``i`` click id ``"i"``, source ``s``
    source ``"src-s"`` (as ``cpa-bandit simulate`` drives the service)."""
    _, stream = draw(config, seed)
    clock = SimClock()
    service = BanditService(open_store(store_url), policy_rng(seed, "simulated-log"), clock)
    policy = ServicePolicy(service, params, pass_source=True)
    chosen = play(stream, policy, clock, RunOptions())
    in_flight = np.flatnonzero(stream.due >= stream.clicks)  # play delivers what falls due before the end
    for click in in_flight[np.argsort(stream.due[in_flight], kind="stable")].tolist():
        policy.feedback(click, int(stream.reward_micros[click, chosen[click]]))
    return service, stream


def true_value(rows: Iterable[LogRow], stream: ClickStream, target: Target) -> float:
    """The target's expected revenue per click on the log's resolved rows, from the
    simulator's true rates and payouts: exactly what ``evaluate`` estimates."""
    total, n = 0.0, 0
    for row in rows:
        if row.reward is None:
            continue
        click = int(row.click_id)
        columns = np.searchsorted(stream.eligible[click], row.evidence.offers)  # eligible ids ascend
        total += float(target.probabilities(row.evidence) @ stream.expected_rpc[click, columns])
        n += 1
    return total / n if n else float("nan")


@dataclass(frozen=True, slots=True)
class Check:
    """One target evaluated on one seed's log, beside its true value."""

    seed: int
    truth: float
    evaluation: Evaluation

    def covered(self, estimator: str) -> bool:
        estimate = next(e for e in self.evaluation.estimates if e.name == estimator)
        return estimate.low <= self.truth <= estimate.high

    def describe(self) -> str:
        estimates = ", ".join(
            f"{e.name} {e.value:.3f} [{e.low:.3f}, {e.high:.3f}]{'' if self.covered(e.name) else ' MISS'}"
            for e in self.evaluation.estimates
        )
        warnings = ", ".join(caveat.code for caveat in self.evaluation.caveats) or "no warning"
        return f"seed {self.seed}: truth {self.truth:.3f}; {estimates}; ESS {self.evaluation.ess:.0f}; {warnings}"


def coverage(config: WorldConfig, seeds: Iterable[int], targets: Sequence[Target]) -> list[list[Check]]:
    """Per target, its evaluation on each seed's Thompson log (memory store) with its truth."""
    checks: list[list[Check]] = [[] for _ in targets]
    for seed in seeds:
        service, stream = simulate_log(config, seed)
        rows = list(service.decision_log())
        service.store.close()
        for target, target_checks in zip(targets, checks, strict=True):
            target_checks.append(Check(seed, true_value(rows, stream, target), evaluate(rows, target)))
    return checks


def _truth(spec: str) -> Target:
    """``thompson:thompson_a=2,thompson_b=1`` → the target."""
    policy, _, params = spec.partition(":")
    return Target.parse(policy, [p for p in params.split(",") if p])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", choices=list(WORLDS), default="simulate")
    parser.add_argument("--clicks", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sampler", choices=[s.value for s in Sampler], default="thompson", help="Logging sampler.")
    parser.add_argument("--store", default="memory://", help="Store URL to log into (default: memory://).")
    parser.add_argument("--truth", action="append", default=[], metavar="POLICY[:NAME=VALUE,...]")
    parser.add_argument("--coverage", type=int, metavar="SEEDS", help="Check the intervals on seeds 0 … SEEDS-1.")
    args = parser.parse_args()
    try:
        targets = [_truth(spec) for spec in args.truth]
        config = replace(WORLDS[args.world], clicks=args.clicks)
    except ValueError as exc:
        parser.error(str(exc))
    if args.coverage:
        for target, checks in zip(targets, coverage(config, range(args.coverage), targets), strict=True):
            print(f"{target.describe()}:", *(check.describe() for check in checks), sep="\n  ")
            counts = {e.name: sum(c.covered(e.name) for c in checks) for e in checks[0].evaluation.estimates}
            print("  covered: " + ", ".join(f"{name} {count}/{len(checks)}" for name, count in counts.items()))
        return
    service, stream = simulate_log(config, args.seed, args.store, PolicyParams(Sampler(args.sampler)))
    try:
        rows = list(service.decision_log())
        print(f"logged {len(rows):,} decisions into {args.store}; mean reward {np.mean([r.reward for r in rows]):.4f}")
        for target in targets:
            print(f"true value of {target.describe()}: {true_value(rows, stream, target):.4f}")
    finally:
        service.store.close()


if __name__ == "__main__":
    main()
