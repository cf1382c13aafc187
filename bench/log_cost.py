"""What the decision log costs a decision, and what Thompson's propensity costs when the
log is read, in process.

A decision with the log writes its evidence (the eligible offers' statistics) into the
same SQLite transaction; the baseline is the same decision with the log turned off
(``CPA_BANDIT_DECISION_LOG_DAYS=0``), measured alternately in the same run. Thompson's
propensity is computed from the evidence by ``service.decision_log`` (not by the
decision); its cost per logged row is timed against the decision itself.

Run alone: `.venv/bin/python bench/log_cost.py`; `make bench` includes its table.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from cpa_bandit.policies import PolicyParams, Sampler
from cpa_bandit.service import BanditService, Retention
from cpa_bandit.store import SQLiteStore

OFFERS = (3, 20, 200)
DECISIONS = 2_000
ROUNDS = 3
"""Alternating rounds with and without the log; the best of each is reported."""


def _decide(service: BanditService, offers: list[int], prefix: str, params: PolicyParams) -> float:
    """µs per decision over ``DECISIONS`` clicks, a conversion now and then."""
    started = time.perf_counter()
    for i in range(DECISIONS):
        click = f"{prefix}-{i}"
        service.decide(click, offers, params)
        if i % 7 == 0:
            service.feedback(click, 3_000_000 if i % 21 == 0 else 0)
    return (time.perf_counter() - started) / DECISIONS * 1e6


def measure() -> list[tuple[int, str, float, float, float, float]]:
    """(offers, sampler, µs without log, µs with log, ratio, µs to read one row with its
    propensity)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="cpa-bandit-log-cost-") as tmp:
        for k in OFFERS:
            offers = list(range(1, k + 1))
            for sampler in Sampler:
                params = PolicyParams(sampler)
                services = {
                    logged: BanditService(
                        SQLiteStore(Path(tmp) / f"{k}-{sampler.value}-{logged}.db"),
                        np.random.default_rng(0),
                        retention=Retention(decision_log_s=86_400.0 * logged),
                    )
                    for logged in (False, True)
                }
                best = {False: np.inf, True: np.inf}
                for r in range(ROUNDS):
                    for logged, service in services.items():
                        best[logged] = min(best[logged], _decide(service, offers, f"r{r}", params))
                started = time.perf_counter()
                read = sum(1 for _ in services[True].decision_log())
                per_row = (time.perf_counter() - started) / read * 1e6
                for service in services.values():
                    service.store.close()
                rows.append((k, sampler.value, best[False], best[True], best[True] / best[False], per_row))
    return rows


def table(rows: list[tuple[int, str, float, float, float, float]]) -> str:
    lines = [
        "| offers | policy | µs per decision, no log | with log | ratio | µs per row read (export) |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {k:,} | {policy} | {off:.0f} | {on:.0f} | {ratio:.2f} | {read:.0f} |"
        for k, policy, off, on, ratio, read in rows
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(measure()))
