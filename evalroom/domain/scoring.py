"""Scoring rules: sheets, price points, the automatic checks, aggregation and ranking (shared/domain.md).

Every number is a :class:`~decimal.Decimal`. Intermediate results are exact (or carried at 34 significant
digits for divisions); what is shown and compared is rounded to two places, half up (``ROUND_HALF_UP``),
and the report states this rule. Nothing here reads a clock, a database or the network.

Sheets
    A scoring sheet holds one member's values per bid and criterion, and optionally the subtotal the expert
    wrote down per bid (``stated``); the arithmetic check compares the two, as a paper form would be checked.

Checks before aggregation (发改法规〔2026〕195号)
    ``out_of_range``      a value outside its criterion's [min, max];
    ``arithmetic``        a stated subtotal that is not the sum of the items;
    ``objective_mismatch``an objective item scored differently by different members: the members off the
                          most common value are flagged (everyone, when no single value is most common);
    ``deviation``         a member's subtotal for a bid differs from the mean of the *other* members' subtotals
                          by more than the threshold (±30% by default). For comprehensive scoring the subtotal
                          is the expert-scored part (the price points are a formula, equal for everyone); for
                          the lowest evaluated price it is the evaluated price.

Aggregation
    With 5 or more evaluators the highest and the lowest total of each bid are dropped and the rest averaged
    (trimmed mean); with fewer, the plain mean. The part means (technical, commercial) are taken over the same
    members, so that, before each is rounded, the parts add up to the final score.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, localcontext

from evalroom.domain.project import COMPREHENSIVE, Bid, PriceRule, Project
from evalroom.errors import ApiError, ErrorCode

__all__ = [
    "CHECKS",
    "TRIM_FROM",
    "Finding",
    "PriceResult",
    "ResultRow",
    "ReviewMark",
    "ReviewOutcome",
    "Sheet",
    "aggregate",
    "candidates",
    "check_sheets",
    "evaluated_total",
    "price_scores",
    "open_ties",
    "rank",
    "settle",
    "round2",
    "tally_review",
    "tie_groups",
    "validate_review",
    "validate_sheet",
]

CENT = Decimal("0.01")
TRIM_FROM = 5
"""From this many evaluators on, each bid's highest and lowest total are dropped."""
CHECKS = ("out_of_range", "arithmetic", "objective_mismatch", "deviation")


def round2(value: Decimal) -> Decimal:
    """Two places, half up: the rounding the report states."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _div(a: Decimal, b: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 34
        return a / b


# --- qualification / compliance review ---------------------------------------------------------------------
@dataclass(frozen=True)
class ReviewMark:
    passed: bool
    reason: str = ""
    items: Mapping[str, ReviewMark] = field(default_factory=dict)
    """Per review item, when the tender lists them (``Project.review_items``): each item's pass or fail."""

    def fail_reason(self, project: Project) -> str:
        """Why this bid failed, in the member's words: per failed item, its name and reason, when by item."""
        if not self.items:
            return self.reason.strip()
        return "；".join(f"{item.name}：{self.items[item.code].reason.strip()}" for item in project.review_items
                        if item.code in self.items and not self.items[item.code].passed)


@dataclass(frozen=True)
class ReviewOutcome:
    bid: str
    passed: bool
    fail_votes: int
    reasons: tuple[tuple[str, str], ...]
    """(member, reason) of every fail vote, whatever the outcome: a minority's reasons go into the report too."""


def validate_review(project: Project, marks: Mapping[str, ReviewMark]) -> None:
    """A member's review sheet must mark every bid of the session exactly once; a fail needs a written reason."""
    known = {b.key for b in project.bids}
    problems = [{"bid": k, "message": "not a bid of this session"} for k in sorted(set(marks) - known)]
    if problems:
        raise ApiError(ErrorCode.UNKNOWN_BID, "the review names bids that are not in this session", problems)
    missing = sorted(known - set(marks))
    if missing:
        raise ApiError(ErrorCode.INVALID_INPUT, "every bid must be marked pass or fail",
                       [{"bid": k, "message": "not marked"} for k in missing])
    if project.review_items:
        _validate_items(project, marks)
        return
    if any(m.items for m in marks.values()):
        raise ApiError(ErrorCode.INVALID_INPUT, "this tender lists no review items: mark each bid as a whole",
                       [{"bid": k, "message": "no review items"} for k, m in sorted(marks.items()) if m.items])
    bare = sorted(k for k, m in marks.items() if not m.passed and not m.reason.strip())
    if bare:
        raise ApiError(ErrorCode.INVALID_INPUT, "a fail mark needs a written reason",
                       [{"bid": k, "message": "reason required"} for k in bare])


def _validate_items(project: Project, marks: Mapping[str, ReviewMark]) -> None:
    """By item: every item of every bid marked, a reason for each fail, and the bid passed exactly when all its
    items are."""
    codes = [item.code for item in project.review_items]
    problems: list[dict[str, str]] = []
    for bid, mark in sorted(marks.items()):
        problems += [{"bid": bid, "item": c, "message": "not a review item of this tender"}
                     for c in sorted(set(mark.items) - set(codes))]
        problems += [{"bid": bid, "item": c, "message": "not marked"} for c in codes if c not in mark.items]
        problems += [{"bid": bid, "item": c, "message": "reason required"} for c in codes
                     if c in mark.items and not mark.items[c].passed and not mark.items[c].reason.strip()]
        if set(codes) <= set(mark.items) and mark.passed != all(mark.items[c].passed for c in codes):
            problems.append({"bid": bid, "message": "a bid passes exactly when every review item does"})
    if problems:
        raise ApiError(ErrorCode.INVALID_INPUT, "every review item of every bid must be marked pass or fail, "
                                                "a fail with its reason", problems)


def tally_review(project: Project, sheets: Mapping[str, Mapping[str, ReviewMark]]) -> dict[str, ReviewOutcome]:
    """Rejection (否决) needs a majority of the evaluating members: more than half of them mark the bid failed."""
    n = len(sheets)
    out: dict[str, ReviewOutcome] = {}
    for bid in project.bids:
        fails = tuple(sorted((m, marks[bid.key].fail_reason(project)) for m, marks in sheets.items()
                             if not marks[bid.key].passed))
        out[bid.key] = ReviewOutcome(bid.key, passed=not (2 * len(fails) > n), fail_votes=len(fails), reasons=fails)
    return out


# --- scoring sheets ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sheet:
    member: str
    items: Mapping[str, Mapping[str, Decimal]]
    """bid key → criterion code → value."""
    stated: Mapping[str, Decimal] = field(default_factory=dict)
    """bid key → the subtotal the expert wrote down (optional)."""

    def subtotal(self, bid: str, part: str | None = None, project: Project | None = None) -> Decimal:
        values = self.items[bid]
        if part is None:
            return sum(values.values(), Decimal(0))
        assert project is not None
        return sum((values[c.code] for c in project.criteria if c.part == part), Decimal(0))


def validate_sheet(project: Project, bids: Iterable[str], sheet: Sheet) -> None:
    """What submit refuses outright (bad input changes nothing): a bid not under review, a missing or unknown
    item, a value outside its range or with more than two decimal places."""
    scope = set(bids)
    unknown = sorted(set(sheet.items) - scope)
    if unknown:
        raise ApiError(ErrorCode.UNKNOWN_BID, "the sheet scores bids that are not under review in this session",
                       [{"bid": k, "message": "not a bid under review"} for k in unknown])
    problems: list[dict[str, str]] = []
    codes = {c.code for c in project.criteria}
    for bid in sorted(scope):
        values = sheet.items.get(bid)
        if values is None:
            problems.append({"bid": bid, "message": "not scored"})
            continue
        problems += [{"bid": bid, "criterion": c, "message": "no such criterion"} for c in sorted(set(values) - codes)]
        problems += [{"bid": bid, "criterion": c.code, "message": "not scored"} for c in project.criteria
                     if c.code not in values]
        problems += [{"bid": bid, "criterion": c, "message": "at most two decimal places"}
                     for c, v in sorted(values.items()) if v.as_tuple().exponent < -2]  # type: ignore[operator]
    if problems:
        raise ApiError(ErrorCode.INVALID_INPUT, "the sheet is incomplete or malformed", problems)
    out = [{"bid": bid, "criterion": c.code, "value": str(sheet.items[bid][c.code]),
            "message": f"must be between {c.min} and {c.max}"}
           for bid in sorted(scope) for c in project.criteria if not c.min <= sheet.items[bid][c.code] <= c.max]
    if out:
        raise ApiError(ErrorCode.SCORE_OUT_OF_RANGE, "scores outside their criterion's range", out)


# --- price points ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PriceResult:
    benchmark: Decimal | None
    scores: Mapping[str, Decimal]


def price_scores(rule: PriceRule, bids: Sequence[Bid]) -> PriceResult:
    """Price points of the valid bids of one lot, rounded to two places."""
    if not bids:
        return PriceResult(None, {})
    prices = [b.price for b in bids]
    if rule.kind == "lowest_benchmark":
        benchmark = min(prices)
        return PriceResult(benchmark, {b.key: round2(_div(benchmark, b.price) * rule.points) for b in bids})
    kept = sorted(prices)
    if rule.drop_extremes_from is not None and len(kept) >= rule.drop_extremes_from:
        kept = kept[1:-1]
    benchmark = round2(_div(sum(kept, Decimal(0)), Decimal(len(kept))) * rule.coefficient)
    scores: dict[str, Decimal] = {}
    for b in bids:
        percent = _div((b.price - benchmark) * 100, benchmark)
        per = rule.deduct_above if percent > 0 else rule.deduct_below
        scores[b.key] = round2(max(Decimal(0), rule.points - per * abs(percent)))
    return PriceResult(benchmark, scores)


def evaluated_total(project: Project, sheet: Sheet, bid: Bid, price_points: Mapping[str, Decimal]) -> Decimal:
    """A member's total for a bid: scored items plus price points, or the evaluated price (price + adjustments)."""
    if project.method == COMPREHENSIVE:
        return sheet.subtotal(bid.key) + price_points.get(bid.key, Decimal(0))
    return bid.price + sheet.subtotal(bid.key)


# --- checks ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    member: str
    bid: str
    criterion: str | None
    kind: str
    detail: Mapping[str, str]

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What identifies a flag across re-checks: the same problem found again is the same flag."""
        return (self.member, self.bid, self.criterion or "", self.kind)


def _majority(values: Mapping[str, Decimal]) -> Decimal | None:
    counts = Counter(values.values()).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None
    return counts[0][0]


def check_sheets(project: Project, bids: Sequence[str], sheets: Sequence[Sheet]) -> list[Finding]:
    """Every finding of the four checks over the submitted sheets of the bids under review, in a stable order."""
    found: list[Finding] = []
    for s in sheets:
        for bid in bids:
            for c in project.criteria:
                v = s.items[bid][c.code]
                if not c.min <= v <= c.max:
                    found.append(Finding(s.member, bid, c.code, "out_of_range",
                                         {"value": str(v), "min": str(c.min), "max": str(c.max)}))
            if bid in s.stated and s.stated[bid] != s.subtotal(bid):
                found.append(Finding(s.member, bid, None, "arithmetic",
                                     {"stated": str(s.stated[bid]), "sum": str(s.subtotal(bid))}))
    for bid in bids:
        for c in project.criteria:
            if not c.objective:
                continue
            values = {s.member: s.items[bid][c.code] for s in sheets}
            if len(set(values.values())) < 2:
                continue
            majority = _majority(values)
            for member, v in values.items():
                if v != majority:
                    found.append(Finding(member, bid, c.code, "objective_mismatch",
                                         {"value": str(v), "majority": str(majority) if majority is not None else "",
                                          "values": ",".join(sorted({str(x) for x in values.values()}))}))
    if len(sheets) >= 3:
        found += _deviations(project, bids, sheets)
    order = {k: i for i, k in enumerate(CHECKS)}
    return sorted(found, key=lambda f: (f.member, f.bid, order[f.kind], f.criterion or ""))


def _deviations(project: Project, bids: Sequence[str], sheets: Sequence[Sheet]) -> list[Finding]:
    out: list[Finding] = []
    threshold = project.deviation_threshold
    for key in bids:
        bid = project.bid(key)
        assert bid is not None
        totals = {s.member: s.subtotal(key) if project.method == COMPREHENSIVE else bid.price + s.subtotal(key)
                  for s in sheets}
        for member, total in totals.items():
            peers = [v for m, v in totals.items() if m != member]
            # Compared exactly (|n·total − S| > threshold·|S|, S the peers' sum): a member exactly at the
            # threshold is within it, whatever the peers' mean looks like as a decimal.
            n, peer_sum = Decimal(len(peers)), sum(peers, Decimal(0))
            if peer_sum == 0:
                if total == 0:
                    continue
                shown = "inf"
            elif abs(n * total - peer_sum) <= threshold * abs(peer_sum):
                continue
            else:
                shown = str(round2(_div((n * total - peer_sum) * 100, peer_sum))) + "%"
            out.append(Finding(member, key, None, "deviation", {
                "total": str(total), "peers_mean": str(round2(_div(peer_sum, n))), "deviation": shown,
                "threshold": str(round2(threshold * 100)) + "%"}))
    return out


# --- aggregation and ranking -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResultRow:
    bid: Bid
    totals: Mapping[str, Decimal]
    """Each member's total for the bid (unrounded sums of two-place values, so exact)."""
    dropped: tuple[str, ...]
    final: Decimal
    parts: Mapping[str, Decimal]
    """Part means over the kept members, rounded: technical, commercial, and price (comprehensive only)."""
    rank: int = 0
    tie: bool = False
    """True when every tie-break left this bid level with another: the committee must decide (e.g. by lot)."""
    settled: bool = False
    """The committee settled this tie (:func:`settle`): the rank follows its order."""


def _trim(totals: Mapping[str, Decimal]) -> tuple[str, ...]:
    """The members whose totals are dropped: one highest and one lowest (ties by member id), from 5 on."""
    if len(totals) < TRIM_FROM:
        return ()
    ordered = sorted(totals, key=lambda m: (totals[m], m))
    return (ordered[0], ordered[-1])


def _mean(values: Iterable[Decimal]) -> Decimal:
    values = list(values)
    return _div(sum(values, Decimal(0)), Decimal(len(values)))


def aggregate(project: Project, lot: str, sheets: Sequence[Sheet], rejected: Iterable[str],
              price_points: Mapping[str, Decimal]) -> list[ResultRow]:
    """The ranked result rows of one lot's bids under review (rejected bids are left out)."""
    excluded = set(rejected)
    rows: list[ResultRow] = []
    for bid in project.bids_of(lot):
        if bid.key in excluded:
            continue
        totals = {s.member: evaluated_total(project, s, bid, price_points) for s in sheets}
        dropped = _trim(totals)
        kept = [s for s in sheets if s.member not in dropped]
        parts: dict[str, Decimal] = {}
        if project.method == COMPREHENSIVE:
            for part in ("technical", "commercial"):
                parts[part] = round2(_mean(s.subtotal(bid.key, part, project) for s in kept))
            parts["price"] = price_points.get(bid.key, Decimal(0))
        final = round2(_mean(totals[s.member] for s in kept))
        rows.append(ResultRow(bid, totals, dropped, final, parts))
    return rank(project, rows)


def _sort_key(project: Project, row: ResultRow) -> tuple[Decimal, ...]:
    """Smaller sorts first: the best final (highest score, or lowest evaluated price), then the tie-breaks."""
    first = -row.final if project.method == COMPREHENSIVE else row.final
    keys = [first]
    for rule in project.tie_break:
        match rule:
            case "lower_price":
                keys.append(row.bid.price)
            case "higher_technical":
                keys.append(-row.parts.get("technical", Decimal(0)))
            case "higher_commercial":
                keys.append(-row.parts.get("commercial", Decimal(0)))
    return tuple(keys)


def rank(project: Project, rows: Sequence[ResultRow]) -> list[ResultRow]:
    """Competition ranking (1, 1, 3): bids level after every tie-break share a rank and are marked ``tie``;
    among them the bidder code orders the list, only so that the output is deterministic."""
    keyed = sorted(((_sort_key(project, r), r.bid.bidder, r) for r in rows), key=lambda t: (t[0], t[1]))
    counts = Counter(k for k, _, _ in keyed)
    out: list[ResultRow] = []
    first: dict[tuple[Decimal, ...], int] = {}
    for i, (key, _, row) in enumerate(keyed):
        first.setdefault(key, i + 1)
        out.append(ResultRow(row.bid, row.totals, row.dropped, row.final, row.parts, rank=first[key],
                             tie=counts[key] > 1))
    return out


def tie_groups(rows: Sequence[ResultRow]) -> list[tuple[str, ...]]:
    """The bids level after every tie-break and not yet settled, group by group in rank order."""
    groups: dict[int, list[str]] = {}
    for row in rows:
        if row.tie and not row.settled:
            groups.setdefault(row.rank, []).append(row.bid.key)
    return [tuple(groups[r]) for r in sorted(groups)]


def open_ties(project: Project, rows: Sequence[ResultRow]) -> list[tuple[str, ...]]:
    """The unsettled ties that decide who is recommended or in which order: those ranked within the
    candidates. Until the committee settles them, the recommendation is not made."""
    ranks = {row.bid.key: row.rank for row in rows}
    return [group for group in tie_groups(rows) if ranks[group[0]] <= project.candidates]


def settle(rows: Sequence[ResultRow], settlements: Mapping[frozenset[str], Sequence[str]]) -> list[ResultRow]:
    """Apply the committee's settlements: a tie group whose bids are exactly a settlement's is ordered as the
    committee decided and ranked on from its shared rank (1, 1 → 1, 2). A settlement that no longer matches a
    group (the scores changed after a post-report correction) settles nothing: the tie is open again."""
    out = list(rows)
    for group in tie_groups(rows):
        order = settlements.get(frozenset(group))
        if order is None:
            continue
        at = [i for i, row in enumerate(out) if row.bid.key in group]
        by_key = {out[i].bid.key: out[i] for i in at}
        first = out[at[0]].rank
        for offset, (i, key) in enumerate(zip(at, order, strict=True)):
            out[i] = replace(by_key[key], rank=first + offset, settled=True)
    return out


def candidates(project: Project, rows: Sequence[ResultRow]) -> list[ResultRow]:
    """The recommended candidates: the first 1-3 (as configured) of the ranking."""
    return list(rows[: project.candidates])
