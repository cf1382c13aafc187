"""One writer per worker: the writes of concurrent requests committed together.

Each decision and each feedback is a write to the store; on SQLite a transaction of its own
costs a commit (a write of the WAL frames its pages touched) per request, and the same few
counter pages are written again and again. Here the requests of one turn of the event loop
queue their writes, and the writer runs them in one ``Store.batch`` (one transaction) after
the loop has served every request at hand, or once ``max_operations`` are queued, or after
``window_s`` when one is set. Every request is answered after *its* batch committed:
acknowledged still means durable, and ``kill -9`` during a batch loses only requests that
were not answered.

Each operation keeps its own result: a refusal (an unknown click, a conflict) is that
request's answer and does not disturb the others. When the store itself fails inside a
batch (disk full, I/O error), nothing of the batch is assumed kept and its operations run
again one by one, each getting its own answer. When another process holds SQLite's lock,
the batch waits for it in a thread, without stalling the event loop.

A store across the network (Redis) commits every batch in a thread (``in_thread``): the
event loop goes on parsing and deciding the next requests while the batch waits for its
round trips, instead of idling through them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from ..domain import Decision, StoreBusy, StoreUnavailable
from ..store import Store

T = TypeVar("T")

@dataclass(frozen=True, slots=True)
class _Write:
    operation: Callable[..., Any]
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    decision: Decision | None
    """The decision the operation records, if it records one (``Store.batch``)."""


class GroupCommit:
    def __init__(self, store: Store, max_operations: int = 256, window_s: float = 0.0, in_thread: bool = False) -> None:
        self._store = store
        self._max = max(1, max_operations)
        self._window_s = window_s
        self._in_thread = in_thread
        self._queued: list[_Write] = []
        self._flush_at: asyncio.Handle | None = None
        self._threads: set[asyncio.Task[None]] = set()  # referenced until done

    async def run(self, operation: Callable[..., T], *args: Any, recording: Decision | None = None) -> T:
        """``operation(*args)`` in the next batch; its result (or exception) once committed.
        ``recording``: the decision the operation records, so that the store may record the
        batch's decisions together."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queued.append(_Write(operation, args, future, recording))
        if len(self._queued) >= self._max:
            self._flush()
        elif self._flush_at is None:
            self._flush_at = loop.call_later(self._window_s, self._flush) if self._window_s > 0 else loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        writes, self._queued = self._queued, []
        if not writes:
            return
        if self._in_thread:
            self._spawn(self._in_a_thread(writes))
            return
        try:
            results = _commit(self._store, writes)
        except StoreBusy:  # another process holds the lock: wait for it off the event loop
            self._spawn(self._in_a_thread(writes))
            return
        except StoreUnavailable:  # each write alone, on the connection that failed
            results = [_outcome(write) for write in writes]
        busy = [not ok and isinstance(value, StoreBusy) for ok, value in results]
        if any(busy):  # alone, a write found another process's lock: it waits off the loop
            self._spawn(self._in_a_thread([w for w, b in zip(writes, busy) if b]))
        _answer([w for w, b in zip(writes, busy) if not b], [r for r, b in zip(results, busy) if not b])

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._threads.add(task)
        task.add_done_callback(self._threads.discard)

    async def _in_a_thread(self, writes: list[_Write]) -> None:
        """Off the event loop, where a write may wait for another process's lock or for the
        network: the batch, or if the store fails in it, each write alone, with its own
        answer."""
        try:
            results = await asyncio.to_thread(_commit, self._store, writes)
        except StoreUnavailable:
            results = await asyncio.to_thread(lambda: [_outcome(write) for write in writes])
        _answer(writes, results)


def _commit(store: Store, writes: list[_Write]) -> list[tuple[bool, Any]]:
    """Every write in one batch; raises if the store failed in it (then nothing is kept)."""
    with store.batch([write.decision for write in writes if write.decision is not None]):
        results = [_outcome(write) for write in writes]
        for ok, value in results:
            if not ok and isinstance(value, StoreUnavailable):  # StoreBusy too
                raise value
    return results


def _outcome(write: _Write) -> tuple[bool, Any]:
    try:
        return True, write.operation(*write.args)
    except Exception as exc:  # the request's own answer, raised to it alone
        return False, exc


def _answer(writes: list[_Write], results: list[tuple[bool, Any]]) -> None:
    for future, (ok, value) in zip((write.future for write in writes), results):
        if future.done():  # the request was cancelled (client gone): its write stands
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
