"""Query strings of the hot routes, validated into one pydantic model in one call.

FastAPI's per-parameter machinery costs more than a whole bandit decision, so `/sample/`
and `/feedback/` take the raw request, validate its query string with one model, and
document their parameters from the same model. Errors keep FastAPI's 422 shape.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)

_SCHEMA_ONLY_KEYS = {"title", "description", "examples"}


LISTS = ("offer_ids",)
"""Parameters that may be repeated (``offer_ids=1&offer_ids=2``, as Python's ``requests``
sends a list) and mean the comma list of their values in order."""


def query_dict(request: Request) -> dict[str, str]:
    """The query string as a plain dict (it validates faster than Starlette's multi-dict):
    the last value of a repeated parameter, except for ``LISTS``, whose values are joined."""
    params = request.query_params
    query = dict(params)
    for name in LISTS:
        if request.scope["query_string"].count(name.encode() + b"=") > 1 and len(values := params.getlist(name)) > 1:
            query[name] = ",".join(values)
    return query


def parse_query(model: type[Model], request: Request, **context: Any) -> Model:
    try:
        return model.model_validate(query_dict(request), context=context)
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("query", *error["loc"])}
            for error in exc.errors(include_url=False, include_context=False)
        ]
        raise RequestValidationError(errors) from None


def invalid_query(field: str, message: str, value: object) -> RequestValidationError:
    """A 422 in FastAPI's shape for a query parameter checked by hand."""
    return RequestValidationError([{"type": "value_error", "loc": ("query", field), "msg": message, "input": value}])


def query_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI ``parameters`` of an operation whose query string is ``model``."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema["properties"].items():
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in prop.items() if k not in _SCHEMA_ONLY_KEYS},
        }
        if "description" in prop:
            parameter["description"] = prop["description"]
        if prop.get("examples"):
            parameter["example"] = prop["examples"][0]
        parameters.append(parameter)
    return {"parameters": parameters}
