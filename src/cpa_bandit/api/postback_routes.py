"""Tracker postbacks: ``GET``/``POST`` ``/postback`` and the paths trackers' templates use."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..domain import PostbackRefused
from ..ids import CLICK_ID_PATTERN, click_id_json
from ..money import from_micros
from ..keys import Role
from ..postbacks import DEFAULT_ALIASES, PostbackFormat, parse_postback, token_matches
from ..clickpath.front import hot
from .deps import authorize, click_path_of, guarded, service_of
from .responses import Refusal, error, json_response

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

    @classmethod
    def of(cls, counts: dict[str, int]) -> PostbackCounts:
        """From the store's counts by outcome ("applied", "duplicate", "refused:<reason>")."""
        return cls(
            applied=counts.get("applied", 0),
            duplicate=counts.get("duplicate", 0),
            refused={key.removeprefix("refused:"): n for key, n in sorted(counts.items()) if key.startswith("refused:")},
        )


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


def _authorize(request: Request, params: list[tuple[str, str]], fmt: PostbackFormat) -> None:
    """The URL token (trackers cannot set headers) or an API key with the postback role."""
    matches = token_matches(params, fmt)
    if matches:
        return
    if matches is False and not any(h in request.headers for h in ("x-api-key", "x-admin-key", "authorization")):
        raise PostbackRefused("bad_token", f"missing or wrong {fmt.token_param!r}", status_code=403)
    try:
        authorize(request, Role.postback)
    except HTTPException as exc:
        raise PostbackRefused("unauthorized", str(exc.detail), status_code=exc.status_code) from None


@hot
async def postback(request: Request) -> Response:
    service = service_of(request)
    fmt = request.app.state.postback_format
    try:
        params = await _params(request)
        _authorize(request, params, fmt)
        parsed = parse_postback(params, fmt)
    except PostbackRefused as refusal:
        await run_in_threadpool(service.refuse_postback, refusal)
    result = await click_path_of(request).postback(parsed)
    request.app.state.metrics.postback(result)
    conversion = result.conversion
    answer = PostbackResponse(
        click_id=click_id_json(conversion.click_id),
        offer_id=conversion.offer_id,
        transaction_id=conversion.transaction_id,
        conversion_status=str(conversion.status),
        previous_status=None if result.previous is None else str(result.previous),
        duplicate=not result.changed,
        payout=from_micros(conversion.payout_micros),
    )
    return json_response(answer.model_dump(mode="json"))


_ALIASES = ", ".join(f"`{alias}`→{name}" for alias, name in DEFAULT_ALIASES.items())
postback.__doc__ = f"""A tracker's server-to-server conversion report, as its template sends it.

Parameters by alias (configurable): {_ALIASES}; plus the secret `token` when one is set.
No status = an approved conversion; no payout = the offer's declared payout (else 0).
The same postback again answers 200 with `duplicate: true` and changes nothing. Refusals are
4xx with a `reason` (counted in `GET /postbacks/stats`): `bad_token` 403, `unknown_click` 404,
`disallowed_move` and `multiple_conversions` 409, malformed values 422."""

REFUSALS = {
    401: error("A key was sent but is unknown (`reason`: unauthorized).", Refusal),
    403: error("No valid token nor postback key (`bad_token`, `unauthorized`).", Refusal),
    404: error("Unknown click id (`unknown_click`).", Refusal),
    409: error("A status move the lifecycle forbids, or a second conversion on a one-conversion offer.", Refusal),
    413: error("A form over 16 KiB (`bad_form`).", Refusal),
    415: error("A POST body that is not a form (`bad_form`).", Refusal),
    422: error("A malformed postback: macro, click id, payout, status, currency (`reason` says which).", Refusal),
    503: error("The store cannot take it now: retry."),
}

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
            responses=REFUSALS,
        )


@router.get(
    "/postbacks/stats",
    response_model=PostbackCounts,
    summary="Postbacks by outcome",
    **guarded(Role.read),
)
def postback_counts(request: Request) -> PostbackCounts:
    """How many postbacks were applied, duplicates, and refused by reason, since the last
    reset: a reason that keeps growing is a tracker template to fix."""
    return PostbackCounts.of(service_of(request).postback_counts())


class ConversionOut(BaseModel):
    transaction_id: str
    status: str
    raw_status: str | None = Field(description="As the tracker sent it (`feedback` for a /feedback/ reward).")
    payout: float
    event: str | None
    created_at: float
    updated_at: float


class ClickOut(BaseModel):
    click_id: int | str
    offer_id: int
    source: str | None
    decided_at: float
    params: dict[str, float | str] = Field(description="The sampler and its parameters at the decision.")
    state: str = Field(description="`pending`, `resolved` or `expired` (window passed without an outcome).")
    reward: float | None = Field(description="Approved revenue; null while unresolved.")
    conversions: int
    pending_conversions: int
    pending_reward: float
    postbacks: list[ConversionOut] = Field(description="Conversions reported by postback, oldest first.")


@router.get(
    "/clicks/{click_id}",
    response_model=ClickOut,
    summary="One click and its conversions",
    **guarded(Role.read, {404: error("No decision was recorded for this click id.")}),
)
def click(request: Request, click_id: Annotated[str, Path(pattern=CLICK_ID_PATTERN)]) -> ClickOut:
    """The decision and every conversion reported for a click: where to look when a tracker
    says a conversion was sent and the counters disagree."""
    record = service_of(request).click(click_id)
    decision, totals = record.decision, record.totals
    state = "resolved" if totals.reward_micros is not None else "expired" if record.expired else "pending"
    return ClickOut(
        click_id=click_id_json(click_id),
        offer_id=decision.offer_id,
        source=decision.source,
        decided_at=decision.created_at,
        params=decision.params,
        state=state,
        reward=None if totals.reward_micros is None else from_micros(totals.reward_micros),
        conversions=totals.conversions,
        pending_conversions=totals.pending_conversions,
        pending_reward=from_micros(totals.pending_reward_micros),
        postbacks=[
            ConversionOut(
                transaction_id=c.transaction_id,
                status=str(c.status),
                raw_status=c.raw_status,
                payout=from_micros(c.payout_micros),
                event=c.event,
                created_at=c.created_at,
                updated_at=c.updated_at,
            )
            for c in record.conversions
        ],
    )
