"""Memory per pending click in the Redis store, measured on a real redis-server.

Records N = 20,000 decisions through ``RedisStore.record_decision`` into a fresh key prefix
(half of them with a traffic source, ``src-1``; 20 offers in turn; Keitaro-like click ids of
18 lowercase alphanumerics; Thompson sampling's parameters as the service stores them, no
propensity), then reports two figures:

* ``MEMORY USAGE <key> SAMPLES 0`` (exact) of each click's own keys, the click index
  ``P:{c:<click>}`` and the click record ``P:{o<offer>}:k:<click>``, plus its share of the
  offers' pending sets ``P:{o<offer>}:pending`` (their MEMORY USAGE summed, divided by N);
* the growth of ``INFO memory`` ``used_memory`` over the N decisions, divided by N, which
  also counts what MEMORY USAGE leaves out (the keyspace's and the expiry table's entries,
  allocator rounding) and the prefix's bounded structures (the ``P:recent`` list of the
  latest 10,000 decisions, the offers' counter hashes), which weigh less per click as N grows.

Run alone: `.venv/bin/python bench/redis_memory.py` starts a throwaway redis-server (or give
``--url redis://127.0.0.1:6379/0``; only keys under the prefix are written, then deleted);
`make bench` runs it on the benchmark's own redis-server and includes its table.
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import redis

from cpa_bandit.domain import Decision
from cpa_bandit.policies import PolicyParams, Sampler
from cpa_bandit.store.redis import RECENT_KEPT, RedisStore

N = 20_000
OFFERS = 20
SOURCE = "src-1"
PREFIX = "benchmem"
CLICK_ID_CHARS = string.ascii_lowercase + string.digits
CLICK_ID_LENGTH = 18  # Keitaro's subid: 17-19 lowercase alphanumerics


@dataclass(frozen=True)
class Memory:
    """Bytes per pending click; ``*_src`` for clicks with a source, ``*_nosrc`` without."""

    n: int
    index_src: float
    index_nosrc: float
    record_src: float
    record_nosrc: float
    zset_share: float
    used_memory_per_click: float
    fixed_bytes: int
    """MEMORY USAGE of the prefix's bounded structures (recent list, offers set, offer hashes)."""
    encodings: str
    seconds: float
    server: str
    """Redis version and allocator."""

    def usage(self, which: str) -> float:
        index, record = {
            "src": (self.index_src, self.record_src),
            "nosrc": (self.index_nosrc, self.record_nosrc),
            "all": ((self.index_src + self.index_nosrc) / 2, (self.record_src + self.record_nosrc) / 2),
        }[which]
        return index + record + self.zset_share


def click_ids(n: int, rng: random.Random) -> list[str]:
    ids: dict[str, None] = {}
    while len(ids) < n:
        ids["".join(rng.choices(CLICK_ID_CHARS, k=CLICK_ID_LENGTH))] = None
    return list(ids)


def measure(url: str, n: int = N, prefix: str = PREFIX) -> Memory:
    """Record ``n`` decisions under ``prefix`` (emptied first, deleted after) and measure."""
    client = redis.Redis.from_url(url, socket_timeout=30)
    store = RedisStore.from_url(url, prefix=prefix, timeout_s=5.0)
    scratch = RedisStore.from_url(url, prefix=f"{prefix}-warm", timeout_s=5.0)
    params = PolicyParams(Sampler.thompson).as_dict()
    rng = random.Random(20_000)
    try:
        store.reset()
        # Load the scripts and open the connections before "before": neither is per click.
        scratch.record_decision(Decision("warmup", 1, SOURCE, time.time(), params, None))
        scratch.reset()
        ids = click_ids(n, rng)
        before = client.info("memory")["used_memory"]
        started = time.perf_counter()
        for i, click_id in enumerate(ids):
            decision = Decision(click_id, i % OFFERS + 1, SOURCE if i % 2 == 0 else None, time.time(), params, None)
            _, created = store.record_decision(decision)
            if not created:
                raise RuntimeError(f"click {click_id} was not recorded as new")
        seconds = time.perf_counter() - started
        after = client.info("memory")["used_memory"]

        def usage(keys: Sequence[str]) -> list[int]:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.memory_usage(key, samples=0)
            return pipe.execute()

        p = prefix
        index = usage([f"{p}:{{c:{c}}}" for c in ids])
        record = usage([f"{p}:{{o{i % OFFERS + 1}}}:k:{c}" for i, c in enumerate(ids)])
        pending_keys = [f"{p}:{{o{o}}}:pending" for o in range(1, OFFERS + 1)]
        pending = usage(pending_keys)
        if None in index or None in record or None in pending:
            raise RuntimeError("a key that record_decision should have written is missing")
        members = sum(client.zcard(key) for key in pending_keys)
        if members != n:
            raise RuntimeError(f"{members} pending clicks in the pending sets, expected {n}")
        fixed = sum(usage([f"{p}:recent", f"{p}:offers", *(f"{p}:{{o{o}}}" for o in range(1, OFFERS + 1))]))
        encodings = ", ".join(
            f"{what} {client.object('encoding', key).decode()}"
            for what, key in (("click index", f"{p}:{{c:{ids[0]}}}"), ("click record", f"{p}:{{o1}}:k:{ids[0]}"),
                              ("pending set", pending_keys[0]))
        )  # fmt: skip
        return Memory(
            n=n,
            index_src=_mean(index[0::2]),
            index_nosrc=_mean(index[1::2]),
            record_src=_mean(record[0::2]),
            record_nosrc=_mean(record[1::2]),
            zset_share=sum(pending) / n,
            used_memory_per_click=(after - before) / n,
            fixed_bytes=fixed,
            encodings=encodings,
            seconds=seconds,
            server=f"Redis {client.info('server')['redis_version']}, {client.info('memory')['mem_allocator']}",
        )
    finally:
        for s in (store, scratch):
            s.reset()
            s.close()
        client.close()


def _mean(values: Sequence[int]) -> float:
    return sum(values) / len(values)


def table(m: Memory) -> str:
    """Markdown: bytes per pending click by key, with and without a source, and the total."""
    index_all = (m.index_src + m.index_nosrc) / 2
    record_all = (m.record_src + m.record_nosrc) / 2
    lines = [
        f"| bytes per pending click (N = {m.n:,}) | with source `{SOURCE}` | without source | mean |",
        "|---|---:|---:|---:|",
        f"| click index `P:{{c:<click>}}` | {m.index_src:.0f} | {m.index_nosrc:.0f} | {index_all:.0f} |",
        f"| click record `P:{{o<offer>}}:k:<click>` | {m.record_src:.0f} | {m.record_nosrc:.0f} | {record_all:.0f} |",
        f"| share of pending sets `P:{{o<offer>}}:pending` | {m.zset_share:.0f} | {m.zset_share:.0f}"
        f" | {m.zset_share:.0f} |",
        f"| **MEMORY USAGE sum** | **{m.usage('src'):.0f}** | **{m.usage('nosrc'):.0f}** | **{m.usage('all'):.0f}** |",
        f"| **`used_memory` growth / N** | | | **{m.used_memory_per_click:.0f}** |",
    ]
    notes = (
        f"Encodings: {m.encodings} ({OFFERS} offers, {m.n // OFFERS:,} pending clicks each)."
        f" The bounded structures (`P:recent`, at most {RECENT_KEPT:,} decisions; `P:offers`; the offer"
        f" hashes) took {m.fixed_bytes:,} bytes by MEMORY USAGE, {m.fixed_bytes / m.n:.0f} per click at this N."
        f" Recording took {m.seconds:.1f}s ({m.n / m.seconds:,.0f} decisions/s, one client, no HTTP)."
        " The `used_memory` figure moves by a few tens of bytes from run to run (and with what else the"
        " Redis holds): the keyspace's and expiry table's hash tables grow by doubling, and N may fall"
        " just before or after a doubling; the MEMORY USAGE figures do not move."
    )
    return "\n".join(lines) + "\n\n" + notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an existing Redis (default: start a throwaway redis-server)")
    parser.add_argument("--clicks", type=int, default=N, help=f"pending clicks to record (default {N:,})")
    parser.add_argument(
        "--prefix", default=PREFIX, help=f"key prefix, emptied first and deleted after (default {PREFIX})"
    )
    args = parser.parse_args(argv)
    if args.clicks < 2:
        parser.error("need --clicks >= 2")
    if args.url:
        print(table(measure(args.url, args.clicks, args.prefix)))
        return 0
    from redis_server import redis_server  # bench/ is on sys.path when run as a script

    with tempfile.TemporaryDirectory(prefix="cpa-bandit-redis-memory-") as tmp, redis_server(Path(tmp)) as url:
        print(table(measure(url, args.clicks, args.prefix)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
