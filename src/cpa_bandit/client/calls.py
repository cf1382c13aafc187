"""Every call of the API as data: how to build its request and how to read its answer.

Both clients run the same :class:`Call` objects; they differ only in how they send them
(``httpx2.Client.send`` or ``await httpx2.AsyncClient.send``) and how they wait between
attempts. Parameter names, defaults, paths and response parsing live here once.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import metadata
from typing import Any, Generic, Literal, TypedDict, TypeVar
from urllib.parse import quote

import httpx2

from . import results
from .errors import BanditError, BanditHTTPError, http_error
from .results import (
    Click,
    ClickId,
    Decision,
    Feedback,
    Offer,
    OfferStats,
    PostbackCounts,
    PostbackResult,
    StatsPage,
    build,
)

T = TypeVar("T")

Sampler = Literal["ucb", "thompson"]
Number = int | float | Decimal
"""Amounts and parameters. In a query string (rewards, payouts of postbacks) a ``Decimal`` is
sent as written, so ``Decimal("12.345678")`` reaches the service's micro-units without a
detour through binary floating point; in a JSON body it becomes the nearest float, whose
shortest form is the same number for amounts of up to 15 significant digits."""

OfferIds = Iterable[int] | str
"""Offer ids as integers, or already as the ``"1,2,3"`` the service reads."""


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call: method, path, query parameters, JSON body, and the parser of its 2xx
    answer. Sending it again is a retry (every route of the service is idempotent)."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: tuple[tuple[str, str], ...] = ()
    body: Any = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def request(self, http: httpx2.Client | httpx2.AsyncClient) -> httpx2.Request:
        """The request, built once per call and sent as is by every attempt: its
        ``X-Request-ID`` then ties the retries of one call together in the service's log."""
        return http.build_request(
            self.method,
            self.path,
            params=list(self.params) or None,
            json=self.body,
            headers={"X-Request-ID": f"py-{uuid.uuid4().hex[:20]}"},
        )

    def result(self, response: httpx2.Response) -> T:
        """The typed answer of a final response, or the refusal it is, raised."""
        if response.status_code >= 400:
            raise refusal(response)
        if not 200 <= response.status_code < 300:
            raise BanditError(f"{self}: unexpected {response.status_code} answer")
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BanditError(f"{self}: the answer is not JSON: {response.text[:200]!r}") from None
        return self.parse(data)


def refusal(response: httpx2.Response) -> BanditHTTPError:
    """The exception of a 4xx/5xx answer, with the service's ``detail`` as it gave it."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict) and "detail" in data:
        detail, body = data["detail"], data
    else:  # not the service's JSON (a proxy's page): the text is the best explanation
        detail, body = response.text, data if isinstance(data, dict) else None
    return http_error(response.status_code, detail, body, response.headers.get("x-request-id"))


def _number(value: Number) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(f"expected a number, got {value!r}")
    return str(value)


def _offer_ids(offer_ids: OfferIds) -> str:
    if isinstance(offer_ids, str):
        return offer_ids
    return ",".join(str(int(offer_id)) for offer_id in offer_ids)


def _query(**params: Any) -> tuple[tuple[str, str], ...]:
    """Query parameters without the ones left out (None): the service's defaults apply."""
    return tuple(
        (name, value if isinstance(value, str) else _number(value))
        for name, value in params.items()
        if value is not None
    )


def _path_id(click_id: ClickId) -> str:
    """A click id as a path segment: ``.`` and ``..`` would otherwise be resolved away."""
    text = quote(str(click_id), safe="")
    return text.replace(".", "%2E") if set(text) == {"."} else text


# --- decisions and outcomes -------------------------------------------------------------


def sample(
    click_id: ClickId,
    offer_ids: OfferIds,
    sampler: Sampler | None = None,
    ucb_c: Number | None = None,
    thompson_a: Number | None = None,
    thompson_b: Number | None = None,
    source: str | None = None,
) -> Call[Decision]:
    return Call(
        "GET",
        "/sample/",
        lambda data: build(Decision, data),
        _query(
            click_id=str(click_id),
            offer_ids=_offer_ids(offer_ids),
            sampler=sampler,
            ucb_c=ucb_c,
            thompson_a=thompson_a,
            thompson_b=thompson_b,
            source=source,
        ),
    )


def feedback(click_id: ClickId, reward: Number) -> Call[Feedback]:
    return Call("PUT", "/feedback/", lambda data: build(Feedback, data), _query(click_id=str(click_id), reward=reward))


POSTBACK_NAMES = {
    "click_id": "click_id",
    "payout": "payout",
    "status": "status",
    "transaction_id": "txid",
    "currency": "currency",
    "event": "event",
}
"""The parameter sent for each postback field: names the service reads by default. Not
``tid`` (Offer18 deployments map it to the click id) nor ``transaction_id`` (the click id of
Everflow and TUNE, by default)."""


def postback(
    click_id: ClickId,
    payout: Number | None = None,
    status: str | None = None,
    transaction_id: str | None = None,
    currency: str | None = None,
    event: str | None = None,
    token: str | None = None,
    token_param: str = "token",
) -> Call[PostbackResult]:
    fields = {
        "click_id": str(click_id),
        "payout": payout,
        "status": status,
        "transaction_id": transaction_id,
        "currency": currency,
        "event": event,
    }
    params = _query(**{POSTBACK_NAMES[name]: value for name, value in fields.items()})
    if token is not None:
        params += ((token_param, token),)
    return Call("GET", "/postback", lambda data: build(PostbackResult, data), params)


def postback_stats() -> Call[PostbackCounts]:
    return Call("GET", "/postbacks/stats", lambda data: build(PostbackCounts, data))


def click(click_id: ClickId) -> Call[Click]:
    return Call("GET", f"/clicks/{_path_id(click_id)}", Click.from_json)


# --- statistics -------------------------------------------------------------------------


def offer_stats(offer_id: int, source: str | None = None) -> Call[OfferStats]:
    path = f"/offer_ids/{int(offer_id)}/stats/"
    return Call("GET", path, lambda data: build(OfferStats, data), _query(source=source))


def stats(offer_ids: OfferIds | None = None, source: str | None = None) -> Call[StatsPage]:
    listed = None if offer_ids is None else _offer_ids(offer_ids)
    return Call("GET", "/stats/", StatsPage.from_json, _query(offer_ids=listed, source=source))


# --- the offer registry -----------------------------------------------------------------


class OfferFields(TypedDict, total=False):
    """The fields of a registry entry. A ``PUT`` replaces the entry, so omitted ones take the
    service's defaults (none, ``active``, ``UTC``, ``False``); a ``PATCH`` changes the fields
    given and keeps the others, None clearing a nullable one (``name``, ``payout``, the caps,
    ``url``)."""

    name: str | None
    payout: Number | None
    """Declared payout per conversion, the prior until the offer's own conversions speak."""
    status: Literal["active", "paused", "archived"]
    """``archived``: never chosen, out of the dashboard's default view, counters kept."""
    cap_daily: int | None
    cap_monthly: int | None
    timezone: str
    """IANA name of the caps' days and months."""
    multiple_conversions: bool
    url: str | None
    """The landing URL template where ``/go/`` sends a visitor (docs/smartlinks.md)."""


def get_offer(offer_id: int) -> Call[Offer]:
    return Call("GET", f"/offers/{int(offer_id)}", lambda data: build(Offer, data))


def list_offers(include_archived: bool = True) -> Call[tuple[Offer, ...]]:
    params = () if include_archived else (("include_archived", "false"),)
    return Call("GET", "/offers", results.offer_list, params)


def put_offer(offer_id: int, entry: OfferFields) -> Call[Offer]:
    return Call("PUT", f"/offers/{int(offer_id)}", lambda data: build(Offer, data), body=_json_amounts(entry))


def patch_offer(offer_id: int, fields: OfferFields) -> Call[Offer]:
    """A JSON merge patch of the fields given (None is sent as null: it clears the field)."""
    return Call("PATCH", f"/offers/{int(offer_id)}", lambda data: build(Offer, data), body=_json_amounts(fields))


def archive_offer(offer_id: int) -> Call[Offer]:
    return Call("DELETE", f"/offers/{int(offer_id)}", lambda data: build(Offer, data))


def _json_amounts(entry: OfferFields) -> dict[str, Any]:
    """A JSON body with ``Decimal`` amounts as numbers (the encoder does not know them)."""
    return {name: float(value) if isinstance(value, Decimal) else value for name, value in entry.items()}


# --- connection -------------------------------------------------------------------------

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
API_KEY_ENV = "CPA_BANDIT_API_KEY"


def connection_options(
    base_url: str, api_key: str | None, timeout: float, headers: Mapping[str, str] | None
) -> dict[str, Any]:
    """``httpx2.Client``/``AsyncClient`` arguments common to both clients.

    ``api_key`` None reads ``$CPA_BANDIT_API_KEY``, so a deployment configures the key the
    way it configures the service; ``""`` sends none (a local service without keys). The key
    goes as ``Authorization: Bearer``, which the service reads for every role.
    """
    if api_key is None:
        api_key = os.environ.get(API_KEY_ENV) or ""
    sent = {"User-Agent": f"cpa-bandit-client/{_version()}", "Accept": "application/json"}
    if api_key:
        sent["Authorization"] = f"Bearer {api_key}"
    sent.update(headers or {})
    return {"base_url": base_url, "timeout": timeout, "headers": sent}


def _version() -> str:
    try:
        return metadata.version("cpa-bandit")
    except metadata.PackageNotFoundError:
        return "0"
