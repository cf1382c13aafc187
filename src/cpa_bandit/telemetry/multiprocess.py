"""The directory where worker processes share their metrics (``PROMETHEUS_MULTIPROC_DIR``).

Each uvicorn worker is a process with its own counters; prometheus-client's multiprocess
mode has every process write its values to files in one directory and sums them at scrape
time, so that any worker answers ``/metrics`` for all of them. The mode is chosen when
``prometheus_client`` is first imported, which is why this module does not import it and
``cpa-bandit serve`` enters :func:`metrics_directory` before uvicorn starts any worker.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def metrics_directory() -> Iterator[Path]:
    """A fresh directory for the metrics of this run's workers, named in the environment
    that the workers inherit.

    A directory the operator named is kept but emptied of prometheus-client's files: values
    of a previous run's processes would otherwise be summed into this run's counters. Without
    one, a temporary directory is used and removed at exit."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):  # prometheus-client's files; nothing else is touched
            stale.unlink()
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="cpa-bandit-metrics-") as created:
        os.environ[MULTIPROC_ENV] = created
        try:
            yield Path(created)
        finally:
            del os.environ[MULTIPROC_ENV]
