"""Money is kept as integer micro-units so that sums never drift.

Floats cannot add 0.1 and 0.2 exactly; after millions of payouts a float total no longer
matches the advertisers' reports. Every amount crosses into the store as an ``int`` of
millionths of the currency unit and comes back out as a float only for display.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

MICROS = 1_000_000
MAX_AMOUNT = 1_000_000_000
"""Largest single reward accepted: far above any real payout, far below int64 overflow."""


class InvalidAmount(ValueError):
    """An amount that is not a finite number in [0, MAX_AMOUNT]."""


def to_micros(amount: float | str) -> int:
    """Validate a reward and convert it to micro-units (rounded half-even)."""
    try:
        value = float(amount)
    except (TypeError, ValueError):
        raise InvalidAmount(f"must be a number, got {amount!r}") from None
    if not math.isfinite(value):
        raise InvalidAmount(f"must be a finite number, got {amount!r}")
    if value < 0:
        raise InvalidAmount(f"must be >= 0, got {amount!r}")
    if value > MAX_AMOUNT:
        raise InvalidAmount(f"must be <= {MAX_AMOUNT}, got {amount!r}")
    micros = int(Decimal(repr(value)).scaleb(6).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    if micros == 0 and value > 0:
        raise InvalidAmount(f"{amount!r} is below the resolution of money, 0.000001: send 0 or at least 0.000001")
    return micros


def from_micros(micros: int) -> float:
    return micros / MICROS


def representable(amount: float | None) -> float | None:
    """``amount`` if it is one in micro-units (a pydantic validator; None passes): a
    positive amount that would round to 0 is refused, never silently made 0."""
    if amount is not None:
        to_micros(amount)
    return amount
