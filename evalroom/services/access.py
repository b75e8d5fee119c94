"""Who may see and change which evaluation session: the scope rules, in one place.

Route dependencies decide which *roles* may call a route at all (403 otherwise). These functions decide, for
a role that may, whether this particular session is in the caller's scope. A session out of scope answers 404,
not 403, so that a caller cannot learn that a session exists (blind pairing, 四不知).
"""

from __future__ import annotations

from enum import StrEnum

from evalroom.domain.roles import Principal, Role
from evalroom.errors import ForbiddenError, NotFoundError
from evalroom.storage.models import EvalSession

__all__ = ["ReaderKind", "can_read_session", "check_can_change_session", "check_can_read_session",
           "check_host_or_admin", "is_overseer", "reader_kind"]


class ReaderKind(StrEnum):
    """What a reader of a session's events may see of them: everything a reader is shown depends on this alone,
    so a live event's view is computed once per kind, not once per reader (api/live.py)."""

    OVERSEER = "overseer"
    """The coordinator admin and the session's supervisors: every event as it was recorded."""
    OPERATOR = "operator"
    """Hall operators: offers without the guest's identity while blind pairing holds."""
    EXPERT = "expert"
    """Committee members: no draw detail, no supervisors' notes, nothing of ratings, fees or objections."""


def can_read_session(principal: Principal, session: EvalSession) -> bool:
    match principal.role:
        case Role.COORDINATOR_ADMIN:
            return True
        case Role.HALL_OPERATOR:
            return principal.venue_id == session.host_venue_id
        case Role.EXPERT | Role.SUPERVISOR:
            return principal.is_bound_to_session(session.id)
        case _:
            return False


def is_overseer(principal: Principal, session_id: str) -> bool:
    """The coordinator admin and the session's supervisors: they read everything of a session, and change
    nothing of the evaluation itself."""
    return principal.role is Role.COORDINATOR_ADMIN or principal.supervises(session_id) is not None


def reader_kind(principal: Principal, session_id: str) -> ReaderKind:
    """The kind of reader ``principal`` is of the session's events (it may read them: check that first)."""
    if is_overseer(principal, session_id):
        return ReaderKind.OVERSEER
    return ReaderKind.OPERATOR if principal.role is Role.HALL_OPERATOR else ReaderKind.EXPERT


def check_can_read_session(principal: Principal, session: EvalSession | None, session_id: str) -> EvalSession:
    if session is None or not can_read_session(principal, session):
        raise NotFoundError("session", session_id)
    return session


def check_can_change_session(principal: Principal, session: EvalSession | None, session_id: str) -> EvalSession:
    """Only the host venue's operators change a session (shared/domain.md: only the host changes its state)."""
    session = check_can_read_session(principal, session, session_id)
    if not (principal.role is Role.HALL_OPERATOR and principal.venue_id == session.host_venue_id):
        raise ForbiddenError("only an operator of the host venue may change this session")
    return session


def check_host_or_admin(principal: Principal, session: EvalSession | None, session_id: str) -> EvalSession:
    """The host venue's operators, or the coordinator admin acting for the coordinator (offers, draws)."""
    if principal.role is Role.COORDINATOR_ADMIN:
        if session is None:
            raise NotFoundError("session", session_id)
        return session
    return check_can_change_session(principal, session, session_id)
