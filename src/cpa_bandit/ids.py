"""Identifiers as clients send them: opaque click ids and integer offer ids.

Trackers mint click ids of their own (Keitaro 17–19 alphanumerics, Voluum 26 upper-case…),
so they are strings; the seed's clients send integers and compare answers with integers, so
an id that is a canonical integer is answered as a JSON integer.
"""

from __future__ import annotations

import re

CLICK_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
MAX_OFFER_ID = 2**63 - 1

_CANONICAL_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_OFFER_ID = re.compile(r"[0-9]{1,19}")


class InvalidId(ValueError):
    """An identifier that breaks its format."""


def click_id_json(click_id: str) -> str | int:
    """The click id as the seed answered it: an integer when it is one."""
    return int(click_id) if _CANONICAL_INT.fullmatch(click_id) else click_id


def parse_offer_id(text: str) -> int:
    text = text.strip()
    if not _OFFER_ID.fullmatch(text) or int(text) > MAX_OFFER_ID:
        raise InvalidId(f"offer ids must be integers from 0 to {MAX_OFFER_ID}, got {text[:40]!r}")
    return int(text)


def parse_offer_ids(text: str, limit: int) -> list[int]:
    """Parse "1,2,3" into distinct offer ids, keeping the client's order.

    A repeated id is dropped rather than refused: listing an offer twice must not double
    its chance of being picked.
    """
    parts = text.split(",")
    if len(parts) > limit:
        raise InvalidId(f"at most {limit} offer ids per request, got {len(parts)}")
    if not text.strip():
        raise InvalidId("offer_ids must list at least one offer id, e.g. offer_ids=1,2,3")
    return list(dict.fromkeys(parse_offer_id(part) for part in parts))
