"""Hot routes served by Starlette directly and documented by FastAPI.

Even for an endpoint that takes the bare ``Request`` and returns a ``Response``, FastAPI's
request handling costs about 15 µs more than a Starlette route, a measurable share of a
whole decision (bench/RESULTS.md). Hot endpoints are therefore declared on an ``APIRouter``
as usual (their query model documented through ``query.query_parameters``), and this module
serves those same endpoint functions as Starlette routes while the OpenAPI schema is still
generated from the declarations.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.routing import Route


def include_lean_router(app: FastAPI, router: APIRouter) -> None:
    declared = [route for route in router.routes if isinstance(route, APIRoute)]
    for route in declared:
        lean = Route(route.path, route.endpoint, methods=list(route.methods), name=route.name, include_in_schema=False)
        # Starlette answers HEAD for every GET route; a HEAD /sample/ would record a click.
        lean.methods = set(route.methods)
        app.router.routes.append(lean)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=[*declared, *app.routes],
                tags=app.openapi_tags,
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
