"""Small worlds that run in a fraction of a second, and a real server for the HTTP mode.

The server comes from the end-to-end harness (``tests/e2e/e2e_harness.py``): the real
``cpa-bandit serve`` as a subprocess on a free loopback port with a temp SQLite file.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpa_bandit.sim.world import WorldConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_harness import BanditServer  # noqa: E402

SMALL = WorldConfig(clicks=1_500, offers=12, sources=3, eligible=5, mean_delay=30.0)


@pytest.fixture
def small() -> WorldConfig:
    return SMALL


@pytest.fixture(scope="module")
def bandit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BanditServer]:
    directory = tmp_path_factory.mktemp("sim-server")
    server = BanditServer(directory / "bandit.db", 1, directory / "server.log", cwd=directory)
    try:
        yield server.start()
    finally:
        server.stop()
