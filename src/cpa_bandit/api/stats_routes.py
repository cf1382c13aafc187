"""Statistics for operators: every offer with what the model believes about it."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from ..ids import InvalidId, parse_offer_ids
from ..money import from_micros
from ..service import OfferReport
from ..keys import Role
from .deps import guarded, service_of
from .query import invalid_query
from .seed_routes import SourceQuery

router = APIRouter(tags=["stats"])


class OfferStatsRow(BaseModel):
    offer_id: int
    name: str | None = Field(description="From the offer registry.")
    status: Literal["active", "paused", "archived", "capped"] = Field(
        description="`archived` > `paused` > `capped` > `active`: the registry's status, but `capped` for an active"
        " offer at its conversion cap now; `active` when not registered. Only `active` offers are chosen."
    )
    capped_until: float | None = Field(
        description="Unix time at which an offer at its conversion cap returns to rotation; null when not capped now."
    )
    declared_payout: float | None = Field(description="From the offer registry.")
    clicks: int = Field(description="Decisions that chose this offer.")
    pending: int = Field(description="Clicks with no feedback yet, within the attribution window.")
    resolved: int = Field(description="Clicks with feedback.")
    expired: int = Field(description="Clicks whose attribution window passed without feedback.")
    conversions: int = Field(description="Approved conversions.")
    reward: float = Field(description="Approved revenue.")
    pending_conversions: int = Field(description="Postback conversions awaiting approval (not learned from).")
    pending_reward: float = Field(description="Their revenue, if approved.")
    cr: float = Field(description="conversions / clicks.")
    rpc: float = Field(description="reward / clicks.")
    rpc_mean: float = Field(description="Posterior mean of revenue per click.")
    rpc_low: float = Field(description="5 % posterior quantile of revenue per click.")
    rpc_high: float = Field(description="95 % posterior quantile of revenue per click.")
    p_best: float = Field(
        description="Posterior probability that this offer has the highest revenue per click of the offers listed."
    )
    recent_share: float = Field(description="Share of the latest 1,000 decisions that chose this offer.")
    evidence_since: float | None = Field(
        description="Unix time from which the model learns from this offer's clicks: the change test found"
        " that its conversion rate changed then and forgot the evidence before (`rpc_mean` and its interval"
        " are since then; the counters above never forget). Null when it never changed."
    )


class StatsPage(BaseModel):
    source: str | None
    offers: list[OfferStatsRow]


def offer_row(report: OfferReport) -> OfferStatsRow:
    stats, counters, offer = report.stats, report.counters, report.offer
    return OfferStatsRow(
        offer_id=stats.offer_id,
        name=offer.name if offer else None,
        status=report.status,
        capped_until=report.capped_until,
        declared_payout=from_micros(offer.payout_micros) if offer and offer.payout_micros is not None else None,
        clicks=stats.clicks,
        pending=counters.pending,
        resolved=counters.resolved,
        expired=counters.expired,
        conversions=stats.conversions,
        reward=stats.reward,
        pending_conversions=counters.pending_conversions,
        pending_reward=from_micros(counters.pending_reward_micros),
        cr=stats.cr,
        rpc=stats.rpc,
        rpc_mean=report.rpc_mean,
        rpc_low=report.rpc_low,
        rpc_high=report.rpc_high,
        p_best=report.p_best,
        recent_share=report.recent_share,
        evidence_since=report.evidence_since or None,
    )


@router.get(
    "/stats/",
    response_model=StatsPage,
    summary="Every offer, with the model's view of it",
    **guarded(Role.read),
)
async def stats(
    request: Request,
    source: SourceQuery = None,
    offer_ids: Annotated[
        list[str] | None,
        Query(
            description="Comma-separated offer ids, or the parameter repeated (merged in order); omitted = every"
            " known offer.",
            examples=["1,2,3"],
        ),
    ] = None,
) -> StatsPage:
    """Counters of each offer (for one source, or pooled), pending and resolved clicks, the
    posterior mean and 90 % interval of its revenue per click, and its share of recent
    decisions."""
    ids = None
    if offer_ids is not None:
        listed = ",".join(offer_ids)
        try:
            ids = parse_offer_ids(listed, request.app.state.settings.max_offers)
        except InvalidId as exc:
            raise invalid_query("offer_ids", str(exc), listed) from None
    # a page over many offers takes a while (SQL over every offer, Monte Carlo): off the
    # event loop, so that decisions keep flowing while a dashboard polls
    reports = await asyncio.to_thread(service_of(request).report, ids, source)
    return StatsPage(source=source, offers=[offer_row(report) for report in reports])
