"""What routes take from the application: its service, click path and settings, and the key check.

Dependencies are ``async`` on purpose: FastAPI runs a plain ``def`` dependency in its thread
pool, a hop that costs more than the whole decision.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request

from ..clickpath.path import ClickPath
from ..config import Settings
from ..keys import KeyRing, Role, is_loopback
from ..service import BanditService
from .responses import keyed


def service_of(request: Request) -> BanditService:
    """The app's service, for endpoints that take the bare request."""
    return request.app.state.service


def click_path_of(request: Request) -> ClickPath:
    """The app's click path (decisions, feedback and postbacks through its group commit)."""
    return request.app.state.click_path


async def get_service(request: Request) -> BanditService:
    return service_of(request)


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


Service = Annotated[BanditService, Depends(get_service)]
AppSettings = Annotated[Settings, Depends(get_settings)]


LOCAL_CLIENTS = frozenset({"127.0.0.1", "::1", "testclient"})
"""The usual loopback client addresses, checked before parsing one (``testclient``:
Starlette's TestClient, which runs in process)."""


CHALLENGES = ('Basic realm="cpa-bandit"', "Bearer")
"""The ``WWW-Authenticate`` headers of a 401, one per scheme and Basic first: a browser
opening the dashboard then asks for the key (as the password). Chromium does not answer
the two schemes combined in one header."""


class Unauthorized(HTTPException):
    """A 401 with one ``WWW-Authenticate`` header per scheme (``errors.py`` answers it)."""

    def __init__(self, detail: str) -> None:
        super().__init__(401, detail)


def _presented_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization`` header: ``Bearer <key>``, or HTTP Basic with the key
    as the password (any user name), which is what a browser can send by itself."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(credentials.strip(), validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return ""  # presented, and wrong
    return None


def authorize(request: Request, role: Role) -> None:
    """Let the request through if it carries a key with ``role`` (admin keys have every
    role): 401 for a missing or unknown key, 403 for a key of another role. A role that no
    key is configured for is open to loopback clients only (and admin routes are then
    disabled): an unkeyed service is a local one, and the seed's clients keep working there."""
    keys: KeyRing = request.app.state.keys
    headers = request.headers
    given = headers.get("x-api-key") or headers.get("x-admin-key") or _presented_key(headers.get("authorization"))
    if given is not None:  # "" is a presented key that is wrong: unreadable Basic, empty Bearer
        roles = keys.roles_of(given)
        if not roles:
            raise Unauthorized("invalid API key")
        if role not in roles:
            raise HTTPException(403, f"this key's role may not use this route (it needs {role})")
        return
    if keys.has_key_for(role):
        raise Unauthorized("API key required in X-API-Key, Authorization: Bearer, or as the Basic password")
    if role is Role.admin:
        raise HTTPException(403, "admin routes are disabled: no admin key is configured (CPA_BANDIT_KEYS or CPA_BANDIT_ADMIN_KEY)")
    client = request.client.host if request.client else None
    if client not in LOCAL_CLIENTS and not is_loopback(client):
        raise HTTPException(403, f"no {role} key is configured: this route serves loopback clients only")


ApiKeyHeader = Annotated[str | None, Header(description="An API key with the route's role, or an admin key.")]
BearerHeader = Annotated[
    str | None, Header(description="`Bearer <API key>`, or Basic with the key as the password, instead of X-API-Key.")
]


def require(role: Role) -> Callable[[Request], Awaitable[None]]:
    """A route dependency that authorizes ``role`` (documented as the API key headers)."""

    async def dependency(request: Request, x_api_key: ApiKeyHeader = None, authorization: BearerHeader = None) -> None:
        authorize(request, role)

    return dependency


def guarded(role: Role, responses: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Route arguments for a route that needs ``role``: the check, and the 401 and 403 it
    may answer declared beside the route's own ``responses``."""
    return {"dependencies": [Depends(require(role))], "responses": {**keyed(role), **(responses or {})}}
