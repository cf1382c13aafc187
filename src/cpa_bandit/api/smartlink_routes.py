"""Smartlinks: their registry (`/smartlinks`), the visitor's redirect (`/go/{name}`), and the
proof of what the bandit earns over its holdout (`/uplift`)."""

from __future__ import annotations

import asyncio
import math
import re
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from ..clickpath.front import hot
from ..clickpath.path import Visit, patiently
from ..evaluation.uplift import CONFIDENCE, GroupRevenue, Interval
from ..ids import CLICK_ID_PATTERN, MAX_OFFER_ID
from ..keys import Role
from ..policies import Sampler
from ..smartlinks import NAME_PATTERN, SUB_IDS, Smartlink, checked_url
from .deps import click_path_of, guarded, service_of
from .responses import error
from .seed_routes import MAX_PARAMETER

router = APIRouter(tags=["smartlinks"])

_CLICK_ID = re.compile(CLICK_ID_PATTERN)
_NAME = re.compile(NAME_PATTERN)
NO_STORE = {"Cache-Control": "no-store"}
"""A redirect is one visitor's decision: no browser or proxy may replay it for another."""

MAX_SUB_LENGTH = 256
"""A sub id longer than this is cut: five of them, percent-encoded, must fit a Location header
that proxies pass (nginx's 32k buffers in deploy/)."""

SmartlinkName = Annotated[str, Path(pattern=NAME_PATTERN, examples=["eu-dating"])]


class SamplerParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ucb_c: float | None = Field(None, ge=0, le=MAX_PARAMETER, allow_inf_nan=False)
    thompson_a: float | None = Field(None, gt=0, le=MAX_PARAMETER, allow_inf_nan=False)
    thompson_b: float | None = Field(None, gt=0, le=MAX_PARAMETER, allow_inf_nan=False)


class SmartlinkIn(BaseModel):
    """A smartlink: the offers it rotates and how (as `/sample/` decides), its holdout and
    floor, where a visitor goes when nothing can be chosen, and which of the visitor's query
    parameters carry the traffic partner's click id and source."""

    model_config = ConfigDict(extra="forbid")

    offers: list[Annotated[int, Field(ge=0, le=MAX_OFFER_ID)]] = Field(
        min_length=1, max_length=1000, description="The offers it rotates (those with a landing URL).", examples=[[1, 2, 3]]
    )
    sampler: Literal["ucb", "thompson"] = "thompson"
    params: SamplerParams = Field(default_factory=SamplerParams, description="The sampler's, as on `/sample/`.")
    holdout: float = Field(
        0.0, ge=0, lt=1, description="Share of visitors served uniformly at random (by a hash of the click id): the"
        " baseline of `/uplift`.",
    )  # fmt: skip
    min_share: float = Field(
        0.0, ge=0, le=1, description="Traffic floor: each eligible offer is chosen with at least this probability"
        " (at most 1 / offers; e.g. 0.01).",
    )  # fmt: skip
    fallback_url: Annotated[str | None, AfterValidator(checked_url)] = Field(
        None,
        description="Where a visitor goes when every offer is paused, capped, archived or without a URL (the same"
        " macros; `{offer_id}` empty); null: 404.",
        examples=["https://example.com/fallback?c={click_id}"],
    )
    click_id_param: str = Field("click_id", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    source_param: str = Field("source", pattern=r"^[A-Za-z0-9_.-]{1,64}$")

    def smartlink(self, name: str) -> Smartlink:
        params = {k: v for k, v in self.params.model_dump().items() if v is not None}
        return Smartlink(
            name, tuple(dict.fromkeys(self.offers)), Sampler(self.sampler), params, self.holdout, self.min_share,
            self.fallback_url, self.click_id_param, self.source_param,
        )  # fmt: skip


class SmartlinkOut(SmartlinkIn):
    name: str
    url: str = Field(description="The path a visitor opens, relative to the service.", examples=["/go/eu-dating"])

    @classmethod
    def of(cls, link: Smartlink) -> SmartlinkOut:
        return cls(
            name=link.name, url=f"/go/{link.name}", offers=list(link.offers), sampler=link.sampler.value,
            params=SamplerParams(**link.params), holdout=link.holdout, min_share=link.min_share,
            fallback_url=link.fallback_url, click_id_param=link.click_id_param, source_param=link.source_param,
        )  # fmt: skip

    def spec(self) -> dict[str, Any]:
        """The fields a client sets, as a merge patch applies to them."""
        return self.model_dump(exclude={"name", "url"}, exclude_none=True)


class SmartlinkList(BaseModel):
    smartlinks: list[SmartlinkOut]


NOT_FOUND = {404: error("No smartlink of that name.")}
NOT_JSON = {400: error("The body is not JSON.")}


def _not_found(name: str) -> HTTPException:
    return HTTPException(404, f"no smartlink {name!r}; PUT /smartlinks/{name} creates it")


@router.put("/smartlinks/{name}", response_model=SmartlinkOut, summary="Create or replace a smartlink (admin)",
            **guarded(Role.admin, NOT_JSON))  # fmt: skip
async def put_smartlink(request: Request, name: SmartlinkName, body: SmartlinkIn) -> SmartlinkOut:
    """The whole smartlink: fields left out take their defaults (`PATCH` changes some)."""
    return SmartlinkOut.of(await patiently(service_of(request).landings.put, body.smartlink(name)))


@router.patch(
    "/smartlinks/{name}",
    response_model=SmartlinkOut,
    summary="Change some fields of a smartlink (admin)",
    **guarded(Role.admin, {**NOT_JSON, **NOT_FOUND}),
)
async def patch_smartlink(
    request: Request, name: SmartlinkName, body: Annotated[dict[str, Any], Body(examples=[{"holdout": 0.1}])]
) -> SmartlinkOut:
    """JSON Merge Patch (RFC 7396): the fields sent change, the others are kept; `null`
    resets a field to its default (`fallback_url`: none). The result is checked as a `PUT`
    body is; a smartlink that does not exist is a 404."""
    landings = service_of(request).landings
    current = await patiently(landings.link, name)
    if current is None:
        raise _not_found(name)
    merged = SmartlinkOut.of(current).spec()
    for field, value in body.items():
        if value is None:
            merged.pop(field, None)
        elif field == "params" and isinstance(value, dict):
            params = {**merged.get("params", {}), **value}
            merged["params"] = {k: v for k, v in params.items() if v is not None}
        else:
            merged[field] = value
    try:
        link = SmartlinkIn.model_validate(merged).smartlink(name)
    except ValidationError as exc:  # a 422 that names the bad field, as for a PUT body
        errors = exc.errors(include_url=False, include_context=False)
        raise RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in errors]) from None
    return SmartlinkOut.of(await patiently(landings.put, link))


@router.get("/smartlinks/{name}", response_model=SmartlinkOut, summary="One smartlink",
            **guarded(Role.read, NOT_FOUND))  # fmt: skip
async def get_smartlink(request: Request, name: SmartlinkName) -> SmartlinkOut:
    link = await patiently(service_of(request).landings.link, name)
    if link is None:
        raise _not_found(name)
    return SmartlinkOut.of(link)


@router.delete("/smartlinks/{name}", status_code=204, summary="Delete a smartlink (admin)",
               **guarded(Role.admin, NOT_FOUND))  # fmt: skip
async def delete_smartlink(request: Request, name: SmartlinkName) -> Response:
    """Its URL answers 404 (or nothing) from then on; the clicks it sent, their conversions
    and its decisions in the log (for `/uplift?smartlink=`) stay."""
    if not await patiently(service_of(request).landings.delete, name):
        raise _not_found(name)
    return Response(status_code=204)


@router.get("/smartlinks", response_model=SmartlinkList, summary="Every smartlink", **guarded(Role.read))
async def list_smartlinks(request: Request) -> SmartlinkList:
    links = await patiently(service_of(request).landings.links)
    return SmartlinkList(smartlinks=[SmartlinkOut.of(link) for link in links])


# --- the visitor's redirect ---------------------------------------------------------------

_GO_PARAMETERS = [
    {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": NAME_PATTERN}},
    {"name": "click_id", "in": "query", "schema": {"type": "string"},
     "description": "The traffic partner's click id (under the smartlink's `click_id_param`); generated when absent"
     " or not 1-64 characters of `[A-Za-z0-9._:-]`."},
    {"name": "source", "in": "query", "schema": {"type": "string"},
     "description": "The traffic source (under the smartlink's `source_param`)."},
    *({"name": sub, "in": "query", "schema": {"type": "string"}, "description": f"Fills `{{{sub}}}`."} for sub in SUB_IDS),
]  # fmt: skip


def _prefetch(request: Request) -> bool:
    """A browser fetching ahead of a navigation that may never happen (speculation rules,
    ``<link rel=prefetch>``): not a visit."""
    headers = request.headers
    return any("prefetch" in headers.get(name, "").lower() for name in ("sec-purpose", "purpose", "x-moz", "x-purpose"))


def _visit(request: Request, link: Smartlink) -> Visit:
    query = request.query_params
    click_id = query.get(link.click_id_param, "")
    source = query.get(link.source_param, "")
    return Visit(
        click_id=click_id if _CLICK_ID.match(click_id) else f"go{secrets.token_hex(12)}",
        source=source if _CLICK_ID.match(source) else None,
        subs={sub: query[sub][:MAX_SUB_LENGTH] for sub in SUB_IDS if sub in query},
    )


@router.head("/go/{name}", include_in_schema=False)  # link checkers: 200 if it exists, nothing recorded
@router.get(
    "/go/{name}",
    summary="A smartlink: redirect the visitor to the best offer",
    openapi_extra={"parameters": _GO_PARAMETERS},
    responses={
        302: {"description": "To the chosen offer's landing URL, its macros filled in (or to the fallback URL)."},
        200: {"description": "To `HEAD` (a link checker): the smartlink exists; no click is recorded."},
        404: error("No such smartlink, or no offer can be chosen and it has no fallback URL."),
        503: {"description": "A prefetch (`Sec-Purpose: prefetch`): not a visit, nothing recorded; the browser"
              " asks again when the visitor really follows the link."},
    },
)  # fmt: skip
@hot
async def go(request: Request) -> Response:
    """Decides exactly as `/sample/` does (same store, learning and decision log), with the
    smartlink's sampler, holdout and floor, and redirects the visitor: no key needed, and
    nothing but the redirect answered. A retried click id goes to the same offer."""
    name = request.path_params["name"]
    metrics = request.app.state.metrics
    landing = await patiently(service_of(request).landings.get, name) if _NAME.match(name) else None
    if landing is None:
        metrics.redirected("", "not_found")
        raise _not_found(name)
    if request.method == "HEAD":
        metrics.redirected(name, "head")
        return Response(status_code=200, headers=NO_STORE)
    if _prefetch(request):
        metrics.redirected(name, "prefetch")
        return Response(status_code=503, headers={**NO_STORE, "Vary": "Sec-Purpose, Purpose"})
    redirect = await click_path_of(request).redirect(landing, _visit(request, landing.link))
    if redirect.decision is not None:
        metrics.decided(redirect.decision)
    metrics.redirected(name, redirect.outcome)
    if redirect.url is None:
        raise HTTPException(404, f"smartlink {name!r} has no offer that can be chosen now, and no fallback_url")
    return Response(status_code=302, headers={"Location": redirect.url, **NO_STORE, "Referrer-Policy": "no-referrer"})


# --- uplift over the holdout ---------------------------------------------------------------


class GroupOut(BaseModel):
    clicks: int = Field(description="Resolved clicks (fed back, or past the attribution window).")
    revenue: float
    rpc: float | None = Field(description="Revenue per resolved click; null without clicks.")
    pending: int = Field(
        description="Clicks left out: no feedback yet, within their attribution window. Where only conversions"
        " are reported, read `/uplift` up to now − the window, where no click is pending any more."
    )

    @classmethod
    def of(cls, group: GroupRevenue) -> GroupOut:
        return cls(clicks=group.clicks, revenue=round(group.revenue, 6), rpc=group.rpc, pending=group.pending)


class IntervalOut(BaseModel):
    estimate: float
    low: float
    high: float

    @classmethod
    def of(cls, interval: Interval | None) -> IntervalOut | None:
        return None if interval is None else cls(estimate=interval.estimate, low=interval.low, high=interval.high)


class UpliftOut(BaseModel):
    since: float | None
    until: float | None
    smartlink: str | None
    confidence: float = Field(description="Of the intervals.", examples=[CONFIDENCE])
    bandit: GroupOut
    holdout: GroupOut = Field(description="Clicks served uniformly at random among the same eligible offers.")
    difference: IntervalOut | None = Field(
        description="Bandit's revenue per click minus the holdout's, with its interval; null until each group has"
        " two resolved clicks."
    )
    extra_revenue: IntervalOut | None = Field(
        description="What the bandit's clicks earned above the holdout's rate: its clicks × the difference."
    )


Moment = Annotated[
    datetime | float | None,
    Query(description="Unix seconds or an ISO date-time (UTC unless it names an offset).", examples=["2026-11-01"]),
]


def _seconds(moment: datetime | float | None) -> float | None:
    if isinstance(moment, datetime):
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return moment


@router.get("/uplift", response_model=UpliftOut, summary="What the bandit earns over its holdout", **guarded(Role.read))
async def get_uplift(
    request: Request,
    since: Moment = None,
    until: Moment = None,
    smartlink: Annotated[str | None, Query(pattern=NAME_PATTERN, description="Its clicks only.")] = None,
) -> UpliftOut:
    """Revenue per click of the bandit's clicks and of the holdout's (decided in [since,
    until), resolved ones only), their difference with a 95 % interval, and the revenue the
    bandit earned above the holdout's rate. Read from the decision log
    (`CPA_BANDIT_DECISION_LOG_DAYS`)."""
    first, end = _seconds(since), _seconds(until)
    result = await asyncio.to_thread(
        service_of(request).uplift, -math.inf if first is None else first, math.inf if end is None else end, smartlink
    )
    return UpliftOut(
        since=first, until=end, smartlink=smartlink, confidence=CONFIDENCE,
        bandit=GroupOut.of(result.bandit), holdout=GroupOut.of(result.holdout),
        difference=IntervalOut.of(result.difference), extra_revenue=IntervalOut.of(result.extra_revenue),
    )  # fmt: skip

