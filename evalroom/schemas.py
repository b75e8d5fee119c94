"""Request and response bodies of the HTTP API, one family per resource (Create / Update / Public).

Every request model forbids unknown fields and uses strict scalar types (no ``"5"`` for 5, no ``1`` for true),
so a malformed body is refused by validation before any handler runs and nothing is half-applied. Times are
ISO 8601 text with a time zone. Text is taken as sent (no trimming: a password is what was typed). Limits on lengths and patterns keep hostile input small and boring.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from evalroom.auth.passwords import MIN_LENGTH
from evalroom.domain.roles import Role, SupervisorLevel

__all__ = [
    "ERROR_RESPONSES",
    "AccountCreate",
    "AccountPublic",
    "AccountUpdate",
    "AnnotationCreate",
    "ComplaintCreate",
    "ComplaintDecision",
    "ComplaintRuling",
    "ErrorBody",
    "EventPage",
    "EventPublic",
    "ExpertFlagCreate",
    "LoginRequest",
    "PrincipalPublic",
    "RegionCreate",
    "RegionPublic",
    "SessionCreate",
    "SessionPublic",
    "SessionUpdate",
    "SupervisorAssign",
    "TokenResponse",
    "VenueCreate",
    "VenuePublic",
    "WarningCreate",
]

# --- bounds: every integer, date and time the API takes keeps to these (docs/api.md, "Bounds") -----------------
MAX_POSITION = 2**53 - 1
"""Sequence numbers, log indexes and sizes: integers every JSON reader holds exactly, well inside the 64-bit
integers of SQLite and PostgreSQL (a larger one overflows SQLite's binding: a server error, once)."""
MAX_VERSION = 2**31 - 1
"""Versions and page offsets: PostgreSQL's ``integer``."""
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)
"""Every date and instant the API takes lies in these years (UTC for instants): nothing this system records
lies outside them, and past them date arithmetic overflows (year 9999 plus a day) or means nothing (year 0)."""


def day_in_range(value: date) -> date:
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValueError(f"must lie between {EARLIEST_DAY} and {LATEST_DAY}")
    return value


def instant_in_range(value: datetime) -> datetime:
    """``value`` in the API's years; a naive value is judged as UTC here and refused as naive where that matters."""
    try:
        utc = value.astimezone(UTC) if value.tzinfo else value
    except (OverflowError, ValueError):
        raise ValueError(f"must lie between {EARLIEST_DAY} and {LATEST_DAY}") from None
    day_in_range(utc.date())
    return value


def _calendar_day(value: str) -> str:
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ValueError("is not a calendar date") from None
    day_in_range(parsed)
    return value


Code = Annotated[StrictStr, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$", description="Upper-case code, 2-32 chars")]
Name = Annotated[StrictStr, Field(min_length=1, max_length=200)]
Id = Annotated[StrictStr, Field(pattern=r"^[0-9a-f-]{36}$", description="A UUID")]


def _iso_text(value: object) -> object:
    if not isinstance(value, (str, datetime)):
        raise ValueError("must be an ISO 8601 string with a time zone, e.g. 2026-12-01T09:00:00+08:00")
    return value


Time = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(instant_in_range)]
"""An instant as ISO 8601 text with an offset, in the API's years; numbers (Unix times) are refused as ambiguous."""


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- auth -------------------------------------------------------------------------------------------------
class LoginRequest(Request):
    username: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    password: Annotated[StrictStr, Field(min_length=1, max_length=256)]


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    role: Role


class PrincipalPublic(BaseModel):
    role: Role
    subject: str
    venue_id: str | None
    session_id: str | None
    seat: str | None
    supervised: dict[str, SupervisorLevel]
    expires_at: datetime


# --- regions and venues -----------------------------------------------------------------------------------
Specialty = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                                       description="A specialty code from the classification, e.g. B01.03")]
Specialties = Annotated[list[Specialty], Field(max_length=50)]


class RegionCreate(Request):
    code: Code
    name: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    ca_name: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None


class RegionUpdate(Request):
    ca_name: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None
    recognised: StrictBool | None = Field(default=None, description="on the recognition list (数字证书互认)")

    @model_validator(mode="after")
    def _something(self) -> RegionUpdate:
        if self.ca_name is None and self.recognised is None:
            raise ValueError("give ca_name, recognised, or both")
        return self


class PemIn(Request):
    pem: Annotated[StrictStr, Field(min_length=1, max_length=200_000, description="PEM text")]


class RegionPublic(Public):
    id: str
    code: str
    name: str
    ca_name: str | None
    recognised: bool
    specialties: list[str] = Field(description="The specialty codes the pool's active experts hold (derived)")
    created_at: datetime


class VenueCreate(Request):
    code: Code
    name: Name
    city: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    region_id: Id


class VenuePublic(Public):
    id: str
    code: str
    name: str
    city: str
    region_id: str
    created_at: datetime
    online: bool
    last_heartbeat_at: datetime | None


class CredentialCreate(Request):
    public_key: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9_-]{43}$",
                                           description="The venue's Ed25519 public key, raw, base64url without padding")]
    label: Annotated[StrictStr, Field(min_length=1, max_length=100)]


class CredentialPublic(Public):
    id: str
    venue_id: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


# --- rooms and seats --------------------------------------------------------------------------------------
RoomCode = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]
FaultReason = Annotated[StrictStr, Field(min_length=1, max_length=500)]


class RoomCreate(Request):
    code: RoomCode
    name: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    kind: Literal["single", "shared"]


class SeatCreate(Request):
    code: RoomCode


class FaultMark(Request):
    fault: FaultReason | None = Field(description="Why it is faulty; null clears the mark")


class SeatPublic(BaseModel):
    id: str
    room_id: str
    code: str
    devices: dict[str, str]
    devices_reported_at: datetime | None
    fault: str | None
    usable: bool
    unusable_reasons: list[str]


class RoomPublic(BaseModel):
    id: str
    venue_id: str
    code: str
    name: str
    kind: str
    fault: str | None
    seats: list[SeatPublic]


class VenueCapacity(BaseModel):
    venue_id: str
    code: str
    name: str
    city: str
    region_id: str
    free_seats: int
    online: bool
    last_lent_at: datetime | None


class SearchResult(BaseModel):
    count: int = Field(description="How many venues can serve the request")
    venues: list[VenueCapacity] | None = Field(
        description="The venues, best candidate first; null for host operators while blind pairing is on")


class BookingPublic(BaseModel):
    booking_id: str
    room_code: str
    seat_code: str
    starts_at: datetime
    ends_at: datetime
    offer_id: str | None
    session_id: str | None = Field(default=None, description="Only for coordinator admins")


# --- offers -----------------------------------------------------------------------------------------------
Seats = Annotated[StrictInt, Field(ge=1, le=500)]


class OfferCreate(Request):
    guest_venue_id: Id | None = Field(
        default=None, description="Omitted: the coordinator draws a guest venue (required while blind pairing "
                                  "is on, unless the caller is a coordinator admin)")
    seats: Seats
    specialties: Specialties = Field(default_factory=list)
    starts_at: Time | None = Field(default=None, description="Default: the session's scheduled start")
    ends_at: Time | None = Field(default=None, description="Default: the session's scheduled end")
    respond_by: Time | None = Field(default=None, description="Default: offer_response_minutes from now")


class OfferChange(Request):
    seats: Seats | None = None
    specialties: Specialties | None = None
    starts_at: Time | None = None
    ends_at: Time | None = None
    respond_by: Time | None = None

    @model_validator(mode="after")
    def _something(self) -> OfferChange:
        if all(v is None for v in (self.seats, self.specialties, self.starts_at, self.ends_at, self.respond_by)):
            raise ValueError("nothing to change")
        return self


class OfferConfirm(Request):
    version: Annotated[StrictInt, Field(ge=1, le=MAX_VERSION, description="The offer version being confirmed")]
    seat_ids: Annotated[list[Id], Field(min_length=1, max_length=500)] | None = Field(
        default=None, description="Omitted: the coordinator picks usable, free seats, keeping the party together")


class OfferDecline(Request):
    version: Annotated[StrictInt, Field(ge=1, le=MAX_VERSION)]
    reason: Annotated[StrictStr, Field(min_length=1, max_length=500)]


class OfferCancel(Request):
    reason: Annotated[StrictStr, Field(min_length=1, max_length=500)]


# --- accounts ---------------------------------------------------------------------------------------------
StaffRole = Literal[Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SUPERVISOR]


class AccountCreate(Request):
    username: Annotated[StrictStr, Field(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$")]
    display_name: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    role: StaffRole
    venue_id: Id | None = None
    password: Annotated[StrictStr, Field(min_length=MIN_LENGTH, max_length=256)]

    @model_validator(mode="after")
    def _venue_binding(self) -> AccountCreate:
        if (self.role == Role.HALL_OPERATOR) != (self.venue_id is not None):
            raise ValueError("a hall-operator needs venue_id; other roles must not have one")
        return self


class AccountUpdate(Request):
    """What an admin changes on a staff account; at least one of them."""

    disabled: StrictBool | None = Field(default=None, description="true: no login, and the account's tokens stop "
                                                                   "working at once; false: enabled again")
    unlock: Literal[True] | None = Field(default=None, description="end a lock after failed logins now")
    password: Annotated[StrictStr, Field(min_length=MIN_LENGTH, max_length=256)] | None = Field(
        default=None, description="a new password (the person changes nothing themselves: an admin hands it over)")

    @model_validator(mode="after")
    def _something(self) -> AccountUpdate:
        if self.disabled is None and self.unlock is None and self.password is None:
            raise ValueError("give disabled, unlock or password")
        return self


class AccountPublic(Public):
    id: str
    username: str
    display_name: str
    role: Role
    venue_id: str | None
    disabled: bool
    locked_until: datetime | None = Field(description="Locked after failed logins until then (null: not locked)")
    created_at: datetime


# --- sessions ---------------------------------------------------------------------------------------------
class SessionCreate(Request):
    code: Code
    title: Name
    host_venue_id: Id | None = Field(default=None, description="Required for admins; operators host at their venue")
    scheduled_start: Time
    scheduled_end: Time

    @model_validator(mode="after")
    def _window(self) -> SessionCreate:
        if self.scheduled_end <= self.scheduled_start:
            raise ValueError("scheduled_end must be after scheduled_start")
        return self


class SessionUpdate(Request):
    title: Name | None = None
    scheduled_start: Time | None = None
    scheduled_end: Time | None = None

    @model_validator(mode="after")
    def _something(self) -> SessionUpdate:
        if self.title is None and self.scheduled_start is None and self.scheduled_end is None:
            raise ValueError("nothing to change: give title, scheduled_start or scheduled_end")
        return self


class SessionPublic(Public):
    id: str
    code: str
    title: str
    host_venue_id: str
    state: str
    scheduled_start: datetime
    scheduled_end: datetime
    created_at: datetime
    updated_at: datetime
    check_in_opened_at: datetime | None


class SupervisorAssign(Request):
    account_id: Id
    level: SupervisorLevel


# --- expert pools and the committee -----------------------------------------------------------------------
Text200 = Annotated[StrictStr, Field(min_length=1, max_length=200)]
Reason = Annotated[StrictStr, Field(min_length=1, max_length=500)]
DateText = Annotated[StrictStr, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD, a calendar date "
                                      f"from {EARLIEST_DAY} to {LATEST_DAY}"), AfterValidator(_calendar_day)]
"""A calendar date as text; "0000-00-00" or "2026-02-30" is refused here, before any handler parses it."""


class ExpertImport(Request):
    format: Literal["csv", "json"]
    content: Annotated[StrictStr, Field(min_length=1, description="The file's text (docs/formats.md)")]


class ImportResult(BaseModel):
    region_id: str
    created: int
    updated: int
    unchanged: int
    file_sha256: str


class DateRange(Request):
    from_: DateText = Field(alias="from")
    to: DateText


class ExpertUpdate(Request):
    credit_status: Literal["active", "suspended", "blacklisted"] | None = None
    reason: Reason = Field(description="Why: recorded with the change")
    punished: StrictBool | None = None
    unavailable: Annotated[list[DateRange], Field(max_length=100)] | None = None


class ExpertPublic(BaseModel):
    id: str
    region_id: str
    code: str | None
    name: str
    id_number: str = Field(description="Masked: the address code and the last four characters")
    employer: str
    specialties: list[str]
    certificate: str | None
    credit_status: str
    credit_reason: str | None
    punished: bool
    ties: list[str]
    unavailable: list[list[str]]
    recent_evaluations: list[dict[str, str]]
    updated_at: datetime
    ratings: list[dict[str, Any]] = Field(default_factory=list, description="Every rating of the expert, newest "
                                          "first: session_id, session_code, rater, score, comment, rated_at")
    rating_average: str | None = Field(default=None, description="The mean of the ratings, two places, half up")
    sessions: list[dict[str, Any]] = Field(default_factory=list, description="One expert's record only: their "
                                           "committee places here, newest first (session_id, session_code, "
                                           "scheduled_start, session_state, member_state, vacancy_reason)")
    flags: list[dict[str, Any]] = Field(default_factory=list, description="One expert's record only: what "
                                        "supervisors flagged (session_code, level, text, created_at), newest first")


class PlanQuota(Request):
    venue: Annotated[StrictStr, Field(pattern=r"^(host|offer:[0-9a-f-]{36})$",
                                      description="'host', or 'offer:<id>' for the guest venue of a confirmed offer")]
    specialties: Annotated[dict[Specialty, Annotated[StrictInt, Field(ge=1, le=99)]], Field(min_length=1, max_length=20)]


class PlanParties(Request):
    tenderer: Text200
    authority: Text200 | None = None
    supervisor: Text200 | None = None
    bidders: Annotated[list[Text200], Field(max_length=500)] = Field(default_factory=list)


class CommitteePlanSet(Request):
    project_type: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    total: Annotated[StrictInt, Field(ge=1, le=99)]
    representatives: Annotated[StrictInt, Field(ge=0, le=99)] = 0
    quotas: Annotated[list[PlanQuota], Field(min_length=1, max_length=20)]
    budget_yuan: Annotated[StrictStr, Field(pattern=r"^\d{1,15}(\.\d{1,2})?$")] | None = None
    complex_project: StrictBool = False
    exclude_home_region: StrictBool = False
    parties: PlanParties


class RepresentativeCreate(Request):
    name: Annotated[StrictStr, Field(min_length=1, max_length=50)]
    id_number: Annotated[StrictStr, Field(min_length=18, max_length=18)]


class Vacate(Request):
    reason: Reason


class CheckIn(Request):
    id_number: Annotated[StrictStr, Field(min_length=1, max_length=32, description="As read from the ID card")]
    id_card: Literal["pass", "fail"] = Field(description="The card reader's verdict on the card itself")
    face_match: Literal["pass", "fail"]
    face_score: Annotated[StrictStr, Field(pattern=r"^(0(\.\d{1,4})?|1(\.0{1,4})?)$")] | None = None
    seat: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}/[A-Za-z0-9][A-Za-z0-9._-]{0,31}$",
                                     description="ROOM/SEAT code at the operator's venue")]


class ExpertLogin(Request):
    code: Annotated[StrictStr, Field(min_length=1, max_length=32)]


class Declaration(Request):
    conflict: StrictBool
    reason: Reason | None = None
    text_sha256: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$",
                                            description="The hash of the declaration text as it was read")]

    @model_validator(mode="after")
    def _reason_with_conflict(self) -> Declaration:
        if self.conflict != (self.reason is not None):
            raise ValueError("a declared conflict needs a reason, and only a conflict has one")
        return self


class VoteCast(Request):
    candidate_member_id: Id


# --- events -----------------------------------------------------------------------------------------------
class EventPublic(BaseModel):
    redacted: bool = Field(default=False, description="True when the payload was cut down for this reader "
                                                      "(blind pairing); its hash is then of the full event")
    seq: int = Field(description="The coordinator-wide order: streams and cursors ('after') follow it")
    chain: str = Field(description="The session's id, or 'coordinator' for the coordinator's own records")
    position: int | None = Field(description="Place in its chain, from 1 without gaps (None: before schema 0015)")
    version: int = Field(description="Event format: 2, a chain per session; 1, before schema 0015")
    recorded_at: str
    actor: str
    kind: str
    session_id: str | None
    payload: dict[str, Any]
    prev_hash: str = Field(description="The hash of the event before it in its chain (format 1: in seq order)")
    hash: str


class EventPage(BaseModel):
    events: list[EventPublic]
    next_after: int = Field(description="Pass as 'after' to continue; equal to the request's when nothing is new")


# --- errors -----------------------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    code: str = Field(description="A stable code from docs/api.md, e.g. validation_failed")
    message: str
    request_id: str | None = Field(default=None, description="The request's id, as in its X-Request-ID header: "
                                                             "quote it when reporting the error")
    details: list[dict[str, Any]] | None = Field(default=None, description="Validation failures: loc, msg, type")


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in ((400, "Malformed request"), (401, "Not authenticated or bad token"),
                         (403, "Role not allowed"), (404, "Not found or out of scope"), (409, "Conflict"),
                         (413, "Body too large"), (415, "Body is not JSON"), (422, "Validation failed"))
}
"""Declared on every API route, so that OpenAPI shows the real error body instead of FastAPI's default."""


# --- the evaluation session (issue 5) -----------------------------------------------------------------------
BidKey = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}/[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]
CriterionCode = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]
ScoreValue = Annotated[StrictStr, Field(pattern=r"^-?\d{1,13}(\.\d{1,6})?$",
                                        description="a decimal string such as \"8.50\" (at most two places count)")]
LongText = Annotated[StrictStr, Field(min_length=1, max_length=4000)]


class StateChange(Request):
    action: Literal["start", "suspend", "resume", "end", "archive"]
    reason: Reason | None = None


class PhaseChange(Request):
    leave: Literal["chair_election", "review", "detailed_review", "price_scoring", "summary", "recommendation"] = \
        Field(description="the phase the caller means to leave; a repeated request does not skip a phase")


class ReviewItemMarkIn(Request):
    passed: StrictBool
    reason: Annotated[StrictStr, Field(max_length=1000)] = ""


class ReviewMarkIn(Request):
    passed: StrictBool
    reason: Annotated[StrictStr, Field(max_length=1000)] = ""
    items: Annotated[dict[CriterionCode, ReviewItemMarkIn] | None, Field(
        max_length=60, description="per review item of the tender (its review_items), when it lists them: the "
                                   "bid passes only when every item does, and each failed item has its reason")] = None


class ReviewSubmit(Request):
    marks: Annotated[dict[BidKey, ReviewMarkIn], Field(min_length=1, max_length=500)]


class ScoresSubmit(Request):
    scores: Annotated[dict[BidKey, dict[CriterionCode, ScoreValue]], Field(min_length=1, max_length=500)]
    stated: dict[BidKey, ScoreValue] = Field(default_factory=dict,
                                             description="the subtotal per bid as the expert added it up (checked)")


class ScoresCorrect(Request):
    scores: Annotated[dict[BidKey, dict[CriterionCode, ScoreValue]], Field(max_length=500)] = \
        Field(default_factory=dict)
    stated: dict[BidKey, ScoreValue] = Field(default_factory=dict)
    reason: Reason


class FlagExplain(Request):
    text: LongText


class DissentIn(Request):
    text: LongText


class TieSettle(Request):
    lot: CriterionCode
    order: Annotated[list[BidKey], Field(min_length=2, max_length=500,
                                         description="the tied bids in the order the committee decided")]
    reason: Reason


class PostReportCorrection(Request):
    member_id: Id
    bid: BidKey
    criterion: CriterionCode
    value: ScoreValue
    cause: Annotated[StrictStr, Field(max_length=40)]
    reason: Reason


# --- signing ------------------------------------------------------------------------------------------------------
Sha256Hex = Annotated[StrictStr, Field(pattern=r"^[0-9a-fA-F]{64}$", description="a SHA-256, hex")]
SheetPhase = Literal["review", "detailed_review"]


class DocumentRef(Request):
    """What to sign: the caller's own newest sheet of a phase, or the report's current revision."""

    document: Literal["sheet", "report"]
    phase: SheetPhase | None = Field(default=None, description="for a sheet: review or detailed_review")
    sha256: Sha256Hex = Field(description="the SHA-256 of the bytes the signer's device fetched and showed")


class TotpFactor(Request):
    kind: Literal["totp"]
    code: Annotated[StrictStr, Field(pattern=r"^\s*[0-9]{6}\s*$")]


class WebAuthnFactor(Request):
    kind: Literal["webauthn"]
    nonce: Annotated[StrictStr, Field(pattern=r"^[0-9a-fA-F]{32}$")]
    assertion: dict[str, Any] = Field(description="the browser's PublicKeyCredential (an assertion) as JSON")


class SigningAuthorise(DocumentRef):
    factor: Annotated[TotpFactor | WebAuthnFactor, Field(discriminator="kind")]


class WebAuthnRegister(Request):
    nonce: Annotated[StrictStr, Field(pattern=r"^[0-9a-fA-F]{32}$")]
    credential: dict[str, Any] = Field(description="the browser's PublicKeyCredential (an attestation) as JSON")


class SheetSignature(Request):
    authorisation: Id
    cms: Annotated[StrictStr, Field(min_length=16, max_length=64 * 1024,
                                    description="the detached CAdES signature (DER), base64")]


class DeemedAgree(Request):
    member_id: Id
    reason: Reason


# --- supervision ------------------------------------------------------------------------------------------
class AnnotationCreate(Request):
    text: LongText
    moment: Time | None = Field(default=None, description="the moment of the session it is about; default now")


class WarningCreate(Request):
    text: LongText


class ExpertFlagCreate(Request):
    member_id: Id
    text: LongText


class ComplaintCreate(Request):
    complainant: Text200
    subject: LongText
    known_on: DateText = Field(description="the day the complainant knew or should have known (local date)")


class ComplaintRuling(Request):
    accept: StrictBool
    reason: LongText


class ComplaintDecision(Request):
    outcome: Literal["upheld", "partly_upheld", "dismissed"]
    text: LongText


# --- after the session: publication, objections, ratings -------------------------------------------------------
class PublicationCreate(Request):
    days: Annotated[StrictInt, Field(ge=3, le=30)] = Field(
        default=3, description="How long the publication runs, in calendar days (at least 3, 条例 Art. 54; at most 30)")


class ObjectionCreate(Request):
    objector: Text200
    text: LongText


class ObjectionAnswer(Request):
    text: LongText


class RatingCreate(Request):
    member_id: Id
    score: Annotated[StrictInt, Field(ge=0, le=100)] = Field(description="0 to 100")
    comment: LongText | None = None
