"""Replicas sharing one Redis: exact counters across them, a replica killed under load, and
Redis itself stopped under load and brought back.

Clients here behave as production clients must: a request that got no answer (its replica
died, or answered 503) is retried, on the other replica or later. Every operation is
idempotent (a click id keeps its first offer, feedback and postbacks apply once), so after
the retries the counters must equal the clients' tally exactly.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest

from e2e_harness import BanditServer, micros
from redis_servers import RedisServer

pytestmark = pytest.mark.e2e

OFFERS = "11,12,13,14,15"
_PREFIXES = itertools.count()


def replica_env() -> dict[str, str]:
    return {"CPA_BANDIT_REDIS_PREFIX": f"e2e{next(_PREFIXES)}", "CPA_BANDIT_POSTBACK_TOKEN": "tok"}


class Tally:
    """What the clients were told, by offer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clicks: Counter = Counter()
        self.conversions: Counter = Counter()
        self.reward: Counter = Counter()

    def add(self, offer: int, conversions: int = 0, reward: float = 0.0, clicks: int = 0) -> None:
        with self.lock:
            self.clicks[offer] += clicks
            self.conversions[offer] += conversions
            self.reward[offer] += micros(reward)

    def check(self, client: httpx2.Client, unconfirmed: int = 0) -> None:
        """Counters equal the tally; up to ``unconfirmed`` more clicks in all may be counted:
        a decision whose write timed out is answered as not recorded, yet the write may have
        landed (Redis applied it, the reply was lost)."""
        extra = 0
        for offer in map(int, OFFERS.split(",")):
            stats = client.get(f"/offer_ids/{offer}/stats/").json()
            assert self.clicks[offer] <= stats["clicks"], (offer, stats, self.clicks)
            extra += stats["clicks"] - self.clicks[offer]
            assert stats["conversions"] == self.conversions[offer], (offer, stats, self.conversions)
            assert micros(stats["reward"]) == self.reward[offer], (offer, stats, self.reward)
        assert extra <= unconfirmed, (extra, unconfirmed)


def call(clients: list[httpx2.Client], method: str, url: str, params: dict, deadline_s: float = 30.0) -> httpx2.Response:
    """Send until a replica answers other than 503, alternating replicas after a failure."""
    deadline = time.monotonic() + deadline_s
    for attempt in itertools.count():
        client = clients[attempt % len(clients)]
        try:
            response = client.request(method, url, params=params)
            if response.status_code != 503:
                return response
        except httpx2.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{method} {url} {params}: no answer within {deadline_s}s")
        time.sleep(0.05)
    raise AssertionError("unreachable")


def client_run(replicas: list[BanditServer], thread: int, clicks: int, tally: Tally, stop: threading.Event | None = None) -> int:
    """Samples (some replayed), feedback for half of them, postbacks (pending then approved,
    each sent twice) for a quarter; requests alternate between replicas."""
    rng = random.Random(thread)
    clients = [r.client(timeout=5.0) for r in replicas]
    done = 0
    try:
        for i in range(clicks):
            if stop is not None and stop.is_set():
                break
            order = clients[i % 2 :] + clients[: i % 2]
            cid = f"r{thread}x{i}"
            answer = call(order, "GET", "/sample/", {"click_id": cid, "offer_ids": OFFERS})
            assert answer.status_code == 200 and "recorded" not in answer.json(), answer.text
            offer = answer.json()["offer_id"]
            tally.add(offer, clicks=1)
            if rng.random() < 0.2:
                again = call(order[::-1], "GET", "/sample/", {"click_id": cid, "offer_ids": OFFERS})
                assert again.json()["offer_id"] == offer
            kind = rng.random()
            if kind < 0.5:
                reward = rng.choice([0.0, 0.0, 0.0, 12.5, 0.01, 99.99])
                for _ in range(1 + (rng.random() < 0.3)):  # duplicates
                    r = call(order, "PUT", "/feedback/", {"click_id": cid, "reward": reward})
                    assert r.status_code == 200, r.text
                tally.add(offer, conversions=int(reward > 0), reward=reward)
            elif kind < 0.75:
                payout = rng.choice([3.3, 7.0, 150.25])
                for status in ("lead", "lead", "sale", "sale"):
                    params = {"subid": cid, "payout": payout, "status": status, "tid": "t1", "token": "tok"}
                    r = call(order, "GET", "/postback", params)
                    assert r.status_code == 200, r.text
                tally.add(offer, conversions=1, reward=payout)
            done += 1
    finally:
        for client in clients:
            client.close()
    return done


def sample_load(replica: BanditServer, tag: str, stop: threading.Event, tally: Tally) -> tuple[int, float]:
    """Samples until ``stop``, with feedback for every recorded one (retried through an
    outage); returns (unrecorded answers, slowest answer in seconds)."""
    unrecorded, slowest = 0, 0.0
    with replica.client(timeout=5.0) as client:
        for i in itertools.count():
            if stop.is_set():
                return unrecorded, slowest
            started = time.monotonic()
            answer = client.get("/sample/", params={"click_id": f"{tag}-{i}", "offer_ids": OFFERS})
            slowest = max(slowest, time.monotonic() - started)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            if body.get("recorded") is False:
                unrecorded += 1
                time.sleep(0.01)
                continue
            tally.add(body["offer_id"], clicks=1)
            reward = 5.0 if i % 4 == 0 else 0.0
            done = call([client], "PUT", "/feedback/", {"click_id": f"{tag}-{i}", "reward": reward})
            assert done.status_code == 200, done.text
            tally.add(body["offer_id"], conversions=int(reward > 0), reward=reward)
    raise AssertionError("unreachable")


def test_two_replicas_on_one_redis_keep_exact_counters(serve_bandit, redis_server):
    env = replica_env()
    replicas = [serve_bandit(store=redis_server.url, env=env) for _ in range(2)]
    tally = Tally()
    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(lambda t: client_run(replicas, t, 150, tally), range(8))) == 8 * 150
    with replicas[1].client() as client:
        tally.check(client)
        counts = client.get("/postbacks/stats").json()
        assert counts["refused"] == {} and counts["duplicate"] == counts["applied"], counts


def test_a_replica_killed_under_load_loses_nothing_it_acknowledged(serve_bandit, redis_server):
    env = replica_env()
    replicas = [serve_bandit(store=redis_server.url, env=env) for _ in range(2)]
    tally = Tally()
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(client_run, replicas, t, 120, tally) for t in range(8)]
        time.sleep(1.5)
        replicas[0].kill()  # mid-traffic; its clients fail over to the other replica
        assert sum(f.result(timeout=300) for f in futures) == 8 * 120
    with replicas[1].client() as client:
        tally.check(client)


def test_redis_stopped_under_load_degrades_then_recovers(serve_bandit, tmp_path: Path):
    # append-only with fsync on every write: what Redis acknowledged survives its restart
    redis = RedisServer(tmp_path / "redis", extra_args=("--appendonly", "yes", "--appendfsync", "always")).start()
    try:
        env = {**replica_env(), "CPA_BANDIT_STORE_TIMEOUT_MS": "100", "CPA_BANDIT_STORE_RETRY_S": "0.5"}
        replica = serve_bandit(store=redis.url, env=env)
        tally = Tally()
        assert client_run([replica, replica], 0, 60, tally) == 60
        stop = threading.Event()
        with ThreadPoolExecutor(4) as pool, replica.client(timeout=5.0) as client:
            load = [pool.submit(sample_load, replica, f"L{t}", stop, tally) for t in range(4)]
            time.sleep(0.5)
            redis.stop()  # under load
            time.sleep(1.0)
            latencies, answers = [], []
            for i in range(40):
                started = time.monotonic()
                answers.append(client.get("/sample/", params={"click_id": f"down{i}", "offer_ids": OFFERS}))
                latencies.append(time.monotonic() - started)
            assert all(a.status_code == 200 and a.json()["recorded"] is False for a in answers)
            assert max(latencies) < 1.0 and sorted(latencies)[20] < 0.1, latencies
            feedback = client.put("/feedback/", params={"click_id": "r0x1", "reward": 1})
            postback = client.get("/postback", params={"subid": "r0x1", "token": "tok"})
            assert (feedback.status_code, postback.status_code) == (503, 503)
            assert feedback.headers["retry-after"] == "1"
            assert client.get("/healthz").status_code == 503

            redis.start()  # same port, same append-only file; the service is not restarted
            deadline = time.monotonic() + 15
            for probe in itertools.count():
                answer = client.get("/sample/", params={"click_id": f"up{probe}", "offer_ids": OFFERS}).json()
                if "recorded" not in answer:
                    tally.add(answer["offer_id"], clicks=1)
                    break
                assert time.monotonic() < deadline, "the service did not recover by itself"
                time.sleep(0.1)
            time.sleep(0.5)
            stop.set()
            results = [f.result(timeout=60) for f in load]
            unrecorded = sum(n for n, _ in results)
            assert unrecorded > 0, "the load saw the outage"
            assert max(slowest for _, slowest in results) < 1.0, results
            assert client.get("/healthz").json()["unrecorded_decisions"] >= 40 + unrecorded
            assert client.get("/clicks/down0").status_code == 404, "unrecorded clicks are not stored"
            assert client_run([replica, replica], 1, 20, tally) == 20
            tally.check(client, unconfirmed=unrecorded)
    finally:
        redis.stop()
