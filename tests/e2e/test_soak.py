"""The bounded soak run: bench/soak.py for 30 seconds, as part of ``make test``.

Eight client threads drive the real server (two workers, SQLite) with mixed traffic: fresh
decisions, retried ones, feedback and duplicate feedback, tracker postbacks moving through
their statuses (some sent twice, some charged back) and stats. It fails on any answer that is
not the expected 200, on any counter of money or clicks that differs from what the clients
were acknowledged, and on memory that grows past the short run's bound after the warm-up
*and* keeps rising (bench/soak.py's docstring explains the check; the tests after it feed
that check made-up RSS curves). ``make soak`` is the long run that bench/RESULTS.md reports.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))  # bench/ holds scripts, not a package: import soak.py, then leave sys.path as it was
try:
    import soak
finally:
    sys.path.remove(str(BENCH))

pytestmark = pytest.mark.e2e

DURATION_S = 30


def test_bounded_soak_keeps_money_exact_and_memory_bounded():
    args = soak.parse_args(
        ["--duration", str(DURATION_S), "--clients", "8", "--workers", "2", "--store", "sqlite", "--window", "5"]
    )
    result = soak.run(args)
    soak.print_report(result)  # shown by pytest when the test fails

    assert result.ok, "\n".join(result.failures())
    # it really was load, on every route, and the memory check had samples to judge
    counts = {route: count for route, (count, _, _) in result.routes.items()}
    assert counts["sample"] >= 20 * DURATION_S, counts
    assert all(counts[route] > 0 for route in soak.ROUTES), counts
    assert sum(result.tally.clicks.values()) > 0 and sum(result.tally.conversions.values()) > 0
    assert result.tally.postbacks["applied"] > 0 and result.tally.postbacks["duplicate"] > 0
    assert result.memory.end.t - result.memory.start.t >= DURATION_S / 2, result.memory
    assert result.elapsed < DURATION_S + 30, f"the soak run took {result.elapsed:.0f}s"


def _judge(rss_mb_at: Callable[[float], float], duration: float = 300) -> soak.Memory:
    args = soak.parse_args(["--duration", str(duration), "--window", "10"])
    samples = [soak.RssSample(t, round(rss_mb_at(t) * 1024), {}) for t in range(int(duration) + 1)]
    return soak.judge_memory(samples, args)


@pytest.mark.parametrize(
    ("name", "rss_mb_at", "unbounded"),
    [
        ("flat", lambda t: 200.0, False),
        ("caches filling, then flat", lambda t: 200 + 150 * min(t, 100) / 100, False),  # a big step, early
        ("slow bounded creep", lambda t: 200 + 2 * t / 60, False),  # 2 MB/min: under the bound
        ("steady leak", lambda t: 200 + 40 * t / 60, True),  # 40 MB/min
        ("leak starting late", lambda t: 200 + max(0.0, t - 150) * 1.0, True),
        ("big step late, then flat", lambda t: 200 + (150 if t > 200 else 0), False),
    ],
)
def test_memory_judgement(name, rss_mb_at, unbounded):
    """Growth above the bound after the warm-up is a leak only while the RSS keeps rising."""
    memory = _judge(rss_mb_at)
    assert memory.bound_mb == 100 and memory.start.t == 60
    assert memory.unbounded is unbounded, (name, memory)


def test_short_run_bound():
    assert soak.default_rss_bound(30) == 40 and soak.default_rss_bound(300) == 100
    memory = _judge(lambda t: 200 + 3 * t, duration=30)  # 180 MB/min: 60 MB after the warm-up
    assert memory.unbounded and memory.growth_mb > 40
