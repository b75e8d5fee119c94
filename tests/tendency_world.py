"""Generated scoring histories for the tendency analysis (evalroom/domain/tendency.py): sessions, committees,
bidders and scores, from a seeded RNG, with biased experts planted on purpose.

The model of an honest expert's score of one item, as a fraction of the item's range: the bid's merit on that
item (common to the committee) + the expert's own strictness (a few percent, fixed per expert) + the expert's
view of the bid as a whole (shared by the bid's items) + noise (each expert has their own spread, 6-9 % of the
range), rounded to half points within the range. Objective items have one true value (0, half or full marks);
an honest expert types a different one now and then (0.5-2 % of items).

Planted (``plant=True``):

- a **favouring** expert adds ``favour`` (15 % of the range by default) to every subjective item of one
  bidder's bids (its favoured bidder), and scores like an honest expert otherwise;
- a **mismatching** expert gives a wrong value on ``mismatch`` (30 %) of objective items;
- an **erratic** expert scores with a spread of 22 % of the range instead of 6-9 %.

Committees have 5, 7 or 9 members (one in five sessions has a representative of the tenderer, who is no pool
expert); each session has 3-8 bidders, and one in ten has two lots with some bidders in both.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from timebase import day

from evalroom.domain.tendency import Criterion, Evaluator, ScoredSession
from evalroom.storage.models import CommitteeMember, EvalSession, ProjectRecord, ScoreSheet, SessionSupervisor
from evalroom.storage.store import Store
from signing.canonical import canonical_json, sha256_hex

START = day(-362)
"""The first generated session's day: a Monday about a year before T0."""


@dataclass(frozen=True)
class Planted:
    favouring: str
    favoured: str
    mismatching: str
    erratic: str

    @property
    def experts(self) -> frozenset[str]:
        return frozenset({self.favouring, self.mismatching, self.erratic})


def expert_id(i: int) -> str:
    return f"E{i:03d}"


def bidder_id(i: int) -> str:
    return f"bidder-{i:02d}"


def _half(x: float) -> float:
    return round(x * 2) / 2


def history(seed: int, sessions: int = 500, experts: int = 40, bidders: int = 30, *, plant: bool = True,
            favour: float = 0.15, mismatch: float = 0.30, erratic_spread: float = 0.22
            ) -> tuple[list[ScoredSession], Planted]:
    """``sessions`` scored sessions and who was planted (the planted are drawn among the experts; with
    ``plant=False`` everyone scores honestly and :class:`Planted` only names who would have been)."""
    rng = random.Random(seed)
    pool = [expert_id(i) for i in range(1, experts + 1)]
    firms = [bidder_id(i) for i in range(1, bidders + 1)]
    favouring, mismatching, erratic = rng.sample(pool, 3)
    planted = Planted(favouring, rng.choice(firms), mismatching, erratic)
    strictness = {e: rng.gauss(0, 0.02) for e in pool}
    spread = {e: rng.uniform(0.06, 0.09) for e in pool}
    slips = {e: rng.uniform(0.005, 0.02) for e in pool}
    if plant:
        spread[erratic] = erratic_spread
        slips[mismatching] = mismatch
    out = []
    for n in range(sessions):
        size = rng.choices((5, 7, 9), weights=(50, 35, 15))[0]
        representatives = 1 if rng.random() < 0.2 else 0
        seated = rng.sample(pool, size - representatives)
        evaluators = tuple([Evaluator(f"s{n}-m{i}", e) for i, e in enumerate(seated)]
                           + [Evaluator(f"s{n}-rep{i}", None) for i in range(representatives)])
        criteria = tuple([Criterion(f"T{i}", False, 0.0, float(rng.choice((2, 3, 5, 8, 10))))
                          for i in range(rng.randint(6, 10))]
                         + [Criterion(f"C{i}", True, 0.0, float(rng.choice((1, 2, 4))))
                            for i in range(rng.randint(1, 3))])
        lots = [rng.sample(firms, rng.randint(3, 8))]
        if rng.random() < 0.1:
            lots.append(rng.sample(lots[0], 2) + rng.sample([f for f in firms if f not in lots[0]], 2))
        bid_of = {f"L{li}/{firm}": firm for li, lot in enumerate(lots, 1) for firm in lot}
        scores: dict[str, dict[str, dict[str, float]]] = {ev.member: {} for ev in evaluators}
        for bid, firm in bid_of.items():
            merit = rng.uniform(0.45, 0.8)
            truth = {c.code: min(0.9, max(0.1, merit + rng.gauss(0, 0.08))) for c in criteria if not c.objective}
            facts = {c.code: rng.choice((0.0, c.high / 2, c.high, c.high)) for c in criteria if c.objective}
            for ev in evaluators:
                who = ev.expert
                view = rng.gauss(0, 0.04)
                lean = strictness[who] if who else 0.0
                bias = favour if plant and who == favouring and firm == planted.favoured else 0.0
                items: dict[str, float] = {}
                for c in criteria:
                    if c.objective:
                        value = facts[c.code]
                        if who and rng.random() < slips[who]:
                            value = rng.choice([v for v in (0.0, c.high / 2, c.high) if v != value])
                        items[c.code] = value
                        continue
                    noise = rng.gauss(0, spread[who] if who else 0.075)
                    items[c.code] = min(c.high, max(0.0, _half((truth[c.code] + lean + view + bias + noise) * c.high)))
                scores[ev.member][bid] = items
        out.append(ScoredSession(f"S{n:05d}", START + timedelta(days=n // 3), criteria, bid_of, evaluators, scores))
    return out, planted


# --- a generated history in the database ------------------------------------------------------------------
def _project(n: int, session: ScoredSession, code_of: dict[str, str]) -> dict[str, Any]:
    """The project file (docs/formats.md) a generated session evaluated: its bidders coded ``B01``.. by the
    generator's bidder number (the same company across sessions, recognised by name), its items grouped into
    a technical and a commercial part."""
    firms = sorted(set(session.bidders.values()))
    lots: dict[str, list[str]] = {}
    for key, firm in session.bidders.items():
        lots.setdefault(key.split("/")[0], []).append(code_of[firm])

    def part(code: str, part: str, objective: bool) -> dict[str, Any]:
        items = [c for c in session.criteria if c.objective is objective]
        return {"code": code, "name": code, "part": part, "max": f"{sum(c.high for c in items):g}", "children": [
            {"code": c.code, "name": f"评分项 {c.code}", "max": f"{c.high:g}", **({"objective": True} if objective else {})}
            for c in items]}

    return {"format": "evalroom-project-v1", "code": f"GEN-{n:04d}", "name": f"生成项目 {n}", "kind": "works",
            "tenderer": "某招标人", "method": "comprehensive",
            "bidders": [{"code": code_of[f], "name": f"投标人{code_of[f]}公司"} for f in firms],
            "lots": [{"code": lot, "name": lot, "bids": [{"bidder": b, "price": "1000000.00"} for b in bids]}
                     for lot, bids in lots.items()],
            "criteria": [part("T", "technical", False), part("C", "commercial", True)],
            "price_rule": {"kind": "lowest_benchmark", "points": "30"}}


def store_history(store: Store, sessions: list[ScoredSession], experts: dict[str, str], *, host_venue_id: str,
                  supervisor_id: str, last_end: datetime) -> list[str]:
    """Write generated sessions into the database as sessions that ended normally, the newest at ``last_end``
    and one a day before it: the project, the seated members (the generator's experts mapped to pool experts
    by ``experts``, representatives without one) and each member's detailed-review sheet as submitted, with
    ``supervisor_id`` their primary supervisor. What the tendency analysis reads, written straight through the
    models in one transaction (walking a session through the API costs seconds; tests/integration/
    test_tendency.py does it once): the session ids."""
    firms = sorted({f for x in sessions for f in x.bidders.values()})
    code_of = {f: f"B{i:02d}" for i, f in enumerate(firms, 1)}
    ids = []
    with store.write() as tx:
        for n, generated in enumerate(sessions):
            sid, ended = str(uuid.uuid4()), last_end - timedelta(days=len(sessions) - 1 - n)
            start = ended - timedelta(hours=5)
            tx.session.add(EvalSession(id=sid, code=f"GEN-{n:04d}-{sid[:6]}", title=f"生成会议 {n}",
                                       host_venue_id=host_venue_id, state="ended", phase="report_signing",
                                       scheduled_start=start, scheduled_end=ended + timedelta(hours=1),
                                       created_at=start, updated_at=ended, started_at=start, ended_at=ended,
                                       end_reason="completed"))
            tx.session.flush()
            doc = _project(n, generated, code_of)
            tx.session.add(ProjectRecord(session_id=sid, code=doc["code"], name=doc["name"], document=doc,
                                         sha256=sha256_hex(canonical_json(doc)), imported_by="seed",
                                         imported_at=start))
            tx.session.add(SessionSupervisor(session_id=sid, account_id=supervisor_id, level="primary"))
            for ev in generated.evaluators:
                mid = str(uuid.uuid4())
                tx.session.add(CommitteeMember(
                    id=mid, session_id=sid, kind="expert" if ev.expert else "representative",
                    expert_id=experts[ev.expert] if ev.expert else None, venue_id=host_venue_id,
                    name=ev.member, id_number_hash=uuid.uuid4().hex, state="seated", checked_in_at=start,
                    created_at=start, updated_at=start))
                tx.session.flush()
                scores = {f"{bid.split('/')[0]}/{code_of[generated.bidders[bid]]}":
                          {c: f"{v:g}" for c, v in items.items()}
                          for bid, items in generated.scores[ev.member].items()}
                content = {"format": "evalroom-sheet-v1", "phase": "detailed_review", "scores": scores}
                tx.session.add(ScoreSheet(id=str(uuid.uuid4()), session_id=sid, member_id=mid,
                                          phase="detailed_review", version=1, content=content,
                                          sha256=sha256_hex(canonical_json(content)), cause="submitted",
                                          actor=f"expert:{mid}", created_at=ended - timedelta(hours=2)))
            ids.append(sid)
    return ids
