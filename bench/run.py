#!/usr/bin/env python3
"""HTTP benchmark of cpa-bandit's hot routes against the seed's app and empty baselines,
measured in one run.

Absolute req/s depend on the machine and on whatever else runs on it, so every figure is
also reported as a ratio to baselines served by the same uvicorn settings in the same run,
before and after the real servers (bench/baselines.py): the seed's app re-created (FastAPI
``def`` route, counters in global dicts, no durability), an empty FastAPI route (``def``
and ``async def``) with /sample/'s parameters, and a raw ASGI app answering a constant.
Load is closed-loop wrk (``-c16 -t2 --latency``) on loopback, each measured run preceded
by a short warm-up. Under the table, the targets of issues 13 and 15 are checked on the figures.

* ``GET /sample/`` with 20, 200 and 1,000 eligible offers, every request with a click id
  never used before (bench/sample.lua), since a repeated id is a cheap idempotent replay,
  on the service's defaults: decision log, metrics and access log on, the server logging
  at level info into a file, as it would in production (the access lines are counted);
* ``GET /go/`` of a smartlink over the same 20 offers, each with a landing URL, on another
  SQLite server with a fresh file and the defaults: the decision, the smartlink's lookup
  and the 302 (wrk counts a 302 as "non-2xx or 3xx": the click count checks it instead);
* ``GET /sample/`` with 20 offers on a second SQLite server with the decision log and the
  access log off (``CPA_BANDIT_DECISION_LOG_DAYS=0``, ``CPA_BANDIT_ACCESS_LOG=false``);
* ``GET /sample/`` with 20 offers on the Redis store, one replica, then two replicas
  sharing one Redis, each driven by its own wrk with half the connections at the same time;
* ``PUT /feedback/`` resolving, once each, clicks that those /sample/ runs created
  (bench/feedback.lua), mostly reward=0 with one conversion (12.5) in 20; feedback is
  faster than sampling, so extra "priming" /sample/ runs add clicks when they are short;
* the memory per pending click in Redis (bench/redis_memory.py), outside HTTP.

The real server is ``cpa-bandit serve --workers 1`` on a SQLite file in a temporary
directory, or on one redis-server (loopback, nothing persisted) started for the run with a
fresh key prefix per Redis scenario. Results go to bench/RESULTS.md, or ``--output``
(keeping the soak section that bench/soak.py writes there), and stdout; a run (warm-up
included) with any non-2xx response or socket error is flagged there and makes the exit
status 1, and so does a store whose click count shows that click ids were reused, that
requests were lost, or that answered decisions were not recorded, and a server whose log
shows the access log not as configured.

    make bench                      # or: .venv/bin/python bench/run.py --duration 10
    .venv/bin/python bench/run.py --duration 2 --warmup 1 --output /tmp/bench.md   # a quick check
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path

import redis

import log_cost  # bench/ is on sys.path when run as a script
import policy_cost
from loopback import HOST, fetch, free_port, stop
import redis_memory
from redis_server import redis_server

BENCH = Path(__file__).resolve().parent
OFFER_COUNTS = (20, 200, 1000)
CONVERSION_EVERY = 20  # every 20th feedback reports a conversion, the rest reward=0
UVICORN_FLAGS = ["--workers", "1", "--no-access-log", "--log-level", "warning"]  # the baselines'
SERVE_LOG_LEVEL = "info"  # the service's default, at which its access log is written
START_TIMEOUT_S = 30.0
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
REDIS_REPLICAS = (1, 2)  # /sample/ on the Redis store, with OFFER_COUNTS[0] offers
LOGS_OFF = {"CPA_BANDIT_DECISION_LOG_DAYS": "0", "CPA_BANDIT_ACCESS_LOG": "false"}
"""Settings of the second SQLite server; every other real server runs on the defaults."""
ACCESS_LINE = re.compile(rb'"logger":\s*"cpa_bandit\.access"')
"""How a line of the service's access log shows in its server's log file."""

ClickPool = list[tuple[str, int, int]]  # (click id prefix, first, last): ids prefix+first..prefix+last exist


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run reported, plus the lines our Lua scripts print in ``done()``."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: dict[str, int]
    script_lines: list[str]

    def problems(self) -> list[str]:
        """Why this run cannot be taken at face value; empty when it can."""
        found = [f"{self.non_2xx} non-2xx of {self.requests}"] if self.non_2xx else []
        found += [f"socket {kind} errors: {n}" for kind, n in self.socket_errors.items() if n]
        return found

    @classmethod
    def combined(cls, results: Sequence[WrkResult]) -> WrkResult:
        """Simultaneous runs against several replicas as one: summed req/s and counts, the
        worse p50 and p99 of the runs (their latency histograms are not merged)."""
        return cls(
            rps=sum(r.rps for r in results),
            p50_ms=max(r.p50_ms for r in results),
            p99_ms=max(r.p99_ms for r in results),
            requests=sum(r.requests for r in results),
            non_2xx=sum(r.non_2xx for r in results),
            socket_errors={kind: sum(r.socket_errors[kind] for r in results) for kind in results[0].socket_errors},
            script_lines=[line for r in results for line in r.script_lines],
        )


@dataclass
class Row:
    """One line of the table: the measured run, trouble in its warm-up, and footnotes."""

    scenario: str
    result: WrkResult
    warm_problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    baseline: str | None = None
    """Which empty route this row measured (``async_app``, ``sync_app``…), None for ours."""
    cpu: dict[str, float] = field(default_factory=dict)
    """Cores used by the watched processes and wrk in the measured run (CPU s / wall s)."""
    access_lines: int | None = None
    """Access log lines its server(s) wrote during the measured run; None for a baseline."""

    def watched(self, cpu: dict[str, float]) -> Row:
        """This row with the CPU use of its measured run, also as a footnote."""
        self.cpu = cpu
        total = sum(cpu.values())
        used = ", ".join(f"{name} {cores:.2f}" for name, cores in cpu.items())
        self.notes.append(f"CPU used in the measured run, in cores: {used}; total {total:.2f} of {CPUS}")
        return self

    def logged(self, lines: int | None) -> Row:
        """This row with the access log lines of its measured run (None: not counted), also
        as a footnote."""
        if lines is not None:
            self.access_lines = lines
            self.notes.append(
                f"access log: {lines:,} lines in the server's log file during the measured run"
                f" ({self.result.requests:,} requests completed)"
            )
        return self


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up before each run (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (default 16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t (default 2)")
    parser.add_argument(
        "--output", type=Path, default=BENCH / "RESULTS.md", help="markdown report path (default bench/RESULTS.md)"
    )
    args = parser.parse_args(argv)
    if args.duration < 1 or args.warmup < 1 or args.threads < 1 or args.connections < args.threads:
        parser.error("need duration >= 1, warmup >= 1, threads >= 1 and connections >= threads")
    return args


def ensure_wrk() -> str:
    """wrk's path, installing Debian's package once if it is missing (we run as root)."""
    if path := shutil.which("wrk"):
        return path
    if shutil.which("apt-get"):
        install = ["apt-get", "install", "-y", "wrk"]
        for steps in ([install], [["apt-get", "update"], install]):
            print(f"wrk not found; trying: {' && '.join(' '.join(step) for step in steps)}", file=sys.stderr)
            if all(subprocess.run(step, check=False).returncode == 0 for step in steps):
                if path := shutil.which("wrk"):
                    return path
    raise SystemExit("bench: wrk is not installed and `apt-get install -y wrk` failed; install wrk and retry")


def wrk_share(args: argparse.Namespace, processes: int) -> tuple[int, int]:
    """(-c, -t) of each of ``processes`` simultaneous wrk runs: an equal share of this invocation's."""
    threads = max(1, args.threads // processes)
    return max(threads, args.connections // processes), threads


@contextlib.contextmanager
def server(
    name: str, command: list[str], port: int, health_path: str, workdir: Path, settings: dict[str, str] | None = None
) -> Iterator[int]:
    """Run ``command`` until the block ends, whatever happens in it; yields its process id
    once ``health_path`` answers 200. Runs in ``workdir`` without CPA_BANDIT_* variables so that
    neither the caller's environment nor a .env file changes what is measured; ``settings``
    are the only ones set (e.g. CPA_BANDIT_REDIS_PREFIX)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CPA_BANDIT_")}
    env.update(settings or {})
    log_path = log_file(workdir, name)
    with log_path.open("ab") as log:  # appending, so that Bench can empty it while it is written
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                if fetch(port, "GET", health_path)[0] == 200:
                    break
            if time.monotonic() > deadline:
                log_tail = log_path.read_text()[-2000:]
                raise RuntimeError(f"{name} not healthy after {START_TIMEOUT_S:.0f}s:\n{log_tail}")
            time.sleep(0.1)
        yield proc.pid
    finally:
        stop(proc)


def log_file(workdir: Path, name: str) -> Path:
    """Where ``server(name, …)`` sends the server's stdout and stderr."""
    return workdir / f"{name}.log"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process used so far (Linux /proc), NaN where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _latency_ms(text: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M)
    return float(match.group(1)) * _UNIT_MS[match.group(2)] if match else math.nan


def parse_wrk(text: str) -> WrkResult:
    """Read wrk's text report; its Non-2xx and Socket errors lines only appear when non-zero."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    total = re.search(r"^\s+(\d+) requests in ", text, re.M)
    if not rps or not total:
        raise RuntimeError(f"cannot parse wrk output:\n{text}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    kinds = ("connect", "read", "write", "timeout")
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=_latency_ms(text, "50"),
        p99_ms=_latency_ms(text, "99"),
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=dict(zip(kinds, (int(n) for n in sock.groups()))) if sock else dict.fromkeys(kinds, 0),
        script_lines=re.findall(r"^(?:CLICKS|DRY) .*$", text, re.M),
    )


class Bench:
    """wrk runs against one server at a time, with the options of this invocation."""

    def __init__(self, wrk: str, args: argparse.Namespace) -> None:
        self.wrk = wrk
        self.args = args
        self.primes = 0  # priming runs so far, for unique click id prefixes
        self.cpu: dict[str, float] = {}  # cores used in the last run that watched processes
        self.logs: dict[int, Path] = {}  # port -> log file of a cpa-bandit server running there
        self.logged: int | None = None  # access log lines in those files during the last run
        # port -> [/sample/ requests answered 2xx, requests sent]: the clicks each server must
        # have recorded lie in between, unless click ids were reused (see check_clicks)
        self.sampled: dict[int, list[int]] = {}

    def run(
        self, port: int, script: str, script_args: Sequence[str], seconds: int, watch: Mapping[str, int] | None = None
    ) -> WrkResult:
        return self.run_together([(port, script_args)], script, seconds, watch=watch)[0]

    def run_together(
        self,
        targets: Sequence[tuple[int, Sequence[str]]],
        script: str,
        seconds: int,
        connections: int | None = None,
        threads: int | None = None,
        watch: Mapping[str, int] | None = None,
    ) -> list[WrkResult]:
        """One wrk process per (port, script arguments), all started at once; by default
        with this invocation's -c and -t each. With ``watch`` (name -> pid), ``self.cpu``
        becomes the cores that those processes and wrk used during the runs. The log files
        of the targeted cpa-bandit servers are emptied first, and ``self.logged`` becomes the
        access log lines they got during the runs (None when no target has one)."""
        options = [f"-c{connections or self.args.connections}", f"-t{threads or self.args.threads}"]
        procs: list[subprocess.Popen[str]] = []
        logs = [self.logs[port] for port, _ in targets if port in self.logs]
        for log in logs:
            os.truncate(log, 0)
        watched = {name: cpu_seconds(pid) for name, pid in (watch or {}).items()}
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        try:
            for port, script_args in targets:
                command = [self.wrk, *options, f"-d{seconds}s", "--latency", "-s", str(BENCH / script),
                           f"http://{HOST}:{port}/", "--", *script_args]  # fmt: skip
                procs.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            outputs = [proc.communicate(timeout=seconds + 60) for proc in procs]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if watch:
            wall = time.monotonic() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            wrk_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
            shares = {name: (cpu_seconds(watch[name]) - before) / wall for name, before in watched.items()}
            shares["wrk" if len(targets) == 1 else f"{len(targets)} wrk"] = wrk_cpu / wall
            self.cpu = shares
        self.logged = sum(len(ACCESS_LINE.findall(log.read_bytes())) for log in logs) if logs else None
        results = []
        for (port, _), proc, (stdout, stderr) in zip(targets, procs, outputs):
            if proc.returncode != 0:
                raise RuntimeError(f"wrk failed ({proc.returncode}): {stderr or stdout}")
            result = parse_wrk(stdout)
            if script == "sample.lua":
                sent = sum(int(line.split()[2]) for line in result.script_lines if line.startswith("CLICKS ")) - 1
                if len(targets[0][1]) > 2:  # /go/: wrk counts its 302s as "non-2xx or 3xx"; the
                    result = replace(result, non_2xx=0)  # click count (check_clicks) tells failures
                self.count_sampled(port, result.requests - result.non_2xx, sent)  # -1: see pool()
            results.append(result)
        return results

    @contextlib.contextmanager
    def serving(
        self, name: str, command: list[str], port: int, workdir: Path, settings: dict[str, str] | None = None
    ) -> Iterator[int]:
        """``server()`` for a cpa-bandit server: its /sample/ requests and its log file's
        access lines are counted from a clean slate while it runs."""
        self.sampled[port] = [0, 0]  # a baseline may have had this port
        with server(name, command, port, "/healthz", workdir, settings) as pid:
            self.logs[port] = log_file(workdir, name)
            try:
                yield pid
            finally:
                del self.logs[port]

    def count_sampled(self, port: int, answered: int, sent: int) -> None:
        counts = self.sampled.setdefault(port, [0, 0])
        counts[0] += answered
        counts[1] += sent

    def measure(
        self,
        scenario: str,
        port: int,
        script: str,
        warm_args: Sequence[str],
        main_args: Sequence[str],
        watch: Mapping[str, int] | None = None,
    ) -> tuple[Row, WrkResult]:
        """Warm-up, then the measured run; warm-up trouble is noted, not hidden. Each run
        gets its own script arguments so that no click id is used by both. With ``watch``,
        the row notes the CPU use of those processes and of wrk in the measured run."""
        warm = self.run(port, script, warm_args, self.args.warmup)
        row = Row(scenario, self.run(port, script, main_args, self.args.duration, watch), warm.problems())
        return (row.watched(self.cpu) if watch else row).logged(self.logged), warm

    def sample(
        self, scenario: str, port: int, tag: str, offers: int, watch: Mapping[str, int] | None = None
    ) -> tuple[Row, ClickPool]:
        """Measured /sample/ runs; also returns the clicks that they created."""
        offer_ids = self.probe_sample(port, tag, offers)
        row, warm = self.measure(scenario, port, "sample.lua", [f"{tag}w", offer_ids], [tag, offer_ids], watch)
        return row, self.pool(warm) + self.pool(row.result)

    def sample_replicas(
        self, scenario: str, ports: Sequence[int], tag: str, offers: int, watch: Mapping[str, int]
    ) -> Row:
        """Measured /sample/ runs on replicas of one service at the same time, one wrk each
        with an equal share of the connections and threads; click ids differ by replica.
        The row notes the CPU use of the ``watch`` processes and of wrk."""
        each_c, each_t = wrk_share(self.args, len(ports))
        offer_ids = ""
        for i, port in enumerate(ports, 1):
            offer_ids = self.probe_sample(port, f"{tag}r{i}", offers)
        targets = [(port, [f"{tag}r{i}w", offer_ids]) for i, port in enumerate(ports, 1)]
        warm = self.run_together(targets, "sample.lua", self.args.warmup, each_c, each_t)
        targets = [(port, [f"{tag}r{i}", offer_ids]) for i, port in enumerate(ports, 1)]
        results = self.run_together(targets, "sample.lua", self.args.duration, each_c, each_t, watch)
        row = Row(scenario, WrkResult.combined(results), WrkResult.combined(warm).problems()).watched(self.cpu)
        row.logged(self.logged)
        if len(ports) > 1:
            each = "; ".join(
                f"replica {i}: {r.rps:,.0f} req/s, p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms"
                for i, r in enumerate(results, 1)
            )
            row.notes.append(
                f"{len(ports)} wrk processes started together, `-c{each_c} -t{each_t}` each, one per replica;"
                f" req/s summed, p50 and p99 the worse replica's ({each})"
            )
        return row

    def probe_sample(self, port: int, tag: str, offers: int) -> str:
        """One request first, so that a wrong URL fails loudly rather than as N non-2xx."""
        offer_ids = ",".join(str(i) for i in range(1, offers + 1))
        status, body = fetch(port, "GET", f"/sample/?offer_ids={offer_ids}&click_id=probe.{tag}")
        if status != 200:
            raise RuntimeError(f"GET /sample/ probe ({tag}) answered {status}: {body[:300]!r}")
        self.count_sampled(port, 1, 1)
        return offer_ids

    def pool(self, result: WrkResult) -> ClickPool:
        """The click ids a sample.lua run created, from the counts its ``done()`` printed.

        Id 1 of each wrk thread is left out (wrk calls ``request()`` once on its first thread
        to check the script, and never sends that request), and so are the last
        ``connections`` ids, which may still have been in flight when wrk stopped."""
        pool = []
        for line in result.script_lines:
            if line.startswith("CLICKS "):
                _, prefix, sent = line.split()
                if int(sent) - self.args.connections >= 2:
                    pool.append((prefix, 2, int(sent) - self.args.connections))
        return pool

    def topped_up(
        self, port: int, pool: ClickPool, need: int, prime_rps: float
    ) -> tuple[ClickPool, list[str]]:
        """``pool`` with at least ``need`` clicks, sampling more (20 offers) when it is short:
        /feedback/ outruns /sample/, and each click may be resolved only once."""
        have = pool_size(pool)
        if have >= need or prime_rps <= 0:
            return pool, []
        seconds = min(math.ceil((need - have) / prime_rps * 1.2) + 1, 6 * self.args.duration)
        self.primes += 1
        tag = f"prime{self.primes}"
        offer_ids = self.probe_sample(port, tag, OFFER_COUNTS[0])
        result = self.run(port, "sample.lua", [tag, offer_ids], seconds)
        extra = self.pool(result)
        notes = [f"primed {pool_size(extra):,} more clicks with a {seconds}s /sample/ run"]
        notes += [f"priming run: {problem}" for problem in result.problems()]
        return pool + extra, notes

    def feedback(self, scenario: str, port: int, pool: ClickPool, ceiling_rps: float, prime_rps: float) -> Row:
        """PUT /feedback/ on clicks of ``pool``, each resolved once.

        The warm-up gets as many clicks as the empty async route (``ceiling_rps``) could
        answer in its time, an upper bound; the measured run 1.25 times what the warm-up's
        rate needs. ``prime_rps`` (/sample/ with 20 offers) sizes the priming runs."""
        warm_need = math.ceil(ceiling_rps * self.args.warmup * 1.2)
        pool, notes = self.topped_up(port, pool, warm_need + 1, prime_rps)
        if not pool:
            raise RuntimeError("no sampled clicks to resolve: the /sample/ runs created none")
        (prefix, first, last), rest = pool[0], pool[1:]
        status, body = fetch(port, "PUT", f"/feedback/?click_id={prefix}{first}&reward=0")
        if status != 200:
            raise RuntimeError(f"PUT /feedback/ probe answered {status}: {body[:300]!r}")
        warm_pool, main_pool = split_pool([(prefix, first + 1, last), *rest], warm_need)
        warm = self.run(port, "feedback.lua", self.feedback_args(warm_pool), self.args.warmup)
        main_need = math.ceil(warm.rps * self.args.duration * 1.25)
        main_pool, more = self.topped_up(port, main_pool, main_need, prime_rps)
        result = self.run(port, "feedback.lua", self.feedback_args(main_pool), self.args.duration)
        row = Row(scenario, result, warm.problems() + dry_notes(warm), notes + more + dry_notes(result))
        return row.logged(self.logged)

    def feedback_args(self, pool: ClickPool) -> list[str]:
        entries = (f"{prefix}={first}:{last}" for prefix, first, last in pool)
        return [str(self.args.threads), str(CONVERSION_EVERY), *entries]


def check_clicks(bench: Bench, name: str, ports: Sequence[int], offers: int) -> tuple[str, bool]:
    """Whether the store behind ``ports`` (one server, or replicas sharing one store) recorded
    one click per /sample/ request, as unique click ids must make it do: a reused id would be
    a replay that records nothing. Sums the stats of offers 1..``offers``, read from the first
    port, and each server's decisions answered without the store (/healthz): answered 2xx,
    but not recorded. Requests still in flight when wrk stopped may or may not be recorded."""
    answered = sum(bench.sampled.get(port, [0, 0])[0] for port in ports)
    sent = sum(bench.sampled.get(port, [0, 0])[1] for port in ports)
    recorded = 0
    conn = http.client.HTTPConnection(HOST, ports[0], timeout=5)
    try:
        for offer_id in range(1, offers + 1):
            conn.request("GET", f"/offer_ids/{offer_id}/stats/")
            recorded += json.loads(conn.getresponse().read())["clicks"]
    finally:
        conn.close()
    unrecorded = 0
    for port in ports:
        status, body = fetch(port, "GET", "/healthz")
        if status != 200:
            return f"{name}: /healthz on port {port} answered {status}: **FLAGGED: store unreachable**", False
        unrecorded += json.loads(body)["unrecorded_decisions"]
    ok = answered <= recorded <= sent and unrecorded == 0
    verdict = "as expected" if ok else "**FLAGGED: click ids were reused, requests lost or decisions not recorded**"
    counts = f"{recorded:,} clicks recorded for {answered:,} /sample/ requests answered 2xx and {sent:,} sent"
    counts += f", {unrecorded:,} answered without the store" if unrecorded else ""
    return f"{name}: {counts}: {verdict}", ok


def dry_notes(result: WrkResult) -> list[str]:
    dry = sum(int(line.split()[1]) for line in result.script_lines if line.startswith("DRY "))
    return [f"{dry:,} feedback requests found no sampled click left (404 on purpose)"] if dry else []


def pool_size(pool: ClickPool) -> int:
    return sum(last - first + 1 for _, first, last in pool)


def split_pool(pool: ClickPool, count: int) -> tuple[ClickPool, ClickPool]:
    """The first ``count`` clicks of ``pool``, and the rest."""
    head: ClickPool = []
    tail: ClickPool = []
    for prefix, first, last in pool:
        take = max(0, min(count, last - first + 1))
        if take:
            head.append((prefix, first, first + take - 1))
        if first + take <= last:
            tail.append((prefix, first + take, last))
        count -= take
    return head, tail


Check = tuple[str, bool]  # (sentence for the report, whether it passed)


def serve_command(cli: Path, port: int, store: str) -> list[str]:
    return [str(cli), "serve", "--host", HOST, "--port", str(port), "--store", store,
            "--workers", "1", "--log-level", SERVE_LOG_LEVEL]  # fmt: skip


SAMPLE_20 = f"GET /sample/, {OFFER_COUNTS[0]:,} offers"
LOGS_OFF_SCENARIO = f"{SAMPLE_20}, decision log and access log off"
GO_SCENARIO = f"GET /go/ (302), a smartlink of {OFFER_COUNTS[0]:,} offers"
GO_ADMIN_KEY = "bench-admin-key-0123456789"
FEEDBACK = "PUT /feedback/"


def redis_scenario(replicas: int) -> str:
    return f"{SAMPLE_20}, Redis, {replicas} replica{'s' if replicas > 1 else ''}"


def run_all(bench: Bench, workdir: Path, redis_url: str) -> tuple[list[Row], list[Check]]:
    """Baselines, then the real servers, then the baselines again: the ratios divide by the
    mean of the two baseline runs, so that a machine that speeds up or slows down during the
    run does not bias them. The logs-off server and the Redis scenarios are measured right
    after the default SQLite /sample/ with 20 offers that they are compared with, while
    that server idles (its later scenarios go on with its database); apart from it and the
    run's redis-server, every server is stopped before the next starts. Returns the rows
    (the logs-off one after the default 20 offers, Redis ones after the SQLite /sample/
    ones) and the checks: click counts of the stores, then the access log."""
    rows = measure_baselines(bench, workdir, "before")

    cli = Path(sys.executable).parent / "cpa-bandit"
    if not cli.exists():
        raise SystemExit(f"bench: {cli} not found; run `make install` first")
    port = free_port()
    store = f"sqlite:///{workdir / 'bench.db'}"  # absolute path, hence sqlite:////tmp/...
    checks: list[Check] = []
    redis_rows: list[Row] = []
    with bench.serving("cpa-bandit", serve_command(cli, port, store), port, workdir) as pid:
        pool: ClickPool = []
        for offers in OFFER_COUNTS:
            scenario = f"GET /sample/, {offers:,} offers"
            print(f"measuring {scenario} ...", file=sys.stderr)
            row, clicks = bench.sample(scenario, port, f"s{offers}", offers, {"server": pid})
            rows.append(row)
            pool += clicks
            if offers == OFFER_COUNTS[0]:
                for measure in (measure_go, measure_logs_off):
                    row, check = measure(bench, workdir, cli)
                    rows.append(row)
                    checks.append(check)
                for replicas in REDIS_REPLICAS:
                    row, check = measure_redis(bench, workdir, cli, redis_url, replicas)
                    redis_rows.append(row)
                    checks.append(check)
        rows += redis_rows
        print(f"measuring {FEEDBACK} ...", file=sys.stderr)
        ceiling = next(row.result.rps for row in rows if row.baseline == "async_app")
        first_sample = next(row.result.rps for row in rows if row.scenario == SAMPLE_20)
        rows.append(bench.feedback(FEEDBACK, port, pool, ceiling, first_sample))
        checks.insert(0, check_clicks(bench, "SQLite", [port], max(OFFER_COUNTS)))
    checks.append(check_access_log(rows, bench.args.connections))
    return rows + measure_baselines(bench, workdir, "after"), checks


def measure_go(bench: Bench, workdir: Path, cli: Path) -> tuple[Row, Check]:
    """``GET /go/`` of a smartlink over the 20 offers, each with a landing URL, on a second
    SQLite server with a fresh file and the defaults: the same decision as /sample/'s row,
    plus the smartlink's lookup and the redirect. Its 302s are checked by the click count."""
    print(f"measuring {GO_SCENARIO} ...", file=sys.stderr)
    port = free_port()
    store = f"sqlite:///{workdir / 'bench-go.db'}"
    admin = {"X-API-Key": GO_ADMIN_KEY, "Content-Type": "application/json"}
    with bench.serving("cpa-bandit-go", serve_command(cli, port, store), port, workdir,
                       {"CPA_BANDIT_ADMIN_KEY": GO_ADMIN_KEY}) as pid:  # fmt: skip
        offers = OFFER_COUNTS[0]
        for offer_id in range(1, offers + 1):
            url = json.dumps({"url": f"https://lp{offer_id}.example/?c={{click_id}}&s={{source}}"}).encode()
            fetch(port, "PUT", f"/offers/{offer_id}", body=url, headers=admin)
        link = json.dumps({"offers": list(range(1, offers + 1)), "sampler": "ucb"}).encode()
        status, body = fetch(port, "PUT", "/smartlinks/bench", body=link, headers=admin)
        if status != 200:
            raise RuntimeError(f"PUT /smartlinks/bench answered {status}: {body[:300]!r}")
        status, body = fetch(port, "GET", "/go/bench?click_id=probe.go")
        if status != 302:
            raise RuntimeError(f"GET /go/bench probe answered {status}: {body[:300]!r}")
        bench.count_sampled(port, 1, 1)
        row = bench.measure(GO_SCENARIO, port, "sample.lua", ["gow", "", "/go/bench?"], ["go", "", "/go/bench?"],
                            {"server": pid})[0]  # fmt: skip
        return row, check_clicks(bench, "SQLite, /go/", [port], offers)


def measure_logs_off(bench: Bench, workdir: Path, cli: Path) -> tuple[Row, Check]:
    """/sample/ with 20 offers on a second SQLite server, fresh file, with ``LOGS_OFF``."""
    print(f"measuring {LOGS_OFF_SCENARIO} ...", file=sys.stderr)
    port = free_port()
    store = f"sqlite:///{workdir / 'bench-logs-off.db'}"
    with bench.serving("cpa-bandit-logs-off", serve_command(cli, port, store), port, workdir, LOGS_OFF) as pid:
        row = bench.sample(LOGS_OFF_SCENARIO, port, f"n{OFFER_COUNTS[0]}", OFFER_COUNTS[0], {"server": pid})[0]
        return row, check_clicks(bench, "SQLite, decision log and access log off", [port], OFFER_COUNTS[0])


def check_access_log(rows: list[Row], connections: int) -> Check:
    """Whether the servers' log files show the access log as configured in the measured runs:
    a line per completed request on the defaults (a request is logged once answered, so up
    to ``connections`` per run may still be on their way when it is counted), none with
    ``LOGS_OFF``."""
    on = [row for row in rows if row.access_lines is not None and row.scenario != LOGS_OFF_SCENARIO]
    off = [row for row in rows if row.access_lines is not None and row.scenario == LOGS_OFF_SCENARIO]
    lines, requests = sum(row.access_lines or 0 for row in on), sum(row.result.requests for row in on)
    ok = lines >= requests - connections * len(on) and not any(row.access_lines for row in off)
    text = (
        f"Access log: {lines:,} lines for {requests:,} requests completed in the measured runs of the servers on the"
        f" defaults ({len(on)} rows), {sum(row.access_lines or 0 for row in off):,} on the server with it off"
    )
    return f"{text}: {'as expected' if ok else '**FLAGGED: the access log is not as configured**'}", ok


def redis_pid(url: str) -> int:
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


def measure_redis(bench: Bench, workdir: Path, cli: Path, redis_url: str, replicas: int) -> tuple[Row, Check]:
    """/sample/ with 20 offers on ``replicas`` servers (defaults) sharing the run's Redis under
    a key prefix of their own (so each scenario starts from an empty store, as SQLite's first
    does), all driven at once; then the click count of that prefix."""
    scenario = redis_scenario(replicas)
    settings = {"CPA_BANDIT_REDIS_PREFIX": f"bench-r{replicas}"}
    print(f"measuring {scenario} ...", file=sys.stderr)
    with contextlib.ExitStack() as stack:
        ports, watch = [], {}
        for i in range(1, replicas + 1):
            port = free_port()
            command = serve_command(cli, port, redis_url)
            name = f"replica {i}" if replicas > 1 else "server"
            watch[name] = stack.enter_context(
                bench.serving(f"cpa-bandit-redis{replicas}-{i}", command, port, workdir, settings)
            )
            ports.append(port)
        watch["redis-server"] = redis_pid(redis_url)
        row = bench.sample_replicas(scenario, ports, f"r{replicas}", OFFER_COUNTS[0], watch)
        name = f"Redis, {replicas} replica{'s' if replicas > 1 else ''}"
        return row, check_clicks(bench, name, ports, OFFER_COUNTS[0])


BASELINES = [
    ("the seed's app: FastAPI def route, global dicts, no durability", "seed_app"),
    ("empty FastAPI route, def (thread pool)", "sync_app"),
    ("empty FastAPI route, async def", "async_app"),
    ("raw ASGI app, constant answer", "raw_app"),
]
RATIOS = [("× seed app", "seed_app"), ("ratio vs empty async", "async_app"), ("ratio vs empty sync", "sync_app")]
"""The table's ratio columns: header, and the baseline whose mean req/s divides."""


def measure_baselines(bench: Bench, workdir: Path, when: str) -> list[Row]:
    rows = []
    for scenario, app in BASELINES:
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), f"baselines:{app}",
                   "--host", HOST, "--port", str(port), *UVICORN_FLAGS]  # fmt: skip
        print(f"measuring {scenario} ({when}) ...", file=sys.stderr)
        with server(app, command, port, "/", workdir):
            row = bench.sample(f"{scenario} ({when})", port, f"{app}{when}", OFFER_COUNTS[0])[0]
        row.baseline = app
        rows.append(row)
    return rows


def machine(wrk: str) -> dict[str, str]:
    """What the figures depend on, for the report's header."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    wrk_version = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False).stdout.split("[")[0]
    names = ("fastapi", "starlette", "uvicorn", "uvloop", "httptools")
    packages = ", ".join(f"{name} {_version(name)}" for name in names)
    return {
        "nproc": str(CPUS),
        "CPU": model.group(1).strip() if model else platform.processor() or "unknown",
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "wrk": wrk_version.strip() or "unknown",
        "packages": packages,
    }


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def baseline_rps(rows: list[Row]) -> dict[str, float]:
    """Each baseline's mean req/s over its runs (before and after the real servers)."""
    return {app: statistics.fmean(row.result.rps for row in rows if row.baseline == app) for _, app in BASELINES}


def table(rows: list[Row]) -> str:
    """The markdown table, the targets of issue 13, then one footnote line per scenario note
    (CPU, access log, priming, pool)."""
    means = baseline_rps(rows)
    lines = [
        f"| scenario | req/s | p50 ms | p99 ms | {' | '.join(header for header, _ in RATIOS)} | errors |",
        f"|---|---:|---:|---:|{'---:|' * len(RATIOS)}---|",
    ]
    for row in rows:
        r = row.result
        errors = [f"**FLAGGED: {'; '.join(r.problems())}**"] if r.problems() else []
        errors += [f"**FLAGGED warm-up: {'; '.join(row.warm_problems)}**"] if row.warm_problems else []
        ratios = " | ".join(f"{r.rps / means[app]:.2f}" for _, app in RATIOS)
        lines.append(
            f"| {row.scenario} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {ratios}"
            f" | {' '.join(errors) or 'none'} |"
        )
    notes = [f"- {row.scenario}: {note}" for row in rows for note in row.notes]
    return "\n".join(lines + [""] + targets(rows) + ([""] + notes if notes else []))


def targets(rows: list[Row]) -> list[str]:
    """Issue 13's targets, each met or missed on this run's figures: ratios to the mean of
    the empty ``async def`` route's runs, and Redis to the default SQLite server."""
    by_name = {row.scenario: row.result for row in rows}
    empty_async = baseline_rps(rows)["async_app"]
    sample, feedback = by_name[SAMPLE_20], by_name[FEEDBACK]
    widest = by_name[f"GET /sample/, {max(OFFER_COUNTS):,} offers"]
    redis_one = by_name[redis_scenario(REDIS_REPLICAS[0])]
    go = by_name[GO_SCENARIO]

    def target(met: bool, what: str, figures: str) -> str:
        return f"- {'met' if met else '**missed**'}: {what} ({figures})"

    def x(result: WrkResult) -> float:
        return result.rps / empty_async

    redis_ratio = redis_one.rps / sample.rps
    return [
        "Targets of issue 13 (× the mean of the empty `async def` route's runs):",
        "",
        target(
            x(sample) >= 1.0 and sample.p99_ms <= 5.0,
            f"`/sample/`, {OFFER_COUNTS[0]} offers, defaults: ≥ 1.0× and p99 ≤ 5 ms",
            f"{x(sample):.2f}×, p99 {sample.p99_ms:.2f} ms",
        ),
        target(x(feedback) >= 1.0, "`/feedback/`: ≥ 1.0×", f"{x(feedback):.2f}×"),
        target(x(widest) >= 0.25, f"`/sample/`, {max(OFFER_COUNTS):,} offers: ≥ 0.25×", f"{x(widest):.2f}×"),
        target(
            redis_ratio >= 0.8,
            f"`/sample/`, {OFFER_COUNTS[0]} offers, Redis, 1 replica: ≥ 0.8× the same on SQLite (defaults)",
            f"{redis_ratio:.2f}×: {redis_one.rps:,.0f} against {sample.rps:,.0f} req/s",
        ),
        "",
        "Issue 15: `/go/` (a smartlink's redirect) within `/sample/`'s budget, same run:",
        "",
        target(
            go.rps >= 0.8 * sample.rps and go.p99_ms <= 1.25 * sample.p99_ms,
            f"`/go/` over {OFFER_COUNTS[0]} offers: ≥ 0.8× `/sample/`'s req/s, p99 ≤ 1.25× its p99",
            f"{go.rps / sample.rps:.2f}×: {go.rps:,.0f} against {sample.rps:,.0f} req/s ({x(go):.2f}× the empty"
            f" route), p99 {go.p99_ms:.2f} against {sample.p99_ms:.2f} ms",
        ),
    ]


def redis_comparison(rows: list[Row]) -> str:
    """The Redis rows as ratios to the SQLite single process's /sample/ with 20 offers, and
    what the CPU figures of those rows say about them."""
    by_name = {row.scenario: row for row in rows}
    sqlite = by_name[SAMPLE_20]
    one, two = (by_name[redis_scenario(n)] for n in REDIS_REPLICAS)
    s_rps, one_rps, two_rps = sqlite.result.rps, one.result.rps, two.result.rps

    def ms(cores: float, rps: float) -> str:  # CPU time per decision
        return f"{cores / rps * 1000:.2f} ms"

    replicas = sum(cores for name, cores in two.cpu.items() if name.startswith("replica"))
    text = (
        f"**Redis against SQLite, same run:** `GET /sample/` with {OFFER_COUNTS[0]} offers on Redis serves"
        f" **{one_rps / s_rps:.2f}×** the SQLite single process's req/s (both on the defaults) with 1 replica"
        f" ({one_rps:,.0f} against {s_rps:,.0f}) and **{two_rps / s_rps:.2f}×** with 2 replicas ({two_rps:,.0f} req/s,"
        f" {two_rps / one_rps:.2f}× one replica).\n\n"
        f"CPU per decision (from the footnotes): the SQLite process {ms(sqlite.cpu['server'], s_rps)}, store"
        f" included; one Redis replica {ms(one.cpu['server'], one_rps)} in the replica, plus"
        f" {ms(one.cpu['redis-server'], one_rps)} in redis-server."
    )
    idle = one.cpu["server"] < 0.9
    if idle:
        text += (
            f" One replica used only {one.cpu['server']:.2f} of a core under a load that kept it busy: it was idle"
            " for part of the run, waiting on Redis."
        )
    text += (
        f" On this {CPUS}-CPU machine the two replicas, redis-server and the two wrk processes all share"
        f" {CPUS} cores, and used {sum(two.cpu.values()):.2f} of them (the replicas {replicas:.2f}): the second"
        f" replica {'mostly took CPU that the 1-replica run left idle' if idle else 'took CPU from the first'}"
        f" ({sum(one.cpu.values()):.2f} of {CPUS} cores used there),"
        f" and the 2-replica figure is what two replicas get out of {CPUS} cores in contention with each other,"
        " Redis and wrk. It does not measure scale-out: that needs replicas on cores or machines of their own."
    )
    return text


def report(
    rows: list[Row],
    checks: list[Check],
    memory: redis_memory.Memory,
    policies: str,
    log_table: str,
    args: argparse.Namespace,
    wrk: str,
    started: dt.datetime,
) -> str:
    info = machine(wrk)
    share = wrk_share(args, max(REDIS_REPLICAS))
    command = (
        f"{os.path.relpath(sys.executable, BENCH.parent)} bench/run.py --duration {args.duration}"
        f" --warmup {args.warmup} --connections {args.connections} --threads {args.threads}"
    )
    if args.output.resolve() != (BENCH / "RESULTS.md").resolve():
        command += f" --output {args.output}"
    return f"""# cpa-bandit HTTP benchmark

Date: {started.strftime("%Y-%m-%d %H:%M UTC")}

Machine: {info["nproc"]} CPUs ({info["CPU"]}), Python {info["Python"]}, {info["wrk"]}; {info["packages"]}.

Reproduce: `make bench` (this run: `{command}`).

Closed-loop load: `wrk -c{args.connections} -t{args.threads} -d{args.duration}s --latency` on 127.0.0.1,
after a {args.warmup}s warm-up, on one uvicorn worker each (uvloop + httptools when installed).
Every /sample/ request has a fresh click id; every /feedback/ resolves a distinct click
sampled earlier in this run, with one conversion (reward 12.5) in {CONVERSION_EVERY}.

The real server is `cpa-bandit serve --workers 1 --log-level {SERVE_LOG_LEVEL}` on a fresh SQLite file,
on the service's defaults: decision log, metrics and access log on, its JSON log lines
(one access line per request) written to a file, as a deployment would keep them; the
footnotes give the access lines counted during each measured run. Its scenarios share
one database, which grows as they run. The row "decision log and access log off" is a
second server, fresh SQLite file, with `{" ".join(f"{key}={value}" for key, value in LOGS_OFF.items())}` and
nothing else changed, measured right after the default server's 20 offers.

Baselines (bench/baselines.py) answer the same /sample/ URL (20 offer ids, fresh click ids),
served by `uvicorn {" ".join(UVICORN_FLAGS)}`: the seed's app re-created (a plain
`def` route that picks by UCB1 or Thompson over counters in global dicts and records the
click in memory: no durability, no log), an empty FastAPI route with /sample/'s parameters
as plain `def` (run in the thread pool) and as `async def` (the cheapest route FastAPI can
serve), and a raw ASGI app answering a constant (uvicorn's ceiling). They are measured
before and after the real servers, and each ratio column divides by the mean of that
baseline's two runs in this same run, which is what to compare across machines: wrk shares
the CPUs with the servers, and other work on the machine moves absolute figures (the
before/after rows show by how much).

The Redis rows serve the same /sample/ (20 offers, fresh click ids, the defaults) with
`cpa-bandit serve --workers 1 --store redis://…` on one redis-server started for this run
(loopback, no persistence), each scenario under a key prefix of its own, so from an empty
store: one replica under the same wrk as SQLite, then two replicas sharing the Redis, driven
at once by two wrk processes with half the connections and threads each (`-c{share[0]} -t{share[1]}`),
their req/s summed and the worse replica's p50 and p99 reported. Both are measured right
after the SQLite /sample/ with 20 offers (that server idling meanwhile), so that the
machine's drift weighs least on their ratios to it.

{table(rows)}

{redis_comparison(rows)}

Checks: the clicks each store counted (sum of `/offer_ids/{{id}}/stats/`) lie between the
/sample/ requests answered 2xx and those sent (wrk stops with some in flight), no server
answered a decision without its store (`/healthz` `unrecorded_decisions`), and the servers'
log files hold an access line per request on the defaults and none with the access log off:

{chr(10).join(f"- {text}." for text, _ in checks)}

## Memory per pending click, Redis store

`bench/redis_memory.py` on this run's redis-server ({memory.server}), also runnable alone:
`.venv/bin/python bench/redis_memory.py` (starts a throwaway redis-server). It records
{memory.n:,} decisions through `RedisStore.record_decision` into a fresh key prefix: half with
source `{redis_memory.SOURCE}`, {redis_memory.OFFERS} offers in turn, 18-character lowercase alphanumeric click
ids (Keitaro's), Thompson sampling's parameters, no propensity. The MEMORY USAGE rows are
`MEMORY USAGE <key> SAMPLES 0` (exact) averaged over the clicks, the pending sets' summed
and divided by N; `used_memory` growth is `INFO memory` before and after, divided by N: it
adds what MEMORY USAGE leaves out (the keyspace's and the expiry table's entries, hash
table buckets, allocator rounding) and the prefix's bounded structures.

{redis_memory.table(memory)}

## One policy decision, in process

`bench/policy_cost.py`: `policies.select()` alone on counters of a live-looking service,
best of {policy_cost.REPEATS} repeats; the baseline is one uniform draw per offer and an argmax.

{policies}

## The decision log, in process

`bench/log_cost.py`: `BanditService.decide()` on SQLite with the decision log on against
the same decisions with the log off (`CPA_BANDIT_DECISION_LOG_DAYS=0`), alternately, best
of {log_cost.ROUNDS} rounds of {log_cost.DECISIONS:,}; and the cost per row of reading the log back
(`decision_log()`, Thompson's propensity integrated there).

{log_table}
"""


def kept_soak_section(path: Path) -> str:
    """The soak section (bench/soak.py) of the report being replaced, markers included: a
    rerun of this benchmark keeps it."""
    old = path.read_text() if path.exists() else ""
    found = re.search(r"<!-- soak:begin -->.*?<!-- soak:end -->\n?", old, re.S)
    return "\n" + found.group(0) if found else ""


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = dt.datetime.now(dt.timezone.utc)
    bench = Bench(ensure_wrk(), args)
    with tempfile.TemporaryDirectory(prefix="cpa-bandit-bench-") as tmp, redis_server(Path(tmp)) as redis_url:
        rows, checks = run_all(bench, Path(tmp), redis_url)
        print("measuring memory per pending click (Redis) ...", file=sys.stderr)
        memory = redis_memory.measure(redis_url)
    policies = policy_cost.table(policy_cost.measure())
    log_table = log_cost.table(log_cost.measure())
    soak = kept_soak_section(args.output)
    args.output.write_text(report(rows, checks, memory, policies, log_table, args, bench.wrk, started) + soak)
    check_lines = "\n".join(f"Check: {text}." for text, _ in checks)
    print(f"{table(rows)}\n\n{check_lines}\n\n{redis_memory.table(memory)}\n\n{policies}\n\n{log_table}")
    print(f"\nwrote {args.output}", file=sys.stderr)
    flagged = [row.scenario for row in rows if row.result.problems() or row.warm_problems]
    flagged += [f"click count check ({text.split(':')[0]})" for text, ok in checks if not ok]
    if flagged:
        print(f"bench: runs with errors: {', '.join(flagged)}", file=sys.stderr)
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
