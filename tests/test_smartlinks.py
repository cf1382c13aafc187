"""Smartlinks through HTTP (issue 15): landing URL templates, the `/smartlinks` registry, the
visitor's redirect `GET /go/{name}`, the holdout group and `/uplift`, and their metrics."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from cpa_bandit.api import create_app
from cpa_bandit.cli import app as cli
from cpa_bandit.config import Settings
from cpa_bandit.sim.runner import SimClock

ADMIN_KEY = "test-admin-key-0123456"
ADMIN = {"X-Admin-Key": ADMIN_KEY}
T0 = 1_764_547_200.0  # 2025-12-01T00:00:00Z

LANDING = "https://lp{n}.example.com/o/{{offer_id}}?cid={{click_id}}&src={{source}}&sl={{smartlink}}&s1={{sub1}}"


def landing(n: int) -> str:
    return LANDING.format(n=n)


# --- fixtures and helpers -----------------------------------------------------------------


def settings_for(tmp_path: Path, **overrides) -> Settings:
    return Settings(**{"store": f"sqlite:///{tmp_path}/smartlinks.db", "admin_key": ADMIN_KEY, **overrides})


@pytest.fixture
def clock() -> SimClock:
    clock = SimClock()
    clock.now = T0
    return clock


@pytest.fixture
def app(tmp_path: Path, clock: SimClock):
    return create_app(settings_for(tmp_path), rng=np.random.default_rng(11), clock=clock)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def put_offer(client: TestClient, offer_id: int, **body) -> dict:
    response = client.put(f"/offers/{offer_id}", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def put_link(client: TestClient, name: str, **body) -> dict:
    response = client.put(f"/smartlinks/{name}", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def patch_link(client: TestClient, name: str, body: dict, headers=ADMIN):
    return client.patch(f"/smartlinks/{name}", json=body, headers=headers)


def go(client: TestClient, name: str, headers: dict | None = None, **params):
    return client.get(f"/go/{name}", params=params, headers=headers or {})


def redirected(client: TestClient, name: str, **params) -> str:
    """The Location of a 302 from /go/."""
    response = go(client, name, **params)
    assert response.status_code == 302, (response.status_code, response.text)
    return response.headers["location"]


def query_of(location: str) -> dict[str, str]:
    """The landing URL's query string, decoded strictly: each parameter once."""
    parsed = parse_qs(urlsplit(location).query, keep_blank_values=True, strict_parsing=True)
    assert all(len(values) == 1 for values in parsed.values()), parsed
    return {name: values[0] for name, values in parsed.items()}


def offer_of(location: str) -> int:
    """The offer a landing URL of ``LANDING`` belongs to (its host and its {offer_id})."""
    parts = urlsplit(location)
    offer_id = int(parts.path.rsplit("/", 1)[1])
    assert parts.hostname == f"lp{offer_id}.example.com", location
    return offer_id


def visit_all(client: TestClient, name: str, click_ids: list[str]) -> dict[str, str]:
    """Each click id's Location, the visits sent from a few threads at once (as browsers do;
    it also lets the group commit batch them, which keeps the statistical tests short)."""
    with ThreadPoolExecutor(8) as pool:
        return dict(zip(click_ids, pool.map(lambda click_id: redirected(client, name, click_id=click_id), click_ids)))


def click(client: TestClient, click_id: str):
    return client.get(f"/clicks/{click_id}")


def logged(app, smartlink: str | None = None) -> list:
    """The decision log, optionally those decided through one smartlink."""
    rows = list(app.state.service.store.decision_log(-math.inf, math.inf))
    return [row for row in rows if smartlink is None or row.decision.params.get("smartlink") == smartlink]


def exported_rows(tmp_path: Path) -> list[str]:
    result = CliRunner().invoke(cli, ["export", "--store", f"sqlite:///{tmp_path}/smartlinks.db"])
    assert result.exit_code == 0, result.output
    return [line for line in result.stdout.splitlines()[1:] if line]


def clicks_counted(client: TestClient, offer_ids) -> dict[int, int]:
    return {i: client.get(f"/offer_ids/{i}/stats/").json()["clicks"] for i in offer_ids}


def scrape(client: TestClient) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def metric(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def three_offers(client: TestClient, name: str = "eu", **link) -> None:
    for n in (1, 2, 3):
        put_offer(client, n, url=landing(n))
    put_link(client, name, offers=[1, 2, 3], **link)


# --- macros -------------------------------------------------------------------------------

NASTY = "a b&c=d/e?f#g+h%ü€"
NASTY_ENCODED = "a%20b%26c%3Dd%2Fe%3Ff%23g%2Bh%25%C3%BC%E2%82%AC"


def test_macros_are_filled_in_and_url_encoded(client: TestClient) -> None:
    template = (
        "https://lp.example.com/{offer_id}/{smartlink}?cid={click_id}&pub={source}"
        "&s1={sub1}&s2={sub2}&s3={sub3}&s4={sub4}&s5={sub5}&again={click_id}#frag"
    )
    put_offer(client, 42, url=template)
    put_link(client, "de.mobile_1", offers=[42], click_id_param="clickref", source_param="pubid")
    location = redirected(
        client, "de.mobile_1", clickref="PX-77.a:b", pubid="site_9", sub1=NASTY, sub2="x", sub3="", sub5="ok",
        click_id="not-this-one", source="nor-this",
    )  # fmt: skip
    assert location == (
        "https://lp.example.com/42/de.mobile_1?cid=PX-77.a%3Ab&pub=site_9"
        f"&s1={NASTY_ENCODED}&s2=x&s3=&s4=&s5=ok&again=PX-77.a%3Ab#frag"
    )
    # decoded, every value is the visitor's: a sub id cannot add a parameter nor end the query
    assert query_of(location) == {
        "cid": "PX-77.a:b", "pub": "site_9", "s1": NASTY, "s2": "x", "s3": "", "s4": "", "s5": "ok", "again": "PX-77.a:b",
    }  # fmt: skip
    # the click is recorded under the configured parameters' values, not the default names'
    recorded = click(client, "PX-77.a:b").json()
    assert (recorded["offer_id"], recorded["source"], recorded["params"]["smartlink"]) == (42, "site_9", "de.mobile_1")
    assert click(client, "not-this-one").status_code == 404


def test_default_parameter_names_and_an_invalid_source(client: TestClient) -> None:
    three_offers(client)
    location = redirected(client, "eu", click_id="k1", source="news site")  # not a valid source: none
    assert query_of(location) | {"s1": None} == {"cid": "k1", "src": "", "sl": "eu", "s1": None}
    assert offer_of(location) == click(client, "k1").json()["offer_id"]
    assert click(client, "k1").json()["source"] is None
    location = redirected(client, "eu", click_id="k2", source="s-1")
    assert query_of(location)["src"] == "s-1" and click(client, "k2").json()["source"] == "s-1"


BAD_TEMPLATES = {
    "unknown macro": "https://lp.example.com/?c={clickid}",
    "unknown macro, case": "https://lp.example.com/?c={CLICK_ID}",
    "empty macro": "https://lp.example.com/?c={}",
    "stray opening brace": "https://lp.example.com/?c={click_id",
    "stray closing brace": "https://lp.example.com/?c=click_id}",
    "doubled braces": "https://lp.example.com/?c={{click_id}}",
    "javascript scheme": "javascript:alert(document.cookie)//{click_id}",
    "data scheme": "data:text/html,<script>alert(1)</script>",
    "ftp scheme": "ftp://lp.example.com/{click_id}",
    "no scheme": "//lp.example.com/?c={click_id}",
    "relative": "/landing?c={click_id}",
    "no host": "https:///landing?c={click_id}",
    "space": "https://lp.example.com/a b?c={click_id}",
    "line break": "https://lp.example.com/?c={click_id}\r\nSet-Cookie: a=b",
    "non-ascii": "https://lp.example.com/€?c={click_id}",
    "too long": "https://lp.example.com/?c={click_id}&pad=" + "x" * 2048,
}


@pytest.mark.parametrize("template", BAD_TEMPLATES.values(), ids=BAD_TEMPLATES.keys())
def test_a_bad_offer_url_is_refused_and_changes_nothing(client: TestClient, template: str) -> None:
    refused = client.put("/offers/5", json={"url": template}, headers=ADMIN)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"][-1] == "url"
    assert client.get("/offers/5").status_code == 404
    put_offer(client, 5, url=landing(5))
    patched = client.patch("/offers/5", json={"url": template}, headers=ADMIN)
    assert patched.status_code == 422, patched.text
    assert client.get("/offers/5").json()["url"] == landing(5)


@pytest.mark.parametrize("template", BAD_TEMPLATES.values(), ids=BAD_TEMPLATES.keys())
def test_a_bad_fallback_url_is_refused_and_changes_nothing(client: TestClient, template: str) -> None:
    refused = client.put("/smartlinks/eu", json={"offers": [1], "fallback_url": template}, headers=ADMIN)
    assert refused.status_code == 422, refused.text
    assert client.get("/smartlinks/eu").status_code == 404
    put_link(client, "eu", offers=[1], fallback_url="https://fb.example.com/?c={click_id}")
    patched = patch_link(client, "eu", {"fallback_url": template})
    assert patched.status_code == 422, patched.text
    assert client.get("/smartlinks/eu").json()["fallback_url"] == "https://fb.example.com/?c={click_id}"


def test_good_templates_are_kept_as_written(client: TestClient) -> None:
    for template in (
        "http://lp.example.com",
        "HTTPS://lp.example.com:8443/p%20q/?a=%7Bliteral%7D&c={click_id}",
        "https://user@lp.example.com/{offer_id}{sub1}{sub2}#{sub3}",
        "https://xn--bcher-kva.example/?s={source}&l={smartlink}&s4={sub4}&s5={sub5}",
    ):
        assert put_offer(client, 6, url=template)["url"] == template
    assert client.patch("/offers/6", json={"url": None}, headers=ADMIN).json()["url"] is None


# --- fallback --------------------------------------------------------------------------------

FALLBACK = "https://fb.example.com/{smartlink}?c={click_id}&s={source}&o={offer_id}&x={sub1}"


def cap_reached(client: TestClient, offer_id: int) -> None:
    """Offer ``offer_id`` at its daily cap of 1: one click on it, converted by postback."""
    client.patch(f"/offers/{offer_id}", json={"cap_daily": 1}, headers=ADMIN)
    assert client.get("/sample/", params={"click_id": f"cap{offer_id}", "offer_ids": str(offer_id)}).status_code == 200
    converted = client.get("/postback", params={"subid": f"cap{offer_id}", "payout": 5, "status": "approved"})
    assert converted.status_code == 200, converted.text
    assert client.get(f"/offers/{offer_id}").json()["capped_until"] is not None


def rest(client: TestClient, offer_id: int, how: str) -> None:
    if how == "paused":
        assert client.patch(f"/offers/{offer_id}", json={"status": "paused"}, headers=ADMIN).status_code == 200
    elif how == "capped":
        cap_reached(client, offer_id)
    elif how == "archived":
        assert client.delete(f"/offers/{offer_id}", headers=ADMIN).status_code == 200
    else:  # without a URL
        assert client.patch(f"/offers/{offer_id}", json={"url": None}, headers=ADMIN).json()["url"] is None


@pytest.mark.parametrize("how", ["paused", "capped", "archived", "without url"])
def test_all_resting_goes_to_the_fallback_url_else_404(client: TestClient, app, how: str) -> None:
    for n in (1, 2):
        put_offer(client, n, url=landing(n))
    put_link(client, "eu", offers=[1, 2], fallback_url=FALLBACK)
    rest(client, 1, how)
    # one offer resting: every visitor goes to the other
    assert {offer_of(redirected(client, "eu", click_id=f"a{i}")) for i in range(20)} == {2}
    rest(client, 2, how)
    before = len(logged(app))
    location = redirected(client, "eu", click_id="late-1", source="s1", sub1="x y")
    assert location == "https://fb.example.com/eu?c=late-1&s=s1&o=&x=x%20y"
    assert click(client, "late-1").status_code == 404, "a fallback records no click"
    assert len(logged(app)) == before
    # without a fallback URL: nowhere to go
    assert patch_link(client, "eu", {"fallback_url": None}).json()["fallback_url"] is None
    nothing = go(client, "eu", click_id="late-2")
    assert nothing.status_code == 404 and "location" not in nothing.headers
    assert click(client, "late-2").status_code == 404
    samples = scrape(client)
    assert metric(samples, "cpa_bandit_redirects_total", smartlink="eu", outcome="fallback") == 1
    assert metric(samples, "cpa_bandit_redirects_total", smartlink="eu", outcome="nothing") == 1


def test_every_resting_reason_at_once_goes_to_the_fallback(client: TestClient) -> None:
    for n in (1, 2, 3):
        put_offer(client, n, url=landing(n))
    put_offer(client, 4)  # no URL
    put_link(client, "eu", offers=[1, 2, 3, 4], fallback_url=FALLBACK)
    rest(client, 1, "paused")
    rest(client, 2, "capped")
    rest(client, 3, "archived")
    assert redirected(client, "eu", click_id="f1") == "https://fb.example.com/eu?c=f1&s=&o=&x="
    # a smartlink of unknown offers alike
    put_link(client, "ghost", offers=[77, 78], fallback_url=FALLBACK)
    assert redirected(client, "ghost", click_id="f2").startswith("https://fb.example.com/ghost?c=f2&")
    assert go(client, "no-such-link", click_id="f3").status_code == 404


def test_an_offer_without_url_is_never_chosen_by_go_but_still_by_sample(client: TestClient) -> None:
    put_offer(client, 1, url=landing(1))
    put_offer(client, 2)
    put_link(client, "eu", offers=[1, 2], sampler="ucb")
    sampled = {client.get("/sample/", params={"click_id": f"s{i}", "offer_ids": "1,2"}).json()["offer_id"] for i in range(40)}
    assert sampled == {1, 2}
    assert {offer_of(redirected(client, "eu", click_id=f"g{i}")) for i in range(40)} == {1}
    # given a URL, it joins the rotation
    put_offer(client, 2, url=landing(2))
    assert 2 in {offer_of(redirected(client, "eu", click_id=f"h{i}")) for i in range(40)}


# --- HEAD and prefetch -------------------------------------------------------------------------

PREFETCHES = [{"Sec-Purpose": "prefetch"}, {"Sec-Purpose": "prefetch;prerender"}, {"Purpose": "prefetch"}]


def test_head_and_prefetch_record_nothing(client: TestClient, app, tmp_path: Path) -> None:
    three_offers(client)
    head = client.head("/go/eu", params={"click_id": "p1"})
    assert head.status_code == 200 and "location" not in head.headers and head.content == b""
    assert head.headers["cache-control"] == "no-store"
    for headers in PREFETCHES:
        prefetched = go(client, "eu", headers=headers, click_id="p1")
        assert prefetched.status_code != 302 and "location" not in prefetched.headers, headers
        assert prefetched.content == b"" and prefetched.headers["cache-control"] == "no-store"
    assert click(client, "p1").status_code == 404
    assert clicks_counted(client, (1, 2, 3)) == {1: 0, 2: 0, 3: 0}
    assert all(row["clicks"] == 0 for row in client.get("/stats/").json()["offers"])
    assert logged(app) == [] and exported_rows(tmp_path) == []
    samples = scrape(client)
    assert metric(samples, "cpa_bandit_decisions_total", offer="1", source="") == 0
    assert metric(samples, "cpa_bandit_redirects_total", smartlink="eu", outcome="head") == 1
    assert metric(samples, "cpa_bandit_redirects_total", smartlink="eu", outcome="prefetch") == len(PREFETCHES)
    # the visitor then really follows the link: recorded once, as any visit
    offer_id = offer_of(redirected(client, "eu", click_id="p1"))
    assert click(client, "p1").json()["offer_id"] == offer_id
    assert sum(clicks_counted(client, (1, 2, 3)).values()) == 1
    assert len(logged(app)) == 1 and len(exported_rows(tmp_path)) == 1
    # HEAD of a smartlink that does not exist
    assert client.head("/go/nope").status_code == 404


# --- retries -------------------------------------------------------------------------------


def test_a_retried_click_id_redirects_to_the_same_offer(client: TestClient, app) -> None:
    offers = list(range(1, 11))
    for n in offers:
        put_offer(client, n, url=landing(n))
    put_link(client, "eu", offers=offers)  # thompson, no evidence: random among ten
    first = {f"r{i}": redirected(client, "eu", click_id=f"r{i}") for i in range(40)}
    assert len({offer_of(location) for location in first.values()}) >= 5, "spread over the offers"
    for attempt in range(3):
        for click_id, location in first.items():
            # also with another source or sub id: the first answer stands
            params = {"source": "other"} if attempt % 2 else {"sub1": "x"}
            assert offer_of(redirected(client, "eu", click_id=click_id, **params)) == offer_of(location)
            if attempt == 0:
                assert redirected(client, "eu", click_id=click_id) == location
    assert len(logged(app, "eu")) == len(first), "a retry is not a new decision"
    assert sum(clicks_counted(client, offers).values()) == len(first)

    # its offer taken off the smartlink: the retry still goes there
    click_id, location = next(iter(first.items()))
    gone = offer_of(location)
    assert patch_link(client, "eu", {"offers": [n for n in offers if n != gone]}).status_code == 200
    assert redirected(client, "eu", click_id=click_id) == location
    # ... also when nothing else of the link can be chosen now
    for n in offers:
        if n != gone:
            client.patch(f"/offers/{n}", json={"status": "paused"}, headers=ADMIN)
    assert redirected(client, "eu", click_id=click_id) == location
    # its offer paused (retries keep their first answer, as on /sample/)
    client.patch(f"/offers/{gone}", json={"status": "paused"}, headers=ADMIN)
    put_link(client, "eu", offers=offers, fallback_url=FALLBACK)
    assert redirected(client, "eu", click_id=click_id) == location
    assert redirected(client, "eu", click_id="brand-new").startswith("https://fb.example.com/")
    assert len(logged(app, "eu")) == len(first)


# --- keys --------------------------------------------------------------------------------------

KEYS = {role: f"{role}-key-0123456789abcdef" for role in ("traffic", "postback", "read", "admin")}


@pytest.fixture
def keyed_client(tmp_path: Path) -> Iterator[TestClient]:
    keys = ",".join(f"{role}={key}" for role, key in KEYS.items())
    settings = Settings(store=f"sqlite:///{tmp_path}/keyed.db", keys=keys)
    with TestClient(create_app(settings, rng=np.random.default_rng(2)), follow_redirects=False) as test_client:
        yield test_client


def as_role(role: str | None) -> dict[str, str]:
    return {} if role is None else {"X-API-Key": KEYS[role]}


def test_go_needs_no_key_while_the_smartlink_routes_do(keyed_client: TestClient) -> None:
    client = keyed_client
    body = {"offers": [1]}
    expected = {None: 401, "traffic": 403, "postback": 403, "read": 403}
    for role, status in expected.items():
        assert client.put("/smartlinks/eu", json=body, headers=as_role(role)).status_code == status, role
        assert client.put("/offers/1", json={"url": landing(1)}, headers=as_role(role)).status_code == status, role
    assert client.put("/smartlinks/eu", json=body, headers={"X-API-Key": "wrong-key-0123456789abc"}).status_code == 401
    assert client.get("/smartlinks/eu", headers=as_role("admin")).status_code == 404, "nothing was created"
    assert client.put("/offers/1", json={"url": landing(1)}, headers=as_role("admin")).status_code == 200
    assert client.put("/smartlinks/eu", json=body, headers={"Authorization": f"Bearer {KEYS['admin']}"}).status_code == 200

    for role, status in expected.items():
        assert patch_link(client, "eu", {"holdout": 0.5}, headers=as_role(role)).status_code == status, role
        assert client.delete("/smartlinks/eu", headers=as_role(role)).status_code == status, role
    reads = {None: 401, "traffic": 403, "postback": 403, "read": 200, "admin": 200}
    for role, status in reads.items():
        assert client.get("/smartlinks/eu", headers=as_role(role)).status_code == status, role
        assert client.get("/smartlinks", headers=as_role(role)).status_code == status, role
        assert client.get("/uplift", headers=as_role(role)).status_code == status, role
    assert client.get("/smartlinks/eu", headers=as_role("read")).json()["holdout"] == 0.0, "no PATCH went through"

    # /go/: no key, and a key sent (even a wrong one) is not looked at
    for headers in ({}, {"X-API-Key": "wrong-key-0123456789abc"}, {"Authorization": "Bearer nonsense"}, as_role("read")):
        response = client.get("/go/eu", params={"click_id": "v1"}, headers=headers)
        assert response.status_code == 302, (headers, response.text)
        assert response.headers["location"].startswith("https://lp1.example.com/o/1?cid=v1&")
    assert client.head("/go/eu").status_code == 200
    assert client.get("/clicks/v1", headers=as_role("read")).json()["offer_id"] == 1
    assert patch_link(client, "eu", {"holdout": 0.5}, headers=as_role("admin")).status_code == 200
    assert client.delete("/smartlinks/eu", headers=as_role("admin")).status_code == 204
    assert client.get("/go/eu", params={"click_id": "v2"}).status_code == 404


def test_admin_routes_are_disabled_without_an_admin_key(tmp_path: Path) -> None:
    settings = Settings(store=f"sqlite:///{tmp_path}/open.db")
    with TestClient(create_app(settings), follow_redirects=False) as client:
        assert client.put("/smartlinks/eu", json={"offers": [1]}).status_code == 403
        assert client.get("/smartlinks").json() == {"smartlinks": []}  # read: open to loopback


# --- what /go/ answers ------------------------------------------------------------------------

REVEALING = {"location", "cache-control", "referrer-policy", "content-length", "x-request-id"}


def test_go_reveals_nothing_but_the_redirect(client: TestClient) -> None:
    three_offers(client, holdout=0.5)
    for i in range(10):
        response = go(client, "eu", click_id=f"n{i}")
        assert response.status_code == 302
        assert response.content == b""
        assert set(response.headers) <= REVEALING, response.headers
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "content-type" not in response.headers and "set-cookie" not in response.headers


def test_a_click_id_is_generated_when_absent_or_invalid_and_recorded(client: TestClient, app) -> None:
    three_offers(client)
    generated = []
    for params in ({}, {"click_id": ""}, {"click_id": "has space"}, {"click_id": "x" * 65}, {"click_id": "a/b"},
                   {"click_id": "<script>"}):  # fmt: skip
        location = redirected(client, "eu", **params)
        click_id = query_of(location)["cid"]
        assert click_id and click_id != params.get("click_id")
        recorded = click(client, click_id)
        assert recorded.status_code == 200, (params, location)
        assert recorded.json()["offer_id"] == offer_of(location)
        generated.append(click_id)
    assert len(set(generated)) == len(generated), "a new one each visit"
    assert len(logged(app, "eu")) == len(generated)
    longest = "y" * 64  # valid: kept
    assert query_of(redirected(client, "eu", click_id=longest))["cid"] == longest


# --- the registry --------------------------------------------------------------------------------


def test_smartlink_crud_and_merge_patch(client: TestClient) -> None:
    three_offers(client, name="first")
    full = {
        "offers": [3, 1, 3, 2], "sampler": "ucb", "params": {"ucb_c": 2.5}, "holdout": 0.1, "min_share": 0.05,
        "fallback_url": FALLBACK, "click_id_param": "cid", "source_param": "pub",
    }  # fmt: skip
    created = put_link(client, "eu", **full)
    assert created == {
        **full, "offers": [3, 1, 2], "params": {"ucb_c": 2.5, "thompson_a": None, "thompson_b": None},
        "name": "eu", "url": "/go/eu",
    }  # fmt: skip
    assert client.get("/smartlinks/eu").json() == created
    listed = client.get("/smartlinks").json()["smartlinks"]
    assert [link["name"] for link in listed] == ["eu", "first"] and listed[0] == created

    # PATCH: the fields sent change, params merge, null resets to the default
    patched = patch_link(client, "eu", {"holdout": 0.2, "params": {"thompson_a": 2}})
    assert patched.status_code == 200, patched.text
    assert patched.json() == {**created, "holdout": 0.2, "params": {"ucb_c": 2.5, "thompson_a": 2.0, "thompson_b": None}}
    reset = patch_link(client, "eu", {"fallback_url": None, "click_id_param": None, "params": {"ucb_c": None}})
    assert reset.status_code == 200, reset.text
    expected = {
        **patched.json(), "fallback_url": None, "click_id_param": "click_id",
        "params": {"ucb_c": None, "thompson_a": 2.0, "thompson_b": None},
    }  # fmt: skip
    assert reset.json() == expected
    assert patch_link(client, "eu", {"sampler": None, "holdout": None}).json() == {
        **expected, "sampler": "thompson", "holdout": 0.0
    }
    settled = client.get("/smartlinks/eu").json()
    # an invalid patch is a 422 and changes nothing
    for body in (
        {"holdout": 1.0}, {"holdout": -0.1}, {"min_share": 2}, {"offers": []}, {"offers": [-1]},
        {"sampler": "epsilon"}, {"params": {"ucb_c": -1}}, {"params": {"colour": 1}}, {"params": "ucb"},
        {"colour": "red"}, {"name": "other"}, {"click_id_param": "has space"}, {"fallback_url": "ftp://x.example"},
        {"offers": None},
    ):  # fmt: skip
        refused = patch_link(client, "eu", body)
        assert refused.status_code == 422, (body, refused.text)
        assert client.get("/smartlinks/eu").json() == settled, body
    assert patch_link(client, "eu", {"holdout": 1.5}).json()["detail"][0]["loc"] == ["body", "holdout"]
    assert client.patch("/smartlinks/eu", content=b"[1]", headers={**ADMIN, "Content-Type": "application/json"}).status_code == 422
    assert patch_link(client, "nope", {"holdout": 0.1}).status_code == 404
    assert client.get("/smartlinks/nope").status_code == 404

    # a PUT replaces the whole smartlink: what it leaves out takes its default
    replaced = put_link(client, "eu", offers=[1])
    assert replaced == {
        "offers": [1], "sampler": "thompson", "params": {"ucb_c": None, "thompson_a": None, "thompson_b": None},
        "holdout": 0.0, "min_share": 0.0, "fallback_url": None, "click_id_param": "click_id", "source_param": "source",
        "name": "eu", "url": "/go/eu",
    }  # fmt: skip
    for name, body in (("bad name", {"offers": [1]}), ("x" * 65, {"offers": [1]}), ("ok", {}), ("ok", {"offers": [1], "extra": 1})):
        assert client.put(f"/smartlinks/{name}", json=body, headers=ADMIN).status_code == 422, (name, body)
    assert client.get("/smartlinks/ok").status_code == 404

    # DELETE: 204, then gone everywhere
    assert offer_of(redirected(client, "eu", click_id="d1")) == 1
    assert client.delete("/smartlinks/eu", headers=ADMIN).status_code == 204
    assert client.get("/smartlinks/eu").status_code == 404
    assert go(client, "eu", click_id="d2").status_code == 404
    assert client.delete("/smartlinks/eu", headers=ADMIN).status_code == 404
    assert [link["name"] for link in client.get("/smartlinks").json()["smartlinks"]] == ["first"]
    assert click(client, "d1").json()["offer_id"] == 1, "its clicks stay"


def test_a_change_is_served_at_once_whatever_the_cache(tmp_path: Path) -> None:
    """A worker keeps a smartlink and its URLs for the decisions' staleness bound; its own
    registry and smartlink changes are served from the next visit on."""
    app = create_app(settings_for(tmp_path, decision_cache_ms=60_000), rng=np.random.default_rng(3))
    with TestClient(app, follow_redirects=False) as client:
        three_offers(client)
        redirected(client, "eu", click_id="c0")  # read and cached
        assert patch_link(client, "eu", {"offers": [2, 3]}).status_code == 200
        assert {offer_of(redirected(client, "eu", click_id=f"c{i}")) for i in range(1, 15)} == {2, 3}
        assert client.patch("/offers/3", json={"status": "paused"}, headers=ADMIN).status_code == 200
        assert {offer_of(redirected(client, "eu", click_id=f"d{i}")) for i in range(10)} == {2}
        put_offer(client, 2, url="https://moved.example.com/?c={click_id}")
        assert redirected(client, "eu", click_id="moved") == "https://moved.example.com/?c=moved"
        assert client.delete("/smartlinks/eu", headers=ADMIN).status_code == 204
        assert go(client, "eu", click_id="after").status_code == 404
        put_link(client, "eu", offers=[1])
        assert offer_of(redirected(client, "eu", click_id="again")) == 1


# --- holdout -----------------------------------------------------------------------------------


def train(client: TestClient, clicks: int = 30) -> None:
    """Evidence through /sample/: offer 1 converts every click, offers 2 and 3 never."""
    for n in (1, 2, 3):
        for i in range(clicks):
            click_id = f"train-{n}-{i}"
            assert client.get("/sample/", params={"click_id": click_id, "offer_ids": str(n)}).status_code == 200
            reward = 10 if n == 1 else 0
            assert client.put("/feedback/", params={"click_id": click_id, "reward": reward}).status_code == 200


def within(count: int, n: int, p: float, sigmas: float = 4.0) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


@pytest.mark.slow
def test_holdout_share_and_uniform_service(client: TestClient, app) -> None:
    three_offers(client, holdout=0.3)
    train(client)
    n = 3000
    chosen = {click_id: offer_of(location) for click_id, location in visit_all(client, "eu", [f"v{i}" for i in range(n)]).items()}
    rows = logged(app, "eu")
    assert len(rows) == n
    group = {row.decision.click_id: bool(row.decision.params.get("holdout")) for row in rows}
    held = [click_id for click_id, is_held in group.items() if is_held]
    assert within(len(held), n, 0.3), len(held)
    # the holdout is served uniformly with its true propensity; the bandit takes the winner
    by_offer = Counter(chosen[click_id] for click_id in held)
    assert all(within(by_offer[offer], len(held), 1 / 3) for offer in (1, 2, 3)), by_offer
    assert all(row.decision.propensity == pytest.approx(1 / 3) for row in rows if row.decision.params.get("holdout"))
    bandit = Counter(chosen[click_id] for click_id, is_held in group.items() if not is_held)
    assert bandit[1] / sum(bandit.values()) > 0.9, bandit
    # marked in the click, counted in the metrics
    for click_id in list(group)[:100]:
        params = click(client, click_id).json()["params"]
        assert params.get("holdout") == (1.0 if group[click_id] else None), (click_id, params)
    assert metric(scrape(client), "cpa_bandit_holdout_decisions_total", smartlink="eu") == len(held)

    # a click id's group never changes: not on a retry (the share changed meanwhile) ...
    assert patch_link(client, "eu", {"holdout": 0.6}).status_code == 200
    sample_ids = list(group)[:100]
    for click_id in sample_ids:
        assert offer_of(redirected(client, "eu", click_id=click_id)) == chosen[click_id]
        assert bool(click(client, click_id).json()["params"].get("holdout")) == group[click_id]
    assert len(logged(app, "eu")) == n, "a retry is no new decision"


def test_a_click_ids_group_is_a_function_of_the_click_id(tmp_path: Path) -> None:
    """Two services (two replicas, or a restart) put the same click ids in the same groups."""
    groups = []
    for k in (1, 2):
        settings = Settings(store=f"sqlite:///{tmp_path}/replica{k}.db", admin_key=ADMIN_KEY)
        app = create_app(settings, rng=np.random.default_rng(k))
        with TestClient(app, follow_redirects=False) as client:
            three_offers(client, holdout=0.3)
            for i in range(150):
                redirected(client, "eu", click_id=f"same-{i}")
            groups.append({row.decision.click_id: bool(row.decision.params.get("holdout")) for row in logged(app)})
    assert groups[0] == groups[1]
    assert within(sum(groups[0].values()), 150, 0.3)


def test_no_holdout_by_default(client: TestClient, app) -> None:
    three_offers(client)
    for i in range(60):
        redirected(client, "eu", click_id=f"d{i}")
        client.get("/sample/", params={"click_id": f"s{i}", "offer_ids": "1,2,3"})
    assert not any(row.decision.params.get("holdout") for row in logged(app))
    samples = scrape(client)
    assert metric(samples, "cpa_bandit_holdout_decisions_total", smartlink="eu") == 0
    assert metric(samples, "cpa_bandit_holdout_decisions_total", smartlink="") == 0


def test_sample_holdout_from_the_setting(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path, holdout_share=0.4), rng=np.random.default_rng(5))
    n = 600
    with TestClient(app) as client:
        for i in range(n):
            response = client.get("/sample/", params={"click_id": f"s{i}", "offer_ids": "1,2,3"})
            assert response.status_code == 200 and set(response.json()) == {"click_id", "offer_id"}
        rows = logged(app)
        held = {row.decision.click_id for row in rows if row.decision.params.get("holdout")}
        assert within(len(held), n, 0.4), len(held)
        assert all(row.decision.propensity == pytest.approx(1 / 3) for row in rows if row.decision.click_id in held)
        assert not any("smartlink" in row.decision.params for row in rows)
        for i in range(50):
            params = client.get(f"/clicks/s{i}").json()["params"]
            assert params.get("holdout") == (1.0 if f"s{i}" in held else None)
        assert metric(scrape(client), "cpa_bandit_holdout_decisions_total", smartlink="") == len(held)
        # a retry keeps its group and its offer
        for i in range(50):
            client.get("/sample/", params={"click_id": f"s{i}", "offer_ids": "1,2,3"})
        assert len(logged(app)) == n
        # a smartlink has its own share, not the setting's
        three_offers(client, holdout=0.0)
        for i in range(60):
            assert client.get("/go/eu", params={"click_id": f"g{i}"}, follow_redirects=False).status_code == 302
        assert not any(row.decision.params.get("holdout") for row in logged(app, "eu"))


# --- uplift ---------------------------------------------------------------------------------------


def uplift(client: TestClient, **params) -> dict:
    response = client.get("/uplift", params=params)
    assert response.status_code == 200, response.text
    return response.json()


Z = statistics.NormalDist().inv_cdf(0.975)


def by_hand(bandit: list[float | None], holdout: list[float | None]) -> dict:
    """What /uplift should answer for these clicks' revenues (None: pending, left out):
    revenue per click of each group, the difference with a Welch normal 95 % interval, and
    the bandit's clicks times it."""

    def group(values: list[float | None]) -> dict:
        resolved = [value for value in values if value is not None]
        return {
            "clicks": len(resolved), "revenue": pytest.approx(sum(resolved)),
            "rpc": pytest.approx(statistics.mean(resolved)) if resolved else None, "pending": values.count(None),
        }  # fmt: skip

    answer = {"confidence": 0.95, "bandit": group(bandit), "holdout": group(holdout)}
    b = [value for value in bandit if value is not None]
    h = [value for value in holdout if value is not None]
    if len(b) < 2 or len(h) < 2:
        return {**answer, "difference": None, "extra_revenue": None}
    difference = statistics.mean(b) - statistics.mean(h)
    half = Z * math.sqrt(statistics.variance(b) / len(b) + statistics.variance(h) / len(h))
    interval = {"estimate": difference, "low": difference - half, "high": difference + half}
    return {
        **answer,
        "difference": {k: pytest.approx(v) for k, v in interval.items()},
        "extra_revenue": {k: pytest.approx(v * len(b)) for k, v in interval.items()},
    }


def assert_uplift(answer: dict, expected: dict) -> None:
    """The answer's figures equal ``expected``'s (a group's count of pending clicks is
    compared where the service answers one)."""
    got = {k: answer[k] for k in ("confidence", "difference", "extra_revenue")}
    want = {k: expected[k] for k in got}
    for name in ("bandit", "holdout"):
        got[name] = {k: v for k, v in answer[name].items() if k in expected[name]}
        want[name] = {k: v for k, v in expected[name].items() if k in answer[name] or k != "pending"}
    assert got == want, answer


def test_uplift_empty(client: TestClient) -> None:
    answer = uplift(client)
    assert {k: answer[k] for k in ("since", "until", "smartlink")} == {"since": None, "until": None, "smartlink": None}
    assert_uplift(answer, by_hand([], []))
    assert answer["bandit"]["rpc"] is None and answer["holdout"]["rpc"] is None
    three_offers(client, holdout=0.5)
    for i in range(10):
        redirected(client, "eu", click_id=f"e{i}")
    pending_only = uplift(client)
    assert pending_only["bandit"]["clicks"] == pending_only["holdout"]["clicks"] == 0, "pending clicks do not count"
    assert pending_only["bandit"]["rpc"] is None and pending_only["holdout"]["rpc"] is None
    assert pending_only["difference"] is None and pending_only["extra_revenue"] is None
    assert client.get("/uplift", params={"smartlink": "bad name"}).status_code == 422
    assert client.get("/uplift", params={"since": "yesterday"}).status_code == 422


def reward_of(i: int) -> float:
    return (0.0, 12.5, 0.0, 3.25, 40.0, 0.0, 0.0)[i % 7]


def test_uplift_equals_a_hand_computation(tmp_path: Path, clock: SimClock) -> None:
    settings = settings_for(tmp_path, attribution_window_days=1)
    app = create_app(settings, rng=np.random.default_rng(4), clock=clock)
    clicks: dict[str, tuple[str, str, str, float | None]] = {}  # click id: link, period, group, revenue

    with TestClient(app, follow_redirects=False) as client:

        def add(link: str, period: str, click_id: str, value: float | None) -> None:
            group = "holdout" if click(client, click_id).json()["params"].get("holdout") else "bandit"
            clicks[click_id] = (link, period, group, value)

        def feedback(click_id: str, reward: float) -> None:
            assert client.put("/feedback/", params={"click_id": click_id, "reward": reward}).status_code == 200
            link, period, group, _ = clicks[click_id]
            clicks[click_id] = (link, period, group, reward)

        three_offers(client, name="a", holdout=0.5)
        put_link(client, "b", offers=[1, 2, 3], holdout=0.5)
        # early (at T0): resolved by feedback, or left silent until past the window (then 0)
        for link, count in (("a", 40), ("b", 24)):
            for i in range(count):
                click_id = f"{link}-early-{i}"
                redirected(client, link, click_id=click_id)
                add(link, "early", click_id, None)
                if i % 5 != 4:
                    bonus = 1.5 if link == "a" and clicks[click_id][2] == "bandit" else 0.0
                    feedback(click_id, reward_of(i) + bonus)
        for i in range(6):  # /sample/ clicks: the bandit's, through no smartlink
            assert client.get("/sample/", params={"click_id": f"sample-{i}", "offer_ids": "1,2"}).status_code == 200
            add("", "early", f"sample-{i}", None)
            feedback(f"sample-{i}", 7.0)
        assert_uplift(uplift(client, smartlink="b"), by_hand(
            [v for link, _, g, v in clicks.values() if link == "b" and g == "bandit"],
            [v for link, _, g, v in clicks.values() if link == "b" and g == "holdout"],
        ))  # fmt: skip
        clock.now = T1 = T0 + 2 * 86_400
        assert app.state.service.maintain().expired == 40 // 5 + 24 // 5
        for click_id, (link, period, group, value) in clicks.items():
            if value is None:
                clicks[click_id] = (link, period, group, 0.0)  # past the window: no conversion
        # late (at T1): some resolved, the others still pending (left out)
        for i in range(30):
            click_id = f"a-late-{i}"
            redirected(client, "a", click_id=click_id)
            add("a", "late", click_id, None)
            if i % 3:
                feedback(click_id, reward_of(i + 1))

        def expected(links: tuple[str, ...], periods: tuple[str, ...] = ("early", "late")) -> dict:
            chosen = [(group, value) for link, period, group, value in clicks.values() if link in links and period in periods]
            return by_hand([v for g, v in chosen if g == "bandit"], [v for g, v in chosen if g == "holdout"])

        for link, period in (("a", "early"), ("a", "late"), ("b", "early")):
            groups = Counter(g for li, p, g, v in clicks.values() if (li, p) == (link, period) and v is not None)
            assert min(groups["bandit"], groups["holdout"]) >= 2, (link, period, groups)
        answer = uplift(client, smartlink="a")
        assert answer["smartlink"] == "a" and answer["since"] is None
        assert_uplift(answer, expected(("a",)))
        assert answer["difference"]["low"] < answer["difference"]["estimate"] < answer["difference"]["high"]
        assert_uplift(uplift(client, smartlink="b"), expected(("b",)))
        assert_uplift(uplift(client), expected(("a", "b", "")))
        assert_uplift(uplift(client, smartlink="none-such"), by_hand([], []))
        # since / until: [since, until), as Unix seconds or ISO date-times (UTC unless an offset)
        iso_t1 = datetime.fromtimestamp(T1, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        late = uplift(client, smartlink="a", since=str(T1))
        assert late["since"] == T1
        assert_uplift(late, expected(("a",), ("late",)))
        assert_uplift(uplift(client, smartlink="a", since=iso_t1), expected(("a",), ("late",)))
        assert_uplift(uplift(client, smartlink="a", since=f"{iso_t1}+00:00"), expected(("a",), ("late",)))
        assert_uplift(uplift(client, smartlink="a", since=iso_t1.replace("T", " ")), expected(("a",), ("late",)))
        early = uplift(client, smartlink="a", until=iso_t1)
        assert early["until"] == T1
        assert_uplift(early, expected(("a",), ("early",)))
        assert_uplift(uplift(client, smartlink="a", until=str(T1 + 1)), expected(("a",)))
        assert_uplift(uplift(client, since=str(T0), until=str(T0 + 1)), expected(("a", "b", ""), ("early",)))
        assert_uplift(uplift(client, since=str(T1 + 1)), by_hand([], []))
        # a pending click that resolves now counts
        assert clicks["a-late-0"][3] is None
        feedback("a-late-0", 100.0)
        assert_uplift(uplift(client, smartlink="a"), expected(("a",)))


# --- metrics ---------------------------------------------------------------------------------------


def test_redirect_and_holdout_metrics(client: TestClient) -> None:
    three_offers(client, holdout=0.5, fallback_url=FALLBACK)
    put_offer(client, 9)
    put_link(client, "dead", offers=[9])
    for i in range(20):
        redirected(client, "eu", click_id=f"m{i}")
    redirected(client, "eu", click_id="m0")  # a retry: redirected again
    client.head("/go/eu")
    go(client, "eu", headers={"Sec-Purpose": "prefetch"})
    go(client, "eu", headers={"Purpose": "prefetch"})
    assert go(client, "dead", click_id="x").status_code == 404
    assert go(client, "missing", click_id="x").status_code == 404
    client.patch("/offers/1", json={"status": "paused"}, headers=ADMIN)
    client.patch("/offers/2", json={"status": "paused"}, headers=ADMIN)
    client.patch("/offers/3", json={"status": "paused"}, headers=ADMIN)
    assert redirected(client, "eu", click_id="fb").startswith("https://fb.example.com/")

    held = sum(bool(click(client, f"m{i}").json()["params"].get("holdout")) for i in range(20))
    assert 0 < held < 20
    samples = scrape(client)
    redirects = {
        labels: value for (name, labels), value in samples.items() if name == "cpa_bandit_redirects_total"
    }
    assert redirects == {
        frozenset({("smartlink", "eu"), ("outcome", "offer")}): 21,
        frozenset({("smartlink", "eu"), ("outcome", "head")}): 1,
        frozenset({("smartlink", "eu"), ("outcome", "prefetch")}): 2,
        frozenset({("smartlink", "eu"), ("outcome", "fallback")}): 1,
        frozenset({("smartlink", "dead"), ("outcome", "nothing")}): 1,
        frozenset({("smartlink", ""), ("outcome", "not_found")}): 1,
    }
    assert metric(samples, "cpa_bandit_holdout_decisions_total", smartlink="eu") == held
    assert sum(
        value for (name, labels), value in samples.items() if name == "cpa_bandit_decisions_total"
    ) >= 20
    routes = {dict(labels).get("route") for (name, labels), _ in samples.items() if name.startswith("cpa_bandit_http_requests")}
    assert "/go/{name}" in routes and not any(route and route.startswith("/go/m") for route in routes)
