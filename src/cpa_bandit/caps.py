"""Conversion caps: which day and month a conversion counts in, and until when an offer rests.

Advertisers cap the conversions they pay for per day or month, in their own time zone.
Stores count an offer's conversions per period and keep ``capped_until``, the end of the
latest full period: deciding a click then compares one number with the clock, and a new
day or month brings the offer back without anyone resetting it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .domain import Offer


@dataclass(frozen=True, slots=True)
class Period:
    key: str
    """Names the period, e.g. ``d:2026-11-29`` or ``m:2026-11`` (in the offer's time zone)."""
    cap: int | None
    ends_at: float


def valid_timezone(name: str) -> str:
    """The name, if it is an IANA time zone this machine knows; else ValueError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as 'Europe/Berlin'") from None
    return name


def periods(offer: Offer, at: float) -> tuple[Period, Period]:
    """The day and the month that contain ``at`` in the offer's time zone, with its caps.

    Conversions are counted in both whether or not the offer has caps yet, so that a cap
    set during the day applies to the day's conversions so far.
    """
    local = datetime.fromtimestamp(at, ZoneInfo(offer.timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # aware arithmetic here is on the wall clock: the next local midnight, whether the day
    # has 23, 24 or 25 hours
    tomorrow = midnight + timedelta(days=1)
    next_month = (midnight.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (
        Period(f"d:{local.date().isoformat()}", offer.cap_daily, tomorrow.timestamp()),
        Period(f"m:{local.year:04d}-{local.month:02d}", offer.cap_monthly, next_month.timestamp()),
    )


def capped_until(offer: Offer, at: float, usage: Mapping[str, int]) -> float:
    """The end of the latest current period whose cap ``usage`` reaches; 0 when none does."""
    return max(
        (p.ends_at for p in periods(offer, at) if p.cap is not None and usage.get(p.key, 0) >= p.cap), default=0.0
    )
