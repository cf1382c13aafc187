"""The embedded default store: one SQLite file in WAL mode, shared by worker processes.

Every domain operation is one transaction (a single statement whose triggers move the
counters, or an explicit ``BEGIN IMMEDIATE`` block), so concurrent workers serialise their
writes on SQLite's lock and counters stay exact. With WAL and
``synchronous=NORMAL`` a committed transaction survives ``kill -9`` of the process (the
WAL is written before COMMIT returns); ``synchronous=FULL`` also survives power loss, at
the price of an fsync per request.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..domain import Decision, Outcome, StoreUnavailable, UnknownClick
from .base import COUNTER_COLUMNS

SCHEMA_VERSION = 1
_SYNCHRONOUS = ("NORMAL", "FULL")

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS clicks (
    click_id      TEXT PRIMARY KEY,
    offer_id      INTEGER NOT NULL,
    source        TEXT,
    created_at    REAL NOT NULL,
    params        TEXT NOT NULL,
    propensity    REAL,
    reward_micros INTEGER,          -- NULL while the click is pending
    resolved_at   REAL
) WITHOUT ROWID
""",
    """
CREATE TABLE IF NOT EXISTS offer_stats (
    offer_id      INTEGER PRIMARY KEY,
    clicks        INTEGER NOT NULL DEFAULT 0,
    resolved      INTEGER NOT NULL DEFAULT 0,
    conversions   INTEGER NOT NULL DEFAULT 0,
    reward_micros INTEGER NOT NULL DEFAULT 0
)
""",
    # The counters follow the clicks inside the database itself, in the statement that
    # changes a click: they cannot drift from the clicks, and each domain operation is a
    # single statement (one implicit transaction, one WAL commit).
    """
CREATE TRIGGER IF NOT EXISTS count_click AFTER INSERT ON clicks
BEGIN
    INSERT INTO offer_stats (offer_id, clicks) VALUES (NEW.offer_id, 1)
    ON CONFLICT (offer_id) DO UPDATE SET clicks = clicks + 1;
END
""",
    """
CREATE TRIGGER IF NOT EXISTS count_outcome AFTER UPDATE OF reward_micros ON clicks
WHEN OLD.reward_micros IS NULL AND NEW.reward_micros IS NOT NULL
BEGIN
    UPDATE offer_stats SET resolved = resolved + 1,
        conversions = conversions + (NEW.reward_micros > 0),
        reward_micros = reward_micros + NEW.reward_micros
    WHERE offer_id = NEW.offer_id;
END
""",
)

_INSERT_CLICK = (
    "INSERT INTO clicks (click_id, offer_id, source, created_at, params, propensity)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (click_id) DO NOTHING"
)
_COUNTERS_SQL = (
    # one row per requested id, in the order asked, zeros for offers never seen
    f"SELECT {', '.join(f'ifnull(s.{c}, 0)' for c in COUNTER_COLUMNS)}"
    " FROM json_each(?) AS j LEFT JOIN offer_stats AS s ON s.offer_id = j.value ORDER BY j.key"
)


class SQLiteStore:
    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL", busy_timeout_ms: int = 10_000):
        self.path = str(path)
        if self.path == ":memory:" or synchronous not in _SYNCHRONOUS:
            # each thread's connection would see its own empty in-memory database
            raise ValueError(f"SQLiteStore needs a file and synchronous in {_SYNCHRONOUS}; use memory:// for RAM")
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._migrate()

    # --- domain operations -------------------------------------------------------------

    def record_decision(self, decision: Decision) -> tuple[Decision, bool]:
        row = (
            decision.click_id,
            decision.offer_id,
            decision.source,
            decision.created_at,
            json.dumps(decision.params, separators=(",", ":")),
            decision.propensity,
        )
        with self._errors():
            if self._db().execute(_INSERT_CLICK, row).rowcount:
                return decision, True
        # A replay. Read the stored decision in a transaction with a second insert: a reset
        # may have removed the click since the first one.
        with self._transaction() as db:
            if db.execute(_INSERT_CLICK, row).rowcount:
                return decision, True
            offer_id, source, created_at, params, propensity = db.execute(
                "SELECT offer_id, source, created_at, params, propensity FROM clicks WHERE click_id = ?",
                (decision.click_id,),
            ).fetchone()
        return Decision(decision.click_id, offer_id, source, created_at, json.loads(params), propensity), False

    def resolve_click(self, click_id: str, reward_micros: int, at: float) -> tuple[Outcome, bool]:
        db = self._db()
        with self._errors():
            row = db.execute(
                "UPDATE clicks SET reward_micros = ?, resolved_at = ?"
                " WHERE click_id = ? AND reward_micros IS NULL RETURNING offer_id",
                (reward_micros, at, click_id),
            ).fetchall()  # stepping to the end completes the statement, which commits it
            if row:
                return Outcome(click_id, row[0][0], reward_micros), True
            row = db.execute(
                "SELECT offer_id, reward_micros FROM clicks WHERE click_id = ?", (click_id,)
            ).fetchone()
        if row is None:
            raise UnknownClick(f"unknown click_id {click_id!r}: no decision was recorded for it")
        return Outcome(click_id, row[0], row[1]), False

    def read_counters(self, offer_ids: Sequence[int]) -> np.ndarray:
        with self._errors():
            rows = self._db().execute(_COUNTERS_SQL, (json.dumps(list(offer_ids)),)).fetchall()
        return np.array(rows, dtype=np.int64).reshape(len(offer_ids), len(COUNTER_COLUMNS))

    def reset(self) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM clicks")
            db.execute("DELETE FROM offer_stats")

    def close(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    # --- plumbing ----------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        """One connection per thread: sqlite3 connections must not cross threads."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute(f"PRAGMA synchronous = {self._synchronous}")
            self._local.db = db
            with self._connections_lock:
                self._connections.append(db)
        return db

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            # Locked past busy_timeout, disk full, read-only file: the client should retry.
            raise StoreUnavailable(f"store unavailable: {exc}") from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        with self._errors():
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def _migrate(self) -> None:
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} has schema version {version}; this cpa-bandit knows up to"
                    f" {SCHEMA_VERSION}: upgrade cpa-bandit rather than downgrade the data"
                )
            if version < SCHEMA_VERSION:
                for statement in _SCHEMA:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
