"""Fixtures shared by the unit and API tests: apps built on temporary stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cpa_bandit.api import create_app
from cpa_bandit.config import Settings
from cpa_bandit.store import MemoryStore, SQLiteStore, Store

ADMIN_KEY = "test-admin-key"


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Builds stores of one kind; SQLite ones on the same file, so a second one sees the
    first one's data as a restarted process would."""
    opened: list[Store] = []
    shared_memory = MemoryStore()

    def make() -> Store:
        store: Store = shared_memory if request.param == "memory" else SQLiteStore(tmp_path / "store.db")
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
