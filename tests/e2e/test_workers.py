"""Exact counters under concurrent traffic served by two uvicorn worker processes.

16 client threads send 3,000 decisions over 10 offers with feedback for most clicks
(conversions with fractional rewards), replayed samples, duplicate feedback and conflicting
feedback. Every answer is checked as it arrives, and at the end each offer's
``/offer_ids/{id}/stats/`` must equal the clients' own tally exactly: the two workers share
the SQLite file, so a lost update or a double count in either shows up here.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from e2e_harness import BanditServer, micros

pytestmark = pytest.mark.e2e

THREADS = 16
CLICKS = 3_000
OFFERS = list(range(101, 111))
OFFER_IDS = ",".join(map(str, OFFERS))
FEEDBACK_SHARE = 0.85
CONVERSION_SHARE = 0.25
REPLAY_SHARE = 0.10
DUPLICATE_SHARE = 0.10
CONFLICT_SHARE = 0.05
DEFER_SHARE = 0.30  # feedback sent after the thread's other samples, not right away
CLICKS_PER_CONNECTION = 40  # fresh connections now and then, so both workers accept some
FRACTIONAL_REWARDS = [12.34, 0.01, 7.5, 99.99, 3.333333, 0.000001, 1234.56, 45.67]


@dataclass
class Tally:
    clicks: Counter = field(default_factory=Counter)
    conversions: Counter = field(default_factory=Counter)
    reward_micros: Counter = field(default_factory=Counter)
    requests: Counter = field(default_factory=Counter)
    seen_click_ids: set = field(default_factory=set)

    def merge(self, other: Tally) -> None:
        self.clicks += other.clicks
        self.conversions += other.conversions
        self.reward_micros.update(other.reward_micros)  # update keeps zero sums, += drops them
        self.requests += other.requests
        assert not self.seen_click_ids & other.seen_click_ids, "click ids must be distinct"
        self.seen_click_ids |= other.seen_click_ids


def click_id_for(thread: int, i: int) -> tuple[str, int | str]:
    """The click id to send and the JSON value the service must answer with."""
    kind = i % 3
    if kind == 0:  # canonical integer: answered as a JSON integer
        value = 1_000_000 * (thread + 1) + i
        return str(value), value
    if kind == 1:  # tracker-style id using every allowed punctuation character
        text = f"w{thread}.c{i}:K-x_9"
        return text, text
    text = f"0{thread:02d}{i:05d}"  # digits, but not canonical (leading zero): stays a string
    return text, text


def run_client(server: BanditServer, thread: int, n_clicks: int, seed: int) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    deferred: list[tuple[str, int | str, int]] = []
    client = server.client()

    def feedback(cid: str, json_id: int | str, offer: int) -> None:
        reward = rng.choice(FRACTIONAL_REWARDS) if rng.random() < CONVERSION_SHARE else 0.0
        if rng.random() < 0.5 and reward:
            reward = round(rng.uniform(0.01, 250.0), 2)
        expected = {"click_id": json_id, "offer_id": offer, "is_conversion": reward > 0, "reward": reward}
        r = client.put("/feedback/", params={"click_id": cid, "reward": reward})
        tally.requests["feedback"] += 1
        assert r.status_code == 200, (cid, reward, r.status_code, r.text)
        assert r.json() == expected
        tally.conversions[offer] += reward > 0
        tally.reward_micros[offer] += micros(reward)
        if rng.random() < DUPLICATE_SHARE:  # a retried callback: same answer, nothing counted
            again = client.put("/feedback/", params={"click_id": cid, "reward": reward})
            tally.requests["duplicate"] += 1
            assert again.status_code == 200, (cid, again.text)
            assert again.json() == expected
        if rng.random() < CONFLICT_SHARE:  # another reward for a resolved click: refused
            other = 0.0 if reward else 5.55
            conflict = client.put("/feedback/", params={"click_id": cid, "reward": other})
            tally.requests["conflict"] += 1
            assert conflict.status_code == 409, (cid, conflict.status_code, conflict.text)
            body = conflict.json()
            assert body["offer_id"] == offer and micros(body["reward"]) == micros(reward), body

    try:
        unknown = client.put("/feedback/", params={"click_id": f"never-sampled-{thread}", "reward": 1})
        assert unknown.status_code == 404, unknown.text
        for i in range(n_clicks):
            if i and i % CLICKS_PER_CONNECTION == 0:
                client.close()
                client = server.client()
            cid, json_id = click_id_for(thread, i)
            params = {"click_id": cid, "offer_ids": OFFER_IDS, "sampler": rng.choice(["ucb", "thompson"])}
            r = client.get("/sample/", params=params)
            tally.requests["sample"] += 1
            assert r.status_code == 200, (cid, r.status_code, r.text)
            body = r.json()
            assert body["click_id"] == json_id and type(body["click_id"]) is type(json_id), body
            offer = body["offer_id"]
            assert offer in OFFERS, body
            tally.clicks[offer] += 1
            tally.seen_click_ids.add(cid)
            if rng.random() < REPLAY_SHARE:  # the same click again: its first answer, uncounted
                params["sampler"] = rng.choice(["ucb", "thompson"])
                again = client.get("/sample/", params=params)
                tally.requests["replay"] += 1
                assert again.status_code == 200, again.text
                assert again.json() == body
            if rng.random() < FEEDBACK_SHARE:
                if rng.random() < DEFER_SHARE:
                    deferred.append((cid, json_id, offer))
                else:
                    feedback(cid, json_id, offer)
        rng.shuffle(deferred)
        for cid, json_id, offer in deferred:
            feedback(cid, json_id, offer)
    finally:
        client.close()
    return tally


def test_two_workers_keep_exact_counters(serve_bandit, tmp_path):
    server = serve_bandit(tmp_path / "workers.db", workers=2)

    # Both workers have built their app once both hold the SQLite file (bounded wait).
    deadline = time.monotonic() + 20
    while len(workers := server.worker_pids()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(workers) == 2, f"expected 2 worker processes with the database open, found {workers}"
    cpu_before = {pid: server.cpu_seconds(pid) for pid in workers}

    shares = [CLICKS // THREADS + (t < CLICKS % THREADS) for t in range(THREADS)]
    started = time.monotonic()
    barrier = threading.Barrier(THREADS, timeout=30)

    def worker(t: int) -> Tally:
        barrier.wait()  # all threads hit the server together
        return run_client(server, t, shares[t], seed=1000 + t)

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(worker, t) for t in range(THREADS)]
        total = Tally()
        for future in futures:
            total.merge(future.result(timeout=120))
    elapsed = time.monotonic() - started

    cpu_used = {pid: server.cpu_seconds(pid) - cpu_before[pid] for pid in workers}
    assert len(total.seen_click_ids) == CLICKS
    assert sum(total.clicks.values()) == CLICKS

    with server.client() as client:
        for offer in OFFERS:
            stats = server.stats(client, offer)
            clicks = total.clicks[offer]
            conversions = total.conversions[offer]
            reward = total.reward_micros[offer] / 1_000_000
            assert stats["clicks"] == clicks, (offer, stats, clicks)
            assert stats["conversions"] == conversions, (offer, stats, conversions)
            assert abs(stats["reward"] - reward) <= 1e-6, (offer, stats, reward)
            assert stats["cr"] == pytest.approx(conversions / clicks if clicks else 0.0, abs=1e-9)
            assert stats["rpc"] == pytest.approx(reward / clicks if clicks else 0.0, abs=1e-6)
        never = server.stats(client, 999)
        assert never == {"offer_id": 999, "clicks": 0, "conversions": 0, "reward": 0.0, "cr": 0.0, "rpc": 0.0}
        assert client.get("/healthz").status_code == 200

    # Both worker processes are still the same two (none crashed and was replaced) and both
    # did a real share of the work: neither sat idle while the other served everything.
    assert server.worker_pids() == workers
    total_cpu = sum(cpu_used.values())
    print(f"\n{sum(total.requests.values())} requests {dict(total.requests)} in {elapsed:.1f}s;"
          f" worker CPU seconds {cpu_used}")
    for pid, used in cpu_used.items():
        assert used >= 0.05 * total_cpu, f"worker {pid} barely served: CPU {cpu_used}"
