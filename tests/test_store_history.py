"""The store contract for history: the decision log, hourly counters, sources (every store)."""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import replace

import numpy as np
import pytest

from cpa_bandit.conversions import Postback, Status
from cpa_bandit.decision_log import evidence_of
from cpa_bandit.domain import Decision, Evidence
from cpa_bandit.policies import ArmStats, SourceCounts
from cpa_bandit.policies.population import Population
from cpa_bandit.store import COUNTER_COLUMNS, MemoryStore, SQLiteStore, Store
from cpa_bandit.store.base import HOUR, HourCounts

DAY0 = 1_699_920_000.0  # a UTC midnight
EVIDENCE = Evidence(
    offers=(1, 2, 7),
    clicks=(10, 4, 0),
    resolved=(8, 2, 0),
    conversions=(1, 0, 0),
    reward=(12.5, 0, 0),
    payout=(None, 3.0, None),
)


def logged(click_id: str, at: float, offer_id: int = 1, source: str | None = None) -> Decision:
    return Decision(click_id, offer_id, source, at, {"sampler": "thompson", "thompson_a": 1.0, "thompson_b": 1.0},
                    0.25, EVIDENCE)  # fmt: skip


def everything(store: Store) -> list:
    return list(store.decision_log(-math.inf, math.inf))


def test_the_log_holds_logged_decisions_in_order_with_their_evidence_and_outcomes(store: Store) -> None:
    store.record_decision(logged("a", DAY0 + 10, offer_id=1, source="s1"))
    store.record_decision(replace(logged("unlogged", DAY0 + 11), evidence=None))
    store.record_decision(logged("b", DAY0 + 12, offer_id=2))
    store.record_decision(logged("c", DAY0 + 13, offer_id=7))
    store.record_decision(logged("d", DAY0 + 14, offer_id=1))
    store.record_decision(logged("a", DAY0 + 15, offer_id=2))  # a replay is not logged twice
    store.resolve_click("a", 2_500_000, at=DAY0 + 20)
    store.resolve_click("b", 0, at=DAY0 + 20)
    store.apply_postback(Postback("d", "tx", Status.approved, payout_micros=9_000_000), at=DAY0 + 20)
    store.expire_clicks(DAY0 + 13.5, limit=10)  # c's window passed

    log = everything(store)
    assert [entry.decision.click_id for entry in log] == ["a", "b", "c", "d"]
    first = log[0].decision
    assert (first.offer_id, first.source, first.created_at, first.propensity) == (1, "s1", DAY0 + 10, 0.25)
    assert first.params == {"sampler": "thompson", "thompson_a": 1.0, "thompson_b": 1.0}
    assert first.evidence == EVIDENCE
    outcomes = [(e.totals.reward_micros, e.totals.conversions, e.expired) for e in log]
    assert outcomes == [(2_500_000, 1, False), (0, 0, False), (None, 0, True), (9_000_000, 1, False)]


_CLICKS = np.array([2.0**62, 4.0, 0.0])  # float64 counts, as the policy has them
_SOURCE = SourceCounts(np.array([4.0, 0, 1]), np.array([3.0, 0, 1]), np.array([1.0, 0, 0]), np.array([0.3, 0, 0]), 200.0)
LOGGED = {
    "pooled, no payouts": evidence_of(
        [1, 2, 7], ArmStats(_CLICKS, _CLICKS, np.array([2.0**53, 0, 0]), np.array([0.1 + 0.2, 0, 0]))
    ),
    "source, payouts, reward_sq, population, big ids": evidence_of(
        [1, 2**63 - 1, 7],
        ArmStats(
            _CLICKS, np.array([9.0, 2, 0]), np.array([3.0, 0, 0]), np.array([1 / 3, 0, 1e300]),
            np.array([np.nan, 3.0, 7.25]), np.array([1 / 7, 0, 0]), _SOURCE,
        ),
        Population(0.021, 35.5, 1.25, 28.75, 12.5, 0.3, 0.04),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", LOGGED)
def test_a_logged_decisions_evidence_comes_back_the_same_exactly(store: Store, name: str) -> None:
    store.record_decision(replace(logged("a", DAY0 + 10, offer_id=7, source="s1"), evidence=LOGGED[name]))
    (entry,) = everything(store)
    back = entry.decision.evidence
    assert back == LOGGED[name]
    assert back.offers == LOGGED[name].offers and back.population == LOGGED[name].population
    assert np.asarray(back.reward).tobytes() == np.asarray(LOGGED[name].reward).tobytes()


def test_the_log_still_reads_evidence_written_as_json(store: Store) -> None:
    """Decisions logged before the binary form hold their evidence as JSON text: SQLite in
    the column, Redis under the entry's key ``e``; the memory store keeps no old data."""
    old = {"clicks": [10, 4.5, 0], "resolved": [8, 2.25, 0]}  # the first model's pseudo-counts
    old_row = json.dumps(json.loads(EVIDENCE.to_json()) | old, separators=(",", ":"))
    if isinstance(store, MemoryStore):
        pytest.skip("the memory store keeps the evidence itself")
    store.record_decision(replace(logged("old", DAY0 + 10), evidence=None))
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.path) as db:
            db.execute("UPDATE clicks SET evidence = ? WHERE click_id = 'old'", (old_row,))
    else:
        params = logged("old", 0).params
        fields = {"o": 1, "s": None, "at": DAY0 + 10, "p": params, "pr": 0.25, "c": "old", "e": old_row}
        store._r.xadd(f"{store._offer(1)}:log", {"d": json.dumps(fields)}, id=f"{int((DAY0 + 10) * 1000)}-0")
    store.record_decision(logged("new", DAY0 + 20))
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.path) as db:
            assert db.execute("SELECT typeof(evidence) FROM clicks WHERE click_id = 'new'").fetchone() == ("blob",)
    old_entry, new_entry = everything(store)
    assert old_entry.decision.click_id == "old" and old_entry.decision.evidence == Evidence.from_json(old_row)
    assert old_entry.decision.evidence.clicks == (10, 4.5, 0)
    assert new_entry.decision.evidence == EVIDENCE


def test_the_log_is_read_by_decision_time(store: Store) -> None:
    for i in range(12):
        store.record_decision(logged(f"k{i}", DAY0 + 100 * i, offer_id=1 + i % 3))
    window = [e.decision.click_id for e in store.decision_log(DAY0 + 300, DAY0 + 700)]
    assert window == ["k3", "k4", "k5", "k6"]
    assert list(store.decision_log(DAY0 + 5_000, math.inf)) == []


def test_retention_drops_old_log_entries_but_keeps_clicks_and_counters(store: Store) -> None:
    for i in range(6):
        store.record_decision(logged(f"k{i}", DAY0 + 100 * i))
    dropped = store.trim_history(DAY0 + 250, DAY0, limit=100)
    assert dropped == 3
    assert [e.decision.click_id for e in everything(store)] == ["k3", "k4", "k5"]
    assert store.find_click("k0") is not None
    assert store.read_offers([1]).pooled[0][0] == 6
    store.resolve_click("k0", 1_000_000, at=DAY0 + 900)  # a click out of the log still resolves


def test_hourly_counters_follow_the_hour_of_the_click(store: Store) -> None:
    hour = 3_600
    store.record_decision(logged("h0a", DAY0 + 10, offer_id=1))
    store.record_decision(logged("h0b", DAY0 + 20, offer_id=2))
    store.record_decision(logged("h1a", DAY0 + hour + 5, offer_id=1))
    store.record_decision(logged("h1b", DAY0 + hour + 6, offer_id=1))
    # conversions reported hours later count in the hour of their click
    store.resolve_click("h0a", 4_000_000, at=DAY0 + 5 * hour)
    store.apply_postback(Postback("h1a", "t1", Status.approved, payout_micros=7_000_000), at=DAY0 + 6 * hour)
    store.apply_postback(Postback("h1b", "t2", Status.approved, payout_micros=1_000_000), at=DAY0 + 6 * hour)
    store.apply_postback(Postback("h1b", "t2", Status.chargeback, payout_micros=1_000_000), at=DAY0 + 7 * hour)
    assert store.hourly(DAY0, DAY0 + 2 * hour) == [
        HourCounts(int(DAY0), 1, 1, 1, 1, 4_000_000),
        HourCounts(int(DAY0), 2, 1, 0, 0, 0),
        HourCounts(int(DAY0) + hour, 1, 2, 2, 1, 7_000_000),  # a charged-back click stays resolved
    ]
    assert store.hourly(DAY0 + hour, DAY0 + 2 * hour) == [HourCounts(int(DAY0) + hour, 1, 2, 2, 1, 7_000_000)]


def assert_hours_add_up_to_the_counters(store: Store, *offer_ids: int) -> None:
    """Over an offer's hours: its clicks, conversions and revenue, and as resolved the
    clicks whose outcome is known, the pooled resolved + expired."""
    hours = store.hourly(DAY0, DAY0 + 86_400)
    for offer_id, row in zip(offer_ids, store.read_offers(list(offer_ids)).pooled):
        pooled = dict(zip(COUNTER_COLUMNS, map(int, row)))
        own = [h for h in hours if h.offer_id == offer_id]
        summed = [sum(getattr(h, c) for h in own) for c in ("clicks", "resolved", "conversions", "reward_micros")]
        known = pooled["resolved"] + pooled["expired"]
        assert summed == [pooled["clicks"], known, pooled["conversions"], pooled["reward_micros"]], offer_id


def test_an_hours_resolved_counts_each_click_whose_outcome_is_known_once(store: Store) -> None:
    for i in range(4):
        store.record_decision(logged(f"f{i}", DAY0 + i, offer_id=1, source="s"))
    store.record_decision(logged("e", DAY0 + 5, offer_id=2))
    for i in range(2):
        store.record_decision(logged(f"p{i}", DAY0 + HOUR + i, offer_id=1))
    steps = [
        lambda: store.resolve_click("f0", 0, at=DAY0 + 10),
        lambda: store.resolve_click("f1", 5_000_000, at=DAY0 + 10),
        lambda: store.apply_postback(Postback("p0", "t0", Status.pending, payout_micros=9_000_000), at=DAY0 + 10),
        lambda: store.apply_postback(Postback("p0", "t0", Status.approved), at=DAY0 + 20),
        lambda: store.apply_postback(Postback("p0", "t0", Status.chargeback), at=DAY0 + 30),
        lambda: store.apply_postback(Postback("p1", "t1", Status.pending, payout_micros=2_000_000), at=DAY0 + 10),
        lambda: store.expire_clicks(DAY0 + HOUR, limit=10),  # f2, f3 and e; not p1
        lambda: store.resolve_click("f2", 3_000_000, at=DAY0 + 2 * HOUR),  # late feedback: known already
        lambda: store.resolve_click("f2", 3_000_000, at=DAY0 + 2 * HOUR),  # the same again
        lambda: store.apply_postback(Postback("e", "t2", Status.approved, payout_micros=4_000_000), at=DAY0 + 2 * HOUR),
        lambda: store.expire_clicks(DAY0 + 2 * HOUR, limit=10),  # p1: its conversion is still pending
    ]
    assert_hours_add_up_to_the_counters(store, 1, 2)
    for step in steps:
        step()
        assert_hours_add_up_to_the_counters(store, 1, 2)
    assert store.hourly(DAY0, DAY0 + 2 * HOUR) == [
        HourCounts(int(DAY0), 1, 4, 4, 2, 8_000_000),
        HourCounts(int(DAY0), 2, 1, 1, 1, 4_000_000),
        HourCounts(int(DAY0) + HOUR, 1, 2, 2, 0, 0),
    ]


def test_retention_drops_old_hours(store: Store) -> None:
    day = 86_400
    store.record_decision(logged("old", DAY0 + 10))
    store.record_decision(logged("new", DAY0 + day + 10))
    store.trim_history(-math.inf, DAY0 + day, limit=100)
    assert store.hourly(DAY0 - day, DAY0 + 2 * day) == [HourCounts(int(DAY0) + day, 1, 1, 0, 0, 0)]
    store.resolve_click("old", 1_000_000, at=DAY0 + 2 * day)
    store.expire_clicks(DAY0 + 2 * day, limit=10)
    assert store.hourly(DAY0 - day, DAY0 + 2 * day) == [HourCounts(int(DAY0) + day, 1, 1, 1, 0, 0)], (
        "an hour past retention is not brought back by a late outcome"
    )


def test_sources_are_listed_once(store: Store) -> None:
    assert store.known_sources() == []
    for i, source in enumerate(["zeta", "alpha", None, "zeta"]):
        store.record_decision(logged(f"s{i}", DAY0 + i, source=source))
    assert store.known_sources() == ["alpha", "zeta"]
    store.reset()
    assert store.known_sources() == [] and everything(store) == [] and store.hourly(DAY0, DAY0 + 86_400) == []
