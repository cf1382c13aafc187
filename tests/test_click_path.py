"""The click path's parts: the worker's counters, the population cache, the group commit."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cpa_bandit.clickpath.counters import LocalCounters
from cpa_bandit.clickpath.decisions import DecisionPath
from cpa_bandit.clickpath.group_commit import GroupCommit
from cpa_bandit.domain import Offer, StoreUnavailable, UnknownClick
from cpa_bandit.policies import PolicyParams, Sampler
from cpa_bandit.service import BanditService
from cpa_bandit.store.memory import MemoryStore
from cpa_bandit.store.sqlite import SQLiteStore

OFFERS = [1, 2, 3]
UCB = PolicyParams(Sampler.ucb)


class CountingStore:
    """A store that counts its reads of offer counters and its batches."""

    def __init__(self, store) -> None:
        self._store = store
        self.reads = 0
        self.batches: list[int] = []
        self._in_batch: list[int] | None = None

    def __getattr__(self, name):
        return getattr(self._store, name)

    def read_offers(self, offer_ids, source=None):
        self.reads += 1
        return self._store.read_offers(offer_ids, source)

    def record_decision(self, decision):
        if self._in_batch is not None:
            self._in_batch[0] += 1
        return self._store.record_decision(decision)

    @contextlib.contextmanager
    def batch(self, decisions=()) -> Iterator[None]:
        self._in_batch = [0]
        try:
            with self._store.batch(decisions):
                yield
        finally:
            self.batches.append(self._in_batch[0])
            self._in_batch = None


def service(store, cache_ms: float = 60_000.0) -> BanditService:
    return BanditService(store, np.random.default_rng(0), decision_path=DecisionPath(cache_ms=cache_ms))


# --- the worker's counters ----------------------------------------------------------------


def test_counters_are_read_once_per_staleness_bound_and_count_own_changes_at_once() -> None:
    store = CountingStore(MemoryStore())
    bandit = service(store)
    for i in range(20):
        bandit.decide(f"c{i}", OFFERS, UCB, "src")
    assert store.reads == 1  # one read, then the worker's own counts
    rows = bandit.decider.counters.fresh(OFFERS, "src", read_after=-np.inf)
    assert rows is not None
    assert rows.pooled[:, 0].sum() == 20 and rows.by_source[:, 0].sum() == 20
    assert rows.pooled[:, 0].tolist() == [store.read_offers([o]).pooled[0, 0] for o in OFFERS]

    outcome, _ = bandit.feedback("c0", 12_500_000)
    rows = bandit.decider.counters.fresh(OFFERS, None, read_after=-np.inf)
    stored = store.read_offers(OFFERS)
    assert rows is not None and np.array_equal(rows.pooled[:, :4], stored.pooled[:, :4])  # clicks … reward
    assert rows.reward_sq[OFFERS.index(outcome.offer_id)] == pytest.approx(12.5**2)


def test_a_store_read_is_due_after_the_staleness_bound() -> None:
    store = CountingStore(MemoryStore())
    bandit = service(store, cache_ms=0.0)
    for i in range(5):
        bandit.decide(f"c{i}", OFFERS, UCB)
    assert store.reads == 5


def test_registry_changes_and_resets_through_the_worker_apply_to_its_next_decision() -> None:
    store = CountingStore(MemoryStore())
    bandit = service(store)
    bandit.decide("a", OFFERS, UCB)
    for offer_id in (1, 2):
        bandit.put_offer(Offer(offer_id, status="paused"))
    assert {bandit.decide(f"b{i}", OFFERS, UCB).offer_id for i in range(10)} == {3}
    bandit.patch_offer(1, {"status": "active"})
    bandit.archive_offer(3)
    assert {bandit.decide(f"c{i}", OFFERS, UCB).offer_id for i in range(10)} == {1}
    bandit.reset()
    assert bandit.decider.counters.fresh(OFFERS, None, read_after=-np.inf) is None


def test_last_known_counters_fill_offers_never_read_with_zeros() -> None:
    counters = LocalCounters()
    bandit = service(MemoryStore())
    bandit.decide("a", [1, 2], UCB, "s")
    counters.put([1, 2], "s", bandit.store.read_offers([1, 2], "s"), at=1.0)
    rows = counters.last_known([2, 9, 1], "s")
    assert rows.pooled[:, 0].tolist() == [*(bandit.store.read_offers([2]).pooled[:, 0]), 0, *(bandit.store.read_offers([1]).pooled[:, 0])]
    assert rows.payout_micros[1] == -1 and rows.status[1] == 0
    assert counters.fresh([1, 2], "s", read_after=0.5) is not None
    assert counters.fresh([1, 2], "s", read_after=1.0) is None  # read at 1.0: not after it
    assert counters.fresh([1, 2], "other", read_after=0.5) is None  # that source never read


def test_counters_stay_within_their_bound() -> None:
    counters = LocalCounters(max_offers=10, max_sources=10)
    store = MemoryStore()
    for start in range(0, 100, 5):
        ids = list(range(start, start + 5))
        counters.put(ids, "s", store.read_offers(ids, "s"), at=1.0)
        assert counters.fresh(ids, "s", read_after=0.0) is not None
    assert len(counters._offers.slots) <= 10 and len(counters._sources.slots) <= 10


# --- the population fit ---------------------------------------------------------------------


def test_the_population_is_refitted_once_per_staleness_bound_and_logged_with_the_decision() -> None:
    bandit = service(MemoryStore())
    first = bandit.decide("a", OFFERS, UCB).evidence
    for i in range(30):
        bandit.feedback(bandit.decide(f"b{i}", OFFERS, UCB).click_id, 5_000_000)
    later = bandit.decide("c", OFFERS, UCB).evidence
    assert first is not None and later is not None
    assert first.population and tuple(later.population) == tuple(first.population)  # the cached fit
    assert not np.array_equal(later.clicks, first.clicks)
    fresh = service(bandit.store, cache_ms=0.0).decide("d", OFFERS, UCB).evidence
    assert fresh is not None and tuple(fresh.population) != tuple(first.population)


# --- the group commit ------------------------------------------------------------------------


def sqlite_store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "bandit.db")


async def decide_all(bandit: BanditService, writer: GroupCommit, ids: list[str]) -> list:
    decider = bandit.decider

    async def one(click_id: str):
        decision = decider.choose(click_id, OFFERS, UCB, None)
        return decider.settle(await writer.run(decider.record, decision, OFFERS, recording=decision))

    return await asyncio.gather(*(one(i) for i in ids), return_exceptions=True)


def test_concurrent_writes_commit_in_one_batch_each_with_its_own_answer(tmp_path: Path) -> None:
    store = CountingStore(sqlite_store(tmp_path))
    bandit = service(store)
    writer = GroupCommit(store, max_operations=8)

    async def scenario():
        decisions = await decide_all(bandit, writer, [f"c{i}" for i in range(20)])
        feedback = [writer.run(bandit.decider.resolve, "c0", 0), writer.run(bandit.decider.resolve, "nope", 0)]
        return decisions, await asyncio.gather(*feedback, return_exceptions=True)

    decisions, (resolved, unknown) = asyncio.run(scenario())
    assert store.batches[:3] == [8, 8, 4]  # max_operations, then the rest at hand
    assert [d.click_id for d in decisions] == [f"c{i}" for i in range(20)]
    assert resolved[0].offer_id == decisions[0].offer_id and isinstance(unknown, UnknownClick)
    other = sqlite3.connect(tmp_path / "bandit.db")  # committed: seen from another connection
    assert other.execute("SELECT count(*) FROM clicks").fetchone() == (20,)


def test_acknowledged_means_committed(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    bandit = service(store)
    writer = GroupCommit(store, window_s=0.02)
    other = sqlite3.connect(tmp_path / "bandit.db")

    async def scenario():
        task = asyncio.ensure_future(decide_all(bandit, writer, ["a", "b"]))
        await asyncio.sleep(0.005)  # inside the batch's window: queued, not committed
        assert other.execute("SELECT count(*) FROM clicks").fetchone() == (0,)
        await task
        assert other.execute("SELECT count(*) FROM clicks").fetchone() == (2,)

    asyncio.run(scenario())


class FailingOnce:
    """A store whose first batch fails as a full disk does, after its first write."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self.failed = False

    def __getattr__(self, name):
        return getattr(self._store, name)

    @contextlib.contextmanager
    def batch(self, decisions=()) -> Iterator[None]:
        with self._store.batch(decisions):
            yield
            if not self.failed:
                self.failed = True
                raise StoreUnavailable("store unavailable: database or disk is full")


def test_a_store_failure_in_a_batch_keeps_nothing_of_it_and_each_write_is_retried_alone(tmp_path: Path) -> None:
    store = FailingOnce(sqlite_store(tmp_path))
    bandit = service(store)
    writer = GroupCommit(store)
    decisions = asyncio.run(decide_all(bandit, writer, ["a", "b", "c"]))
    assert store.failed and [d.click_id for d in decisions] == ["a", "b", "c"]
    assert all(d.recorded for d in decisions)
    assert store.read_offers(OFFERS).pooled[:, 0].sum() == 3  # once each: the failed batch left nothing
