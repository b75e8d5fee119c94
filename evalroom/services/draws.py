"""The commit-then-reveal mechanism every coordinator draw uses: committees (services/committee.py) and guest
venues (services/offers.py).

A draw is a row of ``draws`` and three events: ``draw.committed`` (the SHA-256 of a fresh 32-byte seed,
recorded before anything the draw depends on is read), an outcome recorded by the kind of draw, and
``draw.revealed`` (the seed). The seed is sealed (evalroom.auth.sealing) until it is revealed, so a draw a
crash interrupts is finished with the seed it committed to, never with a new one (docs/protocols.md).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from evalroom.auth.sealing import Sealer
from evalroom.domain import draw as drawing
from evalroom.errors import ApiError
from evalroom.storage.models import Draw
from evalroom.storage.store import Store, Tx

__all__ = ["SEED_CONTEXT", "SYSTEM", "commit", "complete", "reveal", "seed_of", "unfinished"]

SYSTEM = "system:coordinator"
SEED_CONTEXT = "draw.seed"


def commit(tx: Tx, sealer: Sealer, session_id: str, actor: str, purpose: str, *,
           vacancy_member_id: str | None = None, request: dict[str, Any] | None = None) -> Draw:
    """Take a fresh seed, keep it sealed, and log its commitment."""
    seed = secrets.token_bytes(drawing.SEED_BYTES)
    d = Draw(id=str(uuid.uuid4()), session_id=session_id, purpose=purpose, vacancy_member_id=vacancy_member_id,
             request=request, commitment=drawing.commitment(seed), seed_sealed=sealer.seal(seed, SEED_CONTEXT),
             requested_by=actor, created_at=tx.now())
    tx.session.add(d)
    payload: dict[str, Any] = {"draw_id": d.id, "purpose": purpose, "commitment": d.commitment,
                               "vacancy_member_id": vacancy_member_id}
    if request is not None:
        payload["request"] = request
    tx.record(actor=actor, kind="draw.committed", session_id=session_id, payload=payload)
    return d


def seed_of(sealer: Sealer, d: Draw) -> bytes:
    return sealer.open(d.seed_sealed, SEED_CONTEXT)


def reveal(tx: Tx, sealer: Sealer, d: Draw) -> None:
    d.seed_hex = seed_of(sealer, d).hex()
    d.revealed_at = tx.now()
    tx.record(actor=SYSTEM, kind="draw.revealed", session_id=d.session_id,
              payload={"draw_id": d.id, "commitment": d.commitment, "seed": d.seed_hex})


def unfinished(s: Session, session_id: str | None = None) -> list[str]:
    """Draws left committed or unrevealed (by a crash), oldest first; of one session, or all."""
    q = select(Draw.id).where(or_(Draw.outcome.is_(None), Draw.seed_hex.is_(None))).order_by(Draw.created_at)
    return list(s.scalars(q if session_id is None else q.where(Draw.session_id == session_id)))


def complete(store: Store, sealer: Sealer, draw_id: str, perform: Callable[[Tx, Draw], ApiError | None]) -> ApiError | None:
    """Perform (``perform`` records the outcome: ``outcome`` set, its events) and reveal a committed draw,
    whichever steps are still to do, each in its own transaction; return the outcome's failure, if any."""
    failure = None
    with store.write() as tx:
        d = tx.session.get(Draw, draw_id, with_for_update=True)
        if d.outcome is None:
            d.performed_at = tx.now()
            failure = perform(tx, d)
    with store.write() as tx:
        d = tx.session.get(Draw, draw_id)
        if d.seed_hex is None:
            reveal(tx, sealer, d)
    return failure
