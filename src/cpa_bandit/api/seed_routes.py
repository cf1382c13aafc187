"""The seed's three routes, with the seed's parameter names, defaults and response shapes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationInfo,
)

from ..ids import CLICK_ID_PATTERN, MAX_OFFER_ID, click_id_json, parse_offer_ids
from ..money import MAX_AMOUNT, from_micros, representable, to_micros
from ..policies import PolicyParams, Sampler
from ..keys import Role
from ..clickpath.front import hot
from ..clickpath.path import patiently
from .deps import authorize, click_path_of, guarded, service_of
from .query import parse_query, query_parameters
from .responses import INVALID_QUERY, error, json_response, keyed

MAX_PARAMETER = 1e6
"""Policy parameters beyond this mean nothing more (a prior of a million clicks, a UCB width
that swamps any rate) and would overflow the arithmetic."""

router = APIRouter(tags=["seed"])
"""The endpoints on every click take the bare request and are served by the click path's
front (``clickpath.front``), which FastAPI documents from these declarations."""

ClickId = Annotated[
    str,
    Field(
        pattern=CLICK_ID_PATTERN,
        description="The click's id: 1-64 characters of `[A-Za-z0-9._:-]` (tracker click ids work).",
        examples=["1001"],
    ),
]


def _absent_if_empty(value: object) -> object:
    """``source=`` with no value is no source, as postbacks already read it: a template
    whose macro was left empty must not lose the click."""
    return None if value == "" else value


SourceId = Annotated[str, StringConstraints(pattern=CLICK_ID_PATTERN)]
"""A traffic source id (as click ids: 1-64 characters of ``[A-Za-z0-9._:-]``)."""

SourceQuery = Annotated[
    SourceId | None,
    BeforeValidator(_absent_if_empty),
    Query(
        description="A traffic source id; omitted (or empty) = all sources pooled.",
        examples=["fb-12"],
    ),
]


def _offer_ids(value: object, info: ValidationInfo) -> list[int]:
    if not isinstance(value, str):
        raise ValueError("offer_ids must be a comma-separated list of integers")
    return parse_offer_ids(value, (info.context or {}).get("max_offers", 1000))


class SampleQuery(BaseModel):
    model_config = ConfigDict(frozen=True)

    click_id: ClickId
    offer_ids: Annotated[
        list[int],
        PlainValidator(_offer_ids, json_schema_input_type=str),
        Field(description="Comma-separated eligible offer ids (integers, at most `max_offers`).", examples=["1,2,3"]),
    ]
    sampler: Annotated[Literal["ucb", "thompson"], Field(description="`ucb` or `thompson`.")] = "ucb"
    ucb_c: Annotated[
        float, Field(ge=0, le=MAX_PARAMETER, allow_inf_nan=False, description="UCB exploration scale; 0 = greedy.")
    ] = 1.0
    thompson_a: Annotated[
        float | None,
        Field(
            gt=0,
            le=MAX_PARAMETER,
            allow_inf_nan=False,
            description="Thompson's Beta prior on every offer's rate: pseudo-conversions. Sent (alone or with"
            " `thompson_b`, the other then 1), it fixes Beta(a, b) for every offer as the seed did; both omitted,"
            " the prior is learned from the eligible offers (empirical Bayes, optimistic for offers with little"
            " evidence).",
        ),
    ] = None
    thompson_b: Annotated[
        float | None,
        Field(
            gt=0,
            le=MAX_PARAMETER,
            allow_inf_nan=False,
            description="Thompson's Beta prior: pseudo-non-conversions (see `thompson_a`); omitted with it = learned.",
        ),
    ] = None
    source: Annotated[
        SourceId | None,
        BeforeValidator(_absent_if_empty),
        Field(
            description="Traffic source id, recorded with the click; empty = none.",
            examples=["src-7"],
        ),
    ] = None

    def policy(self) -> PolicyParams:
        return PolicyParams(Sampler(self.sampler), self.ucb_c, self.thompson_a, self.thompson_b)


class FeedbackQuery(BaseModel):
    model_config = ConfigDict(frozen=True)

    click_id: ClickId
    reward: Annotated[
        float,
        AfterValidator(representable),
        Field(
            ge=0,
            le=MAX_AMOUNT,
            allow_inf_nan=False,
            description="Revenue of the click; 0 = no conversion. Money is kept in micro-units: a positive reward"
            " must be at least 0.000001.",
            examples=[12.5],
        ),
    ]


class SampleResponse(BaseModel):
    click_id: int | str = Field(description="As sent; an integer when it is one.", examples=[1001])
    offer_id: int = Field(examples=[2])
    recorded: bool | None = Field(
        None,
        description="Only present, as false, when the store was unreachable: the offer was chosen from the"
        " last known statistics and storing the click is not confirmed (its feedback is likely refused).",
    )


class FeedbackResponse(BaseModel):
    click_id: int | str = Field(examples=[1001])
    offer_id: int = Field(examples=[2])
    is_conversion: bool = Field(examples=[True])
    reward: float = Field(examples=[12.5])


class StatsResponse(BaseModel):
    offer_id: int = Field(examples=[2])
    clicks: int = Field(description="Decisions that chose this offer.", examples=[200])
    conversions: int = Field(description="Clicks resolved with a reward > 0.", examples=[4])
    reward: float = Field(description="Total reward of its clicks.", examples=[50.0])
    cr: float = Field(description="conversions / clicks (0 without clicks).", examples=[0.02])
    rpc: float = Field(description="reward / clicks (0 without clicks).", examples=[0.25])


class FeedbackConflict(BaseModel):
    detail: str
    offer_id: int
    reward: float | None = Field(None, description="The stored reward (absent while postbacks decide the click).")
    is_conversion: bool | None = None


@router.get(
    "/sample/",
    response_model=SampleResponse,
    summary="Choose the offer for a click",
    openapi_extra=query_parameters(SampleQuery),
    responses={
        **INVALID_QUERY,
        **keyed(Role.traffic),
        409: error(
            "Click id already decided with an offer not listed now, or every listed offer is paused or capped."
        ),
    },
)
@hot
async def sample(request: Request) -> Response:
    """Picks one of `offer_ids` for the click and records it as pending; the same click id
    again (a retry) gets the same offer and counts nothing twice."""
    authorize(request, Role.traffic)
    query = parse_query(SampleQuery, request, max_offers=request.app.state.settings.max_offers)
    decision = await click_path_of(request).decide(query.click_id, query.offer_ids, query.policy(), query.source)
    request.app.state.metrics.decided(decision)
    if not decision.recorded:  # the store is unreachable: a sound offer, not stored
        return json_response({"click_id": click_id_json(query.click_id), "offer_id": decision.offer_id, "recorded": False})
    return json_response({"click_id": click_id_json(query.click_id), "offer_id": decision.offer_id})


@router.put(
    "/feedback/",
    response_model=FeedbackResponse,
    summary="Report the outcome of a click",
    openapi_extra=query_parameters(FeedbackQuery),
    responses={
        **INVALID_QUERY,
        **keyed(Role.postback),
        404: error("Unknown click id."),
        409: error(
            "The click was already resolved with another reward (the stored outcome is returned), or postbacks"
            " decide its outcome.",
            FeedbackConflict,
        ),
    },
)
@hot
async def feedback(request: Request) -> Response:
    """Resolves the click with its reward, once: the same feedback again answers the same and
    changes nothing; another reward for a resolved click is refused with 409."""
    authorize(request, Role.postback)
    query = parse_query(FeedbackQuery, request)
    outcome, applied = await click_path_of(request).feedback(query.click_id, to_micros(query.reward))
    if applied:
        request.app.state.metrics.feedback(outcome)
    return json_response(
        {
            "click_id": click_id_json(query.click_id),
            "offer_id": outcome.offer_id,
            "is_conversion": outcome.is_conversion,
            "reward": from_micros(outcome.reward_micros),
        }
    )


@router.get(
    "/offer_ids/{offer_id}/stats/",
    response_model=StatsResponse,
    summary="Counters of one offer",
    **guarded(Role.read),
)
async def offer_stats(
    request: Request,
    offer_id: Annotated[int, Path(ge=0, le=MAX_OFFER_ID, examples=[2])],
    source: SourceQuery = None,
) -> dict:
    """Lifetime counters of an offer (on one traffic source, or all pooled); an offer never
    seen has all-zero stats."""
    stats = await patiently(service_of(request).offer_stats, offer_id, source)
    return {
        "offer_id": stats.offer_id,
        "clicks": stats.clicks,
        "conversions": stats.conversions,
        "reward": stats.reward,
        "cr": stats.cr,
        "rpc": stats.rpc,
    }
