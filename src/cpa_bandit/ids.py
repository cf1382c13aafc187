"""Identifiers as clients send them: opaque click ids and integer offer ids.

Trackers mint click ids of their own (Keitaro 17–19 alphanumerics, Voluum 26 upper-case…),
so they are strings; the seed's clients send integers and compare answers with integers, so
an id that is a canonical integer is answered as a JSON integer.
"""

from __future__ import annotations

import re

CLICK_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
MAX_OFFER_ID = 2**63 - 1

_CANONICAL_INT = re.compile(r"0|-?[1-9][0-9]{0,18}")
_OFFER_ID = re.compile(r"[0-9]{1,19}")
_OFFER_ID_LIST = re.compile(r"[0-9]{1,19}(?:,[0-9]{1,19})*")


class InvalidId(ValueError):
    """An identifier that breaks its format."""


def click_id_json(click_id: str) -> str | int:
    """The click id as the seed answered it: an integer when it is one (in int64, so that
    it maps back to exactly one click id); anything else, "007" or "-0" included, as sent."""
    if _CANONICAL_INT.fullmatch(click_id) and -MAX_OFFER_ID - 1 <= (value := int(click_id)) <= MAX_OFFER_ID:
        return value
    return click_id


def parse_offer_id(text: str) -> int:
    text = text.strip()
    if not _OFFER_ID.fullmatch(text) or int(text) > MAX_OFFER_ID:
        raise InvalidId(f"offer ids must be integers from 0 to {MAX_OFFER_ID}, got {text[:40]!r}")
    return int(text)


def parse_offer_ids(text: str, limit: int) -> list[int]:
    """Parse "1,2,3" into distinct offer ids, keeping the client's order.

    A repeated id is dropped rather than refused: listing an offer twice must not double
    its chance of being picked. Well-formed lists take one regex match (this is on the path
    of every decision); only a malformed one is parsed part by part to name the bad part.
    """
    if text.count(",") >= limit:
        raise InvalidId(f"at most {limit} offer ids per request, got {text.count(',') + 1}")
    if _OFFER_ID_LIST.fullmatch(text):
        ids = list(dict.fromkeys(map(int, text.split(","))))
        if max(ids) <= MAX_OFFER_ID:
            return ids
    if not text.strip():
        raise InvalidId("offer_ids must list at least one offer id, e.g. offer_ids=1,2,3")
    return list(dict.fromkeys(parse_offer_id(part) for part in text.split(",")))
