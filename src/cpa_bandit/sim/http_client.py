"""Drive a running server through its seed routes instead of calling the service in process.

Only loopback servers are accepted: the simulator sends thousands of requests as fast as it
can, which is a load test, and load tests here target this machine only. Each run draws a
random token that prefixes its click ids and offsets its offer ids, so repeated runs against
one server (other seeds, other policies, yesterday's runs) never collide and each run learns
from scratch. Requests are sequential on one keep-alive connection, each with a timeout, and
a 503 (store busy) is retried a bounded number of times.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import numpy as np

from ..money import from_micros
from ..policies import PolicyParams
from ..service import Clock
from .contenders import SimPolicy, source_id

TIMEOUT_S = 10.0
RETRIES = 3
RETRY_PAUSE_S = 0.2
_OFFER_ID_BITS = 20
"""Offer ids of a run are ``token << 20 | k``: up to 2**20 offers, ids below 2**60."""


class SimHttpError(RuntimeError):
    """The server refused or failed a request of the simulation."""


@dataclass(frozen=True, slots=True)
class Target:
    """A loopback server: ``http://127.0.0.1:8000``, ``http://localhost:8000``, ``http://[::1]:8000``."""

    host: str
    port: int
    key: str | None = field(default=None, repr=False)
    """An API key with the traffic and postback roles (or admin), for a server with keys."""

    @classmethod
    def parse(cls, url: str, key: str | None = None) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"--http needs a URL like http://127.0.0.1:8000, got {url!r}")
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(f"--http takes the server's base URL without a path, got {url!r}")
        host = parts.hostname
        if host != "localhost":
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                raise ValueError(f"--http only drives a server on this machine (loopback), not {host!r}")
        return cls(host, parts.port or 80, key or None)


class HttpBackend:
    """Builds service contenders that talk to the server at ``target``."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def service_policy(
        self, params: PolicyParams, pass_source: bool, rng: np.random.Generator, clock: Clock
    ) -> SimPolicy:
        """The server uses its own generator and clock; ``rng`` and ``clock`` are unused here."""
        return HttpServicePolicy(self.target, params, pass_source)


class HttpServicePolicy:
    """``GET /sample/`` per click and ``PUT /feedback/`` per outcome, over one connection."""

    def __init__(self, target: Target, params: PolicyParams, pass_source: bool) -> None:
        self.token = secrets.randbits(40) or 1
        self.offer_base = self.token << _OFFER_ID_BITS
        self.params = params.as_dict()
        self.pass_source = pass_source
        self._connection = http.client.HTTPConnection(target.host, target.port, timeout=TIMEOUT_S)
        self._headers = {"X-API-Key": target.key} if target.key else {}

    def click_id(self, click: int) -> str:
        return f"sim{self.token:010x}-{click}"

    def choose(self, click: int, source: int, offers: np.ndarray) -> int:
        if len(offers) and int(offers.max()) >= 1 << _OFFER_ID_BITS:
            raise ValueError(f"at most {1 << _OFFER_ID_BITS} offers over HTTP")
        query = {
            "click_id": self.click_id(click),
            "offer_ids": ",".join(str(self.offer_base + int(k)) for k in offers),
            **self.params,
        }
        if self.pass_source:
            query["source"] = source_id(source)
        body = self._request("GET", "/sample/", query)
        return int(np.flatnonzero(offers == body["offer_id"] - self.offer_base)[0])

    def feedback(self, click: int, reward_micros: int) -> None:
        self._request(
            "PUT", "/feedback/", {"click_id": self.click_id(click), "reward": repr(from_micros(int(reward_micros)))}
        )

    def close(self) -> None:
        self._connection.close()

    def _request(self, method: str, path: str, query: dict) -> dict:
        url = f"{path}?{urlencode(query)}"
        for attempt in range(RETRIES + 1):
            if attempt:
                time.sleep(RETRY_PAUSE_S)
            try:
                self._connection.request(method, url, headers=self._headers)
                response = self._connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self._connection.close()  # reconnects on the next request
                error = f"failed: {exc}"
                continue
            if response.status == 200:
                return json.loads(payload)
            error = f"answered {response.status}: {_detail(payload)}"
            if response.status != 503:
                break
        raise SimHttpError(f"{method} {path} {error}")


def _detail(payload: bytes) -> str:
    """The service's ``detail``: what a user needs from an error answer, in one line."""
    try:
        return str(json.loads(payload)["detail"])
    except (ValueError, KeyError, TypeError):
        return repr(payload[:200])
