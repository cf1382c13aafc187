"""The named scenarios: each one a way a CPA platform's traffic tests the bandit.

All start from the same sizes (the command line's ``--clicks``, ``--offers`` …) and the same
seeded offers; each changes one thing. A scenario also says which part of the run judges
it: after a drift only the second half shows whether a policy adapted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from .world import WorldConfig

Judged = Literal["all", "second_half"]


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
    )
}


def scenario_config(name: str, base: WorldConfig) -> WorldConfig:
    """The world of scenario ``name`` at the sizes of ``base``."""
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
    raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
