"""Operations routes: health probe and the admin reset."""

from __future__ import annotations

from fastapi import APIRouter

from ..keys import Role
from ..clickpath.path import patiently
from .deps import Service, guarded
from .responses import error

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz", summary="Liveness and store reachability", responses={503: error("The store does not answer.")}
)
async def healthz(service: Service) -> dict:
    """200 when the store answers a read; 503 when it does not. ``unrecorded_decisions``
    counts the clicks this process answered without the store since it started."""
    await patiently(service.offer_stats, 0)
    return {"status": "ok", "unrecorded_decisions": service.unrecorded_decisions}


@router.post("/admin/reset", summary="Clear all state", **guarded(Role.admin))
async def reset(service: Service) -> dict:
    """Forgets every click and counter. Needs the admin key; start-up never does this."""
    await patiently(service.reset)
    return {"status": "reset"}
