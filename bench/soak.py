#!/usr/bin/env python3
"""Soak test: bounded sustained mixed load on a loopback cpa-bandit, with exact money checks.

Starts ``cpa-bandit serve`` (``--workers 2`` by default) on 127.0.0.1, on a fresh SQLite file
in a temporary directory (``--store redis``: on a throwaway redis-server), and drives it for
``--duration`` seconds from ``--clients`` threads, each with its own keep-alive connection
(reopened every few hundred requests, so that every worker gets connections). The traffic is
what a CPA platform sends:

* ``GET /sample/`` for fresh click ids (integers and tracker-style ids) over 20 offers, UCB
  and Thompson, 40 % with a traffic ``source=``; 3 % are retried at once (same answer, counted
  once);
* ``PUT /feedback/`` for half of the clicks, a quarter of them conversions with rewards
  down to 0.000001, one in ten sent again later (the same 200 answer, nothing counted);
* tracker postbacks (Keitaro's ``/postback?subid=…&payout=…&status=…&tid=…``) for a quarter
  of the clicks: ``lead``, then mostly ``sale`` (half of them naming a final payout), some
  ``rejected``, some left pending; one in ten of each sent twice, one sale in twenty charged
  back later;
* ``GET /stats/`` and ``GET /offer_ids/{id}/stats/`` for about 1 % of the requests.

Follow-ups come a random number of the client's requests later, so clicks are resolved out
of order and concurrently with new ones. Every answer is checked as it arrives: anything but
a 200 with the expected body is an **error** (counted by route and status, first bodies
kept). Each client keeps an exact tally of what the server acknowledged (clicks,
conversions and revenue in micro-units, pending postback conversions, per offer and per
source); at the end every offer's ``/offer_ids/{id}/stats/`` (pooled and per source),
``/stats/`` and ``/postbacks/stats`` must equal the tally **exactly**.

Reading the report: one row per ``--window`` seconds of the run (by completion time of the
requests): requests/s, p50/p99 latency of all routes and of ``/sample/`` alone, errors, and
the server's RSS (supervisor + workers, summed from /proc). Latency is closed-loop: the
clients send as fast as the server answers, so it is the latency at saturation, and on a
small machine the clients' own CPU is part of the picture (the summary says how many cores
the server, the load generator and the rest of the machine used).

Memory is judged **unbounded** when both (1) the RSS at the end exceeds the RSS after the
warm-up (the first 20 % of the run, at least one window) by more than
``--max-rss-growth-mb``, and (2) it is still rising: the least-squares slopes of the RSS
samples (one a second) over the second half and over the last quarter of the run, kept up
for a whole run, would each add more than a quarter of that bound. Caches that fill once
(SQLite's page caches, Python's allocator arenas, the offer cache) rise early and then
flatten, and a one-off step flattens too, which (2) tells apart from a leak; a steady leak
fails both.

Exit status 1 on any error, any counter that differs from the tally, or unbounded memory.

    make soak                                  # 300 s, 16 clients, 2 workers, SQLite; updates bench/RESULTS.md
    .venv/bin/python bench/soak.py --duration 60 --clients 8 --store redis
"""

from __future__ import annotations

import argparse
import array
import bisect
import contextlib
import datetime as dt
import heapq
import http.client
import json
import math
import os
import platform
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

from loopback import HOST, fetch, free_port

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OFFERS = list(range(501, 521))  # 20 offers
OFFER_IDS = ",".join(map(str, OFFERS))
SOURCES = ("fb-12", "gg-7", "tt-3")
ROUTES = ("sample", "feedback", "postback", "stats")
BEGIN, END = "<!-- soak:begin -->", "<!-- soak:end -->"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 30.0
REQUESTS_PER_CONNECTION = 300
RSS_EVERY_S = 1.0
WARMUP_SHARE = 0.2
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

# traffic mix (per fresh click, unless said otherwise)
STATS_SHARE = 0.02  # of client iterations: ~1 % of requests
REPLAY_SHARE = 0.03
SOURCE_SHARE = 0.4
FEEDBACK_SHARE = 0.5
POSTBACK_SHARE = 0.25  # the rest (25 %) stay pending
CONVERSION_SHARE = 0.25  # of feedback
DUPLICATE_SHARE = 0.10  # feedback and postbacks sent twice
SALE_SHARE, REJECT_SHARE = 0.8, 0.1  # after a lead; the rest stay pending
FINAL_PAYOUT_SHARE = 0.5  # sales naming a payout of their own
CHARGEBACK_SHARE = 0.05  # of sales
MAX_DELAY = 40  # a follow-up comes 0..MAX_DELAY of the client's iterations later
FRACTIONAL_MICROS = [12_340_000, 10_000, 7_500_000, 99_990_000, 3_333_333, 1, 1_234_560_000, 45_670_000]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300, help="seconds of load (default 300)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="cpa-bandit serve --workers (default 2)")
    parser.add_argument("--store", choices=("sqlite", "redis"), default="sqlite", help="default sqlite")
    parser.add_argument("--window", type=float, default=10, help="seconds per report row (default 10)")
    parser.add_argument(
        "--max-rss-growth-mb", type=float, default=None,
        help="RSS growth after warm-up above which memory is unbounded if still rising"
        " (default 100 for runs of 5 minutes or more, 40 for a minute or less, linear in between)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, help="seed of the clients' random choices")
    parser.add_argument("--output-md", type=Path, default=None, help="write the soak section into this markdown file")
    parser.add_argument("--quiet", action="store_true", help="no progress line per window")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.window <= 0 or args.clients < 1 or args.workers < 1:
        parser.error("need duration > 0, window > 0, clients >= 1 and workers >= 1")
    if args.max_rss_growth_mb is None:
        args.max_rss_growth_mb = default_rss_bound(args.duration)
    return args


def default_rss_bound(duration: float) -> float:
    """100 MB for 5 minutes or more, 40 MB for a minute or less, linear in between."""
    return 40 + 60 * min(1.0, max(0.0, (duration - 60) / 240))


def micros(amount: float) -> int:
    return round(amount * 1_000_000)


def money(m: int) -> str:
    """Micro-units as an exact decimal string for a query parameter."""
    return f"{m // 1_000_000}.{m % 1_000_000:06d}"


# --- the server and its processes -----------------------------------------------------------


def _children(pid: int) -> list[int]:
    """Child pids (from /proc/<pid>/task/*/children if the kernel has it, else a /proc scan)."""
    task = Path(f"/proc/{pid}/task")
    try:
        files = [t / "children" for t in task.iterdir()]
        if files and files[0].exists():
            return [int(c) for f in files for c in f.read_text().split()]
    except OSError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += _children(p)
    return tree


def rss_kb(pid: int) -> int:
    """VmRSS of one process in kB, 0 when it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores, from /proc/stat)."""
    with contextlib.suppress(OSError, ValueError):
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    return math.nan


class Server:
    """``cpa-bandit serve`` in its own session (its pid is its process group: workers too)."""

    def __init__(self, workdir: Path, store_url: str, workers: int) -> None:
        self.workdir, self.store_url, self.workers = workdir, store_url, workers
        self.log_path = workdir / "server.log"
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> Server:
        for attempt in range(3):  # the free port may be taken before the server binds it
            self.port = free_port()
            try:
                self._start_once()
                return self
            except RuntimeError:
                if attempt == 2 or "address already in use" not in self.log_text().lower():
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> None:
        cmd = [sys.executable, "-m", "cpa_bandit", "serve", "--host", HOST, "--port", str(self.port),
               "--store", self.store_url, "--workers", str(self.workers), "--log-level", "warning"]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("CPA_BANDIT_")}  # no token, no keys
        env["PYTHONUNBUFFERED"] = "1"
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if fetch(self.port, "GET", "/healthz", REQUEST_TIMEOUT_S)[0] == 200 and self._workers_ready():
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready after {START_TIMEOUT_S:.0f}s:\n{self.log_text()[-3000:]}")

    def _workers_ready(self) -> bool:
        """Every worker has built its app: with SQLite, it holds the database open."""
        if self.workers == 1:
            return True
        pids = self.tree()[1:]
        if len(pids) < self.workers:
            return False
        if not self.store_url.startswith("sqlite:"):
            return True
        return sum(self.db_connections(pid) > 0 for pid in pids) >= self.workers

    def db_connections(self, pid: int) -> int:
        """File descriptors of ``pid`` on the SQLite database: one per open connection."""
        if not self.store_url.startswith("sqlite:"):
            return 0
        db = self.store_url.removeprefix("sqlite:///")
        count = 0
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    count += os.readlink(fd) == db
        return count

    def tree(self) -> list[int]:
        assert self.proc is not None
        return process_tree(self.proc.pid)

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # workers of a supervisor that did not stop them
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


# --- the clients -----------------------------------------------------------------------------


@dataclass
class Tally:
    """What the server acknowledged, per (offer, source); source "" = none."""

    clicks: Counter = field(default_factory=Counter)
    conversions: Counter = field(default_factory=Counter)
    reward: Counter = field(default_factory=Counter)  # micro-units
    pending: Counter = field(default_factory=Counter)
    pending_reward: Counter = field(default_factory=Counter)
    requests: Counter = field(default_factory=Counter)  # by kind of request
    postbacks: Counter = field(default_factory=Counter)  # applied / duplicate
    uncertain: int = 0  # requests whose outcome is unknown (transport error): the tally may miss them

    def merge(self, other: Tally) -> None:
        for name in ("clicks", "conversions", "reward", "pending", "pending_reward", "requests", "postbacks"):
            getattr(self, name).update(getattr(other, name))  # update keeps zeros and negatives
        self.uncertain += other.uncertain

    def pooled(self, counter: Counter, offer: int) -> int:
        return sum(counter[(offer, source)] for source in ("", *SOURCES))


@dataclass
class Errors:
    t0: float = 0.0
    counts: Counter = field(default_factory=Counter)  # (route, status or exception) -> n
    times: list[float] = field(default_factory=list)  # seconds since t0, for the windows
    samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, route: str, what: str, detail: str) -> None:
        with self.lock:
            self.counts[(route, what)] += 1
            self.times.append(time.perf_counter() - self.t0)
            if self.counts[(route, what)] <= 3 and len(self.samples) < 20:  # the first of each kind
                self.samples.append(f"{route} {what}: {detail[:400]}")


@dataclass
class Click:
    cid: str
    json_id: int | str
    offer: int
    source: str
    tid: str
    status: str | None = None  # of its postback conversion
    payout: int = 0  # micro-units, stored by the server


POSTBACK_TARGET = {"lead": "pending", "sale": "approved", "rejected": "rejected", "chargeback": "chargeback"}


class Client(threading.Thread):
    """One simulated partner: sequential requests on one keep-alive connection."""

    def __init__(self, index: int, port: int, t0: float, deadline: float, seed: int, errors: Errors) -> None:
        super().__init__(name=f"soak-client-{index}", daemon=True)
        self.index, self.port, self.t0, self.deadline = index, port, t0, deadline
        self.rng = random.Random(seed)
        self.errors = errors
        self.tally = Tally()
        # one entry per completed request: completion time (s since t0), latency (ms), route
        self.t_end = array.array("d")
        self.latency = array.array("d")
        self.route = array.array("b")
        self.conn: http.client.HTTPConnection | None = None
        self.sent_on_conn = 0
        self.iteration = 0
        self.clicks = 0
        self.queue: list[tuple[int, int, Callable[[], None]]] = []  # (due iteration, seq, step)
        self.seq = 0
        self.crashed: BaseException | None = None

    # -- HTTP --

    def call(self, route: str, method: str, path: str) -> tuple[int, bytes] | None:
        if self.conn is None or self.sent_on_conn >= REQUESTS_PER_CONNECTION:
            if self.conn is not None:
                self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT_S)
            self.sent_on_conn = 0
        self.sent_on_conn += 1
        started = time.perf_counter()
        try:
            self.conn.request(method, path)
            response = self.conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = None
            self.tally.uncertain += 1
            self.errors.add(route, type(exc).__name__, f"{method} {path}: {exc}")
            return None
        ended = time.perf_counter()
        self.t_end.append(ended - self.t0)
        self.latency.append((ended - started) * 1000)
        self.route.append(ROUTES.index(route))
        if response.will_close:
            self.conn.close()
            self.conn = None
        if response.status != 200:
            self.errors.add(route, str(response.status), f"{method} {path} -> {body.decode(errors='replace')}")
            if response.status >= 500:
                self.tally.uncertain += 1
            return None
        return response.status, body

    def expect(self, route: str, method: str, path: str, check: Callable[[dict], bool]) -> dict | None:
        """The JSON body of a 200 that passes ``check``; None (an error counted) otherwise."""
        answer = self.call(route, method, path)
        if answer is None:
            return None
        try:
            body = json.loads(answer[1])
            ok = check(body)
        except (ValueError, KeyError, TypeError):
            body, ok = answer[1], False
        if not ok:
            self.errors.add(route, "200 unexpected body", f"{method} {path} -> {body}")
            return None
        return body

    # -- the traffic --

    def run(self) -> None:
        try:
            while time.perf_counter() < self.deadline:
                while self.queue and self.queue[0][0] <= self.iteration:
                    heapq.heappop(self.queue)[2]()
                    if time.perf_counter() >= self.deadline:
                        return
                if self.rng.random() < STATS_SHARE:
                    self.stats()
                else:
                    self.sample()
                self.iteration += 1
        except BaseException as exc:  # a bug here must not look like a quiet client
            self.crashed = exc
        finally:
            if self.conn is not None:
                self.conn.close()

    def later(self, step: Callable[[], None]) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (self.iteration + self.rng.randint(0, MAX_DELAY), self.seq, step))

    def new_click_id(self) -> tuple[str, int | str]:
        i = self.clicks
        self.clicks += 1
        kind = i % 3
        if kind == 0:  # an integer: answered as a JSON integer
            value = 10_000_000 * (self.index + 1) + i
            return str(value), value
        if kind == 1:  # Keitaro-style
            text = f"kt{self.index:02d}{i:07d}x"
            return text, text
        text = f"c{self.index}.{i}:soak-_"  # every punctuation character allowed
        return text, text

    def sample(self) -> None:
        rng = self.rng
        cid, json_id = self.new_click_id()
        params = {"click_id": cid, "offer_ids": OFFER_IDS, "sampler": rng.choice(("ucb", "thompson"))}
        if params["sampler"] == "thompson" and rng.random() < 0.3:
            params |= {"thompson_a": "1", "thompson_b": "50"}
        elif params["sampler"] == "ucb" and rng.random() < 0.3:
            params["ucb_c"] = "0.5"
        source = rng.choice(SOURCES) if rng.random() < SOURCE_SHARE else ""
        if source:
            params["source"] = source
        path = "/sample/?" + urlencode(params)

        def valid(body: dict) -> bool:
            return (
                body["click_id"] == json_id
                and type(body["click_id"]) is type(json_id)
                and body["offer_id"] in OFFERS
                and body.get("recorded", True) is not False
            )

        body = self.expect("sample", "GET", path, valid)
        self.tally.requests["sample"] += 1
        if body is None:
            return
        offer = body["offer_id"]
        self.tally.clicks[(offer, source)] += 1
        click = Click(cid, json_id, offer, source, tid=f"t{rng.randrange(10**9)}")
        if rng.random() < REPLAY_SHARE:  # a retry: the same offer, counted once
            self.tally.requests["sample replay"] += 1
            again = "/sample/?" + urlencode(params | {"sampler": rng.choice(("ucb", "thompson"))})
            self.expect("sample", "GET", again, lambda b: b == body)
        fate = rng.random()
        if fate < FEEDBACK_SHARE:
            reward = 0
            if rng.random() < CONVERSION_SHARE:
                reward = rng.choice(FRACTIONAL_MICROS) if rng.random() < 0.5 else rng.randint(1, 250_000) * 1000
            self.later(lambda: self.feedback(click, reward, duplicate=False))
        elif fate < FEEDBACK_SHARE + POSTBACK_SHARE:
            self.plan_postbacks(click)

    def feedback(self, click: Click, reward: int, duplicate: bool) -> None:
        expected = {"click_id": click.json_id, "offer_id": click.offer, "is_conversion": reward > 0}
        path = "/feedback/?" + urlencode({"click_id": click.cid, "reward": money(reward)})

        def valid(body: dict) -> bool:
            return {k: body[k] for k in expected} == expected and micros(body["reward"]) == reward

        body = self.expect("feedback", "PUT", path, valid)
        self.tally.requests["feedback duplicate" if duplicate else "feedback"] += 1
        if body is None or duplicate:
            return
        key = (click.offer, click.source)
        self.tally.conversions[key] += reward > 0
        self.tally.reward[key] += reward
        if self.rng.random() < DUPLICATE_SHARE:
            self.later(lambda: self.feedback(click, reward, duplicate=True))

    def plan_postbacks(self, click: Click) -> None:
        """lead, then sale / rejected / nothing; duplicates right after their original; a
        chargeback of some sales. Each step comes some iterations after the previous one."""
        rng = self.rng
        lead_payout = rng.randint(50, 150_000) * 1000 + (rng.choice(FRACTIONAL_MICROS) % 1000)
        steps: list[tuple[str, int | None]] = [("lead", lead_payout)]
        fate = rng.random()
        if fate < SALE_SHARE:
            final = rng.randint(1, 200_000) * 100 if rng.random() < FINAL_PAYOUT_SHARE else None
            steps.append(("sale", final))
            if rng.random() < CHARGEBACK_SHARE:
                steps.append(("chargeback", None))
        elif fate < SALE_SHARE + REJECT_SHARE:
            steps.append(("rejected", None))
        planned: list[tuple[str, int | None]] = []
        for step in steps:
            planned.append(step)
            if rng.random() < DUPLICATE_SHARE:
                planned.append(step)  # a tracker's retry

        def run(i: int) -> None:
            word, payout = planned[i]
            if self.postback(click, word, payout) and i + 1 < len(planned):
                self.later(lambda: run(i + 1))

        self.later(lambda: run(0))

    def postback(self, click: Click, word: str, payout: int | None) -> bool:
        target = POSTBACK_TARGET[word]
        duplicate = click.status == target
        params = {"subid": click.cid, "status": word, "tid": click.tid}
        if payout is not None:
            params["payout"] = money(payout)
        if duplicate or payout is None or target != "approved" and click.status is not None:
            stored = click.payout  # a duplicate changes nothing; a move keeps the payout...
        else:
            stored = payout  # ...unless it is new, or approves with a final payout
        expected = {
            "status": "ok", "click_id": click.json_id, "offer_id": click.offer, "transaction_id": click.tid,
            "conversion_status": target, "previous_status": click.status, "duplicate": duplicate,
        }  # fmt: skip

        def valid(body: dict) -> bool:
            return {k: body[k] for k in expected} == expected and micros(body["payout"]) == stored

        body = self.expect("postback", "GET", "/postback?" + urlencode(params), valid)
        self.tally.requests["postback duplicate" if duplicate else "postback"] += 1
        if body is None:
            return False
        self.tally.postbacks["duplicate" if duplicate else "applied"] += 1
        if duplicate:
            return True
        key = (click.offer, click.source)
        if click.status == "pending":
            self.tally.pending[key] -= 1
            self.tally.pending_reward[key] -= click.payout
        elif click.status == "approved":  # a chargeback takes it back
            self.tally.conversions[key] -= 1
            self.tally.reward[key] -= click.payout
        if target == "pending":
            self.tally.pending[key] += 1
            self.tally.pending_reward[key] += stored
        elif target == "approved":
            self.tally.conversions[key] += 1
            self.tally.reward[key] += stored
        click.status, click.payout = target, stored
        return True

    def stats(self) -> None:
        rng = self.rng
        if rng.random() < 0.7:
            params = {"offer_ids": OFFER_IDS} if rng.random() < 0.5 else {}
            if rng.random() < 0.3:
                params["source"] = rng.choice(SOURCES)
            path = "/stats/" + ("?" + urlencode(params) if params else "")
            self.expect("stats", "GET", path, lambda b: isinstance(b["offers"], list))
        else:
            offer = rng.choice(OFFERS)
            self.expect("stats", "GET", f"/offer_ids/{offer}/stats/", lambda b: b["offer_id"] == offer)
        self.tally.requests["stats"] += 1


# --- measuring -------------------------------------------------------------------------------


@dataclass
class RssSample:
    t: float  # seconds since the load started
    total_kb: int
    by_process: dict[str, int]  # label -> kB


@dataclass
class Window:
    start: float
    end: float
    requests: int
    rps: float
    p50: float
    p99: float
    sample_rps: float
    sample_p50: float
    sample_p99: float
    errors: int
    rss_mb: float


class Monitor(threading.Thread):
    """Samples the server's RSS every second; prints a line per window as it ends."""

    def __init__(
        self, server: Server, clients: list[Client], errors: Errors, args: argparse.Namespace, t0: float
    ) -> None:
        super().__init__(name="soak-monitor", daemon=True)
        self.server, self.clients, self.errors, self.args, self.t0 = server, clients, errors, args, t0
        self.samples: list[RssSample] = []
        self.stop_event = threading.Event()
        self.labels: dict[int, str] = {}
        self.printed = 0  # windows with a progress line
        self.seen_errors = 0

    def label(self, pid: int, root: int) -> str:
        if pid not in self.labels:
            if pid == root:
                name = "supervisor" if self.args.workers > 1 else "server"
            else:
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    cmdline = ""
                if "resource_tracker" in cmdline:
                    name = "resource tracker"
                else:
                    kind = "worker" if "spawn_main" in cmdline or "cpa_bandit" in cmdline else "child"
                    name = f"{kind} {sum(1 for v in self.labels.values() if v.startswith(kind)) + 1}"
            self.labels[pid] = name
        return self.labels[pid]

    def sample_rss(self) -> RssSample:
        root = self.server.proc.pid  # type: ignore[union-attr]
        by_process = {}
        for pid in self.server.tree():
            if kb := rss_kb(pid):
                by_process[self.label(pid, root)] = kb
        return RssSample(time.perf_counter() - self.t0, sum(by_process.values()), by_process)

    def run(self) -> None:
        next_rss = self.t0
        while not self.stop_event.is_set():
            now = time.perf_counter()
            if now >= next_rss:
                self.samples.append(self.sample_rss())
                next_rss += RSS_EVERY_S
            if now >= self.t0 + self.window_end(self.printed) + 0.3:
                self.progress()
            self.stop_event.wait(0.05)
        while self.printed < n_windows(self.args):  # the last one(s), once the clients are done
            self.progress()

    def window_end(self, index: int) -> float:
        return min((index + 1) * self.args.window, self.args.duration)

    def progress(self) -> None:
        """One line for the next window not printed yet: req/s, errors, RSS (stderr)."""
        start, end = self.printed * self.args.window, self.window_end(self.printed)
        if self.printed == n_windows(self.args) - 1:
            end_count = math.inf  # requests in flight at the deadline count in the last window
        else:
            end_count = end
        count = sum(_count_between(c.t_end, start, end_count) for c in self.clients)
        errors = len(self.errors.times)
        rss = self.samples[-1].total_kb / 1024 if self.samples else math.nan
        if not self.args.quiet:
            new_errors = errors - self.seen_errors
            print(f"  {start:6.0f}-{end:<6.0f}s {count / (end - start):8,.0f} req/s  errors {new_errors:<4d}"
                  f" RSS {rss:7.1f} MB", file=sys.stderr, flush=True)  # fmt: skip
        self.seen_errors = errors
        self.printed += 1


def _count_between(values: array.array, low: float, high: float) -> int:
    """Entries of an ascending array in [low, high): a thread appends its completions in order."""
    snapshot = values[:]  # the client appends meanwhile
    return bisect.bisect_left(snapshot, high) - bisect.bisect_left(snapshot, low)


def n_windows(args: argparse.Namespace) -> int:
    return math.ceil(args.duration / args.window - 1e-9)


def percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else math.nan


def records(clients: list[Client]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every completed request: completion time (s), latency (ms), route index."""
    if not clients:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int8)
    return (
        np.concatenate([np.frombuffer(c.t_end, dtype=np.float64) for c in clients]),
        np.concatenate([np.frombuffer(c.latency, dtype=np.float64) for c in clients]),
        np.concatenate([np.frombuffer(c.route, dtype=np.int8) for c in clients]),
    )


def windows(
    clients: list[Client], rss: list[RssSample], error_times: list[float], args: argparse.Namespace
) -> list[Window]:
    """The report's rows: requests by completion time, the RSS sampled at each window's end."""
    t, lat, route = records(clients)
    n = n_windows(args)
    index = np.minimum((t // args.window).astype(int), n - 1)  # in flight at the deadline: last window
    errors = np.minimum((np.array(error_times) // args.window).astype(int), n - 1)
    is_sample = route == ROUTES.index("sample")
    rows = []
    for w in range(n):
        start, end = w * args.window, min((w + 1) * args.window, args.duration)
        length = end - start
        mask = index == w
        sample = lat[mask & is_sample]
        rss_mb = next((s.total_kb / 1024 for s in reversed(rss) if s.t <= end + 0.5), math.nan)  # at its end
        rows.append(Window(
            start=start, end=end, requests=int(mask.sum()), rps=mask.sum() / length,
            p50=percentile(lat[mask], 50), p99=percentile(lat[mask], 99),
            sample_rps=len(sample) / length, sample_p50=percentile(sample, 50), sample_p99=percentile(sample, 99),
            errors=int((errors == w).sum()), rss_mb=rss_mb,
        ))  # fmt: skip
    return rows


@dataclass
class Memory:
    warmup_s: float
    start: RssSample
    end: RssSample
    growth_mb: float
    slope_mb_min: float  # least squares over the second half of the run
    last_slope_mb_min: float  # and over its last quarter
    bound_mb: float
    slope_bound_mb_min: float
    unbounded: bool


def _slope_mb_min(samples: list[RssSample]) -> float:
    if len(samples) < 3:
        return 0.0
    x = np.array([s.t for s in samples]) / 60
    y = np.array([s.total_kb for s in samples]) / 1024
    return float(np.polyfit(x, y, 1)[0])


def judge_memory(samples: list[RssSample], args: argparse.Namespace) -> Memory:
    """Unbounded = more than the bound above the post-warm-up RSS at the end, and still rising
    over the second half and over the last quarter of the run (a one-off step is not a leak)."""
    during = [s for s in samples if s.t <= args.duration + 0.5] or samples
    warmup = max(args.window, WARMUP_SHARE * args.duration)
    start = next((s for s in during if s.t >= warmup), during[-1])
    end = during[-1]
    slope = _slope_mb_min([s for s in during if s.t >= args.duration / 2])
    last_slope = _slope_mb_min([s for s in during if s.t >= args.duration * 3 / 4])
    growth = (end.total_kb - start.total_kb) / 1024
    slope_bound = args.max_rss_growth_mb / 4 / (args.duration / 60)
    rising = slope > slope_bound and last_slope > slope_bound
    return Memory(warmup, start, end, growth, slope, last_slope, args.max_rss_growth_mb, slope_bound,
                  growth > args.max_rss_growth_mb and rising)  # fmt: skip


# --- the final checks ------------------------------------------------------------------------


def check_counters(port: int, tally: Tally) -> list[str]:
    """Every counter the server reports against the clients' tally; the differences."""
    problems: list[str] = []
    conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_S)

    def get(path: str) -> dict:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}: {body[:300]!r}")
        return json.loads(body)

    def compare(what: str, server: int, expected: int) -> None:
        if server != expected:
            problems.append(f"{what}: server {server}, clients {expected} (difference {server - expected:+d})")

    try:
        for offer in OFFERS:
            for source in (None, *SOURCES):
                stats = get(f"/offer_ids/{offer}/stats/" + (f"?source={source}" if source else ""))
                keys = [(offer, source)] if source else [(offer, s) for s in ("", *SOURCES)]
                where = f"offer {offer}" + (f" source {source}" if source else "")
                compare(f"{where} clicks", stats["clicks"], sum(tally.clicks[k] for k in keys))
                compare(f"{where} conversions", stats["conversions"], sum(tally.conversions[k] for k in keys))
                compare(f"{where} reward (micro-units)", micros(stats["reward"]), sum(tally.reward[k] for k in keys))
        rows = {row["offer_id"]: row for row in get(f"/stats/?offer_ids={OFFER_IDS}")["offers"]}
        for offer in OFFERS:
            row = rows.get(offer, {"clicks": 0, "pending_conversions": 0, "pending_reward": 0.0})
            compare(f"/stats/ offer {offer} clicks", row["clicks"], tally.pooled(tally.clicks, offer))
            compare(f"/stats/ offer {offer} pending conversions", row["pending_conversions"],
                    tally.pooled(tally.pending, offer))  # fmt: skip
            compare(f"/stats/ offer {offer} pending reward (micro-units)", micros(row["pending_reward"]),
                    tally.pooled(tally.pending_reward, offer))  # fmt: skip
        counts = get("/postbacks/stats")
        compare("/postbacks/stats applied", counts["applied"], tally.postbacks["applied"])
        compare("/postbacks/stats duplicate", counts["duplicate"], tally.postbacks["duplicate"])
        if counts["refused"]:
            problems.append(f"/postbacks/stats refused: {counts['refused']}")
        health = get("/healthz")
        if health.get("unrecorded_decisions"):
            problems.append(f"/healthz: {health['unrecorded_decisions']} decisions answered without the store")
    except (OSError, http.client.HTTPException, RuntimeError, ValueError, KeyError) as exc:
        problems.append(f"could not read the counters: {exc}")
    finally:
        conn.close()
    return problems


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Result:
    args: argparse.Namespace
    started: dt.datetime
    windows: list[Window]
    memory: Memory
    tally: Tally
    errors: Errors
    counter_problems: list[str]
    crashed: list[str]
    routes: dict[str, tuple[int, float, float]]  # route -> (requests, p50, p99)
    overall: tuple[int, float, float, float]  # requests, req/s, p50, p99
    wall: float  # seconds from the start of the load until the last client stopped
    cpu: dict[str, float]  # cores used during the load
    loadavg: tuple[str, str]
    store_note: str
    elapsed: float
    code: str
    redis_rss_mb: tuple[float, float] | None = None
    db_connections: dict[str, int] = field(default_factory=dict)  # worker -> SQLite connections at the end
    server_log: str = ""  # its tail: tracebacks of 5xx answers, if any

    @property
    def ok(self) -> bool:
        return not self.errors.counts and not self.counter_problems and not self.memory.unbounded and not self.crashed

    def failures(self) -> list[str]:
        found = [f"client crashed: {c}" for c in self.crashed]
        if self.errors.counts:
            found.append(f"{sum(self.errors.counts.values())} errors: {dict(self.errors.counts)}")
            found += [f"  {s}" for s in self.errors.samples]
        found += [f"counter mismatch: {p}" for p in self.counter_problems]
        if self.memory.unbounded:
            m = self.memory
            found.append(
                f"unbounded memory: RSS grew {m.growth_mb:.1f} MB after the warm-up (bound {m.bound_mb:.0f}) and still"
                f" rises: {m.slope_mb_min:.2f} MB/min over the second half, {m.last_slope_mb_min:.2f} over the last"
                f" quarter (bound {m.slope_bound_mb_min:.2f})"
            )
        return found


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "unknown"


@contextlib.contextmanager
def store_for(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, str, int | None]]:
    """(store URL, description, redis-server pid or None)."""
    if args.store == "sqlite":
        yield f"sqlite:///{workdir / 'soak.db'}", "a fresh SQLite file (WAL, synchronous=NORMAL)", None
        return
    sys.path.insert(0, str(BENCH))
    import redis
    from redis_server import redis_server

    with redis_server(workdir) as url:
        client = redis.Redis.from_url(url, socket_timeout=5)
        pid = int(client.info("server")["process_id"])
        client.close()
        yield url, "a throwaway redis-server on loopback (no persistence)", pid


def run(args: argparse.Namespace) -> Result:
    started = dt.datetime.now(dt.timezone.utc)
    wall_start = time.perf_counter()
    code = code_version()  # before the server imports it
    with tempfile.TemporaryDirectory(prefix="cpa-bandit-soak-") as tmp, store_for(args, Path(tmp)) as store:
        url, store_note, redis_pid = store
        server = Server(Path(tmp), url, args.workers).start()
        try:
            return drive(args, server, started, store_note, redis_pid, wall_start, code)
        except BaseException:
            print(f"server log:\n{server.log_text()[-3000:]}", file=sys.stderr)
            raise
        finally:
            server.stop()


def drive(args: argparse.Namespace, server: Server, started: dt.datetime, store_note: str,
          redis_pid: int | None, wall_start: float, code: str) -> Result:  # fmt: skip
    loadavg_start = load_average()
    redis_start = rss_kb(redis_pid) / 1024 if redis_pid else None
    t0 = time.perf_counter() + 0.2
    errors = Errors(t0)
    deadline = t0 + args.duration
    clients = [Client(i, server.port, t0, deadline, args.seed * 1000 + i, errors) for i in range(args.clients)]
    monitor = Monitor(server, clients, errors, args, t0)
    tree = server.tree()
    cpu_before = {pid: cpu_seconds(pid) for pid in tree}
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    busy_before = machine_busy_seconds()
    redis_cpu = cpu_seconds(redis_pid) if redis_pid else 0.0
    if not args.quiet:
        print(f"soak: {args.duration:.0f}s, {args.clients} clients, {args.workers} workers, {args.store},"
              f" server on port {server.port}", file=sys.stderr, flush=True)  # fmt: skip
    monitor.start()
    for client in clients:
        client.start()
    for client in clients:
        client.join(args.duration + REQUEST_TIMEOUT_S + 30)
    wall = time.perf_counter() - t0
    monitor.stop_event.set()
    monitor.join(5)
    monitor.samples.append(monitor.sample_rss())  # at the end of the load
    tree_after = server.tree()
    connections = {monitor.label(pid, tree_after[0]): n for pid in tree_after if (n := server.db_connections(pid))}
    server_cpu = sum(cpu_seconds(pid) - cpu_before.get(pid, 0.0) for pid in tree_after)
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = self_after.ru_utime + self_after.ru_stime - self_before.ru_utime - self_before.ru_stime
    busy = machine_busy_seconds() - busy_before
    cpu = {"server": server_cpu / wall, "load generator": client_cpu / wall}
    if redis_pid:
        cpu["redis-server"] = (cpu_seconds(redis_pid) - redis_cpu) / wall
    cpu["rest of the machine"] = max(0.0, busy / wall - sum(cpu.values()))  # other work on the machine
    crashed = [f"{c.name}: {c.crashed!r}" for c in clients if c.crashed]
    crashed += [f"{c.name}: still running after the deadline" for c in clients if c.is_alive()]

    tally = Tally()
    for client in clients:
        tally.merge(client.tally)
    counter_problems = check_counters(server.port, tally)

    t, lat, route = records(clients)
    routes = {
        name: (int((route == i).sum()), percentile(lat[route == i], 50), percentile(lat[route == i], 99))
        for i, name in enumerate(ROUTES)
    }
    overall = (len(t), len(t) / wall, percentile(lat, 50), percentile(lat, 99))
    redis_rss = (redis_start, rss_kb(redis_pid) / 1024) if redis_pid else None
    return Result(
        args=args, started=started,
        windows=windows(clients, monitor.samples, errors.times, args),
        memory=judge_memory(monitor.samples, args), tally=tally, errors=errors,
        counter_problems=counter_problems, crashed=crashed, routes=routes, overall=overall, wall=wall, cpu=cpu,
        loadavg=(loadavg_start, load_average()), store_note=store_note, code=code,
        elapsed=time.perf_counter() - wall_start, redis_rss_mb=redis_rss, db_connections=connections,
        server_log=server.log_text()[-5000:],
    )  # fmt: skip


# --- the report ------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.2f}"


def window_table(result: Result) -> str:
    lines = [
        "| window (s) | req/s | p50 ms | p99 ms | /sample/ req/s | /sample/ p50 ms | /sample/ p99 ms"
        " | errors | RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for w in result.windows:
        lines.append(
            f"| {w.start:.0f}–{w.end:.0f} | {w.rps:,.0f} | {_ms(w.p50)} | {_ms(w.p99)} | {w.sample_rps:,.0f}"
            f" | {_ms(w.sample_p50)} | {_ms(w.sample_p99)} | {w.errors} | {w.rss_mb:.1f} |"
        )
    return "\n".join(lines)


def route_table(result: Result) -> str:
    wall = result.wall
    lines = ["| route | requests | req/s | p50 ms | p99 ms |", "|---|---:|---:|---:|---:|"]
    for name, (count, p50, p99) in result.routes.items():
        label = {"sample": "GET /sample/", "feedback": "PUT /feedback/", "postback": "GET /postback",
                 "stats": "GET /stats/, /offer_ids/{id}/stats/"}[name]  # fmt: skip
        lines.append(f"| {label} | {count:,} | {count / wall:,.0f} | {_ms(p50)} | {_ms(p99)} |")
    count, rps, p50, p99 = result.overall
    lines.append(f"| all | {count:,} | {rps:,.0f} | {_ms(p50)} | {_ms(p99)} |")
    return "\n".join(lines)


def memory_text(result: Result) -> str:
    m = result.memory

    def procs(sample: RssSample) -> str:
        return ", ".join(f"{name} {kb / 1024:.1f}" for name, kb in sorted(sample.by_process.items()))

    verdict = "**UNBOUNDED**" if m.unbounded else "bounded"
    text = (
        f"RSS of the server (supervisor + workers): **{m.start.total_kb / 1024:.1f} MB after the warm-up**"
        f" (t = {m.start.t:.0f} s; {procs(m.start)}), **{m.end.total_kb / 1024:.1f} MB at the end**"
        f" (t = {m.end.t:.0f} s; {procs(m.end)}): {m.growth_mb:+.1f} MB; fitted slope {m.slope_mb_min:+.2f} MB/min"
        f" over the second half, {m.last_slope_mb_min:+.2f} MB/min over the last quarter. Verdict: {verdict}"
        f" (unbounded = growth above {m.bound_mb:.0f} MB *and* both slopes above {m.slope_bound_mb_min:.2f}"
        " MB/min, which kept up for the whole run would add a quarter of the bound)."
    )
    if result.db_connections:
        held = ", ".join(f"{name} {n}" for name, n in sorted(result.db_connections.items()))
        text += (
            f" SQLite connections open at the end ({held}): one per thread that used the store, each with"
            " its own page cache (SQLite's default, up to about 2 MB), which fills as the database grows."
        )
    if result.redis_rss_mb:
        before, after = result.redis_rss_mb
        text += f" redis-server (holds the clicks, so it grows with them): {before:.1f} MB → {after:.1f} MB."
    return text


def money_text(result: Result) -> str:
    tally = result.tally
    clicks = sum(tally.clicks.values())
    conversions = sum(tally.conversions.values())
    reward = sum(tally.reward.values())
    pending = sum(tally.pending.values())
    summary = (
        f"{clicks:,} clicks, {conversions:,} approved conversions worth {reward // 10**6:,}.{reward % 10**6:06d}"
        f" ({reward:,} micro-units), {pending:,} pending postback conversions;"
        f" {tally.postbacks['applied']:,} postbacks applied, {tally.postbacks['duplicate']:,} duplicates"
    )
    if result.counter_problems:
        shown = "\n".join(f"  - {p}" for p in result.counter_problems[:20])
        unsure = (
            f"; {tally.uncertain} requests failed without an answer or with a 5xx, and may have been applied"
            if tally.uncertain else ""
        )  # fmt: skip
        differ = len(result.counter_problems)
        return f"**MISMATCH** ({differ} counters differ; clients' tally: {summary}{unsure}):\n{shown}"
    return (
        f"exact: every one of the {len(OFFERS)} offers' clicks, conversions and reward (pooled and for each of"
        f" {len(SOURCES)} sources), pending conversions and pending reward, and `/postbacks/stats`, equal the"
        f" clients' tally ({summary})."
    )


def errors_text(result: Result) -> str:
    if not result.errors.counts and not result.crashed:
        return "none"
    lines = [f"**{sum(result.errors.counts.values())}**: " + ", ".join(
        f"{route} {what} × {n}" for (route, what), n in sorted(result.errors.counts.items()))]  # fmt: skip
    lines += [f"  - `{sample}`" for sample in result.errors.samples[:5]]
    lines += [f"  - client crashed: {c}" for c in result.crashed]
    return "\n".join(lines)


def command(args: argparse.Namespace) -> str:
    return (
        f".venv/bin/python bench/soak.py --duration {args.duration:g} --clients {args.clients}"
        f" --workers {args.workers} --store {args.store} --window {args.window:g}"
        f" --max-rss-growth-mb {args.max_rss_growth_mb:g}"
    )


def code_version() -> str:
    """The commit the server ran, and whether src/ had uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"commit {head}" + (" with uncommitted changes in src/" if dirty else "")  # fmt: skip


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        if found := re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M):
            return found.group(1).strip()
    return platform.processor() or "unknown"


def busy_note(result: Result) -> str:
    other = result.cpu.get("rest of the machine", 0.0)
    if other < 0.2:
        return ""
    return (
        f" Other work on the machine took {other:.2f} cores meanwhile (other processes, e.g. test runs), so the"
        " absolute figures are lower than an idle machine would give."
    )


def request_mix(result: Result) -> str:
    return ", ".join(f"{kind} {n:,}" for kind, n in sorted(result.tally.requests.items()))


def markdown(result: Result) -> str:
    args, (requests, rps, p50, p99) = result.args, result.overall
    sample_count, sample_p50, sample_p99 = result.routes["sample"]
    cpu = ", ".join(f"{name} {cores:.2f}" for name, cores in result.cpu.items())
    cpu += " (the load generator is Python, on the same machine)"
    p99s = [w.p99 for w in result.windows if not math.isnan(w.p99)]
    m = result.memory
    return f"""{BEGIN}
## Soak: sustained mixed load

Date: {result.started.strftime("%Y-%m-%d %H:%M UTC")}. Machine: {CPUS} CPUs ({cpu_model()}), Python
{platform.python_version()}; load average {result.loadavg[0]} at the start, {result.loadavg[1]} at the end.
Code: {result.code}.

Reproduce: `make soak`; this run:

    {command(args)}

{args.duration:g} s of load from {args.clients} client threads (closed loop, keep-alive connections) on
`cpa-bandit serve --workers {args.workers}` with {result.store_note}. Traffic (bench/soak.py's docstring has the
details): `/sample/` for fresh click ids over {len(OFFERS)} offers (UCB and Thompson, 40 % with a source, 3 %
retried), `PUT /feedback/` for half of the clicks (10 % sent twice), Keitaro-style postbacks lead → sale /
rejected / chargeback for a quarter (10 % sent twice), `/stats/` for about 1 % of the requests. Every answer
is checked as it arrives; at the end the server's counters are compared with the clients' tally.
Requests by kind: {request_mix(result)}.

- Throughput: **{rps:,.0f} req/s** overall ({requests:,} requests), `/sample/` {sample_count / result.wall:,.0f} req/s.
- Latency: p50 {_ms(p50)} ms, **p99 {_ms(p99)} ms** overall (per window {min(p99s, default=math.nan):.2f} to
  {max(p99s, default=math.nan):.2f} ms); `/sample/` p50 {_ms(sample_p50)} ms, p99 {_ms(sample_p99)} ms.
- RSS of the server (supervisor + workers): **{m.start.total_kb / 1024:.1f} MB after the warm-up**
  (t = {m.start.t:.0f} s), **{m.end.total_kb / 1024:.1f} MB at the end** (t = {m.end.t:.0f} s): {m.growth_mb:+.1f} MB;
  memory {"**UNBOUNDED**" if m.unbounded else "bounded"}.
- Errors: {errors_text(result)}
- Money check: {"**MISMATCH**" if result.counter_problems else "exact"}.
- CPU used during the load, in cores of {CPUS}: {cpu}.{busy_note(result)}
- Result: **{"passed" if result.ok else "FAILED"}**.

{route_table(result)}

Per window of {args.window:g} s (requests by completion time; RSS sampled at the window's end):

{window_table(result)}

Memory: {memory_text(result)}

Money check: {money_text(result)}
{END}
"""


def write_section(path: Path, section: str) -> None:
    """Replace the text between the soak markers in ``path`` (markers included), or append it."""
    old = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.S)
    if pattern.search(old):
        new = pattern.sub(lambda _: section, old, count=1)
    else:
        new = old.rstrip("\n") + ("\n\n" if old.strip() else "") + section
    path.write_text(new)


def print_report(result: Result) -> None:
    print(route_table(result))
    print()
    print(window_table(result))
    print()
    print(f"Memory: {memory_text(result)}")
    print(f"Errors: {errors_text(result)}")
    print(f"Money check: {money_text(result)}")
    print(f"Requests by kind: {request_mix(result)}")
    cpu = ", ".join(f"{name} {cores:.2f}" for name, cores in result.cpu.items())
    print(f"CPU (cores of {CPUS}): {cpu}; load average {result.loadavg[0]} → {result.loadavg[1]}.{busy_note(result)}")
    if not result.ok:
        print(f"Server log (tail):\n{result.server_log}")
    print(f"Result: {'passed' if result.ok else 'FAILED'} ({result.elapsed:.1f} s in all)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    print_report(result)
    if args.output_md:
        write_section(args.output_md, markdown(result))
        print(f"wrote the soak section of {args.output_md}", file=sys.stderr)
    for failure in result.failures():
        print(f"soak: {failure}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
