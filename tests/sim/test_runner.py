"""The replay loop: feedback on time and in order, identical streams, reproducible results,
the maintenance hook, and efficiency pinned at both ends (random ~ 0, oracle = 1)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cpa_bandit.sim.baselines import RandomChoice
from cpa_bandit.sim.contenders import InProcess, SimPolicy, make_policy
from cpa_bandit.sim.runner import RunOptions, SimClock, play, policy_rng, run_policy, simulate
from cpa_bandit.sim.scenarios import scenario_config
from cpa_bandit.sim.stream import ClickStream, draw
from cpa_bandit.sim.world import WorldConfig


class Recorder:
    """Wraps a policy and writes down what it was shown and when feedback reached it."""

    def __init__(self, inner: SimPolicy, clock: SimClock | None = None) -> None:
        self.inner = inner
        self.clock = clock
        self.shown: list[tuple[int, int, tuple[int, ...]]] = []
        self.arrivals: list[tuple[int, int, int]] = []  # (clicks decided so far, click, reward)
        self.times: list[float] = []
        self.decided = 0

    def choose(self, click: int, source: int, offers: np.ndarray) -> int:
        assert click == self.decided, "clicks are decided in order"
        self.shown.append((click, source, tuple(offers.tolist())))
        self.decided += 1
        return self.inner.choose(click, source, offers)

    def feedback(self, click: int, reward_micros: int) -> None:
        self.arrivals.append((self.decided, click, reward_micros))
        if self.clock is not None:
            self.times.append(self.clock())
        self.inner.feedback(click, reward_micros)

    def close(self) -> None:
        self.inner.close()


def test_feedback_arrives_exactly_when_due_and_in_due_order(small: WorldConfig) -> None:
    _, stream = draw(small, 0)
    clock = SimClock()
    recorder = Recorder(RandomChoice(small.offers, np.random.default_rng(0)), clock)
    chosen = play(stream, recorder, clock, RunOptions(seconds_per_click=60.0))

    arrived_at = np.array([a[0] for a in recorder.arrivals])
    clicks = np.array([a[1] for a in recorder.arrivals])
    due = stream.due[clicks]
    assert np.array_equal(arrived_at, due), "never before its due click, never later"
    assert (np.diff(due) >= 0).all(), "delivered in order of due time"
    assert np.array_equal(np.array(recorder.times), due * 60.0), "stamped with the simulated clock"
    assert sorted(clicks.tolist()) == np.flatnonzero(stream.due < stream.clicks).tolist(), "each once"
    pending = stream.clicks - len(clicks)
    assert pending == int((stream.due >= stream.clicks).sum()) > 0, "the last clicks stay pending"
    rewards = np.array([a[2] for a in recorder.arrivals])
    assert np.array_equal(rewards, stream.reward_micros[clicks, chosen[clicks]])


def test_every_policy_sees_the_same_stream(small: WorldConfig) -> None:
    """Common random numbers: sources, eligible sets and rewards do not depend on the policy."""
    _, stream = draw(small, 1)
    seen = {}
    for name in ("thompson", "seed-ucb"):
        clock = SimClock()
        policy = make_policy(name, stream, small.offers, policy_rng(1, name), clock, InProcess())
        recorder = Recorder(policy)
        chosen = play(stream, recorder, clock, RunOptions())
        rewards = {click: r for _, click, r in recorder.arrivals}
        expected = {c: int(stream.reward_micros[c, chosen[c]]) for c in rewards}
        assert rewards == expected
        seen[name] = (recorder.shown, chosen)
    assert seen["thompson"][0] == seen["seed-ucb"][0]
    assert not np.array_equal(seen["thompson"][1], seen["seed-ucb"][1]), "the policies do choose differently"


def test_a_policy_draws_from_its_own_generator(small: WorldConfig) -> None:
    a = policy_rng(3, "thompson").random(5)
    assert np.array_equal(a, policy_rng(3, "thompson").random(5))
    assert not np.array_equal(a, policy_rng(3, "random").random(5))
    assert not np.array_equal(a, policy_rng(4, "thompson").random(5))


def test_same_seed_gives_identical_results(small: WorldConfig) -> None:
    config = replace(small, clicks=800)
    policies = ["ucb", "thompson", "thompson-pooled", "epsilon-greedy", "seed-thompson"]

    def results(seeds: list[int]) -> list[tuple]:
        worlds = {name: scenario_config(name, config) for name in ("static", "drift")}
        runs = simulate(worlds, policies, seeds, InProcess())
        return [(r.scenario, r.seed, p.policy, p.scores, p.offers.tolist()) for r in runs for p in r.runs]

    first = results([0, 1])
    assert first == results([0, 1])
    assert len(first) == 2 * 2 * len(policies)
    assert first[: len(policies)] != results([2, 1])[: len(policies)]


def test_the_sqlite_store_decides_like_the_memory_store(small: WorldConfig, tmp_path) -> None:
    _, stream = draw(replace(small, clicks=400), 0)
    memory = run_policy("thompson", stream, small, 0, InProcess("memory"), RunOptions())
    sqlite = run_policy("thompson", stream, small, 0, InProcess("sqlite", tmp_path), RunOptions())
    assert np.array_equal(memory.offers, sqlite.offers)
    assert list(tmp_path.glob("run-*.db")), "decisions went through a SQLite file"


def test_the_maintenance_hook_calls_the_service_every_few_clicks(small: WorldConfig) -> None:
    _, stream = draw(replace(small, clicks=300), 0)
    clock = SimClock()
    policy = make_policy("ucb", stream, small.offers, policy_rng(0, "ucb"), clock, InProcess())
    calls: list[float] = []
    policy.service.maintain = lambda: calls.append(clock())  # type: ignore[attr-defined]
    play(stream, policy, clock, RunOptions(seconds_per_click=60.0, maintain_every=50))
    assert calls == [i * 60.0 for i in range(0, 300, 50)]


def test_baselines_have_no_service_to_maintain(small: WorldConfig) -> None:
    _, stream = draw(replace(small, clicks=100), 0)
    play(stream, RandomChoice(small.offers, np.random.default_rng(0)), SimClock(), RunOptions(maintain_every=1))


def _run(name: str, stream: ClickStream, config: WorldConfig, seed: int):
    return run_policy(name, stream, config, seed, InProcess(), RunOptions())


def test_the_oracle_scores_exactly_one(small: WorldConfig) -> None:
    _, stream = draw(replace(small, drift_at=700), 0)
    scores = _run("oracle", stream, small, 0).scores
    assert scores.efficiency == scores.efficiency_first_half == scores.efficiency_second_half == 1.0
    assert scores.regret == 0.0
    assert scores.expected_revenue == scores.oracle_revenue


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_choice_scores_about_zero(seed: int) -> None:
    config = WorldConfig(clicks=4_000, offers=12, sources=3, eligible=5, mean_delay=30.0)
    _, stream = draw(config, seed)
    scores = _run("random", stream, config, seed).scores
    assert abs(scores.efficiency) < 0.05, scores
    assert scores.regret == pytest.approx(scores.oracle_revenue - scores.expected_revenue)


def test_a_learning_policy_beats_random_on_a_static_world(small: WorldConfig) -> None:
    _, stream = draw(small, 0)
    scores = _run("thompson", stream, small, 0).scores
    assert scores.efficiency_second_half > 0.3, scores
    assert scores.revenue > 0
