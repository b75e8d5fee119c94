"""Proposing guest venues: which venues can serve, in which order, with a verifiable random tie-break.

The coordinator proposes a guest venue for an offer as dispatch systems do: among the venues that can serve
(enough usable, free seats; an expert pool that covers the specialties; not the host; not already asked
for this session), the one that lent seats least recently comes first — so the work is spread — and among
venues equal on that, a random choice (两随机: the guest venue is chosen at random).

The random part is verifiable: each candidate's lot is ``HMAC-SHA256(seed, venue_id)``, and the coordinator
logs the seed, the candidates and their last-lent times with the choice. Anyone can recompute the order with
:func:`rank` and check that the chosen venue came first.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Candidate", "least_recently_used_first", "lot", "rank"]


@dataclass(frozen=True)
class Candidate:
    venue_id: str
    free_seats: int
    last_lent_at: datetime | None
    """When this venue last confirmed an offer as a guest; None if never (those come first)."""


def least_recently_used_first(last_lent_at: datetime | None) -> tuple[bool, datetime]:
    """A sort key: venues that never lent come first, then the one that lent longest ago."""
    return last_lent_at is not None, last_lent_at or datetime.min


def lot(seed: bytes, venue_id: str) -> str:
    return hmac.new(seed, venue_id.encode(), hashlib.sha256).hexdigest()


def rank(candidates: Sequence[Candidate], seed: bytes) -> list[Candidate]:
    """Candidates in the order they are proposed: least recently used first, ties by the seeded lot."""
    if len(seed) < 16:
        raise ValueError("the seed must have at least 128 bits")
    return sorted(candidates, key=lambda c: (*least_recently_used_first(c.last_lent_at), lot(seed, c.venue_id)))
