"""Typed answers of the service: frozen dataclasses, one per response shape.

Each has every field the route answers, named as in its JSON, with the values as the JSON
gives them: ``click_id`` stays an ``int`` when the service answers one (it does for
canonical integers, as the seed did) and a ``str`` otherwise; money is the JSON number (the
service keeps it exactly in micro-units and answers the rounded amount, so ``0.1 + 0.2``
rewards come back as ``0.3``). Fields the service adds later are ignored rather than
refused, so an older client keeps working against a newer service.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import BanditError

ClickId = int | str
"""A click id as the service answers it: an integer when it is a canonical one."""

T = TypeVar("T")


def build(cls: type[T], data: Any, **nested: Any) -> T:
    """An instance of the dataclass ``cls`` from a JSON object: its fields by name (``nested``
    overrides some with already-built values), defaults for the optional ones absent."""
    if not isinstance(data, dict):
        raise BanditError(f"unexpected answer for {cls.__name__}: {data!r:.200}")
    values = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name in nested:
            values[field.name] = nested[field.name]
        elif field.name in data:
            values[field.name] = data[field.name]
        elif field.default is dataclasses.MISSING:
            raise BanditError(f"unexpected answer for {cls.__name__}: no {field.name!r} in {data!r:.200}")
    return cls(**values)


@dataclass(frozen=True, slots=True)
class Decision:
    """``GET /sample/``: the offer chosen for a click (the same one for a retried click id)."""

    click_id: ClickId
    offer_id: int
    recorded: bool = True
    """False when the store was unreachable: a sound offer, but the click is not stored, so
    its feedback will likely be refused (the service only sends the field then)."""


@dataclass(frozen=True, slots=True)
class Feedback:
    """``PUT /feedback/``: the click's stored outcome."""

    click_id: ClickId
    offer_id: int
    is_conversion: bool
    reward: float


@dataclass(frozen=True, slots=True)
class OfferStats:
    """``GET /offer_ids/{id}/stats/``: lifetime counters (all zero for an offer never seen)."""

    offer_id: int
    clicks: int
    conversions: int
    reward: float
    cr: float
    """conversions / clicks (0 without clicks)."""
    rpc: float
    """reward / clicks (0 without clicks)."""


@dataclass(frozen=True, slots=True)
class OfferReport:
    """One row of ``GET /stats/``: counters, registry data and the model's view of an offer."""

    offer_id: int
    name: str | None
    status: str
    """``archived`` > ``paused`` > ``capped`` (at its conversion cap now) > ``active``; only
    active offers are chosen."""
    declared_payout: float | None
    clicks: int
    pending: int
    resolved: int
    expired: int
    conversions: int
    reward: float
    pending_conversions: int
    pending_reward: float
    cr: float
    rpc: float
    rpc_mean: float
    rpc_low: float
    rpc_high: float
    p_best: float
    recent_share: float
    evidence_since: float | None
    capped_until: float | None = None
    """Unix time at which an offer at its conversion cap (``status`` ``capped``) returns to
    rotation; None when not capped now."""


@dataclass(frozen=True, slots=True)
class StatsPage:
    """``GET /stats/``: the rows in the service's order, for one ``source`` or pooled (None)."""

    source: str | None
    offers: tuple[OfferReport, ...]

    def get(self, offer_id: int) -> OfferReport | None:
        """The row of one offer, if listed."""
        return next((row for row in self.offers if row.offer_id == offer_id), None)

    @classmethod
    def from_json(cls, data: Any) -> StatsPage:
        rows = data.get("offers") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise BanditError(f"unexpected answer for StatsPage: {data!r:.200}")
        return build(cls, data, offers=tuple(build(OfferReport, row) for row in rows))


@dataclass(frozen=True, slots=True)
class PostbackResult:
    """``GET /postback``: the conversion after the postback; ``duplicate`` = nothing changed."""

    status: str
    click_id: ClickId
    offer_id: int
    transaction_id: str
    """``""`` when the postback named none."""
    conversion_status: str
    """pending | approved | rejected | chargeback"""
    previous_status: str | None
    """None when this postback created the conversion."""
    duplicate: bool
    payout: float


@dataclass(frozen=True, slots=True)
class PostbackCounts:
    """``GET /postbacks/stats``: postbacks by outcome since the last reset."""

    applied: int
    duplicate: int
    refused: dict[str, int]
    """By reason, e.g. ``{"bad_token": 2}``: a reason that keeps growing is a template to fix."""


@dataclass(frozen=True, slots=True)
class Offer:
    """A registry entry (``GET``/``PUT``/``PATCH``/``DELETE /offers/{id}``)."""

    offer_id: int
    name: str | None
    payout: float | None
    status: str
    """``archived`` > ``paused`` > ``capped`` > ``active``: the declared status (active,
    paused or archived), but ``capped`` for an active offer at its conversion cap now."""
    cap_daily: int | None
    cap_monthly: int | None
    timezone: str
    multiple_conversions: bool
    capped_until: float | None
    """Unix time at which an offer at its cap returns; None when not capped now."""
    updated_at: float
    url: str | None = None
    """The landing URL template of smartlinks' redirects (None: on no smartlink)."""


def offer_list(data: Any) -> tuple[Offer, ...]:
    """``GET /offers``: ``{"offers": [...]}``."""
    rows = data.get("offers") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise BanditError(f"unexpected answer for the offer list: {data!r:.200}")
    return tuple(build(Offer, row) for row in rows)


@dataclass(frozen=True, slots=True)
class Conversion:
    """One conversion of a click, as postbacks (or a feedback reward) reported it."""

    transaction_id: str
    status: str
    raw_status: str | None
    payout: float
    event: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class Click:
    """``GET /clicks/{id}``: a decision and its conversions, where to look when a tracker
    says it sent a conversion and the counters disagree."""

    click_id: ClickId
    offer_id: int
    source: str | None
    decided_at: float
    params: dict[str, float | str]
    state: str
    """pending | resolved | expired"""
    reward: float | None
    conversions: int
    pending_conversions: int
    pending_reward: float
    postbacks: tuple[Conversion, ...]

    @classmethod
    def from_json(cls, data: Any) -> Click:
        rows = data.get("postbacks") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise BanditError(f"unexpected answer for Click: {data!r:.200}")
        return build(cls, data, postbacks=tuple(build(Conversion, row) for row in rows))
