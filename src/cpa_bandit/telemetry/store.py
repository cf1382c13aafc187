"""A store that measures itself: the time of every call and the failures, by operation.

The wrapper delegates by ``__getattr__`` rather than listing the ``Store`` protocol's
methods, so that a method added to the protocol later is measured without a change here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from time import perf_counter
from typing import Any, cast

from ..domain import DomainError, StoreUnavailable
from ..store import Store
from .metrics import Metrics

_OWN = frozenset({"_store", "_metrics"})
_BLOCKS = frozenset({"batch"})
"""Methods that open a block rather than make a call: the operations in it are measured."""


class InstrumentedStore:
    """Times every public method call of ``store`` (failed calls included) in
    ``cpa_bandit_store_duration_seconds`` and counts its failures in
    ``cpa_bandit_store_errors_total`` by exception class: ``StoreUnavailable``, ``StoreBusy``
    (a call on the event loop that found SQLite locked and is retried off the loop) and any
    unexpected exception. The domain's refusals that a store raises (an unknown click, a
    refused postback) are answers, not store failures, and are not counted.

    A method that returns an iterator is timed until it returns it, not while it is consumed.
    """

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        if name in _OWN:  # not set yet (e.g. while copying): never delegate the wrapper's own
            raise AttributeError(name)
        attribute = getattr(self._store, name)
        if name.startswith("_") or name in _BLOCKS or not callable(attribute):
            return attribute
        measured = self._measured(name, attribute)
        # cached on the instance: later calls find it without __getattr__ or a new closure
        setattr(self, name, measured)
        return measured

    def _measured(self, operation: str, method: Callable[..., Any]) -> Callable[..., Any]:
        duration = self._metrics.store_duration.labels(operation)
        errors = self._metrics.store_errors

        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            started = perf_counter()
            try:
                return method(*args, **kwargs)
            except StoreUnavailable as exc:
                errors.labels(operation, type(exc).__name__).inc()
                raise
            except DomainError:
                raise
            except Exception as exc:
                errors.labels(operation, type(exc).__name__).inc()
                raise
            finally:
                duration.observe(perf_counter() - started)

        return call


def instrumented(store: Store, metrics: Metrics) -> Store:
    """``store`` measured into ``metrics``, typed as the protocol it delegates to."""
    return cast(Store, InstrumentedStore(store, metrics))
