"""Python clients of the cpa-bandit service: :class:`BanditClient` and :class:`AsyncBanditClient`.

>>> from cpa_bandit.client import BanditClient
>>> with BanditClient("http://127.0.0.1:8000", api_key="...") as bandit:
...     decision = bandit.sample("kt4f9a0b1c2d3e4f5", [1, 2, 3], source="fb-12")
...     bandit.feedback(decision.click_id, 12.5)

Every call returns a frozen dataclass of :mod:`cpa_bandit.client.results`, and raises a
:class:`BanditError`: :class:`BanditHTTPError` (and its subclasses) for a refusal, with the
service's ``detail`` verbatim; :class:`BanditUnavailable` once retries on connection failures,
timeouts and 503s are exhausted. Retrying is safe: every route of the service is idempotent.
"""

from .async_client import AsyncBanditClient
from .calls import API_KEY_ENV, DEFAULT_BASE_URL, OfferFields
from .errors import (
    BanditAuthError,
    BanditConflict,
    BanditError,
    BanditHTTPError,
    BanditNotFound,
    BanditUnavailable,
    BanditValidationError,
)
from .results import (
    Click,
    Conversion,
    Decision,
    Feedback,
    Offer,
    OfferReport,
    OfferStats,
    PostbackCounts,
    PostbackResult,
    StatsPage,
)
from .retry import RetryPolicy
from .sync import BanditClient

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_BASE_URL",
    "AsyncBanditClient",
    "BanditAuthError",
    "BanditClient",
    "BanditConflict",
    "BanditError",
    "BanditHTTPError",
    "BanditNotFound",
    "BanditUnavailable",
    "BanditValidationError",
    "Click",
    "Conversion",
    "Decision",
    "Feedback",
    "Offer",
    "OfferFields",
    "OfferReport",
    "OfferStats",
    "PostbackCounts",
    "PostbackResult",
    "RetryPolicy",
    "StatsPage",
]
