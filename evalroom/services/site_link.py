"""The coordinator's side of the site link: venues online and offline, heartbeats, and each venue's feed.

A venue is online while its site agent is connected and sending heartbeats; a venue going offline suspends
its evaluating sessions, and coming back closes the fault (services/evaluation.py). The link that said hello last
speaks for the venue (``venues.link_id``); an older connection of the same venue is superseded. Changes of
online/offline are events routed to the venue; heartbeats themselves are observations, written without an
event (``Store.write_quiet``) so that they do not flood the chain. The housekeeper (evalroom/api/app.py)
marks venues offline whose heartbeats stopped, so a coordinator process that died with its connections
open cannot leave venues "online" for ever: any other process sweeps them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from evalroom.clock import format_time
from evalroom.config import Settings
from evalroom.services import evaluation
from evalroom.services.offers import SYSTEM, expire_due, guest_event_view
from evalroom.storage.models import Offer, Venue
from evalroom.storage.store import Store, Tx, read_venue_events

__all__ = ["housekeep", "link_closed", "link_opened", "record_heartbeat", "reopen_link", "sweep_offline", "venue_feed"]


def link_opened(tx: Tx, actor: str, venue_id: str, link_id: str, settings: Settings) -> None:
    venue = tx.session.get(Venue, venue_id)
    was_online = venue.online
    venue.online, venue.link_id, venue.last_heartbeat_at = True, link_id, tx.now()
    if not was_online:
        tx.record(actor=actor, kind="venue.online", venue_ids=[venue_id], payload={"venue_id": venue_id})
        evaluation.venue_up(tx, settings, venue_id, "site_link")


def record_heartbeat(store: Store, venue_id: str, link_id: str) -> bool:
    """Note a heartbeat; False if this link no longer speaks for the venue (a newer one does, or it was
    swept offline, in which case the caller opens it again with :func:`link_opened`)."""
    with store.write_quiet() as s:
        venue = s.get(Venue, venue_id)
        if venue.link_id != link_id:
            return False
        venue.last_heartbeat_at = store.clock.now()
        return True


def reopen_link(tx: Tx, actor: str, venue_id: str, link_id: str, settings: Settings) -> bool:
    """Take the venue back online on this link (after a sweep), unless another link speaks for it now."""
    venue = tx.session.get(Venue, venue_id)
    if venue.link_id not in (None, link_id):
        return False
    link_opened(tx, actor, venue_id, link_id, settings)
    return True


def link_closed(tx: Tx, venue_id: str, link_id: str, reason: str) -> None:
    venue = tx.session.get(Venue, venue_id)
    if venue.link_id == link_id and venue.online:
        venue.online, venue.link_id = False, None
        tx.record(actor=SYSTEM, kind="venue.offline", venue_ids=[venue_id],
                  payload={"venue_id": venue_id, "reason": reason})
        evaluation.venue_down(tx, venue_id, "site_link", f"site agent disconnected ({reason})")


def _silent_since(now: datetime, settings: Settings) -> datetime:
    return now - timedelta(seconds=settings.site_offline_after_seconds)


def sweep_offline(tx: Tx, settings: Settings) -> int:
    silent = list(tx.session.scalars(select(Venue).where(
        Venue.online.is_(True), Venue.last_heartbeat_at < _silent_since(tx.now(), settings))))
    for venue in silent:
        venue.online, venue.link_id = False, None
        tx.record(actor=SYSTEM, kind="venue.offline", venue_ids=[venue.id],
                  payload={"venue_id": venue.id, "reason": "heartbeat_timeout",
                           "last_heartbeat_at": format_time(venue.last_heartbeat_at)})
        evaluation.venue_down(tx, venue.id, "site_link", "site agent silent (heartbeat timeout)")
    return len(silent)


def housekeep(store: Store, settings: Settings) -> int:
    """Expire overdue offers and mark silent venues offline; return how many changes were made. Looks first
    with a read, so that an idle coordinator does not take the write lock every few seconds."""
    now = store.clock.now()
    with store.read() as s:
        due = s.scalar(select(Offer.id).where(Offer.state == "pending", Offer.respond_by <= now).limit(1))
        silent = s.scalar(select(Venue.id).where(Venue.online.is_(True),
                                                 Venue.last_heartbeat_at < _silent_since(now, settings)).limit(1))
    if due is None and silent is None:
        return 0
    with store.write() as tx:
        return expire_due(tx) + sweep_offline(tx, settings)


def venue_feed(store: Store, settings: Settings, venue_id: str, *, after: int, limit: int) -> list[dict[str, Any]]:
    """The events routed to a venue after ``after``, as its site agent receives them (blind views)."""
    with store.read() as s:
        events = read_venue_events(s, venue_id, after_seq=after, limit=limit)
    return [guest_event_view(settings, ev) for ev in events]
