"""The coordinator-wide audit trail: every event of the chain, for admins."""

from __future__ import annotations

from fastapi import APIRouter

from evalroom.api.deps import Admin, Ctx
from evalroom.api.params import After, EventLimit
from evalroom.schemas import EventPage, EventPublic
from evalroom.storage.store import read_events

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", summary="Events after a sequence number, oldest first")
def list_(ctx: Ctx, _admin: Admin, after: After = 0, limit: EventLimit = 100) -> EventPage:
    with ctx.store.read() as s:
        events = read_events(s, after_seq=after, limit=limit)
    return EventPage(events=[EventPublic(**e.as_dict()) for e in events],
                     next_after=events[-1].seq if events else after)
