"""Parsers of hostile input, property-tested against exact expectations.

Click ids, offer id lists, postback statuses, aliases, macros and payouts: what is valid is
accepted and comes out exactly as sent (or as documented), what is not is refused with the
documented error and reason, and nothing else is ever raised. Seeded (``derandomize``) and
bounded, so every run checks the same cases, in about ten seconds.
"""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Iterator
from decimal import Decimal

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cpa_bandit.api import create_app
from cpa_bandit.api.seed_routes import FeedbackQuery, SampleQuery
from cpa_bandit.config import Settings
from cpa_bandit.conversions import DEFAULT_TRANSACTION_ID, Status
from cpa_bandit.domain import PostbackRefused
from cpa_bandit.ids import CLICK_ID_PATTERN, MAX_OFFER_ID, InvalidId, click_id_json, parse_offer_ids
from cpa_bandit.money import MAX_AMOUNT
from cpa_bandit.postbacks import (
    DEFAULT_ALIASES,
    DEFAULT_STATUSES,
    FIELDS,
    PostbackFormat,
    parse_postback,
    token_matches,
)

PROPS = settings(derandomize=True, database=None, deadline=None, max_examples=200)
API_PROPS = settings(PROPS, max_examples=60, suppress_health_check=[HealthCheck.too_slow])

FMT = PostbackFormat()
INT64 = (-(2**63), 2**63 - 1)
MICROS = 10**6

CLICK_ALPHABET = string.ascii_letters + string.digits + "._:-"
MACRO_CHARACTERS = "{}[]%$#"
"""Characters that can start or close a tracker macro; kept out of values meant to be no macro."""

REASONS = {
    "ambiguous",
    "unreplaced_macro",
    "missing_click_id",
    "bad_click_id",
    "bad_transaction_id",
    "bad_event",
    "unknown_status",
    "bad_payout",
    "unknown_currency",
}
"""Every reason parse_postback may give (all 422)."""


def aliases_of(field: str, fmt: PostbackFormat = FMT) -> list[str]:
    return sorted(alias for alias, name in fmt.aliases.items() if name == field)


def any_case(text: str) -> st.SearchStrategy[str]:
    """``text`` with each letter in upper or lower case."""
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda upper: "".join(c.upper() if u else c.lower() for c, u in zip(text, upper, strict=True))
    )


def refusal(params: list[tuple[str, str]], fmt: PostbackFormat = FMT) -> PostbackRefused:
    with pytest.raises(PostbackRefused) as caught:
        parse_postback(params, fmt)
    assert caught.value.status_code == 422
    return caught.value


utf8_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)
"""Text that a query string can carry (no lone surrogates)."""
valid_click_ids = st.one_of(
    st.text(alphabet=CLICK_ALPHABET, min_size=1, max_size=64),
    st.from_regex(CLICK_ID_PATTERN, fullmatch=True),
    st.integers(*INT64).map(str),
    st.sampled_from(["0", "-0", "007", "-", ".", "..", "1.5", "1e3", str(2**63), str(-(2**63) - 1), "x" * 64]),
)
bad_characters = st.characters(codec="utf-8", exclude_characters=CLICK_ALPHABET + MACRO_CHARACTERS)
"""Not allowed in a click id, and not part of a macro."""
amounts = st.decimals(min_value=0, max_value=MAX_AMOUNT, places=6)
macro_free_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters=MACRO_CHARACTERS), max_size=40)


# --- click ids ---------------------------------------------------------------------------------


@given(valid_click_ids)
@PROPS
def test_click_ids_answer_as_integers_only_when_they_round_trip(click_id: str) -> None:
    answer = click_id_json(click_id)
    if type(answer) is int:
        assert str(answer) == click_id
        assert INT64[0] <= answer <= INT64[1]
    else:
        assert answer is click_id
        canonical = re.fullmatch(r"0|-?[1-9][0-9]*", click_id)
        assert not canonical or not INT64[0] <= int(click_id) <= INT64[1]


@given(st.integers(*INT64))
@PROPS
def test_int64_click_ids_are_json_integers(n: int) -> None:
    assert click_id_json(str(n)) == n and type(click_id_json(str(n))) is int


@given(
    st.one_of(
        st.integers(min_value=2**63, max_value=10**40).map(str),
        st.integers(max_value=-(2**63) - 1, min_value=-(10**40)).map(str),
        st.tuples(st.integers(1, 5), st.integers(0, 10**18)).map(lambda t: "0" * t[0] + str(t[1])),
        st.integers(0, 10**18).map(lambda n: f"-0{n}"),
        st.just("-0"),
    )
)
@PROPS
def test_non_canonical_or_out_of_range_digits_stay_strings(click_id: str) -> None:
    assert click_id_json(click_id) == click_id and type(click_id_json(click_id)) is str


@given(valid_click_ids)
@PROPS
def test_valid_click_ids_are_accepted_as_sent(click_id: str) -> None:
    sample = SampleQuery.model_validate({"click_id": click_id, "offer_ids": "1"}, context={"max_offers": 10})
    assert sample.click_id == click_id
    assert FeedbackQuery.model_validate({"click_id": click_id, "reward": "0"}).click_id == click_id
    assert parse_postback([("subid", click_id)], FMT).click_id == click_id
    assert parse_postback([("subid", f" {click_id}\t")], FMT).click_id == click_id, "values are trimmed"


click_id_parts = st.text(alphabet=CLICK_ALPHABET, min_size=1, max_size=30)
invalid_click_ids = st.one_of(
    st.text(alphabet=CLICK_ALPHABET, min_size=65, max_size=200).map(lambda s: ("bad_click_id", s)),
    st.tuples(click_id_parts, bad_characters, click_id_parts).map(lambda t: ("bad_click_id", "".join(t))),
    st.sampled_from(["{subid}", "[clickid]", "%7Bsubid%7D", "%7bcid%7d", "$cid$", "#clickid#", "{", "a]"]).map(
        lambda s: ("unreplaced_macro", s)
    ),
    st.sampled_from(["", " ", "\t", "\n "]).map(lambda s: ("missing_click_id", s)),
)


@given(invalid_click_ids)
@example(("bad_click_id", "a b"))
@example(("bad_click_id", "é"))
@example(("bad_click_id", "a\n\x00"))
@PROPS
def test_invalid_click_ids_are_refused(case: tuple[str, str]) -> None:
    reason, click_id = case
    with pytest.raises(ValidationError):
        SampleQuery.model_validate({"click_id": click_id, "offer_ids": "1"}, context={"max_offers": 10})
    with pytest.raises(ValidationError):
        FeedbackQuery.model_validate({"click_id": click_id, "reward": "0"})
    assert refusal([("subid", click_id)]).reason == reason


# --- offer id lists ------------------------------------------------------------------------------

offer_ids = st.integers(min_value=0, max_value=MAX_OFFER_ID)
padding = st.sampled_from(["", " ", "\t", "  "])


def expected_offer_ids(text: str, limit: int) -> list[int] | None:
    """The specification: comma-separated decimal ids in [0, MAX_OFFER_ID], each trimmed, at
    most ``limit`` of them, duplicates dropped in order; None when refused."""
    parts = text.split(",")
    if len(parts) > limit:
        return None
    ids = []
    for part in parts:
        part = part.strip()
        if not re.fullmatch(r"[0-9]{1,19}", part) or int(part) > MAX_OFFER_ID:
            return None
        ids.append(int(part))
    return list(dict.fromkeys(ids))


@given(st.lists(offer_ids, min_size=1, max_size=60), st.integers(1, 60))
@PROPS
def test_offer_id_lists_keep_order_drop_duplicates_and_enforce_the_limit(ids: list[int], limit: int) -> None:
    text = ",".join(map(str, ids))
    if len(ids) > limit:
        with pytest.raises(InvalidId, match=f"at most {limit} offer ids"):
            parse_offer_ids(text, limit)
    else:
        assert parse_offer_ids(text, limit) == list(dict.fromkeys(ids))


@given(st.lists(st.tuples(padding, st.integers(0, 20), padding), min_size=1, max_size=10))
@PROPS
def test_offer_ids_may_be_padded_and_repeated(parts: list[tuple[str, int, str]]) -> None:
    text = ",".join(f"{left}{n}{right}" for left, n, right in parts)
    assert parse_offer_ids(text, 10) == list(dict.fromkeys(n for _, n, _ in parts))


@given(
    st.lists(offer_ids, max_size=5),
    st.one_of(
        st.integers(MAX_OFFER_ID + 1, 10**19 - 1).map(str),  # 19 digits, past int64
        st.integers(10**19, 10**40).map(str),
        st.integers(max_value=-1, min_value=-(10**20)).map(str),
        st.sampled_from(["", " ", "1.0", "1e3", "0x1", "+1", "１", "٣", "1 2", "one", "1;2", "None", "[1]", "\x00"]),
    ),
    st.lists(offer_ids, max_size=5),
)
@PROPS
def test_out_of_bounds_or_malformed_ids_refuse_the_whole_list(before: list[int], bad: str, after: list[int]) -> None:
    text = ",".join([*map(str, before), bad, *map(str, after)])
    with pytest.raises(InvalidId):
        parse_offer_ids(text, 100)


@given(
    st.text(alphabet=st.sampled_from("0123456789, -+.\t\n٣１x"), max_size=40) | st.text(max_size=40),
    st.integers(1, 12),
)
@example("", 1)
@example(",", 5)
@example("1,", 5)
@example(str(MAX_OFFER_ID), 1)
@example(str(MAX_OFFER_ID + 1), 1)
@PROPS
def test_garbage_offer_id_lists_raise_invalid_id_and_nothing_else(text: str, limit: int) -> None:
    expected = expected_offer_ids(text, limit)
    try:
        parsed = parse_offer_ids(text, limit)
    except InvalidId as exc:
        assert expected is None, f"{text!r} refused: {exc}"
        assert str(exc)
    else:
        assert parsed == expected


# --- postback statuses -----------------------------------------------------------------------------


@given(st.sampled_from(sorted(DEFAULT_STATUSES)).flatmap(lambda s: st.tuples(st.just(s), any_case(s))), padding)
@PROPS
def test_known_statuses_map_in_any_case(case: tuple[str, str], pad: str) -> None:
    status, sent = case
    parsed = parse_postback([("subid", "c1"), ("status", f"{pad}{sent}{pad}")], FMT)
    assert parsed.status is DEFAULT_STATUSES[status]
    assert parsed.raw_status == sent


@given(
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters=MACRO_CHARACTERS), min_size=1, max_size=40).filter(
        lambda s: s.strip() and s.strip().lower() not in DEFAULT_STATUSES
    )
)
@example("approved!")
@example("APPROVEDD")
@example("0")
@example("pending approved")
@PROPS
def test_unknown_statuses_are_refused(status: str) -> None:
    assert refusal([("subid", "c1"), ("status", status)]).reason == "unknown_status"


@given(
    st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,15}", fullmatch=True).filter(lambda s: s.lower() not in DEFAULT_STATUSES),
    st.sampled_from(list(Status)),
    st.data(),
)
@PROPS
def test_configured_statuses_map_in_any_case(word: str, status: Status, data: st.DataObject) -> None:
    fmt = PostbackFormat.configured(statuses={word: status.value})
    sent = data.draw(any_case(word))
    assert parse_postback([("subid", "c1"), ("cnv_status", sent)], fmt).status is status
    assert refusal([("subid", "c1"), ("cnv_status", sent)]).reason == "unknown_status"  # not by default


def test_a_configured_status_overrides_a_default() -> None:
    fmt = PostbackFormat.configured(statuses={"LEAD": "approved"})
    assert parse_postback([("subid", "c1"), ("status", "Lead")], fmt).status is Status.approved
    assert parse_postback([("subid", "c1"), ("status", "Lead")], FMT).status is Status.pending


# --- postback aliases --------------------------------------------------------------------------------

VALID_VALUES = {
    "click_id": valid_click_ids,
    "transaction_id": st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=MACRO_CHARACTERS),
        min_size=1,
        max_size=128,
    ),
    "event": st.from_regex(r"[a-z_]{1,20}", fullmatch=True),
    "status": st.sampled_from(sorted(DEFAULT_STATUSES)),
    "payout": amounts.map(str),
    "currency": st.sampled_from(["EUR", "gbp", "xyz"]),
}


@given(st.sampled_from(sorted(DEFAULT_ALIASES)), st.data())
@PROPS
def test_every_alias_in_any_case_gives_its_field(alias: str, data: st.DataObject) -> None:
    field = DEFAULT_ALIASES[alias]
    value = data.draw(VALID_VALUES[field])
    name = data.draw(any_case(alias))
    if field == "click_id":
        assert parse_postback([(name, value)], FMT).click_id == value
        return
    params = [("subid", "c1"), (name, value)]
    if field == "currency":  # read with a payout: a currency with no rate refuses it
        assert refusal([*params, ("payout", "2")]).reason == "unknown_currency"
        return
    parsed = parse_postback(params, FMT)
    assert parsed.click_id == "c1"
    if field == "status":
        assert (parsed.raw_status, parsed.status) == (value, DEFAULT_STATUSES[value])
    elif field == "payout":
        assert parsed.payout_micros == int(Decimal(value).scaleb(6))
    else:
        assert getattr(parsed, field) == value


@given(st.sampled_from(aliases_of("click_id")).flatmap(any_case), valid_click_ids)
@PROPS
def test_any_click_id_alias_yields_the_click_id(name: str, click_id: str) -> None:
    parsed = parse_postback([(name, click_id), ("status", "sale")], FMT)
    assert parsed.click_id == click_id
    assert parsed.transaction_id == DEFAULT_TRANSACTION_ID
    assert parsed.status is Status.approved


@given(
    st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True).filter(lambda s: s not in DEFAULT_ALIASES and s != "token"),
    st.data(),
)
@PROPS
def test_configured_aliases_read_their_field_and_empty_ones_are_dropped(name: str, data: st.DataObject) -> None:
    fmt = PostbackFormat.configured(aliases={name: "click_id", "subid": ""})
    click_id = data.draw(valid_click_ids)
    assert parse_postback([(data.draw(any_case(name)), click_id)], fmt).click_id == click_id
    assert refusal([("subid", click_id)], fmt).reason == "missing_click_id"
    assert refusal([(name, click_id)], FMT).reason == "missing_click_id"


def test_the_token_parameter_is_never_an_alias() -> None:
    default_param = PostbackFormat.configured(aliases={"token": "click_id"})
    assert refusal([("token", "c1")], default_param).reason == "missing_click_id"
    own_param = PostbackFormat.configured(aliases={"SECRET": "click_id"}, token_param="Secret")
    assert refusal([("secret", "c1")], own_param).reason == "missing_click_id"
    other_param = PostbackFormat.configured(aliases={"token": "click_id"}, token_param="t")
    assert parse_postback([("token", "c1")], other_param).click_id == "c1"


@given(
    st.sampled_from(FIELDS).flatmap(
        lambda field: st.tuples(st.sampled_from(aliases_of(field)), st.sampled_from(aliases_of(field)))
    ),
    utf8_text.filter(str.strip),
    utf8_text.filter(str.strip),
)
@example(("subid", "cid"), "1", "2")
@example(("payout", "payout"), "1", "1.0")
@PROPS
def test_two_aliases_with_different_values_are_ambiguous(names: tuple[str, str], first: str, second: str) -> None:
    params = [(names[0], first), (names[1], second)]
    if first.strip() != second.strip():
        assert refusal(params).reason == "ambiguous"
    else:
        try:
            parse_postback(params, FMT)
        except PostbackRefused as exc:
            assert exc.reason != "ambiguous"


@given(st.sampled_from(aliases_of("click_id")), st.sampled_from(aliases_of("click_id")), valid_click_ids, padding)
@PROPS
def test_aliases_that_agree_are_not_ambiguous(first: str, second: str, click_id: str, pad: str) -> None:
    assert parse_postback([(first, click_id), (second, f"{pad}{click_id}{pad}")], FMT).click_id == click_id


# --- macros --------------------------------------------------------------------------------------------

word = st.from_regex(r"[A-Za-z0-9_]{1,12}", fullmatch=True)
macros = st.one_of(
    word.map(lambda w: "{" + w + "}"),
    word.map(lambda w: "[" + w + "]"),
    st.tuples(any_case("%7B"), word, any_case("%7D")).map("".join),
    st.tuples(any_case("%5B"), word, any_case("%5D")).map("".join),
    word.map(lambda w: f"${w}$"),
    word.map(lambda w: f"#{w}#"),
    st.sampled_from(["{", "}", "[", "]", "{{subid}}"]),
)


@given(st.sampled_from(sorted(DEFAULT_ALIASES)), macro_free_text, macros, macro_free_text)
@example("subid", "", "{subid}", "")
@example("payout", "", "{payout}", "")
@example("status", "", "%7Bstatus%7D", "")
@example("cid", "", "[clickid]", "")
@PROPS
def test_unreplaced_macros_are_refused_naming_the_field(alias: str, before: str, macro: str, after: str) -> None:
    field = DEFAULT_ALIASES[alias]
    params = [(alias, before + macro + after)]
    if field != "click_id":
        params.insert(0, ("subid", "c1"))
    refused = refusal(params)
    assert refused.reason == "unreplaced_macro"
    assert refused.extra["field"] == field


# --- payouts -------------------------------------------------------------------------------------------

@given(amounts, st.sampled_from(["{}", "{:f}", " {:f} ", "+{:f}", "{:e}", "{:E}"]))
@example(Decimal("0"), "{}")
@example(Decimal(MAX_AMOUNT), "{:f}")
@example(Decimal("0.000001"), "{:e}")
@example(Decimal("999999999.999999"), "{:f}")
@PROPS
def test_payouts_in_range_are_accepted_exactly(amount: Decimal, form: str) -> None:
    text = form.format(amount)  # a Decimal's 'e' format keeps every digit
    parsed = parse_postback([("subid", "c1"), ("payout", text)], FMT)
    assert parsed.payout_micros == int(amount.scaleb(6)), text


@given(st.integers(0, MAX_AMOUNT))
@PROPS
def test_whole_payouts_are_exact(amount: int) -> None:
    assert parse_postback([("subid", "c1"), ("sum", str(amount))], FMT).payout_micros == amount * MICROS


@given(
    st.one_of(
        st.decimals(max_value=Decimal("-0.000001"), min_value=-(10**12), places=6).map(str),
        st.decimals(min_value=MAX_AMOUNT + Decimal("0.001"), max_value=10**30, places=3).map(str),
        st.sampled_from(["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "+INF", "1e309", "-1e309", "1e10"]),
        st.from_regex(r"[A-Za-z]{1,10}", fullmatch=True).filter(lambda w: w.lower() not in {"nan", "inf", "infinity"}),
        st.sampled_from(["1,5", "1.2.3", "0x10", "1 000", "12 USD", "$12", "€12", "½", "--1", "1e", "."]),
    )
)
@PROPS
def test_other_payouts_are_refused(payout: str) -> None:
    assert refusal([("subid", "c1"), ("payout", payout)]).reason == "bad_payout"


def test_blank_payouts_are_absent() -> None:
    assert parse_postback([("subid", "c1"), ("payout", "  ")], FMT).payout_micros is None
    assert parse_postback([("subid", "c1")], FMT).payout_micros is None


@given(amounts, any_case("usd"))
@PROPS
def test_payouts_in_the_service_currency_in_any_case_are_kept(amount: Decimal, currency: str) -> None:
    parsed = parse_postback([("subid", "c1"), ("payout", str(amount)), ("currency", currency)], FMT)
    assert parsed.payout_micros == int(amount.scaleb(6))


@given(st.decimals(min_value=0, max_value=MAX_AMOUNT // 2, places=6), st.from_regex(r"[A-Za-z]{3}", fullmatch=True))
@PROPS
def test_other_currencies_are_converted_by_their_rate_or_refused(amount: Decimal, currency: str) -> None:
    params = [("subid", "c1"), ("payout", str(amount)), ("cur", currency)]
    if currency.upper() == "USD":
        assert parse_postback(params, FMT).payout_micros == int(amount.scaleb(6))
        return
    assert refusal(params).reason == "unknown_currency"
    fmt = PostbackFormat.configured(rates={currency.lower(): 2})
    assert parse_postback(params, fmt).payout_micros == 2 * int(amount.scaleb(6))


@given(st.decimals(min_value=MAX_AMOUNT // 2 + Decimal("0.000001"), max_value=MAX_AMOUNT, places=6))
@PROPS
def test_a_converted_payout_past_the_maximum_is_refused(amount: Decimal) -> None:
    fmt = PostbackFormat.configured(rates={"EUR": 2})
    assert refusal([("subid", "c1"), ("payout", str(amount)), ("cur", "eur")], fmt).reason == "bad_payout"


# --- arbitrary parameters --------------------------------------------------------------------------------

param_names = st.one_of(
    st.sampled_from(sorted(DEFAULT_ALIASES)).flatmap(any_case),
    st.sampled_from(["token", "offer_id", "", " subid"]),
    st.text(max_size=12),
)
param_values = st.one_of(
    valid_click_ids,
    st.sampled_from(sorted(DEFAULT_STATUSES)),
    amounts.map(str),
    macros,
    st.text(max_size=70),
)


def first_value(params: list[tuple[str, str]], field: str) -> str | None:
    return next((v.strip() for n, v in params if FMT.aliases.get(n.lower()) == field and v.strip()), None)


@given(st.lists(st.tuples(param_names, param_values), max_size=8))
@example([("subid", "1001"), ("status", "sale"), ("payout", "3.5"), ("tid", "t-1"), ("goal", "dep")])
@example([("SUBID", "x"), ("subid", "x"), ("STATUS", "Lead")])
@settings(PROPS, max_examples=500)
def test_arbitrary_parameters_parse_or_are_refused_with_a_reason(params: list[tuple[str, str]]) -> None:
    try:
        parsed = parse_postback(params, FMT)
    except PostbackRefused as exc:
        assert exc.status_code == 422
        assert exc.reason in REASONS
        assert exc.detail
        return
    assert parsed.click_id == first_value(params, "click_id")
    assert re.fullmatch(CLICK_ID_PATTERN, parsed.click_id)
    assert parsed.transaction_id == (first_value(params, "transaction_id") or DEFAULT_TRANSACTION_ID)
    assert parsed.event == first_value(params, "event")
    raw = first_value(params, "status")
    assert parsed.raw_status == raw
    assert parsed.status is (Status.approved if raw is None else DEFAULT_STATUSES[raw.lower()])
    assert (parsed.payout_micros is None) == (first_value(params, "payout") is None)
    assert parsed.payout_micros is None or 0 <= parsed.payout_micros <= MAX_AMOUNT * MICROS


@given(st.lists(st.tuples(param_names, st.text(max_size=30) | st.just("s3cr3t-token-value")), max_size=6))
@example([("TOKEN", "s3cr3t-token-value")])
@example([("token", ""), ("token", "s3cr3t-token-value")])
@PROPS
def test_the_token_is_the_first_token_parameter_exactly(params: list[tuple[str, str]]) -> None:
    given_token = next((value for name, value in params if name.lower() == "token"), "")
    fmt = PostbackFormat.configured(token="s3cr3t-token-value")
    assert token_matches(params, fmt) is (given_token == "s3cr3t-token-value")
    assert token_matches(params, FMT) is None, "no token configured: nothing to match"


@given(st.text(max_size=20).filter(lambda s: s not in FIELDS and s != ""))
@PROPS
def test_aliases_to_unknown_fields_are_a_configuration_error(field: str) -> None:
    with pytest.raises(ValueError, match="postback alias"):
        PostbackFormat.configured(aliases={"x": field})


# --- the same through the API ------------------------------------------------------------------------------


def _client() -> Iterator[TestClient]:
    settings_ = Settings(store="memory://", admin_key="props-admin-key-0123456789", max_offers=50)
    with TestClient(create_app(settings_, rng=np.random.default_rng(0))) as client:
        yield client


api = pytest.fixture(scope="module")(_client)
lists_api = pytest.fixture(scope="module")(_client)
"""Its own app: the click ids it decides must not meet the generated ones."""


@given(valid_click_ids)
@API_PROPS
def test_the_api_answers_valid_click_ids_as_sent(api: TestClient, click_id: str) -> None:
    sampled = api.get("/sample/", params={"click_id": click_id, "offer_ids": "1"})
    assert sampled.status_code == 200, sampled.text
    assert sampled.json() == {"click_id": click_id_json(click_id), "offer_id": 1}
    converted = api.get("/postback", params={"subid": click_id, "status": "lead"})
    assert converted.status_code == 200, converted.text
    assert converted.json()["click_id"] == click_id_json(click_id)
    assert converted.json()["conversion_status"] == "pending"


@given(invalid_click_ids)
@API_PROPS
def test_the_api_refuses_invalid_click_ids(api: TestClient, case: tuple[str, str]) -> None:
    reason, click_id = case
    sampled = api.get("/sample/", params={"click_id": click_id, "offer_ids": "1"})
    assert sampled.status_code == 422
    assert [error["loc"] for error in sampled.json()["detail"]] == [["query", "click_id"]]
    converted = api.get("/postback", params={"subid": click_id})
    assert converted.status_code == 422
    assert converted.json()["reason"] == reason


_fresh = (f"p{n}" for n in itertools.count())


@given(st.text(alphabet=st.sampled_from("0123456789, x"), max_size=30) | utf8_text)
@example(",".join(map(str, range(50))))
@example(",".join(map(str, range(51))))
@API_PROPS
def test_the_api_takes_the_offer_id_lists_the_parser_takes(lists_api: TestClient, text: str) -> None:
    expected = expected_offer_ids(text, 50)
    sampled = lists_api.get("/sample/", params={"click_id": next(_fresh), "offer_ids": text})
    listed = lists_api.get("/stats/", params={"offer_ids": text})
    if expected is None:
        assert (sampled.status_code, listed.status_code) == (422, 422)
        assert [error["loc"] for error in sampled.json()["detail"]] == [["query", "offer_ids"]]
        assert [error["loc"] for error in listed.json()["detail"]] == [["query", "offer_ids"]]
    else:
        assert (sampled.status_code, listed.status_code) == (200, 200), (sampled.text, listed.text)
        assert sampled.json()["offer_id"] in expected
        assert [row["offer_id"] for row in listed.json()["offers"]] == expected
