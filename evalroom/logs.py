"""Log lines a collector can read, and the request id that ties a line to the request that caused it.

The HTTP middleware (api/metrics.py) gives every request an id and sets :data:`REQUEST_ID` for as long as the
request runs; anything logged meanwhile — in the route, a service, the store, including the thread pool the
synchronous routes run in (it copies the context) — carries it. The same id is in the response's
``X-Request-ID`` header and in every error body, so an operator holding a user's error finds its log lines.

``log_format = "json"`` (evalroom/config.py) turns every line into one JSON object (:class:`JsonFormatter`);
``text``, the default, keeps the human-readable line. :func:`configure` applies the setting to the root logger's
handlers, which ``evalroom`` sets up in cli.py before the settings are read.

Nothing here reads the coordinator's injected clock: log times are the machine's, in UTC.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

__all__ = ["REQUEST_ID", "JsonFormatter", "RequestIdFilter", "configure", "request_id_from"]

REQUEST_ID: ContextVar[str | None] = ContextVar("evalroom_request_id", default=None)
"""The id of the HTTP request being served in this context (None outside a request)."""

_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_from(incoming: str | None) -> str:
    """The id for a request: the client's (a proxy's) ``X-Request-ID`` if it is sane — at most 64 of
    ``A-Z a-z 0-9 . _ -``, so it can go into a log line and a header unquoted — else 16 new hex characters."""
    if incoming is not None and _SANE_ID.fullmatch(incoming):
        return incoming
    return secrets.token_hex(8)


class RequestIdFilter(logging.Filter):
    """Stamps ``record.request_id`` (the current request's, or None) unless the caller gave one in ``extra``:
    for formatters that name ``%(request_id)s``. Lets every record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``, ``message``,
    ``request_id`` when logged inside a request (or given in ``extra``), ``exception`` and ``stack`` when
    present. Multi-line text (a traceback) stays inside its string, so a line is always a whole record."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(log_format: str) -> None:
    """Apply ``log_format`` to the root logger's handlers (one to standard error if there is none). ``text``
    leaves them as they are."""
    if log_format != "json":
        return
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
