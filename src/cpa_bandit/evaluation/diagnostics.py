"""When the log cannot support the estimate: named thresholds, and what to do about each."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rounds import Rounds

MIN_CONVERSIONS = 30
"""Below this many rewarded rounds, estimates of revenue per click rest on a handful of rare
events: the normal interval around a mean of so few (and heavy-tailed) terms is unreliable."""

MAX_PENDING_SHARE = 0.05
"""Pending rows are not missing at random (they are the latest clicks, and the conversions
that take longest): past 5 % of the log, leaving them out may shift the estimate."""

MAX_UNSUPPORTED_SHARE = 0.01
"""Share of the target's choices that the logging policy could not have made. Their rewards
are invisible to IPS and SNIPS, which then miss that share of the value entirely; at rpc
spreads of 10× between offers, 1 % of the choices already moves the estimate noticeably."""

MIN_ESS_SHARE = 0.1
"""Below a tenth of the rounds, a few heavily weighted rounds decide the estimate, and the
normal interval (which assumes many comparable terms) becomes too narrow."""

SMALL_PSCORE = 0.02
"""Thompson's logged propensities are computed within ±0.008 (absolute): below 0.02 a weight
1 / pscore may be off by 40 % or more."""

MAX_SMALL_PSCORE_WEIGHT = 0.1
"""Share of the total importance weight that rounds below ``SMALL_PSCORE`` may carry before
the estimate is said to depend on their imprecise propensities."""


@dataclass(frozen=True, slots=True)
class Caveat:
    """Why an estimate may not be trusted: ``code`` for machines, ``message`` for people."""

    code: str
    message: str


def unsupported_share(rounds: Rounds) -> float:
    """Mean over rounds of the target's probability on offers the logging policy could not choose."""
    if len(rounds) == 0:
        return 0.0
    return float(rounds.entry_target[~rounds.entry_supported].sum() / len(rounds))


def caveats(rounds: Rounds, ess: float) -> list[Caveat]:
    """Every reason found in the log to doubt the estimates, in the order a reader should fix them."""
    found: list[Caveat] = []

    def warn(code: str, message: str) -> None:
        found.append(Caveat(code, message))

    n = len(rounds)
    rows = n + rounds.pending + rounds.invalid
    if rounds.invalid:
        warn(
            "invalid_rows",
            f"{rounds.invalid} of {rows} rows were left out: their propensity is missing, 0 or above 1, or their"
            " offer is not among their evidence's offers. A log written by this service has none; check where it"
            " came from.",
        )
    if rows and rounds.pending / rows > MAX_PENDING_SHARE:
        warn(
            "pending",
            f"{rounds.pending} of {rows} rows ({rounds.pending / rows:.0%}) are still pending and were left out: the"
            " estimate covers resolved clicks, which under-represent the latest clicks and slow-converting offers."
            " Export a window whose attribution period has passed (export --until).",
        )
    if n == 0:
        warn("no_rounds", "no resolved round with a usable propensity: there is nothing to estimate.")
        return found
    conversions = int(np.count_nonzero(rounds.reward > 0))
    if conversions < MIN_CONVERSIONS:
        warn(
            "few_conversions",
            f"only {conversions} of the {n} rounds used converted: the estimates rest on them, and intervals over"
            f" fewer than {MIN_CONVERSIONS} rare events are unreliable. Evaluate a longer log.",
        )
    if (share := unsupported_share(rounds)) > MAX_UNSUPPORTED_SHARE:
        warn(
            "unsupported",
            f"{share:.1%} of the target's choices go to offers the logging policy could not have chosen (UCB logs"
            " are deterministic up to ties): IPS and SNIPS cannot see what those choices would have earned, and DR"
            " fills them in from its reward model alone. Evaluating another policy needs a log from a randomised"
            " one: log with sampler=thompson.",
        )
    if ess < MIN_ESS_SHARE * n:
        warn(
            "low_ess",
            f"the importance weights concentrate on few rounds (effective sample size {ess:.0f} of {n}): the"
            " estimate rests on them and its interval is likely too narrow. Evaluate a longer log, or a target"
            " closer to the logging policy.",
        )
    weights = rounds.weights
    total = float(weights.sum())
    small = float(weights[rounds.pscore < SMALL_PSCORE].sum()) / total if total > 0 else 0.0
    if small > MAX_SMALL_PSCORE_WEIGHT:
        warn(
            "small_propensities",
            f"rounds logged with a propensity below {SMALL_PSCORE} carry {small:.0%} of the importance weight: those"
            " propensities are known within ±0.008, so their weights may be off by 40 % or more, and a few such rounds"
            " can swing IPS. Prefer SNIPS and DR, and read the intervals as optimistic.",
        )
    return found
