"""A process-local store for tests, benchmarks and the simulator; nothing survives exit."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from ..domain import Decision, Outcome, UnknownClick
from .base import COUNTER_COLUMNS


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decisions: dict[str, Decision] = {}
        self._rewards: dict[str, int] = {}
        self._counters: dict[int, list[int]] = {}

    def record_decision(self, decision: Decision) -> tuple[Decision, bool]:
        with self._lock:
            stored = self._decisions.setdefault(decision.click_id, decision)
            if stored is not decision:
                return stored, False
            self._row(decision.offer_id)[0] += 1
            return decision, True

    def resolve_click(self, click_id: str, reward_micros: int, at: float) -> tuple[Outcome, bool]:
        with self._lock:
            decision = self._decisions.get(click_id)
            if decision is None:
                raise UnknownClick(f"unknown click_id {click_id!r}: no decision was recorded for it")
            stored = self._rewards.get(click_id)
            if stored is not None:
                return Outcome(click_id, decision.offer_id, stored), False
            self._rewards[click_id] = reward_micros
            row = self._row(decision.offer_id)
            row[1] += 1
            row[2] += reward_micros > 0
            row[3] += reward_micros
            return Outcome(click_id, decision.offer_id, reward_micros), True

    def read_counters(self, offer_ids: Sequence[int]) -> np.ndarray:
        matrix = np.zeros((len(offer_ids), len(COUNTER_COLUMNS)), dtype=np.int64)
        with self._lock:
            for i, offer_id in enumerate(offer_ids):
                row = self._counters.get(offer_id)
                if row is not None:
                    matrix[i] = row
        return matrix

    def reset(self) -> None:
        with self._lock:
            self._decisions.clear()
            self._rewards.clear()
            self._counters.clear()

    def close(self) -> None:
        pass

    def _row(self, offer_id: int) -> list[int]:
        return self._counters.setdefault(offer_id, [0] * len(COUNTER_COLUMNS))
