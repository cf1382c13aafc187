"""The service's records and the refusals it can answer with, shared by every layer."""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

EVIDENCE_BINARY = 0xE1
"""First byte of ``Evidence.to_bytes`` (layout 1), distinct from the ``{`` of its JSON."""

_HEADER = struct.Struct("<BBHId")
"""Layout byte, blocks present, model, number of offers, source weight (NaN: no source);
16 bytes, so the int64 blocks after it stay aligned."""
_REWARD_SQ, _SOURCE, _POPULATION = 1, 2, 4
POPULATION_SIZE = 7
"""Floats of a logged population (``policies.population.Population``'s fields, in order)."""
_COUNTS = ("clicks", "resolved", "conversions")
_SOURCE_COUNTS = ("source_clicks", "source_resolved", "source_conversions")
_MONEY = ("reward", "payout", "reward_sq", "source_reward")
_ROUNDED = frozenset({"reward", "reward_sq", "source_reward"})
"""Money the JSON form shows to 6 decimals, as the log always did (payouts are shown whole)."""


@dataclass(frozen=True, slots=True, eq=False)
class Evidence:
    """The statistics a policy chose from, one entry per offer it could choose: logged with
    the decision so that another policy can later be asked what it would have done with
    the same evidence (offline evaluation), and so that Thompson's propensity can be
    computed from it. Pooled counters of each offer since its last detected change, their
    squared rewards, and the click's source's counters (empty without a source) with the
    weight of its offer's record in that source's prior; ``reward`` is in currency units;
    ``payout`` the declared payout, None (or NaN) where none. ``model`` is the version of
    the model that decided (``policies.MODEL_VERSION``): evidence logged by another model
    cannot replay the decision, and the log then has no propensity for it.

    The columns are sequences: tuples as the JSON form and tests give them, read-only
    numpy arrays (int64 counts, float64 money) as a decision (``from_matrices``) and the
    binary form give them, which cost no Python object per offer. Read them with
    ``np.asarray`` or by index."""

    offers: tuple[int, ...]
    clicks: Sequence[float]
    resolved: Sequence[float]
    conversions: Sequence[float]
    reward: Sequence[float]
    payout: Sequence[float | None]
    reward_sq: Sequence[float] = ()
    source_clicks: Sequence[float] = ()
    source_resolved: Sequence[float] = ()
    source_conversions: Sequence[float] = ()
    source_reward: Sequence[float] = ()
    source_weight: float | None = None
    model: int = 1
    """1: the first model's log, written before ``model`` was (it held no such key)."""
    population: tuple[float, ...] = ()
    """The fitted population the decision used (``policies.population.Population``'s
    fields in order; ``decision_log.evidence_population``); empty: not logged."""
    _binary: bytes | None = field(default=None, init=False, repr=False)
    """The binary form, kept by the constructors whose columns are read-only arrays."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Evidence):
            return NotImplemented
        return (
            tuple(self.offers) == tuple(other.offers)
            and (self.source_weight, self.model, tuple(self.population))
            == (other.source_weight, other.model, tuple(other.population))
            and all(_same(getattr(self, name), getattr(other, name)) for name in (*_COUNTS, *_SOURCE_COUNTS))
            and all(_same(getattr(self, name), getattr(other, name), np.float64) for name in _MONEY)
        )

    @classmethod
    def from_matrices(
        cls,
        offers: Sequence[int],
        counts: np.ndarray,
        money: np.ndarray,
        source_weight: float | None,
        model: int,
        population: tuple[float, ...] = (),
    ) -> Evidence:
        """The evidence of a decision from its columns stacked as the binary form lays them
        out: ``counts`` (int64) clicks, resolved, conversions and with a source its three;
        ``money`` (float64) reward, payout (NaN where none), reward_sq if kept and with a
        source its reward: new arrays, which become read-only (the binary form is made
        once, here, and kept)."""
        counts.flags.writeable = money.flags.writeable = False
        source = source_weight is not None
        reward_sq = len(money) == 3 + source
        evidence = cls(
            tuple(offers), *counts[:3], *money[:2],
            reward_sq=money[2] if reward_sq else (),
            **_source_columns(counts, money, source_weight) if source else {},
            model=model,
            population=population,
        )  # fmt: skip
        blocks = _REWARD_SQ * reward_sq | _SOURCE * source | _POPULATION * bool(population)
        object.__setattr__(evidence, "_binary", _encoded(evidence, blocks, counts, money))
        return evidence

    def to_json(self) -> str:
        """The form the log's export shows: counts as integers, money to 6 decimals,
        undeclared payouts as null; ``population`` only where logged."""
        fields = {name: _listed(name, getattr(self, name)) for name in _FIELDS}
        if not self.population:
            del fields["population"]
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Evidence:
        """The evidence of ``to_json`` (columns as tuples, as logged: not rounded again)."""
        return cls(
            **{name: tuple(value) if isinstance(value, list) else value for name, value in json.loads(text).items()}
        )

    def to_bytes(self) -> bytes:
        """The compact form stores keep, little-endian and exact: ``_HEADER``, then int64
        blocks of one entry per offer (offers, clicks, resolved, conversions and with a
        source its three counts), then float64 blocks (reward, payout with NaN where none,
        reward_sq if kept, source_reward with a source), then the population's 7 floats if
        logged."""
        if self._binary is not None:
            return self._binary
        counts = [self.clicks, self.resolved, self.conversions]
        money = [self.reward, self.payout]
        blocks = _POPULATION * bool(self.population)
        if len(self.reward_sq):
            blocks |= _REWARD_SQ
            money.append(self.reward_sq)
        if self.source_weight is not None:
            blocks |= _SOURCE
            counts += [self.source_clicks, self.source_resolved, self.source_conversions]
            money.append(self.source_reward)
        n = len(self.offers)
        if any(len(column) != n for column in (*counts, *money)):
            raise ValueError(f"evidence of {n} offers with a column of another length")
        return _encoded(self, blocks, _whole(counts, n), np.array(money, np.float64).reshape(len(money), n))

    @classmethod
    def from_bytes(cls, data: bytes) -> Evidence:
        """The evidence of ``to_bytes``; its columns are read-only views of ``data``."""
        if len(data) < _HEADER.size or data[0] != EVIDENCE_BINARY:
            raise ValueError("not evidence in binary layout 1")
        _layout, blocks, model, n, weight = _HEADER.unpack_from(data)
        if len(data) != _size(blocks, n):
            raise ValueError(f"evidence of {n} offers with blocks {blocks:#x} cannot be {len(data)} bytes")
        count_rows, money_rows = _rows(blocks)
        ints = np.frombuffer(data, "<i8", (1 + count_rows) * n, _HEADER.size).reshape(1 + count_rows, n)
        floats = np.frombuffer(data, "<f8", offset=_HEADER.size + 8 * (1 + count_rows) * n)
        money = floats[: money_rows * n].reshape(money_rows, n)
        source = weight if blocks & _SOURCE else None
        evidence = cls(
            tuple(ints[0].tolist()), *ints[1:4], *money[:2],
            reward_sq=money[2] if blocks & _REWARD_SQ else (),
            **_source_columns(ints[1:], money, source) if source is not None else {},
            model=model,
            population=tuple(floats[money_rows * n :].tolist()),
        )  # fmt: skip
        object.__setattr__(evidence, "_binary", bytes(data))
        return evidence


_FIELDS = tuple(name for name in Evidence.__slots__ if name != "_binary")
"""The fields of the JSON form, in its order."""


def decode_evidence(value: str | bytes) -> Evidence:
    """Evidence as a store kept it: bytes of ``to_bytes``, or the JSON text of the rows
    logged before it (model 1 without a ``model`` key, model 2)."""
    if isinstance(value, str) or value[:1] == b"{":
        return Evidence.from_json(value)
    return Evidence.from_bytes(value)


def _source_columns(counts: np.ndarray, money: np.ndarray, weight: float) -> dict[str, object]:
    """The source's columns, the rows after the pooled ones (its reward the last)."""
    return dict(zip(_SOURCE_COUNTS, counts[3:])) | {"source_reward": money[-1], "source_weight": weight}


def _encoded(evidence: Evidence, blocks: int, counts: np.ndarray, money: np.ndarray) -> bytes:
    n = len(evidence.offers)
    count_rows, money_rows = _rows(blocks)
    if counts.shape != (count_rows, n) or money.shape != (money_rows, n):
        raise ValueError(f"evidence of {n} offers with a column of another length")
    weight = math.nan if evidence.source_weight is None else evidence.source_weight
    population = evidence.population
    if population and len(population) != POPULATION_SIZE:
        raise ValueError(f"a population is {POPULATION_SIZE} floats, not {len(population)}")
    return b"".join(
        (
            _HEADER.pack(EVIDENCE_BINARY, blocks, evidence.model, n, weight),
            struct.pack(f"<{n}q", *evidence.offers),
            counts.astype("<i8", copy=False).tobytes(),
            money.astype("<f8", copy=False).tobytes(),
            struct.pack(f"<{len(population)}d", *population),
        )
    )


def _rows(blocks: int) -> tuple[int, int]:
    """How many blocks of counts (int64) and of money (float64) of one entry per offer a
    binary form holds, after the offers' ids."""
    source = bool(blocks & _SOURCE)
    return 3 + 3 * source, 2 + bool(blocks & _REWARD_SQ) + source


def _size(blocks: int, n: int) -> int:
    population = POPULATION_SIZE if blocks & _POPULATION else 0
    return _HEADER.size + 8 * ((1 + sum(_rows(blocks))) * n + population)


def _whole(columns: list[Sequence[float]], n: int) -> np.ndarray:
    """Columns of counts as an int64 matrix; a count with a fraction is refused, not cut."""
    matrix = np.array(columns).reshape(len(columns), n)
    if matrix.dtype.kind not in "iu":
        whole = matrix.astype(np.int64)
        if not np.array_equal(whole, matrix):
            raise ValueError("counts of evidence are whole numbers")
        matrix = whole
    return matrix


def _same(a: Sequence, b: Sequence, dtype: type | None = None) -> bool:
    """Whether two columns hold the same numbers, whatever sequence holds them (money:
    NaN and None are the same "none")."""
    return len(a) == len(b) and np.array_equal(np.asarray(a, dtype), np.asarray(b, dtype), equal_nan=dtype is not None)


def _listed(name: str, value: object) -> object:
    if not isinstance(value, np.ndarray):
        return value
    if name == "payout":
        return [None if p != p else p for p in value.tolist()]
    return (np.round(value, 6) if name in _ROUNDED else value).tolist()


@dataclass(frozen=True, slots=True)
class Decision:
    """A click and the offer chosen for it, as stored when the click becomes pending."""

    click_id: str
    offer_id: int
    source: str | None
    created_at: float
    params: dict[str, float | str] = field(default_factory=dict)
    propensity: float | None = None
    evidence: Evidence | None = None
    """What the policy decided on; kept in the decision log while its retention lasts."""
    recorded: bool = True
    """False for a decision made while the store was unreachable, answered from the last
    known statistics, whose storage is not confirmed: usually not stored (its feedback is
    then refused), but a write whose reply timed out may have landed."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The resolution of one click: its reward in micro-units (0 = no conversion)."""

    click_id: str
    offer_id: int
    reward_micros: int

    @property
    def is_conversion(self) -> bool:
        return self.reward_micros > 0


@dataclass(frozen=True, slots=True)
class OfferCounters:
    """Lifetime counters of one offer (or of one offer on one source).

    ``clicks`` counts decisions; ``resolved`` clicks with feedback, ``conversions`` and
    ``reward_micros`` their approved outcomes; ``expired`` clicks whose attribution window
    passed without feedback, which learning counts as non-conversions until late feedback
    comes. ``pending_conversions`` and ``pending_reward_micros`` are postback conversions not
    approved yet: reported apart, never learned from until approved.
    """

    offer_id: int
    clicks: int = 0
    resolved: int = 0
    conversions: int = 0
    reward_micros: int = 0
    expired: int = 0
    pending_conversions: int = 0
    pending_reward_micros: int = 0

    @property
    def pending(self) -> int:
        return self.clicks - self.resolved - self.expired


STATUSES = ("active", "paused", "archived")
"""The statuses an operator declares in the registry; a store keeps each as its index
there (``OfferRows.status``: 0 active, 1 paused, 2 archived)."""

EDITABLE = frozenset(
    {"name", "payout_micros", "status", "cap_daily", "cap_monthly", "timezone", "multiple_conversions", "url"}
)
"""The fields of a registry entry that an operator sets (a ``PATCH`` changes some of them);
``updated_at`` and ``capped_until`` are the service's."""


@dataclass(frozen=True, slots=True)
class Offer:
    """An offer as the operator declared it in the registry.

    A declared payout is the prior for the offer's payout until its own conversions speak
    (and the payout of a postback that names none); a paused or archived offer is never
    chosen, even when a click lists it as eligible, and neither is one at its conversion
    cap, until ``capped_until`` (the end of the capped day or month in the offer's time
    zone). Archiving is pausing for good: the offer leaves the dashboard's default view, its
    counters and history stay, and setting its status back to active undoes it.
    """

    offer_id: int
    name: str | None = None
    payout_micros: int | None = None
    status: str = "active"
    """One of ``STATUSES``: what the operator declared (``status_at`` adds the cap)."""
    updated_at: float = 0.0
    cap_daily: int | None = None
    cap_monthly: int | None = None
    timezone: str = "UTC"
    multiple_conversions: bool = False
    """Whether a click may convert more than once (upsells, rebills: new transaction ids)."""
    capped_until: float = 0.0
    url: str | None = None
    """The landing page's URL template (``smartlinks.MACROS``): where ``/go/`` sends a
    visitor to whom this offer was chosen; an offer without one is not on any smartlink."""

    @property
    def paused(self) -> bool:
        return self.status == "paused"

    @property
    def archived(self) -> bool:
        return self.status == "archived"

    def capped(self, now: float) -> bool:
        return self.capped_until > now

    def status_at(self, now: float) -> str:
        """The status reports show: ``archived`` > ``paused`` > ``capped`` (at its conversion
        cap now) > ``active``."""
        if self.status == "active" and self.capped(now):
            return "capped"
        return self.status


class DomainError(Exception):
    """A request the service refuses; carries what the client needs to know."""

    status_code = 400

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class UnknownClick(DomainError):
    status_code = 404


class ConflictingFeedback(DomainError):
    """Feedback for a click that was already resolved with another reward, or whose outcome
    a pending postback conversion will decide."""

    status_code = 409


class ConflictingDecision(DomainError):
    """A click id that was already decided with an offer outside the new eligible list."""

    status_code = 409


class NoEligibleOffer(DomainError):
    """Every listed offer is archived, paused or at its cap: there is nothing the service may
    choose."""

    status_code = 409


class StoreUnavailable(DomainError):
    """The store cannot take the operation now; the client should retry."""

    status_code = 503


class StoreBusy(StoreUnavailable):
    """The store is locked by another process, and this call was on the event loop, where it
    may not wait long: the caller retries it off the loop, where it may."""


class PostbackRefused(DomainError):
    """A postback the service will not apply; ``reason`` names the kind of refusal, which is
    counted, so that an operator can tell a broken tracker template from noise."""

    def __init__(self, reason: str, detail: str, status_code: int = 422, **extra: object) -> None:
        super().__init__(detail, reason=reason, **extra)
        self.reason = reason
        self.status_code = status_code
