"""Error codes (evalroom.errors): public API, so the set of values is pinned here."""

from __future__ import annotations

import re

import pytest

from evalroom.errors import (
    ApiError,
    AuthError,
    ConfigError,
    ConflictError,
    ErrorCode,
    EvalroomError,
    ForbiddenError,
    NotFoundError,
)

# Codes are never renamed or reused, only added. Adding one means adding it here; renaming one must fail.
PINNED = {
    "bad_request": 400,
    "validation_failed": 422,
    "invalid_input": 422,
    "malformed_json": 400,
    "body_too_large": 413,
    "unsupported_media_type": 415,
    "not_authenticated": 401,
    "token_invalid": 401,
    "token_expired": 401,
    "token_wrong_audience": 401,
    "token_revoked": 401,
    "login_failed": 401,
    "signature_invalid": 401,
    "message_stale": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "double_booked": 409,
    "not_enough_seats": 409,
    "offer_expired": 409,
    "message_replayed": 409,
    "pool_too_small": 409,
    "import_rejected": 422,
    "not_on_committee": 404,
    "invalid_transition": 409,
    "phase_closed": 409,
    "score_out_of_range": 422,
    "unknown_bid": 422,
    "sheet_locked": 409,
    "sheets_sealed": 403,
    "correction_not_allowed": 422,
    "factor_refused": 403,
    "document_changed": 409,
    "authorisation_invalid": 403,
    "signature_rejected": 422,
    "signatures_missing": 409,
    "complaint_late": 409,
    "report_not_sealed": 409,
    "rating_closed": 409,
    "already_rated": 409,
    "unknown_fee_table": 422,
    "not_ready": 503,
    "internal": 500,
}


def test_the_set_of_code_values_is_pinned():
    assert {c.value for c in ErrorCode} == {
        "bad_request", "validation_failed", "invalid_input", "malformed_json", "body_too_large", "unsupported_media_type",
        "not_authenticated", "token_invalid", "token_expired", "token_wrong_audience", "token_revoked",
        "login_failed", "signature_invalid", "message_stale", "forbidden", "not_found", "method_not_allowed",
        "conflict", "double_booked", "not_enough_seats", "offer_expired", "message_replayed", "pool_too_small",
        "import_rejected", "not_on_committee", "invalid_transition", "phase_closed", "score_out_of_range",
        "unknown_bid", "sheet_locked", "sheets_sealed", "correction_not_allowed", "factor_refused",
        "document_changed", "authorisation_invalid", "signature_rejected", "signatures_missing", "complaint_late",
        "report_not_sealed", "rating_closed", "already_rated", "unknown_fee_table", "not_ready", "internal",
    }


def test_the_http_status_of_each_code_is_pinned():
    assert {c.value: c.http_status for c in ErrorCode} == PINNED


@pytest.mark.parametrize("code", list(ErrorCode), ids=str)
def test_every_code_has_an_http_error_status(code):
    assert isinstance(code.http_status, int)
    assert 400 <= code.http_status <= 599


def test_values_are_unique():
    values = [c.value for c in ErrorCode]
    assert len(values) == len(set(values))
    # an Enum silently turns a duplicate value into an alias; aliases would hide a reused code
    assert len(ErrorCode.__members__) == len(list(ErrorCode))


@pytest.mark.parametrize("code", list(ErrorCode), ids=str)
def test_values_are_lower_snake_case(code):
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", code.value)
    assert code.name.lower() == code.value


def test_code_is_its_value_on_the_wire():
    assert str(ErrorCode.TOKEN_EXPIRED) == "token_expired"
    assert ErrorCode("not_found") is ErrorCode.NOT_FOUND


def test_api_error_carries_code_message_and_status():
    err = ApiError(ErrorCode.INVALID_INPUT, "end before start")
    assert (err.code, err.message, err.http_status) == (ErrorCode.INVALID_INPUT, "end before start", 422)
    assert str(err) == "invalid_input: end before start"


def test_subclasses_carry_their_code():
    assert ForbiddenError().code is ErrorCode.FORBIDDEN
    assert ForbiddenError().http_status == 403
    nf = NotFoundError("session", "s-1")
    assert (nf.code, nf.message, nf.http_status) == (ErrorCode.NOT_FOUND, "no session 's-1'", 404)
    assert ConflictError("exists").http_status == 409
    assert AuthError(ErrorCode.TOKEN_EXPIRED, "late").http_status == 401


def test_error_tree():
    for cls in (ApiError, ConfigError):
        assert issubclass(cls, EvalroomError)
    for cls in (AuthError, ForbiddenError, NotFoundError, ConflictError):
        assert issubclass(cls, ApiError)
    assert not issubclass(ConfigError, ApiError)
