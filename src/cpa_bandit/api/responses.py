"""The error answers routes declare in the OpenAPI schema, which clients generate code from:
every status a route can answer is listed there with its body; and the JSON answer of the
hot routes."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field
from starlette.responses import Response

from ..keys import Role


class ErrorResponse(BaseModel):
    detail: str


class InvalidParameter(BaseModel):
    loc: list[str | int] = Field(description="Where: `query` and the parameter's name.")
    msg: str
    type: str


class InvalidParameters(BaseModel):
    detail: list[InvalidParameter]


class Refusal(BaseModel):
    detail: str
    reason: str = Field(description="Why, as counted in `GET /postbacks/stats` (e.g. `unreplaced_macro`).")


def error(description: str, model: type[BaseModel] = ErrorResponse) -> dict[str, Any]:
    return {"model": model, "description": description}


INVALID_QUERY = {422: error("Invalid parameters, one entry per bad parameter; nothing changed.", InvalidParameters)}


def keyed(role: Role) -> dict[int, dict[str, Any]]:
    """401 and 403 of a route that needs a key with ``role``."""
    return {
        401: error("No API key, or an unknown one."),
        403: error(f"The key's role does not include {role}; or no {role} key exists and the client is not local."),
    }


def json_response(content: dict[str, Any]) -> Response:
    """A compact JSON answer, built without FastAPI's response-model pass: the hot routes
    build their bodies from validated values already."""
    return Response(json.dumps(content, separators=(",", ":")), media_type="application/json")
