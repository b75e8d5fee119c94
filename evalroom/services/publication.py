"""Publishing the candidates (中标候选人公示) and recording objections (异议) (rules: domain/publication.py).

**Publishing.** Once the newest report version is sealed, the host's operator (or the coordinator admin)
publishes the recommended candidates of every lot as the sealed report names them. The record is public: it
is the payload of ``publication.published``, whose payload goes into the transparency log
(services/tlog.py ``PUBLIC_KINDS``), and anyone reads it without a token (``GET /publications``, the page
``/publications``). It holds what the public may know — project, tenderer, per lot the candidates in rank
order with bidder, price and final score, the sealed PDF's hash — and nothing else of the evaluation
(no scores by expert, no committee). A session is published once.

**Objections** are raised with the tenderer; the host's operators record each one received and the answer.
Their content is not public (it is the bidders' and the tenderer's correspondence): the events are logged by
hash and shown to experts redacted; the public sees only how many were received and how many still wait for an
answer, since the procurement is paused until then (条例 Art. 54).

Deadlines come from the injected clock and the operator's calendar (``work_calendar_file``, ``local_timezone``).
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evalroom.clock import format_time
from evalroom.config import Settings
from evalroom.domain.publication import objection_deadline, publication_deadlines
from evalroom.domain.roles import Principal
from evalroom.domain.workdays import Due
from evalroom.errors import ApiError, ConflictError, ErrorCode, ForbiddenError, NotFoundError
from evalroom.schemas import ObjectionAnswer, ObjectionCreate, PublicationCreate
from evalroom.services.access import check_can_change_session, check_can_read_session, check_host_or_admin
from evalroom.services.signatures import sealed_report
from evalroom.storage.models import EvalSession, Objection, Publication, Region, Venue
from evalroom.storage.store import Store, Tx

__all__ = ["answer_objection", "get_publication", "list_objections", "list_publications", "publish",
           "record_objection"]


def _candidates(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per lot, the recommended candidates in rank order, as the sealed report names them."""
    project = report["project"]
    bidders = {b["code"]: b["name"] for b in project["bidders"]}
    lots = {lot["code"]: lot["name"] for lot in project["lots"]}
    out = []
    for result in report["results"]:
        prices = {row["bid"]: row["price"] for row in result["rows"]}
        out.append({"lot": result["lot"], "name": lots.get(result["lot"], result["lot"]), "candidates": [
            {"rank": c["rank"], "bidder": c["bidder"], "bidder_name": bidders.get(c["bidder"], c["bidder"]),
             "price": prices.get(c["bid"]), "final": c["final"]} for c in result["candidates"]]})
    return out


def _closes(settings: Settings, p: Publication) -> Due:
    return Due.of(date.fromisoformat(p.content["window"]["to"]), settings.local_timezone)


def _counts(s: Session, publication_id: str) -> tuple[int, int]:
    received = s.scalar(select(func.count()).where(Objection.publication_id == publication_id)) or 0
    waiting = s.scalar(select(func.count()).where(Objection.publication_id == publication_id,
                                                  Objection.answer.is_(None))) or 0
    return received, waiting


def _public_view(s: Session, settings: Settings, p: Publication, now: Any) -> dict[str, Any]:
    received, waiting = _counts(s, p.id)
    return {**p.content, "state": "open" if now < _closes(settings, p).before else "closed",
            "objections": {"received": received, "unanswered": waiting}, "paused": waiting > 0}


def publish(tx: Tx, settings: Settings, principal: Principal, session_id: str, body: PublicationCreate
            ) -> dict[str, Any]:
    session = check_host_or_admin(principal, tx.session.get(EvalSession, session_id, with_for_update=True),
                                  session_id)
    if tx.session.scalar(select(Publication.id).where(Publication.session_id == session.id)) is not None:
        raise ConflictError("the candidates of this session are published already")
    sealed = sealed_report(tx.session, session.id)
    if sealed is None:
        raise ApiError(ErrorCode.REPORT_NOT_SEALED, "the candidates are published from the sealed report; the "
                                                    "newest report version is not sealed yet")
    report, seal = sealed
    now = tx.now()
    d = publication_deadlines(sealed_at=seal.created_at, published_at=now, window_days=body.days,
                              calendar=settings.work_calendar, tz=settings.local_timezone)
    doc = json.loads(report.json_bytes)
    host = tx.session.get(Venue, session.host_venue_id)
    publication_id = str(uuid.uuid4())
    content = {
        "publication_id": publication_id,
        "session": {"id": session.id, "code": session.code, "title": session.title},
        "host_venue": {"code": host.code, "name": host.name, "region": tx.session.get(Region, host.region_id).code},
        "project": {k: doc["project"][k] for k in ("code", "name", "tenderer", "method")},
        "report": {"version": report.version, "sealed_at": format_time(seal.created_at),
                   "sealed_pdf_sha256": seal.content_sha256},
        "lots": _candidates(doc),
        "published_at": format_time(now),
        "received_on": d.received_on, "publish_by": d.publish_by.on.isoformat(), "overdue": d.overdue,
        "window": {"days": d.window_days, "from": d.published_on, "to": d.closes.on.isoformat()},
        "objections_to": f"{doc['project']['tenderer']}（招标人），经{host.name}",
    }
    p = Publication(id=publication_id, session_id=session.id, report_version=report.version, content=content,
                    sealed_at=seal.created_at, published_at=now, published_by=principal.actor,
                    window_days=d.window_days, overdue=d.overdue)
    tx.session.add(p)
    tx.record(actor=principal.actor, kind="publication.published", session_id=session.id, payload=content)
    tx.session.flush()
    return _public_view(tx.session, settings, p, now)


def list_publications(store: Store, settings: Settings, limit: int, offset: int, *,
                      session_id: str | None = None) -> list[dict[str, Any]]:
    """Every publication, newest first, or the one of ``session_id`` (a session is published once): public."""
    with store.read() as s:
        q = select(Publication).order_by(Publication.published_at.desc(), Publication.id).limit(limit).offset(offset)
        rows = s.scalars(q if session_id is None else q.where(Publication.session_id == session_id))
        now = store.clock.now()
        return [_public_view(s, settings, p, now) for p in rows]


def get_publication(store: Store, settings: Settings, publication_id: str) -> dict[str, Any]:
    with store.read() as s:
        p = s.get(Publication, publication_id)
        if p is None:
            raise NotFoundError("publication", publication_id)
        return _public_view(s, settings, p, store.clock.now())


def _objection_view(settings: Settings, p: Publication, o: Objection, now: Any) -> dict[str, Any]:
    due = objection_deadline(received_at=o.received_at, closes=_closes(settings, p),
                             calendar=settings.work_calendar, tz=settings.local_timezone)
    return {"id": o.id, "publication_id": p.id, "session_id": p.session_id, "objector": o.objector,
            "text": o.text, "received_at": format_time(o.received_at), "received_on": due.received_on,
            "received_by": o.received_by, "late": o.late, "answer_by": due.answer_by.on.isoformat(),
            "answer": o.answer, "answered_at": o.answered_at and format_time(o.answered_at),
            "answered_by": o.answered_by, "overdue": o.answer is None and now >= due.answer_by.before}


def _host_publication(tx: Tx, principal: Principal, publication_id: str) -> Publication:
    """The publication, for an operator of its session's host venue (404 for any other venue's)."""
    p = tx.session.get(Publication, publication_id)
    if p is None:
        raise NotFoundError("publication", publication_id)
    try:
        check_can_change_session(principal, tx.session.get(EvalSession, p.session_id, with_for_update=True),
                                 p.session_id)
    except (NotFoundError, ForbiddenError):
        raise NotFoundError("publication of a session hosted at your venue", publication_id) from None
    return p


def record_objection(tx: Tx, settings: Settings, principal: Principal, publication_id: str,
                     body: ObjectionCreate) -> dict[str, Any]:
    """An objection received by the tenderer, recorded by the host's operator; late ones are kept, marked."""
    p = _host_publication(tx, principal, publication_id)
    now = tx.now()
    due = objection_deadline(received_at=now, closes=_closes(settings, p), calendar=settings.work_calendar,
                             tz=settings.local_timezone)
    o = Objection(id=str(uuid.uuid4()), publication_id=p.id, objector=body.objector, text=body.text,
                  received_at=now, received_by=principal.actor, late=due.late)
    tx.session.add(o)
    view = _objection_view(settings, p, o, now)
    tx.record(actor=principal.actor, kind="publication.objection_received", session_id=p.session_id, payload=view)
    return view


def answer_objection(tx: Tx, settings: Settings, principal: Principal, publication_id: str, objection_id: str,
                     body: ObjectionAnswer) -> dict[str, Any]:
    """The tenderer's answer, recorded by the host's operator; once. Past its deadline it is still taken, and
    the objection shows it was ``overdue`` until then."""
    p = _host_publication(tx, principal, publication_id)
    o = tx.session.get(Objection, objection_id)
    if o is None or o.publication_id != p.id:
        raise NotFoundError("objection", objection_id)
    if o.answer is not None:
        raise ConflictError("this objection has been answered")
    o.answer, o.answered_at, o.answered_by = body.text, tx.now(), principal.actor
    view = _objection_view(settings, p, o, tx.now())
    tx.record(actor=principal.actor, kind="publication.objection_answered", session_id=p.session_id, payload=view)
    return view


def list_objections(store: Store, settings: Settings, principal: Principal, publication_id: str
                    ) -> list[dict[str, Any]]:
    """The objections with their deadlines: for the admin, the session's supervisors and the host's operators."""
    with store.read() as s:
        p = s.get(Publication, publication_id)
        if p is None:
            raise NotFoundError("publication", publication_id)
        try:
            check_can_read_session(principal, s.get(EvalSession, p.session_id), p.session_id)
        except NotFoundError:
            raise NotFoundError("publication", publication_id) from None
        now = store.clock.now()
        return [_objection_view(settings, p, o, now) for o in s.scalars(
            select(Objection).where(Objection.publication_id == p.id).order_by(Objection.received_at, Objection.id))]
