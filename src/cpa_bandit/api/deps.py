"""What routes take from the application: its service and settings, and the admin check.

Dependencies are ``async`` on purpose: FastAPI runs a plain ``def`` dependency in its thread
pool, a hop that costs more than the whole decision.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from ..config import Settings
from ..service import BanditService


def service_of(request: Request) -> BanditService:
    """The app's service, for endpoints that take the bare request."""
    return request.app.state.service


async def get_service(request: Request) -> BanditService:
    return service_of(request)


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


Service = Annotated[BanditService, Depends(get_service)]
AppSettings = Annotated[Settings, Depends(get_settings)]


async def require_admin(
    settings: AppSettings,
    x_admin_key: Annotated[str | None, Header(description="The admin key.")] = None,
    authorization: Annotated[str | None, Header(description="`Bearer <admin key>`.")] = None,
) -> None:
    """Admin routes are closed unless a key is configured, and then need that key."""
    if settings.admin_key is None:
        raise HTTPException(403, "admin routes are disabled: no CPA_BANDIT_ADMIN_KEY is configured")
    given = x_admin_key
    if given is None and authorization and authorization[:7].lower() == "bearer ":
        given = authorization[7:].strip()
    if given is None:
        raise HTTPException(
            401, "admin key required in X-Admin-Key or Authorization: Bearer",
            headers={"WWW-Authenticate": "Bearer"},
        )
    expected = settings.admin_key.get_secret_value().encode()
    if not hmac.compare_digest(given.encode(), expected):
        raise HTTPException(401, "invalid admin key", headers={"WWW-Authenticate": "Bearer"})
