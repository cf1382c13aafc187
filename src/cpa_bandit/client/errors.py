"""What a call can fail with, one class per thing a caller would do differently.

The service answers every refusal as JSON with a ``detail`` (a sentence, or for a 422 the
list of bad parameters) and sometimes more fields (a postback's ``reason``, a 409's stored
outcome). The exceptions keep all of it as the service sent it, so nothing the service
explains is lost in translation: ``detail`` verbatim, the whole body in ``body``.
"""

from __future__ import annotations

from typing import Any


class BanditError(Exception):
    """Anything this client raises: catch it to handle every failure of a call at once."""


class BanditHTTPError(BanditError):
    """The service answered, and refused: a 4xx or 5xx that retrying would not change.

    ``detail`` is the JSON ``detail`` exactly as the service gave it (a ``str``, or for a
    422 a ``list`` of ``{"loc", "msg", "type"}``), else the response text when the body is
    not JSON (a proxy's error page). ``body`` is the whole JSON object (``None`` if there is
    none): it carries the extra fields, e.g. a postback refusal's ``reason`` or a feedback
    conflict's stored ``offer_id`` and ``reward``.
    """

    def __init__(
        self,
        status_code: int,
        detail: Any,
        body: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.detail = detail
        self.body = body
        self.request_id = request_id
        """The ``X-Request-ID`` the service answered with: the key to its log lines."""
        super().__init__(f"{status_code}: {detail}")

    @property
    def reason(self) -> str | None:
        """The machine-readable refusal reason of postbacks (``bad_token``, ``unknown_click``…)."""
        reason = (self.body or {}).get("reason")
        return reason if isinstance(reason, str) else None


class BanditAuthError(BanditHTTPError):
    """401 (no key, or an unknown one) or 403 (the key's role does not include the route,
    a wrong postback token, or admin routes disabled): fix the configuration, not the call."""


class BanditNotFound(BanditHTTPError):
    """404: an unknown click (feedback, postback, ``/clicks/``) or an offer not in the registry."""


class BanditConflict(BanditHTTPError):
    """409: the request contradicts what is stored, e.g. another reward for a resolved click
    (``body`` has the stored outcome), a click id decided with an offer not listed now, or
    every listed offer paused, archived or capped (``body`` lists them)."""


class BanditValidationError(BanditHTTPError):
    """422: a parameter the service refuses; nothing changed. ``detail`` names each one."""


class BanditUnavailable(BanditError):
    """The service could not be reached, or kept answering 503, for every attempt.

    Raised only after the retry policy gave up: ``attempts`` says how many were made and
    ``cause`` (also ``__cause__``) is the last failure, an ``httpx2.TransportError`` or the
    last 503 as a :class:`BanditHTTPError`. The request may or may not have been applied;
    sending it again later is safe, since every route is idempotent.
    """

    def __init__(self, message: str, attempts: int, cause: BaseException) -> None:
        self.attempts = attempts
        self.cause = cause
        super().__init__(message)


_BY_STATUS: dict[int, type[BanditHTTPError]] = {
    401: BanditAuthError,
    403: BanditAuthError,
    404: BanditNotFound,
    409: BanditConflict,
    422: BanditValidationError,
}


def http_error(
    status_code: int, detail: Any, body: dict[str, Any] | None = None, request_id: str | None = None
) -> BanditHTTPError:
    """The exception for a refused answer, of the class its status calls for."""
    return _BY_STATUS.get(status_code, BanditHTTPError)(status_code, detail, body, request_id)
