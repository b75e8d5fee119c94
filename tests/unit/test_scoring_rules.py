"""The scoring rules (shared/domain.md, "Scoring") against hand-computed numbers: the project file, the review
tally, sheet validation, both price rules, the four automatic checks, aggregation (trimmed and plain mean),
ranking with tie-breaks, and the lowest evaluated price method. No database, network or clock.

Every expected number has its arithmetic next to it, so that a reviewer checks the rule, not the code.
Rounding is always two places, half up (ROUND_HALF_UP).
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalroom.domain.project import PriceRule, Project, parse_project
from evalroom.domain.scoring import (
    ResultRow,
    ReviewMark,
    Sheet,
    aggregate,
    candidates,
    check_sheets,
    open_ties,
    price_scores,
    round2,
    settle,
    tally_review,
    tie_groups,
    validate_review,
    validate_sheet,
)
from evalroom.errors import ApiError, ErrorCode

D = Decimal


# --- building blocks -----------------------------------------------------------------------------------------
def comprehensive_doc(prices: dict[str, str], **extra: Any) -> dict[str, Any]:
    """One lot L1; technical T1 (0..40) + T2 (0..20), commercial C1 (0..10, objective); 30 price points.
    Experts can give at most 70 points; with price points the total is at most 100."""
    doc: dict[str, Any] = {
        "format": "evalroom-project-v1",
        "code": "SDGC-2026-0147",
        "name": "济南市某道路改造工程施工",
        "kind": "works",
        "method": "comprehensive",
        "tenderer": "济南市城市建设集团",
        "bidders": [{"code": b, "name": f"投标人{b}"} for b in prices],
        "lots": [{"code": "L1", "name": "第一标段",
                  "bids": [{"bidder": b, "price": p} for b, p in prices.items()]}],
        "criteria": [
            {"code": "T", "name": "技术部分", "part": "technical", "max": "60.00", "children": [
                {"code": "T1", "name": "施工方案与技术措施", "max": "40.00"},
                {"code": "T2", "name": "质量管理体系与措施", "max": "20.00"}]},
            {"code": "C", "name": "商务部分", "part": "commercial", "children": [
                {"code": "C1", "name": "企业资质证书", "max": "10.00", "objective": True}]},
        ],
        "price_rule": {"kind": "lowest_benchmark", "points": "30.00"},
        "tie_break": ["lower_price", "higher_technical"],
        "candidates": 3,
    }
    doc.update(extra)
    return doc


def lowest_price_doc(prices: dict[str, str], **extra: Any) -> dict[str, Any]:
    """Lowest evaluated price: A1 (-50000..50000) and A2 (0..100000) are yuan added to the bid price."""
    doc = comprehensive_doc(prices, method="lowest_price", criteria=[
        {"code": "A", "name": "价格调整", "part": "adjustment", "children": [
            {"code": "A1", "name": "技术偏差调整", "min": "-50000.00", "max": "50000.00"},
            {"code": "A2", "name": "商务偏差调整", "max": "100000.00"}]}])
    del doc["price_rule"]
    doc["tie_break"] = ["lower_price"]
    doc.update(extra)
    return doc


def project(prices: dict[str, str], **extra: Any) -> Project:
    return parse_project(comprehensive_doc(prices, **extra))


def sheet(member: str, scores: dict[str, tuple[str, str, str]], stated: dict[str, str] | None = None) -> Sheet:
    """scores: bid key → (T1, T2, C1)."""
    return Sheet(member, {bid: {"T1": D(t1), "T2": D(t2), "C1": D(c1)} for bid, (t1, t2, c1) in scores.items()},
                 {k: D(v) for k, v in (stated or {}).items()})


def adj_sheet(member: str, scores: dict[str, tuple[str, str]]) -> Sheet:
    """scores: bid key → (A1, A2)."""
    return Sheet(member, {bid: {"A1": D(a1), "A2": D(a2)} for bid, (a1, a2) in scores.items()})


def by_bid(rows: list[ResultRow]) -> dict[str, ResultRow]:
    return {r.bid.key: r for r in rows}


def raises(code: ErrorCode, fn: Any, *args: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn(*args)
    assert info.value.code == code, info.value
    return info.value


B1 = "L1/B1"
B2 = "L1/B2"
B3 = "L1/B3"
B4 = "L1/B4"
B5 = "L1/B5"
B6 = "L1/B6"
ONE_BID = {"B1": "1000000.00"}


# --- 1. five experts: trimmed mean -------------------------------------------------------------------------
def test_five_experts_drop_the_highest_and_the_lowest_total() -> None:
    p = project(ONE_BID)
    sheets = [
        sheet("E1", {B1: ("30", "15", "8")}),  # 53.00 + 25.50 = 78.50
        sheet("E2", {B1: ("32", "16", "8")}),  # 56.00 + 25.50 = 81.50
        sheet("E3", {B1: ("28", "14", "8")}),  # 50.00 + 25.50 = 75.50
        sheet("E4", {B1: ("38", "18", "8")}),  # 64.00 + 25.50 = 89.50  highest: dropped
        sheet("E5", {B1: ("25", "12", "8")}),  # 45.00 + 25.50 = 70.50  lowest: dropped
    ]
    [row] = aggregate(p, "L1", sheets, (), {B1: D("25.50")})
    assert row.totals == {"E1": D("78.50"), "E2": D("81.50"), "E3": D("75.50"), "E4": D("89.50"),
                          "E5": D("70.50")}
    assert set(row.dropped) == {"E4", "E5"}
    # (78.50 + 81.50 + 75.50) / 3 = 235.50 / 3 = 78.50   (the plain mean would be 395.50 / 5 = 79.10)
    assert row.final == D("78.50")
    # technical over the kept E1..E3: (45 + 48 + 42) / 3 = 45.00; commercial (8+8+8)/3 = 8.00; price 25.50
    assert row.parts == {"technical": D("45.00"), "commercial": D("8.00"), "price": D("25.50")}
    assert row.rank == 1 and not row.tie


def test_five_experts_rounding_of_a_third_goes_up_at_two_thirds() -> None:
    p = project(ONE_BID)
    sheets = [
        sheet("E1", {B1: ("33.33", "10", "5")}),  # 48.33 + 30 = 78.33
        sheet("E2", {B1: ("33.34", "10", "5")}),  # 48.34 + 30 = 78.34
        sheet("E3", {B1: ("33.34", "10", "5")}),  # 48.34 + 30 = 78.34
        sheet("E4", {B1: ("40", "20", "10")}),  # 70.00 + 30 = 100.00  dropped
        sheet("E5", {B1: ("0", "0", "0")}),  # 0.00 + 30 = 30.00  dropped
    ]
    [row] = aggregate(p, "L1", sheets, (), {B1: D("30.00")})
    # (78.33 + 78.34 + 78.34) / 3 = 235.01 / 3 = 78.33666... -> 78.34 (truncating would give 78.33)
    assert row.final == D("78.34")
    # technical (43.33 + 43.34 + 43.34) / 3 = 130.01 / 3 = 43.33666... -> 43.34
    assert row.parts == {"technical": D("43.34"), "commercial": D("5.00"), "price": D("30.00")}


def test_six_experts_trimmed_mean_of_exactly_half_a_cent_rounds_half_up() -> None:
    p = project(ONE_BID)
    sheets = [
        sheet("E1", {B1: ("30.00", "15", "5")}),  # 50.00 + 30 = 80.00
        sheet("E2", {B1: ("30.01", "15", "5")}),  # 50.01 + 30 = 80.01
        sheet("E3", {B1: ("30.00", "15", "5")}),  # 80.00
        sheet("E4", {B1: ("30.01", "15", "5")}),  # 80.01
        sheet("E5", {B1: ("40", "15", "10")}),  # 65.00 + 30 = 95.00  dropped
        sheet("E6", {B1: ("20", "5", "5")}),  # 30.00 + 30 = 60.00  dropped
    ]
    [row] = aggregate(p, "L1", sheets, (), {B1: D("30.00")})
    assert set(row.dropped) == {"E5", "E6"}
    # (80.00 + 80.01 + 80.00 + 80.01) / 4 = 320.02 / 4 = 80.005 -> 80.01 half up (half-even would say 80.00)
    assert row.final == D("80.01")
    # technical (45.00 + 45.01 + 45.00 + 45.01) / 4 = 45.005 -> 45.01
    assert row.parts["technical"] == D("45.01")


def test_five_experts_drop_only_one_of_two_equal_highest_and_lowest_totals() -> None:
    p = project(ONE_BID)
    sheets = [
        sheet("E1", {B1: ("40", "20", "0")}),  # 60
        sheet("E2", {B1: ("40", "20", "0")}),  # 60
        sheet("E3", {B1: ("35", "20", "0")}),  # 55
        sheet("E4", {B1: ("30", "10", "0")}),  # 40
        sheet("E5", {B1: ("30", "10", "0")}),  # 40
    ]
    [row] = aggregate(p, "L1", sheets, (), {})
    assert len(row.dropped) == 2
    assert sorted(row.totals[m] for m in row.dropped) == [D(40), D(60)]
    # one 60 and one 40 dropped: (60 + 55 + 40) / 3 = 155 / 3 = 51.666... -> 51.67
    # (dropping every 60 and every 40 would give 55.00)
    assert row.final == D("51.67")


# --- 2. seven experts --------------------------------------------------------------------------------------
def test_seven_experts_trimmed_mean() -> None:
    p = project(ONE_BID)
    sheets = [
        sheet("E1", {B1: ("30.00", "15.00", "6")}),  # 51.00 + 20 = 71.00
        sheet("E2", {B1: ("31.25", "14.50", "6")}),  # 51.75 + 20 = 71.75
        sheet("E3", {B1: ("33.00", "16.00", "6")}),  # 55.00 + 20 = 75.00
        sheet("E4", {B1: ("34.10", "16.00", "6")}),  # 56.10 + 20 = 76.10
        sheet("E5", {B1: ("35.00", "17.33", "6")}),  # 58.33 + 20 = 78.33
        sheet("E6", {B1: ("39.00", "19.00", "10")}),  # 68.00 + 20 = 88.00  highest: dropped
        sheet("E7", {B1: ("20.00", "10.00", "4")}),  # 34.00 + 20 = 54.00  lowest: dropped
    ]
    [row] = aggregate(p, "L1", sheets, (), {B1: D("20.00")})
    assert set(row.dropped) == {"E6", "E7"}
    # 71.00 + 71.75 + 75.00 + 76.10 + 78.33 = 372.18; / 5 = 74.436 -> 74.44
    # (plain mean: (372.18 + 88 + 54) / 7 = 514.18 / 7 = 73.454... -> 73.45)
    assert row.final == D("74.44")
    # technical: 45.00 + 45.75 + 49.00 + 50.10 + 52.33 = 242.18; / 5 = 48.436 -> 48.44; commercial 6.00
    assert row.parts == {"technical": D("48.44"), "commercial": D("6.00"), "price": D("20.00")}


# --- 3. three or four experts: plain mean -------------------------------------------------------------------
def test_three_experts_plain_mean() -> None:
    p = project(ONE_BID)
    sheets = [
        sheet("E1", {B1: ("35", "15", "0")}),  # 50 + 20 = 70.00
        sheet("E2", {B1: ("40", "20", "0")}),  # 60 + 20 = 80.00
        sheet("E3", {B1: ("40", "20", "10")}),  # 70 + 20 = 90.00
    ]
    [row] = aggregate(p, "L1", sheets, (), {B1: D("20.00")})
    # (70 + 80 + 90) / 3 = 80.00; nothing dropped
    assert row.totals == {"E1": D("70.00"), "E2": D("80.00"), "E3": D("90.00")}
    assert row.dropped == ()
    assert row.final == D("80.00")
    sheets[2] = sheet("E3", {B1: ("40", "20", "5")})  # 65 + 20 = 85.00
    [row] = aggregate(p, "L1", sheets, (), {B1: D("20.00")})
    # (70 + 80 + 85) / 3 = 235 / 3 = 78.333... -> 78.33 (trimming would have kept only 80.00)
    assert row.final == D("78.33")


def test_four_experts_plain_mean_and_half_up() -> None:
    p = project(ONE_BID)
    sheets = [
        sheet("E1", {B1: ("30", "10", "0")}),  # 40
        sheet("E2", {B1: ("35", "15", "0")}),  # 50
        sheet("E3", {B1: ("40", "20", "0")}),  # 60
        sheet("E4", {B1: ("40", "20", "10")}),  # 70
    ]
    [row] = aggregate(p, "L1", sheets, (), {B1: D("30.00")})
    # totals 70, 80, 90, 100: (70 + 80 + 90 + 100) / 4 = 85.00 (trimming would give (80 + 90) / 2 = 85 too,
    # so check the asymmetric case below as well)
    assert row.dropped == ()
    assert row.final == D("85.00")
    sheets[3] = sheet("E4", {B1: ("40", "20", "10")})
    sheets[0] = sheet("E1", {B1: ("0", "0", "0")})  # 0 + 30 = 30
    [row] = aggregate(p, "L1", sheets, (), {B1: D("30.00")})
    # totals 30, 80, 90, 100: 300 / 4 = 75.00 (trimmed would be (80 + 90) / 2 = 85.00)
    assert row.final == D("75.00")
    half = [sheet("E1", {B1: ("30.00", "20", "0")}), sheet("E2", {B1: ("30.01", "20", "0")}),
            sheet("E3", {B1: ("30.00", "20", "0")}), sheet("E4", {B1: ("30.01", "20", "0")})]
    [row] = aggregate(p, "L1", half, (), {B1: D("30.00")})
    # (80.00 + 80.01 + 80.00 + 80.01) / 4 = 80.005 -> 80.01 half up
    assert row.final == D("80.01")
    assert row.parts["technical"] == D("50.01")  # (50 + 50.01 + 50 + 50.01) / 4 = 50.005 -> 50.01


# --- 4. ranking and ties -----------------------------------------------------------------------------------
def test_level_on_final_broken_by_lower_price() -> None:
    p = project({"B1": "1000000.00", "B2": "950000.00"})
    points = price_scores(p.price_rule, p.bids_of("L1")).scores  # type: ignore[arg-type]
    # benchmark 950000: B1 950000 / 1000000 × 30 = 28.50, B2 30.00
    assert points == {B1: D("28.50"), B2: D("30.00")}
    sheets = [sheet(m, {B1: ("36.5", "10", "5"), B2: ("35", "10", "5")}) for m in ("E1", "E2", "E3")]
    rows = aggregate(p, "L1", sheets, (), points)
    # B1: 51.50 + 28.50 = 80.00; B2: 50.00 + 30.00 = 80.00 -> level; B2 has the lower price
    assert [(r.bid.key, r.final, r.rank, r.tie) for r in rows] == [(B2, D("80.00"), 1, False),
                                                                   (B1, D("80.00"), 2, False)]


def test_level_on_final_and_price_broken_by_higher_technical() -> None:
    p = project({"B1": "950000.00", "B2": "950000.00", "B3": "990000.00"})
    points = {B1: D("30.00"), B2: D("30.00"), B3: D("28.79")}  # B3: 950000/990000 × 30 = 28.787... -> 28.79
    assert price_scores(p.price_rule, p.bids_of("L1")).scores == points  # type: ignore[arg-type]
    sheets = [sheet(m, {B1: ("30", "15", "5"), B2: ("32", "15", "3"), B3: ("30", "10", "5")})
              for m in ("E1", "E2", "E3")]
    rows = aggregate(p, "L1", sheets, (), points)
    # B1: 50 + 30 = 80.00, technical 45; B2: 50 + 30 = 80.00, technical 47; B3: 45 + 28.79 = 73.79
    assert [(r.bid.key, r.final, r.rank, r.tie) for r in rows] == [
        (B2, D("80.00"), 1, False), (B1, D("80.00"), 2, False), (B3, D("73.79"), 3, False)]
    assert by_bid(rows)[B2].parts["technical"] == D("47.00")


def test_higher_commercial_when_configured() -> None:
    p = project({"B1": "950000.00", "B2": "950000.00"}, tie_break=["higher_commercial"])
    sheets = [sheet(m, {B1: ("32", "15", "3"), B2: ("30", "15", "5")}) for m in ("E1", "E2", "E3")]
    rows = aggregate(p, "L1", sheets, (), {B1: D("30.00"), B2: D("30.00")})
    # both 50 + 30 = 80.00; commercial B2 5.00 > B1 3.00
    assert [(r.bid.key, r.rank, r.tie) for r in rows] == [(B2, 1, False), (B1, 2, False)]


def test_tie_break_order_is_the_configured_order() -> None:
    prices = {"B1": "900000.00", "B2": "950000.00"}
    sheets = [sheet(m, {B1: ("30", "15", "5"), B2: ("35", "10", "5")}) for m in ("E1", "E2", "E3")]
    points = {B1: D("30.00"), B2: D("30.00")}  # given, so that both finals are 50 + 30 = 80.00
    # technical: B1 45, B2 45 -> equal; lower price -> B1
    rows = aggregate(project(prices, tie_break=["higher_technical", "lower_price"]), "L1", sheets, (), points)
    assert [r.bid.key for r in rows] == [B1, B2]
    sheets = [sheet(m, {B1: ("30", "15", "5"), B2: ("36", "10", "4")}) for m in ("E1", "E2", "E3")]
    # B1 50 (technical 45) vs B2 50 (technical 46): higher_technical first -> B2 despite its higher price
    rows = aggregate(project(prices, tie_break=["higher_technical", "lower_price"]), "L1", sheets, (), points)
    assert [r.bid.key for r in rows] == [B2, B1]
    rows = aggregate(project(prices, tie_break=["lower_price", "higher_technical"]), "L1", sheets, (), points)
    assert [r.bid.key for r in rows] == [B1, B2]


def test_fully_tied_bids_share_the_rank_and_the_next_rank_is_skipped() -> None:
    p = project({"B1": "950000.00", "B2": "950000.00", "B3": "950000.00", "B4": "950000.00"})
    sheets = [sheet(m, {B1: ("30", "15", "5"), B2: ("30", "15", "5"), B3: ("30", "10", "5"),
                        B4: ("20", "10", "5")}) for m in ("E1", "E2", "E3", "E4", "E5")]
    points = {k: D("30.00") for k in (B1, B2, B3, B4)}
    rows = aggregate(p, "L1", sheets, (), points)
    # B1 = B2 = 50 + 30 = 80.00 with equal price, technical 45 and commercial 5; B3 = 75.00; B4 = 65.00
    assert [(r.bid.key, r.final, r.rank, r.tie) for r in rows] == [
        (B1, D("80.00"), 1, True), (B2, D("80.00"), 1, True), (B3, D("75.00"), 3, False),
        (B4, D("65.00"), 4, False)]


def test_a_tie_among_the_candidates_stays_open_until_the_committee_settles_it() -> None:
    prices = {"B1": "950000.00", "B2": "950000.00", "B3": "950000.00", "B4": "950000.00"}
    sheets = [sheet(m, {B1: ("30", "15", "5"), B2: ("30", "15", "5"), B3: ("30", "10", "5"),
                        B4: ("30", "10", "5")}) for m in ("E1", "E2", "E3")]
    points = {k: D("30.00") for k in (B1, B2, B3, B4)}
    # B1 = B2 = 80.00 (rank 1, 1); B3 = B4 = 75.00 (rank 3, 3): two tie groups.
    p1 = project(prices, candidates=1)
    rows = aggregate(p1, "L1", sheets, (), points)
    assert tie_groups(rows) == [(B1, B2), (B3, B4)]
    assert open_ties(p1, rows) == [(B1, B2)]  # only the first decides the one candidate
    assert open_ties(project(prices, candidates=3), rows) == [(B1, B2), (B3, B4)]
    # Settled by lot as B2, B1: ranks 1, 2; the other group keeps its shared rank 3, 3.
    settled = settle(rows, {frozenset({B1, B2}): [B2, B1]})
    assert [(r.bid.key, r.rank, r.tie, r.settled) for r in settled] == [
        (B2, 1, True, True), (B1, 2, True, True), (B3, 3, True, False), (B4, 3, True, False)]
    assert open_ties(p1, settled) == [] and [r.bid.key for r in candidates(p1, settled)] == [B2]
    assert tie_groups(settled) == [(B3, B4)]
    # A settlement of bids that are no longer a tie group settles nothing.
    assert settle(rows, {frozenset({B1, B3}): [B3, B1]}) == rows


def test_without_tie_breaks_a_level_final_is_a_tie() -> None:
    p = project({"B1": "900000.00", "B2": "950000.00"}, tie_break=[])
    sheets = [sheet(m, {B1: ("30", "15", "5"), B2: ("35", "10", "5")}) for m in ("E1", "E2", "E3")]
    rows = aggregate(p, "L1", sheets, (), {B1: D("30.00"), B2: D("30.00")})
    assert [(r.bid.key, r.rank, r.tie) for r in rows] == [(B1, 1, True), (B2, 1, True)]


def test_candidates_are_the_first_configured_rows() -> None:
    prices = {b: "950000.00" for b in ("B1", "B2", "B3", "B4")}
    sheets = [sheet(m, {B1: ("20", "10", "5"), B2: ("40", "20", "10"), B3: ("30", "15", "5"),
                        B4: ("35", "15", "5")}) for m in ("E1", "E2", "E3")]
    points = {k: D("30.00") for k in (B1, B2, B3, B4)}
    # finals: B1 65, B2 100, B3 80, B4 85 -> B2, B4, B3, B1
    for n, expected in ((1, [B2]), (2, [B2, B4]), (3, [B2, B4, B3])):
        p = project(prices, candidates=n)
        rows = aggregate(p, "L1", sheets, (), points)
        assert [r.bid.key for r in candidates(p, rows)] == expected


# --- 5. price rules ----------------------------------------------------------------------------------------
def test_lowest_benchmark_with_a_repeating_decimal() -> None:
    p = project({"B1": "800000.00", "B2": "1000000.00", "B3": "1200000.00", "B4": "900000.00"},
                price_rule={"kind": "lowest_benchmark", "points": "50.00"})
    result = price_scores(p.price_rule, p.bids_of("L1"))  # type: ignore[arg-type]
    assert result.benchmark == D("800000.00")
    assert result.scores == {
        B1: D("50.00"),  # 800000 / 800000 × 50 = 50.00
        B2: D("40.00"),  # 800000 / 1000000 × 50 = 40.00
        B3: D("33.33"),  # 800000 / 1200000 × 50 = 33.333... -> 33.33
        B4: D("44.44"),  # 800000 / 900000 × 50 = 44.444... -> 44.44
    }


def test_lowest_benchmark_exact_half_cent_rounds_up() -> None:
    rule = PriceRule("lowest_benchmark", D("10.00"))
    p = project({"B1": "1997.00", "B2": "2000.00"})
    # 1997 / 2000 × 10 = 9.985 exactly -> 9.99 half up (half-even would give 9.98)
    assert price_scores(rule, p.bids_of("L1")).scores == {B1: D("10.00"), B2: D("9.99")}
    rule = PriceRule("lowest_benchmark", D("30.00"))
    p = project({"B1": "940000.00", "B2": "960000.00"})
    # 940000 / 960000 = 47/48 = 0.9791666... (repeating); × 30 = 29.375 exactly -> 29.38
    assert price_scores(rule, p.bids_of("L1")).scores == {B1: D("30.00"), B2: D("29.38")}


AVERAGE = {"kind": "average_benchmark", "points": "30.00", "coefficient": "0.95", "drop_extremes_from": 5,
           "deduct_above": "1", "deduct_below": "0.5"}


def test_average_benchmark_drops_extremes_applies_the_coefficient_and_deducts() -> None:
    p = project({"B1": "700000.00", "B2": "960000.00", "B3": "1000000.00", "B4": "1040000.00",
                 "B5": "1400000.00", "B6": "950000.00"}, price_rule=AVERAGE)
    result = price_scores(p.price_rule, p.bids_of("L1"))  # type: ignore[arg-type]
    # 6 prices >= 5: drop 700000 and 1400000; mean of 950000, 960000, 1000000, 1040000 = 3950000 / 4 = 987500
    # benchmark = 987500 × 0.95 = 938125.00
    assert result.benchmark == D("938125.00")
    assert result.scores == {
        # (700000 - 938125) / 938125 × 100 = -25.3830... %; 30 - 0.5 × 25.3830 = 30 - 12.6915... = 17.3085 -> 17.31
        B1: D("17.31"),
        # (960000 - 938125) / 938125 × 100 = 21875 / 9381.25 = 2.33178... %; 30 - 2.33178 = 27.66822 -> 27.67
        B2: D("27.67"),
        # 61875 / 9381.25 = 6.59560... %; 30 - 6.59560 = 23.40440 -> 23.40
        B3: D("23.40"),
        # 101875 / 9381.25 = 10.85943... %; 30 - 10.85943 = 19.14057 -> 19.14
        B4: D("19.14"),
        # 461875 / 9381.25 = 49.23384... %; 30 - 49.23 < 0 -> floored at 0
        B5: D("0.00"),
        # 11875 / 9381.25 = 1.26582... %; 30 - 1.26582 = 28.73418 -> 28.73
        B6: D("28.73"),
    }


def test_average_benchmark_round_numbers() -> None:
    p = project({"B1": "700000.00", "B2": "960000.00", "B3": "1000000.00", "B4": "1040000.00",
                 "B5": "1400000.00"}, price_rule=AVERAGE)
    result = price_scores(p.price_rule, p.bids_of("L1"))  # type: ignore[arg-type]
    # 5 prices: drop 700000 and 1400000; (960000 + 1000000 + 1040000) / 3 = 1000000; × 0.95 = 950000.00
    assert result.benchmark == D("950000.00")
    assert result.scores == {
        B1: D("16.84"),  # -250000 / 9500 = -26.315789 %; 30 - 0.5 × 26.315789 = 16.842105 -> 16.84
        B2: D("28.95"),  # 10000 / 9500 = 1.0526316 %; 30 - 1.0526316 = 28.947368 -> 28.95
        B3: D("24.74"),  # 50000 / 9500 = 5.2631579 %; 30 - 5.2631579 = 24.736842 -> 24.74
        B4: D("20.53"),  # 90000 / 9500 = 9.4736842 %; 30 - 9.4736842 = 20.526316 -> 20.53
        B5: D("0.00"),  # 450000 / 9500 = 47.368421 %; 30 - 47.37 < 0 -> 0
    }


def test_average_benchmark_keeps_extremes_below_drop_extremes_from() -> None:
    p = project({"B1": "900000.00", "B2": "1000000.00", "B3": "1100000.00", "B4": "997500.00"},
                price_rule=AVERAGE)
    result = price_scores(p.price_rule, p.bids_of("L1"))  # type: ignore[arg-type]
    # 4 prices < 5: nothing dropped; (900000 + 1000000 + 1100000 + 997500) / 4 = 3997500 / 4 = 999375;
    # × 0.95 = 949406.25
    assert result.benchmark == D("949406.25")
    # B4: (997500 - 949406.25) / 949406.25 × 100 = 48093.75 / 9494.0625 = 5.06566... %; 30 - 5.06566 = 24.93434
    assert result.scores[B4] == D("24.93")


def test_average_benchmark_itself_is_rounded_half_up_and_equal_price_keeps_full_points() -> None:
    rule = PriceRule("average_benchmark", D("30.00"), D("0.95"), None, D(1), D("0.5"))
    p = project({"B1": "100.20", "B2": "100.40", "B3": "95.29"})
    result = price_scores(rule, [b for b in p.bids_of("L1") if b.key != B3])
    # (100.20 + 100.40) / 2 = 100.30; × 0.95 = 95.285 -> 95.29 (half-even would say 95.28)
    assert result.benchmark == D("95.29")
    # a price exactly at the benchmark: B3 alone with coefficient 1 -> benchmark 95.29, d = 0 -> full points
    alone = price_scores(PriceRule("average_benchmark", D("30.00"), D(1), None, D(1), D(1)),
                         [b for b in p.bids_of("L1") if b.key == B3])
    assert alone.benchmark == D("95.29") and alone.scores == {B3: D("30.00")}  # d = 0 -> full points


def test_average_benchmark_floored_score_is_zero() -> None:
    rule = PriceRule("average_benchmark", D("30.00"), D(1), None, D(1), D(1))
    p = project({"B1": "100.00", "B2": "300.00"})
    result = price_scores(rule, p.bids_of("L1"))
    # benchmark (100 + 300) / 2 = 200.00; B1 -50 % -> 30 - 50 = -20 -> 0; B2 +50 % -> 30 - 50 -> 0
    assert result.benchmark == D("200.00")
    assert result.scores == {B1: D(0), B2: D(0)}


def test_floored_price_score_is_stated_with_two_places() -> None:
    rule = PriceRule("average_benchmark", D("30.00"), D(1), None, D(1), D(1))
    p = project({"B1": "100.00", "B2": "300.00"})
    result = price_scores(rule, p.bids_of("L1"))
    # BUG? the rule states every score with two places ("0.00"); a floored score comes back as Decimal(0),
    # whose str() is "0" (max(Decimal(0), Decimal("-20.00")) keeps the un-quantized 0).
    assert [str(v) for v in result.scores.values()] == ["0.00", "0.00"]


# --- 6. review and rejected bids ---------------------------------------------------------------------------
PASS = ReviewMark(True)


def fail(reason: str = "投标保证金未按要求提交") -> ReviewMark:
    return ReviewMark(False, reason)


def test_three_of_five_fail_rejects_two_of_five_passes_with_reasons() -> None:
    p = project({"B1": "900000.00", "B2": "950000.00"})
    sheets = {
        "M1": {B1: fail("资质不符"), B2: PASS},
        "M2": {B1: fail("资质不符"), B2: PASS},
        "M3": {B1: fail("业绩不足"), B2: PASS},
        "M4": {B1: PASS, B2: fail("工期不满足")},
        "M5": {B1: PASS, B2: fail("报价超控制价")},
    }
    for marks in sheets.values():
        validate_review(p, marks)
    out = tally_review(p, sheets)
    # B1: 3 of 5 fail; 2 × 3 = 6 > 5 -> rejected
    assert not out[B1].passed and out[B1].fail_votes == 3
    assert out[B1].reasons == (("M1", "资质不符"), ("M2", "资质不符"), ("M3", "业绩不足"))
    # B2: 2 of 5 fail; 2 × 2 = 4 > 5 is false -> passes, the minority's reasons are still reported
    assert out[B2].passed and out[B2].fail_votes == 2
    assert out[B2].reasons == (("M4", "工期不满足"), ("M5", "报价超控制价"))


def test_two_of_four_is_not_a_majority() -> None:
    p = project({"B1": "900000.00"})
    sheets = {"M1": {B1: fail()}, "M2": {B1: fail()}, "M3": {B1: PASS}, "M4": {B1: PASS}}
    out = tally_review(p, sheets)
    # 2 × 2 = 4 > 4 is false -> passes
    assert out[B1].passed and out[B1].fail_votes == 2
    sheets["M3"] = {B1: fail()}
    # 3 of 4: 6 > 4 -> rejected
    assert not tally_review(p, sheets)[B1].passed


def test_review_refusals() -> None:
    p = project({"B1": "900000.00", "B2": "950000.00"})
    err = raises(ErrorCode.INVALID_INPUT, validate_review, p, {B1: ReviewMark(False, "  "), B2: PASS})
    assert err.details == [{"bid": B1, "message": "reason required"}]
    err = raises(ErrorCode.INVALID_INPUT, validate_review, p, {B1: PASS})
    assert err.details == [{"bid": B2, "message": "not marked"}]
    err = raises(ErrorCode.UNKNOWN_BID, validate_review, p, {B1: PASS, B2: PASS, "L1/B9": PASS})
    assert err.details == [{"bid": "L1/B9", "message": "not a bid of this session"}]
    validate_review(p, {B1: PASS, B2: fail()})


ITEMS = [{"code": "Q1", "name": "营业执照", "kind": "qualification"},
         {"code": "Q2", "name": "安全生产许可证", "kind": "qualification"},
         {"code": "F1", "name": "投标有效期", "kind": "compliance"}]


def by_item(**fails: str) -> ReviewMark:
    """A bid marked item by item: the named items failed with the given reasons, the others passed."""
    marks = {c: ReviewMark(c not in fails, fails.get(c, "")) for c in ("Q1", "Q2", "F1")}
    return ReviewMark(not fails, "", marks)


def test_review_by_item_every_item_marked_a_reason_per_fail_and_the_bid_passes_only_if_all_do() -> None:
    p = project({"B1": "900000.00", "B2": "950000.00"}, review_items=ITEMS)
    assert [(i.code, i.kind) for i in p.review_items] == [("Q1", "qualification"), ("Q2", "qualification"),
                                                          ("F1", "compliance")]
    validate_review(p, {B1: by_item(Q2="许可证已过期"), B2: by_item()})
    partial = ReviewMark(True, "", {"Q1": PASS, "F1": PASS})
    err = raises(ErrorCode.INVALID_INPUT, validate_review, p, {B1: partial, B2: by_item()})
    assert err.details == [{"bid": B1, "item": "Q2", "message": "not marked"}]
    bare = ReviewMark(False, "", {"Q1": PASS, "Q2": ReviewMark(False, " "), "F1": PASS})
    err = raises(ErrorCode.INVALID_INPUT, validate_review, p, {B1: bare, B2: by_item()})
    assert err.details == [{"bid": B1, "item": "Q2", "message": "reason required"}]
    claims = ReviewMark(True, "", by_item(F1="有效期不足").items)  # passed, though an item failed
    err = raises(ErrorCode.INVALID_INPUT, validate_review, p, {B1: claims, B2: by_item()})
    assert err.details == [{"bid": B1, "message": "a bid passes exactly when every review item does"}]
    stray = ReviewMark(True, "", {**by_item().items, "X9": PASS})
    err = raises(ErrorCode.INVALID_INPUT, validate_review, p, {B1: stray, B2: by_item()})
    assert err.details == [{"bid": B1, "item": "X9", "message": "not a review item of this tender"}]
    # A tender without items takes no items, and one with them no whole-bid marks.
    err = raises(ErrorCode.INVALID_INPUT, validate_review, project({"B1": "900000.00"}), {B1: by_item()})
    assert err.details == [{"bid": B1, "message": "no review items"}]
    err = raises(ErrorCode.INVALID_INPUT, validate_review, p, {B1: PASS, B2: by_item()})
    assert {d["item"] for d in err.details} == {"Q1", "Q2", "F1"}


def test_review_by_item_tallies_by_bid_with_each_failed_items_name_and_reason() -> None:
    p = project({"B1": "900000.00"}, review_items=ITEMS)
    sheets = {"M1": {B1: by_item(Q2="许可证已过期", F1="有效期不足")}, "M2": {B1: by_item(Q2="许可证过期")},
              "M3": {B1: by_item()}}
    out = tally_review(p, sheets)
    assert not out[B1].passed and out[B1].fail_votes == 2
    assert out[B1].reasons == (("M1", "安全生产许可证：许可证已过期；投标有效期：有效期不足"),
                               ("M2", "安全生产许可证：许可证过期"))


def test_review_items_in_the_tender_are_checked_at_import() -> None:
    doc = comprehensive_doc({"B1": "900000.00"}, review_items=[{"code": "Q1", "name": "营业执照"},
                                                                {"code": "Q1", "name": "again", "kind": "other"},
                                                                {"code": "bad code", "name": ""}])
    err = raises(ErrorCode.IMPORT_REJECTED, parse_project, doc)
    paths = {d["path"] for d in err.details}
    assert {"$.review_items[1].code", "$.review_items[1].kind", "$.review_items[2].code",
            "$.review_items[2].name"} <= paths, err.details
    assert parse_project(comprehensive_doc({"B1": "900000.00"}, review_items=[{"code": "Q1", "name": "营业执照"}])
                         ).review_items[0].kind == "qualification"


def test_rejected_bids_are_left_out_of_aggregation_and_price_scoring() -> None:
    p = project({"B1": "800000.00", "B2": "900000.00", "B3": "1000000.00"})
    rejected = {B1}
    valid = [b for b in p.bids_of("L1") if b.key not in rejected]
    points = price_scores(p.price_rule, valid).scores  # type: ignore[arg-type]
    # benchmark is the lowest *valid* price 900000 (not the rejected 800000):
    # B2 30.00; B3 900000 / 1000000 × 30 = 27.00   (with B1 it would be 26.67 and 24.00)
    assert points == {B2: D("30.00"), B3: D("27.00")}
    sheets = [sheet(m, {B2: ("30", "15", "5"), B3: ("35", "15", "5")}) for m in ("E1", "E2", "E3")]
    rows = aggregate(p, "L1", sheets, rejected, points)
    # B2: 50 + 30 = 80.00; B3: 55 + 27 = 82.00
    assert [(r.bid.key, r.final, r.rank) for r in rows] == [(B3, D("82.00"), 1), (B2, D("80.00"), 2)]
    assert [r.bid.key for r in candidates(p, rows)] == [B3, B2]


# --- 7. objective items -------------------------------------------------------------------------------------
def of_kind(findings: list[Any], kind: str) -> list[Any]:
    return [f for f in findings if f.kind == kind]


def test_objective_mismatch_flags_only_the_member_off_the_majority() -> None:
    p = project({"B1": "900000.00"})
    sheets = [sheet(m, {B1: ("30", "15", c1)}) for m, c1 in
              (("M1", "5"), ("M2", "5"), ("M3", "5"), ("M4", "3"), ("M5", "5"))]
    found = check_sheets(p, [B1], sheets)
    # subtotals 50, 50, 50, 48, 50: M4 is 4 % below its peers -> no deviation flag either
    assert [(f.member, f.bid, f.criterion, f.kind) for f in found] == [("M4", B1, "C1", "objective_mismatch")]
    assert found[0].detail == {"value": "3", "majority": "5", "values": "3,5"}


def test_objective_mismatch_without_a_single_majority_flags_everyone() -> None:
    p = project({"B1": "900000.00"})
    sheets = [sheet(m, {B1: ("30", "15", c1)}) for m, c1 in (("M1", "5"), ("M2", "5"), ("M3", "3"), ("M4", "3"))]
    found = of_kind(check_sheets(p, [B1], sheets), "objective_mismatch")
    assert sorted(f.member for f in found) == ["M1", "M2", "M3", "M4"]
    assert {f.detail["majority"] for f in found} == {""}


def test_subjective_items_may_differ_and_equal_values_in_another_notation_match() -> None:
    p = project({"B1": "900000.00"})
    sheets = [sheet("M1", {B1: ("30", "15", "5")}), sheet("M2", {B1: ("31", "14", "5.00")}),
              sheet("M3", {B1: ("29", "16", "5.0")})]
    assert check_sheets(p, [B1], sheets) == []


# --- 8. deviation ------------------------------------------------------------------------------------------
def test_deviation_just_above_thirty_percent_is_flagged_and_just_below_is_not() -> None:
    p = project({"B1": "900000.00"})
    peers = [sheet("M1", {B1: ("25", "10", "5")}), sheet("M2", {B1: ("25", "10", "5")})]  # 40.00 each

    def deviations(t1: str) -> list[Any]:
        return of_kind(check_sheets(p, [B1], [*peers, sheet("M3", {B1: (t1, "10", "5")})]), "deviation")

    # M3 = 37.01 + 15 = 52.01: (52.01 - 40) / 40 = 12.01 / 40 = 0.30025 > 0.30 -> flagged (+30.03 %)
    # M1's peers are M2 and M3: mean 46.005; (40 - 46.005) / 46.005 = -0.1305 -> not flagged
    [f] = deviations("37.01")
    assert (f.member, f.bid, f.criterion) == ("M3", B1, None)
    assert f.detail == {"total": "52.01", "peers_mean": "40.00", "deviation": "30.03%", "threshold": "30.00%"}
    # M3 = 52.00: exactly 0.30 is not *more than* the threshold; 51.99: 0.29975
    assert deviations("37.00") == []
    assert deviations("36.99") == []
    # below: M3 = 12.99 + 15 = 27.99: (27.99 - 40) / 40 = -0.30025 -> flagged (-30.03 %, half up away from 0)
    [f] = deviations("12.99")
    assert f.member == "M3" and f.detail["deviation"] == "-30.03%"
    # 28.00: exactly -0.30 -> not flagged
    assert deviations("13.00") == []


def test_deviation_ignores_price_points_for_comprehensive_scoring() -> None:
    # Subtotals 40, 40, 52.01 deviate by 30.025 %; with 30 price points the totals 70, 70, 82.01 would only
    # deviate by 17.2 %. check_sheets takes no price points, and flags M3.
    p = project({"B1": "900000.00"})
    sheets = [sheet("M1", {B1: ("25", "10", "5")}), sheet("M2", {B1: ("25", "10", "5")}),
              sheet("M3", {B1: ("37.01", "10", "5")})]
    assert [f.member for f in of_kind(check_sheets(p, [B1], sheets), "deviation")] == ["M3"]


def test_deviation_when_the_peers_mean_is_zero() -> None:
    p = project({"B1": "900000.00"})
    zeros = [sheet("M1", {B1: ("0", "0", "0")}), sheet("M2", {B1: ("0", "0", "0")})]
    assert of_kind(check_sheets(p, [B1], [*zeros, sheet("M3", {B1: ("0", "0", "0")})]), "deviation") == []
    found = of_kind(check_sheets(p, [B1], [*zeros, sheet("M3", {B1: ("1", "0", "0")})]), "deviation")
    by_member = {f.member: f.detail["deviation"] for f in found}
    # M3: peers' mean 0, total 1 -> infinitely far; M1 and M2: peers 0 and 1 -> mean 0.5, (0 - 0.5) / 0.5 = -100 %
    assert by_member == {"M3": "inf", "M1": "-100.00%", "M2": "-100.00%"}


def test_deviation_needs_three_sheets() -> None:
    p = project({"B1": "900000.00"})
    sheets = [sheet("M1", {B1: ("10", "0", "5")}), sheet("M2", {B1: ("40", "20", "5")})]
    assert of_kind(check_sheets(p, [B1], sheets), "deviation") == []


@pytest.mark.parametrize(("threshold", "t1s"), [
    # Seven members, threshold 20 %: M7's six peers total 50 × 5 + 50.05 = 300.05 -> mean 50.008333...;
    # M7 = 60.01 = 1.2 × 300.05 / 6 (360.06 / 300.05 = 1.2): exactly +20 %, not *more than* 20 %.
    # (A 50's peers total 310.06 -> mean 51.68, -3.2 %; the 50.05's total 310.01 -> mean 51.67, -3.1 %.)
    ("0.20", ("25", "25", "25", "25", "25", "25.05", "35.01")),
    # Seven members, threshold 25 %: peers 40 × 5 + 40.16 = 240.16 -> mean 40.026666...;
    # M7 = 30.02 = 0.75 × 240.16 / 6 (180.12 / 6 = 30.02): exactly -25 %.
    # (A 40's peers total 230.18 -> mean 38.36, +4.3 %; the 40.16's total 230.02 -> mean 38.34, +4.8 %.)
    ("0.25", ("15", "15", "15", "15", "15", "15.16", "5.02")),
])
def test_deviation_exactly_at_the_threshold_is_not_flagged(threshold: str, t1s: tuple[str, ...]) -> None:
    # subtotal = T1 + T2 (20.00) + C1 (5.00) in both cases
    p = project({"B1": "900000.00"}, deviation_threshold=threshold)
    sheets = [sheet(f"M{i + 1}", {B1: (t1, "20", "5")}) for i, t1 in enumerate(t1s)]
    # BUG? the code flags M7 with "deviation": "20.00%" against "threshold": "20.00%" (resp. -25.00 % / 25.00 %):
    # the peers' mean (300.05 / 6 = 50.00833...) is cut to 34 digits, total - mean is then rounded to the default
    # 28 digits, and the ratio comes out as 0.2000...0001 > 0.20. An exact test, |n·total - S| > t·S (S the
    # peers' sum, n their number), would not flag it. It happens whenever the peers' mean does not terminate,
    # e.g. 6 peers (a committee of 7) with a threshold of 0.20, 0.25, 0.40; never with the default 0.30 and 6 peers.
    assert of_kind(check_sheets(p, [B1], sheets), "deviation") == []


def test_deviation_for_lowest_price_uses_the_evaluated_price() -> None:
    p = parse_project(lowest_price_doc({"B1": "1000000.00"}))
    peers = [adj_sheet("M1", {B1: ("0", "0")}), adj_sheet("M2", {B1: ("0", "0")})]
    # adjustments alone would be infinitely far from 0; the evaluated prices are 1000000, 1000000 and
    # 1000000 + 50000 + 100000 = 1150000: +15 % -> not flagged
    assert check_sheets(p, [B1], [*peers, adj_sheet("M3", {B1: ("50000", "100000")})]) == []


# --- 9. arithmetic and out of range ------------------------------------------------------------------------
def test_stated_subtotal_that_does_not_add_up() -> None:
    p = project({"B1": "900000.00"})
    sheets = [sheet("M1", {B1: ("30.00", "15.00", "8.50")}, stated={B1: "53.00"}),  # 30 + 15 + 8.50 = 53.50 ≠ 53.00
              sheet("M2", {B1: ("30.00", "15.00", "8.50")}, stated={B1: "53.5"}),  # 53.50 = 53.5: fine
              sheet("M3", {B1: ("30.00", "15.00", "8.50")})]  # nothing stated: nothing to check
    found = check_sheets(p, [B1], sheets)
    assert [(f.member, f.bid, f.criterion, f.kind) for f in found] == [("M1", B1, None, "arithmetic")]
    assert found[0].detail == {"stated": "53.00", "sum": "53.50"}


def test_out_of_range_found_by_check_sheets() -> None:
    p = project({"B1": "900000.00"})
    sheets = [sheet("M1", {B1: ("41.00", "15", "5")}), sheet("M2", {B1: ("40", "-0.50", "5")}),
              sheet("M3", {B1: ("40", "15", "5")})]
    found = of_kind(check_sheets(p, [B1], sheets), "out_of_range")
    assert [(f.member, f.criterion, f.detail) for f in found] == [
        ("M1", "T1", {"value": "41.00", "min": "0", "max": "40.00"}),  # 41.00 > 40.00
        ("M2", "T2", {"value": "-0.50", "min": "0", "max": "20.00"}),  # -0.50 < 0
    ]


# --- 10. validate_sheet ------------------------------------------------------------------------------------
def test_validate_sheet_refusals() -> None:
    p = project({"B1": "900000.00", "B2": "950000.00", "B3": "990000.00"})
    scope = [B1, B2]  # B3 was rejected in review
    good = {B1: ("30", "15", "5"), B2: ("32.50", "16", "5")}
    validate_sheet(p, scope, sheet("M1", good))

    err = raises(ErrorCode.SCORE_OUT_OF_RANGE, validate_sheet, p, scope,
                 sheet("M1", {**good, B2: ("40.50", "16", "5")}))
    assert err.details == [{"bid": B2, "criterion": "T1", "value": "40.50", "message": "must be between 0 and 40.00"}]

    err = raises(ErrorCode.UNKNOWN_BID, validate_sheet, p, scope, sheet("M1", {**good, B3: ("30", "15", "5")}))
    assert err.details == [{"bid": B3, "message": "not a bid under review"}]

    missing_item = sheet("M1", good)
    del missing_item.items[B1]["T2"]  # type: ignore[attr-defined]
    err = raises(ErrorCode.INVALID_INPUT, validate_sheet, p, scope, missing_item)
    assert err.details == [{"bid": B1, "criterion": "T2", "message": "not scored"}]

    err = raises(ErrorCode.INVALID_INPUT, validate_sheet, p, scope, sheet("M1", {B1: good[B1]}))
    assert err.details == [{"bid": B2, "message": "not scored"}]

    err = raises(ErrorCode.INVALID_INPUT, validate_sheet, p, scope, sheet("M1", {**good, B1: ("30.125", "15", "5")}))
    assert err.details == [{"bid": B1, "criterion": "T1", "message": "at most two decimal places"}]

    extra = sheet("M1", good)
    extra.items[B1]["X9"] = D(1)  # type: ignore[index]
    err = raises(ErrorCode.INVALID_INPUT, validate_sheet, p, scope, extra)
    assert err.details == [{"bid": B1, "criterion": "X9", "message": "no such criterion"}]


def test_validate_sheet_accepts_a_negative_adjustment_within_range() -> None:
    p = parse_project(lowest_price_doc({"B1": "1000000.00"}))
    validate_sheet(p, [B1], adj_sheet("M1", {B1: ("-50000.00", "0")}))
    err = raises(ErrorCode.SCORE_OUT_OF_RANGE, validate_sheet, p, [B1], adj_sheet("M1", {B1: ("-50000.01", "0")}))
    assert err.details == [{"bid": B1, "criterion": "A1", "value": "-50000.01",
                            "message": "must be between -50000.00 and 50000.00"}]


# --- 11. lowest evaluated price ----------------------------------------------------------------------------
def test_lowest_evaluated_price_trimmed_mean_and_ascending_rank() -> None:
    p = parse_project(lowest_price_doc({"B1": "1000000.00", "B2": "980000.00", "B3": "1020000.00"}))
    assert p.price_rule is None and p.price_points == 0
    sheets = [
        adj_sheet("E1", {B1: ("-20000", "0"), B2: ("10000", "0"), B3: ("-33333.33", "0")}),
        adj_sheet("E2", {B1: ("-10000", "5000"), B2: ("20000", "0"), B3: ("-33333.33", "0")}),
        adj_sheet("E3", {B1: ("0", "10000"), B2: ("-5000", "0"), B3: ("-33333.34", "0")}),
        adj_sheet("E4", {B1: ("-50000", "0"), B2: ("0", "0"), B3: ("-50000", "0")}),
        adj_sheet("E5", {B1: ("30000", "20000"), B2: ("50000", "50000"), B3: ("0", "0")}),
    ]
    rows = by_bid(aggregate(p, "L1", sheets, (), {}))
    # B1 (1000000): 980000, 995000, 1010000, 950000 (low, dropped), 1050000 (high, dropped)
    #   (980000 + 995000 + 1010000) / 3 = 2985000 / 3 = 995000.00
    assert rows[B1].totals["E4"] == D("950000.00") and set(rows[B1].dropped) == {"E4", "E5"}
    assert rows[B1].final == D("995000.00")
    # B2 (980000): 990000, 1000000, 975000 (low, dropped), 980000, 1080000 (high, dropped)
    #   (990000 + 1000000 + 980000) / 3 = 2970000 / 3 = 990000.00
    assert set(rows[B2].dropped) == {"E3", "E5"} and rows[B2].final == D("990000.00")
    # B3 (1020000): 986666.67, 986666.67, 986666.66, 970000 (low), 1020000 (high)
    #   2960000.00 / 3 = 986666.666... -> 986666.67   (plain mean 4950000 / 5 = 990000.00 would tie with B2)
    assert rows[B3].final == D("986666.67")
    assert rows[B3].parts == {}
    # lower is better
    assert [(k, r.rank) for k, r in sorted(rows.items(), key=lambda kv: kv[1].rank)] == [(B3, 1), (B2, 2), (B1, 3)]


def test_lowest_evaluated_price_tie_broken_by_lower_price() -> None:
    p = parse_project(lowest_price_doc({"B1": "1000000.00", "B2": "980000.00"}))
    sheets = [adj_sheet(m, {B1: ("-10000", "0"), B2: ("10000", "0")}) for m in ("E1", "E2", "E3")]
    rows = aggregate(p, "L1", sheets, (), {})
    # both evaluated at 990000.00; B2 bid the lower price
    assert [(r.bid.key, r.final, r.rank, r.tie) for r in rows] == [(B2, D("990000.00"), 1, False),
                                                                   (B1, D("990000.00"), 2, False)]


def test_lowest_evaluated_price_three_experts_plain_mean() -> None:
    p = parse_project(lowest_price_doc({"B1": "1000000.00"}))
    sheets = [adj_sheet("E1", {B1: ("-10000", "0")}), adj_sheet("E2", {B1: ("0", "0")}),
              adj_sheet("E3", {B1: ("0", "100000")})]
    [row] = aggregate(p, "L1", sheets, (), {})
    # (990000 + 1000000 + 1100000) / 3 = 3090000 / 3 = 1030000.00
    assert row.dropped == () and row.final == D("1030000.00")


# --- 12. the project file -----------------------------------------------------------------------------------
def test_parse_a_valid_project() -> None:
    doc = comprehensive_doc({"B1": "1000000.00", "B2": "950000.50"})
    doc["lots"].append({"code": "L2", "name": "第二标段", "bids": [{"bidder": "B2", "price": "300000"}]})
    doc["criteria"][1] = {"code": "C", "name": "商务部分", "part": "commercial", "max": "10.00", "children": [
        {"code": "CR", "name": "资信", "max": "10.00", "children": [
            {"code": "C1", "name": "企业资质证书", "max": "5.00", "objective": True},
            {"code": "C2", "name": "类似业绩", "max": "5.00"}]}]}
    p = parse_project(doc)
    assert [b.key for b in p.bids] == ["L1/B1", "L1/B2", "L2/B2"]
    assert p.bid("L1/B2").price == D("950000.50")  # type: ignore[union-attr]
    assert [b.key for b in p.bids_of("L2")] == ["L2/B2"]
    assert p.lots == (("L1", "第一标段"), ("L2", "第二标段"))
    assert [(c.code, c.part, c.max, c.min, c.objective, c.path) for c in p.criteria] == [
        ("T1", "technical", D("40.00"), D(0), False, ("技术部分",)),
        ("T2", "technical", D("20.00"), D(0), False, ("技术部分",)),
        ("C1", "commercial", D("5.00"), D(0), True, ("商务部分", "资信")),
        ("C2", "commercial", D("5.00"), D(0), False, ("商务部分", "资信")),
    ]  # group maxima: T 60.00 = 40 + 20; C 10.00 = CR 10.00 = 5 + 5
    assert p.price_rule == PriceRule("lowest_benchmark", D("30.00"))
    assert p.price_points == D("30.00")
    assert p.tie_break == ("lower_price", "higher_technical")
    assert p.candidates == 3
    assert p.deviation_threshold == D("0.30")


def test_parse_average_benchmark_rule_and_defaults() -> None:
    doc = comprehensive_doc({"B1": "1000000.00"}, price_rule=AVERAGE)
    del doc["tie_break"], doc["candidates"]
    p = parse_project(doc)
    assert p.price_rule == PriceRule("average_benchmark", D("30.00"), D("0.95"), 5, D(1), D("0.5"))
    assert p.tie_break == ("lower_price",) and p.candidates == 3


def problem_paths(doc: dict[str, Any]) -> list[str]:
    err = raises(ErrorCode.IMPORT_REJECTED, parse_project, doc)
    assert err.details is not None
    assert all(set(d) == {"path", "message"} and d["message"] for d in err.details)
    return [d["path"] for d in err.details]


def test_parse_reports_every_problem_with_its_path() -> None:
    doc = lowest_price_doc({"B1": "1000000.00", "B2": "980000.00"})
    doc["bidders"].append({"code": "B1", "name": "重复的投标人"})  # $.bidders[2]: B1 twice
    doc["lots"][0]["bids"][0]["price"] = 1000000.5  # a float
    doc["lots"][0]["bids"].append({"bidder": "B9", "price": "990000.00"})  # no bidder B9
    doc["criteria"][0]["max"] = "10.00"  # the adjustment group's items add up to 150000.00
    doc["candidates"] = 4
    doc["price_rule"] = {"kind": "lowest_benchmark", "points": "30.00"}  # no price points for lowest_price
    assert sorted(problem_paths(doc)) == sorted([
        "$.bidders[2].code",
        "$.lots[0].bids[0].price",
        "$.lots[0].bids[2].bidder",
        "$.criteria[0].max",
        "$.price_rule",
        "$.candidates",
    ])


def test_parse_unknown_method_and_more() -> None:
    doc = comprehensive_doc({"B1": "1000000.00"}, method="lowest_bid")
    # Only the method: the parts and the price rule cannot be judged without it, so they add no noise.
    assert problem_paths(doc) == ["$.method"]
    doc = comprehensive_doc({"B1": "1000000.00"})
    doc["criteria"][0]["children"][0]["max"] = 40.0  # float
    doc["tie_break"] = ["lower_price", "lower_price"]
    doc["deviation_threshold"] = "0"
    doc["format"] = "evalroom-project-v0"
    paths = problem_paths(doc)
    assert {"$.criteria[0].children[0].max", "$.tie_break", "$.deviation_threshold", "$.format"} <= set(paths)


def test_parse_price_rule_problems() -> None:
    doc = comprehensive_doc({"B1": "1000000.00"})
    del doc["price_rule"]
    assert problem_paths(doc) == ["$.price_rule"]  # once, not again for its kind and points
    doc = comprehensive_doc({"B1": "1000000.00"}, price_rule={**AVERAGE, "drop_extremes_from": 2,
                                                               "coefficient": 0.95})
    assert sorted(problem_paths(doc)) == ["$.price_rule.coefficient", "$.price_rule.drop_extremes_from"]
    doc = comprehensive_doc({"B1": "1000000.00"}, price_rule={"kind": "lowest_benchmark", "points": "30",
                                                               "coefficient": "0.95"})
    assert problem_paths(doc) == ["$.price_rule.coefficient"]  # not a field of the lowest-price benchmark


def test_parse_refuses_unknown_fields_at_every_level() -> None:
    doc = comprehensive_doc({"B1": "1000000.00"}, candidate=2)  # a misspelt "candidates" must not mean 3
    doc["bidders"][0]["nmae"] = "x"
    doc["lots"][0]["bids"][0]["prize"] = "1"
    doc["criteria"][0]["children"][0]["maximum"] = "40"
    assert problem_paths(doc) == ["$.candidate", "$.bidders[0].nmae", "$.lots[0].bids[0].prize",
                                  "$.criteria[0].children[0].maximum"]


# --- properties --------------------------------------------------------------------------------------------
cents = st.integers(min_value=0, max_value=4000).map(lambda c: D(c).scaleb(-2))
item_scores = st.tuples(cents, st.integers(0, 2000).map(lambda c: D(c).scaleb(-2)),
                        st.integers(0, 1000).map(lambda c: D(c).scaleb(-2)))
PROP = project({"B1": "900000.00", "B2": "950000.00"})


def _sheets(scores: list[tuple[Decimal, Decimal, Decimal]]) -> list[Sheet]:
    return [Sheet(f"E{i}", {B1: {"T1": t1, "T2": t2, "C1": c1}, B2: {"T1": t2, "T2": t2, "C1": c1}})
            for i, (t1, t2, c1) in enumerate(scores)]


@settings(database=None, deadline=None, max_examples=150)
@given(item_scores, st.integers(min_value=1, max_value=9), cents)
def test_identical_sheets_give_the_common_total(scores: tuple[Decimal, Decimal, Decimal], n: int,
                                                points: Decimal) -> None:
    [row, *_] = [r for r in aggregate(PROP, "L1", _sheets([scores] * n), (), {B1: points}) if r.bid.key == B1]
    assert row.final == sum(scores, points)


@settings(database=None, deadline=None, max_examples=150)
@given(st.lists(item_scores, min_size=1, max_size=9), st.randoms(use_true_random=False))
def test_member_order_does_not_change_the_result(scores: list[tuple[Decimal, Decimal, Decimal]], rnd: Any) -> None:
    sheets = _sheets(scores)
    points = {B1: D("30.00"), B2: D("28.50")}
    shuffled = copy.copy(sheets)
    rnd.shuffle(shuffled)
    a = aggregate(PROP, "L1", sheets, (), points)
    b = aggregate(PROP, "L1", shuffled, (), points)
    assert [(r.bid.key, r.final, r.parts, r.rank, r.tie, sorted(r.dropped)) for r in a] == \
        [(r.bid.key, r.final, r.parts, r.rank, r.tie, sorted(r.dropped)) for r in b]
    assert check_sheets(PROP, [B1, B2], sheets) == check_sheets(PROP, [B1, B2], shuffled)


@settings(database=None, deadline=None, max_examples=150)
@given(st.lists(item_scores, min_size=1, max_size=9))
def test_final_lies_between_the_lowest_and_highest_total(scores: list[tuple[Decimal, Decimal, Decimal]]) -> None:
    rows = by_bid(aggregate(PROP, "L1", _sheets(scores), (), {}))
    row = rows[B1]
    totals = sorted(row.totals.values())
    assert totals[0] <= row.final <= totals[-1]
    if len(totals) >= 5:
        # the trimmed mean lies between the second lowest and the second highest total
        assert totals[1] <= row.final <= totals[-2]
        assert len(row.dropped) == 2
    else:
        assert row.dropped == ()
    assert row.final == round2(row.final)


@settings(database=None, deadline=None, max_examples=150)
@given(st.lists(st.integers(min_value=10**6, max_value=10**8), min_size=1, max_size=8, unique=True))
def test_price_scores_stay_within_the_points(prices: list[int]) -> None:
    bids = project({f"B{i}": str(D(p).scaleb(-2)) for i, p in enumerate(prices)}).bids_of("L1")
    lowest = price_scores(PriceRule("lowest_benchmark", D("30.00")), bids)
    assert all(D(0) < s <= D("30.00") for s in lowest.scores.values())
    assert lowest.scores[min(bids, key=lambda b: b.price).key] == D("30.00")
    average = price_scores(PriceRule("average_benchmark", D("30.00"), D("0.95"), 5, D(1), D("0.5")), bids)
    assert all(D(0) <= s <= D("30.00") for s in average.scores.values())
