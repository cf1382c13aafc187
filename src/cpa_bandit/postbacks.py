"""Tracker postbacks as they arrive: parameter aliases, statuses, currencies, tokens.

Each tracker names the same values differently (Keitaro ``subid``, Binom ``cnv_id``,
Voluum ``cid``…; see shared/cpa-conventions.md), and a deployment points its tracker's
template at the service as it is. This module turns such a query string into a
:class:`~cpa_bandit.conversions.Postback`, or refuses it with a reason that is counted, so
that a broken template shows up in the stats rather than as silent losses.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from .conversions import DEFAULT_TRANSACTION_ID, Postback, Status
from .domain import PostbackRefused
from .ids import CLICK_ID_PATTERN
from .money import MAX_AMOUNT, MICROS, InvalidAmount, to_micros

FIELDS = ("click_id", "payout", "currency", "status", "transaction_id", "event")

DEFAULT_ALIASES: Mapping[str, str] = {
    # click id: Keitaro, Binom, Voluum/BeMob, RedTrack/Affise, Affise, Everflow/TUNE
    "subid": "click_id",
    "cnv_id": "click_id",
    "cid": "click_id",
    "clickid": "click_id",
    "click_id": "click_id",
    "transaction_id": "click_id",  # the click id in Everflow and TUNE; configurable
    # payout: most trackers, Keitaro, RedTrack/Affise, Everflow
    "payout": "payout",
    "revenue": "payout",
    "sum": "payout",
    "amount": "payout",
    "currency": "currency",
    "cur": "currency",
    "status": "status",
    "cnv_status": "status",
    # transaction id: Keitaro, Voluum/BeMob, Affise, Everflow, RedTrack
    "tid": "transaction_id",  # the click id in Offer18; configurable
    "txid": "transaction_id",
    "action_id": "transaction_id",
    "conversion_id": "transaction_id",
    "rdtk_event_id": "transaction_id",
    # event type: Voluum, RedTrack, generic
    "et": "event",
    "type": "event",
    "event": "event",
    "event_type": "event",
    "goal": "event",
}
"""Query parameter → field. Aliases that mean different things in different systems (``tid``,
``transaction_id``) take the meaning of the listed trackers; ``CPA_BANDIT_POSTBACK_ALIASES``
changes any of them."""

DEFAULT_STATUSES: Mapping[str, Status] = {
    **dict.fromkeys(("pending", "lead", "hold", "new", "waiting", "on_hold", "2", "5"), Status.pending),
    **dict.fromkeys(
        ("approved", "approve", "sale", "confirmed", "confirm", "paid", "success", "accepted", "1", "rebill", "upsell"),
        Status.approved,
    ),
    **dict.fromkeys(
        ("rejected", "reject", "declined", "decline", "trash", "cancelled", "canceled", "invalid", "fraud", "3"),
        Status.rejected,
    ),
    **dict.fromkeys(("chargeback", "reversal", "reversed", "refund", "refunded"), Status.chargeback),
}
"""Raw status (case-insensitive) → lifecycle status: the documented values of Keitaro
(``lead``/``sale``/``rejected``/``trash``), Binom, BeMob, Affise (1 approved, 2 pending,
3 declined, 5 hold) and the usual words. ``rebill`` and ``upsell`` are approved conversions;
they are new conversions when they carry a new transaction id."""

_MACRO = re.compile(r"[{}\[\]]|%7[bd]|%5[bd]|\$\w+\$|#\w+#", re.IGNORECASE)
_CLICK_ID = re.compile(CLICK_ID_PATTERN)
_TOKEN = re.compile(r"[\x21-\x7e]{1,128}")
"""Transaction ids and event names: printable ASCII without spaces, up to 128 characters."""


@dataclass(frozen=True, slots=True)
class PostbackFormat:
    """How this deployment reads postbacks (settings ``CPA_BANDIT_POSTBACK_*``)."""

    aliases: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ALIASES))
    statuses: Mapping[str, Status] = field(default_factory=lambda: dict(DEFAULT_STATUSES))
    currency: str = "USD"
    """The currency of every amount the service keeps."""
    rates: Mapping[str, Decimal] = field(default_factory=dict)
    """Units of ``currency`` per unit of another currency; postbacks in others are refused."""
    token: str | None = None
    token_param: str = "token"

    @classmethod
    def configured(
        cls,
        aliases: Mapping[str, str] = {},
        statuses: Mapping[str, str] = {},
        currency: str = "USD",
        rates: Mapping[str, float] = {},
        token: str | None = None,
        token_param: str = "token",
    ) -> PostbackFormat:
        """The defaults with a deployment's changes: an alias mapped to "" is dropped."""
        for alias, name in aliases.items():
            if name and name not in FIELDS:
                raise ValueError(f"postback alias {alias!r} maps to {name!r}; fields are {', '.join(FIELDS)} or ''")
        merged_aliases = {**DEFAULT_ALIASES, **{k.lower(): v for k, v in aliases.items()}}
        merged_statuses = {**DEFAULT_STATUSES, **{k.lower(): Status(v) for k, v in statuses.items()}}
        return cls(
            aliases={k: v for k, v in merged_aliases.items() if v and k != token_param.lower()},
            statuses=merged_statuses,
            currency=currency.upper(),
            rates={k.upper(): Decimal(str(v)) for k, v in rates.items()},
            token=token,
            token_param=token_param.lower(),
        )


def token_matches(params: Iterable[tuple[str, str]], fmt: PostbackFormat) -> bool | None:
    """Whether the postback carries the deployment's secret token; None when none is set."""
    if fmt.token is None:
        return None
    given = next((value for name, value in params if name.lower() == fmt.token_param), "")
    return hmac.compare_digest(given.encode(), fmt.token.encode())


def parse_postback(params: Iterable[tuple[str, str]], fmt: PostbackFormat) -> Postback:
    """A validated postback from a query string's (name, value) pairs."""
    values = _fields(params, fmt)
    for name, value in values.items():
        if _MACRO.search(value):
            raise PostbackRefused(
                "unreplaced_macro",
                f"{name} is {value[:80]!r}: the tracker did not replace its macro; fix the postback template",
                field=name,
            )
    click_id = values.get("click_id")
    if click_id is None:
        raise PostbackRefused("missing_click_id", f"no click id: send one of {_names('click_id', fmt)}")
    if not _CLICK_ID.fullmatch(click_id):
        raise PostbackRefused("bad_click_id", f"click id {click_id[:80]!r} is not 1-64 characters of [A-Za-z0-9._:-]")
    for name in ("transaction_id", "event"):
        if name in values and not _TOKEN.fullmatch(values[name]):
            raise PostbackRefused(f"bad_{name}", f"{name} must be 1-128 printable characters without spaces")
    raw_status = values.get("status")
    status = Status.approved
    if raw_status is not None:
        found = fmt.statuses.get(raw_status.lower())
        if found is None:
            raise PostbackRefused(
                "unknown_status",
                f"unknown status {raw_status[:40]!r}; known: {', '.join(sorted(fmt.statuses))}"
                " (CPA_BANDIT_POSTBACK_STATUSES adds more)",
            )
        status = found
    return Postback(
        click_id=click_id,
        transaction_id=values.get("transaction_id", DEFAULT_TRANSACTION_ID),
        status=status,
        raw_status=raw_status,
        payout_micros=_payout(values, fmt),
        event=values.get("event"),
    )


def _fields(params: Iterable[tuple[str, str]], fmt: PostbackFormat) -> dict[str, str]:
    """Each field's value by its aliases; empty values count as absent, and two aliases
    that disagree are refused rather than one of them guessed."""
    values: dict[str, str] = {}
    for name, value in params:
        field_name = fmt.aliases.get(name.lower())
        if field_name is None or not (value := value.strip()):
            continue
        if values.setdefault(field_name, value) != value:
            raise PostbackRefused(
                "ambiguous",
                f"two parameters give {field_name} different values ({values[field_name][:40]!r},"
                f" {value[:40]!r}); send one of {_names(field_name, fmt)}",
            )
    return values


def _payout(values: Mapping[str, str], fmt: PostbackFormat) -> int | None:
    if "payout" not in values:
        return None
    try:
        micros = to_micros(values["payout"])
    except InvalidAmount as exc:
        raise PostbackRefused("bad_payout", f"payout {exc}") from None
    currency = values.get("currency", fmt.currency).upper()
    if currency == fmt.currency:
        return micros
    rate = fmt.rates.get(currency)
    if rate is None:
        raise PostbackRefused(
            "unknown_currency",
            f"payout in {currency[:8]!r}: amounts are kept in {fmt.currency}, and no rate is set for it"
            " (CPA_BANDIT_CURRENCY_RATES)",
        )
    converted = int((micros * rate).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    if converted > MAX_AMOUNT * MICROS:
        raise PostbackRefused("bad_payout", f"payout must be <= {MAX_AMOUNT} {fmt.currency}")
    return converted


def _names(field_name: str, fmt: PostbackFormat) -> str:
    return ", ".join(sorted(alias for alias, name in fmt.aliases.items() if name == field_name))
