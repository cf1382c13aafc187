"""The offer registry: declared payouts, names and statuses, set by the admin."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..caps import valid_timezone
from ..domain import Offer
from ..ids import MAX_OFFER_ID
from ..money import MAX_AMOUNT, from_micros, representable, to_micros
from ..keys import Role
from ..clickpath.path import patiently
from .deps import guarded, service_of
from .responses import error

router = APIRouter(tags=["offers"])

OfferIdPath = Annotated[int, Path(ge=0, le=MAX_OFFER_ID, examples=[7])]


class OfferIn(BaseModel):
    """The whole registry entry: a PUT replaces it, omitted fields take their defaults."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200, examples=["Casino DE — SOI"])
    payout: Annotated[float | None, AfterValidator(representable)] = Field(
        None,
        ge=0,
        le=MAX_AMOUNT,
        allow_inf_nan=False,
        description="Declared payout per conversion: the prior for the offer's payout until its own conversions speak"
        " (in micro-units: at least 0.000001 when positive).",
        examples=[25.0],
    )
    status: Literal["active", "paused"] = Field("active", description="A paused offer is never chosen.")
    cap_daily: int | None = Field(
        None, ge=1, description="Most conversions per day (offer's time zone); a capped offer is not chosen."
    )
    cap_monthly: int | None = Field(None, ge=1, description="Most conversions per calendar month (offer's time zone).")
    timezone: Annotated[str, AfterValidator(valid_timezone)] = Field(
        "UTC", description="IANA time zone of the caps' days and months.", examples=["Europe/Berlin"]
    )
    multiple_conversions: bool = Field(
        False, description="Accept more than one conversion per click (upsells, rebills: new transaction ids)."
    )

    def offer(self, offer_id: int) -> Offer:
        return Offer(
            offer_id,
            name=self.name,
            payout_micros=None if self.payout is None else to_micros(self.payout),
            status=self.status,
            cap_daily=self.cap_daily,
            cap_monthly=self.cap_monthly,
            timezone=self.timezone,
            multiple_conversions=self.multiple_conversions,
        )


class OfferOut(BaseModel):
    offer_id: int
    name: str | None
    payout: float | None
    status: str
    cap_daily: int | None
    cap_monthly: int | None
    timezone: str
    multiple_conversions: bool
    capped_until: float | None = Field(
        description="Unix time at which an offer at its cap returns to rotation; null when not capped now."
    )
    updated_at: float = Field(description="Unix time of the last change.")

    @classmethod
    def of(cls, offer: Offer, now: float) -> OfferOut:
        return cls(
            offer_id=offer.offer_id,
            name=offer.name,
            payout=None if offer.payout_micros is None else from_micros(offer.payout_micros),
            status=offer.status,
            cap_daily=offer.cap_daily,
            cap_monthly=offer.cap_monthly,
            timezone=offer.timezone,
            multiple_conversions=offer.multiple_conversions,
            capped_until=offer.capped_until if offer.capped(now) else None,
            updated_at=offer.updated_at,
        )


class OfferList(BaseModel):
    offers: list[OfferOut]


@router.put(
    "/offers/{offer_id}",
    response_model=OfferOut,
    summary="Declare an offer (admin)",
    **guarded(Role.admin, {400: error("The body is not JSON.")}),
)
async def put_offer(request: Request, offer_id: OfferIdPath, body: OfferIn) -> OfferOut:
    """Creates or replaces the offer's registry entry. Offers need no entry to be served.
    Conversions already counted in the current day and month still count against new caps."""
    service = service_of(request)
    return OfferOut.of(await patiently(service.put_offer, body.offer(offer_id)), service.now())


@router.get(
    "/offers",
    response_model=OfferList,
    summary="The offer registry",
    **guarded(Role.read),
)
async def list_offers(request: Request) -> OfferList:
    service = service_of(request)
    return OfferList(offers=[OfferOut.of(offer, service.now()) for offer in service.offers()])


@router.get(
    "/offers/{offer_id}",
    response_model=OfferOut,
    summary="One registry entry",
    **guarded(Role.read, {404: error("The offer is not in the registry.")}),
)
async def get_offer(request: Request, offer_id: OfferIdPath) -> OfferOut:
    service = service_of(request)
    found = service.offers([offer_id])
    if not found:
        raise HTTPException(404, f"offer {offer_id} is not in the registry")
    return OfferOut.of(found[0], service.now())
