"""Logs as one JSON object per line, with the id of the request being served.

Log shippers parse a JSON line without a pattern per message, and the request id ties a
request's lines together (and to the client, which gets it back in ``X-Request-ID``). The
standard library is enough: a :class:`JsonFormatter` and a ``dictConfig`` that uvicorn's
own loggers go through as well (:func:`log_config`).
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from typing import Any

request_id: ContextVar[str | None] = ContextVar("cpa_bandit_request_id", default=None)
"""The id of the request this task serves: set by the request middleware, read by the
formatter, so that every line logged while serving a request carries it (threads that
Starlette or asyncio start for the request copy the context)."""

REQUEST_FIELDS = ("method", "route", "path", "status", "duration_ms", "client")
"""Attributes a log call may pass in ``extra=`` to describe a request; nothing else is
copied from a record, so that what a line may contain is decided here."""


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"}``, then ``request_id`` and the request's
    fields when there are any, then ``exception`` with the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (current := request_id.get()) is not None:
            line["request_id"] = current
        for field in REQUEST_FIELDS:
            if (value := getattr(record, field, None)) is not None:
                line[field] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def log_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` that sends every logger (the service's, uvicorn's,
    libraries') through :class:`JsonFormatter` to stderr at ``level``: they all propagate to
    the root's one handler. uvicorn applies it in each worker (``uvicorn.run(log_config=...)``)
    instead of its own, which would print plain text; loggers that exist already are kept."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
    }
