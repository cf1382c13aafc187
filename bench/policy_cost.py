"""Cost of one policy decision over 20, 200 and 1,000 offers, in process, by source.

The budget is 100 µs for 20 offers and 1 ms for 1,000: the whole model (population fit,
offer and source levels, payouts) is refitted on every decision. Absolute times move with
the machine, so each figure is also given as a ratio to a baseline measured in the same run:
the cheapest vectorised random choice over the same offers (one uniform draw per offer and
an argmax), which any policy that looks at every offer must at least pay.

Run alone: `.venv/bin/python bench/policy_cost.py`; `make bench` includes its table.
"""

from __future__ import annotations

import timeit

import numpy as np

from cpa_bandit.policies import ArmStats, PolicyParams, Sampler, SourceCounts, select

SIZES = (20, 200, 1_000)
REPEATS = 7


def _world(k: int, rng: np.random.Generator) -> ArmStats:
    """Counters as a live service sees them: pending clicks, conversions at CPA rates."""
    resolved = rng.integers(50, 5_000, k).astype(float)
    conversions = rng.binomial(resolved.astype(int), rng.uniform(0.001, 0.1, k)).astype(float)
    payout = rng.lognormal(2.0, 1.2, k)
    clicks = resolved + rng.integers(0, 500, k)
    share = rng.uniform(0.1, 0.5, k)  # the click's source's part of each offer's evidence
    source = SourceCounts(
        np.floor(clicks * share), np.floor(resolved * share), np.floor(conversions * share),
        np.floor(conversions * share) * payout, weight=200.0,
    )  # fmt: skip
    return ArmStats(clicks, resolved, conversions, conversions * payout, None, conversions * payout**2, source)


def _microseconds(call, number: int) -> float:
    return min(timeit.repeat(call, number=number, repeat=REPEATS)) / number * 1e6


def measure() -> list[tuple[int, str, float, float]]:
    """(offers, policy, µs per decision, ratio to the random-argmax baseline)."""
    rng = np.random.default_rng(0)
    rows = []
    for k in SIZES:
        stats = _world(k, rng)
        number = 20_000 if k <= 200 else 4_000
        baseline = _microseconds(lambda: int(np.argmax(rng.random(k))), number)
        for sampler in Sampler:
            params = PolicyParams(sampler)
            cost = _microseconds(lambda: select(stats, params, rng), number)
            rows.append((k, sampler.value, cost, cost / baseline))
    return rows


def table(rows: list[tuple[int, str, float, float]]) -> str:
    lines = [
        "| offers | policy | µs per decision | ratio to random argmax |",
        "|---:|---|---:|---:|",
    ]
    lines += [f"| {k:,} | {policy} | {cost:.1f} | {ratio:.1f} |" for k, policy, cost, ratio in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(measure()))
