"""``GET /metrics``: Prometheus' scrape target, behind the read role like the other reports."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ..keys import Role
from .deps import guarded

router = APIRouter(tags=["operations"])


# Left out of the OpenAPI schema: it is Prometheus' text format, not an API for clients.
# A plain ``def``: FastAPI runs it in a worker thread, where reading the store and the other
# workers' metric files may take its time without holding up the event loop.
@router.get("/metrics", include_in_schema=False, **guarded(Role.read))
def metrics(request: Request) -> Response:
    """Every metric of the service, summed over its worker processes; pending clicks and
    postbacks as the store counts them."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
