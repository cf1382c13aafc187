"""Fixtures of the end-to-end tests: ``serve_bandit`` starts real servers and always stops them.

The harness itself is in ``e2e_harness.py``; when a test fails, the log of every server it
started is attached to the report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from e2e_harness import BanditServer

_LOGS = pytest.StashKey[list]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for name, server in item.stash.get(_LOGS, []):
            report.sections.append((f"server log: {name} ({server.log_path})", server.log_text()[-20_000:]))


@pytest.fixture
def serve_bandit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., BanditServer]]:
    servers: list[BanditServer] = []
    request.node.stash[_LOGS] = []

    def start(
        db_path: Path | None = None,
        *,
        workers: int = 1,
        store: str | None = None,
        env: dict | None = None,
        log_level: str = "warning",
    ) -> BanditServer:
        """A server on ``db_path`` (SQLite) or on the ``store`` URL, with extra ``env``; its
        log (``log_level`` and up) goes to a file per start."""
        n = len(servers) + 1
        server = BanditServer(
            db_path or tmp_path / "bandit.db",
            workers,
            tmp_path / f"server-{n}.log",
            cwd=tmp_path,
            store=store,
            env=env,
            log_level=log_level,
        )
        servers.append(server)
        request.node.stash[_LOGS].append((f"start #{n}, {workers} worker(s)", server))
        return server.start()

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
