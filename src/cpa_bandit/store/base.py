"""The one protocol every store implements: atomic operations of the domain.

Each method is a whole use case made atomic by the store (one SQLite transaction, one Lua
script…), never a get/set pair that the service would stitch together and that would race
between worker processes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from ..conversions import ClickTotals, Conversion, Postback, PostbackResult
from ..domain import EDITABLE, STATUSES, Decision, Offer, Outcome

COUNTER_COLUMNS = (
    "clicks",
    "resolved",
    "conversions",
    "reward_micros",
    "expired",
    "pending_conversions",
    "pending_reward_micros",
)
"""Column order of every counter matrix a store returns."""

NO_SOURCE = ""
"""The source of clicks that named none; such clicks count in the pooled counters only."""

HOUR = 3_600
"""Width of a bucket of the hourly counters, in seconds (buckets start on UTC hours)."""


def status_code(offer: Offer) -> int:
    """The registry status as stores keep it for decisions (``OfferRows.status``)."""
    return STATUSES.index(offer.status)


def patched(current: Offer, changes: Mapping[str, object], at: float) -> Offer | None:
    """The entry with ``changes`` applied, stamped ``at`` (its ``capped_until`` is for the
    store to set); None when they change nothing."""
    unknown = changes.keys() - EDITABLE
    if unknown:
        raise ValueError(f"not fields an operator sets: {sorted(unknown)}")
    if "status" in changes and changes["status"] not in STATUSES:
        raise ValueError(f"unknown offer status {changes['status']!r}")
    new = replace(current, **changes)  # type: ignore[arg-type]
    return None if new == current else replace(new, updated_at=at)


@dataclass(frozen=True, slots=True)
class OfferRows:
    """What a decision needs about its eligible offers, one row per offer in the order asked.

    ``pooled`` and ``by_source`` are int64 matrices with ``COUNTER_COLUMNS`` (``by_source``
    holds the counters of the requested source, zeros without one): lifetime counters,
    which reports read and which never forget. ``payout_micros`` is the declared payout or
    -1; ``status`` the registry status as its index in ``domain.STATUSES`` (int8: 0 active or
    not registered, 1 paused, 2 archived; anything but 0 is never chosen); ``capped_until`` is
    when an offer at its conversion cap may be chosen again (0: not capped).

    The learning evidence of an offer starts at ``since`` (0.0: it was never restarted, see
    ``Store.restart_offer``); ``pooled_before`` and ``by_source_before`` are the counters
    snapshotted then (zeros when never restarted, or for a source first seen since), so the
    evidence is the lifetime counters minus them. ``reward_sq`` is the float64 sum over the
    offer's resolved clicks of their squared reward in currency units (pooled over sources;
    the payouts' second moment), ``reward_sq_before`` its value at the restart.
    """

    pooled: np.ndarray
    by_source: np.ndarray
    payout_micros: np.ndarray
    status: np.ndarray
    capped_until: np.ndarray
    since: np.ndarray
    pooled_before: np.ndarray
    by_source_before: np.ndarray
    reward_sq: np.ndarray
    reward_sq_before: np.ndarray

    @classmethod
    def unseen(cls, offers: int) -> OfferRows:
        """Rows of offers never seen, to fill in: zero counters, no declared payout, not
        resting, never restarted."""
        counters = (offers, len(COUNTER_COLUMNS))
        return cls(
            pooled=np.zeros(counters, dtype=np.int64),
            by_source=np.zeros(counters, dtype=np.int64),
            payout_micros=np.full(offers, -1, dtype=np.int64),
            status=np.zeros(offers, dtype=np.int8),
            capped_until=np.zeros(offers, dtype=np.int64),
            since=np.zeros(offers),
            pooled_before=np.zeros(counters, dtype=np.int64),
            by_source_before=np.zeros(counters, dtype=np.int64),
            reward_sq=np.zeros(offers),
            reward_sq_before=np.zeros(offers),
        )

    @classmethod
    def from_read(
        cls,
        counters: np.ndarray,
        payout_micros: np.ndarray,
        status: np.ndarray,
        capped_until: np.ndarray,
        floats: np.ndarray,
    ) -> OfferRows:
        """Rows as the SQLite and Redis stores lay out their reads, per offer: ``counters``,
        blocks of ``COUNTER_COLUMNS`` (pooled, its baseline, and when a source was asked the
        source's and its baseline); ``floats``, (since, reward_sq, reward_sq_before)."""
        offers, blocks, width = counters.shape
        return cls(
            pooled=counters[:, 0],
            by_source=counters[:, 2] if blocks == 4 else np.zeros((offers, width), dtype=np.int64),
            payout_micros=payout_micros,
            status=status.astype(np.int8),
            capped_until=capped_until,
            since=floats[:, 0],
            pooled_before=counters[:, 1],
            by_source_before=counters[:, 3] if blocks == 4 else np.zeros((offers, width), dtype=np.int64),
            reward_sq=floats[:, 1],
            reward_sq_before=floats[:, 2],
        )

    def resting(self, now: float) -> np.ndarray:
        """Which offers may not be chosen now: paused, archived or at their cap."""
        return (self.status != 0) | (self.capped_until > now)

    def seen_from(self, source: str | None) -> np.ndarray:
        """The counters as one source sees them, or pooled without a source."""
        return self.by_source if source else self.pooled


@dataclass(frozen=True, slots=True)
class ClickRecord:
    """One click as stored: its decision, outcome totals, whether its attribution window
    passed unresolved, and its postback conversions (raw statuses included)."""

    decision: Decision
    totals: ClickTotals
    expired: bool
    conversions: list[Conversion]


@dataclass(frozen=True, slots=True)
class LoggedDecision:
    """A decision of the decision log (its ``evidence`` set) with its click's outcome as of
    now: totals, and whether its attribution window passed without feedback."""

    decision: Decision
    totals: ClickTotals
    expired: bool


@dataclass(frozen=True, slots=True)
class HourCounts:
    """One offer's clicks decided in one hour, and what they earned so far (a click cohort:
    a conversion counts in the hour of its click, whenever it is reported)."""

    hour: int
    """Start of the hour, in Unix seconds."""
    offer_id: int
    clicks: int
    resolved: int
    """Of those clicks, the ones whose outcome is known for learning: resolved by feedback or
    postbacks, or past their attribution window (the pooled ``resolved + expired``)."""
    conversions: int
    reward_micros: int


class Store(Protocol):
    remote: bool
    """Whether its calls cross the network (Redis): the click path then waits for them in a
    thread, not on the event loop."""

    def record_decision(self, decision: Decision) -> tuple[Decision, bool]:
        """Make the click pending with its offer and count the click (pooled, for its source
        and in its hour), once; a decision with ``evidence`` also enters the decision log.

        Returns the stored decision and whether this call created it; a click id that was
        already decided is returned as stored, with nothing counted again.
        """

    def find_click(self, click_id: str) -> ClickRecord | None:
        """Everything stored about one click, or None for a click id never decided."""

    def resolve_click(self, click_id: str, reward_micros: int, at: float) -> tuple[Outcome, bool]:
        """Resolve a pending (or expired) click with its reward, once.

        Returns the stored outcome and whether this call applied it; an already resolved
        click is returned with its stored reward and nothing changed. Raises ``UnknownClick``
        for a click id that was never decided and ``ConflictingFeedback`` for an unresolved
        click that postbacks reported conversions for (its outcome comes from them).
        """

    def apply_postback(self, postback: Postback, at: float) -> PostbackResult:
        """Apply a conversion postback to its click as ``conversions.apply_postback`` decides,
        in one transaction: conversion, click totals, counters and cap usage move together
        or not at all. Raises ``UnknownClick`` or ``PostbackRefused`` having changed nothing."""

    def count_postback(self, outcome: str) -> None:
        """Add one to the count of postbacks with this outcome (applied, duplicate, or a
        refusal's reason)."""

    def postback_counts(self) -> dict[str, int]:
        """Postbacks by outcome since the last reset."""

    def expire_clicks(self, decided_before: float, limit: int) -> int:
        """Mark up to ``limit`` pending clicks decided before that time as expired (their
        attribution window passed); returns how many. Late feedback still resolves them."""

    def decision_log(self, since: float, until: float) -> Iterator[LoggedDecision]:
        """The logged decisions made in [since, until), in decision order, each with its
        click's outcome as of now. Streams: a long log is read in batches."""

    def trim_history(self, log_before: float, hours_before: float, limit: int) -> int:
        """Drop up to ``limit`` decisions made before ``log_before`` from the decision log
        (their clicks and counters stay) and the hourly counters of hours starting before
        ``hours_before``; returns how many log entries went (retention)."""

    def hourly(self, since: float, until: float) -> list[HourCounts]:
        """The hourly counters of the hours starting in [since, until), by hour then offer."""

    def known_sources(self) -> list[str]:
        """Every traffic source that clicks named, ascending."""

    def read_offers(self, offer_ids: Sequence[int], source: str | None = None) -> OfferRows:
        """Counters, evidence starts with their baselines, declared payouts and statuses of
        these offers, read in one snapshot; unseen ones are zeros."""

    def restart_offer(self, offer_id: int, at: float, expected_since: float) -> bool:
        """Forget the offer's learning evidence before ``at`` (a detected change): if its
        evidence currently starts at ``expected_since`` (0.0: never restarted), record ``at``
        as its start and snapshot its pooled counter row, every per-source counter row and its
        reward_sq as the baseline that read_offers returns. One atomic operation (compare-and-set,
        so two workers detecting the same change restart it once). Returns whether it restarted."""

    def known_offer_ids(self) -> list[int]:
        """Every offer with counters or a registry entry, ascending."""

    def recent_choices(self, decisions: int) -> dict[int, int]:
        """How many of the last ``decisions`` decisions went to each offer."""

    def put_offer(self, offer: Offer) -> Offer:
        """Create or replace an offer's registry entry; returns it with ``capped_until`` set
        from the conversions already counted in its current periods (``capped_until`` as
        given is ignored)."""

    def patch_offer(self, offer_id: int, changes: Mapping[str, object], at: float) -> Offer | None:
        """Change some fields of an offer's registry entry (``changes``: ``Offer`` field names
        of ``domain.EDITABLE`` to their new values) in one atomic step, so that concurrent
        patches of other fields are all kept; the entry is stamped ``at`` and its
        ``capped_until`` set as ``put_offer`` sets it. Changes that change nothing write
        nothing and return the entry as stored. None when the offer has no entry (nothing is
        created)."""

    def get_offers(self, offer_ids: Sequence[int] | None = None) -> list[Offer]:
        """Registry entries (all when ``offer_ids`` is None), ascending by id."""

    def put_smartlink(self, name: str, spec: str) -> None:
        """Create or replace a smartlink: ``spec`` is the service's JSON of it, kept as is."""

    def get_smartlink(self, name: str) -> str | None:
        """A smartlink's JSON, None when there is none of that name."""

    def list_smartlinks(self) -> dict[str, str]:
        """Every smartlink's JSON by name, ascending."""

    def delete_smartlink(self, name: str) -> bool:
        """Remove a smartlink; whether there was one."""

    def reset(self) -> None:
        """Forget every click, conversion, counter, evidence restart, registry entry and
        smartlink."""

    def batch(self, decisions: Sequence[Decision] = ()) -> AbstractContextManager[None]:
        """A block whose domain operations are committed together (SQLite: one transaction,
        at its end), each still atomic on its own. ``decisions`` are the decisions the block
        will record: a store across the network records them together as it opens (Redis:
        pipelined), and ``record_decision`` of one of them inside the block returns that
        result. After a ``StoreUnavailable`` or ``StoreBusy`` inside it, nothing of the
        block may have been kept: run its operations again, one at a time."""

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
