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


def parse_query(model: type[Model], request: Request, **context: Any) -> Model:
    try:
        # a plain dict validates faster than Starlette's multi-dict (the last value wins)
        return model.model_validate(dict(request.query_params), context=context)
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
