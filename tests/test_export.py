"""`cpa-bandit export`: the decision log of a store as CSV or Parquet rounds."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cpa_bandit.cli import app
from cpa_bandit.decision_log import COLUMNS, read_log
from cpa_bandit.policies import PolicyParams, Sampler
from cpa_bandit.service import BanditService
from cpa_bandit.store import SQLiteStore

T0 = 1_764_547_200.0  # 2025-12-01T00:00:00Z


@pytest.fixture
def database(tmp_path: Path) -> str:
    """A store with 30 decisions, one a minute from T0, some resolved."""
    path = tmp_path / "bandit.db"
    clock = iter(T0 + 60 * i for i in range(1_000))
    service = BanditService(SQLiteStore(path), np.random.default_rng(1), lambda: next(clock))
    for i in range(30):
        params = PolicyParams(Sampler.thompson) if i % 2 else PolicyParams(Sampler.ucb)
        service.decide(f"c{i}", [4, 7, 9], params, source="s1" if i % 3 else None)
    for i in range(0, 30, 4):
        service.feedback(f"c{i}", 2_500_000 if i % 8 else 0)
    service.store.close()
    return f"sqlite:///{path}"


def test_csv_to_standard_output_in_the_open_bandit_layout(database: str) -> None:
    result = CliRunner().invoke(app, ["export", "--store", database])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 30
    assert [row["click_id"] for row in rows] == [f"c{i}" for i in range(30)]
    assert {row["action"] for row in rows} <= {"0", "1", "2"}  # index of offers 4, 7, 9
    assert all(["4", "7", "9"][int(row["action"])] == row["offer_id"] for row in rows)
    assert all(0 < float(row["pscore"]) <= 1 and row["position"] == "0" for row in rows)
    assert [row["reward"] for row in rows[:9]] == ["0.0", "", "", "", "2.5", "", "", "", "0.0"]
    assert rows[1]["sampler"] == "thompson" and json.loads(rows[1]["eligible"]) == [4, 7, 9]
    assert json.loads(rows[0]["evidence"])["clicks"] == [0, 0, 0]
    assert sum(json.loads(rows[3]["evidence"])["clicks"]) == 3  # no source: the pooled clicks before it


def test_parquet_file_between_two_times(database: str, tmp_path: Path) -> None:
    output = tmp_path / "log.parquet"
    args = ["export", "--store", database, "--since", "2025-12-01T00:05", "--until", str(T0 + 600), "--output", str(output)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    table = pq.read_table(output)
    assert table.column_names == list(COLUMNS)
    assert table.column("click_id").to_pylist() == [f"c{i}" for i in range(5, 10)]
    assert [row.click_id for row in read_log(output)] == [f"c{i}" for i in range(5, 10)]


def test_bad_options_are_refused(database: str) -> None:
    assert CliRunner().invoke(app, ["export", "--store", database, "--format", "xlsx"]).exit_code == 2
    assert CliRunner().invoke(app, ["export", "--store", database, "--since", "yesterday"]).exit_code == 2


def test_maintenance_keeps_the_log_within_its_retention() -> None:
    from cpa_bandit.service import Retention
    from cpa_bandit.store import MemoryStore

    now = [T0]
    service = BanditService(
        MemoryStore(), np.random.default_rng(0), lambda: now[0], retention=Retention(decision_log_s=3_600.0)
    )
    for i in range(6):
        now[0] = T0 + 1_000 * i
        service.decide(f"r{i}", [1, 2], PolicyParams(Sampler.thompson))
    service.maintain()  # now = T0 + 5,000: decisions before T0 + 1,400 leave the log
    assert [row.click_id for row in service.decision_log()] == ["r2", "r3", "r4", "r5"]
    assert service.offer_stats(1).clicks + service.offer_stats(2).clicks == 6  # counters stay
    off = BanditService(MemoryStore(), np.random.default_rng(0), retention=Retention(decision_log_s=0))
    off.decide("x", [1, 2], PolicyParams(Sampler.ucb))
    assert list(off.decision_log()) == []
