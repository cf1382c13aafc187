"""The offer registry: declared payouts, names and statuses, set by the admin."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from ..domain import Offer
from ..ids import MAX_OFFER_ID
from ..money import MAX_AMOUNT, from_micros, to_micros
from .deps import require_admin, service_of

router = APIRouter(tags=["offers"])

OfferIdPath = Annotated[int, Path(ge=0, le=MAX_OFFER_ID, examples=[7])]


class OfferIn(BaseModel):
    """The whole registry entry: a PUT replaces it, omitted fields take their defaults."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200, examples=["Casino DE — SOI"])
    payout: float | None = Field(
        None,
        ge=0,
        le=MAX_AMOUNT,
        allow_inf_nan=False,
        description="Declared payout per conversion: the prior for the offer's payout until its own conversions speak.",
        examples=[25.0],
    )
    status: Literal["active", "paused"] = Field("active", description="A paused offer is never chosen.")


class OfferOut(BaseModel):
    offer_id: int
    name: str | None
    payout: float | None
    status: str
    updated_at: float = Field(description="Unix time of the last change.")

    @classmethod
    def of(cls, offer: Offer) -> OfferOut:
        payout = None if offer.payout_micros is None else from_micros(offer.payout_micros)
        return cls(offer_id=offer.offer_id, name=offer.name, payout=payout, status=offer.status, updated_at=offer.updated_at)


class OfferList(BaseModel):
    offers: list[OfferOut]


@router.put(
    "/offers/{offer_id}",
    response_model=OfferOut,
    summary="Declare an offer (admin)",
    dependencies=[Depends(require_admin)],
)
async def put_offer(request: Request, offer_id: OfferIdPath, body: OfferIn) -> OfferOut:
    """Creates or replaces the offer's registry entry. Offers need no entry to be served."""
    payout = None if body.payout is None else to_micros(body.payout)
    return OfferOut.of(service_of(request).put_offer(offer_id, body.name, payout, body.status))


@router.get("/offers", response_model=OfferList, summary="The offer registry")
async def list_offers(request: Request) -> OfferList:
    return OfferList(offers=[OfferOut.of(offer) for offer in service_of(request).offers()])


@router.get("/offers/{offer_id}", response_model=OfferOut, summary="One registry entry")
async def get_offer(request: Request, offer_id: OfferIdPath) -> OfferOut:
    found = service_of(request).offers([offer_id])
    if not found:
        raise HTTPException(404, f"offer {offer_id} is not in the registry")
    return OfferOut.of(found[0])
