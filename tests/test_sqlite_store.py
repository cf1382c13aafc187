"""What only the SQLite store has: WAL, schema versioning, refusing what it cannot serve."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cpa_bandit.domain import Decision, Offer, StoreUnavailable
from cpa_bandit.store import SQLiteStore, open_store
from cpa_bandit.store.base import COUNTER_COLUMNS, HourCounts
from cpa_bandit.store.sqlite import SCHEMA_VERSION


def test_database_is_in_wal_mode_with_a_schema_version(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "a" / "b.db").close()  # parent folders are created
    db = sqlite3.connect(tmp_path / "a" / "b.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_newer_schema_is_refused_rather_than_downgraded(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    SQLiteStore(path).close()
    sqlite3.connect(path, isolation_level=None).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="upgrade cpa-bandit"):
        SQLiteStore(path)


def test_store_urls(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/u.db", sqlite_synchronous="FULL")
    assert isinstance(store, SQLiteStore) and store.path == f"{tmp_path}/u.db"
    store.close()
    with pytest.raises(ValueError):
        SQLiteStore(":memory:")
    with pytest.raises(ValueError):
        SQLiteStore(tmp_path / "x.db", synchronous="OFF")


def test_a_locked_database_is_unavailable_not_an_error(tmp_path: Path) -> None:
    """Another process holding the write lock past busy_timeout: 503 material, no change."""
    path = tmp_path / "locked.db"
    store = SQLiteStore(path, busy_timeout_ms=50)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable, match="locked"):
            store.record_decision(Decision("c1", 1, None, 0.0))
    finally:
        holder.execute("ROLLBACK")
    assert store.read_offers([1]).pooled.tolist() == [[0] * len(COUNTER_COLUMNS)]
    assert store.record_decision(Decision("c1", 1, None, 0.0))[1]


def test_a_version_1_database_is_migrated_with_its_data(tmp_path: Path) -> None:
    """A database written before per-source counters keeps its counters, gains them per
    source from its clicks, and takes new decisions and late feedback."""
    from cpa_bandit.store.sqlite_schema import MIGRATIONS

    path = tmp_path / "v1.db"
    db = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[1]:
        db.execute(statement)
    clicks = [("k1", 4, "fb", 1_000_000), ("k2", 4, "fb", 0), ("k3", 4, None, None), ("k4", 5, "tt", None)]
    for click_id, offer_id, source, reward in clicks:
        db.execute(
            "INSERT INTO clicks (click_id, offer_id, source, created_at, params, reward_micros) VALUES (?, ?, ?, 1.0, '{}', ?)",
            (click_id, offer_id, source, reward),
        )
    db.execute("INSERT INTO offer_stats VALUES (4, 3, 2, 1, 1000000), (5, 1, 0, 0, 0)")
    db.execute("PRAGMA user_version = 1")
    db.close()

    store = SQLiteStore(path)
    rows = store.read_offers([4, 5], "fb")
    assert rows.pooled[:, :5].tolist() == [[3, 2, 1, 1_000_000, 0], [1, 0, 0, 0, 0]]
    assert rows.by_source[:, :5].tolist() == [[2, 2, 1, 1_000_000, 0], [0, 0, 0, 0, 0]]
    assert store.read_offers([5], "tt").by_source[:, :5].tolist() == [[1, 0, 0, 0, 0]]
    assert store.resolve_click("k4", 2_000_000, at=2.0)[1]
    assert store.read_offers([5], "tt").by_source.tolist() == [[1, 1, 1, 2_000_000, 0, 0, 0]]
    assert not (rows.pooled[:, 5:].any() or rows.by_source[:, 5:].any()), "no pending conversions before postbacks"
    assert store.record_decision(Decision("k5", 4, "fb", 3.0))[1]
    assert store.read_offers([4], "fb").by_source[0, 0] == 3
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_version_4_database_gains_hourly_resolved_and_reward_sq_from_its_clicks(tmp_path: Path) -> None:
    """Its hours count the clicks resolved or expired, its offers the squares of their clicks'
    rewards, the counters move on from there, and its offers can restart their evidence."""
    from cpa_bandit.store.sqlite_schema import MIGRATIONS

    path = tmp_path / "v4.db"
    db = sqlite3.connect(path, isolation_level=None)
    for version in range(1, 5):
        for statement in MIGRATIONS[version]:
            db.execute(statement)
    clicks = [("k1", 10.0, ""), ("k2", 20.0, ""), ("k3", 30.0, ""), ("k4", 3_610.0, "fb"), ("k5", 3_620.0, "")]
    for click_id, at, source in clicks:
        db.execute(
            "INSERT INTO clicks (click_id, offer_id, source, created_at, params) VALUES (?, 4, ?, ?, '{}')",
            (click_id, source, at),
        )
    db.execute("UPDATE clicks SET reward_micros = 2500000, conversions = 1 WHERE click_id IN ('k1', 'k4')")
    db.execute("UPDATE clicks SET reward_micros = 0 WHERE click_id = 'k2'")
    db.execute("UPDATE clicks SET expired = 1 WHERE click_id IN ('k3', 'k5')")
    db.execute("PRAGMA user_version = 4")
    db.close()

    store = SQLiteStore(path)
    assert store.hourly(0, 7_200) == [HourCounts(0, 4, 3, 3, 1, 2_500_000), HourCounts(3_600, 4, 2, 2, 1, 2_500_000)]
    assert store.read_offers([4]).reward_sq.tolist() == [2 * 2.5**2]
    assert store.resolve_click("k3", 1_000_000, at=40.0)[1]  # late feedback on an expired click
    assert store.hourly(0, 3_600) == [HourCounts(0, 4, 3, 3, 2, 3_500_000)]
    assert store.read_offers([4]).reward_sq.tolist() == [pytest.approx(2 * 2.5**2 + 1.0, rel=1e-9)]
    assert store.restart_offer(4, at=50.0, expected_since=0.0)
    rows = store.read_offers([4], "fb")
    assert rows.pooled_before.tolist() == rows.pooled.tolist()
    assert rows.by_source_before.tolist() == rows.by_source.tolist()
    assert rows.by_source.tolist() == [[1, 1, 1, 2_500_000, 0, 0, 0]]


def test_a_version_5_database_keeps_its_registry_and_refuses_unknown_statuses(tmp_path: Path) -> None:
    """Version 6 lets a status be ``archived``, and only the three statuses: what an older
    cpa-bandit would serve as active is refused by its schema version instead."""
    from cpa_bandit.store.sqlite_schema import MIGRATIONS

    path = tmp_path / "v5.db"
    db = sqlite3.connect(path, isolation_level=None)
    for version in range(1, 6):
        for statement in MIGRATIONS[version]:
            db.execute(statement)
    db.execute("INSERT INTO offers (offer_id, name, status, updated_at) VALUES (3, 'x', 'paused', 1.0)")
    db.execute("PRAGMA user_version = 5")
    db.close()

    store = SQLiteStore(path)
    assert store.get_offers() == [Offer(3, "x", None, "paused", 1.0)]
    assert store.patch_offer(3, {"status": "archived"}, 2.0) == Offer(3, "x", None, "archived", 2.0)
    assert store.read_offers([3]).status.tolist() == [2]
    with pytest.raises(sqlite3.IntegrityError, match="active, paused or archived"):
        store.put_offer(Offer(4, status="deleted"))
    raw = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute("UPDATE offers SET status = 'gone' WHERE offer_id = 3")
    assert store.get_offers() == [Offer(3, "x", None, "archived", 2.0)]
