"""The conversion lifecycle: what one postback does to a click, decided without I/O.

Trackers report conversions, not clicks: late, repeated, and with statuses that change
(pending → approved → reversed). Every store applies a postback the same way: it reads the
click and its conversions inside one transaction, asks :func:`apply_postback` what changes,
and writes the answer. Keeping the rules here keeps the stores from disagreeing on them.

A click's outcome is kept as :class:`ClickTotals`; counters follow the totals (SQLite by
triggers, other stores by :func:`counter_delta`), so a conversion's effect is added once
when it enters a status and taken back when it leaves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from .domain import ConflictingFeedback, Offer, PostbackRefused


class Status(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    chargeback = "chargeback"


MOVES: dict[Status, frozenset[Status]] = {
    Status.pending: frozenset({Status.approved, Status.rejected}),
    Status.approved: frozenset({Status.rejected, Status.chargeback}),
    Status.rejected: frozenset(),
    Status.chargeback: frozenset(),
}
"""Allowed status changes (Keitaro's model): never back to pending, never out of a final state.
A move that arrives out of order (approved after rejected) is refused, which leaves the
conversion in its final state."""

LIVE = frozenset({Status.pending, Status.approved})
"""Statuses of a conversion that stands: it uses a cap and is the click's one conversion."""

DEFAULT_TRANSACTION_ID = ""
"""The transaction id of a postback that names none: one such conversion per click."""

FEEDBACK_STATUS = "feedback"
"""Raw status of the conversion that a ``/feedback/`` reward implies (it stores no row)."""


@dataclass(frozen=True, slots=True)
class Postback:
    """A tracker's conversion report, already validated and normalised."""

    click_id: str
    transaction_id: str = DEFAULT_TRANSACTION_ID
    status: Status = Status.approved
    raw_status: str | None = None
    payout_micros: int | None = None
    """None when the postback named no payout: the stored or declared payout is used."""
    event: str | None = None


@dataclass(frozen=True, slots=True)
class Conversion:
    click_id: str
    transaction_id: str
    offer_id: int
    status: Status
    raw_status: str | None
    payout_micros: int
    event: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class ClickTotals:
    """A click's outcome: approved revenue (None while the click is unresolved) and count,
    and the pending conversions apart."""

    reward_micros: int | None = None
    conversions: int = 0
    pending_conversions: int = 0
    pending_reward_micros: int = 0

    def moved(self, status: Status, payout_micros: int, sign: int) -> ClickTotals:
        """These totals with one conversion in ``status`` added (sign 1) or taken back (-1)."""
        if status is Status.approved:
            # the first approval resolves the click; a reversal leaves it resolved, at 0
            reward = (self.reward_micros or 0) + sign * payout_micros
            return replace(self, reward_micros=reward, conversions=self.conversions + sign)
        if status is Status.pending:
            return replace(
                self,
                pending_conversions=self.pending_conversions + sign,
                pending_reward_micros=self.pending_reward_micros + sign * payout_micros,
            )
        if self.reward_micros is None and sign > 0:
            # a rejected or charged-back conversion is a known outcome: a click that paid nothing
            return replace(self, reward_micros=0)
        return self


def counter_delta(old: ClickTotals, new: ClickTotals, expired: bool) -> tuple[int, int, int, int, int, int, int]:
    """How a click's change of totals moves its offer's counters, in ``COUNTER_COLUMNS``
    order (clicks, resolved, conversions, reward, expired, pending conversions, pending
    reward): the same arithmetic as the SQLite trigger."""
    resolves = old.reward_micros is None and new.reward_micros is not None
    return (
        0,
        int(resolves),
        new.conversions - old.conversions,
        (new.reward_micros or 0) - (old.reward_micros or 0),
        -int(resolves and expired),
        new.pending_conversions - old.pending_conversions,
        new.pending_reward_micros - old.pending_reward_micros,
    )


@dataclass(frozen=True, slots=True)
class PostbackResult:
    conversion: Conversion
    previous: Status | None
    """The status before this postback; None when it created the conversion."""
    changed: bool
    """False for a duplicate: the conversion already had this status."""
    totals: ClickTotals
    """The click's totals after the postback."""
    writes: tuple[Conversion, ...] = ()
    """Conversion rows to store: the changed one, and the one a ``/feedback/`` reward stood
    for when this postback is the first to change the click."""

    @property
    def uses_cap(self) -> bool:
        """Whether this postback adds a conversion to its offer's cap usage."""
        return self.previous is None and self.conversion.status in LIVE


def feedback_after_postback(click_id: str, offer_id: int) -> ConflictingFeedback:
    """The refusal of ``/feedback/`` for an unresolved click that postbacks already reported
    on: its outcome comes from them (one click, one source of truth)."""
    return ConflictingFeedback(
        f"click_id {click_id!r} has conversions reported by postback; its outcome comes from"
        " the postbacks, not from /feedback/",
        offer_id=offer_id,
    )


def feedback_conversion(click_id: str, offer_id: int, totals: ClickTotals, at: float) -> Conversion | None:
    """The conversion that a ``/feedback/`` reward > 0 stands for on a click with no
    conversion rows (feedback stores none, to stay one statement): a postback with the
    default transaction id then repeats it (a duplicate) or reverses it."""
    if not totals.reward_micros:
        return None
    return Conversion(
        click_id, DEFAULT_TRANSACTION_ID, offer_id, Status.approved, FEEDBACK_STATUS, totals.reward_micros, None, at, at
    )


def apply_postback(
    postback: Postback,
    *,
    offer_id: int,
    totals: ClickTotals,
    conversions: Sequence[Conversion],
    offer: Offer | None,
    at: float,
) -> PostbackResult:
    """What ``postback`` does to a click with these ``totals`` and stored ``conversions``.

    Raises :class:`PostbackRefused` for a move the lifecycle does not allow and for a second
    conversion on a click whose offer does not allow several.
    """
    implied = None if conversions else feedback_conversion(postback.click_id, offer_id, totals, at)
    result = _apply(postback, offer_id, totals, [implied] if implied else conversions, offer, at)
    if not result.changed:
        return result
    writes = (result.conversion,)
    if implied is not None and implied.transaction_id != postback.transaction_id:
        writes = (implied, result.conversion)
    return replace(result, writes=writes)


def _apply(
    postback: Postback,
    offer_id: int,
    totals: ClickTotals,
    conversions: Sequence[Conversion],
    offer: Offer | None,
    at: float,
) -> PostbackResult:
    existing = next((c for c in conversions if c.transaction_id == postback.transaction_id), None)
    if existing is None:
        return _create(postback, offer_id, totals, conversions, offer, at)
    if postback.status is existing.status:
        return PostbackResult(existing, existing.status, changed=False, totals=totals)
    if postback.status not in MOVES[existing.status]:
        raise PostbackRefused(
            "disallowed_move",
            f"conversion {postback.transaction_id or '(default)'!r} of click {postback.click_id!r} is"
            f" {existing.status}; it cannot become {postback.status}",
            status_code=409,
            stored_status=str(existing.status),
        )
    payout = existing.payout_micros
    if postback.payout_micros is not None and postback.status in LIVE:
        payout = postback.payout_micros  # an approval may name the final payout
    updated = replace(
        existing,
        status=postback.status,
        raw_status=postback.raw_status,
        payout_micros=payout,
        event=postback.event or existing.event,
        updated_at=at,
    )
    totals = totals.moved(existing.status, existing.payout_micros, -1).moved(updated.status, payout, 1)
    return PostbackResult(updated, existing.status, changed=True, totals=totals)


def _create(
    postback: Postback,
    offer_id: int,
    totals: ClickTotals,
    conversions: Sequence[Conversion],
    offer: Offer | None,
    at: float,
) -> PostbackResult:
    multiple = offer is not None and offer.multiple_conversions
    if postback.status in LIVE and not multiple and any(c.status in LIVE for c in conversions):
        raise PostbackRefused(
            "multiple_conversions",
            f"click {postback.click_id!r} already has a conversion and offer {offer_id} allows one per"
            " click; set multiple_conversions on the offer to accept upsells and rebills",
            status_code=409,
        )
    payout = postback.payout_micros
    if payout is None:
        payout = offer.payout_micros if offer is not None and offer.payout_micros is not None else 0
    conversion = Conversion(
        postback.click_id,
        postback.transaction_id,
        offer_id,
        postback.status,
        postback.raw_status,
        payout,
        postback.event,
        at,
        at,
    )
    return PostbackResult(conversion, None, changed=True, totals=totals.moved(postback.status, payout, 1))
