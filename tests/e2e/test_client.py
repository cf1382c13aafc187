"""The Python client (``cpa_bandit.client``) against the real server, and its retries.

One keyed server serves the whole module (every test uses its own click and offer ids), so
the file stays quick: keys for each role and a postback token, as a deployment has them.
Failures the server cannot produce on demand (a 503 from the store, a ``Retry-After``, a
timeout) are played by ``httpx2.MockTransport``; a refused connection and a lost answer are
real ones, injected between the client and the live server by :class:`Faulty`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx2
import pytest

from cpa_bandit.client import (
    API_KEY_ENV,
    AsyncBanditClient,
    BanditAuthError,
    BanditClient,
    BanditConflict,
    BanditError,
    BanditHTTPError,
    BanditNotFound,
    BanditUnavailable,
    BanditValidationError,
    Decision,
    Feedback,
    Offer,
    OfferStats,
    RetryPolicy,
)
from cpa_bandit.client.retry import retry_after_seconds
from e2e_harness import BanditServer, free_port

pytestmark = pytest.mark.e2e

TRAFFIC_KEY = "client-e2e-traffic-key-0001"
POSTBACK_KEY = "client-e2e-postback-key-001"
READ_KEY = "client-e2e-read-key-0000001"
ADMIN_KEY = "client-e2e-admin-key-000001"
TOKEN = "client-e2e-postback-token"
KEYS = f"traffic={TRAFFIC_KEY},postback={POSTBACK_KEY},read={READ_KEY},admin={ADMIN_KEY}"

FAST = RetryPolicy(retries=3, backoff=0.01, max_backoff=0.05)
"""Retries that do not slow the tests down."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BanditServer]:
    """One server for the module (``serve_bandit`` is per test: a start per test would
    dominate the runtime), with keys for every role and a postback token."""
    directory = tmp_path_factory.mktemp("client")
    bandit = BanditServer(
        directory / "bandit.db",
        1,
        directory / "server.log",
        cwd=directory,
        env={"CPA_BANDIT_KEYS": KEYS, "CPA_BANDIT_POSTBACK_TOKEN": TOKEN},
    )
    try:
        yield bandit.start()
    finally:
        bandit.stop()


@pytest.fixture(autouse=True)
def _server_log_on_failure(request: pytest.FixtureRequest, server: BanditServer) -> Iterator[None]:
    """The module's server is not ``serve_bandit``'s, whose logs the report attaches: print
    its tail instead (shown as the failed test's captured output)."""
    failed = request.session.testsfailed
    yield
    if request.session.testsfailed > failed:
        print(f"--- server log ({server.log_path}) ---\n{server.log_text()[-10_000:]}")


@pytest.fixture(autouse=True)
def _no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)


def admin(server: BanditServer, **kwargs) -> BanditClient:
    return BanditClient(server.base_url, ADMIN_KEY, postback_token=TOKEN, **kwargs)


def raw_json(server: BanditServer, method: str, path: str, **kwargs) -> dict:
    """The service's own answer, for comparing the client's with."""
    with server.client(headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as http:
        return http.request(method, path, **kwargs).json()


class Faulty(httpx2.BaseTransport):
    """The real network to the server, with real faults injected: the first ``refuse``
    attempts go to a port where nothing listens (connection refused), the next ``lose``
    reach the server, which applies them, but their answers are dropped (a reset)."""

    def __init__(self, refuse: int = 0, lose: int = 0) -> None:
        self.network = httpx2.HTTPTransport()
        self.refuse, self.lose = refuse, lose
        self.attempts = 0
        self.lost: list[dict] = []
        self.times: list[float] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.attempts += 1
        self.times.append(time.monotonic())
        if self.refuse:
            self.refuse -= 1
            nowhere = httpx2.Request(request.method, request.url.copy_with(port=free_port()), headers=request.headers)
            return self.network.handle_request(nowhere)  # raises ConnectError
        response = self.network.handle_request(request)
        if self.lose:
            self.lose -= 1
            response.read()
            self.lost.append(response.json())
            response.close()
            raise httpx2.ReadError("connection reset before the answer arrived", request=request)
        return response

    def close(self) -> None:
        self.network.close()


# --- against the server -------------------------------------------------------------------


def test_sample_feedback_stats_roundtrip_keeps_money_exact(server):
    with admin(server) as bandit:
        first = bandit.sample(1001, [11])
        assert first == Decision(click_id=1001, offer_id=11)  # an integer click id stays one
        tracked = bandit.sample(
            "kt4f9a0b1c2d3e4f5", [11], source="fb-12", sampler="thompson", thompson_a=1, thompson_b=50
        )
        assert tracked == Decision(click_id="kt4f9a0b1c2d3e4f5", offer_id=11)
        assert bandit.sample("c-3", [11], ucb_c=0.5).offer_id == 11

        assert bandit.feedback(1001, 0.1) == Feedback(click_id=1001, offer_id=11, is_conversion=True, reward=0.1)
        assert bandit.feedback("kt4f9a0b1c2d3e4f5", Decimal("0.2")).reward == 0.2
        assert bandit.feedback("c-3", 0) == Feedback(click_id="c-3", offer_id=11, is_conversion=False, reward=0.0)
        assert bandit.feedback(1001, 0.1).reward == 0.1  # the same feedback again: same answer

        stats = bandit.offer_stats(11)
        assert (stats.clicks, stats.conversions, stats.reward) == (3, 2, 0.3)  # not 0.30000000000000004
        assert stats == OfferStats(**raw_json(server, "GET", "/offer_ids/11/stats/"))
        assert bandit.offer_stats(11, source="fb-12").reward == 0.2
        assert bandit.offer_stats(12) == OfferStats(12, 0, 0, 0.0, 0.0, 0.0)

        page = bandit.stats(offer_ids=[11, 12])
        assert page.source is None and [row.offer_id for row in page.offers] == [11, 12]
        row = page.get(11)
        assert (row.clicks, row.resolved, row.pending, row.conversions, row.reward) == (3, 3, 0, 2, 0.3)
        assert (row.name, row.status, row.declared_payout, row.evidence_since) == (None, "active", None, None)
        assert 0 <= row.rpc_low <= row.rpc_mean <= row.rpc_high and 0 <= row.p_best <= 1
        raw = raw_json(server, "GET", "/stats/", params={"offer_ids": "11,12"})
        assert [dataclasses.asdict(r) for r in page.offers] == raw["offers"]  # every field, as answered
        assert bandit.stats(offer_ids="11", source="fb-12").source == "fb-12"

        click = bandit.click(1001)
        assert (click.click_id, click.offer_id, click.state, click.reward) == (1001, 11, "resolved", 0.1)
        assert (click.conversions, click.postbacks) == (1, ())  # no postback reported on it

        with pytest.raises(BanditConflict) as conflict:  # another reward for a resolved click
            bandit.feedback(1001, 5)
        assert conflict.value.status_code == 409 and conflict.value.body["reward"] == 0.1
        with pytest.raises(BanditNotFound) as unknown:
            bandit.feedback("never-sampled", 1)
        assert unknown.value.detail == raw_json(server, "PUT", "/feedback/?click_id=never-sampled&reward=1")["detail"]


def test_a_retried_click_id_gets_its_first_answer(server):
    with admin(server) as bandit:
        first = bandit.sample("r-1", [21, 22, 23])
        assert bandit.sample("r-1", [21, 22, 23]) == first
        assert bandit.sample("r-1", [first.offer_id, 24]) == first
        with pytest.raises(BanditConflict):  # the stored offer is not listed
            bandit.sample("r-1", [25])

    # the answer is lost on the way back after the server decided: the retry gets that decision
    faulty = Faulty(lose=1)
    with admin(server, transport=faulty, retries=FAST) as bandit:
        decision = bandit.sample("r-2", [21, 22, 23])
        assert faulty.attempts == 2 and faulty.lost == [{"click_id": "r-2", "offer_id": decision.offer_id}]
        faulty.lose = 1
        outcome = bandit.feedback("r-2", 1.5)
        lost = {"click_id": "r-2", "offer_id": decision.offer_id, "is_conversion": True, "reward": 1.5}
        assert faulty.lost[1] == lost
        assert outcome == Feedback("r-2", decision.offer_id, True, 1.5)
        offers = [bandit.offer_stats(offer_id) for offer_id in (21, 22, 23)]
    assert sum(s.clicks for s in offers) == 2 and sum(s.reward for s in offers) == 1.5  # nothing twice


def test_registry_put_get_list(server):
    with admin(server) as bandit:
        entry = bandit.put_offer(7001, name="Casino DE", payout=25, cap_daily=50, timezone="Europe/Berlin")
        assert (entry.offer_id, entry.name, entry.payout, entry.status, entry.cap_daily, entry.cap_monthly) == (
            7001, "Casino DE", 25.0, "active", 50, None
        )  # fmt: skip
        assert (entry.timezone, entry.multiple_conversions, entry.capped_until) == ("Europe/Berlin", False, None)
        assert bandit.get_offer(7001) == entry
        assert entry in bandit.list_offers()

        replaced = bandit.put_offer(7001, name="Casino DE v2", payout=Decimal("12.345678"), status="paused")
        assert (replaced.payout, replaced.status, replaced.cap_daily) == (12.345678, "paused", None)
        assert replaced.timezone == "UTC"  # a PUT replaces the whole entry
        assert bandit.stats(offer_ids=[7001]).offers[0].declared_payout == 12.345678

        with pytest.raises(BanditNotFound) as missing:
            bandit.get_offer(7999)
        assert (missing.value.status_code, missing.value.detail) == (404, "offer 7999 is not in the registry")
        with pytest.raises(BanditValidationError) as invalid:
            bandit.put_offer(7001, timezone="Mars/Olympus_Mons")
        assert invalid.value.detail[0]["loc"] == ["body", "timezone"]

    with BanditClient(server.base_url, READ_KEY) as reader:
        assert reader.get_offer(7001).name == "Casino DE v2"
        with pytest.raises(BanditAuthError) as forbidden:
            reader.put_offer(7001, name="nope")
        assert forbidden.value.status_code == 403 and "it needs admin" in forbidden.value.detail


def test_registry_patch_archive_and_the_capped_status(server):
    with admin(server) as bandit:
        declared = bandit.put_offer(7101, name="Casino DE", payout=25, cap_daily=1, timezone="Europe/Berlin")
        patched = bandit.patch_offer(7101, payout=Decimal("30.5"), multiple_conversions=True)
        assert patched == dataclasses.replace(
            declared, payout=30.5, multiple_conversions=True, updated_at=patched.updated_at
        ), "a patch keeps what it does not name, timezone included"
        assert bandit.get_offer(7101) == patched

        # at its cap: status capped, with until when, in the registry and in /stats/
        bandit.sample("cap-1", [7101])
        bandit.postback("cap-1", payout=30.5)
        capped = bandit.get_offer(7101)
        assert capped.status == "capped" and capped.capped_until is not None
        assert capped == Offer(**raw_json(server, "GET", "/offers/7101"))
        row = bandit.stats(offer_ids=[7101]).get(7101)
        assert (row.status, row.capped_until) == ("capped", capped.capped_until)
        with pytest.raises(BanditConflict) as resting:
            bandit.sample("cap-2", [7101])
        assert resting.value.body["capped"] == [7101]
        uncapped = bandit.patch_offer(7101, cap_daily=None)  # None clears the cap
        assert (uncapped.status, uncapped.capped_until, uncapped.cap_daily) == ("active", None, None)
        assert bandit.stats(offer_ids=[7101]).get(7101).capped_until is None

        archived = bandit.archive_offer(7101)
        assert archived.status == "archived" and archived.name == "Casino DE"
        assert bandit.archive_offer(7101) == archived  # idempotent, nothing changed
        with pytest.raises(BanditConflict) as refused:
            bandit.sample("arch-1", [7101])
        assert refused.value.body["archived"] == [7101]
        assert archived in bandit.list_offers()
        assert 7101 not in [o.offer_id for o in bandit.list_offers(include_archived=False)]
        assert bandit.offer_stats(7101).clicks == 1 and bandit.offer_stats(7101).reward == 30.5
        assert bandit.stats(offer_ids=[7101]).get(7101).status == "archived"
        assert bandit.patch_offer(7101, status="active").status == "active"
        assert bandit.sample("arch-2", [7101]).offer_id == 7101

        for call in (lambda: bandit.patch_offer(7199, name="x"), lambda: bandit.archive_offer(7199)):
            with pytest.raises(BanditNotFound) as missing:
                call()
            assert "offer 7199 is not in the registry" in missing.value.detail
        with pytest.raises(BanditValidationError) as unknown:
            bandit.patch_offer(7101, **{"colour": "red"})
        assert unknown.value.detail[0]["loc"] == ["body", "colour"]
        with pytest.raises(BanditValidationError):
            bandit.patch_offer(7101, timezone=None)

    with BanditClient(server.base_url, READ_KEY) as reader:
        for call in (lambda: reader.patch_offer(7101, name="nope"), lambda: reader.archive_offer(7101)):
            with pytest.raises(BanditAuthError) as forbidden:
                call()
            assert forbidden.value.status_code == 403
        assert reader.get_offer(7101).name == "Casino DE"


def test_postbacks_with_token_and_key(server):
    with admin(server) as bandit:
        bandit.sample("pb-1", [31])
        before = bandit.postback_stats()
        lead = bandit.postback("pb-1", payout=21.0, status="lead", transaction_id="52949935")
        assert (lead.status, lead.click_id, lead.offer_id, lead.transaction_id) == ("ok", "pb-1", 31, "52949935")
        assert (lead.conversion_status, lead.previous_status, lead.duplicate) == ("pending", None, False)
        assert lead.payout == 21.0
        assert bandit.stats(offer_ids=[31]).offers[0].pending_reward == 21.0
        sale = bandit.postback("pb-1", status="sale", transaction_id="52949935")
        assert (sale.conversion_status, sale.previous_status, sale.duplicate) == ("approved", "pending", False)
        again = bandit.postback("pb-1", status="sale", transaction_id="52949935")
        assert again.duplicate and again.payout == 21.0
        assert bandit.offer_stats(31).reward == 21.0
        with pytest.raises(BanditConflict) as backwards:
            bandit.postback("pb-1", status="lead", transaction_id="52949935")
        assert backwards.value.reason == "disallowed_move" and backwards.value.body["stored_status"] == "approved"
        with pytest.raises(BanditNotFound) as unknown:
            bandit.postback("pb-nope", payout=1)
        assert unknown.value.reason == "unknown_click"
        assert bandit.click("pb-1").postbacks[0].transaction_id == "52949935"

    # a tracker-like caller: no key, so the token decides
    with BanditClient(server.base_url, "", postback_token="wrong-token") as tracker:
        with pytest.raises(BanditAuthError) as refused:
            tracker.postback("pb-1", status="sale")
        assert (refused.value.status_code, refused.value.reason) == (403, "bad_token")
        assert refused.value.detail == "missing or wrong 'token'"
        # the call's token wins over the client's
        assert tracker.postback("pb-1", status="sale", transaction_id="52949935", token=TOKEN).duplicate

    with BanditClient(server.base_url, POSTBACK_KEY) as advertiser:  # a postback key needs no token
        assert advertiser.postback("pb-1", status="sale", transaction_id="52949935").duplicate
    with BanditClient(server.base_url, READ_KEY) as reader:
        after = reader.postback_stats()
    assert (after.applied - before.applied, after.duplicate - before.duplicate) == (2, 3)
    for reason in ("bad_token", "disallowed_move", "unknown_click"):
        assert after.refused[reason] - before.refused.get(reason, 0) == 1, reason


def test_keys_bearer_and_environment(server, monkeypatch):
    with BanditClient(server.base_url, "") as anonymous:
        with pytest.raises(BanditAuthError) as missing:
            anonymous.sample("k-1", [41])
    assert missing.value.status_code == 401
    assert missing.value.detail == "API key required in X-API-Key, Authorization: Bearer, or as the Basic password"

    with BanditClient(server.base_url, "not-a-key-of-this-service") as stranger:
        with pytest.raises(BanditAuthError) as unknown:
            stranger.stats()
    assert (unknown.value.status_code, unknown.value.detail) == (401, "invalid API key")

    with BanditClient(server.base_url, TRAFFIC_KEY) as router:
        assert router.sample("k-1", [41]).offer_id == 41
        with pytest.raises(BanditAuthError) as wrong_role:
            router.offer_stats(41)
    assert wrong_role.value.status_code == 403
    assert wrong_role.value.detail == "this key's role may not use this route (it needs read)"

    monkeypatch.setenv(API_KEY_ENV, READ_KEY)
    with BanditClient(server.base_url) as from_env:
        assert from_env.offer_stats(41).clicks == 1
        with pytest.raises(BanditAuthError):
            from_env.sample("k-2", [41])  # a read key decides nothing


def test_a_422_carries_the_detail_verbatim(server):
    with admin(server) as bandit:
        with pytest.raises(BanditValidationError) as bad_click:
            bandit.sample("not a click id!", [1])
        with pytest.raises(BanditValidationError) as bad_reward:
            bandit.feedback(1001, 0.0000001)  # below the micro-unit
        with pytest.raises(BanditValidationError) as no_offers:
            bandit.sample("v-1", [])
    expected = raw_json(server, "GET", "/sample/", params={"click_id": "not a click id!", "offer_ids": "1"})["detail"]
    assert bad_click.value.status_code == 422 and bad_click.value.detail == expected
    assert bad_click.value.detail[0]["loc"] == ["query", "click_id"]
    assert bad_reward.value.detail[0]["loc"] == ["query", "reward"]
    assert no_offers.value.detail[0]["loc"] == ["query", "offer_ids"]
    assert bad_click.value.request_id  # the X-Request-ID to look for in the service's log


def test_connection_refused_then_success(server):
    faulty = Faulty(refuse=2)
    policy = RetryPolicy(retries=3, backoff=0.05, random=lambda: 0.0)  # waits 0.025 s, then 0.05 s
    with admin(server, transport=faulty, retries=policy) as bandit:
        assert bandit.sample("cr-1", [51]) == Decision("cr-1", 51)
    assert faulty.attempts == 3
    waits = [b - a for a, b in zip(faulty.times, faulty.times[1:])]
    assert waits[0] >= 0.025 and waits[1] >= 0.05  # backed off, exponentially


def test_nothing_listening_is_unavailable_after_bounded_attempts():
    policy = RetryPolicy(retries=2, backoff=0.05, max_backoff=0.1)
    started = time.monotonic()
    with BanditClient(f"http://127.0.0.1:{free_port()}", "", retries=policy, timeout=1.0) as bandit:
        with pytest.raises(BanditUnavailable) as unavailable:
            bandit.sample("u-1", [1])
    elapsed = time.monotonic() - started
    assert unavailable.value.attempts == 3
    cause = unavailable.value.cause
    assert isinstance(cause, httpx2.ConnectError) and unavailable.value.__cause__ is cause
    assert 0.025 + 0.05 <= elapsed < 3.0  # two backoffs of at least half their ceiling, and bounded
    assert "GET /sample/" in str(unavailable.value) and "3 attempt(s)" in str(unavailable.value)


def test_async_client_roundtrip(server):
    async def main() -> None:
        async with AsyncBanditClient(server.base_url, ADMIN_KEY, postback_token=TOKEN) as bandit:
            decision = await bandit.sample(61001, [61, 62], sampler="thompson")
            assert decision.click_id == 61001 and decision.offer_id in (61, 62)
            assert await bandit.sample(61001, [61, 62]) == decision
            assert (await bandit.feedback(61001, 12.5)).reward == 12.5
            assert (await bandit.offer_stats(decision.offer_id)).reward == 12.5
            assert (await bandit.stats(offer_ids=[61, 62])).get(decision.offer_id).conversions == 1
            await bandit.sample("a-pb", [63])
            assert (await bandit.postback("a-pb", payout=3.3)).conversion_status == "approved"
            assert (await bandit.put_offer(6100, name="async")).name == "async"
            assert [o.name for o in await bandit.list_offers() if o.offer_id == 6100] == ["async"]
            assert (await bandit.patch_offer(6100, payout=2)).name == "async"
            assert (await bandit.archive_offer(6100)).status == "archived"
            assert 6100 not in [o.offer_id for o in await bandit.list_offers(include_archived=False)]
            assert (await bandit.patch_offer(6100, status="active")).status == "active"
            with pytest.raises(BanditNotFound):
                await bandit.get_offer(6199)
        async with AsyncBanditClient(f"http://127.0.0.1:{free_port()}", "", retries=RetryPolicy(1, 0.01)) as down:
            with pytest.raises(BanditUnavailable) as unavailable:
                await down.stats()
            assert unavailable.value.attempts == 2

    asyncio.run(main())


# --- retries, unit-level ------------------------------------------------------------------


class Script:
    """A MockTransport handler answering a script of responses (or raising its errors)."""

    def __init__(self, *answers: httpx2.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx2.Request] = []
        self.times: list[float] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        self.times.append(time.monotonic())
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


UNAVAILABLE = {"detail": "the store is unavailable: database is locked"}
DECIDED = {"click_id": "m-1", "offer_id": 3}


def test_503_and_timeouts_are_retried_with_the_same_request():
    script = Script(
        httpx2.ConnectTimeout("connect timed out"),
        httpx2.Response(503, json=UNAVAILABLE),
        httpx2.ReadTimeout("read timed out"),
        httpx2.Response(200, json=DECIDED),
    )
    with BanditClient("http://bandit.test", "k" * 16, retries=FAST, transport=httpx2.MockTransport(script)) as bandit:
        assert bandit.sample("m-1", [1, 2, 3], source="s1") == Decision("m-1", 3)
    assert len(script.requests) == 4
    assert {r.headers["x-request-id"] for r in script.requests} == {script.requests[0].headers["x-request-id"]}
    assert script.requests[0].headers["authorization"] == "Bearer " + "k" * 16
    assert str(script.requests[0].url) == "http://bandit.test/sample/?click_id=m-1&offer_ids=1%2C2%2C3&source=s1"


def test_retry_after_is_honoured():
    script = Script(
        httpx2.Response(503, json=UNAVAILABLE, headers={"Retry-After": "1"}), httpx2.Response(200, json=DECIDED)
    )
    policy = RetryPolicy(retries=1, backoff=0.001, random=lambda: 0.0)
    with BanditClient("http://bandit.test", "", retries=policy, transport=httpx2.MockTransport(script)) as bandit:
        assert bandit.sample("m-1", [3]).offer_id == 3
    assert script.times[1] - script.times[0] >= 1.0  # the service's second, not the 1 ms backoff

    too_long = Script(httpx2.Response(503, json=UNAVAILABLE, headers={"Retry-After": "3600"}))
    with BanditClient("http://bandit.test", "", retries=FAST, transport=httpx2.MockTransport(too_long)) as bandit:
        with pytest.raises(BanditUnavailable) as unavailable:
            bandit.sample("m-1", [3])
    assert unavailable.value.attempts == 1 and "Retry-After 3600 s" in str(unavailable.value)

    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_503_until_the_retries_run_out():
    script = Script(*(httpx2.Response(503, json=UNAVAILABLE) for _ in range(4)))
    with BanditClient("http://bandit.test", "", retries=FAST, transport=httpx2.MockTransport(script)) as bandit:
        with pytest.raises(BanditUnavailable) as unavailable:
            bandit.feedback("m-1", 1)
    assert unavailable.value.attempts == 4 == len(script.requests)
    cause = unavailable.value.cause
    assert isinstance(cause, BanditHTTPError) and (cause.status_code, cause.detail) == (503, UNAVAILABLE["detail"])


@pytest.mark.parametrize(
    ("answer", "error", "detail"),
    [
        (httpx2.Response(500, text="Internal Server Error"), BanditHTTPError, "Internal Server Error"),
        (httpx2.Response(502, text="<html>Bad Gateway</html>"), BanditHTTPError, "<html>Bad Gateway</html>"),
        (httpx2.Response(404, json={"detail": "unknown click_id"}), BanditNotFound, "unknown click_id"),
        (httpx2.Response(409, json={"detail": "resolved", "offer_id": 3, "reward": 1.0}), BanditConflict, "resolved"),
        (httpx2.Response(401, json={"detail": "invalid API key"}), BanditAuthError, "invalid API key"),
    ],
)
def test_other_errors_are_not_retried(answer, error, detail):
    script = Script(answer, httpx2.Response(200, json=DECIDED))
    with BanditClient("http://bandit.test", "", retries=FAST, transport=httpx2.MockTransport(script)) as bandit:
        with pytest.raises(error) as raised:
            bandit.sample("m-1", [3])
    assert type(raised.value) is error and raised.value.detail == detail and len(script.requests) == 1


def test_an_answer_that_is_not_the_services_is_an_error():
    script = Script(httpx2.Response(200, text="<html>captive portal</html>"), httpx2.Response(200, json={"offers": 3}))
    with BanditClient("http://bandit.test", "", transport=httpx2.MockTransport(script)) as bandit:
        with pytest.raises(BanditError, match="not JSON"):
            bandit.sample("m-1", [3])
        with pytest.raises(BanditError, match="unexpected answer"):
            bandit.stats()


def test_async_client_retries_503():
    script = Script(httpx2.Response(503, json=UNAVAILABLE), httpx2.Response(200, json=DECIDED))

    async def main() -> Decision:
        transport = httpx2.MockTransport(script)
        async with AsyncBanditClient("http://bandit.test", "", retries=FAST, transport=transport) as bandit:
            return await bandit.sample("m-1", [3])

    assert asyncio.run(main()) == Decision("m-1", 3) and len(script.requests) == 2
