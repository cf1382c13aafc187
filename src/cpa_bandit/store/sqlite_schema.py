"""The SQLite schema, version by version, and the migrations between versions.

The counters follow the clicks inside the database itself, by triggers on the statement
that changes a click: they cannot drift from the clicks, and each domain operation is one
statement (one implicit transaction, one WAL commit).
"""

from __future__ import annotations

SCHEMA_VERSION = 2

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

MIGRATIONS = {1: _V1, 2: _V2}
"""Statements that take a database from version ``n - 1`` to version ``n``."""
