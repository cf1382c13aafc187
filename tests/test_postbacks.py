"""Tracker postbacks over HTTP: each listed tracker's documented template, the refusals, the
token, forms and currencies, and how postbacks meet the seed's /feedback/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cpa_bandit.api import create_app
from cpa_bandit.config import Settings
from cpa_bandit.conversions import Status
from cpa_bandit.domain import PostbackRefused
from cpa_bandit.postbacks import PostbackFormat, parse_postback

ADMIN = {"X-Admin-Key": "test-admin-key-0123456"}

# The templates as shared/cpa-conventions.md documents them, macros replaced by values.
TRACKER_TEMPLATES = {
    "keitaro": ("GET", "/postback?subid={click}&payout=21.0&status=confirmed&tid=52949935", 21.0),
    "binom": ("GET", "/click.php?cnv_id={click}&payout=12.5&cnv_status=approved", 12.5),
    "voluum": ("GET", "/postback?cid={click}&payout=3.2&txid=abc", 3.2),
    "bemob": ("GET", "/postback?cid={click}&payout=10&status=approved&txid=1", 10.0),
    "redtrack": ("GET", "/postback?clickid={click}&sum=7&type=Purchase", 7.0),
    "affise": ("GET", "/postback?clickid={click}&sum=4&status=1&action_id=99", 4.0),
    "everflow": ("GET", "/postback?transaction_id={click}&amount=9.99&conversion_id=ef-77", 9.99),
}

# Trackers' own click ids: Keitaro 17-19 lower-case alphanumerics, Voluum 26 upper-case,
# Affise 24 characters, Everflow 32 hex, BeMob 22.
CLICK_IDS = {
    "keitaro": "4bq0k7nx2m9c5t1ps3",
    "binom": "1000123",
    "voluum": "AB12CD34EF56GH78IJ90KL12MN",
    "bemob": "bm0123456789abcdefghij",
    "redtrack": "65f1c0ffee0123456789abcd",
    "affise": "5f8e3a2b1c0d9e8f7a6b5c4d",
    "everflow": "0123456789abcdef0123456789abcdef",
}


def sample(client: TestClient, click_id: str, offer_ids: str = "1") -> int:
    response = client.get("/sample/", params={"click_id": click_id, "offer_ids": offer_ids})
    assert response.status_code == 200, response.text
    return response.json()["offer_id"]


def stats(client: TestClient, offer_id: int = 1) -> dict:
    (row,) = client.get("/stats/", params={"offer_ids": str(offer_id)}).json()["offers"]
    return row


def refusals(client: TestClient) -> dict[str, int]:
    return client.get("/postbacks/stats").json()["refused"]


@pytest.mark.parametrize("tracker", sorted(TRACKER_TEMPLATES))
def test_each_trackers_template_counts_one_conversion(client: TestClient, tracker: str) -> None:
    method, template, payout = TRACKER_TEMPLATES[tracker]
    click_id = CLICK_IDS[tracker]
    sample(client, click_id)
    url = template.format(click=click_id)
    first = client.request(method, url)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["offer_id"], body["conversion_status"], body["duplicate"], body["payout"]) == (1, "approved", False, payout)
    again = client.request(method, url)  # networks retry
    assert again.status_code == 200 and again.json()["duplicate"] is True
    row = stats(client)
    assert (row["clicks"], row["resolved"], row["conversions"], row["reward"]) == (1, 1, 1, payout)
    assert client.get("/offer_ids/1/stats/").json() == {
        "offer_id": 1, "clicks": 1, "conversions": 1, "reward": payout, "cr": 1.0, "rpc": payout,
    }  # fmt: skip
    assert client.get("/postbacks/stats").json() == {"applied": 1, "duplicate": 1, "refused": {}}


def test_the_lifecycle_keeps_pending_apart_and_a_reversal_takes_it_back(client: TestClient) -> None:
    sample(client, "k1")
    assert client.get("/postback?subid=k1&payout=30&status=lead&tid=t1").json()["conversion_status"] == "pending"
    row = stats(client)
    assert (row["pending_conversions"], row["pending_reward"], row["conversions"], row["resolved"]) == (1, 30.0, 0, 0)
    assert row["pending"] == 1, "a pending conversion does not resolve its click"
    approved = client.get("/postback?subid=k1&payout=25&status=sale&tid=t1").json()
    assert (approved["previous_status"], approved["payout"]) == ("pending", 25.0)
    row = stats(client)
    assert (row["pending_conversions"], row["pending_reward"], row["conversions"], row["reward"]) == (0, 0.0, 1, 25.0)
    reversed_ = client.get("/postback?subid=k1&status=chargeback&tid=t1").json()
    assert (reversed_["conversion_status"], reversed_["payout"]) == ("chargeback", 25.0)
    row = stats(client)
    assert (row["conversions"], row["reward"], row["resolved"]) == (0, 0.0, 1)
    # a rejected lead is a known outcome too: its click resolves as a non-conversion
    sample(client, "k2")
    client.get("/postback?subid=k2&payout=30&status=lead")
    client.get("/postback?subid=k2&status=trash")
    row = stats(client)
    assert (row["clicks"], row["resolved"], row["pending"], row["pending_conversions"]) == (2, 2, 0, 0)


def test_refusals_change_nothing_and_are_counted_by_reason(client: TestClient) -> None:
    sample(client, "k1")
    client.get("/postback?subid=k1&payout=5&status=rejected")
    cases = {
        "/postback?subid={subid}&payout=5": (422, "unreplaced_macro"),
        "/postback?subid=[clickid]&payout=5": (422, "unreplaced_macro"),
        "/postback?subid=%7Bsubid%7D&payout=5": (422, "unreplaced_macro"),
        "/postback?subid=%257Bsubid%257D&payout=5": (422, "unreplaced_macro"),
        "/postback?subid=k1&payout={payout}": (422, "unreplaced_macro"),
        "/postback?payout=5": (422, "missing_click_id"),
        "/postback?subid=k%201&payout=5": (422, "bad_click_id"),
        "/postback?subid=k1&payout=-1": (422, "bad_payout"),
        "/postback?subid=k1&payout=nan": (422, "bad_payout"),
        "/postback?subid=k1&payout=inf": (422, "bad_payout"),
        "/postback?subid=k1&payout=abc": (422, "bad_payout"),
        "/postback?subid=k1&status=maybe": (422, "unknown_status"),
        "/postback?subid=k1&cid=k2": (422, "ambiguous"),
        "/postback?subid=k1&payout=5&currency=EUR": (422, "unknown_currency"),
        "/postback?subid=nope&payout=5": (404, "unknown_click"),
        "/postback?subid=k1&status=approved": (409, "disallowed_move"),  # rejected is final
    }
    before = stats(client)
    for url, (status_code, reason) in cases.items():
        response = client.get(url)
        assert (response.status_code, response.json().get("reason")) == (status_code, reason), url
        assert response.json()["detail"], url
    assert stats(client) == before
    expected: dict[str, int] = {}
    for _, reason in cases.values():
        expected[reason] = expected.get(reason, 0) + 1
    assert refusals(client) == expected


def test_a_second_conversion_needs_an_offer_that_allows_several(client: TestClient) -> None:
    sample(client, "k1")
    assert client.get("/postback?subid=k1&payout=10&tid=a").status_code == 200
    refused = client.get("/postback?subid=k1&payout=4&status=rebill&tid=b")
    assert (refused.status_code, refused.json()["reason"]) == (409, "multiple_conversions")
    assert client.put("/offers/1", json={"multiple_conversions": True}, headers=ADMIN).status_code == 200
    assert client.get("/postback?subid=k1&payout=4&status=rebill&tid=b").status_code == 200
    row = stats(client)
    assert (row["clicks"], row["resolved"], row["conversions"], row["reward"]) == (1, 1, 2, 14.0)


def test_a_postback_without_payout_takes_the_declared_one(client: TestClient) -> None:
    client.put("/offers/1", json={"payout": 12.0}, headers=ADMIN)
    sample(client, "k1")
    sample(client, "k2", "2")
    assert client.get("/postback?subid=k1").json()["payout"] == 12.0
    assert client.get("/postback?subid=k2").json()["payout"] == 0.0  # offer 2 declares none


def test_feedback_and_postbacks_on_one_click(client: TestClient) -> None:
    sample(client, "f1")
    assert client.put("/feedback/", params={"click_id": "f1", "reward": 8}).status_code == 200
    # the tracker reports the same conversion: a duplicate; then reverses it
    assert client.get("/postback?subid=f1&payout=8").json()["duplicate"] is True
    assert client.get("/postback?subid=f1&status=rejected").json()["previous_status"] == "approved"
    assert (stats(client)["conversions"], stats(client)["reward"]) == (0, 0.0)
    replay = client.put("/feedback/", params={"click_id": "f1", "reward": 8})
    assert replay.status_code == 409 and replay.json()["reward"] == 0.0
    sample(client, "f2")
    client.get("/postback?subid=f2&status=lead&payout=3")
    refused = client.put("/feedback/", params={"click_id": "f2", "reward": 3})
    assert refused.status_code == 409 and "postback" in refused.json()["detail"]


def test_post_forms_are_postbacks_too(client: TestClient) -> None:
    sample(client, "k1")
    response = client.post("/postback", data={"subid": "k1", "payout": "6.5", "status": "sale"})
    assert response.status_code == 200 and response.json()["payout"] == 6.5
    wrong = client.post("/postback", content=b'{"subid": "k1"}', headers={"content-type": "application/json"})
    assert (wrong.status_code, wrong.json()["reason"]) == (415, "bad_form")


def test_a_configured_token_is_required(tmp_path: Path) -> None:
    settings = Settings(
        store=f"sqlite:///{tmp_path}/t.db",
        postback_token="s3cret",
        postback_token_param="secure",
        currency="usd",
        currency_rates={"EUR": 1.1},
    )
    with TestClient(create_app(settings, rng=np.random.default_rng(0))) as client:
        sample(client, "k1")
        for url in ("/postback?subid=k1&payout=5", "/postback?subid=k1&payout=5&secure=wrong"):
            response = client.get(url)
            assert (response.status_code, response.json()["reason"]) == (403, "bad_token")
        assert stats(client)["conversions"] == 0
        ok = client.get("/postback?subid=k1&payout=5&currency=eur&secure=s3cret")
        assert ok.status_code == 200 and ok.json()["payout"] == 5.5
        assert refusals(client) == {"bad_token": 2}


def test_clashing_aliases_are_configured_not_guessed() -> None:
    default = parse_postback([("tid", "77"), ("subid", "k1")], PostbackFormat.configured())
    assert (default.click_id, default.transaction_id) == ("k1", "77")  # Keitaro's meaning
    offer18 = PostbackFormat.configured(aliases={"tid": "click_id"})
    assert parse_postback([("tid", "k9")], offer18).click_id == "k9"
    statuses = PostbackFormat.configured(statuses={"Paid_Out": "approved", "lead": "approved"})
    assert parse_postback([("subid", "k1"), ("status", "PAID_OUT")], statuses).status is Status.approved
    assert parse_postback([("subid", "k1"), ("status", "lead")], statuses).status is Status.approved
    with pytest.raises(ValueError, match="fields are"):
        PostbackFormat.configured(aliases={"x": "clicks"})


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("lead", Status.pending), ("sale", Status.approved), ("rejected", Status.rejected), ("trash", Status.rejected),
        ("1", Status.approved), ("2", Status.pending), ("3", Status.rejected), ("5", Status.pending),
        ("confirmed", Status.approved), ("declined", Status.rejected), ("hold", Status.pending),
        ("Chargeback", Status.chargeback), ("reversal", Status.chargeback), (None, Status.approved),
    ],
)  # fmt: skip
def test_documented_statuses_are_normalised(raw: str | None, status: Status) -> None:
    params = [("subid", "k1")] + ([("status", raw)] if raw is not None else [])
    parsed = parse_postback(params, PostbackFormat.configured())
    assert (parsed.status, parsed.raw_status) == (status, raw)


def test_empty_values_are_absent_and_the_transaction_id_defaults() -> None:
    parsed = parse_postback([("subid", "k1"), ("payout", ""), ("tid", " "), ("token", "x")], PostbackFormat.configured())
    assert (parsed.payout_micros, parsed.transaction_id) == (None, "")
    with pytest.raises(PostbackRefused) as refused:
        parse_postback([("subid", "k1"), ("txid", "a b")], PostbackFormat.configured())
    assert refused.value.reason == "bad_transaction_id"


def test_a_click_shows_its_decision_and_every_conversion(client: TestClient) -> None:
    sample(client, "k1")
    client.put("/offers/1", json={"multiple_conversions": True}, headers=ADMIN)
    client.get("/postback?subid=k1&payout=20&status=Lead&tid=t1&et=reg")
    client.get("/postback?subid=k1&payout=20&status=Sale&tid=t1")
    client.get("/postback?subid=k1&payout=5&status=2&tid=t2")
    body = client.get("/clicks/k1").json()
    assert (body["offer_id"], body["state"], body["reward"], body["conversions"]) == (1, "resolved", 20.0, 1)
    assert (body["pending_conversions"], body["pending_reward"], body["params"]["sampler"]) == (1, 5.0, "ucb")
    assert [(p["transaction_id"], p["status"], p["raw_status"], p["event"]) for p in body["postbacks"]] == [
        ("t1", "approved", "Sale", "reg"), ("t2", "pending", "2", None),
    ]  # fmt: skip
    assert client.get("/clicks/nope").status_code == 404
    assert client.get("/clicks/bad%20id").status_code == 422
