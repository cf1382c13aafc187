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
    return int(Decimal(repr(value)).scaleb(6).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def from_micros(micros: int) -> float:
    return micros / MICROS
