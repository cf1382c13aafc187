"""Real Redis servers for the tests: one standalone and a 3-node cluster, on loopback ports.

`make test` installs Debian's redis-server; the test session starts these and always stops
them. Nothing is persisted (no RDB, no AOF): each server lives in a temporary directory.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class RedisServer:
    directory: Path
    port: int = field(default_factory=free_port)
    cluster: bool = False
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed: run `make redis-server` (Debian's package)")
        self.directory.mkdir(parents=True, exist_ok=True)
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
                *self.extra_args]  # fmt: skip
        if self.cluster:
            # the bus port is explicit: the default (port + 10000) overflows for high free ports
            args += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{self.port}.conf",
                     "--cluster-port", str(free_port()), "--cluster-node-timeout", "3000"]  # fmt: skip
        log = (self.directory / f"redis-{self.port}.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        _wait(lambda: redis.Redis(port=self.port, socket_timeout=0.5).ping(), f"redis-server on {self.port}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class RedisClusterServers:
    nodes: list[RedisServer]

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    @classmethod
    def start(cls, directory: Path, size: int = 3) -> RedisClusterServers:
        nodes = [RedisServer(directory / f"node{i}", cluster=True).start() for i in range(size)]
        cluster = cls(nodes)
        try:
            subprocess.run(
                ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in nodes),
                 "--cluster-replicas", "0", "--cluster-yes"],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            for node in nodes:
                client = redis.Redis(port=node.port, socket_timeout=0.5)
                _wait(lambda c=client: c.cluster("info")["cluster_state"] == "ok", f"cluster state on {node.port}")
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
