"""The Prometheus metrics of one app, and what ``/metrics`` renders.

Every app builds its own :class:`Metrics` with its own ``CollectorRegistry`` (never the
global default one), so that the many apps a test process builds do not collide.

Under ``cpa-bandit serve`` each worker process counts in files of the directory named by
``PROMETHEUS_MULTIPROC_DIR`` (see ``multiprocess.py``) and renders the sum over every
worker's files: whichever worker answers a scrape, the counters are the service's. What the
store already keeps exactly across workers and replicas (pending clicks, postbacks by
outcome) is read from it at scrape time instead (:class:`StoreCollector`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from ..conversions import PostbackResult, Status
from ..domain import Decision, Outcome, StoreUnavailable
from ..money import from_micros
from ..store.base import COUNTER_COLUMNS, OfferRows, Store
from .multiprocess import MULTIPROC_ENV

log = logging.getLogger(__name__)

HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds; a decision takes well under a millisecond, so the default buckets (from 5 ms)
would put nearly every request in the first one."""

STORE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0)
"""Seconds; up to SQLite's 10 s wait for another process's lock."""

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
"""HTTP methods kept as label values; any other is counted as ``OTHER`` (a client can send
any token as a method: each would be a new series)."""

UNROUTED = "unmatched"
"""The route label of a request no route took: an unknown path, or one refused before
routing (oversized query string or headers)."""


class Metrics:
    """The counters and histograms of one app, and the registry ``/metrics`` renders.

    ``multiprocess_dir``: the directory of prometheus-client's multiprocess mode, where this
    process's values go and every process's values are summed from; None in a single
    process (tests), where the values live in this object.
    """

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.registry = CollectorRegistry()
        self._multiprocess_dir = multiprocess_dir
        # In multiprocess mode the values are written to files and collected from there:
        # registering the metrics themselves as well would report this worker's values twice.
        own: CollectorRegistry | None = self.registry
        if multiprocess_dir:
            MultiProcessCollector(self.registry, path=multiprocess_dir)
            own = None
        self.http_requests = Counter(
            "cpa_bandit_http_requests", "HTTP requests by route template, method and status.",
            ("route", "method", "status"), registry=own,
        )  # fmt: skip
        self.http_duration = Histogram(
            "cpa_bandit_http_request_duration_seconds", "Time to serve a whole HTTP request.",
            ("route", "method", "status"), buckets=HTTP_BUCKETS, registry=own,
        )  # fmt: skip
        self._request_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._decision_series: dict[tuple[int, str], Any] = {}
        self.decisions = Counter(
            "cpa_bandit_decisions", "Offers chosen by /sample/, by offer and traffic source (\"\" for none).",
            ("offer", "source"), registry=own,
        )  # fmt: skip
        self.holdout_decisions = Counter(
            "cpa_bandit_holdout_decisions",
            'Decisions in the holdout group (served uniformly at random), by smartlink ("" for /sample/).',
            ("smartlink",), registry=own,
        )  # fmt: skip
        self.redirects = Counter(
            "cpa_bandit_redirects",
            "Answers of /go/ by smartlink and outcome: offer, fallback, nothing (404), head and prefetch (nothing"
            ' recorded), not_found (no such smartlink; smartlink "").',
            ("smartlink", "outcome"), registry=own,
        )  # fmt: skip
        self.degraded_decisions = Counter(
            "cpa_bandit_degraded_decisions",
            'Decisions answered while the store was unreachable ("recorded": false): not stored.',
            registry=own,
        )
        self.conversions = Counter(
            "cpa_bandit_conversions", "Conversions that became approved, by offer.", ("offer",), registry=own
        )
        self.revenue = Counter(
            "cpa_bandit_revenue", "Payout of conversions that became approved, by offer (currency units).",
            ("offer",), registry=own,
        )  # fmt: skip
        self.reversed_conversions = Counter(
            "cpa_bandit_reversed_conversions", "Approved conversions later rejected or charged back, by offer.",
            ("offer",), registry=own,
        )  # fmt: skip
        self.reversed_revenue = Counter(
            "cpa_bandit_reversed_revenue", "Payout of approved conversions taken back, by offer (currency units).",
            ("offer",), registry=own,
        )  # fmt: skip
        self.store_duration = Histogram(
            "cpa_bandit_store_duration_seconds", "Time of store calls, by operation (failed calls included).",
            ("operation",), buckets=STORE_BUCKETS, registry=own,
        )  # fmt: skip
        self.evidence_restarts = Counter(
            "cpa_bandit_evidence_restarts",
            "Offers whose conversion rate changed: the change test restarted their learning evidence.",
            ("offer",), registry=own,
        )  # fmt: skip
        self.store_errors = Counter(
            "cpa_bandit_store_errors", "Store calls that failed, by operation and exception class.",
            ("operation", "error"), registry=own,
        )  # fmt: skip

    @classmethod
    def from_environment(cls) -> Metrics:
        """Multiprocess mode when ``PROMETHEUS_MULTIPROC_DIR`` is set (it was, then, when
        this process first imported prometheus_client, which is what makes values go to files)."""
        return cls(os.environ.get(MULTIPROC_ENV) or None)

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method if method in METHODS else "OTHER", status)
        series = self._request_series.get(key)
        if series is None:  # labels() costs more than the increment: once per series
            labels = (*key[:2], str(status))
            series = (self.http_requests.labels(*labels), self.http_duration.labels(*labels))
            self._request_series[key] = series
        count, duration = series
        count.inc()
        duration.observe(seconds)

    def decided(self, decision: Decision) -> None:
        key = (decision.offer_id, decision.source or "")
        series = self._decision_series.get(key)
        if series is None:  # as for requests: labels() once per (offer, source)
            series = self._decision_series[key] = self.decisions.labels(str(key[0]), key[1])
        series.inc()
        if not decision.recorded:
            self.degraded_decisions.inc()
        if decision.params.get("holdout"):
            self.holdout_decisions.labels(str(decision.params.get("smartlink", ""))).inc()

    def redirected(self, smartlink: str, outcome: str) -> None:
        self.redirects.labels(smartlink, outcome).inc()

    def restarted(self, offer_ids: list[int]) -> None:
        for offer_id in offer_ids:
            self.evidence_restarts.labels(str(offer_id)).inc()

    def feedback(self, outcome: Outcome) -> None:
        """A click newly resolved by ``/feedback/``: a conversion when its reward is positive."""
        if outcome.is_conversion:
            self._approved(outcome.offer_id, outcome.reward_micros)

    def _approved(self, offer_id: int, payout_micros: int) -> None:
        offer = str(offer_id)
        self.conversions.labels(offer).inc()
        self.revenue.labels(offer).inc(from_micros(payout_micros))

    def postback(self, result: PostbackResult) -> None:
        """Count what an applied postback did to approved revenue: a conversion entering
        approved adds its (final) payout; one leaving approved (rejected, charged back) is
        counted apart, since a counter never goes down. Net approved revenue is
        ``cpa_bandit_revenue_total - cpa_bandit_reversed_revenue_total``. A duplicate moved
        nothing; pending conversions are the ``cpa_bandit_pending_conversions`` gauge."""
        if not result.changed:
            return
        conversion = result.conversion
        if conversion.status is Status.approved:
            self._approved(conversion.offer_id, conversion.payout_micros)
        elif result.previous is Status.approved:
            offer = str(conversion.offer_id)
            self.reversed_conversions.labels(offer).inc()
            self.reversed_revenue.labels(offer).inc(from_micros(conversion.payout_micros))

    def render(self) -> bytes:
        """The Prometheus text format of everything registered (reads the store)."""
        return generate_latest(self.registry)

    def close(self) -> None:
        """This process is exiting: clean its files up as multiprocess mode asks (it matters
        for live gauges, none here yet; its counters stay summed, as they must)."""
        if self._multiprocess_dir:
            mark_process_dead(os.getpid(), self._multiprocess_dir)


class StoreCollector:
    """Metrics read from the store at scrape time: exact across workers and replicas, since
    the store's counters are; one read of every offer's counters per scrape.

    A store that does not answer leaves these families out of that scrape (its failure is
    counted in ``cpa_bandit_store_errors_total``) rather than failing the whole scrape."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        try:
            offer_ids = self._store.known_offer_ids()
            offers = self._store.read_offers(offer_ids) if offer_ids else OfferRows.unseen(0)
            postbacks = self._store.postback_counts()
        except StoreUnavailable as exc:
            log.warning("metrics from the store left out of this scrape: %s", exc.detail)
            return
        column = dict(zip(COUNTER_COLUMNS, offers.pooled.sum(axis=0, dtype=np.int64)))
        since = GaugeMetricFamily(
            "cpa_bandit_evidence_since_seconds",
            "Unix time from which each restarted offer's learning evidence counts (store-wide; offers never"
            " restarted are left out).",
            labels=("offer",),
        )
        for offer_id, start in zip(offer_ids, offers.since.tolist()):
            if start > 0:
                since.add_metric((str(offer_id),), start)
        yield since
        yield GaugeMetricFamily(
            "cpa_bandit_pending_clicks",
            "Clicks awaiting feedback within their attribution window, all offers (store-wide).",
            value=int(column["clicks"] - column["resolved"] - column["expired"]),
        )
        yield GaugeMetricFamily(
            "cpa_bandit_pending_conversions",
            "Postback conversions awaiting approval, all offers (store-wide).",
            value=int(column["pending_conversions"]),
        )
        outcomes = CounterMetricFamily(
            "cpa_bandit_postbacks",
            "Postbacks by outcome (applied, duplicate, refused) and refusal reason, since the last reset (store-wide).",
            labels=("outcome", "reason"),
        )
        for key, count in sorted(postbacks.items()):
            outcome, _, reason = key.partition(":")
            outcomes.add_metric((outcome, reason), count)
        yield outcomes
