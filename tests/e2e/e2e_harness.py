"""End-to-end harness: the real ``cpa-bandit serve`` as a subprocess on 127.0.0.1.

``serve_bandit`` (conftest.py) is a factory fixture: ``serve_bandit(db_path, workers=2)``
starts the server (``python -m cpa_bandit serve``) on a free port with a SQLite file, waits
for ``/healthz`` (bounded), and returns a :class:`BanditServer`. Every server a test started is
stopped afterwards (SIGTERM to its whole process group, then SIGKILL), whatever happened.
The server's output goes to a log file per start; when a test fails, the logs of the servers
it started are attached to the failure report.

The server runs in its own session (``start_new_session=True``): its pid is its process
group id, so ``os.killpg`` reaches uvicorn's worker processes as well as the supervisor.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def micros(amount: float) -> int:
    """A reward as the service stores it (integer millionths; our rewards have <= 6 decimals)."""
    return round(amount * 1_000_000)


class ServerStartError(RuntimeError):
    pass


class BanditServer:
    """One run of ``cpa-bandit serve``; ``kill()`` simulates a crash, ``stop()`` a shutdown."""

    def __init__(
        self,
        db_path: Path,
        workers: int,
        log_path: Path,
        cwd: Path,
        store: str | None = None,
        env: dict | None = None,
        log_level: str = "warning",
    ) -> None:
        self.db_path = Path(db_path).resolve()
        self.store = store
        self.env = env or {}
        self.log_level = log_level
        self.workers = workers
        self.log_path = log_path
        self.cwd = cwd
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._group_gone = False  # once it is, never signal that process group id again

    # --- life cycle --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def store_url(self) -> str:
        return self.store or f"sqlite:///{self.db_path}"  # absolute path: four slashes

    def start(self) -> BanditServer:
        last_error: Exception | None = None
        for _ in range(3):  # another process may grab the free port between probe and bind
            self.port = free_port()
            try:
                self._start_once()
                return self
            except ServerStartError as exc:
                last_error = exc
                if "address already in use" not in self.log_text().lower():
                    raise
        raise last_error  # type: ignore[misc]

    def _start_once(self) -> None:
        cmd = [
            sys.executable, "-m", "cpa_bandit", "serve",
            "--host", HOST, "--port", str(self.port),
            "--store", self.store_url,
            "--workers", str(self.workers),
            "--log-level", self.log_level,
        ]  # fmt: skip
        # Only our flags configure it: no CPA_BANDIT_* (nor a metrics directory, which serve
        # empties) from the caller, no .env from the repo.
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("CPA_BANDIT_") and k != "PROMETHEUS_MULTIPROC_DIR"
        }
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.env)
        with open(self.log_path, "ab") as log:
            log.write(f"$ {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self._group_gone = False
        deadline = time.monotonic() + STARTUP_TIMEOUT
        with httpx2.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    self.stop()  # workers it may have left behind
                    raise ServerStartError(
                        f"server exited with {self.proc.returncode} before answering /healthz:\n"
                        + self.log_text()
                    )
                with contextlib.suppress(httpx2.TransportError):
                    if client.get("/healthz").status_code == 200:
                        return
                time.sleep(0.05)
        self.stop()
        raise ServerStartError(f"/healthz did not answer 200 within {STARTUP_TIMEOUT}s:\n" + self.log_text())

    def kill(self) -> None:
        """``kill -9`` of the whole process group: supervisor and workers die at once."""
        assert self.proc is not None and not self._group_gone
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT)
        self._wait_group_gone()

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL to whatever is left after STOP_TIMEOUT."""
        if self.proc is None or self._group_gone:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers (workers) of a dead supervisor
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=STOP_TIMEOUT)
        self._wait_group_gone()

    def _wait_group_gone(self, timeout: float = 5.0) -> None:
        """Workers are the supervisor's children, reaped by init once it is gone: poll."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                self._group_gone = True
                return
            time.sleep(0.02)

    # --- introspection -----------------------------------------------------------------

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def worker_pids(self) -> list[int]:
        """Processes of the server's group holding the SQLite file open: the ones that built
        an app (uvicorn workers; with --workers 1, the server itself). Linux /proc only."""
        assert self.proc is not None
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            try:
                if os.getpgid(pid) != self.proc.pid:
                    continue
                fds = list((entry / "fd").iterdir())
                if any(os.readlink(fd) == str(self.db_path) for fd in fds):
                    pids.append(pid)
            except (ProcessLookupError, FileNotFoundError, PermissionError, OSError):
                continue
        return sorted(pids)

    @staticmethod
    def cpu_seconds(pid: int) -> float:
        """utime + stime of a process, from /proc/<pid>/stat."""
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    # --- API helpers -------------------------------------------------------------------

    def client(self, **kwargs) -> httpx2.Client:
        kwargs.setdefault("timeout", 15.0)
        return httpx2.Client(base_url=self.base_url, **kwargs)

    def stats(self, client: httpx2.Client, offer_id: int) -> dict:
        response = client.get(f"/offer_ids/{offer_id}/stats/")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["offer_id"] == offer_id
        return body
