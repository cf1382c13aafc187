"""The service's records and the refusals it can answer with, shared by every layer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Evidence:
    """The statistics a policy chose from, one entry per offer it could choose: logged with
    the decision so that another policy can later be asked what it would have done with
    the same evidence (offline evaluation), and so that Thompson's propensity can be
    computed from it. Pooled counters of each offer since its last detected change, their
    squared rewards, and the click's source's counters (empty without a source) with the
    weight of its offer's record in that source's prior; ``reward`` is in currency units;
    ``payout`` the declared payout or None. ``model`` is the version of the model that
    decided (``policies.MODEL_VERSION``): evidence logged by another model cannot replay
    the decision, and the log then has no propensity for it."""

    offers: tuple[int, ...]
    clicks: tuple[float, ...]
    resolved: tuple[float, ...]
    conversions: tuple[float, ...]
    reward: tuple[float, ...]
    payout: tuple[float | None, ...]
    reward_sq: tuple[float, ...] = ()
    source_clicks: tuple[float, ...] = ()
    source_resolved: tuple[float, ...] = ()
    source_conversions: tuple[float, ...] = ()
    source_reward: tuple[float, ...] = ()
    source_weight: float | None = None
    model: int = 1
    """1: the first model's log, written before ``model`` was (it held no such key)."""

    def to_json(self) -> str:
        # by hand: dataclasses.asdict deep-copies every number, ten times the cost of dumping
        fields = {name: getattr(self, name) for name in self.__slots__}
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Evidence:
        return cls(
            **{name: tuple(value) if isinstance(value, list) else value for name, value in json.loads(text).items()}
        )


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


@dataclass(frozen=True, slots=True)
class Offer:
    """An offer as the operator declared it in the registry.

    A declared payout is the prior for the offer's payout until its own conversions speak
    (and the payout of a postback that names none); a paused offer is never chosen, even
    when a click lists it as eligible, and neither is one at its conversion cap, until
    ``capped_until`` (the end of the capped day or month in the offer's time zone).
    """

    offer_id: int
    name: str | None = None
    payout_micros: int | None = None
    status: str = "active"
    updated_at: float = 0.0
    cap_daily: int | None = None
    cap_monthly: int | None = None
    timezone: str = "UTC"
    multiple_conversions: bool = False
    """Whether a click may convert more than once (upsells, rebills: new transaction ids)."""
    capped_until: float = 0.0

    @property
    def paused(self) -> bool:
        return self.status == "paused"

    def capped(self, now: float) -> bool:
        return self.capped_until > now


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
    """Every listed offer is paused or at its cap: there is nothing the service may choose."""

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
