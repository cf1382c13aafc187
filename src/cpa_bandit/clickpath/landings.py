"""Smartlinks as ``/go/`` reads them: the link and its offers' landing URLs, per worker.

A visitor's redirect needs the smartlink and the URL template of each of its offers: two
store reads before the decision itself. A worker keeps what it read for the decisions'
staleness bound (``CPA_BANDIT_DECISION_CACHE_MS``), so that at volume a redirect costs a
decision; its own registry and smartlink changes drop the copy at once, other workers' show
within the bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..smartlinks import Smartlink
from ..store import Store

MAX_CACHED = 10_000
"""Smartlinks a worker keeps; past that, all are read again."""


@dataclass(frozen=True, slots=True)
class Landing:
    """A smartlink with the landing URL of each of its offers that has one."""

    link: Smartlink
    urls: dict[int, str]

    @property
    def offers(self) -> list[int]:
        """The offers a visitor may be sent to: those with a landing URL, in the link's order."""
        return [offer_id for offer_id in self.link.offers if offer_id in self.urls]


class Landings:
    def __init__(self, store: Store, cache_s: float) -> None:
        self._store = store
        self._cache_s = cache_s
        self._cached: dict[str, tuple[float, Landing | None]] = {}

    def get(self, name: str) -> Landing | None:
        now = time.monotonic()
        if self._cache_s > 0 and (hit := self._cached.get(name)) is not None and now - hit[0] < self._cache_s:
            return hit[1]
        landing = self._read(name)
        if self._cache_s > 0:
            if len(self._cached) >= MAX_CACHED:
                self._cached.clear()
            self._cached[name] = (now, landing)
        return landing

    def forget(self) -> None:
        self._cached.clear()

    def _read(self, name: str) -> Landing | None:
        link = self.link(name)
        if link is None:
            return None
        offers = self._store.get_offers(link.offers)
        return Landing(link, {offer.offer_id: offer.url for offer in offers if offer.url})

    def url_of(self, offer_id: int) -> str | None:
        """An offer's landing URL as the registry holds it now, on or off any smartlink (where
        a retried click goes when its offer has left the link)."""
        offers = self._store.get_offers([offer_id])
        return offers[0].url if offers else None

    # --- the smartlinks' registry ------------------------------------------------------

    def put(self, link: Smartlink) -> Smartlink:
        self._store.put_smartlink(link.name, link.to_json())
        self.forget()
        return link

    def link(self, name: str) -> Smartlink | None:
        spec = self._store.get_smartlink(name)
        return None if spec is None else Smartlink.from_json(spec)

    def links(self) -> list[Smartlink]:
        return [Smartlink.from_json(spec) for spec in self._store.list_smartlinks().values()]

    def delete(self, name: str) -> bool:
        deleted = self._store.delete_smartlink(name)
        self.forget()
        return deleted
