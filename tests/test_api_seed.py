"""The seed's routes through HTTP: shapes, types, defaults, idempotency and refusals."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cpa_bandit.domain import Decision


def admin_key(client: TestClient) -> str:
    return client.app.state.settings.admin_key.get_secret_value()


def sample(client: TestClient, click_id, offer_ids="1,2,3", **params):
    return client.get("/sample/", params={"click_id": click_id, "offer_ids": offer_ids, **params})


def feedback(client: TestClient, click_id, reward):
    return client.put("/feedback/", params={"click_id": click_id, "reward": reward})


def stats(client: TestClient, offer_id) -> dict:
    response = client.get(f"/offer_ids/{offer_id}/stats/")
    assert response.status_code == 200
    return response.json()


def all_stats(client: TestClient, offers=(1, 2, 3)) -> list[dict]:
    return [stats(client, o) for o in offers]


def test_sample_answers_the_seed_shape_with_integer_ids(client: TestClient) -> None:
    response = sample(client, 1001)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"click_id", "offer_id"}
    assert body["click_id"] == 1001 and isinstance(body["click_id"], int)
    assert body["offer_id"] in (1, 2, 3) and isinstance(body["offer_id"], int)


@pytest.mark.parametrize("click_id", ["a1b2c3d4e5f6g7h8i", "3F2504E0-4F89-11D3-9A0C-0305E82C3301", "0123", "x.y:z_1-2"])
def test_tracker_click_ids_are_answered_as_strings(client: TestClient, click_id: str) -> None:
    body = sample(client, click_id).json()
    assert body["click_id"] == click_id
    assert feedback(client, click_id, 0).json()["click_id"] == click_id


def test_feedback_answers_the_seed_shape_and_counts(client: TestClient) -> None:
    offer = sample(client, 7).json()["offer_id"]
    response = feedback(client, 7, 12.5)
    assert response.status_code == 200
    assert response.json() == {"click_id": 7, "offer_id": offer, "is_conversion": True, "reward": 12.5}
    assert stats(client, offer) == {
        "offer_id": offer, "clicks": 1, "conversions": 1, "reward": 12.5, "cr": 1.0, "rpc": 12.5,
    }
    assert feedback(client, sample(client, 8).json()["click_id"], 0).json()["is_conversion"] is False


def test_stats_of_an_unseen_offer_are_zero(client: TestClient) -> None:
    body = stats(client, 424242)
    assert body == {"offer_id": 424242, "clicks": 0, "conversions": 0, "reward": 0.0, "cr": 0.0, "rpc": 0.0}
    assert isinstance(body["reward"], float) and isinstance(body["clicks"], int)


def test_stats_ratios_are_over_all_clicks(client: TestClient) -> None:
    for i in range(4):
        sample(client, f"c{i}", offer_ids="5")
    feedback(client, "c0", 3.0)
    feedback(client, "c1", 0)
    assert stats(client, 5) == {"offer_id": 5, "clicks": 4, "conversions": 1, "reward": 3.0, "cr": 0.25, "rpc": 0.75}


def test_defaults_are_the_seeds(client: TestClient, app) -> None:
    spec = client.get("/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"]["/sample/"]["get"]["parameters"]}
    assert params["sampler"]["schema"]["default"] == "ucb"
    assert params["ucb_c"]["schema"]["default"] == 1.0
    # omitted, Thompson's prior is learned; sent, it is the seed's Beta(a, b)
    assert "default" not in params["thompson_a"]["schema"] and "learned" in params["thompson_a"]["description"]
    assert "default" not in params["thompson_b"]["schema"]
    assert {"click_id", "offer_ids", "source"} <= set(params)
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize("sampler", ["ucb", "thompson"])
def test_each_sampler_serves_and_records_its_parameters(client: TestClient, app, sampler: str) -> None:
    body = sample(client, "s1", sampler=sampler, ucb_c=0.5, thompson_a=2, thompson_b=30, source="src-9").json()
    # a replay through the store returns what the first request recorded
    stored, created = app.state.service.store.record_decision(Decision("s1", 99, None, 0.0))
    assert not created and stored.offer_id == body["offer_id"] and stored.source == "src-9"
    assert stored.params["sampler"] == sampler
    assert stored.params == ({"sampler": "ucb", "ucb_c": 0.5} if sampler == "ucb" else {"sampler": "thompson", "thompson_a": 2.0, "thompson_b": 30.0})


def test_a_retried_sample_gets_the_same_offer_and_counts_once(client: TestClient) -> None:
    first = sample(client, 55).json()
    for _ in range(5):
        assert sample(client, 55).json() == first
    assert sum(s["clicks"] for s in all_stats(client)) == 1


def test_a_click_id_reused_with_other_offers_is_a_conflict(client: TestClient) -> None:
    offer = sample(client, 56, offer_ids="1").json()["offer_id"]
    response = sample(client, 56, offer_ids="2,3")
    assert response.status_code == 409
    assert response.json()["offer_id"] == offer and "already" in response.json()["detail"]
    assert sum(s["clicks"] for s in all_stats(client)) == 1


def test_repeated_feedback_is_idempotent_and_conflicts_are_refused(client: TestClient) -> None:
    sample(client, 60)
    first = feedback(client, 60, 9.99)
    assert first.status_code == 200
    before = all_stats(client)
    again = feedback(client, 60, "9.990")
    assert again.status_code == 200 and again.json() == first.json()
    conflict = feedback(client, 60, 0)
    assert conflict.status_code == 409
    body = conflict.json()
    assert body["reward"] == 9.99 and body["is_conversion"] is True and body["offer_id"] == first.json()["offer_id"]
    assert "detail" in body
    assert all_stats(client) == before


def test_feedback_for_an_unknown_click_is_404(client: TestClient) -> None:
    response = feedback(client, "never-sampled", 1)
    assert response.status_code == 404
    assert "never-sampled" in response.json()["detail"]


BAD_SAMPLES = [
    ({"click_id": "", "offer_ids": "1,2"}, "click_id"),
    ({"click_id": "has space", "offer_ids": "1,2"}, "click_id"),
    ({"click_id": "x" * 65, "offer_ids": "1,2"}, "click_id"),
    ({"click_id": "{subid}", "offer_ids": "1,2"}, "click_id"),
    ({"offer_ids": "1,2"}, "click_id"),
    ({"click_id": "b1"}, "offer_ids"),
    ({"click_id": "b1", "offer_ids": ""}, "offer_ids"),
    ({"click_id": "b1", "offer_ids": "1,,2"}, "offer_ids"),
    ({"click_id": "b1", "offer_ids": "1,abc"}, "offer_ids"),
    ({"click_id": "b1", "offer_ids": "-1"}, "offer_ids"),
    ({"click_id": "b1", "offer_ids": "1.5"}, "offer_ids"),
    ({"click_id": "b1", "offer_ids": str(2**63)}, "offer_ids"),
    ({"click_id": "b1", "offer_ids": ",".join(map(str, range(51)))}, "offer_ids"),
    ({"click_id": "b1", "offer_ids": "1", "sampler": "egreedy"}, "sampler"),
    ({"click_id": "b1", "offer_ids": "1", "ucb_c": "-0.1"}, "ucb_c"),
    ({"click_id": "b1", "offer_ids": "1", "ucb_c": "nan"}, "ucb_c"),
    ({"click_id": "b1", "offer_ids": "1", "ucb_c": "inf"}, "ucb_c"),
    ({"click_id": "b1", "offer_ids": "1", "thompson_a": "0"}, "thompson_a"),
    ({"click_id": "b1", "offer_ids": "1", "thompson_b": "-2"}, "thompson_b"),
    ({"click_id": "b1", "offer_ids": "1", "thompson_b": "NaN"}, "thompson_b"),
    ({"click_id": "b1", "offer_ids": "1", "source": "bad source"}, "source"),
]


@pytest.mark.parametrize(("params", "field"), BAD_SAMPLES)
def test_bad_samples_are_422_and_record_nothing(client: TestClient, params: dict, field: str) -> None:
    response = client.get("/sample/", params=params)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(error["loc"] == ["query", field] and error["msg"] for error in detail), detail
    assert sum(s["clicks"] for s in all_stats(client, range(51))) == 0


@pytest.mark.parametrize("reward", ["-1", "nan", "inf", "-inf", "1e400", "abc", "", "2e9"])
def test_bad_rewards_are_422_and_change_nothing(client: TestClient, reward: str) -> None:
    offer = sample(client, 70).json()["offer_id"]
    response = feedback(client, 70, reward)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "reward"]
    assert stats(client, offer)["conversions"] == 0
    assert feedback(client, 70, 0).status_code == 200, "the click is still pending"


def test_bad_offer_id_in_stats_path_is_422(client: TestClient) -> None:
    for bad in ("abc", "-1", str(2**63), "1.5"):
        assert client.get(f"/offer_ids/{bad}/stats/").status_code == 422


def test_duplicate_offer_ids_do_not_double_an_offers_chance(client: TestClient) -> None:
    picks = [sample(client, f"d{i}", offer_ids="1,1,1,1,1,2").json()["offer_id"] for i in range(40)]
    assert 10 <= picks.count(2) <= 30


def test_every_listed_offer_is_tried_through_http(client: TestClient) -> None:
    picks = {sample(client, f"t{i}", offer_ids="11,12,13,14").json()["offer_id"] for i in range(4)}
    assert picks == {11, 12, 13, 14}


@pytest.mark.parametrize(("method", "path"), [("HEAD", "/sample/"), ("POST", "/sample/"), ("GET", "/feedback/")])
def test_other_methods_are_405_and_record_nothing(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, params={"click_id": "m1", "offer_ids": "1", "reward": 1})
    assert response.status_code == 405
    if method != "HEAD":
        assert response.json() == {"detail": "Method Not Allowed"}
    assert stats(client, 1)["clicks"] == 0


def test_a_repeated_offer_ids_parameter_lists_every_value_in_order(client: TestClient) -> None:
    """``requests`` sends a list as ``offer_ids=1&offer_ids=2``: every value counts, merged
    in order with comma lists (repeats dropped), on /sample/ and on /stats/."""
    chosen = {
        client.get("/sample/", params=[("click_id", f"r{i}"), ("offer_ids", "7"), ("offer_ids", "8,9"), ("offer_ids", "7")])
        .json()["offer_id"]
        for i in range(40)
    }
    assert chosen == {7, 8, 9}  # each offer gets its exploration click: all three were eligible
    page = client.get("/stats/", params=[("offer_ids", "9"), ("offer_ids", "7,8")]).json()
    assert [row["offer_id"] for row in page["offers"]] == [9, 7, 8]
    bad = client.get("/stats/", params=[("offer_ids", "9"), ("offer_ids", "x")])
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "offer_ids"]


def test_an_empty_source_is_no_source_on_every_route(client: TestClient) -> None:
    response = sample(client, "e1", source="")
    assert response.status_code == 200, response.text  # the click is not lost
    assert client.get("/clicks/e1").json()["source"] is None
    assert client.get("/offer_ids/1/stats/", params={"source": ""}).status_code == 200
    assert client.get("/stats/", params={"source": ""}).json()["source"] is None
    assert sample(client, "e2", source="bad source!").status_code == 422  # a malformed one is still refused


@pytest.mark.parametrize("reward", ["0.0000001", "4e-7", "0.0000004"])
def test_a_positive_reward_below_the_resolution_of_money_is_refused(client: TestClient, reward: str) -> None:
    sample(client, "tiny")
    response = feedback(client, "tiny", reward)
    assert response.status_code == 422
    assert "0.000001" in response.json()["detail"][0]["msg"]
    assert feedback(client, "tiny", "0.000001").json()["reward"] == 0.000001  # the click is still open
    offer = client.put("/offers/5", json={"payout": 1e-7}, headers={"X-Admin-Key": admin_key(client)})
    assert offer.status_code == 422 and "0.000001" in offer.json()["detail"][0]["msg"]
