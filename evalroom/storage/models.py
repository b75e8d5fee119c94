"""SQLAlchemy models: the tables of the coordinator.

One metadata for the whole coordinator, so one Alembic history migrates it. Identifiers are UUID strings made
by the application (never auto-increment, which leaks counts to blind parties); human-facing codes are separate
unique columns. Times are timezone-aware UTC (:class:`UTCDateTime`), except ``events.recorded_at``, which is
the canonical text that was hashed.

The ``events`` table is append-only: the migrations install triggers that refuse UPDATE and DELETE on it in
both SQLite and PostgreSQL, so even a bug or a hand-typed statement cannot rewrite history unnoticed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Account",
    "Base",
    "ChairVote",
    "Committee",
    "Complaint",
    "CommitteeMember",
    "Dissent",
    "Draw",
    "EvalSession",
    "EventChain",
    "EventHead",
    "EventRow",
    "EventVenue",
    "Expert",
    "ExpertEvaluation",
    "ExpertRating",
    "ExtensionRequest",
    "FeeBatch",
    "Flag",
    "Objection",
    "Offer",
    "ProjectRecord",
    "Publication",
    "RecordingSegment",
    "Region",
    "RegionCertificate",
    "RegionCrl",
    "Report",
    "RevokedToken",
    "Room",
    "Seat",
    "ScoreSheet",
    "SeatBooking",
    "SessionFault",
    "SessionSupervisor",
    "SupervisionMark",
    "TieSettlement",
    "UTCDateTime",
    "Venue",
    "VenueCredential",
]

# Deterministic constraint names, so that migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend. SQLite has no time zones, so naive values read back are UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"refusing to store a naive datetime {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class EventHead(Base):
    """The single row that names the last sequenced event (the coordinator-wide ``seq`` order). Only the
    sequencer writes it (see storage.store)."""

    __tablename__ = "event_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class EventChain(Base):
    """The head of one chain of events (a session's, or the coordinator's own): writers lock it to append."""

    __tablename__ = "event_chains"
    chain: Mapped[str] = mapped_column(String(36), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class EventRow(Base):
    """One state change (evalroom.domain.events.Event). Append-only: the only change a row ever sees is its
    ``seq``, given once by the sequencer (PostgreSQL; a trigger refuses anything else)."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    """The order of insertion (the sequencer's order), not part of the hashed event."""
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    chain: Mapped[str] = mapped_column(String(36), nullable=False)
    position: Mapped[int | None] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    recorded_at: Mapped[str] = mapped_column(String(32), nullable=False)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(100), nullable=False)
    session_id: Mapped[str | None] = mapped_column(String(36))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    __table_args__ = (
        UniqueConstraint("chain", "position"),
        Index("ix_events_session_id_seq", "session_id", "seq"),
        Index("ix_events_unsequenced", "id", sqlite_where=text("seq IS NULL"), postgresql_where=text("seq IS NULL")),
    )


class EventVenue(Base):
    """Which events concern which venue: the index a site agent's feed is read from.

    Not part of the hashed event (it is routing, not content), written in the same transaction as the event.
    """

    __tablename__ = "event_venues"
    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), primary_key=True)


class Region(Base):
    """A region (e.g. a province) with its own certificate authority and expert pool."""

    __tablename__ = "regions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    ca_name: Mapped[str | None] = mapped_column(String(200))
    """The certificate authority whose certificates the region's experts sign with (trust roots: signing)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    recognised: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
    """On the recognition list (数字证书互认): its experts' signatures are trusted."""


class RegionCertificate(Base):
    """A CA certificate of a region: a root (a trust anchor) or an intermediate (a path candidate)."""

    __tablename__ = "region_certificates"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    """Of the DER: the certificate's identity here."""
    region_id: Mapped[str] = mapped_column(ForeignKey("regions.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    subject: Mapped[str] = mapped_column(String(500), nullable=False)
    der: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (CheckConstraint("kind IN ('root', 'intermediate')", name="kind"),)


class RegionCrl(Base):
    """A CRL of one of a region's CAs; the newest per issuer is the one validation uses."""

    __tablename__ = "region_crls"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    region_id: Mapped[str] = mapped_column(ForeignKey("regions.id"), nullable=False, index=True)
    issuer: Mapped[str] = mapped_column(String(500), nullable=False)
    der: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    this_update: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    next_update: Mapped[datetime | None] = mapped_column(UTCDateTime)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Venue(Base):
    """A trading centre (交易中心) that can host sessions or lend seats to them."""

    __tablename__ = "venues"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    city: Mapped[str] = mapped_column(String(100), nullable=False)
    region_id: Mapped[str] = mapped_column(ForeignKey("regions.id"), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    online: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
    """Whether the venue's site agent is connected and sending heartbeats."""
    link_id: Mapped[str | None] = mapped_column(String(64))
    """The site-link connection currently speaking for the venue; a newer one supersedes it."""
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_lent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the venue last confirmed an offer as a guest: proposals prefer the least recently used."""


class VenueCredential(Base):
    """The public half of a venue's site-agent key (Ed25519). The private half never leaves the venue."""

    __tablename__ = "venue_credentials"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False, index=True)
    public_key: Mapped[str] = mapped_column(String(64), nullable=False)
    """Raw Ed25519 public key, base64url."""
    label: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Room(Base):
    """An evaluation room at a venue: single-project (one session at a time) or shared."""

    __tablename__ = "rooms"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False, index=True)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    fault: Mapped[str | None] = mapped_column(String(500))
    """Why a person marked the room faulty; None when it is not."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (
        UniqueConstraint("venue_id", "code"),
        CheckConstraint("kind IN ('single', 'shared')", name="kind"),
    )


_DEVICE_CHECK = "{0} IN ('ok', 'fault', 'unknown')"


class Seat(Base):
    """A workstation (工位) in a room, with the last reported state of its five devices."""

    __tablename__ = "seats"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id"), nullable=False, index=True)
    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False, index=True)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    pc: Mapped[str] = mapped_column(String(8), nullable=False)
    network: Mapped[str] = mapped_column(String(8), nullable=False)
    microphone: Mapped[str] = mapped_column(String(8), nullable=False)
    speaker: Mapped[str] = mapped_column(String(8), nullable=False)
    camera: Mapped[str] = mapped_column(String(8), nullable=False)
    devices_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fault: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (
        UniqueConstraint("room_id", "code"),
        *(CheckConstraint(_DEVICE_CHECK.format(d), name=f"{d}_state")
          for d in ("pc", "network", "microphone", "speaker", "camera")),
    )


class Account(Base):
    """A person who logs in with a password: coordinator admins, hall operators, supervisors.

    Experts and site agents do not have accounts here: experts get a token at check-in, site agents hold a
    venue credential.
    """

    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    display_name: Mapped[str] = mapped_column(String(100), nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    venue_id: Mapped[str | None] = mapped_column(ForeignKey("venues.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (
        CheckConstraint("role IN ('coordinator-admin', 'hall-operator', 'supervisor')", name="staff_role"),
        CheckConstraint("(role = 'hall-operator') = (venue_id IS NOT NULL)", name="operator_has_venue"),
    )


class EvalSession(Base):
    """An evaluation session (评标会议) hosted by one venue. Its lifecycle grows with the session issue."""

    __tablename__ = "eval_sessions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    host_venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False, index=True)
    state: Mapped[str] = mapped_column(String(20), nullable=False)
    scheduled_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    scheduled_end: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    check_in_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the host opened check-in; from then on the host may know its guest venues (四不知 ends)."""
    phase: Mapped[str | None] = mapped_column(String(20))
    """The phase inside evaluating (domain/session_states.py); kept while suspended, null before the start."""
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    """``completed``, or ``sealed_for_reevaluation`` when a fault outlasted the limit."""
    __table_args__ = (CheckConstraint("scheduled_end > scheduled_start", name="window_order"),)


class ProjectRecord(Base):
    """The tender a session evaluates, as imported (domain/project.py parses ``document``)."""

    __tablename__ = "projects"
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    document: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    """Of the document's canonical JSON."""
    imported_by: Mapped[str] = mapped_column(String(200), nullable=False)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ScoreSheet(Base):
    """One version of a member's sheet for a phase (review marks or detailed scores). Rows are never
    updated: a correction is a new version, so the history of every value is kept."""

    __tablename__ = "sheets"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), nullable=False, index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("committee_members.id"), nullable=False)
    phase: Mapped[str] = mapped_column(String(20), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    """The sheet document (format ``evalroom-sheet-v1``), salted with a nonce so its hash reveals nothing."""
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    cause: Mapped[str] = mapped_column(String(32), nullable=False)
    """``submitted``, ``flag`` (a correction answering a check), or a post-report cause (87号令 Art. 64)."""
    reason: Mapped[str | None] = mapped_column(String(1000))
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (
        UniqueConstraint("session_id", "member_id", "phase", "version"),
        CheckConstraint("phase IN ('review', 'detailed_review')", name="phase"),
    )


class Flag(Base):
    """A finding of the automatic checks on one member's sheet, and how it was resolved."""

    __tablename__ = "flags"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), nullable=False, index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("committee_members.id"), nullable=False)
    bid: Mapped[str] = mapped_column(String(80), nullable=False)
    criterion: Mapped[str] = mapped_column(String(32), nullable=False)
    """Empty for findings about a whole bid (arithmetic, deviation)."""
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    explanation: Mapped[str | None] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_by: Mapped[str | None] = mapped_column(String(36))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (
        UniqueConstraint("session_id", "member_id", "bid", "criterion", "kind"),
        CheckConstraint("status IN ('open', 'corrected', 'explained', 'cleared')", name="status"),
    )


class SessionFault(Base):
    """A venue's site link or media down while its session evaluates: what suspended the session."""

    __tablename__ = "session_faults"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), nullable=False, index=True)
    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False)
    cause: Mapped[str] = mapped_column(String(16), nullable=False)
    detail: Mapped[str] = mapped_column(String(500), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    fixed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(24))
    __table_args__ = (
        CheckConstraint("cause IN ('site_link', 'media')", name="cause"),
        CheckConstraint("outcome IS NULL OR outcome IN ('continue', 'seal_and_reevaluate')", name="outcome"),
    )


class Dissent(Base):
    """An expert's written dissent (保留意见), part of the report."""

    __tablename__ = "dissents"
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("committee_members.id"), primary_key=True)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class TieSettlement(Base):
    """How the committee settled a tie that every tie-break left standing (e.g. by drawing lots)."""

    __tablename__ = "tie_settlements"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), nullable=False, index=True)
    lot: Mapped[str] = mapped_column(String(32), nullable=False)
    decided_order: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    """The tied bids in the order the committee decided."""
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    settled_by: Mapped[str] = mapped_column(ForeignKey("committee_members.id"), nullable=False)
    settled_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ExtensionRequest(Base):
    """A member saying the time is too short (条例 Art. 48); more than a third extends the period."""

    __tablename__ = "extension_requests"
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("committee_members.id"), primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Report(Base):
    """One version of the evaluation report: the JSON twin's canonical bytes and the PDF rendered from it."""

    __tablename__ = "reports"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    json_bytes: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    json_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    pdf_bytes: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    pdf_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (UniqueConstraint("session_id", "version"),)


class Offer(Base):
    """An offer (要约) from a session's host venue to one guest venue. See sites/offers.py for the states."""

    __tablename__ = "offers"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), nullable=False, index=True)
    host_venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False)
    guest_venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False, index=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    seats: Mapped[int] = mapped_column(Integer, nullable=False)
    specialties: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    respond_by: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    proposed_by: Mapped[str] = mapped_column(String(16), nullable=False)
    draw_id: Mapped[str | None] = mapped_column(ForeignKey("draws.id"))
    """The draw that chose the guest (``proposed_by`` coordinator)."""
    reason: Mapped[str | None] = mapped_column(String(500))
    """The guest's reason when it declined, or the host's when it cancelled."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'confirmed', 'declined', 'expired', 'cancelled')", name="state"),
        CheckConstraint("seats > 0", name="seats_positive"),
        CheckConstraint("ends_at > starts_at", name="window_order"),
        CheckConstraint("guest_venue_id <> host_venue_id", name="guest_not_host"),
        CheckConstraint("proposed_by IN ('host', 'coordinator')", name="proposed_by"),
        # One live offer per guest and session: asking a venue twice for the same session is a change.
        Index("uq_offers_live_guest", "session_id", "guest_venue_id", unique=True,
              sqlite_where=text("state IN ('pending', 'confirmed')"),
              postgresql_where=text("state IN ('pending', 'confirmed')")),
    )


class SeatBooking(Base):
    """A seat held for a session over a window. Rows are never deleted: a released booking keeps its history.

    The database itself refuses overlapping live bookings of a seat, and, for single-project rooms, live
    bookings of the same room by two sessions (an exclusion constraint on PostgreSQL, triggers on SQLite;
    see migration 0002), so two coordinators racing cannot double-book.
    """

    __tablename__ = "seat_bookings"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seat_id: Mapped[str] = mapped_column(ForeignKey("seats.id"), nullable=False, index=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id"), nullable=False, index=True)
    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False, index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), nullable=False, index=True)
    offer_id: Mapped[str | None] = mapped_column(ForeignKey("offers.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    room_exclusive: Mapped[bool] = mapped_column(Boolean, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="window_order"),)


class SessionSupervisor(Base):
    """A supervisor assigned to a session, as primary or secondary."""

    __tablename__ = "session_supervisors"
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True, index=True)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    __table_args__ = (
        CheckConstraint("level IN ('primary', 'secondary')", name="level"),
        # A session has at most one primary supervisor: the one who rules on complaints.
        Index("uq_session_supervisors_one_primary", "session_id", unique=True,
              sqlite_where=text("level = 'primary'"), postgresql_where=text("level = 'primary'")),
    )


class RevokedToken(Base):
    """Tokens revoked before they expire (logout). Rows past ``expires_at`` can be pruned."""

    __tablename__ = "revoked_tokens"
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)


# --- the committee (issue 4): expert pools, plans, draws, members, the chair ---------------------------------
_LIVE_MEMBER = "state IN ('drawn', 'checked_in', 'seated')"


class Expert(Base):
    """An expert in a region's pool (专家库). The identity number is kept sealed (AES-GCM under the coordinator's
    sealing key, evalroom.auth.sealing), findable only by its keyed hash, and shown masked."""

    __tablename__ = "experts"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    region_id: Mapped[str] = mapped_column(ForeignKey("regions.id"), nullable=False, index=True)
    code: Mapped[str | None] = mapped_column(String(32))
    """The pool's own number for the expert, if it has one."""
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    id_number_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    id_number_sealed: Mapped[str] = mapped_column(String(200), nullable=False)
    id_number_masked: Mapped[str] = mapped_column(String(18), nullable=False)
    employer: Mapped[str] = mapped_column(String(200), nullable=False)
    specialties: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    certificate: Mapped[str | None] = mapped_column(String(200))
    """A reference to the expert's signing certificate (issuer and serial), checked when signing lands."""
    credit_status: Mapped[str] = mapped_column(String(16), nullable=False)
    credit_reason: Mapped[str | None] = mapped_column(String(500))
    punished: Mapped[bool] = mapped_column(Boolean, nullable=False)
    ties: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    unavailable: Mapped[list[list[str]]] = mapped_column(JSON, nullable=False)
    """Inclusive date ranges as ``[["2026-12-01", "2026-12-03"], ...]``."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (
        UniqueConstraint("region_id", "code"),
        CheckConstraint("credit_status IN ('active', 'suspended', 'blacklisted')", name="credit_status"),
    )


class ExpertEvaluation(Base):
    """An evaluation the expert sat on: imported history, or a session of this coordinator. Feeds the
    "same tenderer within N days" avoidance rule."""

    __tablename__ = "expert_evaluations"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    expert_id: Mapped[str] = mapped_column(ForeignKey("experts.id"), nullable=False, index=True)
    tenderer: Mapped[str] = mapped_column(String(200), nullable=False)
    evaluated_on: Mapped[date] = mapped_column(Date, nullable=False)
    source: Mapped[str] = mapped_column(String(8), nullable=False)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("eval_sessions.id"))
    __table_args__ = (CheckConstraint("source IN ('import', 'session')", name="source"),)


class Committee(Base):
    """A session's committee: its plan, the project facts avoidance is judged by, and the chair election."""

    __tablename__ = "committees"
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), primary_key=True)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    """The plan as set (quotas name the host or a confirmed offer); see services/committee.py."""
    parties: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    """Tenderer, project authority, supervising body, bidders: what avoidance compares employers with."""
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    election_round: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    election_candidates: Mapped[list[str] | None] = mapped_column(JSON)
    chair_member_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Draw(Base):
    """One draw (a committee's initial draw, a replacement, or a guest venue): commitment, outcome, seed. The seed is sealed until it is
    revealed, so a crash between commit and reveal resumes with the committed seed (domain/draw.py)."""

    __tablename__ = "draws"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), nullable=False, index=True)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    vacancy_member_id: Mapped[str | None] = mapped_column(String(36))
    """For a replacement: the member whose place is refilled."""
    request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """For a guest-venue draw: the offer asked for (seats, specialties, window, deadline)."""
    commitment: Mapped[str] = mapped_column(String(64), nullable=False)
    seed_sealed: Mapped[str] = mapped_column(String(200), nullable=False)
    seed_hex: Mapped[str | None] = mapped_column(String(64))
    """Set when revealed."""
    outcome: Mapped[str | None] = mapped_column(String(8))
    requested_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    performed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (
        CheckConstraint("purpose IN ('initial', 'replacement', 'guest')", name="purpose"),
        CheckConstraint("outcome IS NULL OR outcome IN ('drawn', 'failed')", name="outcome"),
    )


class CommitteeMember(Base):
    """A place on a committee: a drawn expert or a named representative of the tenderer (domain/members.py)."""

    __tablename__ = "committee_members"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    expert_id: Mapped[str | None] = mapped_column(ForeignKey("experts.id"), index=True)
    draw_id: Mapped[str | None] = mapped_column(ForeignKey("draws.id"))
    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False, index=True)
    specialty: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    id_number_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    replaces_member_id: Mapped[str | None] = mapped_column(String(36))
    seat_id: Mapped[str | None] = mapped_column(ForeignKey("seats.id"))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    login_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    login_code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    token_jti: Mapped[str | None] = mapped_column(String(64))
    """The expert's newest access token, revoked when the member leaves the committee."""
    declared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    declaration_sha256: Mapped[str | None] = mapped_column(String(64))
    vacancy_reason: Mapped[str | None] = mapped_column(String(500))
    vacated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (
        CheckConstraint("kind IN ('expert', 'representative')", name="kind"),
        CheckConstraint("state IN ('drawn', 'checked_in', 'seated', 'declined', 'no_show', 'recused', 'voided')",
                        name="state"),
        CheckConstraint("(kind = 'expert') = (expert_id IS NOT NULL)", name="expert_has_expert"),
        # An expert is drawn at most once per session, whatever became of the first draw.
        Index("uq_committee_members_expert", "session_id", "expert_id", unique=True,
              sqlite_where=text("expert_id IS NOT NULL"), postgresql_where=text("expert_id IS NOT NULL")),
        # A person holds at most one live place, and a seat at most one live member, per session.
        Index("uq_committee_members_live_person", "session_id", "id_number_hash", unique=True,
              sqlite_where=text(_LIVE_MEMBER), postgresql_where=text(_LIVE_MEMBER)),
        Index("uq_committee_members_live_seat", "session_id", "seat_id", unique=True,
              sqlite_where=text(f"seat_id IS NOT NULL AND {_LIVE_MEMBER}"),
              postgresql_where=text(f"seat_id IS NOT NULL AND {_LIVE_MEMBER}")),
    )


class ChairVote(Base):
    """One member's vote in one round of the chair election."""

    __tablename__ = "chair_votes"
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), primary_key=True)
    round: Mapped[int] = mapped_column(Integer, primary_key=True)
    voter_member_id: Mapped[str] = mapped_column(ForeignKey("committee_members.id"), primary_key=True)
    candidate_member_id: Mapped[str] = mapped_column(ForeignKey("committee_members.id"), nullable=False)
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class SecondFactor(Base):
    """A person's registered second factor for signing (services/signatures.py): a TOTP secret (sealed) with
    the last accepted time step, or a WebAuthn credential with its signature counter. Keyed by the person's
    identity-number hash, so an expert's factor serves every session they sit on."""

    __tablename__ = "second_factors"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    secret_sealed: Mapped[str | None] = mapped_column(String(200))
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    """TOTP: the last accepted time step; a code of this step or an earlier one is a replay."""
    credential_id: Mapped[str | None] = mapped_column(String(400), unique=True)
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (
        CheckConstraint("kind IN ('totp', 'webauthn')", name="kind"),
        Index("uq_second_factors_totp", "person_hash", unique=True,
              sqlite_where=text("kind = 'totp'"), postgresql_where=text("kind = 'totp'")),
    )


class SigningChallenge(Base):
    """A single-use WebAuthn challenge nonce: for registering an authenticator, or for authorising one
    document (the challenge is derived from the document hash and this nonce, signing/factors.py)."""

    __tablename__ = "signing_challenges"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("committee_members.id"), nullable=False, index=True)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    document_sha256: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (CheckConstraint("purpose IN ('register', 'sign')", name="purpose"),)


class SigningAuthorisation(Base):
    """What a second factor authorised: one member may sign one document (by hash) once, within minutes."""

    __tablename__ = "signing_authorisations"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), nullable=False, index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("committee_members.id"), nullable=False)
    document_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    document_ref: Mapped[str] = mapped_column(String(36), nullable=False)
    """The sheet version's or the report version's id."""
    document_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (CheckConstraint("document_kind IN ('sheet', 'report')", name="document_kind"),)


class SignatureRecord(Base):
    """A signature the coordinator accepted: a member's CAdES signature on a sheet version, a member's PAdES
    signature on a report version, or the coordinator's seal. Kept with the factor evidence that authorised
    it and the verification results at acceptance. Rows are never changed."""

    __tablename__ = "signatures"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), nullable=False, index=True)
    member_id: Mapped[str | None] = mapped_column(ForeignKey("committee_members.id"))
    """None for the coordinator's seal."""
    document_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    document_ref: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    document_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    """What was signed: the sheet's canonical bytes, or the report revision the signature was added to."""
    revision: Mapped[int | None] = mapped_column(Integer)
    """Reports: the signature's place in the report version's chain of incremental updates (1, 2, ...)."""
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    """Sheets: the detached CMS (DER). Reports: the whole PDF after this signature's incremental update."""
    content_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    signer: Mapped[str] = mapped_column(String(500), nullable=False)
    region: Mapped[str | None] = mapped_column(String(32))
    certificate_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    verification: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    dissent_sha256: Mapped[str | None] = mapped_column(String(64))
    """The dissent attached to a dissenting member's report signature."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (
        CheckConstraint("document_kind IN ('sheet', 'report', 'seal')", name="document_kind"),
        UniqueConstraint("document_ref", "revision"),
        Index("uq_signatures_member_document", "document_ref", "member_id", unique=True,
              sqlite_where=text("member_id IS NOT NULL"), postgresql_where=text("member_id IS NOT NULL")),
    )


class DeemedAgreement(Base):
    """A member who refused to sign a report version without a written dissent: deemed to agree (条例 Art. 53)."""

    __tablename__ = "deemed_agreements"
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("committee_members.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(200), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class LogHead(Base):
    """The transparency log's one head row: its size, root, and the last event it has examined. Locked by the
    appender, the only writer of the log's tables."""

    __tablename__ = "log_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    root: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    cursor_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class LogLeaf(Base):
    """A public fact in the transparency log: the canonical JSON of an event of a public kind."""

    __tablename__ = "log_leaves"
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    session_id: Mapped[str | None] = mapped_column(String(36), index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    appended_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class LogNode(Base):
    """The hash of a complete subtree: 2**level leaves from index * 2**level (signing/tlog.py)."""

    __tablename__ = "log_nodes"
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class LogCheckpoint(Base):
    """A signed checkpoint (C2SP tlog-checkpoint in a signed note), and the witnesses' cosignatures as they come."""

    __tablename__ = "log_checkpoints"
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class RecordingSegment(Base):
    """Where a logged recording segment is: the index the replay serves segments from (services/replay.py).

    Written in the transaction of the ``media.recorded`` event that logged the segment (services/media.py);
    routing, not content, like ``event_venues``: the event and the log hold the facts."""

    __tablename__ = "recording_segments"
    session_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    publisher_dir: Mapped[str] = mapped_column(String(200), primary_key=True)
    """The publisher as its recordings' directory is named (media.manifest.path_name)."""
    track_dir: Mapped[str] = mapped_column(String(120), primary_key=True)
    file: Mapped[str] = mapped_column(String(120), primary_key=True)
    publisher: Mapped[str] = mapped_column(String(200), nullable=False)
    track: Mapped[str] = mapped_column(String(120), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)


class SupervisionMark(Base):
    """A supervisor's mark on a session (services/supervision.py): an annotation of a moment, a warning every
    venue sees, or a flagged expert. Marks are added, never changed: a correction is another mark."""

    __tablename__ = "supervision_marks"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    author: Mapped[str] = mapped_column(String(200), nullable=False)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    moment: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    """The moment of the session the mark is about (an annotation may point back into the recording)."""
    member_id: Mapped[str | None] = mapped_column(ForeignKey("committee_members.id"))
    text: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    event_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    """The event that recorded it: the marks' order, and their link to the log."""
    __table_args__ = (CheckConstraint("kind IN ('annotation', 'warning', 'expert_flag')", name="kind"),)


class Complaint(Base):
    """A complaint (投诉) about a session, with the supervisors' rulings (domain/complaints.py)."""

    __tablename__ = "complaints"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), nullable=False, index=True)
    complainant: Mapped[str] = mapped_column(String(200), nullable=False)
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    known_on: Mapped[date] = mapped_column(Date, nullable=False)
    """The day the complainant knew or should have known of the matter: the 10-day filing limit runs from it."""
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    filed_by: Mapped[str] = mapped_column(String(200), nullable=False)
    late: Mapped[bool] = mapped_column(Boolean, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    ruling: Mapped[str | None] = mapped_column(Text)
    ruled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ruled_by: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(String(16))
    decision: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    __table_args__ = (CheckConstraint("state IN ('filed', 'accepted', 'refused', 'decided')", name="state"),)


# --- after the session (issue 10): publication, objections, ratings, fee batches -------------------------------
class Publication(Base):
    """The candidates published (中标候选人公示) from a session's sealed report (domain/publication.py). Public."""

    __tablename__ = "publications"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), nullable=False, unique=True)
    report_version: Mapped[int] = mapped_column(Integer, nullable=False)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    """The public record as published: the payload of ``publication.published``."""
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    """When the report version was sealed: the day the tenderer received it, for the 3 days to publish."""
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    published_by: Mapped[str] = mapped_column(String(200), nullable=False)
    window_days: Mapped[int] = mapped_column(Integer, nullable=False)
    overdue: Mapped[bool] = mapped_column(Boolean, nullable=False)
    __table_args__ = (CheckConstraint("window_days >= 3", name="window_days"),)


class Objection(Base):
    """An objection (异议) to a publication, as the host recorded it, and the tenderer's answer."""

    __tablename__ = "objections"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    publication_id: Mapped[str] = mapped_column(ForeignKey("publications.id"), nullable=False, index=True)
    objector: Mapped[str] = mapped_column(String(200), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    received_by: Mapped[str] = mapped_column(String(200), nullable=False)
    late: Mapped[bool] = mapped_column(Boolean, nullable=False)
    """Received after the publication window closed: kept, and marked."""
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(200))


class ExpertRating(Base):
    """A rating (0–100) of an expert for one session, by the host venue or by the tenderer (domain/ratings.py).
    Once per rater, expert and session; never changed."""

    __tablename__ = "expert_ratings"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), nullable=False, index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("committee_members.id"), nullable=False)
    expert_id: Mapped[str] = mapped_column(ForeignKey("experts.id"), nullable=False, index=True)
    rater: Mapped[str] = mapped_column(String(16), nullable=False)
    score: Mapped[int] = mapped_column(Integer, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    rated_by: Mapped[str] = mapped_column(String(200), nullable=False)
    """The actor: the host operator, or the representative (``expert:<member id>``)."""
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (
        UniqueConstraint("session_id", "member_id", "rater"),
        CheckConstraint("rater IN ('host', 'tenderer')", name="rater"),
        CheckConstraint("score >= 0 AND score <= 100", name="score_range"),
    )


class FeeBatch(Base):
    """One version of a payment batch: the experts' fees one venue pays for a session (domain/fees.py), with
    the tables it was computed with. A new version only when the figures change; earlier ones are kept."""

    __tablename__ = "fee_batches"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("eval_sessions.id"), nullable=False, index=True)
    payer_venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    """The batch document (format ``evalroom-fee-batch-v1``, docs/formats.md)."""
    total: Mapped[str] = mapped_column(String(20), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    """Of the content's canonical JSON."""
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (UniqueConstraint("session_id", "payer_venue_id", "version"),)
