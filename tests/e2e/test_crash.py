"""Durability: ``kill -9`` under load loses nothing acknowledged and keeps nothing else.

Client threads drive samples and feedback; once enough answers came back, the server's
process group is SIGKILLed mid-traffic, or (``one worker mid-batch``) one of two workers
alone while its group commit holds a batch open: with a 30 ms batch window, a worker under
this load always has one queued or committing, so the kill lands in it. Every request answered 200 before the kill is
*acknowledged*; each thread stops at its first failed request, so at the kill each thread
has at most one request *in flight*, which the server may or may not have committed.

After a restart on the same SQLite file:

1. Counters right after the restart lie between the acknowledged tally and the acknowledged
   tally plus everything in flight, per offer.
2. Each in-flight request is then probed to learn whether it was applied (feedback for an
   in-flight sample: 404 = never recorded; a different reward for an in-flight feedback:
   409 = it was applied), and the counters must equal acknowledged + applied, exactly.
3. Every acknowledged click is still known: a replayed sample gets its offer back, a pending
   click accepts its feedback, an acknowledged feedback is answered again with the same
   body, and a different reward for it is refused with 409.
4. Counters after all that equal the complete tally, exactly.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx2
import pytest

from e2e_harness import BanditServer, micros

pytestmark = pytest.mark.e2e

THREADS = 8
OFFERS = list(range(201, 207))
OFFER_IDS = ",".join(map(str, OFFERS))
KILL_AFTER_ACKED_SAMPLES = 600
KILL_AT_THE_LATEST = 12.0  # seconds of load
LOAD_DEADLINE = 30.0  # threads stop by themselves after this, whatever happens
FEEDBACK_SHARE = 0.4  # per iteration: resolve one of the thread's pending clicks (else sample)
REWARDS = [0.0, 0.0, 0.0, 12.34, 0.5, 99.99, 3.333333, 7.01]


@dataclass
class Ledger:
    """What the clients know: acknowledged requests and requests in flight at the kill."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    samples: dict[str, int] = field(default_factory=dict)  # click -> offer (ACKed)
    json_ids: dict[str, int | str] = field(default_factory=dict)
    feedback: dict[str, dict] = field(default_factory=dict)  # click -> ACKed response body
    inflight_samples: list[str] = field(default_factory=list)
    inflight_feedback: dict[str, float] = field(default_factory=dict)  # click -> reward sent
    failures: list[str] = field(default_factory=list)  # how each thread's load ended


def json_id(thread: int, i: int) -> tuple[str, int | str]:
    if i % 2:
        return f"crash-{thread}:{i}", f"crash-{thread}:{i}"
    value = 10_000_000 * (thread + 1) + i
    return str(value), value


def drive(server: BanditServer, ledger: Ledger, thread: int, seed: int, stop: threading.Event) -> None:
    """Samples and feedback until the first failed request (the kill) or the deadline."""
    rng = random.Random(seed)
    pending: list[str] = []
    deadline = time.monotonic() + LOAD_DEADLINE
    with server.client(timeout=10.0) as client:
        i = 0
        while not stop.is_set() and time.monotonic() < deadline:
            if pending and rng.random() < FEEDBACK_SHARE:
                cid = pending.pop(rng.randrange(len(pending)))
                reward = rng.choice(REWARDS)
                try:
                    r = client.put("/feedback/", params={"click_id": cid, "reward": reward})
                except httpx2.TransportError as exc:
                    with ledger.lock:
                        ledger.inflight_feedback[cid] = reward
                        ledger.failures.append(f"feedback {cid}: {exc!r}")
                    return
                assert r.status_code == 200, (cid, reward, r.status_code, r.text)
                body = r.json()
                offer = ledger.samples[cid]
                assert body == {
                    "click_id": ledger.json_ids[cid], "offer_id": offer, "is_conversion": reward > 0, "reward": reward
                }, body
                with ledger.lock:
                    ledger.feedback[cid] = body
                continue
            cid, jid = json_id(thread, i)
            i += 1
            params = {"click_id": cid, "offer_ids": OFFER_IDS, "sampler": rng.choice(["ucb", "thompson"])}
            try:
                r = client.get("/sample/", params=params)
            except httpx2.TransportError as exc:
                with ledger.lock:
                    ledger.inflight_samples.append(cid)
                    ledger.json_ids[cid] = jid
                    ledger.failures.append(f"sample {cid}: {exc!r}")
                return
            assert r.status_code == 200, (cid, r.status_code, r.text)
            body = r.json()
            assert body["click_id"] == jid and body["offer_id"] in OFFERS, body
            with ledger.lock:
                ledger.samples[cid] = body["offer_id"]
                ledger.json_ids[cid] = jid
            pending.append(cid)
    with ledger.lock:  # nothing in flight: stopped between two requests, or out of time
        ledger.failures.append("stopped" if stop.is_set() else "deadline: still running, no request failed")


def counters(server: BanditServer, client: httpx2.Client) -> dict[int, dict]:
    return {offer: server.stats(client, offer) for offer in OFFERS}


BATCH_WINDOW = {"CPA_BANDIT_GROUP_COMMIT_MS": "30"}


@pytest.mark.parametrize(
    ("workers", "kill"), [(1, "server"), (2, "server"), (2, "one worker mid-batch")], ids=["1", "2", "worker-mid-batch"]
)
def test_kill_9_loses_no_acknowledged_request(serve_bandit, tmp_path, workers, kill):
    db = tmp_path / "crash.db"
    env = BATCH_WINDOW if kill != "server" else None
    server = serve_bandit(db, workers=workers, env=env)
    victim = server.worker_pids()[0] if kill != "server" else None
    ledger = Ledger()
    stop = threading.Event()

    # --- load, then kill -9 of the whole process group mid-traffic ----------------------
    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(drive, server, ledger, t, 7000 + t, stop) for t in range(THREADS)]
        kill_by = time.monotonic() + KILL_AT_THE_LATEST
        while time.monotonic() < kill_by and not any(f.done() for f in futures):
            with ledger.lock:
                if len(ledger.samples) >= KILL_AFTER_ACKED_SAMPLES:
                    break
            time.sleep(0.005)
        if any(f.done() for f in futures):  # a thread failed (or ran out) before the kill
            stop.set()
            for future in futures:
                future.result(timeout=LOAD_DEADLINE)
            pytest.fail(f"load ended before the kill: {ledger.failures}")
        if victim is None:
            server.kill()
        else:
            os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic() - started
        stop.set()  # threads between requests stop here; the others fail on the dead socket
        for future in futures:
            future.result(timeout=LOAD_DEADLINE)
        if victim is not None:
            server.kill()  # the other worker and the supervisor: no request of theirs is in flight now
    assert not [f for f in ledger.failures if f.startswith("deadline")], ledger.failures
    assert any(f != "stopped" for f in ledger.failures), f"the kill interrupted no request: {ledger.failures}"
    assert len(ledger.inflight_samples) + len(ledger.inflight_feedback) <= THREADS

    acked_clicks = Counter(ledger.samples.values())
    acked_conversions: Counter = Counter()
    acked_reward: Counter = Counter({offer: 0 for offer in OFFERS})
    for cid, body in ledger.feedback.items():
        acked_conversions[body["offer_id"]] += body["is_conversion"]
        acked_reward[body["offer_id"]] += micros(body["reward"])
    inflight_conversions: Counter = Counter()  # upper bounds of what in-flight feedback adds
    inflight_reward: Counter = Counter()
    for cid, reward in ledger.inflight_feedback.items():
        inflight_conversions[ledger.samples[cid]] += reward > 0
        inflight_reward[ledger.samples[cid]] += micros(reward)

    # --- restart on the same file ---------------------------------------------------------
    server = serve_bandit(db, workers=workers, env=env)
    with server.client() as client:
        after = counters(server, client)

        # 1. Bounds: nothing acknowledged is missing, nothing beyond what was sent appeared.
        for offer, stats in after.items():
            assert acked_clicks[offer] <= stats["clicks"] <= acked_clicks[offer] + len(ledger.inflight_samples), (
                offer, stats, acked_clicks[offer], ledger.inflight_samples
            )
            assert acked_conversions[offer] <= stats["conversions"] <= (
                acked_conversions[offer] + inflight_conversions[offer]
            ), (offer, stats, acked_conversions[offer], inflight_conversions[offer])
            reward = micros(stats["reward"])
            assert acked_reward[offer] <= reward <= acked_reward[offer] + inflight_reward[offer], (
                offer, stats, acked_reward[offer], inflight_reward[offer]
            )

        # 2. Which in-flight requests were applied? Probe each, then demand exact counters.
        applied_clicks: Counter = Counter()
        applied_conversions: Counter = Counter()
        applied_reward: Counter = Counter()
        applied_feedback = 0
        later_conversions: Counter = Counter()  # resolutions made after the restart
        later_reward: Counter = Counter()
        for cid in ledger.inflight_samples:
            r = client.put("/feedback/", params={"click_id": cid, "reward": 0})
            if r.status_code == 200:  # the decision was committed before the kill
                offer = r.json()["offer_id"]
                assert offer in OFFERS and r.json()["click_id"] == ledger.json_ids[cid], r.json()
                applied_clicks[offer] += 1
            else:
                assert r.status_code == 404, (cid, r.status_code, r.text)
        for cid, reward in ledger.inflight_feedback.items():
            offer = ledger.samples[cid]
            probe = 0.0 if reward > 0 else 1.25
            r = client.put("/feedback/", params={"click_id": cid, "reward": probe})
            if r.status_code == 409:  # the feedback was committed before the kill
                body = r.json()
                assert body["offer_id"] == offer and micros(body["reward"]) == micros(reward), body
                applied_conversions[offer] += reward > 0
                applied_reward[offer] += micros(reward)
                applied_feedback += 1
            else:
                assert r.status_code == 200, (cid, r.status_code, r.text)
                assert r.json()["offer_id"] == offer, r.json()
                later_conversions[offer] += probe > 0
                later_reward[offer] += micros(probe)
        for offer, stats in after.items():
            assert stats["clicks"] == acked_clicks[offer] + applied_clicks[offer], (offer, stats)
            assert stats["conversions"] == acked_conversions[offer] + applied_conversions[offer], (offer, stats)
            expected = (acked_reward[offer] + applied_reward[offer]) / 1_000_000
            assert abs(stats["reward"] - expected) <= 1e-6, (offer, stats, expected)

        # 3. Every acknowledged click and feedback survived.
        rng = random.Random(workers)
        for cid, offer in ledger.samples.items():
            r = client.get("/sample/", params={"click_id": cid, "offer_ids": OFFER_IDS})
            assert r.status_code == 200 and r.json() == {"click_id": ledger.json_ids[cid], "offer_id": offer}, (
                cid, offer, r.status_code, r.text
            )
            if cid in ledger.feedback:
                acked = ledger.feedback[cid]
                again = client.put("/feedback/", params={"click_id": cid, "reward": acked["reward"]})
                assert again.status_code == 200 and again.json() == acked, (cid, acked, again.text)
                other = 0.0 if acked["reward"] > 0 else 2.5
                conflict = client.put("/feedback/", params={"click_id": cid, "reward": other})
                assert conflict.status_code == 409, (cid, acked, conflict.status_code, conflict.text)
                assert micros(conflict.json()["reward"]) == micros(acked["reward"]), conflict.json()
            elif cid not in ledger.inflight_feedback:  # pending at the kill: still resolvable
                reward = rng.choice(REWARDS)
                r = client.put("/feedback/", params={"click_id": cid, "reward": reward})
                assert r.status_code == 200, (cid, r.status_code, r.text)
                assert r.json() == {
                    "click_id": ledger.json_ids[cid], "offer_id": offer, "is_conversion": reward > 0, "reward": reward
                }
                later_conversions[offer] += reward > 0
                later_reward[offer] += micros(reward)

        # 4. The counters after all of it: the complete tally, exactly.
        final = counters(server, client)
        for offer, stats in final.items():
            assert stats["clicks"] == after[offer]["clicks"], (offer, stats, after[offer])
            conversions = acked_conversions[offer] + applied_conversions[offer] + later_conversions[offer]
            reward = (acked_reward[offer] + applied_reward[offer] + later_reward[offer]) / 1_000_000
            assert stats["conversions"] == conversions, (offer, stats, conversions)
            assert abs(stats["reward"] - reward) <= 1e-6, (offer, stats, reward)

    print(
        f"\nworkers={workers}, kill {kill}: killed after {killed_at:.1f}s with {len(ledger.samples)} samples and"
        f" {len(ledger.feedback)} feedbacks acknowledged; in flight: {len(ledger.inflight_samples)} samples"
        f" ({sum(applied_clicks.values())} applied), {len(ledger.inflight_feedback)} feedbacks"
        f" ({applied_feedback} applied)"
    )
