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
from json.encoder import encode_basestring as _string  # json.dumps of a str, ensure_ascii=False
from typing import Any

request_id: ContextVar[str | None] = ContextVar("cpa_bandit_request_id", default=None)
"""The id of the request this task serves: set by the request middleware, read by the
formatter, so that every line logged while serving a request carries it (threads that
Starlette or asyncio start for the request copy the context)."""

REQUEST_FIELDS = ("method", "route", "path", "status", "duration_ms", "client")
"""Attributes a log call may pass in ``extra=`` to describe a request; nothing else is
copied from a record, so that what a line may contain is decided here."""


def _second(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))


def _with_millis(second: str, created: float) -> str:
    return f"{second}.{int((created % 1) * 1000):03d}Z"


def _timestamp(created: float) -> str:
    return _with_millis(_second(created), created)


class _SecondClock:
    """``_timestamp(time.time())``, formatting the date and time once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        created = time.time()
        second = int(created)
        if second != self._second:
            self._second, self._text = second, _second(second)
        return _with_millis(self._text, created)


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"}``, then ``request_id`` and the request's
    fields when there are any, then ``exception`` with the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _timestamp(record.created),
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


class RequestLog:
    """The access log's lines, written at a few per cent of a decision's cost.

    Through ``logging``, a line costs a record, a walk up the stack to find its caller and a
    formatter pass: tens of microseconds, a third of a whole decision. While the log goes
    where :func:`log_config` sends it (the one JSON handler on the root, no handler or filter
    on the way), the line is encoded here directly, exactly as :class:`JsonFormatter` would
    write it, and written to that handler's stream. Under any other configuration (a test's
    capture, an operator's own handlers) it goes through ``logging`` as usual.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._prefix = f', "logger": {_string(logger.name)}, "message": '
        self._clock = _SecondClock()

    def log(self, level: int, method: str, route: str, path: str, status: int, seconds: float, client: str | None) -> None:
        if not self._logger.isEnabledFor(level):
            return
        duration_ms = round(seconds * 1000, 3)
        handler = self._direct_handler()
        if handler is None:
            fields = {"method": method, "route": route, "path": path, "status": status, "duration_ms": duration_ms}
            self._logger.log(level, "%s %s %d", method, path, status, extra={**fields, "client": client})
            return
        current = request_id.get()
        line = "".join((
            f'{{"time": "{self._clock.now()}", "level": "{logging.getLevelName(level)}"{self._prefix}',
            _string(f"{method} {path} {status}"),
            "" if current is None else f', "request_id": {_string(current)}',
            f', "method": {_string(method)}, "route": {_string(route)}, "path": {_string(path)}',
            f', "status": {status}, "duration_ms": {duration_ms!r}',
            "" if client is None else f', "client": {_string(client)}',
            "}\n",
        ))  # fmt: skip
        with handler.lock:  # type: ignore[union-attr]
            handler.stream.write(line)
            handler.stream.flush()

    def _direct_handler(self) -> logging.StreamHandler | None:
        logger: logging.Logger | None = self._logger
        while logger is not None and logger is not logging.root:
            if logger.handlers or logger.filters or not logger.propagate:
                return None
            logger = logger.parent  # type: ignore[assignment]
        handlers = logging.root.handlers
        if logging.root.filters or len(handlers) != 1:
            return None
        handler = handlers[0]
        if type(handler) is not logging.StreamHandler or handler.filters or type(handler.formatter) is not JsonFormatter:
            return None
        return handler


class WithoutQueryStrings(logging.Filter):
    """Cuts the query string off every path in a record of uvicorn's access log.

    ``cpa-bandit serve`` turns that log off and writes its own lines, but ``uvicorn app:app``
    (the seed's way to run) keeps it, and its request line carries the query string: click
    ids, and a postback's ``token=``, a secret. Filtering the logger keeps uvicorn's line, and
    whatever handlers and format the operator gave uvicorn, without what must not be stored."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.partition("?")[0] if isinstance(arg, str) and arg.startswith("/") else arg for arg in record.args
            )
        return True


UVICORN_ACCESS_LOGGER = "uvicorn.access"


def keep_query_strings_out_of_access_logs() -> None:
    """Install :class:`WithoutQueryStrings` on uvicorn's access logger, once per process."""
    logger = logging.getLogger(UVICORN_ACCESS_LOGGER)
    if not any(isinstance(existing, WithoutQueryStrings) for existing in logger.filters):
        logger.addFilter(WithoutQueryStrings())
