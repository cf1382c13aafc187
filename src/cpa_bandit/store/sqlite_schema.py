"""The SQLite schema, version by version, and the migrations between versions.

The counters follow the clicks inside the database itself, by triggers on the statement
that changes a click: they cannot drift from the clicks, and each domain operation is one
statement (one implicit transaction, one WAL commit).
"""

from __future__ import annotations

SCHEMA_VERSION = 7

_COUNTERS = """
    clicks        INTEGER NOT NULL DEFAULT 0,
    resolved      INTEGER NOT NULL DEFAULT 0,
    conversions   INTEGER NOT NULL DEFAULT 0,
    reward_micros INTEGER NOT NULL DEFAULT 0,
    expired       INTEGER NOT NULL DEFAULT 0
"""

_V1 = (
    """
CREATE TABLE clicks (
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
CREATE TABLE offer_stats (
    offer_id      INTEGER PRIMARY KEY,
    clicks        INTEGER NOT NULL DEFAULT 0,
    resolved      INTEGER NOT NULL DEFAULT 0,
    conversions   INTEGER NOT NULL DEFAULT 0,
    reward_micros INTEGER NOT NULL DEFAULT 0
)
""",
)

# Version 2: counters per (offer, source), the attribution window, the offer registry.
_V2 = (
    # clicks gets a rowid in decision order: the latest decisions and the clicks whose
    # attribution window passed are id ranges, with no index on time to update per click
    """
CREATE TABLE clicks_v2 (
    id            INTEGER PRIMARY KEY,
    click_id      TEXT NOT NULL UNIQUE,
    offer_id      INTEGER NOT NULL,
    source        TEXT NOT NULL DEFAULT '',   -- '' when the click named none
    created_at    REAL NOT NULL,
    params        TEXT NOT NULL,
    propensity    REAL,
    reward_micros INTEGER,                    -- NULL while the click is pending
    resolved_at   REAL,
    expired       INTEGER NOT NULL DEFAULT 0  -- 1: window passed without feedback
)
""",
    """
INSERT INTO clicks_v2 (click_id, offer_id, source, created_at, params, propensity, reward_micros, resolved_at)
SELECT click_id, offer_id, ifnull(source, ''), created_at, params, propensity, reward_micros, resolved_at
FROM clicks ORDER BY created_at
""",
    "DROP TABLE clicks",  # and the version 1 triggers with it
    "ALTER TABLE clicks_v2 RENAME TO clicks",
    "ALTER TABLE offer_stats ADD COLUMN expired INTEGER NOT NULL DEFAULT 0",
    f"CREATE TABLE source_stats (offer_id INTEGER NOT NULL, source TEXT NOT NULL, {_COUNTERS},"
    " PRIMARY KEY (offer_id, source)) WITHOUT ROWID",
    """
INSERT INTO source_stats (offer_id, source, clicks, resolved, conversions, reward_micros)
SELECT offer_id, source, count(*), count(reward_micros), count(nullif(reward_micros > 0, 0)),
       ifnull(sum(reward_micros), 0)
FROM clicks WHERE source != '' GROUP BY offer_id, source
""",
    """
CREATE TABLE offers (
    offer_id      INTEGER PRIMARY KEY,
    name          TEXT,
    payout_micros INTEGER,          -- declared payout, NULL when none
    status        TEXT NOT NULL,
    updated_at    REAL NOT NULL
)
""",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
    """
CREATE TRIGGER count_click AFTER INSERT ON clicks
BEGIN
    INSERT INTO offer_stats (offer_id, clicks) VALUES (NEW.offer_id, 1)
    ON CONFLICT (offer_id) DO UPDATE SET clicks = clicks + 1;
END
""",
    # a trigger of its own, so that clicks without a source skip it whole
    """
CREATE TRIGGER count_source_click AFTER INSERT ON clicks WHEN NEW.source != ''
BEGIN
    INSERT INTO source_stats (offer_id, source, clicks) VALUES (NEW.offer_id, NEW.source, 1)
    ON CONFLICT (offer_id, source) DO UPDATE SET clicks = clicks + 1;
END
""",
    """
CREATE TRIGGER count_outcome AFTER UPDATE OF reward_micros ON clicks
WHEN OLD.reward_micros IS NULL AND NEW.reward_micros IS NOT NULL
BEGIN
    UPDATE offer_stats SET resolved = resolved + 1,
        conversions = conversions + (NEW.reward_micros > 0),
        reward_micros = reward_micros + NEW.reward_micros,
        expired = expired - OLD.expired
    WHERE offer_id = NEW.offer_id;
    UPDATE source_stats SET resolved = resolved + 1,
        conversions = conversions + (NEW.reward_micros > 0),
        reward_micros = reward_micros + NEW.reward_micros,
        expired = expired - OLD.expired
    WHERE offer_id = NEW.offer_id AND source = NEW.source;
END
""",
    """
CREATE TRIGGER count_expiry AFTER UPDATE OF expired ON clicks
WHEN OLD.expired = 0 AND NEW.expired = 1 AND NEW.reward_micros IS NULL
BEGIN
    UPDATE offer_stats SET expired = expired + 1 WHERE offer_id = NEW.offer_id;
    UPDATE source_stats SET expired = expired + 1
    WHERE offer_id = NEW.offer_id AND source = NEW.source;
END
""",
)


def _move_counters(table: str, where: str, *more: str) -> str:
    """Move one counter row by the change of a click's outcome (see conversions.counter_delta);
    ``more``: assignments of the row's further columns."""
    also = "".join(f",\n        {assignment}" for assignment in more)
    return f"""
    UPDATE {table} SET
        resolved = resolved + (OLD.reward_micros IS NULL AND NEW.reward_micros IS NOT NULL),
        conversions = conversions + NEW.conversions - OLD.conversions,
        reward_micros = reward_micros + ifnull(NEW.reward_micros, 0) - ifnull(OLD.reward_micros, 0),
        expired = expired + (NEW.expired AND NEW.reward_micros IS NULL) - (OLD.expired AND OLD.reward_micros IS NULL),
        pending_conversions = pending_conversions + NEW.pending_conversions - OLD.pending_conversions,
        pending_reward_micros = pending_reward_micros + NEW.pending_reward_micros - OLD.pending_reward_micros{also}
    WHERE {where};"""


# Version 3: postback conversions with their lifecycle, pending conversions counted apart,
# conversion caps, refusals counted by reason. A click row now carries its outcome's totals
# (approved count and revenue, pending count and revenue); one trigger moves the counters by
# the change of those totals, whichever operation made it.
_V3 = (
    "ALTER TABLE clicks ADD COLUMN conversions INTEGER NOT NULL DEFAULT 0",
    "UPDATE clicks SET conversions = 1 WHERE reward_micros > 0",
    "ALTER TABLE clicks ADD COLUMN pending_conversions INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE clicks ADD COLUMN pending_reward_micros INTEGER NOT NULL DEFAULT 0",
    *(
        f"ALTER TABLE {table} ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0"
        for table in ("offer_stats", "source_stats")
        for column in ("pending_conversions", "pending_reward_micros")
    ),
    "DROP TRIGGER count_outcome",
    "DROP TRIGGER count_expiry",
    f"""
CREATE TRIGGER count_outcome
AFTER UPDATE OF reward_micros, conversions, pending_conversions, pending_reward_micros, expired ON clicks
BEGIN
    {_move_counters("offer_stats", "offer_id = NEW.offer_id")}
    {_move_counters("source_stats", "offer_id = NEW.offer_id AND source = NEW.source")}
END
""",
    """
CREATE TABLE conversions (
    click_id       TEXT NOT NULL,
    transaction_id TEXT NOT NULL,            -- '' when the postback named none
    offer_id       INTEGER NOT NULL,
    status         TEXT NOT NULL,            -- pending | approved | rejected | chargeback
    raw_status     TEXT,                     -- as the tracker sent it
    payout_micros  INTEGER NOT NULL,
    event          TEXT,
    created_at     REAL NOT NULL,
    updated_at     REAL NOT NULL,
    PRIMARY KEY (click_id, transaction_id)
) WITHOUT ROWID
""",
    "ALTER TABLE offers ADD COLUMN cap_daily INTEGER",
    "ALTER TABLE offers ADD COLUMN cap_monthly INTEGER",
    "ALTER TABLE offers ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC'",
    "ALTER TABLE offers ADD COLUMN multiple_conversions INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE offers ADD COLUMN capped_until REAL NOT NULL DEFAULT 0",
    """
CREATE TABLE cap_usage (
    offer_id    INTEGER NOT NULL,
    period      TEXT NOT NULL,               -- d:YYYY-MM-DD or m:YYYY-MM, offer's time zone
    conversions INTEGER NOT NULL,
    PRIMARY KEY (offer_id, period)
) WITHOUT ROWID
""",
    "CREATE TABLE postback_outcomes (outcome TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID",
)


def _hour_of(created_at: str) -> str:
    """The start of the UTC hour of a click's decision time, in Unix seconds."""
    return f"CAST({created_at} / 3600 AS INTEGER) * 3600"


# Version 4: the decision log (each click's evidence, cleared when its retention ends) and
# hourly counters per offer for the dashboard's charts, moved by triggers like the others.
_HOUR_OF_CLICK = _hour_of("NEW.created_at")
_V4 = (
    # domain.Evidence: JSON text, or since its binary form a BLOB (kept as such whatever the
    # declared type; no SQL reads into it); NULL: not logged
    "ALTER TABLE clicks ADD COLUMN evidence TEXT",
    """
CREATE TABLE offer_hours (
    offer_id      INTEGER NOT NULL,
    hour          INTEGER NOT NULL,          -- Unix seconds of the hour's start (UTC)
    clicks        INTEGER NOT NULL DEFAULT 0,
    conversions   INTEGER NOT NULL DEFAULT 0,
    reward_micros INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (offer_id, hour)
) WITHOUT ROWID
""",
    f"""
INSERT INTO offer_hours (offer_id, hour, clicks, conversions, reward_micros)
SELECT offer_id, {_hour_of("created_at")}, count(*), sum(conversions), ifnull(sum(reward_micros), 0)
FROM clicks GROUP BY 1, 2
""",
    f"""
CREATE TRIGGER count_click_hour AFTER INSERT ON clicks
BEGIN
    INSERT INTO offer_hours (offer_id, hour, clicks) VALUES (NEW.offer_id, {_HOUR_OF_CLICK}, 1)
    ON CONFLICT (offer_id, hour) DO UPDATE SET clicks = clicks + 1;
END
""",
    f"""
CREATE TRIGGER count_outcome_hour AFTER UPDATE OF reward_micros, conversions ON clicks
WHEN NEW.conversions != OLD.conversions OR ifnull(NEW.reward_micros, 0) != ifnull(OLD.reward_micros, 0)
BEGIN
    UPDATE offer_hours SET conversions = conversions + NEW.conversions - OLD.conversions,
        reward_micros = reward_micros + ifnull(NEW.reward_micros, 0) - ifnull(OLD.reward_micros, 0)
    WHERE offer_id = NEW.offer_id AND hour = {_HOUR_OF_CLICK};
END
""",
)

def _known(click: str) -> str:
    """Whether a click's outcome is known for learning (``click``: NEW or OLD)."""
    return f"({click}.reward_micros IS NOT NULL OR {click}.expired)"


def _squared(micros: str) -> str:
    """A reward in micros (an SQL expression, NULL for none) squared in currency units."""
    return f"(ifnull({micros}, 0) / 1e6) * (ifnull({micros}, 0) / 1e6)"


# Version 5: what detecting changes and the payouts' spread need. The hourly counters count
# the clicks whose outcome is known for learning (resolved or expired: the pooled resolved +
# expired, by hour of click); an offer's evidence may restart (a detected change) at
# ``since``, its counter rows then kept as ``<column>_before`` baselines (``offer_stats``
# and every ``source_stats`` row of the offer) and subtracted by the readers; and each offer
# sums its clicks' squared rewards in currency units, a REAL (squared micros would overflow
# INTEGER), moved by the counters' trigger.
_V5_COUNTERS = (
    "clicks", "resolved", "conversions", "reward_micros", "expired", "pending_conversions", "pending_reward_micros"
)  # fmt: skip
"""The counter columns as of version 5, spelled out rather than base.COUNTER_COLUMNS: a
migration must not change when the columns of later versions do."""
_MOVE_REWARD_SQ = f"reward_sq = reward_sq + ({_squared('NEW.reward_micros')} - {_squared('OLD.reward_micros')})"
_V5 = (
    "ALTER TABLE offer_hours ADD COLUMN resolved INTEGER NOT NULL DEFAULT 0",
    f"""
UPDATE offer_hours SET resolved = known.clicks FROM (
    SELECT offer_id, {_hour_of("created_at")} AS hour, count(*) AS clicks FROM clicks
    WHERE reward_micros IS NOT NULL OR expired GROUP BY 1, 2
) AS known WHERE offer_hours.offer_id = known.offer_id AND offer_hours.hour = known.hour
""",
    "DROP TRIGGER count_outcome_hour",
    f"""
CREATE TRIGGER count_outcome_hour AFTER UPDATE OF reward_micros, conversions, expired ON clicks
WHEN NEW.conversions != OLD.conversions OR NEW.reward_micros IS NOT OLD.reward_micros OR NEW.expired != OLD.expired
BEGIN
    UPDATE offer_hours SET resolved = resolved + {_known("NEW")} - {_known("OLD")},
        conversions = conversions + NEW.conversions - OLD.conversions,
        reward_micros = reward_micros + ifnull(NEW.reward_micros, 0) - ifnull(OLD.reward_micros, 0)
    WHERE offer_id = NEW.offer_id AND hour = {_HOUR_OF_CLICK};
END
""",
    "ALTER TABLE offer_stats ADD COLUMN reward_sq REAL NOT NULL DEFAULT 0",
    f"""
UPDATE offer_stats SET reward_sq = paid.reward_sq FROM (
    SELECT offer_id, sum({_squared("reward_micros")}) AS reward_sq FROM clicks WHERE reward_micros != 0 GROUP BY 1
) AS paid WHERE offer_stats.offer_id = paid.offer_id
""",
    "DROP TRIGGER count_outcome",
    f"""
CREATE TRIGGER count_outcome
AFTER UPDATE OF reward_micros, conversions, pending_conversions, pending_reward_micros, expired ON clicks
BEGIN
    {_move_counters("offer_stats", "offer_id = NEW.offer_id", _MOVE_REWARD_SQ)}
    {_move_counters("source_stats", "offer_id = NEW.offer_id AND source = NEW.source")}
END
""",
    "ALTER TABLE offer_stats ADD COLUMN since REAL NOT NULL DEFAULT 0",  # 0: never restarted
    "ALTER TABLE offer_stats ADD COLUMN reward_sq_before REAL NOT NULL DEFAULT 0",
    *(
        f"ALTER TABLE {table} ADD COLUMN {column}_before INTEGER NOT NULL DEFAULT 0"
        for table in ("offer_stats", "source_stats")
        for column in _V5_COUNTERS
    ),
)

# Version 6: the registry's status may be "archived" (never chosen, like "paused", and left
# out of the dashboard's default view). The column was free text: triggers now refuse any
# status but the three (SQLite cannot add a CHECK to an existing table), and the version
# makes an older cpa-bandit refuse the database rather than serve archived offers, whose
# status it would not recognise as resting.
_STATUS_KNOWN = "NEW.status NOT IN ('active', 'paused', 'archived')"
_V6 = tuple(
    f"""
CREATE TRIGGER offer_status_{name} BEFORE {event} ON offers WHEN {_STATUS_KNOWN}
BEGIN
    SELECT RAISE(ABORT, 'an offer status is active, paused or archived');
END
"""
    for name, event in (("inserted", "INSERT"), ("updated", "UPDATE OF status"))
)

# Version 7: smartlinks. An offer's landing URL template, and the smartlinks themselves (the
# service's JSON of each: the store keeps it opaque).
_V7 = (
    "ALTER TABLE offers ADD COLUMN url TEXT",
    "CREATE TABLE smartlinks (name TEXT PRIMARY KEY, spec TEXT NOT NULL) WITHOUT ROWID",
)

MIGRATIONS = {1: _V1, 2: _V2, 3: _V3, 4: _V4, 5: _V5, 6: _V6, 7: _V7}
"""Statements that take a database from version ``n - 1`` to version ``n``."""
