"""What every token-authenticated websocket of the coordinator does at the door: read the first message within
``websocket_auth_seconds`` (browsers cannot set headers on a websocket, so the token travels in it), and refuse
with an error message and a close code of 4000 + the HTTP status. Shared by the session event stream and the
media room."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import WebSocket

from evalroom.api.errors import error_body
from evalroom.errors import ApiError, ErrorCode

__all__ = ["close_with_error", "first_message"]


async def first_message(ws: WebSocket, seconds: float, what: str) -> Any:
    """The client's first message as JSON; ``not_authenticated`` if none comes in time, ``malformed_json``."""
    try:
        raw = await asyncio.wait_for(ws.receive_text(), seconds)
    except TimeoutError:
        raise ApiError(ErrorCode.NOT_AUTHENTICATED, f"no {what} message in time") from None
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(ErrorCode.MALFORMED_JSON, "the message is not valid JSON") from None


async def close_with_error(ws: WebSocket, exc: ApiError) -> None:
    with contextlib.suppress(Exception):
        await ws.send_json({"type": "error", **error_body(exc.code, exc.message)})
        await ws.close(code=4000 + exc.http_status, reason=exc.code.value)
