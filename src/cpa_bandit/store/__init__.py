"""Stores behind one protocol; ``open_store`` picks one from a URL.

URLs: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, ``memory://``,
``redis://host:port/db`` and ``redis+cluster://host:port`` (any node of the cluster).
"""

from __future__ import annotations

from .base import COUNTER_COLUMNS, Store
from .memory import MemoryStore
from .sqlite import SQLiteStore

__all__ = ["COUNTER_COLUMNS", "MemoryStore", "SQLiteStore", "Store", "open_store"]


def open_store(
    url: str,
    *,
    sqlite_synchronous: str = "NORMAL",
    click_ttl_s: float = 90 * 86_400.0,
    timeout_s: float = 0.2,
    redis_prefix: str = "cpab",
    read_only: bool = False,
) -> Store:
    """``read_only``: for commands that only read (``export``): a SQLite file must exist and is
    opened read-only, so a mistyped path is an error rather than a new empty database."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"store URL {url!r} has no scheme; use sqlite:///path.db or memory://")
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        if not path:
            raise ValueError(f"store URL {url!r} names no file; e.g. sqlite:///data/cpa-bandit.db")
        return SQLiteStore(path, synchronous=sqlite_synchronous, read_only=read_only)
    if scheme in ("redis", "rediss", "redis+cluster"):
        from .redis import RedisStore  # redis-py is only imported by deployments that use it

        return RedisStore.from_url(url, timeout_s=timeout_s, click_ttl_s=click_ttl_s, prefix=redis_prefix)
    raise ValueError(f"unknown store scheme {scheme!r} in {url!r}; use sqlite://, redis://, redis+cluster:// or memory://")
