"""The JSON lines of ``simulate --jsonl``, and reading an earlier run's back to pair with.

A line per (scenario, policy, seed) holds every score and the config it ran with: the
world's fields and how the run was made (:data:`RUN_INFO_KEYS`). Two runs replayed the same
streams exactly when their world configs agree on a (scenario, seed); only then does a
seed-by-seed difference cancel the world's luck (see :mod:`.paired`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from .runner import SeedRun
from .summary import judged_efficiency
from .world import WorldConfig

RUN_INFO_KEYS = frozenset({"mode", "http", "store", "seconds_per_click", "maintain_every", "change_detection"})
"""Keys a line's config has beside the world's (``command.Plan.run_info``): how a run was
made, not which streams it replayed, so pairing ignores them."""


def json_lines(seed_run: SeedRun, run_info: dict) -> Iterator[str]:
    """One line per policy: its scores, and the world config plus ``run_info`` (mode, store…)."""
    for run in seed_run.runs:
        yield json.dumps(
            {
                "scenario": seed_run.scenario,
                "policy": run.policy,
                "seed": seed_run.seed,
                "judged_efficiency": judged_efficiency(seed_run.scenario, run.scores),
                **asdict(run.scores),
                "config": {**asdict(seed_run.config), **run_info},
            }
        )


@dataclass(frozen=True, slots=True)
class EarlierRun:
    """The judged efficiencies of an earlier run, on the (scenario, policy, seed)s it shares
    with this one."""

    path: Path
    efficiencies: dict[tuple[str, str], dict[int, float]]

    def judged(self, scenario: str, policy: str) -> dict[int, float]:
        """Judged efficiency by seed; empty where the earlier run has none to pair."""
        return self.efficiencies.get((scenario, policy), {})


def read_earlier(
    path: Path, worlds: Mapping[str, WorldConfig], policies: Iterable[str], seeds: Iterable[int]
) -> EarlierRun:
    """The lines of ``path`` that a run of ``worlds`` × ``policies`` × ``seeds`` can pair with.

    Raises ``ValueError`` when the file is not such lines, shares nothing with the run, or
    has a line whose world config differs from this run's for its (scenario, seed). A key
    the line lacks counts as the field's default: a field added since that file was written
    leaves older worlds as they were by default (which the five core scenarios' tests keep)."""
    ours = {scenario: _world_json(config) for scenario, config in worlds.items()}
    wanted_policies, wanted_seeds = set(policies), set(seeds)
    defaults = _world_json(WorldConfig())
    efficiencies: dict[tuple[str, str], dict[int, float]] = {}
    for number, line in _read_lines(path):
        try:
            scenario, policy, seed = line["scenario"], line["policy"], line["seed"]
            efficiency, config = float(line["judged_efficiency"]), line["config"]
            theirs = {**defaults, **{key: value for key, value in config.items() if key not in RUN_INFO_KEYS}}
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ValueError(f"{path}, line {number}: not a line of `simulate --jsonl`") from None
        if scenario not in ours or seed not in wanted_seeds:
            continue
        if theirs != ours[scenario]:
            raise ValueError(
                f"{path}, line {number}: {scenario} seed {seed} ran on another world"
                f" ({_changes(theirs, ours[scenario])}); pairing needs the same world config,"
                " so that both runs replayed the same streams"
            )
        if policy in wanted_policies:
            efficiencies.setdefault((scenario, policy), {})[seed] = efficiency
    if not efficiencies:
        raise ValueError(f"{path} has no (scenario, policy, seed) in common with this run")
    return EarlierRun(path, efficiencies)


def _read_lines(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, parsed line) for each line that is not blank."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield number, json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError(f"{path}, line {number}: not JSON") from None


def _world_json(config: WorldConfig) -> dict:
    """The config as a line holds it (tuples become lists), for comparing with one read back."""
    return json.loads(json.dumps(asdict(config)))


def _changes(theirs: dict, ours: dict) -> str:
    """``clicks 600 there, 500 here`` for each world field the two configs disagree on."""
    keys = sorted(key for key in theirs.keys() | ours.keys() if theirs.get(key) != ours.get(key))
    return ", ".join(f"{key} {theirs.get(key)!r} there, {ours.get(key)!r} here" for key in keys)
