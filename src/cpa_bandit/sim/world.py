"""The simulated market: offers, traffic sources and the true rates that the bandit must learn.

A world is drawn once per seed from a :class:`WorldConfig`. Conversion rates are log-uniform
over CPA-like rates and payouts heavy-tailed, drawn independently, so the offer that converts
best is often not the one that earns most per click. Each source multiplies every offer's
conversion rate by its own lognormal factor: the larger ``source_spread``, the more sources
disagree about the best offer.

Every random number is drawn whatever the scenario asks for, in the same order and shapes,
so one seed gives the same offers in every scenario with the same sizes: the scenario only
decides what happens to them (a drift, late starts), which keeps scenarios comparable. The
one exception is ``offer_draw="trap"``: a world built to test one failure, whose offers
follow a fixed structure of their own instead (see :func:`_trap_offers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

OfferDraw = Literal["cpa", "trap"]

TRAP_CR = (0.08, 0.15)
TRAP_PAYOUT = (0.5, 1.5)
"""The trap offer converts best and pays least: rate and payout uniform in these ranges."""
RARE_CR = (0.003, 0.008)
RARE_LEAD = (1.5, 3.0)
"""The best offer converts rarely (rate uniform in RARE_CR) and its rpc is this many times the
trap's: a lead that pays for waiting out its rare conversions, with no near tie."""
MIDDLE_CR = (0.01, 0.035)
MIDDLE_SHARE = (0.35, 0.7)
"""The other offers: rates log-uniform in MIDDLE_CR, rpc this share of the best's. Between the
two in rate and in payout (0.35 × 1.5 > 0.035 / 0.08 keeps their payouts above the trap's),
and clearly worse than the best."""


@dataclass(frozen=True, slots=True)
class WorldConfig:
    """Sizes and shapes of one simulated market; times are counted in clicks."""

    clicks: int = 10_000
    offers: int = 30
    sources: int = 4
    eligible: int = 10
    """Offers eligible for each click (a random subset of the offers that have started)."""
    mean_delay: float = 100.0
    """Mean feedback delay in clicks."""
    delay_sigma: float = 1.5
    """Shape of the lognormal delay: the larger, the longer its tail for the same mean."""
    cr_range: tuple[float, float] = (0.001, 0.10)
    """Conversion rates are log-uniform in this range (before source effects)."""
    payout_median: float = 10.0
    payout_sigma: float = 1.2
    payout_range: tuple[float, float] = (0.5, 200.0)
    """Payouts are lognormal, clipped to this range and rounded to cents."""
    source_spread: float = 0.3
    """Sigma of each source's lognormal factor on each offer's conversion rate."""
    drift_at: int | None = None
    """Click from which the drift below applies; None = no drift."""
    drift_top: int = 3
    drift_top_factor: float = 0.2
    """The ``drift_top`` best offers (pooled rpc) get their conversion rates scaled by this."""
    drift_low: int = 3
    drift_low_factor: float = 5.0
    """``drift_low`` offers drawn from the worse half get their conversion rates scaled by this."""
    drift_payout_factor: float = 1.0
    """The ``drift_top`` offers' payouts are scaled by this at the drift (1 = unchanged)."""
    late_offers: int = 0
    """Offers that are not eligible before their start click; the best offer is one of them."""
    late_start: tuple[int, int] = (0, 0)
    """Start clicks of the late offers are drawn uniformly from [low, high)."""
    offer_draw: OfferDraw = "cpa"
    """How the offers' base rates and payouts are drawn: ``cpa`` independently, from
    ``cr_range`` and the payout fields; ``trap`` in the trap's structure (:func:`_trap_offers`),
    which ignores those fields."""

    def __post_init__(self) -> None:
        if min(self.clicks, self.offers, self.sources, self.eligible) < 1:
            raise ValueError("clicks, offers, sources and eligible must all be at least 1")
        if self.offers - self.late_offers < self.eligible:
            raise ValueError(
                f"{self.eligible} eligible offers per click need as many offers from the start;"
                f" only {self.offers - self.late_offers} of {self.offers} are not late"
            )
        if self.mean_delay <= 0 or self.delay_sigma < 0:
            raise ValueError("mean_delay must be > 0 and delay_sigma >= 0")
        if not 0 < self.cr_range[0] <= self.cr_range[1] <= 1:
            raise ValueError("cr_range must be within (0, 1]")
        if self.drift_at is not None and self.drift_low > self.offers - max(self.offers // 2, self.drift_top):
            raise ValueError("drift_low offers must fit in the worse half, below the drift_top ones")
        if self.late_offers and not 0 <= self.late_start[0] < self.late_start[1]:
            raise ValueError("late_start must be a range [low, high) with 0 <= low < high")
        if self.offer_draw == "trap" and self.offers < 2:
            raise ValueError("a trap needs at least 2 offers: the trap and the best")


@dataclass(frozen=True, slots=True)
class World:
    """True rates of a drawn world, before and after the drift (phase 0 and 1).

    ``cr[phase, source, offer]`` is the conversion rate, ``payout[phase, offer]`` the payout;
    without a drift both phases are equal. ``start[offer]`` is the first click at which an
    offer may be eligible.
    """

    config: WorldConfig
    source_weights: np.ndarray
    cr: np.ndarray
    payout: np.ndarray
    start: np.ndarray

    @property
    def rpc(self) -> np.ndarray:
        """Expected revenue per click, ``[phase, source, offer]``."""
        return self.cr * self.payout[:, None, :]

    def phase(self, clicks: np.ndarray) -> np.ndarray:
        """Phase of each click: 0 before the drift, 1 from ``drift_at`` on."""
        drift_at = self.config.drift_at
        return (clicks >= (drift_at if drift_at is not None else np.inf)).astype(np.intp)

    def pooled_rpc(self, phase: int = 0) -> np.ndarray:
        """Expected rpc of each offer over the traffic mix (source weights)."""
        return self.source_weights @ self.rpc[phase]


def make_world(config: WorldConfig, seed: np.random.SeedSequence) -> World:
    rng = np.random.default_rng(seed)
    k, s = config.offers, config.sources
    base_cr, payout = (_trap_offers if config.offer_draw == "trap" else _cpa_offers)(config, rng)
    # A few sources bring most traffic, as on a real platform: Zipf-like weights.
    weights = 1.0 / np.arange(1, s + 1)
    weights /= weights.sum()
    source_effect = np.exp(config.source_spread * rng.standard_normal((s, k)))
    if config.offer_draw == "trap":
        source_effect /= weights @ source_effect  # the traffic mix sees the trap exactly as drawn
    cr = np.minimum(base_cr * source_effect, 1.0)
    drift_order = rng.permutation(k)  # which offers of the worse half drift upwards
    late_order = rng.permutation(k)  # which offers besides the best start late
    late_starts = rng.uniform(size=k)

    rpc_order = np.argsort(-(weights @ (cr * payout)), kind="stable")
    best = rpc_order[0]

    after_cr, after_payout = cr.copy(), payout.copy()
    if config.drift_at is not None:
        top = rpc_order[: config.drift_top]
        candidates = set(rpc_order[max(k // 2, config.drift_top) :].tolist())
        low_offers = [o for o in drift_order.tolist() if o in candidates][: config.drift_low]
        after_cr[:, top] *= config.drift_top_factor
        after_cr[:, low_offers] *= config.drift_low_factor
        np.minimum(after_cr, 1.0, out=after_cr)
        after_payout[top] = (after_payout[top] * config.drift_payout_factor).round(2)

    start = np.zeros(k, dtype=np.int64)
    if config.late_offers:
        late = [best] + [o for o in late_order.tolist() if o != best][: config.late_offers - 1]
        lo, hi = config.late_start
        start[late] = lo + (late_starts[late] * (hi - lo)).astype(np.int64)

    return World(
        config=config,
        source_weights=weights,
        cr=np.stack([cr, after_cr]),
        payout=np.stack([payout, after_payout]),
        start=start,
    )


def _cpa_offers(config: WorldConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Base rates log-uniform in ``cr_range`` and heavy-tailed payouts in whole cents, drawn
    independently, as offers on a CPA platform come."""
    low, high = np.log(config.cr_range)
    base_cr = np.exp(rng.uniform(low, high, config.offers))
    lognormal = rng.lognormal(np.log(config.payout_median), config.payout_sigma, config.offers)
    return base_cr, np.clip(lognormal, *config.payout_range).round(2)


def _trap_offers(config: WorldConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Base rates and payouts (whole cents) where the offer that converts best pays least and
    the one that earns most per click converts rarely: a policy that trusts early conversion
    counts settles on the trap, one that judges by revenue must wait for the best's rare
    conversions. The offers are shuffled so that no offer index gives the trap or the best away."""
    middle = config.offers - 2
    trap_cr, trap_payout = rng.uniform(*TRAP_CR), rng.uniform(*TRAP_PAYOUT)
    best_cr = rng.uniform(*RARE_CR)
    best_rpc = trap_cr * trap_payout * rng.uniform(*RARE_LEAD)
    cr = np.concatenate([[trap_cr, best_cr], np.exp(rng.uniform(*np.log(MIDDLE_CR), middle))])
    rpc = np.concatenate([[trap_cr * trap_payout, best_rpc], best_rpc * rng.uniform(*MIDDLE_SHARE, middle)])
    order = rng.permutation(config.offers)
    return cr[order], (rpc / cr).round(2)[order]
