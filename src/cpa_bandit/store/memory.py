"""A process-local store for tests, benchmarks and the simulator; nothing survives exit."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from .. import caps
from ..conversions import (
    ClickTotals,
    Conversion,
    Postback,
    PostbackResult,
    apply_postback,
    counter_delta,
    feedback_after_postback,
)
from ..domain import Decision, Offer, Outcome, UnknownClick
from .base import (
    HOUR,
    COUNTER_COLUMNS,
    NO_SOURCE,
    ClickRecord,
    HourCounts,
    LoggedDecision,
    OfferRows,
    patched,
    status_code,
)

_CLICKS, _RESOLVED = COUNTER_COLUMNS.index("clicks"), COUNTER_COLUMNS.index("resolved")
_CONVERSIONS, _REWARD = COUNTER_COLUMNS.index("conversions"), COUNTER_COLUMNS.index("reward_micros")
_EXPIRED = COUNTER_COLUMNS.index("expired")
_EXPIRY = tuple(int(column == "expired") for column in COUNTER_COLUMNS)
"""How a click's attribution window passing moves its counters."""
_UNRESOLVED = ClickTotals()


@dataclass(frozen=True, slots=True)
class _Restart:
    """Where an offer's evidence starts, and its counter rows (by source, ``NO_SOURCE`` for
    the pooled one) and reward_sq at that moment."""

    since: float
    rows: dict[str, list[int]]
    reward_sq: float


def _squared(reward_micros: int | None) -> float:
    """A click's reward squared, in currency units (micros squared would overflow int64)."""
    units = (reward_micros or 0) / 1e6
    return units * units


class MemoryStore:
    remote = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clear()

    def record_decision(self, decision: Decision) -> tuple[Decision, bool]:
        with self._lock:
            stored = self._decisions.setdefault(decision.click_id, decision)
            if stored is not decision:
                return stored, False
            for row in self._rows(decision):
                row[_CLICKS] += 1
            self._hours.setdefault(_hour_key(decision), [0, 0, 0, 0])[0] += 1
            return decision, True

    def find_click(self, click_id: str) -> ClickRecord | None:
        with self._lock:
            decision = self._decisions.get(click_id)
            if decision is None:
                return None
            return ClickRecord(
                decision,
                self._totals.get(click_id, _UNRESOLVED),
                self._expired.get(click_id, False),
                sorted(self._conversions.get(click_id, {}).values(), key=lambda c: (c.created_at, c.transaction_id)),
            )

    def resolve_click(self, click_id: str, reward_micros: int, at: float) -> tuple[Outcome, bool]:
        with self._lock:
            decision = self._decision(click_id)
            totals = self._totals.get(click_id, _UNRESOLVED)
            if totals.reward_micros is not None:
                return Outcome(click_id, decision.offer_id, totals.reward_micros), False
            if self._conversions.get(click_id):
                raise feedback_after_postback(click_id, decision.offer_id)
            self._move(decision, totals, replace(totals, reward_micros=reward_micros, conversions=int(reward_micros > 0)))
            return Outcome(click_id, decision.offer_id, reward_micros), True

    def apply_postback(self, postback: Postback, at: float) -> PostbackResult:
        with self._lock:
            decision = self._decision(postback.click_id)
            conversions = self._conversions.setdefault(postback.click_id, {})
            offer = self._offers.get(decision.offer_id)
            result = apply_postback(
                postback,
                offer_id=decision.offer_id,
                totals=self._totals.get(postback.click_id, _UNRESOLVED),
                conversions=list(conversions.values()),
                offer=offer,
                at=at,
            )
            if result.changed:
                conversions.update((c.transaction_id, c) for c in result.writes)
                self._move(decision, self._totals.get(postback.click_id, _UNRESOLVED), result.totals)
                if result.uses_cap:
                    self._use_cap(offer or Offer(decision.offer_id), at)
            return result

    def count_postback(self, outcome: str) -> None:
        with self._lock:
            self._postbacks[outcome] = self._postbacks.get(outcome, 0) + 1

    def postback_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._postbacks)

    def expire_clicks(self, decided_before: float, limit: int) -> int:
        with self._lock:
            due = [
                d for click_id, d in self._decisions.items()
                if d.created_at < decided_before
                and self._totals.get(click_id, _UNRESOLVED).reward_micros is None
                and click_id not in self._expired
            ][:limit]  # fmt: skip
            for decision in due:
                self._expired[decision.click_id] = True
                self._count(decision, _EXPIRY)
            return len(due)

    def decision_log(self, since: float, until: float) -> Iterator[LoggedDecision]:
        with self._lock:
            logged = [
                LoggedDecision(d, self._totals.get(d.click_id, _UNRESOLVED), self._expired.get(d.click_id, False))
                for d in self._decisions.values()
                if d.evidence is not None and since <= d.created_at < until
            ]
        yield from logged

    def trim_history(self, log_before: float, hours_before: float, limit: int) -> int:
        with self._lock:
            old = [
                d for d in self._decisions.values() if d.evidence is not None and d.created_at < log_before
            ][:limit]  # fmt: skip
            for decision in old:
                self._decisions[decision.click_id] = replace(decision, evidence=None)
            for key in [key for key in self._hours if key[1] < hours_before]:
                del self._hours[key]
            return len(old)

    def hourly(self, since: float, until: float) -> list[HourCounts]:
        with self._lock:
            return [
                HourCounts(hour, offer_id, *counts)
                for (offer_id, hour), counts in sorted(self._hours.items(), key=lambda item: item[0][::-1])
                if since <= hour < until
            ]

    def known_sources(self) -> list[str]:
        with self._lock:
            return sorted({source for _, source in self._counters if source != NO_SOURCE})

    def read_offers(self, offer_ids: Sequence[int], source: str | None = None) -> OfferRows:
        rows = OfferRows.unseen(len(offer_ids))
        with self._lock:
            for i, offer_id in enumerate(offer_ids):
                if (counters := self._counters.get((offer_id, NO_SOURCE))) is not None:
                    rows.pooled[i] = counters
                if source and (counters := self._counters.get((offer_id, source))) is not None:
                    rows.by_source[i] = counters
                if (offer := self._offers.get(offer_id)) is not None:
                    rows.payout_micros[i] = -1 if offer.payout_micros is None else offer.payout_micros
                    rows.status[i] = status_code(offer)
                    rows.capped_until[i] = offer.capped_until
                rows.reward_sq[i] = self._reward_sq.get(offer_id, 0.0)
                if (restart := self._restarts.get(offer_id)) is not None:
                    rows.since[i], rows.reward_sq_before[i] = restart.since, restart.reward_sq
                    rows.pooled_before[i] = restart.rows.get(NO_SOURCE, 0)
                    if source:
                        rows.by_source_before[i] = restart.rows.get(source, 0)
        return rows

    def restart_offer(self, offer_id: int, at: float, expected_since: float) -> bool:
        with self._lock:
            current = self._restarts.get(offer_id)
            if (0.0 if current is None else current.since) != expected_since:
                return False
            rows = {source: list(row) for (o, source), row in self._counters.items() if o == offer_id}
            self._restarts[offer_id] = _Restart(at, rows, self._reward_sq.get(offer_id, 0.0))
            return True

    def known_offer_ids(self) -> list[int]:
        with self._lock:
            return sorted({offer_id for offer_id, _ in self._counters} | set(self._offers))

    def recent_choices(self, decisions: int) -> dict[int, int]:
        with self._lock:
            latest = sorted(self._decisions.values(), key=lambda d: d.created_at)[-decisions:]
        counts: dict[int, int] = {}
        for decision in latest:
            counts[decision.offer_id] = counts.get(decision.offer_id, 0) + 1
        return counts

    def put_offer(self, offer: Offer) -> Offer:
        with self._lock:
            return self._put(offer)

    def patch_offer(self, offer_id: int, changes: Mapping[str, object], at: float) -> Offer | None:
        with self._lock:
            current = self._offers.get(offer_id)
            if current is None:
                return None
            new = patched(current, changes, at)
            return current if new is None else self._put(new)

    def get_offers(self, offer_ids: Sequence[int] | None = None) -> list[Offer]:
        with self._lock:
            wanted = self._offers.keys() if offer_ids is None else set(offer_ids) & self._offers.keys()
            return [self._offers[offer_id] for offer_id in sorted(wanted)]

    def put_smartlink(self, name: str, spec: str) -> None:
        with self._lock:
            self._smartlinks[name] = spec

    def get_smartlink(self, name: str) -> str | None:
        with self._lock:
            return self._smartlinks.get(name)

    def list_smartlinks(self) -> dict[str, str]:
        with self._lock:
            return dict(sorted(self._smartlinks.items()))

    def delete_smartlink(self, name: str) -> bool:
        with self._lock:
            return self._smartlinks.pop(name, None) is not None

    def reset(self) -> None:
        with self._lock:
            self._clear()

    def batch(self, decisions: Sequence[Decision] = ()) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # every operation is committed on its own anyway

    def close(self) -> None:
        pass

    def _clear(self) -> None:
        self._decisions: dict[str, Decision] = {}
        self._totals: dict[str, ClickTotals] = {}
        self._expired: dict[str, bool] = {}
        self._counters: dict[tuple[int, str], list[int]] = {}
        self._offers: dict[int, Offer] = {}
        self._smartlinks: dict[str, str] = {}
        self._conversions: dict[str, dict[str, Conversion]] = {}
        self._cap_usage: dict[tuple[int, str], int] = {}
        self._postbacks: dict[str, int] = {}
        self._hours: dict[tuple[int, int], list[int]] = {}
        self._reward_sq: dict[int, float] = {}
        self._restarts: dict[int, _Restart] = {}

    def _decision(self, click_id: str) -> Decision:
        decision = self._decisions.get(click_id)
        if decision is None:
            raise UnknownClick(f"unknown click_id {click_id!r}: no decision was recorded for it")
        return decision

    def _move(self, decision: Decision, old: ClickTotals, new: ClickTotals) -> None:
        """Set a click's totals and move its counters by the change (the SQLite trigger's job)."""
        delta = counter_delta(old, new, self._expired.get(decision.click_id, False))
        if old.reward_micros is None and new.reward_micros is not None:
            self._expired.pop(decision.click_id, None)
        self._totals[decision.click_id] = new
        self._count(decision, delta)
        change = _squared(new.reward_micros) - _squared(old.reward_micros)
        self._reward_sq[decision.offer_id] = self._reward_sq.get(decision.offer_id, 0.0) + change

    def _count(self, decision: Decision, delta: Sequence[int]) -> None:
        """Move the click's counter rows by ``delta`` (in ``COUNTER_COLUMNS`` order), and its
        hour's (clicks, resolved, conversions, reward): the hour's resolved counts the clicks
        whose outcome is known, the pooled resolved + expired. An hour past retention is not
        brought back."""
        for row in self._rows(decision):
            for column, change in enumerate(delta):
                row[column] += change
        if (hour := self._hours.get(_hour_key(decision))) is not None:
            hour[1] += delta[_RESOLVED] + delta[_EXPIRED]
            hour[2] += delta[_CONVERSIONS]
            hour[3] += delta[_REWARD]

    def _put(self, offer: Offer) -> Offer:
        usage = {key: n for (offer_id, key), n in self._cap_usage.items() if offer_id == offer.offer_id}
        offer = replace(offer, capped_until=caps.capped_until(offer, offer.updated_at, usage))
        self._offers[offer.offer_id] = offer
        return offer

    def _use_cap(self, offer: Offer, at: float) -> None:
        usage = {}
        for period in caps.periods(offer, at):
            key = (offer.offer_id, period.key)
            usage[period.key] = self._cap_usage[key] = self._cap_usage.get(key, 0) + 1
        if (until := caps.capped_until(offer, at, usage)) > offer.capped_until:
            self._offers[offer.offer_id] = replace(offer, capped_until=until)

    def _rows(self, decision: Decision) -> list[list[int]]:
        """The pooled counter row of the decision's offer and, with a source, its source row."""
        keys = [(decision.offer_id, NO_SOURCE)]
        if decision.source:
            keys.append((decision.offer_id, decision.source))
        return [self._counters.setdefault(key, [0] * len(COUNTER_COLUMNS)) for key in keys]


def _hour_key(decision: Decision) -> tuple[int, int]:
    """The key of the hourly counters of the decision's offer and hour."""
    return decision.offer_id, int(decision.created_at // HOUR) * HOUR
