"""Turns every failure into the uniform body ``{"error": {"code", "message", "request_id"}}`` (docs/api.md).

Validation failures add ``details``: where and what, never the offending input itself (it may be large or
hostile). Unexpected exceptions answer ``internal`` with no detail; the traceback goes to the log only, under
the request id the body names, so that an operator can find it from what the user saw.

The request id is the one the HTTP middleware (api/metrics.py) put in the request's scope. Error bodies built
outside an HTTP request — on a websocket — carry none.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from evalroom.errors import ApiError, ErrorCode

__all__ = ["error_body", "error_response", "install_error_handlers", "request_id"]

log = logging.getLogger(__name__)

_BY_STATUS = {400: ErrorCode.BAD_REQUEST, 404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 401: ErrorCode.NOT_AUTHENTICATED,
              403: ErrorCode.FORBIDDEN, 413: ErrorCode.BODY_TOO_LARGE, 415: ErrorCode.UNSUPPORTED_MEDIA_TYPE}


def error_body(code: ErrorCode, message: str, details: list[dict[str, Any]] | None = None,
               request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code.value, "message": message}
    if request_id is not None:
        body["request_id"] = request_id
    if details:
        body["details"] = details
    return {"error": body}


def error_response(code: ErrorCode, message: str, details: list[dict[str, Any]] | None = None,
                   headers: dict[str, str] | None = None, request_id: str | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details, request_id), status_code=code.http_status,
                        headers=headers)


def request_id(request: Request) -> str | None:
    """The id the HTTP middleware gave this request (None if it did not run, e.g. a bare test app)."""
    return request.scope.get("state", {}).get("request_id")


def _www_authenticate(code: ErrorCode) -> dict[str, str] | None:
    return {"WWW-Authenticate": "Bearer"} if code.http_status == 401 else None


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.code, exc.message, exc.details, headers=_www_authenticate(exc.code),
                          request_id=request_id(request))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(ErrorCode.MALFORMED_JSON, "the body is not valid JSON", request_id=request_id(request))
    details = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
               for e in errors[:20]]
    first = details[0] if details else {"loc": [], "msg": "invalid"}
    where = ".".join(first["loc"][1:] if len(first["loc"]) > 1 else first["loc"]) or "request"
    return error_response(ErrorCode.VALIDATION_FAILED, f"{where}: {first['msg']}", details,
                          request_id=request_id(request))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _BY_STATUS.get(exc.status_code, ErrorCode.INTERNAL if exc.status_code >= 500 else ErrorCode.BAD_REQUEST)
    message = exc.detail if isinstance(exc.detail, str) else code.value
    return error_response(code, message, headers=_www_authenticate(code), request_id=request_id(request))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette answers this one outside the middlewares (ServerErrorMiddleware), after the request's context
    # has been left: the request id goes into the log line and the response header from here.
    rid = request_id(request)
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc,
              extra={"request_id": rid})
    return error_response(ErrorCode.INTERNAL, "internal error; it has been logged", request_id=rid,
                          headers={"X-Request-ID": rid} if rid is not None else None)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
