"""Refuses oversized and non-JSON request bodies before any route reads them.

The one exception is a route that takes a document as it is: a signed report is handed in as
``application/pdf`` (:data:`RAW_BODY_ROUTES`).

A pure ASGI middleware, so that the limit holds for streamed (chunked) bodies too: the declared
Content-Length is checked first, then the bytes actually received are counted, and the request is answered
413 ``body_too_large`` the moment the limit is passed.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evalroom.api.errors import error_body
from evalroom.errors import ErrorCode

__all__ = ["BodyLimitMiddleware"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
RAW_BODY_ROUTES: tuple[tuple[str, bytes], ...] = (("/signatures/report", b"application/pdf"),)
"""(path suffix, media type) of the routes whose body is a document, not JSON."""


class _TooLarge(Exception):
    pass


async def _send_error(send: Send, code: ErrorCode, message: str, scope: Scope) -> None:
    body = json.dumps(error_body(code, message, request_id=scope.get("state", {}).get("request_id"))).encode()
    await send({"type": "http.response.start", "status": code.http_status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _send_error(send, ErrorCode.BAD_REQUEST, "Content-Length is not a number", scope)
                return
            if declared > self.max:
                await _send_error(send, ErrorCode.BODY_TOO_LARGE, f"the body exceeds {self.max} bytes", scope)
                return
        has_body = (length is not None and length != b"0") or b"transfer-encoding" in headers
        if scope["method"] in _BODY_METHODS and has_body:
            ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            raw = next((t for suffix, t in RAW_BODY_ROUTES if scope["path"].endswith(suffix)), None)
            if ctype != b"application/json" and ctype != raw:
                await _send_error(send, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "request bodies must be application/json",
                                  scope)
                return

        received = 0
        exceeded = False
        replaced = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Any) -> None:
            # FastAPI turns a failed body read into its own 400; answer with ours instead.
            nonlocal replaced
            if exceeded:
                if not replaced:
                    replaced = True
                    await _send_error(send, ErrorCode.BODY_TOO_LARGE, f"the body exceeds {self.max} bytes", scope)
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            if not replaced:
                replaced = True
                await _send_error(send, ErrorCode.BODY_TOO_LARGE, f"the body exceeds {self.max} bytes", scope)
