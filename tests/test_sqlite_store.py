"""What only the SQLite store has: WAL, schema versioning, refusing what it cannot serve."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cpa_bandit.domain import Decision, StoreUnavailable
from cpa_bandit.store import SQLiteStore, open_store
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
    assert store.read_counters([1]).tolist() == [[0, 0, 0, 0]]
    assert store.record_decision(Decision("c1", 1, None, 0.0))[1]
