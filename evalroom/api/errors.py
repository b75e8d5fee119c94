"""Turns every failure into the uniform body ``{"error": {"code", "message"}}`` (docs/api.md).

Validation failures add ``details``: where and what, never the offending input itself (it may be large or
hostile). Unexpected exceptions answer ``internal`` with no detail; the traceback goes to the log only.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from evalroom.errors import ApiError, ErrorCode

__all__ = ["error_body", "error_response", "install_error_handlers"]

log = logging.getLogger(__name__)

_BY_STATUS = {400: ErrorCode.BAD_REQUEST, 404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 401: ErrorCode.NOT_AUTHENTICATED,
              403: ErrorCode.FORBIDDEN, 413: ErrorCode.BODY_TOO_LARGE, 415: ErrorCode.UNSUPPORTED_MEDIA_TYPE}


def error_body(code: ErrorCode, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code.value, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


def error_response(code: ErrorCode, message: str, details: list[dict[str, Any]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=code.http_status, headers=headers)


def _www_authenticate(code: ErrorCode) -> dict[str, str] | None:
    return {"WWW-Authenticate": "Bearer"} if code.http_status == 401 else None


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.code, exc.message, exc.details, headers=_www_authenticate(exc.code))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(ErrorCode.MALFORMED_JSON, "the body is not valid JSON")
    details = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
               for e in errors[:20]]
    first = details[0] if details else {"loc": [], "msg": "invalid"}
    where = ".".join(first["loc"][1:] if len(first["loc"]) > 1 else first["loc"]) or "request"
    return error_response(ErrorCode.VALIDATION_FAILED, f"{where}: {first['msg']}", details)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _BY_STATUS.get(exc.status_code, ErrorCode.INTERNAL if exc.status_code >= 500 else ErrorCode.BAD_REQUEST)
    message = exc.detail if isinstance(exc.detail, str) else code.value
    return error_response(code, message, headers=_www_authenticate(code))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(ErrorCode.INTERNAL, "internal error; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
