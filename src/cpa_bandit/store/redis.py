"""The Redis store: many stateless API replicas share their state in one Redis or a Redis Cluster.

Keys (``P`` is the key prefix, ``{…}`` a hash tag that decides the cluster slot):

=========================  ====================================================================
``P:{c:<click>}``          the click's decision (JSON), written once with ``SET NX``: the first
                           answer to a click id, found from the click id alone. Own slot: a
                           feedback or postback knows only the click id.
``P:{o<offer>}``           the offer's counters (pooled, and ``column@source``), the sum of
                           its clicks' squared rewards (``reward_sq``, a float), its evidence
                           start (``since``, absent: never restarted) with the counters it
                           found then (``b:<column>``, ``b:<column>@<source>``,
                           ``b:reward_sq``), its registry entry (``reg``, JSON; with
                           ``payout`` and ``paused``, the status's index in
                           ``domain.STATUSES``, for decisions), its cap usage
                           (``cap:<period>``) and ``capped_until``.
``P:{o<offer>}:k:<click>`` the click's outcome totals and conversions, in its offer's slot so
                           that resolving it and moving the counters is one script.
``P:{o<offer>}:pending``   pending clicks by decision time: the attribution-window sweep.
``P:{o<offer>}:h:<day>``   the offer's hourly counters of one UTC day (``c|s|v|r:<hour>``:
                           clicks, outcomes known (resolved or expired), conversions, revenue
                           of the clicks of that hour); expires ``HOURS_KEPT_S`` after its
                           last change.
``P:{o<offer>}:log``       the decision log of the offer's clicks: a stream whose ids are the
                           decision times in ms, trimmed by the maintenance sweep; an entry
                           is the decision as JSON, a newline, its evidence's binary form
                           (entries written before that hold the evidence's JSON, key ``e``).
``P:offers``, ``P:registry``  ids of offers with counters / with a registry entry.
``P:sources``              the traffic sources clicks named.
``P:recent``               the latest decisions' offers (a capped list), for reports.
``P:postbacks``            postback outcomes by reason.
=========================  ====================================================================

A decision is two writes in two slots: the click index, then the offer's script. Should a
replica die between them, the next operation on the click (a retried ``/sample/``, its
feedback, a postback) runs the offer's part first: the click is then counted exactly once.
Click keys expire ``click_ttl_s`` after the decision (the attribution window plus a margin
for late conversions and chargebacks), so memory stays bounded; counters never expire.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import math
import random
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace

import numpy as np
import redis
from redis.cluster import RedisCluster
from redis.exceptions import NoScriptError

from .. import caps
from ..conversions import (
    ClickTotals,
    Conversion,
    Postback,
    PostbackResult,
    Status,
    apply_postback,
    feedback_after_postback,
)
from ..domain import Decision, Evidence, Offer, Outcome, StoreUnavailable, UnknownClick
from . import redis_scripts
from .base import COUNTER_COLUMNS, ClickRecord, HourCounts, LoggedDecision, OfferRows, patched, status_code

RECENT_KEPT = 10_000
"""Decisions kept in ``P:recent`` (reports ask for the latest 1,000)."""

LOG_BATCH = 1_000
"""Decision-log entries read per call: an export streams, whatever the log's length."""

CLOCK_SKEW_MS = 60_000
"""How far a log entry's id may run ahead of its decision time (see the RECORD script)."""

DAY = 86_400

POSTBACK_RETRIES = 20
"""Attempts of a postback whose click changes under it (concurrent postbacks on one click)."""

_REGISTRY_FIELDS = ("payout", "paused", "capped_until")
"""``paused`` holds the status's index in ``domain.STATUSES`` (0, 1, or 2 for archived)."""
_BASELINE_FIELDS = tuple(f"b:{column}" for column in COUNTER_COLUMNS)
_FLOAT_FIELDS = ("since", "reward_sq", "b:reward_sq")
_HOUR_COLUMNS = {b"c": 0, b"s": 1, b"v": 2, b"r": 3}
"""The hourly counters' field letters, by position in ``HourCounts`` after the offer id."""


class RedisStore:
    remote = True

    def __init__(
        self,
        client: redis.Redis | RedisCluster,
        *,
        prefix: str = "cpab",
        click_ttl_s: float = 60 * 86_400.0,
    ) -> None:
        self._r = client
        self._cluster = isinstance(client, RedisCluster)
        self._p = prefix
        self._ttl = max(1, int(click_ttl_s))
        self._record = client.register_script(redis_scripts.RECORD)
        self._resolve = client.register_script(redis_scripts.RESOLVE)
        self._postback = client.register_script(redis_scripts.POSTBACK)
        self._expire = client.register_script(redis_scripts.EXPIRE)
        self._put_offer = client.register_script(redis_scripts.PUT_OFFER)
        self._restart = client.register_script(redis_scripts.RESTART)
        self._local = threading.local()  # a batch's prepared decisions, per thread

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float = 0.5, **kwargs: object) -> RedisStore:
        """``redis://host:port/db`` for one Redis, ``redis+cluster://host:port`` for a cluster
        (any node; the others are discovered)."""
        options = {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s, "health_check_interval": 30}
        if url.startswith("redis+cluster://"):
            client = RedisCluster.from_url("redis://" + url.removeprefix("redis+cluster://"), **options)
        else:
            client = redis.Redis.from_url(url, **options)
        return cls(client, **kwargs)  # type: ignore[arg-type]

    # --- keys ------------------------------------------------------------------------------

    def _index(self, click_id: str) -> str:
        return f"{self._p}:{{c:{click_id}}}"

    def _offer(self, offer_id: int) -> str:
        return f"{self._p}:{{o{offer_id}}}"

    def _click(self, offer_id: int, click_id: str) -> str:
        return f"{self._offer(offer_id)}:k:{click_id}"

    def _keys(self, decision: Decision) -> list[str]:
        offer = self._offer(decision.offer_id)
        day = int(decision.created_at // DAY)
        return [offer, f"{offer}:k:{decision.click_id}", f"{offer}:pending", f"{offer}:h:{day}"]

    def _args(self, decision: Decision) -> list[object]:
        return [decision.click_id, decision.source or "", repr(decision.created_at), self._ttl]

    # --- domain operations -------------------------------------------------------------------

    def record_decision(self, decision: Decision) -> tuple[Decision, bool]:
        prepared = getattr(self._local, "prepared", None)
        if prepared is not None and id(decision) in prepared:  # recorded by the batch already
            return prepared.pop(id(decision))
        return self._record_all([decision])[0]

    def batch(self, decisions: Sequence[Decision] = ()) -> contextlib.AbstractContextManager[None]:
        """The decisions of a batch are recorded together as it opens: two pipelined round
        trips for all of them (on a cluster, one per node touched, and a script call per
        decision), instead of two each; ``record_decision`` inside the block then returns
        their results. Other operations are committed one by one, as always."""
        return self._prepared(decisions)

    @contextmanager
    def _prepared(self, decisions: Sequence[Decision]) -> Iterator[None]:
        self._local.prepared = dict(zip(map(id, decisions), self._record_all(decisions))) if decisions else None
        try:
            yield
        finally:
            self._local.prepared = None

    def _record_all(self, decisions: Sequence[Decision]) -> list[tuple[Decision, bool]]:
        """Record each decision (a click id listed twice: once, the second a replay)."""
        with self._errors():
            pipe = self._r.pipeline(transaction=False)
            for decision in decisions:
                pipe.set(self._index(decision.click_id), _encode(decision), nx=True, get=True, ex=self._ttl)
            previous = pipe.execute()
            stored = [d if p is None else _decision(d.click_id, p) for d, p in zip(decisions, previous)]
            calls = [
                (
                    [*self._keys(s), f"{self._offer(s.offer_id)}:log"],
                    [*self._args(s), _encode(s, logged=True) if s.evidence is not None else ""],
                )
                for s in stored
            ]
            # The offers' scripts and the report keys: several slots, so not a transaction
            # (each part is safe alone), but one round trip where the client can pipeline
            # scripts (redis-py's cluster pipelines refuse them).
            pipe = self._r.pipeline(transaction=False)
            if self._cluster:
                recorded = [self._record(keys=keys, args=args) for keys, args in calls]
            else:
                for keys, args in calls:
                    pipe.evalsha(self._record.sha, len(keys), *keys, *args)
            new = [s for s, p in zip(stored, previous) if p is None]
            if new:
                pipe.sadd(f"{self._p}:offers", *{s.offer_id for s in new})
                if sources := {s.source for s in new if s.source}:
                    pipe.sadd(f"{self._p}:sources", *sources)
                pipe.lpush(f"{self._p}:recent", *(s.offer_id for s in new))
                pipe.ltrim(f"{self._p}:recent", 0, RECENT_KEPT - 1)
            answers = pipe.execute(raise_on_error=False)
            if not self._cluster:
                recorded = answers[: len(calls)]
            for answer in answers:
                if isinstance(answer, Exception) and not isinstance(answer, NoScriptError):
                    raise answer
            recorded = [  # a restarted Redis: load the script, run it
                self._record(keys=keys, args=args) if isinstance(answer, NoScriptError) else answer
                for answer, (keys, args) in zip(recorded, calls)
            ]
        return [(s, p is None and r == 1) for s, p, r in zip(stored, previous, recorded)]

    def _find_decision(self, click_id: str) -> Decision | None:
        with self._errors():
            encoded = self._r.get(self._index(click_id))
        return None if encoded is None else _decision(click_id, encoded)

    def resolve_click(self, click_id: str, reward_micros: int, at: float) -> tuple[Outcome, bool]:
        decision = self._known(click_id)
        with self._errors():
            answer = self._resolve(keys=self._keys(decision), args=[*self._args(decision), reward_micros])
        if answer[0] == -1:
            raise feedback_after_postback(click_id, decision.offer_id)
        if answer[0] == 0:
            return Outcome(click_id, decision.offer_id, int(answer[1])), False
        return Outcome(click_id, decision.offer_id, reward_micros), True

    def apply_postback(self, postback: Postback, at: float) -> PostbackResult:
        decision = self._known(postback.click_id)
        for _ in range(POSTBACK_RETRIES):
            with self._errors():
                record = self._r.hgetall(self._click(decision.offer_id, decision.click_id))
                offer = self._registry_entry(decision.offer_id)
            version = record.get(b"ver", b"0").decode()
            result = apply_postback(
                postback,
                offer_id=decision.offer_id,
                totals=_totals(record),
                conversions=_conversions(record, decision.click_id),
                offer=offer,
                at=at,
            )
            if self._write_postback(decision, version, result, offer, at):
                return result
        raise StoreUnavailable(f"click {postback.click_id!r} kept changing; retry the postback")

    def count_postback(self, outcome: str) -> None:
        with self._errors():
            self._r.hincrby(f"{self._p}:postbacks", outcome, 1)

    def postback_counts(self) -> dict[str, int]:
        with self._errors():
            counts = self._r.hgetall(f"{self._p}:postbacks")
        return {key.decode(): int(value) for key, value in counts.items()}

    def expire_clicks(self, decided_before: float, limit: int) -> int:
        with self._errors():
            offer_ids = sorted(int(o) for o in self._r.smembers(f"{self._p}:offers"))
            expired = 0
            for offer_id in offer_ids:
                offer = self._offer(offer_id)
                while expired < limit:
                    batch = limit - expired
                    seen, newly = self._expire(
                        keys=[offer, f"{offer}:pending"],
                        args=[repr(decided_before), batch, f"{offer}:k:", f"{offer}:h:"],
                    )
                    expired += newly
                    if seen < batch:
                        break
        return expired

    def decision_log(self, since: float, until: float) -> Iterator[LoggedDecision]:
        offer_ids = self.known_offer_ids()
        streams = [self._offer_log(offer_id, since, until) for offer_id in offer_ids]
        yield from heapq.merge(*streams, key=lambda logged: logged.decision.created_at)

    def _offer_log(self, offer_id: int, since: float, until: float) -> Iterator[LoggedDecision]:
        """One offer's logged decisions in [since, until), joined with their clicks' records
        (same slot) one batch at a time."""
        key = f"{self._offer(offer_id)}:log"
        start = f"{int(since * 1000)}-0" if since > 0 else "-"
        end = f"{int(until * 1000) + CLOCK_SKEW_MS}-0" if until < 2**42 else "+"  # 2**42 s: year 139,000
        while True:
            with self._errors():
                entries = self._r.xrange(key, start, end, count=LOG_BATCH)
                decisions = [_logged(entry[b"d"]) for _, entry in entries]
                pipe = self._r.pipeline(transaction=False)
                for decision in decisions:
                    pipe.hgetall(self._click(offer_id, decision.click_id))
                records = pipe.execute() if decisions else []
            for decision, record in zip(decisions, records):
                if since <= decision.created_at < until:
                    yield LoggedDecision(decision, _totals(record), record.get(b"exp") == b"1")
            if len(entries) < LOG_BATCH:
                return
            start = b"(" + entries[-1][0]

    def trim_history(self, log_before: float, hours_before: float, limit: int) -> int:
        # The log is trimmed by id (decision time). Hourly counters go a whole day at a time:
        # the days of the week before the cutoff's day (sweeps run every minute or so; a day
        # that no sweep saw expires by its TTL).
        with self._errors():
            offer_ids = self.known_offer_ids()
            trimmed = 0
            if offer_ids and log_before > 0:
                pipe = self._r.pipeline(transaction=False)
                for offer_id in offer_ids:
                    pipe.xtrim(f"{self._offer(offer_id)}:log", minid=f"{int(log_before * 1000)}-0", approximate=False)
                trimmed = sum(pipe.execute())
            last_day = int(hours_before // DAY) if hours_before > 0 else 0
            old_days = [f"{self._offer(o)}:h:{day}" for o in offer_ids for day in range(max(0, last_day - 7), last_day)]
            if old_days:
                _unlink_each(self._r, old_days)
        return trimmed

    def hourly(self, since: float, until: float) -> list[HourCounts]:
        if not math.isfinite(until):
            raise ValueError("hourly counters are read over a finite window")
        since = max(since, until - redis_scripts.HOURS_KEPT_S - DAY)  # older days are gone
        offer_ids = self.known_offer_ids()
        days = range(int(since // DAY), int((until - 1) // DAY) + 1) if until > since else range(0)
        with self._errors():
            pipe = self._r.pipeline(transaction=False)
            for offer_id in offer_ids:
                for day in days:
                    pipe.hgetall(f"{self._offer(offer_id)}:h:{day}")
            answers = iter(pipe.execute() if offer_ids and days else [])
        counts: dict[tuple[int, int], list[int]] = {}
        for offer_id in offer_ids:
            for _ in days:
                for field, value in next(answers).items():
                    column, hour = field.split(b":")
                    if since <= int(hour) < until:
                        row = counts.setdefault((int(hour), offer_id), [0] * len(_HOUR_COLUMNS))
                        row[_HOUR_COLUMNS[column]] = int(value)
        return [HourCounts(hour, offer_id, *row) for (hour, offer_id), row in sorted(counts.items())]

    def put_smartlink(self, name: str, spec: str) -> None:
        with self._errors():
            self._r.hset(self._smartlinks, name, spec)

    def get_smartlink(self, name: str) -> str | None:
        with self._errors():
            spec = self._r.hget(self._smartlinks, name)
        return None if spec is None else spec.decode()

    def list_smartlinks(self) -> dict[str, str]:
        with self._errors():
            specs = self._r.hgetall(self._smartlinks)
        return {name.decode(): spec.decode() for name, spec in sorted(specs.items())}

    def delete_smartlink(self, name: str) -> bool:
        with self._errors():
            return bool(self._r.hdel(self._smartlinks, name))

    @property
    def _smartlinks(self) -> str:
        return f"{self._p}:smartlinks"  # one hash: a handful of entries, read per visitor

    def known_sources(self) -> list[str]:
        with self._errors():
            sources = self._r.smembers(f"{self._p}:sources")
        return sorted(source.decode() for source in sources)

    def read_offers(self, offer_ids: Sequence[int], source: str | None = None) -> OfferRows:
        # one HMGET per offer: the floats, then blocks of counters (pooled, its baseline[, the
        # source's, its baseline]), then the registry's fields
        counters = [*COUNTER_COLUMNS, *_BASELINE_FIELDS]
        if source:
            counters += [f"{column}@{source}" for column in (*COUNTER_COLUMNS, *_BASELINE_FIELDS)]
        with self._errors():
            pipe = self._r.pipeline(transaction=False)
            for offer_id in offer_ids:
                pipe.hmget(self._offer(offer_id), [*_FLOAT_FIELDS, *counters, *_REGISTRY_FIELDS])
            rows = pipe.execute() if offer_ids else []
        k, width, reals = len(offer_ids), len(COUNTER_COLUMNS), len(_FLOAT_FIELDS)
        floats = np.array(
            [[float(v) if v is not None else 0.0 for v in row[:reals]] for row in rows], dtype=np.float64
        ).reshape(k, reals)
        matrix = np.array(
            [[int(v) if v is not None else 0 for v in row[reals:]] for row in rows], dtype=np.int64
        ).reshape(k, len(counters) + len(_REGISTRY_FIELDS))
        payout = np.array([int(row[-3]) if row[-3] is not None else -1 for row in rows], dtype=np.int64)
        blocks = matrix[:, : len(counters)].reshape(k, len(counters) // width, width)
        return OfferRows.from_read(blocks, payout, matrix[:, -2], matrix[:, -1], floats)

    def restart_offer(self, offer_id: int, at: float, expected_since: float) -> bool:
        with self._errors():
            restarted = self._restart(  # float(): numpy's floats have a repr of their own
                keys=[self._offer(offer_id)],
                args=[repr(float(at)), repr(float(expected_since)), *COUNTER_COLUMNS],
            )
        return restarted == 1

    def known_offer_ids(self) -> list[int]:
        with self._errors():
            pipe = self._r.pipeline(transaction=False)
            pipe.smembers(f"{self._p}:offers")
            pipe.smembers(f"{self._p}:registry")
            counted, registered = pipe.execute()
        return sorted({int(o) for o in counted | registered})

    def recent_choices(self, decisions: int) -> dict[int, int]:
        with self._errors():
            latest = self._r.lrange(f"{self._p}:recent", 0, decisions - 1) if decisions > 0 else []
        counts: dict[int, int] = {}
        for offer_id in map(int, latest):
            counts[offer_id] = counts.get(offer_id, 0) + 1
        return counts

    def put_offer(self, offer: Offer) -> Offer:
        with self._errors():
            self._r.sadd(f"{self._p}:registry", offer.offer_id)  # first: get_offers skips ids without an entry
        stored = self._write_offer(offer)
        assert stored is not None, "a put expects no entry in particular"
        return stored

    def patch_offer(self, offer_id: int, changes: Mapping[str, object], at: float) -> Offer | None:
        # read, merge, then write if the entry is still the one read (compare-and-set in the
        # script): a concurrent change of another field is read again and kept, never lost
        for attempt in range(POSTBACK_RETRIES):
            if attempt:  # lost a race: step aside a moment (jittered) rather than in lockstep
                time.sleep(random.uniform(0, min(0.005, 0.0005 * attempt)))
            with self._errors():
                entry, capped_until = self._r.hmget(self._offer(offer_id), ["reg", "capped_until"])
            if entry is None:
                return None
            current = _offer(offer_id, entry, capped_until)
            new = patched(current, changes, at)
            if new is None:
                return current
            stored = self._write_offer(new, expected=entry)
            if stored is not None:
                return stored
        raise StoreUnavailable(f"the registry entry of offer {offer_id} kept changing; retry the change")

    def _write_offer(self, offer: Offer, expected: bytes | None = None) -> Offer | None:
        """Write a registry entry (if it still holds ``expected``, when given); the entry
        with its capped_until, or None when it did not hold it."""
        entry = {k: v for k, v in asdict(offer).items() if k not in ("offer_id", "capped_until")}
        args: list[object] = [
            json.dumps(entry, separators=(",", ":")),
            -1 if offer.payout_micros is None else offer.payout_micros,
            status_code(offer),
            *_period_args(offer, offer.updated_at),
        ]
        if expected is not None:
            args.append(expected)
        with self._errors():
            capped_until = self._put_offer(keys=[self._offer(offer.offer_id)], args=args)
        return None if capped_until is None else replace(offer, capped_until=float(capped_until))

    def get_offers(self, offer_ids: Sequence[int] | None = None) -> list[Offer]:
        with self._errors():
            registered = sorted(int(o) for o in self._r.smembers(f"{self._p}:registry"))
            wanted = registered if offer_ids is None else sorted(set(offer_ids) & set(registered))
            pipe = self._r.pipeline(transaction=False)
            for offer_id in wanted:
                pipe.hmget(self._offer(offer_id), ["reg", "capped_until"])
            rows = pipe.execute() if wanted else []
        return [_offer(offer_id, *row) for offer_id, row in zip(wanted, rows) if row[0] is not None]

    def find_click(self, click_id: str) -> ClickRecord | None:
        decision = self._find_decision(click_id)
        if decision is None:
            return None
        with self._errors():
            record = self._r.hgetall(self._click(decision.offer_id, click_id))
        conversions = sorted(_conversions(record, click_id), key=lambda c: (c.created_at, c.transaction_id))
        return ClickRecord(decision, _totals(record), record.get(b"exp") == b"1", conversions)

    def reset(self) -> None:
        with self._errors():
            if self._cluster:
                for node in self._r.get_primaries():
                    self._delete(self._r.get_redis_connection(node))
            else:
                self._delete(self._r)

    def close(self) -> None:
        self._r.close()

    # --- plumbing ------------------------------------------------------------------------------

    def _delete(self, node: redis.Redis) -> None:
        batch: list[bytes] = []
        for key in node.scan_iter(match=f"{self._p}:*", count=1000):
            batch.append(key)
            if len(batch) == 500:
                _unlink_each(node, batch)
                batch = []
        _unlink_each(node, batch)

    def _known(self, click_id: str) -> Decision:
        decision = self._find_decision(click_id)
        if decision is None:
            raise UnknownClick(f"unknown click_id {click_id!r}: no decision was recorded for it")
        return decision

    def _registry_entry(self, offer_id: int) -> Offer | None:
        entry, capped_until = self._r.hmget(self._offer(offer_id), ["reg", "capped_until"])
        return None if entry is None else _offer(offer_id, entry, capped_until)

    def _write_postback(
        self, decision: Decision, version: str, result: PostbackResult, offer: Offer | None, at: float
    ) -> bool:
        """Write what the postback changed, if the click is still as it was read; a
        duplicate or refusal writes nothing but must also have been judged on current data."""
        if not result.changed:
            with self._errors():
                current = self._r.hget(self._click(decision.offer_id, decision.click_id), "ver")
            return (current or b"0").decode() == version
        t = result.totals
        rows = [arg for c in result.writes for arg in (c.transaction_id, _encode_conversion(c))]
        periods = _period_args(offer or Offer(decision.offer_id), at) if result.uses_cap else [0]
        with self._errors():
            applied = self._postback(
                keys=self._keys(decision),
                args=[
                    *self._args(decision),
                    version,
                    "" if t.reward_micros is None else t.reward_micros,
                    t.conversions,
                    t.pending_conversions,
                    t.pending_reward_micros,
                    len(result.writes),
                    *rows,
                    *periods,
                ],
            )
        return applied == 1

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterDownError) as exc:
            raise StoreUnavailable(f"store unavailable: {type(exc).__name__}: {exc}") from exc
        except redis.ResponseError as exc:
            if "LOADING" in str(exc) or "TRYAGAIN" in str(exc) or "CLUSTERDOWN" in str(exc):
                raise StoreUnavailable(f"store unavailable: {exc}") from exc
            raise


def _unlink_each(node: redis.Redis, keys: list[bytes]) -> None:
    pipe = node.pipeline(transaction=False)
    for key in keys:
        pipe.unlink(key)
    pipe.execute()


def _encode(decision: Decision, logged: bool = False) -> str | bytes:
    """A decision as JSON: the click index's copy, or with its click id and then its
    evidence in binary form the decision log's (JSON text never holds a raw newline)."""
    fields = {"o": decision.offer_id, "s": decision.source, "at": decision.created_at, "p": decision.params,
              "pr": decision.propensity}  # fmt: skip
    if not logged or decision.evidence is None:
        return json.dumps(fields, separators=(",", ":"))
    fields["c"] = decision.click_id
    return b"\n".join((json.dumps(fields, separators=(",", ":")).encode(), decision.evidence.to_bytes()))


def _decision(click_id: str, encoded: bytes) -> Decision:
    d = json.loads(encoded)
    return Decision(click_id, d["o"], d["s"], d["at"], d["p"], d["pr"])


def _logged(entry: bytes) -> Decision:
    encoded, binary, evidence = entry.partition(b"\n")
    d = json.loads(encoded)
    return replace(
        _decision(d["c"], encoded), evidence=Evidence.from_bytes(evidence) if binary else Evidence.from_json(d["e"])
    )


def _offer(offer_id: int, entry: bytes, capped_until: bytes | None) -> Offer:
    return Offer(offer_id, **json.loads(entry), capped_until=float(capped_until or 0))


def _totals(record: dict[bytes, bytes]) -> ClickTotals:
    def number(field: bytes) -> int:
        return int(record.get(field, b"0"))

    reward = record.get(b"reward")
    return ClickTotals(
        None if reward is None else int(reward), number(b"conv"), number(b"pconv"), number(b"preward")
    )


def _encode_conversion(c: Conversion) -> str:
    return json.dumps(
        [c.offer_id, str(c.status), c.raw_status, c.payout_micros, c.event, c.created_at, c.updated_at],
        separators=(",", ":"),
    )


def _conversions(record: dict[bytes, bytes], click_id: str) -> list[Conversion]:
    found = []
    for field, value in record.items():
        if field.startswith(b"t:"):
            offer_id, status, raw, payout, event, created, updated = json.loads(value)
            found.append(
                Conversion(click_id, field[2:].decode(), offer_id, Status(status), raw, payout, event, created, updated)
            )
    return found


def _period_args(offer: Offer, at: float) -> list[object]:
    periods = caps.periods(offer, at)
    args: list[object] = [len(periods)]
    for period in periods:
        args += [period.key, "" if period.cap is None else period.cap, int(period.ends_at)]
    return args
