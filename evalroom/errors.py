"""Errors that evalroom raises, and the stable codes clients see.

Every error a client can receive carries a code from :class:`ErrorCode`. Codes are part of the public API
(docs/api.md): they are never renamed or reused, only added. The HTTP status belongs to the code, so a route
cannot answer the same code with two different statuses.

The tree::

    EvalroomError                 anything evalroom raises on purpose
    ├── ConfigError               bad configuration found at start; never reaches an API client
    └── ApiError                  a client-facing failure with an ErrorCode
        ├── AuthError             401: no credentials, or credentials that do not verify
        ├── ForbiddenError        403: authenticated, but this role or binding may not do this
        ├── NotFoundError         404: no such resource, or one the caller may not know exists
        └── ConflictError         409: the request is well-formed but clashes with current state

Validation of request bodies is done by pydantic before a handler runs and is turned into
``validation_failed`` by the API layer; domain code raises ``ApiError(ErrorCode.INVALID_INPUT, ...)`` for
rules that a schema cannot express.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from sites.errors import RuleViolation

__all__ = [
    "ApiError",
    "AuthError",
    "ConfigError",
    "ConflictError",
    "ErrorCode",
    "EvalroomError",
    "ForbiddenError",
    "NotFoundError",
    "domain_rules",
]


class ErrorCode(StrEnum):
    """Stable, client-facing error codes. The value is what goes on the wire."""

    # 400 family: the request itself is wrong
    BAD_REQUEST = "bad_request"
    """The request could not be read at all (e.g. a broken body or header)."""
    VALIDATION_FAILED = "validation_failed"
    """The body, query or path failed schema validation (wrong type, unknown field, out of range)."""
    INVALID_INPUT = "invalid_input"
    """The request is well-formed but breaks a domain rule (e.g. an end before its start)."""
    MALFORMED_JSON = "malformed_json"
    """The body is not valid JSON."""
    BODY_TOO_LARGE = "body_too_large"
    """The body exceeds the configured limit."""
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    """A body was sent with a content type other than JSON."""
    # 401 family: who are you?
    NOT_AUTHENTICATED = "not_authenticated"
    """No bearer token was presented."""
    TOKEN_INVALID = "token_invalid"
    """The token is malformed, has a bad signature, an unknown key, a wrong algorithm or lacks a claim."""
    TOKEN_EXPIRED = "token_expired"
    """The token's ``exp`` has passed."""
    TOKEN_WRONG_AUDIENCE = "token_wrong_audience"
    """The token was issued for another audience (another service or channel)."""
    TOKEN_REVOKED = "token_revoked"
    """The token was revoked (logout) before it expired."""
    SIGNATURE_INVALID = "signature_invalid"
    """A signed site-link message does not verify: unknown or revoked credential, wrong key, altered content,
    or a message signed for another connection."""
    MESSAGE_STALE = "message_stale"
    """A signed site-link message's timestamp is too far from the receiver's clock."""
    LOGIN_FAILED = "login_failed"
    """Unknown user, wrong password, disabled or locked account: deliberately one code for all, so that a
    login attempt cannot tell which usernames exist."""
    # 403
    FORBIDDEN = "forbidden"
    """The caller's role or binding does not allow this action."""
    # 404 / 405
    NOT_FOUND = "not_found"
    """No such resource, or one outside the caller's scope."""
    METHOD_NOT_ALLOWED = "method_not_allowed"
    # 409
    CONFLICT = "conflict"
    """The resource already exists or the state does not allow the change."""
    DOUBLE_BOOKED = "double_booked"
    """A seat (or a single-project room) is already booked for an overlapping time."""
    NOT_ENOUGH_SEATS = "not_enough_seats"
    """Fewer usable, free seats than asked for: no venue can serve the request, or the guest cannot confirm."""
    OFFER_EXPIRED = "offer_expired"
    """The offer's deadline to respond has passed."""
    MESSAGE_REPLAYED = "message_replayed"
    """A signed site-link message was sent again (its sequence number was already used on this connection)."""
    POOL_TOO_SMALL = "pool_too_small"
    """An expert draw cannot fill its quotas: too few eligible experts; ``details`` names each short venue and
    specialty with the numbers needed and eligible."""
    IMPORT_REJECTED = "import_rejected"
    """An import file has errors; ``details`` lists them by row and field. Nothing was imported."""
    NOT_ON_COMMITTEE = "not_on_committee"
    """No drawn member of this session at this venue has the identity number presented at check-in."""
    INVALID_TRANSITION = "invalid_transition"
    """The session cannot move that way from its current state or phase (e.g. end while suspended, resume
    while a venue is still down, leave a phase whose work is not done); the message says what is missing."""
    PHASE_CLOSED = "phase_closed"
    """A sheet, mark or explanation for a phase the session is not in (too early, or the phase closed)."""
    SCORE_OUT_OF_RANGE = "score_out_of_range"
    """A score outside its criterion's range; ``details`` lists each bid, criterion, value and range."""
    UNKNOWN_BID = "unknown_bid"
    """A sheet names a bid that is not under review in this session (not in the project, or rejected)."""
    SHEET_LOCKED = "sheet_locked"
    """A different sheet after one was submitted: submit is idempotent, changes go through a flag's
    correction or a post-report correction."""
    SHEETS_SEALED = "sheets_sealed"
    """Other members' sheets are sealed until every member has submitted for the phase (independence)."""
    CORRECTION_NOT_ALLOWED = "correction_not_allowed"
    """A post-report correction for a cause the rules do not allow (87号令 Art. 64)."""
    FACTOR_REFUSED = "factor_refused"
    """A second factor did not authorise the document; ``details`` gives the ``reason``: ``wrong_code``,
    ``replayed`` (a one-time code already used), ``wrong_document`` (a WebAuthn assertion for another
    document), ``not_verified``, ``unknown_challenge``, ``not_enrolled`` or ``locked`` (too many wrong codes)."""
    DOCUMENT_CHANGED = "document_changed"
    """The document to sign is no longer the one named (a newer sheet version, another member's signature
    added to the report first): fetch it again, check it, and authorise that."""
    AUTHORISATION_INVALID = "authorisation_invalid"
    """No usable signing authorisation: unknown, someone else's, for another kind of document, used, or expired."""
    SIGNATURE_REJECTED = "signature_rejected"
    """A signature the coordinator does not accept; ``details`` lists the problems (not over the authorised
    document, does not verify, certificate not trusted or not the member's, dissent not attached, ...)."""
    SIGNATURES_MISSING = "signatures_missing"
    """The report cannot be sealed yet; ``details`` names each member and what they have not signed."""
    COMPLAINT_LATE = "complaint_late"
    """A complaint filed after its time limit (10 days from knowing) cannot be accepted, only refused."""
    REPORT_NOT_SEALED = "report_not_sealed"
    """The candidates are published from the sealed report: the newest report version is not sealed yet."""
    RATING_CLOSED = "rating_closed"
    """Outside the time for rating a session's experts: before the session ended, or after the 2nd working
    day after it."""
    ALREADY_RATED = "already_rated"
    """This rater (the host venue, or the tenderer) has rated this expert for this session already."""
    UNKNOWN_FEE_TABLE = "unknown_fee_table"
    """An expert's region, or the host's, has no fee table in the fee tables file; ``details`` names each."""
    # 5xx
    NOT_READY = "not_ready"
    """The service is up but cannot serve yet (database unreachable, schema not current)."""
    INTERNAL = "internal"
    """An unexpected failure; details are in the server log, never in the response."""

    @property
    def http_status(self) -> int:
        return _STATUS[self]


_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.VALIDATION_FAILED: 422,
    ErrorCode.INVALID_INPUT: 422,
    ErrorCode.MALFORMED_JSON: 400,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.NOT_AUTHENTICATED: 401,
    ErrorCode.TOKEN_INVALID: 401,
    ErrorCode.TOKEN_EXPIRED: 401,
    ErrorCode.TOKEN_WRONG_AUDIENCE: 401,
    ErrorCode.TOKEN_REVOKED: 401,
    ErrorCode.LOGIN_FAILED: 401,
    ErrorCode.SIGNATURE_INVALID: 401,
    ErrorCode.MESSAGE_STALE: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.DOUBLE_BOOKED: 409,
    ErrorCode.NOT_ENOUGH_SEATS: 409,
    ErrorCode.OFFER_EXPIRED: 409,
    ErrorCode.MESSAGE_REPLAYED: 409,
    ErrorCode.POOL_TOO_SMALL: 409,
    ErrorCode.IMPORT_REJECTED: 422,
    ErrorCode.NOT_ON_COMMITTEE: 404,
    ErrorCode.INVALID_TRANSITION: 409,
    ErrorCode.PHASE_CLOSED: 409,
    ErrorCode.SCORE_OUT_OF_RANGE: 422,
    ErrorCode.UNKNOWN_BID: 422,
    ErrorCode.SHEET_LOCKED: 409,
    ErrorCode.SHEETS_SEALED: 403,
    ErrorCode.CORRECTION_NOT_ALLOWED: 422,
    ErrorCode.FACTOR_REFUSED: 403,
    ErrorCode.DOCUMENT_CHANGED: 409,
    ErrorCode.AUTHORISATION_INVALID: 403,
    ErrorCode.SIGNATURE_REJECTED: 422,
    ErrorCode.SIGNATURES_MISSING: 409,
    ErrorCode.COMPLAINT_LATE: 409,
    ErrorCode.REPORT_NOT_SEALED: 409,
    ErrorCode.RATING_CLOSED: 409,
    ErrorCode.ALREADY_RATED: 409,
    ErrorCode.UNKNOWN_FEE_TABLE: 422,
    ErrorCode.NOT_READY: 503,
    ErrorCode.INTERNAL: 500,
}


class EvalroomError(Exception):
    """Base of every error evalroom raises on purpose."""


class ConfigError(EvalroomError):
    """The configuration is invalid. Raised at start, before anything is served; names the setting."""


class ApiError(EvalroomError):
    """A failure a client should see, with a stable code and a human-readable message."""

    def __init__(self, code: ErrorCode, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details
        """Where and what, item by item (rows of an import, problems of a plan, short quotas). Names a field
        and a short value where that is the point (an unknown specialty code), never a whole input."""

    @property
    def http_status(self) -> int:
        return self.code.http_status


class AuthError(ApiError):
    def __init__(self, code: ErrorCode, message: str) -> None:
        assert code.http_status == 401, code
        super().__init__(code, message)


class ForbiddenError(ApiError):
    def __init__(self, message: str = "this role may not do that") -> None:
        super().__init__(ErrorCode.FORBIDDEN, message)


class NotFoundError(ApiError):
    def __init__(self, what: str, ident: object) -> None:
        super().__init__(ErrorCode.NOT_FOUND, f"no {what} {ident!r}")


class ConflictError(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.CONFLICT, message)


@contextmanager
def domain_rules() -> Iterator[None]:
    """Run code of the ``sites`` domain: a :class:`~sites.errors.RuleViolation` it raises (which carries the
    value of one of these codes, since ``sites`` cannot import them) becomes the ApiError with that code."""
    try:
        yield
    except RuleViolation as exc:
        raise ApiError(ErrorCode(exc.code), exc.message) from None
