"""Fixtures shared by the unit and API tests: apps built on temporary stores."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cpa_bandit.api import create_app
from cpa_bandit.config import Settings
from cpa_bandit.store import MemoryStore, SQLiteStore, Store
from cpa_bandit.store.redis import RedisStore
from redis_servers import RedisClusterServers, RedisServer

ADMIN_KEY = "test-admin-key-0123456"
_PREFIXES = itertools.count()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    cluster = RedisClusterServers.start(tmp_path_factory.mktemp("redis-cluster"))
    yield cluster
    cluster.stop()


@pytest.fixture(params=["memory", "sqlite", "redis", "redis-cluster"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Builds stores of one kind that share their data, as a restarted process (or another
    replica) would: the same SQLite file, the same Redis key prefix (one per test)."""
    opened: list[Store] = []
    shared_memory = MemoryStore()
    prefix = f"test{next(_PREFIXES)}"
    url = None
    if request.param == "redis":
        url = request.getfixturevalue("redis_server").url
    elif request.param == "redis-cluster":
        url = request.getfixturevalue("redis_cluster").url

    def make() -> Store:
        if request.param == "memory":
            store: Store = shared_memory
        elif request.param == "sqlite":
            store = SQLiteStore(tmp_path / "store.db")
        else:
            store = RedisStore.from_url(url, prefix=prefix)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Callable[[], Store]) -> Store:
    return make_store()


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    settings = Settings(store=f"sqlite:///{tmp_path}/api.db", admin_key=ADMIN_KEY, max_offers=50)
    return create_app(settings, rng=np.random.default_rng(7))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client
