"""Identifier and money parsers, property-tested: what they accept round-trips exactly."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpa_bandit.ids import (
    CLICK_ID_PATTERN,
    MAX_OFFER_ID,
    InvalidId,
    click_id_json,
    parse_offer_ids,
)
from cpa_bandit.money import MAX_AMOUNT, InvalidAmount, from_micros, to_micros

offer_ids = st.integers(min_value=0, max_value=MAX_OFFER_ID)


@given(st.lists(offer_ids, min_size=1, max_size=50))
def test_offer_id_lists_round_trip_without_duplicates(ids: list[int]) -> None:
    parsed = parse_offer_ids(",".join(map(str, ids)), limit=50)
    assert parsed == list(dict.fromkeys(ids))


@given(st.text(max_size=30))
def test_offer_id_lists_accept_only_integers_in_range(text: str) -> None:
    try:
        parsed = parse_offer_ids(text, limit=1000)
    except InvalidId as exc:
        assert str(exc)
        return
    assert parsed and all(0 <= i <= MAX_OFFER_ID for i in parsed)
    assert all(re.fullmatch(r"\s*[0-9]+\s*", part) for part in text.split(","))


def test_offer_id_limit_is_checked_before_parsing() -> None:
    with pytest.raises(InvalidId, match="at most 3"):
        parse_offer_ids("1,2,3,x", limit=3)


@given(st.from_regex(CLICK_ID_PATTERN, fullmatch=True))
def test_integer_click_ids_become_json_integers(click_id: str) -> None:
    as_json = click_id_json(click_id)
    if isinstance(as_json, int):
        assert str(as_json) == click_id, "only canonical integers are converted"
        assert -(2**63) <= as_json < 2**63
    else:
        assert as_json == click_id


@pytest.mark.parametrize(("click_id", "expected"), [("0", 0), ("-0", "-0"), ("007", "007"), ("-12", -12), (str(2**63), str(2**63)), (str(2**63 - 1), 2**63 - 1)])
def test_click_ids_answered_as_integers_map_back_to_one_click(click_id: str, expected) -> None:
    assert click_id_json(click_id) == expected and type(click_id_json(click_id)) is type(expected)


@pytest.mark.parametrize("bad", ["", "a b", "{subid}", "[clickid]", "%7Bsubid%7D", "x" * 65, "é"])
def test_bad_click_ids_do_not_match_the_pattern(bad: str) -> None:
    assert not re.match(CLICK_ID_PATTERN, bad)


@given(st.decimals(min_value=0, max_value=MAX_AMOUNT, places=6, allow_nan=False, allow_infinity=False))
def test_micro_amounts_are_exact(amount: Decimal) -> None:
    micros = to_micros(str(amount))
    assert micros == int(amount * 1_000_000)
    assert from_micros(micros) == float(amount)


@given(st.one_of(st.floats(max_value=-1e-300), st.just(math.nan), st.just(math.inf), st.floats(min_value=MAX_AMOUNT * 1.0001)))
def test_bad_amounts_are_refused(amount: float) -> None:
    with pytest.raises(InvalidAmount):
        to_micros(amount)
