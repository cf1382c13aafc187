"""When to send a request again, and how long to wait first: shared by both clients.

Retrying is safe on every route of the service: a retried ``/sample/`` click id gets its
first answer and is not counted twice, the same ``/feedback/`` or postback again changes
nothing, ``PUT /offers/{id}`` replaces the entry with the same one, the same ``PATCH``
sets the same fields again and archiving an archived offer leaves it so. So a call that
failed without an answer (connection refused or reset, a timeout) or with a 503 (the store
could not take it now; the service says when to come back in ``Retry-After``) is sent
again, a bounded number of times. Any other answer is final: a 4xx says the request is
wrong, and a 500 would fail the same way again.

The loops themselves are in the clients (``sync.py`` sleeps, ``async_client.py`` awaits);
:class:`Attempts` makes every decision for them, so they cannot drift apart.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx2

from .calls import refusal
from .errors import BanditError, BanditUnavailable

RETRY_STATUSES = frozenset({503})
"""The service answers 503 (with ``Retry-After: 1``) when its store cannot take a request
now; a retry a moment later usually succeeds."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter.

    Retry ``n`` (0 for the first) waits a random time between half and all of
    ``min(max_backoff, backoff * 2**n)`` seconds: exponential, so that a struggling service
    gets room, and jittered, so that clients failed together do not return together. A
    ``Retry-After`` from the service replaces the backoff (plus up to 10 % jitter, for the
    same reason); one longer than ``max_retry_after`` ends the retries at once rather than
    blocking the caller that long. At most ``retries`` retries: ``retries + 1`` attempts,
    each bounded by the client's ``timeout``.
    """

    retries: int = 3
    backoff: float = 0.2
    max_backoff: float = 2.0
    max_retry_after: float = 30.0
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    """Uniform in [0, 1): injectable, for tests that want fixed delays."""

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ValueError("retries and delays must be >= 0")

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        if retry_after is not None:
            return retry_after * (1 + 0.1 * self.random())
        ceiling = min(self.max_backoff, self.backoff * 2**retry)
        return ceiling * (0.5 + 0.5 * self.random())


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header in seconds: delay-seconds (the service sends ``1``) or an
    HTTP date; None when absent or unreadable (the backoff applies then)."""
    if value is None or not (value := value.strip()):
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # an HTTP date is GMT; a malformed one may say nothing
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


class Attempts:
    """The retry state of one call. After each attempt the client reports what happened and
    gets back either ``None`` (the answer is final: parse it), a delay (wait, then send the
    same request again), or an exception (:class:`BanditUnavailable` when retrying is over)."""

    def __init__(self, policy: RetryPolicy, what: str) -> None:
        self.policy = policy
        self.what = what
        self.made = 0

    def after_response(self, response: httpx2.Response) -> float | None:
        self.made += 1
        if response.status_code not in RETRY_STATUSES:
            return None
        cause = refusal(response)
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
        if retry_after is not None and retry_after > self.policy.max_retry_after:
            raise self._give_up(cause, f" (Retry-After {retry_after:g} s is over {self.policy.max_retry_after:g} s)")
        return self._next(cause, retry_after)

    def after_error(self, error: httpx2.TransportError) -> float:
        self.made += 1
        if isinstance(error, httpx2.UnsupportedProtocol):  # a wrong base_url: no retry fixes it
            raise BanditError(f"{self.what}: {error}") from error
        return self._next(error, None)

    def _next(self, cause: BaseException, retry_after: float | None) -> float:
        if self.made > self.policy.retries:
            raise self._give_up(cause)
        return self.policy.delay(self.made - 1, retry_after)

    def _give_up(self, cause: BaseException, why: str = "") -> BanditUnavailable:
        reason = str(cause) or type(cause).__name__
        error = BanditUnavailable(
            f"{self.what}: unavailable after {self.made} attempt(s){why}: {reason}", self.made, cause
        )
        error.__cause__ = cause
        return error
