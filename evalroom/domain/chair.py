"""Electing the chair (组长): every member votes; on a tie only the tied stand again; until one remains.

A round has a set of candidates (round 1: every seated member) and one vote from every seated member for one
of them. When the last vote is in, :func:`tally` counts: one member with the most votes is the chair;
otherwise the next round's candidates are exactly those tied for the most. A member may vote for themself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from evalroom.errors import ApiError, ConflictError, ErrorCode

__all__ = ["RoundResult", "check_vote", "tally"]


@dataclass(frozen=True)
class RoundResult:
    counts: dict[str, int]
    """Votes per candidate, every candidate listed (0 if none)."""
    chair: str | None
    tied: tuple[str, ...]
    """The candidates of the next round when there is no chair (sorted)."""


def check_vote(voter: str, candidate: str, *, voters: Collection[str], candidates: Collection[str],
               votes: Mapping[str, str]) -> None:
    if voter not in voters:
        raise ConflictError("only a seated member of the committee votes")
    if voter in votes:
        raise ConflictError("this member has already voted in this round")
    if candidate not in candidates:
        raise ApiError(ErrorCode.INVALID_INPUT, "the candidate does not stand in this round")


def tally(candidates: Collection[str], votes: Mapping[str, str]) -> RoundResult:
    """Count a complete round. ``votes``: voter → candidate."""
    counts = Counter({c: 0 for c in candidates})
    counts.update(votes.values())
    top = max(counts.values())
    leaders = sorted(c for c, n in counts.items() if n == top)
    if len(leaders) == 1:
        return RoundResult(dict(counts), leaders[0], ())
    return RoundResult(dict(counts), None, tuple(leaders))
