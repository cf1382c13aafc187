"""HTTP mode against the real server: ``cpa-bandit serve`` on a temp SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from e2e_harness import BanditServer
from typer.testing import CliRunner

from cpa_bandit.cli import app
from cpa_bandit.policies import PolicyParams, Sampler
from cpa_bandit.sim.http_client import HttpServicePolicy, Target
from cpa_bandit.sim.runner import RunOptions, SimClock, play
from cpa_bandit.sim.stream import draw
from cpa_bandit.sim.world import WorldConfig

TINY = WorldConfig(clicks=300, offers=8, sources=2, eligible=4, mean_delay=20.0)


@pytest.mark.e2e
def test_a_run_over_http_is_counted_by_the_server_and_repeats_never_collide(bandit_server: BanditServer) -> None:
    _, stream = draw(TINY, 0)
    target = Target.parse(bandit_server.base_url)
    policies, chosen = [], []
    for _ in range(2):  # the same stream twice against one server: ids must not collide
        policy = HttpServicePolicy(target, PolicyParams(Sampler.thompson), pass_source=True)
        chosen.append(play(stream, policy, SimClock(), RunOptions()))
        policy.close()
        policies.append(policy)
    assert policies[0].token != policies[1].token

    delivered = np.flatnonzero(stream.due < stream.clicks)
    with bandit_server.client() as client:
        for policy, picks in zip(policies, chosen, strict=True):
            offers = stream.eligible[np.arange(stream.clicks), picks]
            rewards = stream.reward_micros[delivered, picks[delivered]]
            stats = [bandit_server.stats(client, policy.offer_base + k) for k in range(TINY.offers)]
            assert [s["clicks"] for s in stats] == np.bincount(offers, minlength=TINY.offers).tolist()
            assert sum(s["conversions"] for s in stats) == int((rewards > 0).sum())
            assert sum(s["reward"] for s in stats) == pytest.approx(rewards.sum() / 1e6)
            # a click still pending at the end is on the server under the run's click id
            pending = int(np.flatnonzero(stream.due >= stream.clicks)[0])
            answer = client.put("/feedback/", params={"click_id": policy.click_id(pending), "reward": 0})
            assert answer.status_code == 200, answer.text
            assert answer.json()["offer_id"] == policy.offer_base + offers[pending]


@pytest.mark.e2e
def test_simulate_command_over_http(bandit_server: BanditServer, tmp_path: Path) -> None:
    args = [
        "simulate", "--http", bandit_server.base_url, "--scenario", "static", "--policy", "thompson",
        "--policy", "ucb-pooled", "--seeds", "1", "--clicks", "200", "--offers", "8", "--sources", "2",
        "--eligible", "4", "--delay", "20", "--jsonl", str(tmp_path / "http.jsonl"),
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "http.jsonl").read_text().splitlines()]
    assert [x["policy"] for x in lines] == ["thompson", "ucb-pooled"]
    assert lines[0]["config"]["mode"] == "http" and lines[0]["config"]["http"] == f"127.0.0.1:{bandit_server.port}"
    assert all(-1.0 <= x["efficiency"] <= 1.0 for x in lines)


def test_only_loopback_servers_are_driven() -> None:
    assert Target.parse("http://127.0.0.1:8000") == Target("127.0.0.1", 8000)
    assert Target.parse("http://127.2.3.4:81/") == Target("127.2.3.4", 81)
    assert Target.parse("http://[::1]:8000") == Target("::1", 8000)
    assert Target.parse("http://localhost") == Target("localhost", 80)
    for url in ("http://10.0.0.1:8000", "http://192.168.1.2", "http://bandit.internal:8000", "ftp://127.0.0.1"):
        with pytest.raises(ValueError):
            Target.parse(url)
    with pytest.raises(ValueError, match="without a path"):
        Target.parse("http://127.0.0.1:8000/sample/")


def test_click_and_offer_ids_fit_the_service_s_formats() -> None:
    policy = HttpServicePolicy(Target("127.0.0.1", 9), PolicyParams(), pass_source=False)
    assert policy.offer_base + (1 << 20) - 1 < 2**63
    assert len(policy.click_id(10**12)) <= 64
    policy.close()
