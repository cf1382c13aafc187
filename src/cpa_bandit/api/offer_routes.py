"""The offer registry: declared payouts, names, statuses and caps, set by the admin."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..caps import valid_timezone
from ..domain import Offer
from ..ids import MAX_OFFER_ID
from ..smartlinks import MACROS, checked_url
from ..money import MAX_AMOUNT, from_micros, representable, to_micros
from ..keys import Role
from ..clickpath.path import patiently
from .deps import guarded, service_of
from .responses import error

router = APIRouter(tags=["offers"])

OfferIdPath = Annotated[int, Path(ge=0, le=MAX_OFFER_ID, examples=[7])]

DeclaredStatus = Literal["active", "paused", "archived"]
STATUS_DOC = (
    "`active`: in rotation; `paused`: never chosen, even when a click lists it; `archived`: paused for good"
    " (`DELETE /offers/{id}` sets it): never chosen, hidden from the dashboard's default view, its counters"
    " and history kept; set `active` again to bring it back."
)
SHOWN_STATUS_DOC = (
    "`archived` > `paused` > `capped` > `active`: the declared status, but `capped` for an active offer at its"
    " conversion cap now (back in rotation at `capped_until`, by itself). `capped` is never sent: a cap rests"
    " an offer, not the operator."
)
Name = Annotated[str | None, Field(max_length=200, examples=["Casino DE — SOI"])]
Payout = Annotated[
    Annotated[float, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False)] | None,
    AfterValidator(representable),
    Field(
        description="Declared payout per conversion: the prior for the offer's payout until its own conversions"
        " speak (in micro-units: at least 0.000001 when positive).",
        examples=[25.0],
    ),
]
CapDaily = Annotated[
    int | None, Field(ge=1, description="Most conversions per day (offer's time zone); a capped offer is not chosen.")
]
CapMonthly = Annotated[int | None, Field(ge=1, description="Most conversions per calendar month (offer's time zone).")]
TimeZone = Annotated[
    str,
    AfterValidator(valid_timezone),
    Field(description="IANA time zone of the caps' days and months.", examples=["Europe/Berlin"]),
]
Multiple = Annotated[
    bool, Field(description="Accept more than one conversion per click (upsells, rebills: new transaction ids).")
]


LandingUrl = Annotated[
    str | None,
    AfterValidator(checked_url),
    Field(
        description="The landing page, where `/go/` sends a visitor to whom this offer was chosen: an absolute"
        " http(s) URL whose macros " + ", ".join(f"`{{{name}}}`" for name in MACROS) + " are filled in per visitor"
        " (URL-encoded). An offer without one is left out of smartlinks.",
        examples=["https://lp.example.com/de?click={click_id}&pub={source}&s1={sub1}"],
    ),
]


class OfferIn(BaseModel):
    """The whole registry entry: a PUT replaces it, omitted fields take their defaults
    (`PATCH` changes some fields and keeps the others)."""

    model_config = ConfigDict(extra="forbid")

    name: Name = None
    payout: Payout = None
    status: DeclaredStatus = Field("active", description=STATUS_DOC)
    cap_daily: CapDaily = None
    cap_monthly: CapMonthly = None
    timezone: TimeZone = "UTC"
    multiple_conversions: Multiple = False
    url: LandingUrl = None

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
            url=self.url,
        )


def _absent_is_unchanged(schema: dict[str, Any]) -> None:
    """A patch's fields have no default: one left out is kept as it is."""
    for field in schema.get("properties", {}).values():
        field.pop("default", None)


class OfferPatch(BaseModel):
    """Some fields of a registry entry (JSON Merge Patch, RFC 7396): the fields sent change,
    the others are kept; `null` clears a nullable field (`name`, `payout`, `cap_daily`,
    `cap_monthly`, `url`). `status`, `timezone` and `multiple_conversions` cannot be null."""

    # a field without None in its type takes None as its default but refuses a null sent:
    # pydantic validates what is sent, not defaults, and ``model_fields_set`` tells them apart
    model_config = ConfigDict(extra="forbid", json_schema_extra=_absent_is_unchanged)

    name: Name = None
    payout: Payout = None
    status: DeclaredStatus = Field(None, description=STATUS_DOC)  # type: ignore[assignment]
    cap_daily: CapDaily = None
    cap_monthly: CapMonthly = None
    timezone: TimeZone = None  # type: ignore[assignment]
    multiple_conversions: Multiple = None  # type: ignore[assignment]
    url: LandingUrl = None

    def changes(self) -> dict[str, object]:
        """The sent fields as ``Offer`` fields."""
        changes: dict[str, object] = {name: getattr(self, name) for name in self.model_fields_set}
        if "payout" in changes:
            payout = changes.pop("payout")
            changes["payout_micros"] = None if payout is None else to_micros(payout)  # type: ignore[arg-type]
        return changes


class OfferOut(BaseModel):
    offer_id: int
    name: str | None
    payout: float | None
    status: Literal["active", "paused", "archived", "capped"] = Field(description=SHOWN_STATUS_DOC)
    cap_daily: int | None
    cap_monthly: int | None
    timezone: str
    multiple_conversions: bool
    url: str | None = Field(description="The landing URL template (see `OfferIn.url`).")
    capped_until: float | None = Field(
        description="Unix time at which an offer at its cap returns to rotation; null when not capped now"
        " (set whenever the cap rests it, also while it is paused or archived)."
    )
    updated_at: float = Field(description="Unix time of the last change.")

    @classmethod
    def of(cls, offer: Offer, now: float) -> OfferOut:
        return cls(
            offer_id=offer.offer_id,
            name=offer.name,
            payout=None if offer.payout_micros is None else from_micros(offer.payout_micros),
            status=offer.status_at(now),  # type: ignore[arg-type]
            cap_daily=offer.cap_daily,
            cap_monthly=offer.cap_monthly,
            timezone=offer.timezone,
            multiple_conversions=offer.multiple_conversions,
            url=offer.url,
            capped_until=offer.capped_until if offer.capped(now) else None,
            updated_at=offer.updated_at,
        )


class OfferList(BaseModel):
    offers: list[OfferOut]


NOT_REGISTERED = {404: error("The offer is not in the registry; `PUT /offers/{offer_id}` declares it.")}


def _not_registered(offer_id: int) -> HTTPException:
    return HTTPException(404, f"offer {offer_id} is not in the registry; PUT /offers/{offer_id} declares it")


@router.put(
    "/offers/{offer_id}",
    response_model=OfferOut,
    summary="Declare an offer (admin)",
    **guarded(Role.admin, {400: error("The body is not JSON.")}),
)
async def put_offer(request: Request, offer_id: OfferIdPath, body: OfferIn) -> OfferOut:
    """Creates or replaces the offer's registry entry: the whole entry, so a field left out
    takes its default (`timezone` UTC, no caps…); `PATCH` changes some fields only. Offers
    need no entry to be served. Conversions already counted in the current day and month
    still count against new caps."""
    service = service_of(request)
    return OfferOut.of(await patiently(service.put_offer, body.offer(offer_id)), service.now())


@router.patch(
    "/offers/{offer_id}",
    response_model=OfferOut,
    summary="Change some fields of an offer (admin)",
    # RFC 7396's media type beside application/json: FastAPI reads any application/*+json
    openapi_extra={
        "requestBody": {
            "content": {"application/merge-patch+json": {"schema": {"$ref": "#/components/schemas/OfferPatch"}}}
        }
    },
    **guarded(Role.admin, {400: error("The body is not JSON."), **NOT_REGISTERED}),
)
async def patch_offer(request: Request, offer_id: OfferIdPath, body: OfferPatch) -> OfferOut:
    """JSON Merge Patch (RFC 7396; sent as `application/merge-patch+json` or
    `application/json`): the fields sent change, every other one keeps its value (`timezone`
    included); `null` clears a nullable field, e.g. `{"cap_daily": null}` removes the daily
    cap. An unknown field, or `null` for `status`, `timezone` or `multiple_conversions`, is a
    422 and changes nothing. An offer not in the registry is a 404, never created: `PUT`
    declares an entry. A patch that changes nothing keeps `updated_at`; the same patch again
    is answered alike."""
    service = service_of(request)
    stored = await patiently(service.patch_offer, offer_id, body.changes())
    if stored is None:
        raise _not_registered(offer_id)
    return OfferOut.of(stored, service.now())


@router.delete(
    "/offers/{offer_id}",
    response_model=OfferOut,
    summary="Archive an offer (admin)",
    **guarded(Role.admin, NOT_REGISTERED),
)
async def archive_offer(request: Request, offer_id: OfferIdPath) -> OfferOut:
    """Archives the offer, answering its entry: status `archived`, never chosen again (a
    click that lists only resting offers is a 409, as with paused ones), hidden from the
    dashboard unless "show archived" is ticked. Nothing is deleted: its counters, stats and
    history stay, `GET /offers/{id}` still answers, and `PATCH` (or `PUT`) with status
    `active` brings it back. Idempotent: archiving an archived offer answers 200 with the
    entry unchanged. An offer not in the registry is a 404."""
    service = service_of(request)
    stored = await patiently(service.archive_offer, offer_id)
    if stored is None:
        raise _not_registered(offer_id)
    return OfferOut.of(stored, service.now())


@router.get(
    "/offers",
    response_model=OfferList,
    summary="The offer registry",
    **guarded(Role.read),
)
async def list_offers(
    request: Request,
    include_archived: Annotated[
        bool, Query(description="List archived offers too (`false`: only active, paused and capped ones).")
    ] = True,
) -> OfferList:
    """Every registry entry, ascending by id, with its status (see `OfferOut.status`)."""
    service = service_of(request)
    now = service.now()
    return OfferList(
        offers=[
            OfferOut.of(offer, now) for offer in service.offers() if include_archived or not offer.archived
        ]
    )


@router.get(
    "/offers/{offer_id}",
    response_model=OfferOut,
    summary="One registry entry",
    **guarded(Role.read, {404: error("The offer is not in the registry.")}),
)
async def get_offer(request: Request, offer_id: OfferIdPath) -> OfferOut:
    """The entry, archived ones included."""
    service = service_of(request)
    found = service.offers([offer_id])
    if not found:
        raise HTTPException(404, f"offer {offer_id} is not in the registry")
    return OfferOut.of(found[0], service.now())
