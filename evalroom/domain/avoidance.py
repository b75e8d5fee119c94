"""Avoidance (回避): which experts may not sit on a committee, and why.

The reasons follow 评标委员会和评标方法暂行规定 Art. 12 and the remote-evaluation rules (shared/domain.md):
employment by, or ties to, a bidder; employment by the tenderer, the project authority or the supervising
body; earlier punishment for tendering misconduct; a pool status other than active; the project's own region
when the plan excludes it; an evaluation for the same tenderer within a configured number of days; an expert
who is not available that day; an expert who sits on the committee of another session at the same time; and,
for replacements, anyone already drawn for the session. Every exclusion
carries all its reason codes (:class:`Reason`), which the draw event records so the audit shows them.

Organisations are compared by :func:`evalroom.domain.identity.organisation_key`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from evalroom.domain.identity import organisation_key

__all__ = ["CreditStatus", "ExpertFacts", "ProjectFacts", "Reason", "reasons_to_exclude", "screen"]


class CreditStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    """Temporarily out of the pool (e.g. after poor ratings), until the suspension ends."""
    BLACKLISTED = "blacklisted"
    """Out of the pool for good (严重失信)."""


class Reason(StrEnum):
    EMPLOYED_BY_BIDDER = "employed_by_bidder"
    TIED_TO_BIDDER = "tied_to_bidder"
    """A declared tie: close relative of a bidder's principal, economic ties, earlier employment."""
    EMPLOYED_BY_TENDERER = "employed_by_tenderer"
    TIED_TO_TENDERER = "tied_to_tenderer"
    EMPLOYED_BY_AUTHORITY = "employed_by_authority"
    EMPLOYED_BY_SUPERVISOR = "employed_by_supervisor"
    PUNISHED = "punished"
    """Punished before for misconduct in tendering or evaluation."""
    SUSPENDED = "suspended"
    BLACKLISTED = "blacklisted"
    HOME_REGION = "home_region"
    RECENT_SAME_TENDERER = "recent_same_tenderer"
    UNAVAILABLE = "unavailable"
    ALREADY_DRAWN = "already_drawn"
    """Drawn for this session before (and since declined, absent, recused or replaced)."""
    ENGAGED_ELSEWHERE = "engaged_elsewhere"
    """A live member (drawn, checked in or seated) of another session whose scheduled time overlaps this one's:
    nobody sits on two committees at once."""


@dataclass(frozen=True)
class ExpertFacts:
    expert_id: str
    region_id: str
    employer: str
    credit_status: CreditStatus = CreditStatus.ACTIVE
    ties: tuple[str, ...] = ()
    """Organisations the expert has declared ties to."""
    punished: bool = False
    unavailable: tuple[tuple[date, date], ...] = ()
    """Inclusive date ranges the expert cannot serve."""
    evaluations: tuple[tuple[str, date], ...] = ()
    """Earlier evaluations: (tenderer, date)."""


@dataclass(frozen=True)
class ProjectFacts:
    tenderer: str
    authority: str | None
    supervisor: str | None
    bidders: tuple[str, ...]
    home_region_id: str
    evaluation_date: date
    exclude_home_region: bool = False
    same_tenderer_days: int = 0
    """0: no cooling period."""
    already_drawn: frozenset[str] = field(default_factory=frozenset)
    engaged_elsewhere: frozenset[str] = field(default_factory=frozenset)
    """Experts who are live members of another session at an overlapping time."""


def reasons_to_exclude(expert: ExpertFacts, project: ProjectFacts) -> tuple[Reason, ...]:
    """Every reason ``expert`` may not sit on ``project``'s committee, in a stable order; empty if none."""
    reasons: list[Reason] = []
    employer = organisation_key(expert.employer)
    ties = {organisation_key(t) for t in expert.ties}
    bidders = {organisation_key(b) for b in project.bidders}
    tenderer = organisation_key(project.tenderer)
    if employer in bidders:
        reasons.append(Reason.EMPLOYED_BY_BIDDER)
    if ties & bidders:
        reasons.append(Reason.TIED_TO_BIDDER)
    if employer == tenderer:
        reasons.append(Reason.EMPLOYED_BY_TENDERER)
    if tenderer in ties:
        reasons.append(Reason.TIED_TO_TENDERER)
    if project.authority and employer == organisation_key(project.authority):
        reasons.append(Reason.EMPLOYED_BY_AUTHORITY)
    if project.supervisor and employer == organisation_key(project.supervisor):
        reasons.append(Reason.EMPLOYED_BY_SUPERVISOR)
    if expert.punished:
        reasons.append(Reason.PUNISHED)
    if expert.credit_status is CreditStatus.SUSPENDED:
        reasons.append(Reason.SUSPENDED)
    if expert.credit_status is CreditStatus.BLACKLISTED:
        reasons.append(Reason.BLACKLISTED)
    if project.exclude_home_region and expert.region_id == project.home_region_id:
        reasons.append(Reason.HOME_REGION)
    if project.same_tenderer_days > 0:
        since = project.evaluation_date - timedelta(days=project.same_tenderer_days)
        if any(organisation_key(t) == tenderer and since <= d <= project.evaluation_date
               for t, d in expert.evaluations):
            reasons.append(Reason.RECENT_SAME_TENDERER)
    if any(start <= project.evaluation_date <= end for start, end in expert.unavailable):
        reasons.append(Reason.UNAVAILABLE)
    if expert.expert_id in project.already_drawn:
        reasons.append(Reason.ALREADY_DRAWN)
    if expert.expert_id in project.engaged_elsewhere:
        reasons.append(Reason.ENGAGED_ELSEWHERE)
    return tuple(reasons)


def screen(experts: Iterable[ExpertFacts], project: ProjectFacts) -> tuple[list[ExpertFacts], dict[str, tuple[Reason, ...]]]:
    """Split ``experts`` into the eligible (in the given order) and the excluded with their reasons."""
    eligible: list[ExpertFacts] = []
    excluded: dict[str, tuple[Reason, ...]] = {}
    for e in experts:
        reasons = reasons_to_exclude(e, project)
        if reasons:
            excluded[e.expert_id] = reasons
        else:
            eligible.append(e)
    return eligible, excluded


