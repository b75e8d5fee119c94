"""Checking logged draws from the event history alone (``evalroom verify-draw``).

For each draw: its three events exist and come in order (``draw.committed`` before the outcome —
``draw.performed``, ``offer.guest_drawn`` or ``draw.failed`` — before ``draw.revealed``); the revealed seed
matches the commitment; a committee draw's picks are what :func:`evalroom.domain.draw.draw` gives for the
logged seed, pool and slots, and the members it created are those picks; a guest-venue draw chose the first
venue of :func:`sites.pairing.rank` under the seed; a failed committee draw fails again on recomputation. Anyone with an export of the events can
run it; it needs neither the database nor the coordinator's keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from evalroom.clock import parse_time
from evalroom.domain import draw as drawing
from evalroom.domain.events import Event
from evalroom.errors import ApiError
from sites.pairing import Candidate, rank

__all__ = ["DrawAudit", "audit_draws"]

_KINDS = ("draw.committed", "draw.performed", "draw.failed", "draw.revealed", "offer.guest_drawn")
_OUTCOMES = ("draw.performed", "offer.guest_drawn", "draw.failed")


@dataclass
class DrawAudit:
    draw_id: str
    session_id: str | None
    purpose: str | None = None
    outcome: str | None = None
    picks: int = 0
    failure: str | None = None
    """Why a draw logged as failed failed (its error message)."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check(audit: DrawAudit, found: dict[str, Event]) -> None:
    committed, revealed = found.get("draw.committed"), found.get("draw.revealed")
    outcomes = [found[k] for k in _OUTCOMES if k in found]
    result = outcomes[0] if outcomes else None
    if len(outcomes) > 1:
        audit.problems.append("the draw is logged with more than one outcome")
    for name, ev in (("commitment", committed), ("outcome", result), ("reveal", revealed)):
        if ev is None:
            audit.problems.append(f"no {name} event is logged")
    if committed is None or result is None or revealed is None:
        return
    audit.purpose = committed.payload.get("purpose")
    audit.outcome = "failed" if result.kind == "draw.failed" else "drawn"
    if not committed.seq < result.seq < revealed.seq:
        audit.problems.append("the events are out of order: commit, then draw, then reveal")
    if result.kind == "offer.guest_drawn":
        audit.picks = 1
        audit.problems += _check_guest(committed.payload, result.payload, revealed.payload)
        return
    if result.kind == "draw.performed":
        audit.picks = len(result.payload.get("picks", []))
        audit.problems += drawing.verify(committed.payload, result.payload, revealed.payload)
        picked = [p.get("expert_id") for p in result.payload.get("picks", [])]
        members = [m.get("expert_id") for m in result.payload.get("members", [])]
        if picked != members:
            audit.problems.append("the members created are not the picks")
        return
    try:
        seed = bytes.fromhex(revealed.payload["seed"])
    except (KeyError, TypeError, ValueError):
        audit.problems.append("the revealed seed is missing or not hex")
        return
    if drawing.commitment(seed) != committed.payload.get("commitment"):
        audit.problems.append("the revealed seed does not match the commitment logged before the draw")
    p = result.payload
    audit.failure = p.get("error", {}).get("message")
    if p.get("error", {}).get("code") != "pool_too_small":
        return  # failed for another reason (e.g. the plan no longer held): nothing to recompute
    try:
        slots = [drawing.Slot(s["venue_id"], s["region_id"], s["specialty"], s["label"]) for s in p["slots"]]
        pool = [drawing.PoolEntry(e["expert_id"], e["region_id"], frozenset(e["qualifies"])) for e in p["pool"]]
        drawing.draw(seed, pool, slots)
    except drawing.PoolTooSmall:
        return
    except (KeyError, TypeError, ValueError, ApiError) as exc:
        audit.problems.append(f"the failed draw cannot be recomputed: {exc}")
        return
    audit.problems.append("the draw is logged as failed, but its pool fills every slot")


def _check_guest(committed: dict, drawn: dict, revealed: dict) -> list[str]:
    """A guest-venue draw: the candidates in the logged order are sites.pairing.rank's order under the seed,
    and the chosen venue is the first."""
    try:
        seed = bytes.fromhex(revealed["seed"])
        candidates = [Candidate(venue_id=c["venue_id"], free_seats=c["free_seats"],
                                last_lent_at=parse_time(c["last_lent_at"]) if c["last_lent_at"] else None)
                      for c in drawn["candidates"]]
    except (KeyError, TypeError, ValueError):
        return ["the guest draw's record is incomplete"]
    problems = []
    if drawing.commitment(seed) != committed.get("commitment"):
        problems.append("the revealed seed does not match the commitment logged before the draw")
    order = [c.venue_id for c in rank(candidates, seed)]
    if order != [c.venue_id for c in candidates] or not order or drawn.get("chosen") != order[0]:
        problems.append("the chosen guest venue is not the first in the recomputed order")
    return problems


def audit_draws(events: Iterable[Event], *, draw_ids: Iterable[str] = (), session_id: str | None = None) -> list[DrawAudit]:
    """Audit the draws among ``events`` (all, or those named, or those of one session), in order of commit."""
    wanted = set(draw_ids)
    grouped: dict[str, dict[str, Event]] = {}
    sessions: dict[str, str | None] = {}
    duplicates: set[str] = set()
    for ev in events:
        if ev.kind not in _KINDS:
            continue
        draw_id = ev.payload.get("draw_id")
        if not isinstance(draw_id, str) or (wanted and draw_id not in wanted) \
                or (session_id is not None and ev.session_id != session_id):
            continue
        slot = grouped.setdefault(draw_id, {})
        if ev.kind in slot:
            duplicates.add(draw_id)
        slot[ev.kind] = ev
        sessions.setdefault(draw_id, ev.session_id)
    audits = []
    for draw_id, found in grouped.items():
        audit = DrawAudit(draw_id=draw_id, session_id=sessions[draw_id])
        if draw_id in duplicates:
            audit.problems.append("a step of the draw is logged twice")
        _check(audit, found)
        audits.append(audit)
    audits += [DrawAudit(draw_id=d, session_id=None, problems=["no event of this draw is logged"])
               for d in sorted(wanted - set(grouped))]
    return audits
