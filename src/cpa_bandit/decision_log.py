"""The decision log as a file: one row per decision, joined with its outcome.

The layout is Open Bandit Pipeline's logged bandit feedback, one round per row: ``action``
(the chosen offer as an index over all known offers), ``reward`` and ``pscore`` (the
propensity), ``position`` (always 0: one offer per click), plus what an off-policy
estimate of *another* bandit setting needs: the offers the policy chose among and the
statistics it saw (``eligible``, ``evidence``), the policy and its parameters.

``reward`` is the click's approved revenue in currency units: 0 for a click resolved
without conversion or whose attribution window passed, empty while the click is pending
(``resolved`` false); estimators leave pending clicks out.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from itertools import islice
from operator import attrgetter
from pathlib import Path
from typing import Literal

import numpy as np

from .domain import Evidence
from .policies import MODEL_VERSION, ArmStats, SourceCounts
from .policies.population import Population

Format = Literal["csv", "parquet"]

COLUMNS = (
    "round",
    "timestamp",
    "click_id",
    "source",
    "sampler",
    "params",
    "offer_id",
    "action",
    "position",
    "pscore",
    "reward",
    "resolved",
    "eligible",
    "evidence",
)

PARQUET_BATCH = 50_000
"""Rows per Parquet row group: the export streams, whatever the log's length."""

_POPULATION = attrgetter(*(f.name for f in fields(Population)))
"""A population's floats in the order ``Evidence.population`` keeps them."""


@dataclass(frozen=True, slots=True)
class LogRow:
    """One logged decision and what came of it."""

    round: int
    timestamp: float
    click_id: str
    source: str
    params: dict[str, float | str]
    offer_id: int
    action: int
    pscore: float
    reward: float | None
    evidence: Evidence

    @property
    def sampler(self) -> str:
        return str(self.params.get("sampler", ""))

    @property
    def resolved(self) -> bool:
        return self.reward is not None

    def as_record(self) -> dict[str, object]:
        return {
            "round": self.round,
            "timestamp": self.timestamp,
            "click_id": self.click_id,
            "source": self.source,
            "sampler": self.sampler,
            "params": json.dumps(self.params, separators=(",", ":")),
            "offer_id": self.offer_id,
            "action": self.action,
            "position": 0,
            "pscore": self.pscore,
            "reward": self.reward,
            "resolved": self.resolved,
            "eligible": json.dumps(list(self.evidence.offers), separators=(",", ":")),
            "evidence": self.evidence.to_json(),
        }

    @classmethod
    def from_record(cls, record: dict[str, object]) -> LogRow:
        reward = record["reward"]
        return cls(
            round=int(record["round"]),  # type: ignore[arg-type]
            timestamp=float(record["timestamp"]),  # type: ignore[arg-type]
            click_id=str(record["click_id"]),
            source=str(record["source"] or ""),
            params=json.loads(str(record["params"])),
            offer_id=int(record["offer_id"]),  # type: ignore[arg-type]
            action=int(record["action"]),  # type: ignore[arg-type]
            pscore=float(record["pscore"]),  # type: ignore[arg-type]
            reward=None if reward is None or reward == "" else float(reward),  # type: ignore[arg-type]
            evidence=Evidence.from_json(str(record["evidence"])),
        )


def evidence_of(offer_ids: Sequence[int], arms: ArmStats, population: Population | None = None) -> Evidence:
    """The evidence a decision on these offers was made on, as the log keeps it: its
    counts as int64 and its money as float64, exact, copied (the caller's arrays may
    change later) into two read-only arrays with no Python object per offer, and its
    binary form; ``population``, the fitted population the policy used, if it was handed
    one (None: not logged)."""
    source = arms.source
    counts = [arms.clicks, arms.resolved, arms.conversions]
    declared = arms.declared_payout
    money = [arms.reward, np.full(len(arms), np.nan) if declared is None else declared]
    if arms.reward_sq is not None:
        money.append(arms.reward_sq)
    if source is not None:
        counts += [source.clicks, source.resolved, source.conversions]
        money.append(source.reward)
    return Evidence.from_matrices(
        offer_ids,
        np.array(counts, dtype=np.int64),
        np.array(money, dtype=np.float64),
        None if source is None else source.weight,
        MODEL_VERSION,
        () if population is None else _POPULATION(population),
    )


def evidence_population(evidence: Evidence) -> Population | None:
    """The fitted population a logged decision used, for its replay to use too; None where
    the decision did not log one (evidence of before it did: the replay then refits it
    from the evidence, as the decision did)."""
    return Population(*evidence.population) if evidence.population else None


def evidence_stats(evidence: Evidence) -> ArmStats:
    """The statistics a policy decided on, as the service handed them to it: declared
    payouts NaN where missing, or None when no offer declared one; and the population fit
    it used, where the decision logged one."""
    payout = np.array(evidence.payout, dtype=np.float64)  # None: NaN
    if np.isnan(payout).all():
        payout = None
    source = None
    if evidence.source_weight is not None:
        source = SourceCounts(
            *_arrays(evidence.source_clicks, evidence.source_resolved, evidence.source_conversions, evidence.source_reward),
            weight=evidence.source_weight,
        )
    return ArmStats(
        *_arrays(evidence.clicks, evidence.resolved, evidence.conversions, evidence.reward),
        declared_payout=payout,
        reward_sq=np.array(evidence.reward_sq, dtype=np.float64) if len(evidence.reward_sq) else None,
        source=source,
        population=evidence_population(evidence),
    )


def _arrays(*columns: Sequence[float]) -> list[np.ndarray]:
    return [np.array(column, dtype=np.float64) for column in columns]


def write_log(rows: Iterable[LogRow], fmt: Format, output: Path | None = None) -> int:
    """Write the rows to ``output`` (standard output when None); returns how many."""
    if fmt == "csv":
        if output is None:
            return _write_csv(rows, sys.stdout)
        with output.open("w", newline="", encoding="utf-8") as stream:
            return _write_csv(rows, stream)
    if output is None:
        return _write_parquet(rows, sys.stdout.buffer)
    with output.open("wb") as stream:
        return _write_parquet(rows, stream)


def _write_csv(rows: Iterable[LogRow], stream: io.TextIOBase) -> int:
    writer = csv.DictWriter(stream, fieldnames=COLUMNS)
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row.as_record())
        count += 1
    return count


def _parquet_schema():  # pyarrow is imported only where Parquet is asked for
    import pyarrow as pa

    text, integer, real = pa.string(), pa.int64(), pa.float64()
    types = {"round": integer, "timestamp": real, "offer_id": integer, "action": integer, "position": integer}
    types |= {"pscore": real, "reward": real, "resolved": pa.bool_()}
    return pa.schema([(name, types.get(name, text)) for name in COLUMNS])


def _write_parquet(rows: Iterable[LogRow], stream: io.BufferedIOBase) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _parquet_schema()
    count = 0
    with pq.ParquetWriter(stream, schema) as writer:
        iterator = iter(rows)
        while batch := [row.as_record() for row in islice(iterator, PARQUET_BATCH)]:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            count += len(batch)
    return count


def read_log(path: Path) -> Iterator[LogRow]:
    """The rows of a file written by ``write_log``, CSV or Parquet (told by its first bytes)."""
    with path.open("rb") as probe:
        parquet = probe.read(4) == b"PAR1"
    if parquet:
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=PARQUET_BATCH):
            yield from map(LogRow.from_record, batch.to_pylist())
        return
    with path.open(newline="", encoding="utf-8") as stream:
        yield from map(LogRow.from_record, csv.DictReader(stream))
