"""How decisions read statistics: the per-replica cache, and deciding while the store is down."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from cpa_bandit.domain import StoreUnavailable
from cpa_bandit.policies import PolicyParams, Sampler
from cpa_bandit.service import BanditService, DecisionPath
from cpa_bandit.store import MemoryStore

UCB = PolicyParams(Sampler.ucb)


class FlakyStore(MemoryStore):
    """A memory store that can be switched off, and counts its reads."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.reads = 0

    def read_offers(self, offer_ids, source=None):
        self.reads += 1
        if self.down:
            raise StoreUnavailable("store unavailable: connection refused")
        return super().read_offers(offer_ids, source)

    def record_decision(self, decision):
        if self.down:
            raise StoreUnavailable("store unavailable: connection refused")
        return super().record_decision(decision)

    def resolve_click(self, click_id, reward_micros, at):
        if self.down:
            raise StoreUnavailable("store unavailable: connection refused")
        return super().resolve_click(click_id, reward_micros, at)


def trained(store: FlakyStore, path: DecisionPath) -> BanditService:
    """Offer 2 converts at 20 % for $10, offer 1 never: any sound decision picks 2."""
    service = BanditService(store, np.random.default_rng(0), decision_path=path)
    for i in range(400):
        decision = service.decide(f"t{i}", [1, 2], UCB)
        service.feedback(decision.click_id, 10_000_000 if decision.offer_id == 2 and i % 5 == 0 else 0)
    return service


def test_a_store_outage_answers_from_the_last_known_statistics_and_recovers() -> None:
    store = FlakyStore()
    service = trained(store, DecisionPath(store_retry_s=0.2))
    store.down = True
    answers = [service.decide(f"d{i}", [1, 2], UCB) for i in range(50)]
    assert all(not d.recorded for d in answers)
    assert sum(d.offer_id == 2 for d in answers) >= 45, "decisions still use what was learned"
    assert service.unrecorded_decisions == 50
    reads_during_outage = store.reads
    assert reads_during_outage <= 401 + 1, "a dead store is tried once per retry period, not per click"
    with pytest.raises(StoreUnavailable):
        service.feedback("d0", 0)
    store.down = False
    # clicks keep coming while the store is back: within a retry period they are recorded again
    started = time.monotonic()
    for i in itertools.count():
        back = service.decide(f"after{i}", [1, 2], UCB)
        if back.recorded:
            break
        assert time.monotonic() - started < 0.3, "decisions kept avoiding a store that is back"
        time.sleep(0.01)
    assert store.find_click(back.click_id) is not None
    assert store.find_click("d0") is None, "unrecorded decisions are not stored"


def test_offers_never_read_are_decided_from_zeros_during_an_outage() -> None:
    store = FlakyStore()
    service = BanditService(store, np.random.default_rng(1))
    store.down = True
    chosen = {service.decide(f"n{i}", [7, 8, 9], UCB).offer_id for i in range(60)}
    assert chosen == {7, 8, 9}


def test_the_cache_saves_reads_within_its_staleness_only() -> None:
    store = FlakyStore()
    service = BanditService(store, np.random.default_rng(2), decision_path=DecisionPath(cache_ms=200))
    for i in range(20):
        assert service.decide(f"c{i}", [1, 2], UCB).recorded
    assert store.reads == 1
    time.sleep(0.25)
    service.decide("late", [1, 2], UCB)
    assert store.reads == 2
    service.decide("other", [1, 3], UCB)  # offer 3 was never read: the store is asked
    assert store.reads == 3
    uncached = BanditService(FlakyStore(), np.random.default_rng(2))
    for i in range(5):
        uncached.decide(f"u{i}", [1, 2], UCB)
    assert uncached.store.reads == 5
