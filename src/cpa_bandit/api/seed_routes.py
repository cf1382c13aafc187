"""The seed's three routes, with the seed's parameter names, defaults and response shapes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from ..domain import InvalidRequest
from ..ids import CLICK_ID_PATTERN, MAX_OFFER_ID, InvalidId, click_id_json, parse_offer_ids
from ..money import MAX_AMOUNT, InvalidAmount, from_micros, to_micros
from ..policies import PolicyParams, Sampler
from .deps import AppSettings, Service

router = APIRouter(tags=["seed"])

ClickIdQuery = Annotated[
    str,
    Query(
        pattern=CLICK_ID_PATTERN,
        description="The click's id: 1-64 characters of `[A-Za-z0-9._:-]` (tracker click ids work).",
        examples=["1001"],
    ),
]


class SampleResponse(BaseModel):
    click_id: int | str = Field(description="As sent; an integer when it is one.", examples=[1001])
    offer_id: int = Field(examples=[2])


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


class ErrorResponse(BaseModel):
    detail: str


@router.get(
    "/sample/",
    response_model=SampleResponse,
    summary="Choose the offer for a click",
    responses={409: {"model": ErrorResponse, "description": "Click id already decided with an offer not listed now."}},
)
async def sample(
    service: Service,
    settings: AppSettings,
    click_id: ClickIdQuery,
    offer_ids: Annotated[
        str, Query(description="Comma-separated eligible offer ids (integers).", examples=["1,2,3"])
    ],
    sampler: Annotated[Sampler, Query(description="`ucb` or `thompson`.")] = Sampler.ucb,
    ucb_c: Annotated[
        float, Query(ge=0, allow_inf_nan=False, description="UCB exploration scale; 0 = greedy.")
    ] = 1.0,
    thompson_a: Annotated[
        float, Query(gt=0, allow_inf_nan=False, description="Beta prior successes for Thompson.")
    ] = 1.0,
    thompson_b: Annotated[
        float, Query(gt=0, allow_inf_nan=False, description="Beta prior failures for Thompson.")
    ] = 1.0,
    source: Annotated[
        str | None,
        Query(pattern=CLICK_ID_PATTERN, description="Traffic source id, recorded with the click.", examples=["src-7"]),
    ] = None,
) -> dict:
    """Picks one of `offer_ids` for the click and records it as pending; the same click id
    again (a retry) gets the same offer and counts nothing twice."""
    try:
        offers = parse_offer_ids(offer_ids, settings.max_offers)
    except InvalidId as exc:
        raise InvalidRequest(str(exc), field="offer_ids") from None
    params = PolicyParams(sampler, ucb_c, thompson_a, thompson_b)
    decision = service.decide(click_id, offers, params, source)
    return {"click_id": click_id_json(click_id), "offer_id": decision.offer_id}


@router.put(
    "/feedback/",
    response_model=FeedbackResponse,
    summary="Report the outcome of a click",
    responses={
        404: {"model": ErrorResponse, "description": "Unknown click id."},
        409: {"description": "The click was already resolved with another reward; the stored outcome is returned."},
    },
)
async def feedback(
    service: Service,
    click_id: ClickIdQuery,
    reward: Annotated[
        float,
        Query(ge=0, le=MAX_AMOUNT, allow_inf_nan=False, description="Revenue of the click; 0 = no conversion.", examples=[12.5]),
    ],
) -> dict:
    """Resolves the click with its reward, once: the same feedback again answers the same and
    changes nothing; another reward for a resolved click is refused with 409."""
    try:
        micros = to_micros(reward)
    except InvalidAmount as exc:
        raise InvalidRequest(f"reward {exc}", field="reward") from None
    outcome = service.feedback(click_id, micros)
    return {
        "click_id": click_id_json(click_id),
        "offer_id": outcome.offer_id,
        "is_conversion": outcome.is_conversion,
        "reward": from_micros(outcome.reward_micros),
    }


@router.get("/offer_ids/{offer_id}/stats/", response_model=StatsResponse, summary="Counters of one offer")
async def offer_stats(
    service: Service, offer_id: Annotated[int, Path(ge=0, le=MAX_OFFER_ID, examples=[2])]
) -> dict:
    """Lifetime counters of an offer; an offer never seen has all-zero stats."""
    stats = service.offer_stats(offer_id)
    return {
        "offer_id": stats.offer_id,
        "clicks": stats.clicks,
        "conversions": stats.conversions,
        "reward": stats.reward,
        "cr": stats.cr,
        "rpc": stats.rpc,
    }
