"""One throwaway redis-server for the benchmark: loopback, a free port, nothing persisted.

bench/run.py starts one for the whole run and bench/redis_memory.py one when it runs alone;
either way it lives in a temporary directory (no RDB, no AOF) and is stopped when the block
ends, on errors too. The binary is Debian's package, which `make redis-server` installs.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from loopback import HOST, free_port, stop

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 20.0


def ensure_redis_server() -> str:
    """redis-server's path, running `make redis-server` (Debian's package) once if it is missing."""
    if path := shutil.which("redis-server"):
        return path
    if shutil.which("make") and (ROOT / "Makefile").exists():
        print("redis-server not found; trying: make redis-server", flush=True)
        subprocess.run(["make", "-C", str(ROOT), "redis-server"], check=False)
        if path := shutil.which("redis-server"):
            return path
    raise SystemExit(
        "bench: redis-server is not installed and `make redis-server` did not install it;"
        " install Debian's redis-server package (apt-get install redis-server) and retry"
    )


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A fresh redis-server until the block ends; yields its URL once it answers PING."""
    binary = ensure_redis_server()
    port = free_port()
    directory = workdir / f"redis-{port}"
    directory.mkdir(parents=True)
    log_path = directory / "redis.log"
    command = [binary, "--port", str(port), "--bind", HOST, "--dir", str(directory), "--save", "",
               "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        client = redis.Redis(host=HOST, port=port, socket_timeout=0.5, socket_connect_timeout=0.5)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}")
            with contextlib.suppress(redis.RedisError):
                if client.ping():
                    break
            if time.monotonic() > deadline:
                log_tail = log_path.read_text()[-2000:]
                raise RuntimeError(f"redis-server not answering after {START_TIMEOUT_S:.0f}s:\n{log_tail}")
            time.sleep(0.05)
        client.close()
        yield f"redis://{HOST}:{port}/0"
    finally:
        stop(proc)
