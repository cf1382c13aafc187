"""``cpa-bandit simulate`` end to end in process: tables, JSON lines, plots, refusals, and
the paired tables' numbers checked against the JSON lines."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cpa_bandit.cli import app
from cpa_bandit.sim.command import Plan
from cpa_bandit.sim.contenders import DEFAULT_POLICIES, SERVICE_POLICIES
from cpa_bandit.sim.jsonl import RUN_INFO_KEYS
from cpa_bandit.sim.runner import RunOptions
from cpa_bandit.sim.scenarios import CORE_SCENARIOS, SCENARIOS
from cpa_bandit.sim.world import WorldConfig

SMALL_ARGS = ["--clicks", "600", "--offers", "12", "--sources", "3", "--eligible", "5", "--delay", "30"]
SCENARIOS_HEADERS = ["static", "drift (2nd half)", "new-offers", "long-delays", "source-specific", "trap"]


def simulate(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["simulate", *SMALL_ARGS, *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def said(output: str) -> str:
    """The text of the output with the error box's borders and line breaks taken out."""
    return " ".join(output.replace("│", " ").split())


def _table(output: str, title: str) -> tuple[list[list[str]], list[list[str]]]:
    """The cells of the header lines and of the rows of the table whose title starts with ``title``."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    table = lines[start : next(i for i in range(start, len(lines)) if lines[i].startswith("└"))]

    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line[1:-1].split(line[0])]

    return [cells(line) for line in table if line[0] == "┃"], [cells(line) for line in table if line[0] == "│"]


def headers(output: str, title: str) -> list[str]:
    """The scenario columns' headers, their lines joined."""
    lines, _ = _table(output, title)
    return [" ".join(part for part in column if part) for column in zip(*lines)][1:]


def rows(output: str, title: str) -> dict[str, list[str]]:
    """Policy -> its cells."""
    _, lines = _table(output, title)
    return {cells[0]: cells[1:] for cells in lines}


def judged(path: Path) -> dict[tuple[str, str, int], float]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return {(x["scenario"], x["policy"], x["seed"]): x["judged_efficiency"] for x in lines}


def paired_cell(values: Sequence[float]) -> str:
    """Mean ± s.e. as the report should print it, computed here with the standard library."""
    return f"{statistics.mean(values):+.3f} ± {statistics.stdev(values) / math.sqrt(len(values)):.3f}"


POLICIES = ["thompson", "ucb", "random", "epsilon-greedy"]
SEEDS = 3


@pytest.fixture(scope="module")
def every_scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One small run of every scenario: its JSON lines and its report."""
    path = tmp_path_factory.mktemp("sim") / "run.jsonl"
    args = [f"--policy={p}" for p in POLICIES]
    code, output = simulate(*args, "--seeds", str(SEEDS), "--reference", "random", "--jsonl", str(path))
    assert code == 0, output
    return path, output


def test_the_mean_column_is_the_mean_over_the_core_scenarios_seed_by_seed(every_scenario: tuple[Path, str]) -> None:
    path, output = every_scenario
    efficiency = judged(path)
    assert headers(output, "Efficiency")[-2:] == ["trap", "mean"]
    for policy, cells in rows(output, "Efficiency").items():
        means = [statistics.mean(efficiency[s, policy, seed] for s in CORE_SCENARIOS) for seed in range(SEEDS)]
        assert cells[-1] == f"{statistics.mean(means):.3f} ± {statistics.stdev(means):.3f}", policy


def test_the_paired_table_subtracts_the_reference_seed_by_seed(every_scenario: tuple[Path, str]) -> None:
    path, output = every_scenario
    efficiency = judged(path)
    table = rows(output, "Paired difference, policy − random")
    assert headers(output, "Paired difference, policy − random") == [*SCENARIOS_HEADERS, "mean"]
    assert set(table) == set(POLICIES) - {"random"}
    for policy, cells in table.items():
        for scenario, cell in zip(SCENARIOS, cells):
            diffs = [efficiency[scenario, policy, seed] - efficiency[scenario, "random", seed] for seed in range(SEEDS)]
            assert cell == paired_cell(diffs), (scenario, policy)
        means = [
            statistics.mean(efficiency[s, policy, seed] - efficiency[s, "random", seed] for s in CORE_SCENARIOS)
            for seed in range(SEEDS)
        ]
        assert cells[-1] == paired_cell(means), policy


def test_by_default_the_paired_table_subtracts_each_scenario_s_best_baseline(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    args = ["--scenario", "static", "--scenario", "trap", "--seeds", "2", *(f"--policy={p}" for p in POLICIES)]
    code, output = simulate(*args, "--jsonl", str(path))
    assert code == 0, output
    efficiency = judged(path)
    best = {
        s: max(["random", "epsilon-greedy"], key=lambda p: statistics.mean(efficiency[s, p, seed] for seed in (0, 1)))
        for s in ("static", "trap")
    }
    title = "Paired difference from each scenario's best baseline"
    assert headers(output, title) == [f"static vs {best['static']}", f"trap vs {best['trap']}"]
    diffs = [efficiency["trap", "ucb", seed] - efficiency["trap", best["trap"], seed] for seed in (0, 1)]
    assert rows(output, title)["ucb"][1] == paired_cell(diffs)


def _earlier(path: Path, tmp_path: Path, change) -> Path:
    """A copy of the run's JSON lines, each line passed through ``change``."""
    out = tmp_path / "earlier.jsonl"
    lines = [change(json.loads(line)) for line in path.read_text().splitlines()]
    out.write_text("".join(json.dumps(line) + "\n" for line in lines if line is not None))
    return out


def test_paired_with_an_earlier_run_subtracts_it_seed_by_seed(every_scenario: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = every_scenario
    shift = {0: 0.10, 1: 0.02, 2: 0.06}

    def release(line: dict) -> dict | None:
        """As the release wrote it: no trap, no offer_draw; and ucb scored other numbers on static."""
        if line["scenario"] == "trap":
            return None
        del line["config"]["offer_draw"]
        if (line["scenario"], line["policy"]) == ("static", "ucb"):
            line["judged_efficiency"] += shift[line["seed"]]
        return line

    earlier = _earlier(path, tmp_path, release)
    args = [f"--policy={p}" for p in POLICIES]
    code, output = simulate(*args, "--seeds", str(SEEDS), "--paired-with", str(earlier))
    assert code == 0, output
    title = "This run − earlier.jsonl"
    assert headers(output, title) == [*SCENARIOS_HEADERS[:-1], "mean"], "no trap to pair with"
    table = rows(output, title)
    assert table["ucb"][0] == paired_cell([-d for d in shift.values()])
    assert table["ucb"][-1] == paired_cell([-d / len(CORE_SCENARIOS) for d in shift.values()])
    assert table["ucb"][1:-1] == ["+0.000 ± 0.000"] * 4, "same code, same streams, same numbers"
    assert table["thompson"] == ["+0.000 ± 0.000"] * 6


def test_paired_with_fewer_seeds_says_on_how_many(every_scenario: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = every_scenario
    earlier = _earlier(path, tmp_path, lambda line: line if line["seed"] == 0 else None)
    code, output = simulate("--scenario", "static", "--policy", "ucb", "--seeds", "2", "--paired-with", str(earlier))
    assert code == 0, output
    assert rows(output, "This run − earlier.jsonl")["ucb"] == ["+0.000 ± — (n=1)"]


def test_paired_with_another_world_is_refused(every_scenario: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = every_scenario

    def other_delays(line: dict) -> dict:
        if (line["scenario"], line["seed"]) == ("drift", 1):
            line["config"]["mean_delay"] = 60.0
        return line

    earlier = _earlier(path, tmp_path, other_delays)
    code, output = simulate("--scenario", "drift", "--seeds", "2", "--paired-with", str(earlier))
    assert code == 2, output
    assert "drift seed 1 ran on another world (mean_delay 60.0 there, 30.0 here)" in said(output), output
    assert "Traceback" not in output
    assert simulate("--scenario", "drift", "--seeds", "1", "--paired-with", str(earlier))[0] == 0, "seed 1 not paired"


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json\n", "line 1: not JSON"),
        ('{"scenario": "static"}\n', "line 1: not a line of `simulate --jsonl`"),
        ("", "has no (scenario, policy, seed) in common with this run"),
    ],
)
def test_paired_with_a_file_that_is_not_a_run_is_refused(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "x.jsonl").write_text(content)
    code, output = simulate("--paired-with", str(tmp_path / "x.jsonl"))
    assert code == 2 and message in said(output), output


def test_the_run_info_is_what_pairing_ignores() -> None:
    for http in (None, "http://127.0.0.1:8000"):
        plan = Plan.check(["static"], None, 1, WorldConfig(), RunOptions(), "memory", http, None, None)
        assert set(plan.run_info()) <= RUN_INFO_KEYS


def test_tables_json_lines_and_plots(tmp_path: Path) -> None:
    args = [
        "--scenario", "static", "--scenario", "drift", "--policy", "thompson", "--policy", "random",
        "--seeds", "2", "--jsonl", str(tmp_path / "a.jsonl"), "--plots", str(tmp_path / "plots"),
    ]  # fmt: skip
    code, output = simulate(*args)
    assert code == 0, output
    assert "Efficiency, mean ± std over 2 seed(s)" in output and "Cumulative regret" in output
    assert "drift (2nd half)" in output
    assert "thompson − best baseline on drift (random)" in output
    assert "target" not in output, "the targets of a development issue are not a user's"
    assert "mean" not in headers(output, "Efficiency"), "not every core scenario ran"

    lines = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [(x["scenario"], x["seed"], x["policy"]) for x in lines] == [
        (s, seed, p) for s in ("static", "drift") for seed in (0, 1) for p in ("thompson", "random")
    ]
    first = lines[0]
    for key in (
        "efficiency",
        "efficiency_first_half",
        "efficiency_second_half",
        "judged_efficiency",
        "regret",
        "revenue",
    ):
        assert isinstance(first[key], float), key
    assert first["config"]["clicks"] == 600 and first["config"]["mode"] == "in-process"
    assert first["config"]["store"] == "memory" and first["config"]["seconds_per_click"] == 60.0
    drift = next(x for x in lines if x["scenario"] == "drift")
    assert drift["config"]["drift_at"] == 300 and drift["judged_efficiency"] == drift["efficiency_second_half"]

    plots = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert plots == ["drift-allocation.png", "drift-regret.png", "static-allocation.png", "static-regret.png"]
    assert all((tmp_path / "plots" / p).read_bytes().startswith(b"\x89PNG") for p in plots)

    # reproducible: the same command gives the same numbers
    again = [*args[:-4], "--jsonl", str(tmp_path / "b.jsonl")]
    assert simulate(*again)[0] == 0
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()


def test_sqlite_store_runs_the_same_decisions(tmp_path: Path) -> None:
    common = ["--scenario", "static", "--policy", "ucb", "--seeds", "1"]
    assert simulate(*common, "--jsonl", str(tmp_path / "m.jsonl"))[0] == 0
    assert simulate(*common, "--store", "sqlite", "--jsonl", str(tmp_path / "s.jsonl"))[0] == 0
    memory, sqlite = (json.loads((tmp_path / f).read_text()) for f in ("m.jsonl", "s.jsonl"))
    assert sqlite["config"]["store"] == "sqlite"
    assert sqlite["efficiency"] == memory["efficiency"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--scenario", "sunny"], "unknown scenario 'sunny'"),
        (["--policy", "greedy"], "unknown policy(ies) greedy"),
        (["--store", "redis"], "--store must be memory or sqlite"),
        (["--eligible", "20"], "eligible offers per click need"),
        (["--http", "http://192.0.2.1:8000"], "loopback"),
        (["--http", "http://example.com:8000"], "loopback"),
        (["--http", "https://127.0.0.1:8000"], "URL like"),
        (["--http", "http://127.0.0.1:8000", "--policy", "seed-ucb"], "seed-ucb run(s) in the simulator only"),
        (["--http", "http://127.0.0.1:8000", "--store", "sqlite"], "in process only"),
        (["--policy", "ucb", "--reference", "thompson"], "--reference thompson is not among the policies run: ucb"),
        (["--http", "http://127.0.0.1:8000", "--no-change-detection"], "--no-change-detection applies in process only"),
    ],
)
def test_refusals(args: list[str], message: str) -> None:
    code, output = simulate(*args)
    assert code == 2
    assert message in said(output), output


def test_defaults_run_every_scenario_and_policy() -> None:
    plan = Plan.check(None, None, 3, WorldConfig(), RunOptions(), "memory", None, None, None, clicks_given=False)
    assert plan.scenarios == list(SCENARIOS) and plan.policies == list(DEFAULT_POLICIES)
    assert "trap" in plan.scenarios and set(CORE_SCENARIOS) < set(plan.scenarios)
    assert plan.seeds == [0, 1, 2]
    static, trap = plan.worlds["static"], plan.worlds["trap"]
    assert (static.clicks, static.offers, static.sources, static.eligible) == (10_000, 30, 4, 10)
    assert static.mean_delay == 100.0
    assert (trap.clicks, trap.offers, trap.eligible) == (4_000, 5, 5)
    over_http = Plan.check(None, None, 1, WorldConfig(), RunOptions(), "memory", "http://localhost:8000", None, None)
    assert over_http.policies == list(SERVICE_POLICIES)


def test_help_names_every_scenario_and_policy() -> None:
    result = CliRunner().invoke(app, ["simulate", "--help"], env={"COLUMNS": "200"})
    text = " ".join(result.output.split())
    for name in [*SCENARIOS, *DEFAULT_POLICIES, "oracle"]:
        assert name in text, name
    assert "To judge a policy change, run 16 seeds (0–15) and read the paired table" in text
    assert "--seeds 16 --jsonl before.jsonl" in text and "--seeds 16 --paired-with before.jsonl" in text
