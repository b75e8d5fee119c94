"""A session ready to evaluate, on top of committee_world: the project, venues online, start, the phases.

:func:`project_doc` is a small tender (one lot, three bidders, two technical items and one objective
commercial item, the lowest-price benchmark for 30 price points). :func:`ready` imports it, takes both
venues online the way the site link does (``site_link.link_opened``, what the websocket route calls on a
hello), seats the committee and starts the session; the other helpers walk the phases through the HTTP API
as the host operator, the chair and the experts would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from committee_world import CommitteeWorld, draw, open_check_in, seat_everyone
from conftest import ok

from evalroom.services import site_link

PROJECT_CODE = "SDGC-2026-0147"
BIDS = ("L1/B1", "L1/B2", "L1/B3")
PRICES = {"L1/B1": "9800000.00", "L1/B2": "9650000.00", "L1/B3": "9900000.00"}


def project_doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": "evalroom-project-v1", "code": PROJECT_CODE, "name": "济南市某道路改造工程施工", "kind": "works",
        "tenderer": "某市交通局", "method": "comprehensive",
        "bidders": [{"code": "B1", "name": "投标人甲公司"}, {"code": "B2", "name": "投标人乙公司"},
                    {"code": "B3", "name": "投标人丙公司"}],
        "lots": [{"code": "L1", "name": "第一标段", "bids": [{"bidder": b.split("/")[1], "price": PRICES[b]}
                                                        for b in BIDS]}],
        "criteria": [
            {"code": "T", "name": "技术部分", "part": "technical", "max": "30", "children": [
                {"code": "T1", "name": "施工方案与技术措施", "max": "20"},
                {"code": "T2", "name": "质量管理体系与措施", "max": "10"}]},
            {"code": "C", "name": "商务部分", "part": "commercial", "children": [
                {"code": "C1", "name": "企业资质证书", "max": "5", "objective": True}]}],
        "price_rule": {"kind": "lowest_benchmark", "points": "30"},
        "tie_break": ["lower_price", "higher_technical"], "candidates": 2,
    }
    doc.update(overrides)
    return doc


def sheet(t1: str, t2: str, c1: str = "5", bids: tuple[str, ...] = BIDS) -> dict[str, Any]:
    return {"scores": {b: {"T1": t1, "T2": t2, "C1": c1} for b in bids}}


def venues_online(w: CommitteeWorld) -> None:
    with w.ctx.store.write() as tx:
        for venue in (w.host_venue_id, w.guest_venue_id):
            site_link.link_opened(tx, "site-agent:test", venue, f"link-{venue[:8]}", w.ctx.settings)


def import_project(w: CommitteeWorld, doc: dict[str, Any] | None = None) -> dict[str, Any]:
    return ok(w.client.put(w.url("/project"), headers=w.host_op(), json=doc or project_doc()))


def ready(w: CommitteeWorld, doc: dict[str, Any] | None = None) -> dict[str, dict[str, str]]:
    """Import the project, draw and seat the committee, take the venues online, start: member id → headers."""
    import_project(w, doc)
    draw(w)
    open_check_in(w)
    experts = seat_everyone(w)
    venues_online(w)
    ok(w.client.post(w.url("/state"), headers=w.host_op(), json={"action": "start"}))
    return experts


def move(w: CommitteeWorld, leave: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return ok(w.client.post(w.url("/phase"), headers=dict(headers or w.host_op()), json={"leave": leave}))


def elect(w: CommitteeWorld, experts: Mapping[str, Mapping[str, str]]) -> str:
    """Everyone votes for the first member by id: the chair."""
    chair = sorted(experts)[0]
    for h in experts.values():
        ok(w.client.post(w.url("/chair/votes"), headers=dict(h), json={"candidate_member_id": chair}))
    return chair


def review_all_pass(w: CommitteeWorld, experts: Mapping[str, Mapping[str, str]]) -> None:
    for h in experts.values():
        ok(w.client.post(w.url("/review"), headers=dict(h),
                         json={"marks": {b: {"passed": True} for b in BIDS}}))


def to_detailed_review(w: CommitteeWorld, doc: dict[str, Any] | None = None
                       ) -> tuple[dict[str, dict[str, str]], str]:
    """A started session in detailed review, the chair elected, every bid passed: (experts, chair id)."""
    experts = ready(w, doc)
    chair = elect(w, experts)
    move(w, "chair_election")
    review_all_pass(w, experts)
    move(w, "review")
    return experts, chair


DISSENT = "本人认为乙公司技术方案更优，保留意见。"
"""The dissent (保留意见) :func:`to_report_signing` records."""


def to_report_signing(w: CommitteeWorld) -> tuple[dict[str, dict[str, str]], str]:
    """A started session in report signing: every bid passed, everyone scored alike, one dissent."""
    experts = ready(w)
    elect(w, experts)
    move(w, "chair_election")
    review_all_pass(w, experts)
    move(w, "review")
    for h in experts.values():
        ok(w.client.post(w.url("/scores"), headers=h, json=sheet("18", "8")))
    move(w, "detailed_review")
    move(w, "price_scoring")
    dissenter = sorted(experts)[2]
    ok(w.client.put(w.url("/dissent"), headers=experts[dissenter], json={"text": DISSENT}))
    move(w, "summary")
    move(w, "recommendation")
    return experts, dissenter
