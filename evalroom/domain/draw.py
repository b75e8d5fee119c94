"""The verifiable expert draw (专家抽取): commit to a seed, draw deterministically, reveal the seed.

Protocol (the coordinator runs it; docs/protocols.md shows the events):

1. **Commit.** The coordinator takes 32 fresh random bytes, the *seed*, and logs ``commitment =
   SHA-256(seed)`` (event ``draw.committed``). This is durable before the pool is read, so the coordinator
   cannot try seeds until one gives the committee it wants: a commitment once logged is always used (a draw
   interrupted after committing is completed with the same seed, never a new one).
2. **Draw.** The eligible pool is read and screened (evalroom.domain.avoidance), and :func:`draw` picks the
   committee as a deterministic function of (seed, pool in canonical order, slots). The event
   ``draw.performed`` logs the slots, the eligible pool, the excluded experts with their reason codes, and
   the picks.
3. **Reveal.** The seed is logged (``draw.revealed``). Anyone can now check the commitment and recompute the
   picks with :func:`verify` (``evalroom verify-draw``).

The function, version ``evalroom-draw-v1``:

* *Slots*: each quota ``(venue, specialty, n)`` gives n slots; slots are ordered by (venue id, specialty).
* *Pool*: entries ``(expert id, region id, qualifies)``, sorted by expert id, no repeats; ``qualifies`` is the
  set of this draw's specialties the expert qualifies for (the classification tree is applied before, so the
  recomputation needs no tree). A candidate for a slot is an entry of the slot's region that qualifies for
  its specialty.
* *Lots*: each expert's lot is ``HMAC-SHA256(key=seed, msg=expert id)``; candidates are ranked by lot, lowest
  first: a uniformly random order no one knew before the seed.
* *Picks*: slot by slot, in slot order, the best-ranked candidate not yet picked *whose pick still leaves
  every later slot fillable* (checked by bipartite matching). So the draw fills every quota whenever any
  assignment of the pool could, and otherwise fails before picking anyone with :class:`PoolTooSmall` naming
  the venue and specialty that are short.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalroom.domain.committee_rules import Quota
from evalroom.errors import ApiError, ErrorCode

__all__ = ["ALGORITHM", "Pick", "PoolEntry", "PoolTooSmall", "Slot", "commitment", "draw", "lot", "slots_for",
           "verify"]

ALGORITHM = "evalroom-draw-v1"
SEED_BYTES = 32


@dataclass(frozen=True)
class PoolEntry:
    expert_id: str
    region_id: str
    qualifies: frozenset[str]

    def as_dict(self) -> dict[str, Any]:
        return {"expert_id": self.expert_id, "region_id": self.region_id, "qualifies": sorted(self.qualifies)}


@dataclass(frozen=True)
class Slot:
    venue_id: str
    region_id: str
    specialty: str
    label: str

    def as_dict(self) -> dict[str, Any]:
        return {"venue_id": self.venue_id, "region_id": self.region_id, "specialty": self.specialty,
                "label": self.label}


@dataclass(frozen=True)
class Pick:
    slot: Slot
    expert_id: str

    def as_dict(self) -> dict[str, Any]:
        return {"venue_id": self.slot.venue_id, "specialty": self.slot.specialty, "expert_id": self.expert_id}


class PoolTooSmall(ApiError):
    def __init__(self, shortages: Sequence[Mapping[str, Any]]) -> None:
        text = "; ".join(f"{s['venue']} needs {s['needed']} expert(s) in {s['specialty']} and "
                         f"{s['eligible']} eligible {'is' if s['eligible'] == 1 else 'are'} available"
                         + (" (shared with other quotas)" if s["shared"] else "") for s in shortages)
        super().__init__(ErrorCode.POOL_TOO_SMALL, f"pool too small: {text}", details=[dict(s) for s in shortages])
        self.shortages = list(shortages)


def commitment(seed: bytes) -> str:
    return hashlib.sha256(seed).hexdigest()


def lot(seed: bytes, expert_id: str) -> str:
    return hmac.new(seed, expert_id.encode(), hashlib.sha256).hexdigest()


def slots_for(quotas: Iterable[Quota]) -> list[Slot]:
    slots = [Slot(q.venue_id, q.region_id, sp, q.label) for q in quotas for sp, n in q.specialties.items()
             for _ in range(n)]
    return sorted(slots, key=lambda s: (s.venue_id, s.specialty))


def _fits(slot: Slot, entry: PoolEntry) -> bool:
    return entry.region_id == slot.region_id and slot.specialty in entry.qualifies


def _matching(cands: Sequence[Sequence[int]], taken: set[int]) -> list[int | None]:
    """Maximum bipartite matching of slots to experts (Kuhn's augmenting paths), avoiding ``taken``. Returns
    the expert matched to each slot, or None."""
    owner: dict[int, int] = {}

    def augment(slot: int, seen: set[int]) -> bool:
        for e in cands[slot]:
            if e in taken or e in seen:
                continue
            seen.add(e)
            if e not in owner or augment(owner[e], seen):
                owner[e] = slot
                return True
        return False

    for slot in range(len(cands)):
        augment(slot, set())
    matched: list[int | None] = [None] * len(cands)
    for e, slot in owner.items():
        matched[slot] = e
    return matched


def _shortages(slots: Sequence[Slot], cands: Sequence[Sequence[int]], matched: Sequence[int | None]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for slot, c, m in zip(slots, cands, matched, strict=True):
        g = groups.setdefault((slot.venue_id, slot.specialty), {
            "venue": slot.label, "specialty": slot.specialty, "needed": 0, "eligible": len(c), "unfilled": 0})
        g["needed"] += 1
        g["unfilled"] += m is None
    short = [g for g in groups.values() if g["eligible"] < g["needed"]]
    shared = not short
    if shared:  # each group alone has enough, but they compete for the same experts
        short = [g for g in groups.values() if g["unfilled"]]
    return [{"venue": g["venue"], "specialty": g["specialty"], "needed": g["needed"], "eligible": g["eligible"],
             "shared": shared} for g in short]


def _check_pool(pool: Sequence[PoolEntry]) -> None:
    ids = [e.expert_id for e in pool]
    if any(a >= b for a, b in zip(ids, ids[1:], strict=False)):
        raise ValueError("the pool must be sorted by expert id without repeats (its canonical order)")


def draw(seed: bytes, pool: Sequence[PoolEntry], slots: Sequence[Slot]) -> list[Pick]:
    """The committee for ``slots`` from ``pool`` under ``seed`` (see the module docstring), one pick per slot in
    slot order. Raises :class:`PoolTooSmall` if no assignment fills every slot."""
    if len(seed) < 16:
        raise ValueError("the seed must have at least 128 bits")
    _check_pool(pool)
    if list(slots) != sorted(slots, key=lambda s: (s.venue_id, s.specialty)):
        raise ValueError("the slots must be in canonical order (slots_for)")
    ranked = sorted(range(len(pool)), key=lambda i: lot(seed, pool[i].expert_id))
    cands = [[i for i in ranked if _fits(slot, pool[i])] for slot in slots]
    matched = _matching(cands, set())
    if any(m is None for m in matched):
        raise PoolTooSmall(_shortages(slots, cands, matched))
    taken: set[int] = set()
    picks: list[Pick] = []
    for k, slot in enumerate(slots):
        rest = cands[k + 1:]
        for e in cands[k]:
            if e in taken:
                continue
            if all(m is not None for m in _matching(rest, taken | {e})):
                taken.add(e)
                picks.append(Pick(slot, pool[e].expert_id))
                break
        else:  # pragma: no cover - the matching above proved a complete assignment exists
            raise AssertionError("no candidate keeps the draw complete")
    return picks


def verify(committed: Mapping[str, Any], performed: Mapping[str, Any], revealed: Mapping[str, Any]) -> list[str]:
    """Check a logged draw (the payloads of its three events); return the problems found, empty if it holds."""
    problems: list[str] = []
    try:
        seed = bytes.fromhex(revealed["seed"])
    except (KeyError, TypeError, ValueError):
        return ["the revealed seed is missing or not hex"]
    if commitment(seed) != committed.get("commitment"):
        problems.append("the revealed seed does not match the commitment logged before the draw")
    if performed.get("algorithm") != ALGORITHM:
        return [*problems, f"unknown draw algorithm {performed.get('algorithm')!r}"]
    try:
        slots = [Slot(s["venue_id"], s["region_id"], s["specialty"], s["label"]) for s in performed["slots"]]
        pool = [PoolEntry(e["expert_id"], e["region_id"], frozenset(e["qualifies"])) for e in performed["pool"]]
        logged = [(p["venue_id"], p["specialty"], p["expert_id"]) for p in performed["picks"]]
        excluded = {x["expert_id"] for x in performed.get("excluded", [])}
    except (KeyError, TypeError):
        return [*problems, "the draw record is incomplete"]
    if excluded & {e.expert_id for e in pool}:
        problems.append("an excluded expert is in the eligible pool")
    if excluded & {p[2] for p in logged}:
        problems.append("an excluded expert was picked")
    if len({p[2] for p in logged}) != len(logged):
        problems.append("an expert was picked twice")
    try:
        again = [(p.slot.venue_id, p.slot.specialty, p.expert_id) for p in draw(seed, pool, slots)]
    except (ValueError, ApiError) as exc:
        return [*problems, f"the draw cannot be recomputed: {exc}"]
    if again != logged:
        problems.append("the logged picks differ from the recomputed ones")
    return problems
