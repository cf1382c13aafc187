"""What every bench script needs from the machine: a free loopback port, one plain HTTP
request, and stopping a process it started, whatever state that process is in."""

from __future__ import annotations

import http.client
import socket
import subprocess

HOST = "127.0.0.1"  # loopback only: nothing here is meant to be reachable from outside


def free_port() -> int:
    """A port the kernel just found free; the tiny race until the server binds it is accepted."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def fetch(
    port: int, method: str, path: str, timeout: float = 5.0, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, bytes]:
    """One request without following redirects, so that a 3xx is seen as such."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s; always reaped."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
