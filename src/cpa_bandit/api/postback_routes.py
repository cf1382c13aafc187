"""Tracker postbacks: ``GET``/``POST`` ``/postback`` and the paths trackers' templates use."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..domain import PostbackRefused
from ..ids import click_id_json
from ..money import from_micros
from ..postbacks import DEFAULT_ALIASES, check_token, parse_postback
from .deps import service_of

router = APIRouter(tags=["postbacks"])

PATHS = ("/postback", "/postback.php", "/click.php")
"""``/click.php`` is where Binom's template sends its conversions."""

MAX_FORM_BYTES = 16_384
"""A postback form is a few hundred bytes; anything far larger is not one."""

_FORM = "application/x-www-form-urlencoded"


class PostbackResponse(BaseModel):
    status: str = Field("ok", examples=["ok"])
    click_id: int | str = Field(examples=["k3j4h5g6f7d8s9a0q"])
    offer_id: int = Field(examples=[7])
    transaction_id: str = Field(description="'' when the postback named none.", examples=["52949935"])
    conversion_status: str = Field(description="pending | approved | rejected | chargeback", examples=["approved"])
    previous_status: str | None = Field(description="Before this postback; null when it created the conversion.")
    duplicate: bool = Field(description="The conversion already had this status: nothing changed.")
    payout: float = Field(examples=[21.0])


class PostbackCounts(BaseModel):
    applied: int = Field(description="Postbacks that created or moved a conversion.")
    duplicate: int = Field(description="Postbacks that repeated a conversion's status: nothing changed.")
    refused: dict[str, int] = Field(description="Refused postbacks by reason (e.g. unreplaced_macro, unknown_click).")


async def _params(request: Request) -> list[tuple[str, str]]:
    """The query string's pairs, and a POST form's after them."""
    params = list(request.query_params.multi_items())
    if request.method == "POST":
        body = await request.body()
        content_type = request.headers.get("content-type", _FORM).split(";")[0].strip().lower()
        if body and content_type != _FORM:
            raise PostbackRefused("bad_form", f"a POST postback is a form ({_FORM})", status_code=415)
        if len(body) > MAX_FORM_BYTES:
            raise PostbackRefused("bad_form", f"a postback form is at most {MAX_FORM_BYTES} bytes", status_code=413)
        params += parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return params


async def postback(request: Request) -> PostbackResponse:
    service = service_of(request)
    fmt = request.app.state.postback_format
    try:
        params = await _params(request)
        check_token(params, fmt)
        parsed = parse_postback(params, fmt)
    except PostbackRefused as refusal:
        await run_in_threadpool(service.refuse_postback, refusal)
    # a transaction may wait on another worker's lock: off the event loop
    result = await run_in_threadpool(service.postback, parsed)
    conversion = result.conversion
    return PostbackResponse(
        click_id=click_id_json(conversion.click_id),
        offer_id=conversion.offer_id,
        transaction_id=conversion.transaction_id,
        conversion_status=str(conversion.status),
        previous_status=None if result.previous is None else str(result.previous),
        duplicate=not result.changed,
        payout=from_micros(conversion.payout_micros),
    )


_ALIASES = ", ".join(f"`{alias}`→{name}" for alias, name in DEFAULT_ALIASES.items())
postback.__doc__ = f"""A tracker's server-to-server conversion report, as its template sends it.

Parameters by alias (configurable): {_ALIASES}; plus the secret `token` when one is set.
No status = an approved conversion; no payout = the offer's declared payout (else 0).
The same postback again answers 200 with `duplicate: true` and changes nothing. Refusals are
4xx with a `reason` (counted in `GET /postbacks/stats`): `bad_token` 403, `unknown_click` 404,
`disallowed_move` and `multiple_conversions` 409, malformed values 422."""

for path in PATHS:
    for method in ("GET", "POST"):
        router.add_api_route(
            path,
            postback,
            methods=[method],
            response_model=PostbackResponse,
            summary=f"Conversion postback (S2S, {'query string' if method == 'GET' else 'form'})",
            include_in_schema=path == PATHS[0],
            operation_id=f"postback_{method.lower()}",
        )


@router.get("/postbacks/stats", response_model=PostbackCounts, summary="Postbacks by outcome")
def postback_counts(request: Request) -> PostbackCounts:
    """How many postbacks were applied, duplicates, and refused by reason, since the last
    reset: a reason that keeps growing is a tracker template to fix."""
    counts = service_of(request).postback_counts()
    return PostbackCounts(
        applied=counts.get("applied", 0),
        duplicate=counts.get("duplicate", 0),
        refused={key.removeprefix("refused:"): n for key, n in sorted(counts.items()) if key.startswith("refused:")},
    )
