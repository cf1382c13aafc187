"""The embedded default store: one SQLite file in WAL mode, shared by worker processes.

Every domain operation is atomic (a single statement whose triggers move the counters, see
sqlite_schema.py, or an explicit ``BEGIN IMMEDIATE`` block), so concurrent workers
serialise their writes on SQLite's lock and counters stay exact; ``batch`` commits the
operations of concurrent requests in one transaction (group commit), each in a savepoint. With WAL and
``synchronous=NORMAL`` a committed transaction survives ``kill -9`` of the process (the
WAL is written before COMMIT returns); ``synchronous=FULL`` also survives power loss, at
the price of an fsync per request.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import caps
from ..conversions import (
    ClickTotals,
    Conversion,
    Postback,
    PostbackResult,
    Status,
    apply_postback,
    feedback_after_postback,
)
from ..domain import Decision, Offer, Outcome, StoreBusy, StoreUnavailable, UnknownClick, decode_evidence
from .base import COUNTER_COLUMNS, NO_SOURCE, ClickRecord, HourCounts, LoggedDecision, OfferRows, patched
from .sqlite_schema import MIGRATIONS, SCHEMA_VERSION

_SYNCHRONOUS = ("NORMAL", "FULL")
_WIDTH = len(COUNTER_COLUMNS)

_INSERT_CLICK = (
    "INSERT INTO clicks (click_id, offer_id, source, created_at, params, propensity, evidence)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (click_id) DO NOTHING"
)
LOG_BATCH = 5_000
"""Decision-log rows read per query: an export streams without holding a long read."""
# One row per requested id, zeros for offers never seen. json_each is the outer loop of the
# LEFT JOINs, so rows come in the order asked; its key is returned to check that cheaply
# rather than sorting (an ORDER BY costs a temporary b-tree on every decision). Without a
# source the per-source columns are constant zeros: no join, fewer values to fetch. The
# REAL columns come last, read apart from the int64 ones.
_BASELINE = tuple(f"{c}_before" for c in COUNTER_COLUMNS)
_POOLED = ", ".join(f"ifnull(p.{c}, 0)" for c in (*COUNTER_COLUMNS, *_BASELINE))
_BY_SOURCE = ", ".join(f"ifnull(s.{c}, 0)" for c in (*COUNTER_COLUMNS, *_BASELINE))
# the status as its index in domain.STATUSES; no entry (NULL): active
_REGISTRY = (
    "ifnull(o.payout_micros, -1), CASE o.status WHEN 'paused' THEN 1 WHEN 'archived' THEN 2 ELSE 0 END,"
    " ifnull(o.capped_until, 0)"
)
_REALS = ("since", "reward_sq", "reward_sq_before")
_OFFER_REALS = ", ".join(f"ifnull(p.{c}, 0.0)" for c in _REALS)
_OFFER_ROWS_SQL = (
    f"SELECT j.key, {_POOLED}, {_BY_SOURCE}, {_REGISTRY}, {_OFFER_REALS}"
    " FROM json_each(?) AS j"
    " LEFT JOIN offer_stats AS p ON p.offer_id = j.value"
    " LEFT JOIN source_stats AS s ON s.offer_id = j.value AND s.source = ?"
    " LEFT JOIN offers AS o ON o.offer_id = j.value"
)
_POOLED_ROWS_SQL = (
    f"SELECT j.key, {_POOLED}, {_REGISTRY}, {_OFFER_REALS}"
    " FROM json_each(?) AS j"
    " LEFT JOIN offer_stats AS p ON p.offer_id = j.value"
    " LEFT JOIN offers AS o ON o.offer_id = j.value"
)
# A restart keeps the counter rows of the offer as they are now as its baseline. Upserted: an
# offer without counters yet gets a row (clicks 0) to hold its evidence start.
_SNAPSHOT = ", ".join(f"{c}_before = {c}" for c in COUNTER_COLUMNS)
_RESTART_OFFER_SQL = (
    "INSERT INTO offer_stats (offer_id, since) VALUES (?, ?) ON CONFLICT (offer_id) DO UPDATE SET"
    f" since = excluded.since, {_SNAPSHOT}, reward_sq_before = reward_sq"
)
_OFFER_COLUMNS = (
    "offer_id, name, payout_micros, status, updated_at, cap_daily, cap_monthly, timezone, multiple_conversions,"
    " capped_until, url"
)
_CONVERSION_COLUMNS = (
    "click_id, transaction_id, offer_id, status, raw_status, payout_micros, event, created_at, updated_at"
)
_TOTALS = "reward_micros, conversions, pending_conversions, pending_reward_micros"
_DECISION = "click_id, offer_id, source, created_at, params, propensity"


def _on_event_loop() -> bool:
    """Whether this thread runs an asyncio event loop: a call there blocks every request of
    the worker while it waits, so it may wait only briefly for another process's lock."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _find_decision(db: sqlite3.Connection, click_id: str) -> Decision | None:
    row = db.execute(f"SELECT {_DECISION} FROM clicks WHERE click_id = ?", (click_id,)).fetchone()
    return None if row is None else _decision(row)


def _decision(row: Sequence, evidence: bytes | str | None = None) -> Decision:
    click_id, offer_id, source, created_at, params, propensity = row
    return Decision(
        click_id,
        offer_id,
        source or None,
        created_at,
        json.loads(params),
        propensity,
        None if evidence is None else decode_evidence(evidence),  # str: JSON logged before the binary form
    )


def _offer(row: Sequence) -> Offer:
    *head, multiple, capped_until, url = row
    return Offer(*head, multiple_conversions=bool(multiple), capped_until=capped_until, url=url)


def _conversion(row: Sequence) -> Conversion:
    click_id, transaction_id, offer_id, status, *rest = row
    return Conversion(click_id, transaction_id, offer_id, Status(status), *rest)


def _advance(db: sqlite3.Connection, watermark: str, decided_before: float, condition: str, limit: int) -> list[int]:
    """Up to ``limit`` ids of the clicks decided before that time that meet ``condition``,
    after the ``watermark`` (a meta key) left by the last call, which moves past them: each
    sweep then looks only at the clicks decided since the previous one."""
    (after,) = db.execute("SELECT ifnull((SELECT value FROM meta WHERE key = ?), 0)", (watermark,)).fetchone()
    last = _last_id_before(db, after, decided_before)
    ids = [
        click for (click,) in db.execute(
            f"SELECT id FROM clicks WHERE id > ? AND id <= ? AND {condition} ORDER BY id LIMIT ?", (after, last, limit)
        )
    ]  # fmt: skip
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (watermark, ids[-1] if len(ids) == limit else last),
    )
    return ids


def _last_id_before(db: sqlite3.Connection, after: int, time: float) -> int:
    """The last click id after ``after`` decided before ``time``, by bisection on ids:
    decision times grow with ids (up to the clock skew of the workers, which the
    attribution window dwarfs)."""
    (high,) = db.execute("SELECT ifnull(max(id), 0) FROM clicks").fetchone()
    low = after  # invariant: the clicks in (after, low] were decided before ``time``
    while low < high:
        middle = (low + high + 1) // 2
        row = db.execute("SELECT created_at FROM clicks WHERE id >= ? ORDER BY id LIMIT 1", (middle,)).fetchone()
        if row is not None and row[0] < time:
            low = middle
        else:
            high = middle - 1
    return low


class SQLiteStore:
    remote = False

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 10_000,
        loop_busy_timeout_ms: int = 50,
        read_only: bool = False,
    ):
        self.path = str(path)
        if self.path == ":memory:" or synchronous not in _SYNCHRONOUS:
            # each thread's connection would see its own empty in-memory database
            raise ValueError(f"SQLiteStore needs a file and synchronous in {_SYNCHRONOUS}; use memory:// for RAM")
        self._read_only = read_only
        if read_only and not Path(self.path).is_file():
            raise ValueError(f"no database at {self.path}")
        if not read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._loop_busy_timeout_ms = loop_busy_timeout_ms
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._check_schema() if read_only else self._migrate()

    # --- domain operations -------------------------------------------------------------

    def record_decision(self, decision: Decision) -> tuple[Decision, bool]:
        row = (
            decision.click_id,
            decision.offer_id,
            decision.source or NO_SOURCE,
            decision.created_at,
            json.dumps(decision.params, separators=(",", ":")),
            decision.propensity,
            None if decision.evidence is None else decision.evidence.to_bytes(),  # a BLOB in the TEXT column
        )
        with self._errors():
            if self._db().execute(_INSERT_CLICK, row).rowcount:
                return decision, True
        # A replay. Read the stored decision in a transaction with a second insert: a reset
        # may have removed the click since the first one.
        with self._transaction() as db:
            if db.execute(_INSERT_CLICK, row).rowcount:
                return decision, True
            stored = _find_decision(db, decision.click_id)
        assert stored is not None, "inserted or found in one transaction"
        return stored, False

    def find_click(self, click_id: str) -> ClickRecord | None:
        with self._transaction("BEGIN") as db:  # one snapshot of the click and its conversions
            decision = _find_decision(db, click_id)
            if decision is None:
                return None
            totals_expired = db.execute(f"SELECT {_TOTALS}, expired FROM clicks WHERE click_id = ?", (click_id,)).fetchone()
            conversions = db.execute(
                f"SELECT {_CONVERSION_COLUMNS} FROM conversions WHERE click_id = ? ORDER BY created_at, transaction_id",
                (click_id,),
            ).fetchall()
        *totals, expired = totals_expired
        return ClickRecord(decision, ClickTotals(*totals), bool(expired), [_conversion(row) for row in conversions])

    def resolve_click(self, click_id: str, reward_micros: int, at: float) -> tuple[Outcome, bool]:
        db = self._db()
        with self._errors():
            row = db.execute(
                "UPDATE clicks SET reward_micros = ?1, conversions = ?1 > 0, resolved_at = ?2"
                " WHERE click_id = ?3 AND reward_micros IS NULL"
                " AND NOT EXISTS (SELECT 1 FROM conversions WHERE click_id = ?3) RETURNING offer_id",
                (reward_micros, at, click_id),
            ).fetchall()  # stepping to the end completes the statement, which commits it
            if row:
                return Outcome(click_id, row[0][0], reward_micros), True
            row = db.execute(
                "SELECT offer_id, reward_micros FROM clicks WHERE click_id = ?", (click_id,)
            ).fetchone()
        if row is None:
            raise UnknownClick(f"unknown click_id {click_id!r}: no decision was recorded for it")
        if row[1] is None:
            raise feedback_after_postback(click_id, row[0])
        return Outcome(click_id, row[0], row[1]), False

    def apply_postback(self, postback: Postback, at: float) -> PostbackResult:
        with self._transaction() as db:
            click = db.execute(f"SELECT offer_id, {_TOTALS} FROM clicks WHERE click_id = ?", (postback.click_id,)).fetchone()
            if click is None:
                raise UnknownClick(f"unknown click_id {postback.click_id!r}: no decision was recorded for it")
            offer_id, *totals = click
            conversions = db.execute(
                f"SELECT {_CONVERSION_COLUMNS} FROM conversions WHERE click_id = ?", (postback.click_id,)
            ).fetchall()
            offer_row = db.execute(f"SELECT {_OFFER_COLUMNS} FROM offers WHERE offer_id = ?", (offer_id,)).fetchone()
            offer = _offer(offer_row) if offer_row else None
            result = apply_postback(
                postback,
                offer_id=offer_id,
                totals=ClickTotals(*totals),
                conversions=[_conversion(row) for row in conversions],
                offer=offer,
                at=at,
            )
            if not result.changed:
                return result
            db.executemany(
                f"INSERT OR REPLACE INTO conversions ({_CONVERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(c.click_id, c.transaction_id, c.offer_id, str(c.status), c.raw_status, c.payout_micros, c.event,
                  c.created_at, c.updated_at) for c in result.writes],
            )  # fmt: skip
            t = result.totals
            db.execute(
                f"UPDATE clicks SET ({_TOTALS}) = (?, ?, ?, ?),"
                " resolved_at = CASE WHEN reward_micros IS NULL THEN ?5 ELSE resolved_at END WHERE click_id = ?6",
                (t.reward_micros, t.conversions, t.pending_conversions, t.pending_reward_micros, at, postback.click_id),
            )
            if result.uses_cap:
                self._use_cap(db, offer or Offer(offer_id), at)
        return result

    def count_postback(self, outcome: str) -> None:
        with self._errors():
            self._db().execute(
                "INSERT INTO postback_outcomes (outcome, count) VALUES (?, 1)"
                " ON CONFLICT (outcome) DO UPDATE SET count = count + 1",
                (outcome,),
            )

    def postback_counts(self) -> dict[str, int]:
        with self._errors():
            return dict(self._db().execute("SELECT outcome, count FROM postback_outcomes").fetchall())

    def expire_clicks(self, decided_before: float, limit: int) -> int:
        with self._transaction() as db:
            ids = _advance(db, "expired_through_id", decided_before, "reward_micros IS NULL AND expired = 0", limit)
            db.executemany("UPDATE clicks SET expired = 1 WHERE id = ?", ((click,) for click in ids))
        return len(ids)

    def decision_log(self, since: float, until: float) -> Iterator[LoggedDecision]:
        with self._errors():
            db = self._db()
            after = _last_id_before(db, 0, since)
            last = _last_id_before(db, after, until)
        while after < last:
            with self._errors():
                rows = self._db().execute(
                    f"SELECT id, {_DECISION}, evidence, {_TOTALS}, expired FROM clicks"
                    " WHERE id > ? AND id <= ? AND evidence IS NOT NULL ORDER BY id LIMIT ?",
                    (after, last, LOG_BATCH),
                ).fetchall()
            for row in rows:
                yield LoggedDecision(_decision(row[1:7], row[7]), ClickTotals(*row[8:12]), bool(row[12]))
            if len(rows) < LOG_BATCH:
                return
            after = rows[-1][0]

    def trim_history(self, log_before: float, hours_before: float, limit: int) -> int:
        with self._transaction() as db:
            ids = _advance(db, "log_trimmed_through_id", log_before, "evidence IS NOT NULL", limit)
            if ids:
                db.execute("UPDATE clicks SET evidence = NULL WHERE id BETWEEN ? AND ?", (ids[0], ids[-1]))
            db.execute("DELETE FROM offer_hours WHERE hour < ?", (hours_before,))
        return len(ids)

    def hourly(self, since: float, until: float) -> list[HourCounts]:
        with self._errors():
            rows = self._db().execute(
                "SELECT hour, offer_id, clicks, resolved, conversions, reward_micros FROM offer_hours"
                " WHERE hour >= ? AND hour < ? ORDER BY hour, offer_id",
                (since, until),
            ).fetchall()
        return [HourCounts(*row) for row in rows]

    def known_sources(self) -> list[str]:
        with self._errors():
            rows = self._db().execute("SELECT DISTINCT source FROM source_stats ORDER BY 1").fetchall()
        return [source for (source,) in rows]

    def read_offers(self, offer_ids: Sequence[int], source: str | None = None) -> OfferRows:
        ids = json.dumps(list(offer_ids))
        with self._errors():
            if source:
                rows = self._db().execute(_OFFER_ROWS_SQL, (ids, source)).fetchall()
            else:
                rows = self._db().execute(_POOLED_ROWS_SQL, (ids,)).fetchall()
        # capped_until is a whole second (a local midnight): int64 keeps every counter exact
        k, blocks, reals = len(offer_ids), 4 if source else 2, len(_REALS)
        matrix = np.array([row[:-reals] for row in rows], dtype=np.int64).reshape(k, 4 + _WIDTH * blocks)
        floats = np.array([row[-reals:] for row in rows], dtype=np.float64).reshape(k, reals)
        if not np.array_equal(matrix[:, 0], np.arange(k)):
            order = np.argsort(matrix[:, 0])
            matrix, floats = matrix[order], floats[order]
        counters = matrix[:, 1:-3].reshape(k, blocks, _WIDTH)
        return OfferRows.from_read(counters, matrix[:, -3], matrix[:, -2], matrix[:, -1], floats)

    def restart_offer(self, offer_id: int, at: float, expected_since: float) -> bool:
        with self._transaction() as db:
            (since,) = db.execute(
                "SELECT ifnull((SELECT since FROM offer_stats WHERE offer_id = ?), 0.0)", (offer_id,)
            ).fetchone()
            if since != expected_since:
                return False
            db.execute(_RESTART_OFFER_SQL, (offer_id, at))
            db.execute(f"UPDATE source_stats SET {_SNAPSHOT} WHERE offer_id = ?", (offer_id,))
        return True

    def known_offer_ids(self) -> list[int]:
        with self._errors():
            rows = self._db().execute(  # clicks 0: a row that only holds an evidence restart
                "SELECT offer_id FROM offer_stats WHERE clicks > 0 UNION SELECT offer_id FROM offers ORDER BY 1"
            ).fetchall()
        return [offer_id for (offer_id,) in rows]

    def recent_choices(self, decisions: int) -> dict[int, int]:
        with self._errors():
            rows = self._db().execute(
                "SELECT offer_id, count(*) FROM"
                " (SELECT offer_id FROM clicks ORDER BY id DESC LIMIT ?) GROUP BY offer_id",
                (decisions,),
            ).fetchall()
        return dict(rows)

    def put_offer(self, offer: Offer) -> Offer:
        with self._transaction() as db:
            return self._put(db, offer)

    def patch_offer(self, offer_id: int, changes: Mapping[str, object], at: float) -> Offer | None:
        with self._transaction() as db:  # BEGIN IMMEDIATE: no other write between the read and the write
            row = db.execute(f"SELECT {_OFFER_COLUMNS} FROM offers WHERE offer_id = ?", (offer_id,)).fetchone()
            if row is None:
                return None
            current = _offer(row)
            new = patched(current, changes, at)
            return current if new is None else self._put(db, new)

    def get_offers(self, offer_ids: Sequence[int] | None = None) -> list[Offer]:
        with self._errors():
            if offer_ids is None:
                rows = self._db().execute(f"SELECT {_OFFER_COLUMNS} FROM offers ORDER BY offer_id").fetchall()
            else:
                rows = self._db().execute(
                    f"SELECT {_OFFER_COLUMNS} FROM offers WHERE offer_id IN (SELECT value FROM json_each(?))"
                    " ORDER BY offer_id",
                    (json.dumps(list(offer_ids)),),
                ).fetchall()
        return [_offer(row) for row in rows]

    def put_smartlink(self, name: str, spec: str) -> None:
        with self._errors():
            self._db().execute("INSERT OR REPLACE INTO smartlinks (name, spec) VALUES (?, ?)", (name, spec))

    def get_smartlink(self, name: str) -> str | None:
        with self._errors():
            row = self._db().execute("SELECT spec FROM smartlinks WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def list_smartlinks(self) -> dict[str, str]:
        with self._errors():
            return dict(self._db().execute("SELECT name, spec FROM smartlinks ORDER BY name").fetchall())

    def delete_smartlink(self, name: str) -> bool:
        with self._errors():
            return self._db().execute("DELETE FROM smartlinks WHERE name = ?", (name,)).rowcount > 0

    def reset(self) -> None:
        with self._transaction() as db:
            for table in (
                "clicks", "offer_stats", "source_stats", "offers", "meta", "conversions", "cap_usage", "postback_outcomes",
                "offer_hours", "smartlinks",
            ):  # fmt: skip
                db.execute(f"DELETE FROM {table}")

    def close(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    # --- plumbing ----------------------------------------------------------------------

    def _put(self, db: sqlite3.Connection, offer: Offer) -> Offer:
        offer = replace(offer, capped_until=caps.capped_until(offer, offer.updated_at, self._usage(db, offer)))
        db.execute(
            f"INSERT OR REPLACE INTO offers ({_OFFER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (offer.offer_id, offer.name, offer.payout_micros, offer.status, offer.updated_at, offer.cap_daily,
             offer.cap_monthly, offer.timezone, offer.multiple_conversions, offer.capped_until, offer.url),
        )  # fmt: skip
        return offer

    @staticmethod
    def _usage(db: sqlite3.Connection, offer: Offer) -> dict[str, int]:
        keys = [period.key for period in caps.periods(offer, offer.updated_at)]
        return dict(
            db.execute(
                "SELECT period, conversions FROM cap_usage WHERE offer_id = ? AND period IN (SELECT value FROM json_each(?))",
                (offer.offer_id, json.dumps(keys)),
            ).fetchall()
        )

    @staticmethod
    def _use_cap(db: sqlite3.Connection, offer: Offer, at: float) -> None:
        """Count a conversion in the offer's day and month; rest the offer at a full one."""
        usage = {}
        for period in caps.periods(offer, at):
            (usage[period.key],) = db.execute(
                "INSERT INTO cap_usage (offer_id, period, conversions) VALUES (?, ?, 1)"
                " ON CONFLICT (offer_id, period) DO UPDATE SET conversions = conversions + 1 RETURNING conversions",
                (offer.offer_id, period.key),
            ).fetchone()
        if (until := caps.capped_until(offer, at, usage)) > offer.capped_until:
            db.execute("UPDATE offers SET capped_until = ? WHERE offer_id = ?", (until, offer.offer_id))

    def _db(self) -> sqlite3.Connection:
        """One connection per thread: sqlite3 connections must not cross threads."""
        db = getattr(self._local, "db", None)
        if db is None:
            target, uri = (f"{Path(self.path).resolve().as_uri()}?mode=ro", True) if self._read_only else (self.path, False)
            db = sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False)
            self._local.on_loop = _on_event_loop()
            timeout = self._loop_busy_timeout_ms if self._local.on_loop else self._busy_timeout_ms
            db.execute(f"PRAGMA busy_timeout = {int(timeout)}")
            if not self._read_only:  # a reader takes the file's journal mode as it is
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
            if getattr(self._local, "on_loop", False) and "locked" in str(exc):
                raise StoreBusy(f"store busy: {exc}") from exc
            raise StoreUnavailable(f"store unavailable: {exc}") from exc

    @contextmanager
    def batch(self, decisions: Sequence[Decision] = ()) -> Iterator[None]:
        """Run the operations of the block in one write transaction, committed at its end
        (group commit: one commit, and one write of the pages they share, for many
        operations). Each operation keeps its own atomicity inside it (a savepoint); an
        operation that fails on the store (``StoreUnavailable``, ``StoreBusy``) may have
        ended the transaction, so the caller must then run the block's operations again,
        each alone. Nothing of the block is durable before it ends without an exception."""
        with self._transaction():
            self._local.batch = True
            try:
                yield
            finally:
                self._local.batch = False

    @contextmanager
    def _transaction(self, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """A write transaction; ``begin="BEGIN"`` for a read snapshot that takes no write lock.
        Within a ``batch``, a savepoint of the batch's transaction."""
        db = self._db()
        commit, rollback = "COMMIT", ("ROLLBACK",)
        if getattr(self._local, "batch", False):
            begin, commit, rollback = "SAVEPOINT operation", "RELEASE operation", ("ROLLBACK TO operation", "RELEASE operation")
        with self._errors():
            db.execute(begin)
            try:
                yield db
                db.execute(commit)
            except BaseException:
                if db.in_transaction:
                    for statement in rollback:
                        db.execute(statement)
                raise

    def _migrate(self) -> None:
        with self._transaction() as db:
            version = self._schema_version(db)
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target]:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_schema(self) -> None:
        """A reader may not migrate: it needs the schema this code reads."""
        try:
            version = self._schema_version(self._db())
        except sqlite3.DatabaseError as exc:
            raise RuntimeError(f"cannot read {self.path}: {exc}") from None
        if version != SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} is not a cpa-bandit database" if version == 0 else f"{self.path} has schema version"
                f" {version}, older than this cpa-bandit's {SCHEMA_VERSION}: serve it once to upgrade it"
            )

    def _schema_version(self, db: sqlite3.Connection) -> int:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} has schema version {version}; this cpa-bandit knows up to"
                f" {SCHEMA_VERSION}: upgrade cpa-bandit rather than downgrade the data"
            )
        return version

