"""Refusals as JSON: ``{"detail": "...", ...}`` with the status the domain error carries."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..domain import DomainError
from .deps import CHALLENGES, Unauthorized


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"Retry-After": "1"} if exc.status_code == 503 else None
    return JSONResponse({"detail": exc.detail, **exc.extra}, status_code=exc.status_code, headers=headers)


async def _unauthorized(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Unauthorized)
    response = JSONResponse({"detail": exc.detail}, status_code=401)
    response.raw_headers.extend((b"www-authenticate", challenge.encode()) for challenge in CHALLENGES)
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(Unauthorized, _unauthorized)
