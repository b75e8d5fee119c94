"""The synchronous session through the API: phases, review, scoring, checks, aggregation, the report.

The numbers are computed by hand in the comments (shared/domain.md, "Scoring"): five members e0..e4 (by id;
e0 is elected chair), one lot, bidders B1, B2, B3 at 9,800,000 / 9,650,000 / 9,900,000 yuan.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from committee_world import CommitteeWorld, build, events, members
from conftest import ok, refused, snapshot
from session_world import BIDS, elect, import_project, move, project_doc, ready, sheet, to_detailed_review
from signing_world import seat_signers, setup_pki, sign_everything_and_seal

from evalroom.domain.roles import Principal, Role
from evalroom.domain.session_states import Phase
from evalroom.services import evaluation, phases, site_link


@pytest.fixture
def w(ctx, client) -> CommitteeWorld:  # type: ignore[no-untyped-def]
    return build(ctx, client)


def post(w: CommitteeWorld, tail: str, headers: Mapping[str, str], body: Any = None) -> Any:
    return w.client.post(w.url(tail), headers=dict(headers), json=body)


def kinds(w: CommitteeWorld) -> list[str]:
    return [e["kind"] for e in events(w)]


# --- the whole flow ---------------------------------------------------------------------------------------
SCORES = {  # (T1, T2, C1) for B1 and B2; e3's C1 on B1 is off (objective), e4's B1 is far below the others
    0: {"L1/B1": ("18", "8", "5"), "L1/B2": ("15", "7", "5")},
    1: {"L1/B1": ("17", "8", "5"), "L1/B2": ("16", "7", "5")},
    2: {"L1/B1": ("16", "7", "5"), "L1/B2": ("14", "6", "5")},
    3: {"L1/B1": ("18", "9", "3"), "L1/B2": ("15", "8", "5")},
    4: {"L1/B1": ("8", "4", "5"), "L1/B2": ("15", "7", "5")},
}


def scores_of(i: int) -> dict[str, Any]:
    body: dict[str, Any] = {"scores": {b: dict(zip(("T1", "T2", "C1"), v, strict=True)) for b, v in SCORES[i].items()}}
    if i == 1:
        body["stated"] = {"L1/B2": "29"}  # 16 + 7 + 5 = 28: the arithmetic check catches it
    return body


def test_a_whole_session_from_start_to_report(w: CommitteeWorld) -> None:
    experts = ready(w)
    e = sorted(experts)
    h = [experts[m] for m in e]
    assert ok(w.client.get(w.url("/status"), headers=w.host_op()))["phase"] == "chair_election"
    refused(post(w, "/phase", w.host_op(), {"leave": "chair_election"}), 409, "invalid_transition")  # no chair yet
    chair = elect(w, experts)
    assert chair == e[0]
    refused(post(w, "/phase", h[1], {"leave": "chair_election"}), 403, "forbidden")  # a member, not the chair
    move(w, "chair_election", h[0])  # the chair moves the phases too
    refused(post(w, "/phase", h[0], {"leave": "chair_election"}), 409, "invalid_transition")  # no double step

    # Review: B3 failed by three of five (a majority) → rejected; B1 failed by one → passes, reason kept.
    for i in range(5):
        marks = {b: {"passed": True} for b in BIDS}
        if i < 3:
            marks["L1/B3"] = {"passed": False, "reason": f"项目经理无注册建造师证书（评委{i}）"}
        if i == 4:
            marks["L1/B1"] = {"passed": False, "reason": "投标保证金金额不足"}
        ok(post(w, "/review", h[i], {"marks": marks}))
    revealed = [ev for ev in events(w) if ev["kind"] == "sheets.revealed"]
    assert revealed[-1]["payload"] == {"phase": "review", "rejected": ["L1/B3"]}
    # Once all have submitted, every member reads the committee's tally with every fail's reason.
    listed = ok(w.client.get(w.url("/sheets"), headers=h[1], params={"phase": "review"}))
    tally = {o["bid"]: o for o in listed["outcome"]}
    assert [(b, tally[b]["passed"], tally[b]["fail_votes"]) for b in BIDS] == [
        ("L1/B1", True, 1), ("L1/B2", True, 0), ("L1/B3", False, 3)]
    assert tally["L1/B1"]["reasons"] == [{"member_id": e[4], "reason": "投标保证金金额不足"}]
    move(w, "review")

    # A sheet for the rejected bid is not a sheet of this session's review.
    refused(post(w, "/scores", h[0], sheet("18", "8")), 422, "unknown_bid")
    for i in range(5):
        ok(post(w, "/scores", h[i], scores_of(i)))
    flags = {(f["member_id"], f["bid"], f["kind"]): f for f in ok(w.client.get(w.url("/flags"), headers=h[0]))}
    # e3 C1 on B1 is 3 where the others gave 5; e1 stated 29 for a sum of 28; e4's B1 total 17 against the
    # peers' mean (31 + 30 + 28 + 30) / 4 = 29.75: −42.86 %.
    assert set(flags) == {(e[3], "L1/B1", "objective_mismatch"), (e[1], "L1/B2", "arithmetic"),
                          (e[4], "L1/B1", "deviation")}
    assert flags[(e[4], "L1/B1", "deviation")]["detail"] == {"total": "17.00", "peers_mean": "29.75",
                                                            "deviation": "-42.86%", "threshold": "30.00%"}
    refused(post(w, "/phase", w.host_op(), {"leave": "detailed_review"}), 409, "invalid_transition")

    # e3 corrects the objective item, e1 the stated subtotal, e4 explains in writing; the chair confirms all.
    ok(post(w, "/scores/corrections", h[3], {"scores": {"L1/B1": {"C1": "5"}}, "reason": "核对资质证书原件后更正"}))
    refused(post(w, "/scores/corrections", h[2], {"scores": {"L1/B1": {"T1": "17"}}, "reason": "想改"}), 409,
            "conflict")  # no flag on e2's sheet: no correction
    ok(post(w, "/scores/corrections", h[1], {"stated": {"L1/B2": "28"}, "reason": "合计笔误"}))
    deviation = flags[(e[4], "L1/B1", "deviation")]["id"]
    ok(post(w, f"/flags/{deviation}/explanation", h[4], {"text": "甲公司施工组织设计缺少冬季施工措施，按评分细则扣分。"}))
    now = {(f["member_id"], f["bid"], f["kind"]): f for f in ok(w.client.get(w.url("/flags"), headers=h[0]))}
    assert {k: f["status"] for k, f in now.items()} == {
        (e[3], "L1/B1", "objective_mismatch"): "corrected", (e[1], "L1/B2", "arithmetic"): "corrected",
        (e[4], "L1/B1", "deviation"): "explained"}
    refused(post(w, f"/flags/{deviation}/confirm", h[4]), 403, "forbidden")  # only the chair confirms
    for f in now.values():
        ok(post(w, f"/flags/{f['id']}/confirm", h[0]))
    history = ok(w.client.get(w.url(f"/sheets/detailed_review/{e[3]}"), headers=h[0]))
    assert [v["version"] for v in history] == [1, 2]
    assert history[0]["content"]["scores"]["L1/B1"]["C1"] == "3.00"  # the old value is kept
    assert history[1]["content"]["scores"]["L1/B1"]["C1"] == "5.00" and history[1]["cause"] == "flag"

    status = move(w, "detailed_review")
    assert status["phase"] == "price_scoring"
    price = [ev for ev in events(w) if ev["kind"] == "session.phase_changed"][-1]["payload"]["price"]
    # Lowest benchmark among the valid bids: 9,650,000. B1: 9,650,000 / 9,800,000 × 30 = 29.5408… → 29.54.
    assert price == {"L1": {"benchmark": "9650000.00", "scores": {"L1/B1": "29.54", "L1/B2": "30.00"}}}
    move(w, "price_scoring")
    summary = [ev for ev in events(w) if ev["kind"] == "session.phase_changed"][-1]["payload"]["results"]
    # B1 totals: 31, 30, 28, 32, 17 (+29.54) → drop 46.54 (e4) and 61.54 (e3) → (60.54+59.54+57.54)/3 = 59.2066…
    # B2 totals: 27, 28, 25, 28, 27 (+30) → drop 55 (e2) and one 58 → (57+58+57)/3 = 57.333… → 57.33
    assert summary == {"L1": [{"bid": "L1/B1", "final": "59.21", "rank": 1, "tie": False},
                              {"bid": "L1/B2", "final": "57.33", "rank": 2, "tie": False}]}
    assert ok(post(w, "/scores", h[0], scores_of(0)))["created"] is False  # a retry, answered from the store
    refused(post(w, "/scores", h[0], scores_of(2)), 409, "phase_closed")
    ok(w.client.put(w.url("/dissent"), headers=h[2], json={"text": "本人认为乙公司技术方案更优，保留意见。"}))
    move(w, "summary")
    move(w, "recommendation")
    status = ok(w.client.get(w.url("/status"), headers=w.supervisor()))
    assert status["phase"] == "report_signing" and status["report_ready"] is True

    resp = w.client.get(w.url("/report"), headers=h[1])
    twin = json.loads(resp.content)
    assert resp.headers["X-Report-Version"] == "1"
    rows = twin["results"][0]["rows"]
    assert [(r["bid"], r["final"], r["rank"]) for r in rows] == [("L1/B1", "59.21", 1), ("L1/B2", "57.33", 2)]
    assert rows[0]["totals"] == {e[0]: "60.54", e[1]: "59.54", e[2]: "57.54", e[3]: "61.54", e[4]: "46.54"}
    assert sorted(rows[0]["dropped"]) == sorted([e[3], e[4]])
    assert rows[0]["technical"] == "24.67"  # (26 + 25 + 23) / 3 over the kept members
    assert twin["results"][0]["rejected"] == [{"bid": "L1/B3", "bidder": "B3"}]
    assert [c["bid"] for c in twin["results"][0]["candidates"]] == ["L1/B1", "L1/B2"]
    assert twin["dissent"][0]["member_id"] == e[2]
    assert twin["aggregation"] == "trimmed_mean" and twin["rounding"] == "ROUND_HALF_UP, 2 places"
    b3 = next(b for b in twin["review"]["bids"] if b["bid"] == "L1/B3")
    assert b3["passed"] is False and b3["fail_votes"] == 3
    fixed = next(f for f in twin["flags"] if f["kind"] == "objective_mismatch")
    assert fixed["corrections"][0]["old"] == "3.00" and fixed["corrections"][0]["new"] == "5.00"
    first = twin["signatories"][0]  # the chair signs first, whichever venue they sit at
    assert len(twin["signatories"]) == 5 and (first["member_id"], first["role"]) == (e[0], "chair")
    pdf = w.client.get(w.url("/report.pdf"), headers=w.supervisor())
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf.content, capture_output=True, check=True).stdout.decode()
    assert "59.21" in text and "57.33" in text and "本人认为乙公司技术方案更优" in text

    # After the report: only the causes the rules allow, recorded in a new version of the report.
    before = snapshot(w.ctx)
    bad = {"member_id": e[2], "bid": "L1/B2", "criterion": "T1", "value": "15", "cause": "changed_mind",
           "reason": "x"}
    refused(post(w, "/report/corrections", w.host_op(), bad), 422, "correction_not_allowed")
    assert snapshot(w.ctx) == before
    ok(post(w, "/report/corrections", w.host_op(), {**bad, "cause": "sum_error", "reason": "技术分汇总错误"}))
    v2 = json.loads(w.client.get(w.url("/report"), headers=h[0]).content)
    assert v2["version"] == 2 and v2["corrections"] == [
        {"member_id": e[2], "name": v2["corrections"][0]["name"], "bid": "L1/B2", "criterion": "T1", "old": "14.00",
         "new": "15.00", "cause": "sum_error", "reason": "技术分汇总错误", "at": v2["corrections"][0]["at"]}]
    assert json.loads(w.client.get(w.url("/report"), headers=h[0], params={"version": 1}).content)["version"] == 1

    # The session ends once every member has signed the newest report (test_session_signing.py has the rest).
    refused(post(w, "/state", w.host_op(), {"action": "end"}), 409, "invalid_transition")
    sign_everything_and_seal(w, seat_signers(w, setup_pki(w), experts), {e[2]: "本人认为乙公司技术方案更优，保留意见。"})
    ok(post(w, "/state", w.host_op(), {"action": "end"}))
    refused(post(w, "/state", h[0], {"action": "archive"}), 403, "forbidden")  # archiving is the host's
    assert ok(post(w, "/state", w.host_op(), {"action": "archive"}))["state"] == "archived"
    changes = [ev["payload"]["action"] for ev in events(w) if ev["kind"] == "session.state_changed"]
    assert changes == ["start", "end", "archive"]


def test_the_report_is_the_same_bytes_for_the_same_inputs(w: CommitteeWorld) -> None:
    """Merging is deterministic: rebuilt from the same stored facts, the twin differs only in its time."""
    from evalroom.services import report
    from evalroom.storage.models import EvalSession

    experts, _chair = to_detailed_review(w)
    for i, m in enumerate(sorted(experts)):
        ok(post(w, "/scores", experts[m], sheet("15", "7") if i else sheet("16", "8")))
    for leave in ("detailed_review", "price_scoring", "summary", "recommendation"):
        move(w, leave)
    stored = json.loads(w.client.get(w.url("/report"), headers=w.host_op()).content)
    with w.ctx.store.read() as s:
        session = s.get(EvalSession, w.session_id)
        again = report.build_report(s, session, version=1, generated_at=stored["generated_at"])
    assert again == stored
    from signing.canonical import canonical_json

    assert canonical_json(again) == w.client.get(w.url("/report"), headers=w.host_op()).content


def _in_recommendation(w: CommitteeWorld) -> tuple[dict[str, dict[str, str]], str, Principal]:
    """Every sheet in, the session in the recommendation phase: (experts, chair, the host operator)."""
    experts, chair = to_detailed_review(w)
    for i, m in enumerate(sorted(experts)):
        ok(post(w, "/scores", experts[m], sheet("15", "7") if i else sheet("16", "8")))
    for leave in ("detailed_review", "price_scoring", "summary"):
        move(w, leave)
    return experts, chair, Principal(role=Role.HALL_OPERATOR, subject="host-op", venue_id=w.host_venue_id)


@pytest.mark.parametrize("changed_meanwhile", [False, True])
def test_the_report_rendered_before_the_move_is_used_only_if_nothing_changed_since(w: CommitteeWorld,
                                                                                  changed_meanwhile: bool) -> None:
    """The PDF is rendered before the move's transaction (services/report.py, Rendered); a dissent written
    between that rendering and the move is in the report all the same, which is then rendered again."""
    import hashlib

    experts, chair, host = _in_recommendation(w)
    other = next(m for m in experts if m != chair)
    stranger = Principal(role=Role.HALL_OPERATOR, subject="op", venue_id=w.guest_venue_id)
    assert phases.report_ahead(w.ctx.store, w.ctx.settings, stranger, w.session_id, Phase.RECOMMENDATION) is None
    assert phases.report_ahead(w.ctx.store, w.ctx.settings, host, w.session_id, Phase.SUMMARY) is None
    ahead = phases.report_ahead(w.ctx.store, w.ctx.settings, host, w.session_id, Phase.RECOMMENDATION)
    assert ahead is not None and ahead.pdf.startswith(b"%PDF")
    if changed_meanwhile:
        ok(w.client.put(w.url("/dissent"), headers=experts[other], json={"text": "本人对推荐排序保留意见。"}))
    with w.ctx.store.write() as tx:
        phases.move_phase(tx, w.ctx.settings, host, w.session_id, Phase.RECOMMENDATION, ahead)
    twin = json.loads(w.client.get(w.url("/report"), headers=w.host_op()).content)
    pdf = w.client.get(w.url("/report.pdf"), headers=w.host_op()).content
    assert [d["member_id"] for d in twin["dissent"]] == ([other] if changed_meanwhile else [])
    assert (hashlib.sha256(pdf).digest() == hashlib.sha256(ahead.pdf).digest()) is not changed_meanwhile


def test_a_dead_report_worker_costs_a_render_in_the_move_not_the_report(w: CommitteeWorld) -> None:
    """The worker process that renders reports ahead is killed: the move renders the report itself, and the
    next rendering starts a new worker."""
    from evalroom.services import report

    _experts, _chair, host = _in_recommendation(w)
    assert phases.report_ahead(w.ctx.store, w.ctx.settings, host, w.session_id, Phase.RECOMMENDATION) is not None
    worker = report._renderer
    assert worker is not None
    for process in list(worker._processes.values()):
        process.kill()
        process.join()
    assert phases.report_ahead(w.ctx.store, w.ctx.settings, host, w.session_id, Phase.RECOMMENDATION) is None
    move(w, "recommendation")
    assert w.client.get(w.url("/report.pdf"), headers=w.host_op()).content.startswith(b"%PDF")
    with w.ctx.store.read() as s:
        from evalroom.storage.models import EvalSession

        doc = report.merge_ahead(s, s.get(EvalSession, w.session_id), w.ctx.clock.now())
    assert report.render_ahead(doc, w.ctx.settings.report_font_file).pdf.startswith(b"%PDF")
    assert report._renderer is not worker


def test_lowest_evaluated_price_ranks_by_price_plus_adjustments(w: CommitteeWorld) -> None:
    doc = project_doc(method="lowest_price", tie_break=["lower_price"], criteria=[
        {"code": "A", "name": "价格调整", "part": "adjustment", "children": [
            {"code": "A1", "name": "技术偏差调整", "min": "-50000", "max": "50000"},
            {"code": "A2", "name": "商务偏差调整", "max": "300000"}]}])
    del doc["price_rule"]
    experts, _chair = to_detailed_review(w, doc)
    # Adjustments (A1, A2) per member, the same for B1 and B3; B2 gets 200,000 more from everyone but e4.
    adjust = [("0", "0"), ("10000", "0"), ("-10000", "0"), ("0", "20000"), ("0", "0")]
    for i, m in enumerate(sorted(experts)):
        a1, a2 = adjust[i]
        scores = {b: {"A1": a1, "A2": a2} for b in BIDS}
        scores["L1/B2"]["A2"] = str(int(a2) + (200000 if i < 4 else 0))
        ok(post(w, "/scores", experts[m], {"scores": scores}))
    assert ok(w.client.get(w.url("/flags"), headers=w.host_op())) == []  # 30 % of ~10 million is far away
    for leave in ("detailed_review", "price_scoring", "summary", "recommendation"):
        move(w, leave)
    twin = json.loads(w.client.get(w.url("/report"), headers=w.host_op()).content)
    assert twin["price"] is None and twin["project"]["method"] == "lowest_price"
    rows = twin["results"][0]["rows"]
    # B1: 9,800,000 + (0, 10000, −10000, 20000, 0) → drop −10,000 and +20,000 → mean of 0, 10000, 0 → 9,803,333.33
    # B2: 9,650,000 + (200000, 210000, 190000, 220000, 0) → drop 0 and 220,000 → 9,650,000 + 200,000 = 9,850,000
    # B3: 9,900,000 + the same as B1 → 9,903,333.33; ascending: B1, B2, B3
    assert [(r["bid"], r["final"], r["rank"]) for r in rows] == [
        ("L1/B1", "9803333.33", 1), ("L1/B2", "9850000.00", 2), ("L1/B3", "9903333.33", 3)]
    text = subprocess.run(["pdftotext", "-", "-"], input=w.client.get(w.url("/report.pdf"), headers=w.host_op())
                          .content, capture_output=True, check=True).stdout.decode()
    assert "评审价格" in text and "9803333.33" in text


def test_a_tie_among_the_candidates_waits_for_the_committee_to_settle_it(w: CommitteeWorld) -> None:
    # B1 and B2 at the same price and scored alike by everyone: every tie-break leaves them level at rank 1.
    doc = project_doc()
    doc["lots"][0]["bids"][1]["price"] = doc["lots"][0]["bids"][0]["price"]
    experts, chair = to_detailed_review(w, doc)
    others = [m for m in sorted(experts) if m != chair]
    for m in experts:
        ok(post(w, "/scores", experts[m], sheet("15", "7")))
    for leave in ("detailed_review", "price_scoring", "summary"):
        move(w, leave)
    assert ok(w.client.get(w.url("/status"), headers=w.host_op()))["open_ties"] == 1
    (tie,) = ok(w.client.get(w.url("/ties"), headers=experts[chair]))
    assert (tie["lot"], tie["rank"], [b["bid"] for b in tie["bids"]]) == ("L1", 1, ["L1/B1", "L1/B2"])
    assert tie["bids"][0]["bidder"] == "投标人甲公司" and tie["bids"][0]["final"] == tie["bids"][1]["final"]
    err = refused(post(w, "/phase", w.host_op(), {"leave": "recommendation"}), 409, "invalid_transition")
    assert "tie" in err["message"]
    settle = {"lot": "L1", "order": ["L1/B2", "L1/B1"], "reason": "经评标委员会抽签决定"}
    refused(post(w, "/ties", experts[others[0]], settle), 403, "forbidden")  # the chair records it
    before = snapshot(w.ctx)
    wrong = refused(post(w, "/ties", experts[chair], {**settle, "order": ["L1/B1", "L1/B3"]}), 422, "invalid_input")
    assert wrong["details"] == [{"lot": "L1", "tie": ["L1/B1", "L1/B2"], "message": "an open tie"}]
    assert snapshot(w.ctx) == before
    ok(post(w, "/ties", experts[chair], settle))
    assert ok(w.client.get(w.url("/ties"), headers=w.host_op())) == []  # settled
    move(w, "recommendation")
    twin = json.loads(w.client.get(w.url("/report"), headers=w.host_op()).content)
    result = twin["results"][0]
    assert [(c["rank"], c["bid"]) for c in result["candidates"]] == [(1, "L1/B2"), (2, "L1/B1")]
    assert [(r["bid"], r["rank"], r["tie"], r["settled"]) for r in result["rows"][:2]] == [
        ("L1/B2", 1, True, True), ("L1/B1", 2, True, True)]
    assert result["ties"][0]["order"] == ["L1/B2", "L1/B1"] and result["ties"][0]["reason"] == settle["reason"]
    text = subprocess.run(["pdftotext", "-", "-"], input=w.client.get(w.url("/report.pdf"), headers=w.host_op())
                          .content, capture_output=True, check=True).stdout.decode()
    assert "并列处理" in text and "经评标委员会抽签决定" in text


def test_a_review_outcome_moved_by_a_voided_member_stops_the_results_instead_of_failing(w: CommitteeWorld) -> None:
    """L1/B3 rejected by 3 of 5; the others score L1/B1 and L1/B2 only. Then one of the three is voided for a
    conflict found later: 2 of the 4 left is no majority, so L1/B3 passes now, but no sheet scored it. The
    results cannot be computed from these sheets: every read that needs them says so (409 conflict), none fails."""
    experts = ready(w)
    chair = elect(w, experts)
    move(w, "chair_election")
    failing = sorted(m for m in experts if m != chair)[:3]
    for m, h in experts.items():
        marks = {b: {"passed": True} for b in BIDS}
        if m in failing:
            marks["L1/B3"] = {"passed": False, "reason": "资质不符"}
        ok(post(w, "/review", h, {"marks": marks}))
    move(w, "review")
    for h in experts.values():
        ok(post(w, "/scores", h, sheet("15", "7", bids=("L1/B1", "L1/B2"))))
    assert ok(w.client.get(w.url("/ties"), headers=w.host_op())) == []
    ok(w.client.post(f"/api/v1/committee/members/{failing[0]}/void", headers=w.admin(),
                     json={"reason": "与投标人存在利害关系（事后发现）"}))
    err = refused(w.client.get(w.url("/ties"), headers=w.host_op()), 409, "conflict")
    assert err["details"] == [{"bid": "L1/B3", "message": "not scored on every current sheet"}]
    before = snapshot(w.ctx)
    refused(post(w, "/phase", w.host_op(), {"leave": "detailed_review"}), 409, "conflict")  # no prices from these
    assert snapshot(w.ctx) == before
    assert ok(w.client.get(w.url("/status"), headers=w.host_op()))["phase"] == "detailed_review"  # pages load


# --- independence -----------------------------------------------------------------------------------------
def test_no_member_sees_another_members_scores_before_all_have_submitted(w: CommitteeWorld) -> None:
    experts, _chair = to_detailed_review(w)
    e = sorted(experts)
    marker = "17.25"  # a value nobody else uses: it must not show anywhere before the reveal
    ok(post(w, "/scores", experts[e[0]], {"scores": {b: {"T1": marker, "T2": "7", "C1": "5"} for b in BIDS}}))
    for i in (1, 2, 3):
        ok(post(w, "/scores", experts[e[i]], sheet("15", "7")))
    # Everyone but e0 (and e4, who has not submitted) reads only their own sheet; e0's is sealed.
    for reader in (experts[e[1]], experts[e[4]], w.host_op(), w.supervisor(), w.admin()):
        listed = ok(w.client.get(w.url("/sheets"), headers=reader))
        assert listed["revealed"] is False and marker not in json.dumps(listed)
        refused(w.client.get(w.url(f"/sheets/detailed_review/{e[0]}"), headers=reader), 403, "sheets_sealed")
        assert marker not in json.dumps(ok(w.client.get(w.url("/events"), headers=reader, params={"limit": 1000})))
    assert [s["member_id"] for s in ok(w.client.get(w.url("/sheets"), headers=experts[e[1]]))["sheets"]] == [e[1]]
    # Over the websocket too: e4 follows the whole stream and sees no score of anyone.
    with w.client.websocket_connect(w.url("/events/ws")) as ws:
        ws.send_json({"type": "subscribe", "token": experts[e[4]]["Authorization"][7:], "after": 0})
        assert ws.receive_json()["type"] == "subscribed"
        streamed = [ws.receive_json() for _ in range(len(events(w)))]
    assert streamed and all(m["type"] == "event" for m in streamed)
    assert marker not in json.dumps(streamed)
    # The last sheet reveals them all.
    ok(post(w, "/scores", experts[e[4]], sheet("15", "7")))
    listed = ok(w.client.get(w.url("/sheets"), headers=experts[e[4]]))
    assert listed["revealed"] is True and len(listed["sheets"]) == 5 and marker in json.dumps(listed)


# --- bad input --------------------------------------------------------------------------------------------
def test_bad_input_gets_a_clear_error_and_changes_nothing(w: CommitteeWorld) -> None:
    bad_project = project_doc(candidates=4, bidders=[{"code": "B1", "name": "x"}, {"code": "B1", "name": "y"}])
    before = snapshot(w.ctx)
    err = refused(w.client.put(w.url("/project"), headers=w.host_op(), json=bad_project), 422, "import_rejected")
    assert {d["path"] for d in err["details"]} >= {"$.candidates", "$.bidders[1].code"}
    assert snapshot(w.ctx) == before

    experts, _chair = to_detailed_review(w)
    e = sorted(experts)
    h0 = experts[e[0]]
    cases = [
        (sheet("21", "7"), 422, "score_out_of_range"),  # T1's maximum is 20
        ({"scores": {**sheet("15", "7")["scores"], "L9/B9": {"T1": "1", "T2": "1", "C1": "1"}}}, 422, "unknown_bid"),
        (sheet("15.125", "7"), 422, "invalid_input"),  # more than two decimal places
        ({"scores": {"L1/B1": {"T1": "15", "T2": "7", "C1": "5"}}}, 422, "invalid_input"),  # B2, B3 missing
    ]
    for body, status, code in cases:
        before = snapshot(w.ctx)
        err = refused(post(w, "/scores", h0, body), status, code)
        assert err["details"], err
        assert snapshot(w.ctx) == before
    out_of_range = refused(post(w, "/scores", h0, sheet("21", "7")), 422, "score_out_of_range")
    assert out_of_range["details"][0] == {"bid": "L1/B1", "criterion": "T1", "value": "21",
                                          "message": "must be between 0 and 20"}

    # Submit is idempotent: the same sheet again is the same sheet; a different one is refused.
    first = ok(post(w, "/scores", h0, sheet("15", "7")))
    before = snapshot(w.ctx)
    again = ok(post(w, "/scores", h0, sheet("15", "7")))
    assert again == {**first, "created": False} and first["created"] is True
    assert snapshot(w.ctx) == before
    refused(post(w, "/scores", h0, sheet("16", "7")), 409, "sheet_locked")
    refused(post(w, "/review", h0, {"marks": {b: {"passed": b != "L1/B1", "reason": "x"} for b in BIDS}}), 409,
            "phase_closed")

    # A guest venue's operator does not move the host's session: the session is not theirs to see (blind).
    before = snapshot(w.ctx)
    refused(post(w, "/phase", w.guest_op(), {"leave": "detailed_review"}), 404, "not_found")
    refused(post(w, "/state", w.guest_op(), {"action": "suspend"}), 404, "not_found")
    assert snapshot(w.ctx) == before

    # Scores after the phase closed.
    for m in e[1:]:
        ok(post(w, "/scores", experts[m], sheet("15", "7")))
    move(w, "detailed_review")
    before = snapshot(w.ctx)
    refused(post(w, "/scores", experts[e[1]], sheet("16", "8")), 409, "phase_closed")
    refused(post(w, "/scores/corrections", experts[e[1]], {"scores": {"L1/B1": {"T1": "16"}}, "reason": "x"}), 409,
            "phase_closed")
    assert snapshot(w.ctx) == before


def test_only_the_host_starts_and_the_session_needs_its_committee_and_venues(w: CommitteeWorld) -> None:
    from committee_world import draw, open_check_in, seat_everyone
    from session_world import venues_online

    refused(post(w, "/state", w.host_op(), {"action": "start"}), 409, "invalid_transition")  # no project
    import_project(w)
    refused(post(w, "/state", w.host_op(), {"action": "resume"}), 409, "invalid_transition")
    refused(post(w, "/state", w.host_op(), {"action": "start"}), 409, "invalid_transition")  # no committee seated
    draw(w)
    open_check_in(w)
    experts = seat_everyone(w)
    err = refused(post(w, "/state", w.host_op(), {"action": "start"}), 409, "invalid_transition")
    assert "not connected" in err["message"]
    venues_online(w)
    refused(post(w, "/state", next(iter(experts.values())), {"action": "start"}), 403, "forbidden")
    # A chair vote before the start is refused: the election is the first phase of the evaluation.
    refused(post(w, "/chair/votes", next(iter(experts.values())), {"candidate_member_id": sorted(experts)[0]}), 409,
            "phase_closed")
    ok(post(w, "/state", w.host_op(), {"action": "start"}))
    refused(w.client.put(w.url("/project"), headers=w.host_op(), json=project_doc()), 409, "invalid_transition")


# --- faults -----------------------------------------------------------------------------------------------
def test_a_venue_that_drops_suspends_the_session_until_it_is_back(w: CommitteeWorld) -> None:
    experts, chair = to_detailed_review(w)
    with w.ctx.store.write() as tx:
        site_link.link_closed(tx, w.guest_venue_id, f"link-{w.guest_venue_id[:8]}", "disconnected")
    status = ok(w.client.get(w.url("/status"), headers=w.host_op()))
    assert status["state"] == "suspended" and status["phase"] == "detailed_review"
    assert [(f["venue_id"], f["cause"], f["outcome"]) for f in status["faults"]] == [(w.guest_venue_id, "site_link",
                                                                                      None)]
    refused(post(w, "/scores", experts[chair], sheet("15", "7")), 409, "phase_closed")
    err = refused(post(w, "/state", experts[chair], {"action": "resume"}), 409, "invalid_transition")
    assert w.guest_venue_id in err["message"]
    w.ctx.clock.advance(timedelta(minutes=10))
    with w.ctx.store.write() as tx:
        site_link.link_opened(tx, "site-agent:test", w.guest_venue_id, "link-2", w.ctx.settings)
    status = ok(post(w, "/state", experts[chair], {"action": "resume"}))
    assert status["state"] == "evaluating" and status["faults"][0]["outcome"] == "continue"
    auto = [ev for ev in events(w) if ev["kind"] == "session.state_changed" and ev["payload"].get("automatic")]
    assert auto[0]["payload"]["action"] == "suspend" and "site_link" in auto[0]["payload"]["reason"]
    # Every venue heard it over its site link, in order.
    feed = site_link.venue_feed(w.ctx.store, w.ctx.settings, w.guest_venue_id, after=0, limit=1000)
    assert [f["data"]["action"] for f in feed if f["kind"] == "session.state_changed"] == ["start", "suspend",
                                                                                          "resume"]


def test_a_fault_past_the_limit_seals_the_session_for_reevaluation(w: CommitteeWorld) -> None:
    to_detailed_review(w)
    with w.ctx.store.write() as tx:
        site_link.link_closed(tx, w.host_venue_id, f"link-{w.host_venue_id[:8]}", "disconnected")
    w.ctx.clock.advance(timedelta(hours=w.ctx.settings.fault_continue_hours) - timedelta(minutes=1))
    assert evaluation.expire_faults(w.ctx.store, w.ctx.settings) == 0
    w.ctx.clock.advance(timedelta(minutes=2))
    assert evaluation.expire_faults(w.ctx.store, w.ctx.settings) == 1
    status = ok(w.client.get(w.url("/status"), headers=w.host_op()))
    assert status["state"] == "ended" and status["end_reason"] == "sealed_for_reevaluation"
    assert status["faults"][0]["outcome"] == "seal_and_reevaluate"


def test_a_seated_experts_broken_camera_suspends_the_session(w: CommitteeWorld) -> None:
    from conftest import ALL_OK

    from evalroom.services import inventory
    from sites.protocol import Inventory, RoomReport, SeatReport

    experts, _chair = to_detailed_review(w)
    seat_codes = [m["seat"] for m in members(w, "seated") if m["venue_id"] == w.guest_venue_id]

    def report(broken: str | None) -> None:
        with w.ctx.store.write() as tx:
            inventory.report_inventory(tx, w.ctx.settings, "site-agent:test", w.guest_venue_id, Inventory(rooms=[
                RoomReport(code="R1", name="评标室1", kind="single", seats=[
                    SeatReport(code=f"A-{i:02d}", devices={**ALL_OK, "camera": "fault"}
                               if f"R1/A-{i:02d}" == broken else ALL_OK) for i in range(1, 7)])]))

    report(seat_codes[0])
    status = ok(w.client.get(w.url("/status"), headers=w.host_op()))
    assert status["state"] == "suspended"
    assert status["faults"][0]["cause"] == "media" and "camera: fault" in status["faults"][0]["detail"]
    report(None)
    assert ok(post(w, "/state", w.host_op(), {"action": "resume"}))["state"] == "evaluating"


def test_more_than_a_third_asking_for_time_extends_the_period(w: CommitteeWorld) -> None:
    experts = ready(w)
    elect(w, experts)
    end = ok(w.client.get(w.url("/status"), headers=w.host_op()))["scheduled_end"]
    first, second = (experts[m] for m in sorted(experts)[:2])
    assert ok(post(w, "/extension", first))["granted"] is False  # 1 of 5: 3 > 5 is false
    # The status counts the requests for everyone, and tells each member whether they asked.
    extension = ok(w.client.get(w.url("/status"), headers=first))["extension"]
    assert extension == {"requests": 1, "members": 5, "granted": False, "extended": False, "requested": True}
    assert ok(w.client.get(w.url("/status"), headers=second))["extension"]["requested"] is False
    assert "requested" not in ok(w.client.get(w.url("/status"), headers=w.host_op()))["extension"]
    granted = ok(post(w, "/extension", second))  # 2 of 5: 6 > 5
    assert granted["granted"] is True and granted["scheduled_end"] > end
    assert kinds(w).count("session.extended") == 1
    assert ok(w.client.get(w.url("/status"), headers=w.host_op()))["extension"]["extended"] is True
