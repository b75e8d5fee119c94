"""Who is asking: roles and the principal an access token describes.

A :class:`Principal` is what an authenticated request carries through the application. Its bindings are part
of the role: a hall operator (场地工作人员) and a site agent act for exactly one venue, an expert (评标专家) for one
session and seat, a supervisor (行政监督) for the sessions they were assigned to, as primary (project location)
or secondary (guest site). The bindings come from the token, which is short-lived, so a change of assignment
takes effect within one token lifetime at most.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

__all__ = ["PUBLIC", "Principal", "Role", "SupervisorLevel"]


class Role(StrEnum):
    COORDINATOR_ADMIN = "coordinator-admin"
    """Runs the coordinator (调度平台): venues, regions, accounts, expert pools, fee rules."""
    HALL_OPERATOR = "hall-operator"
    """Staff at one venue's console (host or guest)."""
    EXPERT = "expert"
    """An evaluation expert, bound to one session and seat after check-in."""
    SUPERVISOR = "supervisor"
    """Administrative supervisor of the sessions they are assigned to."""
    SITE_AGENT = "site-agent"
    """The process at a venue that reports rooms and seats and speaks to the coordinator."""
    PUBLIC = "public"
    """Anyone, unauthenticated: published results and the transparency log."""


class SupervisorLevel(StrEnum):
    PRIMARY = "primary"
    """The supervisor of the project's location; the only one who rules on complaints."""
    SECONDARY = "secondary"
    """A supervisor of a guest venue's region; watches and annotates."""


@dataclass(frozen=True)
class Principal:
    role: Role
    subject: str
    """Who: an account name, an expert id, or a venue id for a site agent."""
    venue_id: str | None = None
    """The venue a hall operator or site agent acts for."""
    session_id: str | None = None
    """The session an expert is checked in to."""
    seat: str | None = None
    """The seat an expert sits at."""
    # Left out of the hash (a mapping cannot be hashed); equality still compares it.
    supervised: Mapping[str, SupervisorLevel] = field(default_factory=dict, hash=False)
    """Sessions a supervisor is assigned to, with their level in each."""

    def __post_init__(self) -> None:
        if not isinstance(self.role, Role):
            raise ValueError(f"'role' must be in {[r.value for r in Role]} (got {self.role!r})")
        needs_venue = self.role in (Role.HALL_OPERATOR, Role.SITE_AGENT)
        if needs_venue != (self.venue_id is not None):
            raise ValueError(f"a {self.role} {'needs' if needs_venue else 'must not have'} a venue binding")
        if self.role is Role.EXPERT:
            if self.session_id is None or self.seat is None:
                raise ValueError("an expert needs a session and seat binding")
        elif self.session_id is not None or self.seat is not None:
            raise ValueError(f"a {self.role} must not have a session or seat binding")
        if self.supervised and self.role is not Role.SUPERVISOR:
            raise ValueError(f"a {self.role} cannot supervise sessions")
        # SupervisorLevel(...) also rejects anything that is not 'primary' or 'secondary'.
        levels = {str(sid): SupervisorLevel(level) for sid, level in self.supervised.items()}
        object.__setattr__(self, "supervised", MappingProxyType(levels))

    @property
    def actor(self) -> str:
        """How this principal is named in the event log: ``role:subject``."""
        return f"{self.role}:{self.subject}"

    def supervises(self, session_id: str) -> SupervisorLevel | None:
        return self.supervised.get(session_id) if self.role is Role.SUPERVISOR else None

    def is_bound_to_session(self, session_id: str) -> bool:
        """True for the session's checked-in experts and its assigned supervisors."""
        if self.role is Role.EXPERT:
            return self.session_id == session_id
        return self.supervises(session_id) is not None


PUBLIC = Principal(role=Role.PUBLIC, subject="anonymous")
