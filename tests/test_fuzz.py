"""Hostile input: every operation of the OpenAPI schema fuzzed with Schemathesis.

The app runs in process (ASGI, no server) on the memory store, and the hot routes again on
SQLite. Every response must be no server error and must conform to the schema: a documented
status code, the documented content type, headers and body. A route that legitimately answers
a status its OpenAPI declaration does not list fails here until the declaration lists it: the
schema is the contract that clients generate code from, so a gap in it is a bug.

Runs are seeded (``derandomize``: the same cases on every run, no example database) and
bounded (``max_examples`` per operation, no deadline): the whole file takes about 20 s.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from urllib.parse import urlencode

import numpy as np
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cpa_bandit.api import create_app
from cpa_bandit.config import Settings
from cpa_bandit.ids import CLICK_ID_PATTERN
from cpa_bandit.postbacks import DEFAULT_ALIASES, DEFAULT_STATUSES

ADMIN_KEY = "fuzz-admin-key-0123456789"
AUTH = {"X-Admin-Key": ADMIN_KEY, "X-API-Key": ADMIN_KEY}
"""Sent with every fuzzed request (over whatever the fuzzer generated for these headers), so
that admin operations get past authentication and their handlers are fuzzed too."""
AUTH_HEADERS = {"x-admin-key", "x-api-key", "authorization"}
ADMIN_OPERATIONS = {
    ("PUT", "/offers/{offer_id}"),
    ("PATCH", "/offers/{offer_id}"),
    ("DELETE", "/offers/{offer_id}"),
    ("POST", "/admin/reset"),
}

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
"""No 5xx, and the response as the schema declares it."""

CLOCK = 1_767_225_600.0  # 2026-01-01T00:00:00Z: timestamps, caps and windows are the same every run
SEEDED_CLICKS = ("0", "1", "1001", "a", "A", "-", "k3j4h5g6f7d8s9a0q")
"""Clicks decided before fuzzing (the smallest generated ids and the schema's examples), so
that feedback, postbacks and click lookups reach existing clicks, not only unknown ones."""

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=100,
    suppress_health_check=list(HealthCheck),
)


def _config(mode: str = "all") -> schemathesis.Config:
    """Explicit, so that no schemathesis.toml found on the way changes what runs."""
    return schemathesis.Config.from_dict({"generation": {"mode": mode}})


def _app(store: str) -> FastAPI:
    settings_ = Settings(store=store, admin_key=ADMIN_KEY, max_offers=50)
    app = create_app(settings_, rng=np.random.default_rng(0), clock=lambda: CLOCK)
    client = TestClient(app)  # no lifespan: Schemathesis starts the app's when it first calls it
    for offer_id, body in ((7, {"payout": 25.0, "multiple_conversions": True}), (2, {"status": "active"})):
        assert client.put(f"/offers/{offer_id}", json=body, headers=AUTH).status_code == 200
    for click_id in SEEDED_CLICKS:
        response = client.get("/sample/", params={"click_id": click_id, "offer_ids": "1,2,3,7"})
        assert response.status_code == 200, response.text
    assert client.put("/feedback/", params={"click_id": "1", "reward": "12.5"}).status_code == 200
    return app


_SQLITE_DIR = tempfile.mkdtemp(prefix="cpa-bandit-fuzz-")
# registered before Schemathesis registers its own exit handler, which closes the apps: runs after it
atexit.register(shutil.rmtree, _SQLITE_DIR, ignore_errors=True)

MEMORY_APP = _app("memory://")
schema = schemathesis.openapi.from_asgi("/openapi.json", MEMORY_APP, config=_config())

SQLITE_APP = _app(f"sqlite:///{_SQLITE_DIR}/fuzz.db")
sqlite_schema = schemathesis.openapi.from_asgi("/openapi.json", SQLITE_APP, config=_config()).include(
    path=["/sample/", "/feedback/", "/postback", "/clicks/{click_id}"]
)

admin_schema = schemathesis.openapi.from_asgi("/openapi.json", MEMORY_APP, config=_config("positive")).include(
    lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in ADMIN_OPERATIONS
)

POSTBACK_APP = _app("memory://")
"""Its own app: the fuzzing above resets MEMORY_APP (POST /admin/reset), clicks included."""
postback_schema = schemathesis.openapi.from_asgi("/openapi.json", POSTBACK_APP, config=_config())


def test_the_schema_lists_every_route() -> None:
    """The fuzzing below covers what the schema lists: it must list every public route."""
    operations = {(op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations())}
    assert operations >= {
        ("GET", "/sample/"),
        ("PUT", "/feedback/"),
        ("GET", "/offer_ids/{offer_id}/stats/"),
        ("GET", "/stats/"),
        ("PUT", "/offers/{offer_id}"),
        ("PATCH", "/offers/{offer_id}"),
        ("DELETE", "/offers/{offer_id}"),
        ("GET", "/offers/{offer_id}"),
        ("GET", "/offers"),
        ("GET", "/postback"),
        ("POST", "/postback"),
        ("GET", "/postbacks/stats"),
        ("GET", "/clicks/{click_id}"),
        ("GET", "/healthz"),
        ("POST", "/admin/reset"),
    }
    assert ADMIN_OPERATIONS <= operations


@schema.parametrize()
@FUZZ
def test_every_operation(case: schemathesis.Case) -> None:
    """Valid and invalid requests (Schemathesis' examples, coverage and fuzzing phases)."""
    case.call_and_validate(headers=AUTH, checks=CHECKS)


@sqlite_schema.parametrize()
@settings(FUZZ, max_examples=50)
def test_hot_routes_on_sqlite(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=AUTH, checks=CHECKS)


@admin_schema.parametrize()
@settings(FUZZ, max_examples=15)
def test_admin_operations_refuse_missing_and_wrong_keys(case: schemathesis.Case) -> None:
    """Without the admin key, or with another, an admin operation is refused with a documented
    401, before its body is validated."""
    for name in [name for name in case.headers if name.lower() in AUTH_HEADERS]:
        del case.headers[name]
    response = case.call()
    case.validate_response(response, checks=CHECKS)
    assert response.status_code == 401, response.text
    wrong = {"X-Admin-Key": "wrong-key-0123456789abcdef", "X-API-Key": "wrong-key-0123456789abcdef"}
    response = case.call(headers=wrong)
    case.validate_response(response, checks=CHECKS, headers=wrong)
    assert response.status_code == 401, response.text


# --- /postback with the parameters trackers send --------------------------------------------
# Its query string and form are read by alias (postbacks.py), not declared as parameters, so
# Schemathesis alone sends it nothing but noise; these cases come from the aliases instead, and
# the responses are validated against the schema's declaration of the operation all the same.

_ALIASES = sorted(DEFAULT_ALIASES)
_names = st.one_of(
    st.sampled_from(_ALIASES),
    st.sampled_from(_ALIASES).map(str.upper),
    st.sampled_from(["token", "offer_id", "sub1", ""]),
    st.text(max_size=12),
)
_values = st.one_of(
    st.sampled_from(SEEDED_CLICKS),
    st.from_regex(CLICK_ID_PATTERN, fullmatch=True),
    st.sampled_from(sorted(DEFAULT_STATUSES)).map(lambda s: s.swapcase()),
    st.sampled_from(["1.5", "0", "-1", "1e9", "1e10", "nan", "inf", "0x10", "1,5", " 3 ", "1_000"]),
    st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False).map(str),
    st.sampled_from(["{subid}", "[clickid]", "%7Bpayout%7D", "$sum$", "#status#", "{", "}"]),
    st.sampled_from(["usd", "EUR", "xxx", ""]),
    st.text(max_size=70),
)
_noise = st.lists(st.tuples(_names, _values), max_size=8)


def _alias_of(field: str) -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(alias for alias, name in DEFAULT_ALIASES.items() if name == field))


def _maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


_tracker = st.tuples(
    st.tuples(_alias_of("click_id"), st.sampled_from(SEEDED_CLICKS)),
    _maybe(st.tuples(_alias_of("status"), st.sampled_from(sorted(DEFAULT_STATUSES)))),
    _maybe(st.tuples(_alias_of("payout"), st.sampled_from(["0", "2.5", "25", "1e3"]))),
    _maybe(st.tuples(_alias_of("transaction_id"), st.sampled_from(["t1", "t2", "t3"]))),
    st.lists(st.tuples(_names, _values), max_size=2),
).map(lambda parts: [pair for pair in parts[:4] if pair is not None] + parts[4])
"""What a tracker's template sends for a seeded click: statuses move its conversions through
their lifecycle (duplicates, refused moves, second conversions), with a little noise."""
_params = st.one_of(_tracker, _noise)


def _query(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for name, value in pairs:
        query.setdefault(name, []).append(value)
    return query


def _check_postback(case: schemathesis.Case, response: schemathesis.Response, **headers: str) -> None:
    case.validate_response(response, checks=CHECKS, headers=headers or None)
    if response.status_code == 200:
        assert response.json()["status"] == "ok"
    else:
        assert response.status_code in (404, 409, 413, 415, 422), response.text
        assert isinstance(response.json().get("reason"), str), "every refusal names its reason"


@given(pairs=_params)
@example(pairs=[("subid", "1001"), ("status", "SALE"), ("payout", "3.5")])
@example(pairs=[("subid", "1001"), ("cid", "a")])
@example(pairs=[("clickid", "a"), ("payout", "{payout}")])
@settings(FUZZ, max_examples=150)
def test_postback_query_strings(pairs: list[tuple[str, str]]) -> None:
    case = postback_schema["/postback"]["GET"].Case(query=_query(pairs))
    _check_postback(case, case.call(headers=AUTH))


@given(
    pairs=_params,
    content_type=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=utf-8",
            "text/plain",
            "application/json",
        ]
    ),
    oversized=st.booleans(),
)
@example(pairs=[("subid", "a"), ("status", "lead")], content_type="application/x-www-form-urlencoded", oversized=True)
@settings(FUZZ, max_examples=100)
def test_postback_forms(pairs: list[tuple[str, str]], content_type: str, oversized: bool) -> None:
    body = urlencode(pairs) + ("&pad=" + "x" * 17_000 if oversized else "")
    case = postback_schema["/postback"]["POST"].Case()
    headers = {**AUTH, "Content-Type": content_type}
    _check_postback(case, case.call(headers=headers, data=body.encode()), **headers)

