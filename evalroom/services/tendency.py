"""Scoring-tendency analysis (打分倾向) for a period, on demand: the adapter around domain/tendency.py.

Reads the sessions that *ended* (completed, not sealed for re-evaluation) in the period ``[from, to)`` of local
dates, with their projects, the committee members behind the sheets (the pool expert of each, or none for a
representative of the tenderer) and the detailed-review sheets, and hands them to the domain core. Nothing is
stored in the database: the report is computed from the sheets, which are append-only, so the same period
always gives the same answer. A few recent reports are kept in memory (:func:`analyse_period`), because a
supervisor's page asks for one period four times at once (the report, two plots, the CSV), and a long period
takes seconds.

Which sheet version (``basis``):

- ``final`` (default): each member's newest version, the scores that counted (after flag corrections and
  post-report corrections);
- ``submitted``: version 1, as each member first wrote it, before the live checks' flags led to corrections.
  An expert who mismatches objective items and then corrects them when flagged shows in ``submitted`` only.

Who: the coordinator admin over every session; a supervisor over the sessions they supervise (their token's
``sup``), so the analysis shows nothing about sheets they could not read already (docs/analysis.md). Venue
operators and experts are refused by the routes: the experts are the pool's, not the venues'.

Bidders are the same across sessions when their names are the same organisation (``organisation_key``:
full-width and half-width forms, case and punctuation aside), since the project file codes bidders per project.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from evalroom.domain import tendency
from evalroom.domain.identity import organisation_key
from evalroom.domain.project import Project, parse_project
from evalroom.domain.roles import Principal, Role
from evalroom.domain.session_states import State
from evalroom.domain.workdays import end_of_local_day, local_date
from evalroom.errors import ApiError, ErrorCode
from evalroom.services.access import is_overseer
from evalroom.storage.models import CommitteeMember, EvalSession, Expert, ProjectRecord, Region, ScoreSheet
from evalroom.storage.store import Store

__all__ = ["BASES", "Analysis", "Basis", "ExpertLabel", "analyse_period", "check_period", "read_sessions"]

Basis = Literal["final", "submitted"]
BASES: tuple[Basis, ...] = ("final", "submitted")
PHASE = "detailed_review"
COMPLETED = "completed"
"""``end_reason`` of a session that ended normally; one sealed for re-evaluation has no valid evaluation."""


@dataclass(frozen=True)
class ExpertLabel:
    """How the report names a pool expert."""

    name: str
    code: str | None
    region: str

    @property
    def text(self) -> str:
        return f"{self.name} ({self.code})" if self.code else self.name


@dataclass(frozen=True)
class Analysis:
    """A period's report with the names to show it with."""

    start: date
    end: date
    """The period is ``[start, end)`` in local dates."""
    basis: Basis
    report: tendency.TendencyReport
    experts: Mapping[str, ExpertLabel]
    """Expert id → label, for every expert in the report."""
    bidders: Mapping[str, str]
    """Bidder identity → the name as the earliest session in the period wrote it."""


def check_period(start: date, end: date) -> None:
    if start >= end:
        raise ApiError(ErrorCode.INVALID_INPUT, f"the period's 'from' ({start}) must be before its 'to' ({end}); "
                       "the period is [from, to)")


def _period(q: Select[Any], start: date, end: date, tz: str) -> Select[Any]:
    """Restrict a query joined with EvalSession to the sessions completed in the local period."""
    first, after = end_of_local_day(date.fromordinal(start.toordinal() - 1), tz), end_of_local_day(
        date.fromordinal(end.toordinal() - 1), tz)
    return q.where(EvalSession.state.in_([State.ENDED.value, State.ARCHIVED.value]),
                   EvalSession.end_reason == COMPLETED, EvalSession.ended_at >= first, EvalSession.ended_at < after)


def _criteria(project: Project) -> tuple[tendency.Criterion, ...]:
    return tuple(tendency.Criterion(c.code, c.objective, float(c.min), float(c.max)) for c in project.criteria)


def read_sessions(s: Session, principal: Principal, start: date, end: date, basis: Basis, tz: str
                  ) -> tuple[list[tendency.ScoredSession], dict[str, ExpertLabel], dict[str, str]]:
    """The scored sessions of the period in the principal's scope, oldest first, with the experts' labels
    and the bidders' names. A few queries for the whole period, not one per session."""
    rows = s.execute(_period(select(EvalSession.id, EvalSession.ended_at), start, end, tz)
                     .order_by(EvalSession.ended_at, EvalSession.id)).all()
    ended = {sid: at for sid, at in rows if is_overseer(principal, sid)}
    if not ended:
        return [], {}, {}
    projects: dict[str, Project] = {}
    parsed: dict[str, Project] = {}  # by document hash: a tender re-run keeps its parsed form
    for sid, sha, doc in s.execute(_period(select(ProjectRecord.session_id, ProjectRecord.sha256,
                                                  ProjectRecord.document).join(EvalSession), start, end, tz)):
        if sid in ended:
            projects[sid] = parsed.get(sha) or parsed.setdefault(sha, parse_project(doc))
    members: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for sid, mid, expert in s.execute(_period(select(CommitteeMember.session_id, CommitteeMember.id,
                                                     CommitteeMember.expert_id).join(EvalSession), start, end, tz)
                                      .where(CommitteeMember.state == "seated").order_by(CommitteeMember.id)):
        if sid in ended:
            members[sid].append((mid, expert))
    sheets: dict[str, dict[str, tuple[int, Mapping[str, Any]]]] = defaultdict(dict)
    q = _period(select(ScoreSheet.session_id, ScoreSheet.member_id, ScoreSheet.version, ScoreSheet.content)
                .join(EvalSession), start, end, tz).where(ScoreSheet.phase == PHASE)
    if basis == "submitted":
        q = q.where(ScoreSheet.version == 1)
    for sid, mid, version, content in s.execute(q):
        if sid not in ended:
            continue
        kept = sheets[sid].get(mid)
        if kept is None or version > kept[0]:
            sheets[sid][mid] = (version, content["scores"])
    out: list[tendency.ScoredSession] = []
    bidder_names: dict[str, str] = {}
    for sid, at in ended.items():
        project = projects.get(sid)
        seated = [(m, e) for m, e in members.get(sid, []) if m in sheets.get(sid, {})]
        if project is None or not seated:
            continue
        bidders = {}
        for bid in project.bids:
            name = project.bidders[bid.bidder]
            bidders[bid.key] = key = organisation_key(name)
            bidder_names.setdefault(key, name)
        scores = {m: {b: {c: float(v) for c, v in items.items()} for b, items in sheets[sid][m][1].items()}
                  for m, _ in seated}
        out.append(tendency.ScoredSession(sid, local_date(at, tz), _criteria(project), bidders,
                                          tuple(tendency.Evaluator(m, e) for m, e in seated), scores))
    return out, _labels(s, {e for x in out for ev in x.evaluators if (e := ev.expert)}), bidder_names


def _labels(s: Session, ids: Iterable[str]) -> dict[str, ExpertLabel]:
    wanted = set(ids)
    if not wanted:
        return {}
    ordered, out = sorted(wanted), {}
    for i in range(0, len(ordered), 500):  # bounded IN lists, whatever the pool's size
        rows = s.execute(select(Expert.id, Expert.name, Expert.code, Region.code).join(Region)
                         .where(Expert.id.in_(ordered[i:i + 500])))
        out.update({eid: ExpertLabel(name, code, region) for eid, name, code, region in rows})
    return out


@dataclass
class _Cached:
    lock: threading.Lock = field(default_factory=threading.Lock)
    value: Analysis | None = None


CACHED_REPORTS = 8
_cache: weakref.WeakKeyDictionary[Store, OrderedDict[tuple[Any, ...], _Cached]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def analyse_period(store: Store, principal: Principal, start: date, end: date, *, basis: Basis = "final",
                   tz: str, rules: tendency.TendencyRules | None = None) -> Analysis:
    """The tendency report of the period ``[start, end)`` (local dates in ``tz``) over the sessions in the
    principal's scope.

    With the default rules, the last :data:`CACHED_REPORTS` reports of each store are kept, keyed by the period,
    the basis, the scope (the admin's, or the set of sessions a supervisor's token names) and the head of the
    event chain: every write appends an event, so a new sheet, a session ending or an expert renamed gives a new
    key and nothing stale is served. Requests for the same key wait for the one computing it."""
    check_period(start, end)
    if basis not in BASES:
        raise ApiError(ErrorCode.INVALID_INPUT, f"basis must be one of {list(BASES)} (got {basis!r})")

    def compute() -> Analysis:
        with store.read() as s:
            sessions, labels, bidders = read_sessions(s, principal, start, end, basis, tz)
        return Analysis(start, end, basis, tendency.analyse(sessions, rules), labels, bidders)

    if rules is not None:
        return compute()
    scope = None if principal.role is Role.COORDINATOR_ADMIN else frozenset(principal.supervised)
    key = (principal.role, scope, start, end, basis, tz, store.head()[0])
    with _cache_lock:
        entries = _cache.setdefault(store, OrderedDict())
        entry = entries.pop(key, None) or _Cached()
        entries[key] = entry  # the newest last
        while len(entries) > CACHED_REPORTS:
            entries.popitem(last=False)
    with entry.lock:
        if entry.value is None:
            entry.value = compute()
        return entry.value
