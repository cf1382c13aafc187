"""The named scenarios: each one a way a CPA platform's traffic tests the bandit.

The first five start from the same sizes (the command line's ``--clicks``, ``--offers`` …)
and the same seeded offers; each changes one thing. The trap is a small market of its own,
built to catch a policy that trusts conversion counts over revenue. A scenario also says
which part of the run judges it: after a drift only the second half shows whether a policy
adapted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from .world import RARE_CR, RARE_LEAD, TRAP_CR, TRAP_PAYOUT, WorldConfig

Judged = Literal["all", "second_half"]

TRAP_OFFERS = 5
"""The trap's offers, all eligible on every click, whatever ``--offers`` and ``--eligible`` say."""
TRAP_CLICKS = 4_000
"""The trap's run length unless ``--clicks`` is given: long enough for the best offer's rare
conversions to show, short enough that chasing the trap early costs a visible share."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    judged_on: Judged


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("static", "stationary rates, mild per-source differences", "all"),
        Scenario(
            "drift",
            "halfway, the 3 best offers convert 5x less and 3 poor ones 5x more (judged on the second half)",
            "second_half",
        ),
        Scenario(
            "new-offers", "a third of the offers, the best among them, start between 20 % and 50 % of the run", "all"
        ),
        Scenario("long-delays", "feedback 10x later, with a longer tail: much of it still pending at the end", "all"),
        Scenario("source-specific", "sources disagree strongly about the best offer (spread 1.0)", "all"),
        Scenario(
            "trap",
            f"{TRAP_OFFERS} offers, all eligible: the best converter ({TRAP_CR[0]:.0%}-{TRAP_CR[1]:.0%}) pays least"
            f" (${TRAP_PAYOUT[0]}-{TRAP_PAYOUT[1]}), the best rpc ({RARE_LEAD[0]}-{RARE_LEAD[1]}x the trap's)"
            f" converts {RARE_CR[0]:.1%}-{RARE_CR[1]:.1%}; {TRAP_CLICKS:,} clicks unless --clicks is given",
            "all",
        ),
    )
}

CORE_SCENARIOS = ("static", "drift", "new-offers", "long-delays", "source-specific")
"""The scenarios whose mean judges a policy (the efficiency table's "mean" column and its
target): one market seen five ways. The trap has a target of its own instead of a share of
the mean, so that adding it changes no earlier mean."""


def scenario_config(name: str, base: WorldConfig, clicks_given: bool = True) -> WorldConfig:
    """The world of scenario ``name`` at the sizes of ``base``. The trap keeps its own offers
    and eligible count, and its own run length unless ``clicks_given`` (the user chose
    ``base.clicks``, rather than taking the default)."""
    n = base.clicks
    if name == "static":
        return base
    if name == "drift":
        return replace(base, drift_at=n // 2)
    if name == "new-offers":
        late = min(base.offers // 3, base.offers - base.eligible)
        return replace(base, late_offers=late, late_start=(n // 5, max(n // 2, n // 5 + 1)))
    if name == "long-delays":
        return replace(base, mean_delay=10 * base.mean_delay, delay_sigma=2.0)
    if name == "source-specific":
        return replace(base, source_spread=1.0)
    if name == "trap":
        clicks = n if clicks_given else TRAP_CLICKS
        return replace(base, clicks=clicks, offers=TRAP_OFFERS, eligible=TRAP_OFFERS, offer_draw="trap")
    raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
