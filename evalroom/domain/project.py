"""A tender as the committee evaluates it: lots, bidders and their bids, the criteria, the method and rules.

The project file (format ``evalroom-project-v1``, docs/formats.md, JSON Schema in docs/project.schema.json)
is parsed into these frozen values by :func:`parse_project`, which reports *every* problem at once, each with
the JSON path of the offending field, and refuses the file as a whole (``import_rejected``). Amounts and
maxima are decimal strings in the file, never floats: a score of ``0.1`` must stay exactly 0.1.

A *bid* is one bidder's tender for one lot; its key is ``"LOT/BIDDER"`` (e.g. ``"L1/B2"``), stable across
sheets, flags and the report. Criteria form a tree in the file (parts → groups → items); only the leaves are
scored, and each leaf belongs to the part of its top-level ancestor: ``technical`` or ``commercial`` for
comprehensive scoring (the price part is computed from prices), ``adjustment`` for the lowest evaluated
price method (amounts in yuan added to the bid price for quantified deviations, which may be negative).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from evalroom.errors import ApiError, ErrorCode

__all__ = [
    "COMPREHENSIVE",
    "FORMAT",
    "LOWEST_PRICE",
    "TIE_BREAKS",
    "Bid",
    "Criterion",
    "PriceRule",
    "Project",
    "bid_key",
    "parse_project",
]

FORMAT = "evalroom-project-v1"
COMPREHENSIVE = "comprehensive"
"""综合评分法: technical + commercial points from the experts, price points from the price rule."""
LOWEST_PRICE = "lowest_price"
"""经评审的最低投标价法: the qualified bid with the lowest evaluated price (price + adjustments) wins."""
METHODS = (COMPREHENSIVE, LOWEST_PRICE)
PRICE_RULES = ("lowest_benchmark", "average_benchmark")
TIE_BREAKS = ("lower_price", "higher_technical", "higher_commercial")
"""Tie-break keys, applied in the configured order after the final score (or evaluated price)."""
PARTS = {COMPREHENSIVE: ("technical", "commercial"), LOWEST_PRICE: ("adjustment",)}
MAX_BIDS = 500
MAX_CRITERIA = 400
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_TOP_KEYS = frozenset({"format", "code", "name", "kind", "tenderer", "method", "bidders", "lots", "criteria",
                       "price_rule", "tie_break", "candidates", "deviation_threshold", "committee", "review_items"})
MAX_REVIEW_ITEMS = 60
REVIEW_KINDS = ("qualification", "compliance")
_CRITERION_KEYS = frozenset({"code", "name", "part", "max", "min", "objective", "children"})
_RULE_KEYS = {"lowest_benchmark": frozenset({"kind", "points"}),
              "average_benchmark": frozenset({"kind", "points", "coefficient", "drop_extremes_from", "deduct_above",
                                              "deduct_below"})}


def bid_key(lot: str, bidder: str) -> str:
    return f"{lot}/{bidder}"


@dataclass(frozen=True)
class Criterion:
    code: str
    name: str
    part: str
    max: Decimal
    min: Decimal
    objective: bool
    """Objective items (facts in the bid, such as certificates held) must get the same score from everyone."""
    path: tuple[str, ...]
    """Names of the groups above the item, top first: where it sits in the criteria tree."""


@dataclass(frozen=True)
class ReviewItem:
    """One pass-or-fail check of the qualification or compliance review (资格审查项, 符合性审查项), as the
    tender lists them: e.g. "营业执照" or "投标有效期". Every bid is checked against every item."""

    code: str
    name: str
    kind: str
    """``qualification`` (资格) or ``compliance`` (符合性)."""


@dataclass(frozen=True)
class Bid:
    key: str
    lot: str
    bidder: str
    price: Decimal


@dataclass(frozen=True)
class PriceRule:
    """How price points are computed (shared/domain.md, "Scoring").

    ``lowest_benchmark`` (87号令 Art. 55): benchmark = the lowest valid price; score = benchmark / price × points.
    ``average_benchmark`` (common in works): benchmark = mean of the valid prices × ``coefficient``, after
    dropping the highest and the lowest price when there are at least ``drop_extremes_from`` valid prices;
    ``deduct_above`` points are deducted per percent above the benchmark, ``deduct_below`` per percent below;
    never below zero.
    """

    kind: str
    points: Decimal
    coefficient: Decimal = Decimal(1)
    drop_extremes_from: int | None = None
    deduct_above: Decimal = Decimal(0)
    deduct_below: Decimal = Decimal(0)


@dataclass(frozen=True)
class Project:
    code: str
    name: str
    kind: str
    method: str
    tenderer: str
    lots: tuple[tuple[str, str], ...]
    """(code, name) of each lot, in file order."""
    bidders: Mapping[str, str]
    """Bidder code → name."""
    bids: tuple[Bid, ...]
    criteria: tuple[Criterion, ...]
    price_rule: PriceRule | None
    tie_break: tuple[str, ...]
    candidates: int
    deviation_threshold: Decimal
    committee_plan: Mapping[str, Any] | None
    """The committee plan (with the parties avoidance compares employers with) as the file gives it; the
    committee checks it (services/committee.py)."""
    review_items: tuple[ReviewItem, ...] = ()
    """The review's checks, item by item; none: each bid is passed or failed as a whole."""

    def bid(self, key: str) -> Bid | None:
        return next((b for b in self.bids if b.key == key), None)

    def bids_of(self, lot: str) -> tuple[Bid, ...]:
        return tuple(b for b in self.bids if b.lot == lot)

    @property
    def price_points(self) -> Decimal:
        return self.price_rule.points if self.price_rule else Decimal(0)


class _Problems:
    """Collects every problem of a file with the path of the field, so the author fixes them in one go."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, path: str, message: str) -> None:
        if len(self.items) < 200:
            self.items.append({"path": path, "message": message})

    def known(self, obj: Mapping[str, Any], path: str, keys: frozenset[str]) -> None:
        """Unknown fields are refused, not ignored: a misspelt ``candidate`` must not silently mean 3."""
        for key in sorted(set(obj) - keys):
            self.add(f"{path}.{key}", f"unknown field (expected some of {sorted(keys)})")

    def text(self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = True, limit: int = 200,
             code: bool = False) -> str:
        value = obj.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.add(f"{path}.{key}", "a non-empty string is required")
            return ""
        value = value.strip()
        if len(value) > limit:
            self.add(f"{path}.{key}", f"at most {limit} characters")
        if code and not _CODE.match(value):
            self.add(f"{path}.{key}", "a code is 1-32 letters, digits, '_', '.' or '-'")
        return value

    def amount(self, obj: Mapping[str, Any], key: str, path: str, *, default: Decimal | None = None,
               positive: bool = False, places: int = 2) -> Decimal:
        value = obj.get(key)
        if value is None and default is not None:
            return default
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            self.add(f"{path}.{key}", "a decimal string is required (e.g. \"12.50\"); floats are not accepted")
            return Decimal(0)
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            self.add(f"{path}.{key}", f"not a decimal number: {value!r}")
            return Decimal(0)
        if not number.is_finite():
            self.add(f"{path}.{key}", "must be a finite number")
            return Decimal(0)
        if number.as_tuple().exponent < -places:  # type: ignore[operator]
            self.add(f"{path}.{key}", f"at most {places} decimal places")
        if positive and number <= 0:
            self.add(f"{path}.{key}", "must be greater than zero")
        return number


def _obj(value: Any, path: str, problems: _Problems) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        problems.add(path, "an object is required")
        return {}
    return value


def _list(value: Any, path: str, problems: _Problems, *, limit: int) -> Sequence[Any]:
    if not isinstance(value, list) or not value:
        problems.add(path, "a non-empty list is required")
        return []
    if len(value) > limit:
        problems.add(path, f"at most {limit} entries")
        return value[:limit]
    return value


def _criteria(nodes: Sequence[Any], path: str, part: str | None, trail: tuple[str, ...], method: str,
              problems: _Problems, out: list[Criterion]) -> Decimal:
    """Flatten the tree into ``out``; returns the sum of the leaves' maxima under ``nodes``."""
    total = Decimal(0)
    for i, raw in enumerate(nodes):
        p = f"{path}[{i}]"
        node = _obj(raw, p, problems)
        problems.known(node, p, _CRITERION_KEYS)
        code = problems.text(node, "code", p, code=True)
        name = problems.text(node, "name", p)
        node_part = part
        if part is None:
            node_part = node.get("part")
            # With an unknown method the parts cannot be judged; $.method already says what is wrong.
            if method in PARTS and node_part not in PARTS[method]:
                problems.add(f"{p}.part", f"a top-level criterion needs a part in {list(PARTS[method])}")
        elif "part" in node and node["part"] != part:
            problems.add(f"{p}.part", f"differs from its parent's part {part!r}")
        children = node.get("children")
        if children is not None:
            sub = _criteria(_list(children, f"{p}.children", problems, limit=MAX_CRITERIA), f"{p}.children",
                            node_part, (*trail, name), method, problems, out)
            if "max" in node and problems.amount(node, "max", p) != sub:
                problems.add(f"{p}.max", f"the group's max must equal the sum of its items' maxima ({sub})")
            total += sub
            continue
        adjustment = node_part == "adjustment"
        top = problems.amount(node, "max", p, positive=not adjustment)
        low = problems.amount(node, "min", p, default=Decimal(0))
        if low > top:
            problems.add(f"{p}.min", "min must not exceed max")
        objective = node.get("objective", False)
        if not isinstance(objective, bool):
            problems.add(f"{p}.objective", "true or false")
        out.append(Criterion(code, name, str(node_part), top, low, objective is True, trail))
        total += top
    return total


def _price_rule(raw: Any, problems: _Problems) -> PriceRule | None:
    if not isinstance(raw, Mapping):
        problems.add("$.price_rule", "comprehensive scoring needs a price rule (an object with kind and points)")
        return None
    rule = raw
    kind = rule.get("kind")
    if kind not in PRICE_RULES:
        problems.add("$.price_rule.kind", f"one of {list(PRICE_RULES)}")
    else:
        problems.known(rule, "$.price_rule", _RULE_KEYS[kind])
    points = problems.amount(rule, "points", "$.price_rule", positive=True)
    if kind != "average_benchmark":
        return PriceRule(str(kind), points)
    drop = rule.get("drop_extremes_from")
    if drop is not None and (not isinstance(drop, int) or isinstance(drop, bool) or drop < 3):
        problems.add("$.price_rule.drop_extremes_from", "an integer of at least 3, or absent")
        drop = None
    coefficient = problems.amount(rule, "coefficient", "$.price_rule", default=Decimal(1), positive=True, places=4)
    return PriceRule("average_benchmark", points, coefficient, drop,
                     problems.amount(rule, "deduct_above", "$.price_rule", default=Decimal(0), places=4),
                     problems.amount(rule, "deduct_below", "$.price_rule", default=Decimal(0), places=4))


def parse_project(doc: Any) -> Project:
    """Parse and check a project file; raises ``import_rejected`` with every problem in ``details``."""
    problems = _Problems()
    top = _obj(doc, "$", problems)
    problems.known(top, "$", _TOP_KEYS)
    if top and top.get("format") != FORMAT:
        problems.add("$.format", f"must be {FORMAT!r}")
    code = problems.text(top, "code", "$", code=True)
    name = problems.text(top, "name", "$")
    kind = problems.text(top, "kind", "$", limit=32)
    tenderer = problems.text(top, "tenderer", "$")
    method = top.get("method")
    if method not in METHODS:
        problems.add("$.method", f"one of {list(METHODS)}")

    bidders: dict[str, str] = {}
    for i, raw in enumerate(_list(top.get("bidders"), "$.bidders", problems, limit=MAX_BIDS)):
        b = _obj(raw, f"$.bidders[{i}]", problems)
        problems.known(b, f"$.bidders[{i}]", frozenset({"code", "name"}))
        bcode = problems.text(b, "code", f"$.bidders[{i}]", code=True)
        if bcode in bidders:
            problems.add(f"$.bidders[{i}].code", f"bidder {bcode!r} is listed twice")
        bidders[bcode] = problems.text(b, "name", f"$.bidders[{i}]")

    lots: list[tuple[str, str]] = []
    bids: list[Bid] = []
    for i, raw in enumerate(_list(top.get("lots"), "$.lots", problems, limit=50)):
        p = f"$.lots[{i}]"
        lot = _obj(raw, p, problems)
        problems.known(lot, p, frozenset({"code", "name", "bids"}))
        lcode = problems.text(lot, "code", p, code=True)
        if any(lcode == c for c, _ in lots):
            problems.add(f"{p}.code", f"lot {lcode!r} is listed twice")
        lots.append((lcode, problems.text(lot, "name", p)))
        seen: set[str] = set()
        for j, braw in enumerate(_list(lot.get("bids"), f"{p}.bids", problems, limit=MAX_BIDS)):
            bp = f"{p}.bids[{j}]"
            bid = _obj(braw, bp, problems)
            problems.known(bid, bp, frozenset({"bidder", "price"}))
            bidder = problems.text(bid, "bidder", bp, code=True)
            if bidder and bidder not in bidders:
                problems.add(f"{bp}.bidder", f"no bidder {bidder!r} in $.bidders")
            if bidder in seen:
                problems.add(f"{bp}.bidder", f"bidder {bidder!r} bids twice for lot {lcode!r}")
            seen.add(bidder)
            bids.append(Bid(bid_key(lcode, bidder), lcode, bidder, problems.amount(bid, "price", bp, positive=True)))

    criteria: list[Criterion] = []
    nodes = _list(top.get("criteria"), "$.criteria", problems, limit=MAX_CRITERIA)
    _criteria(nodes, "$.criteria", None, (), str(method), problems, criteria)
    codes = [c.code for c in criteria]
    for dup in sorted({c for c in codes if codes.count(c) > 1}):
        problems.add("$.criteria", f"criterion code {dup!r} is used twice")
    if len(criteria) > MAX_CRITERIA:
        problems.add("$.criteria", f"at most {MAX_CRITERIA} scored items")

    price_rule = None
    if method == COMPREHENSIVE:
        price_rule = _price_rule(top.get("price_rule"), problems)
    elif method == LOWEST_PRICE and "price_rule" in top:
        problems.add("$.price_rule", "the lowest evaluated price method has no price points")

    tie_break = top.get("tie_break", ["lower_price"])
    if not isinstance(tie_break, list) or any(t not in TIE_BREAKS for t in tie_break) or \
            len(set(tie_break)) != len(tie_break):
        problems.add("$.tie_break", f"a list of distinct keys from {list(TIE_BREAKS)}")
        tie_break = []
    candidates = top.get("candidates", 3)
    if not isinstance(candidates, int) or isinstance(candidates, bool) or not 1 <= candidates <= 3:
        problems.add("$.candidates", "1, 2 or 3 recommended candidates")
        candidates = 1
    threshold = problems.amount(top, "deviation_threshold", "$", default=Decimal("0.30"), places=4)
    if not Decimal(0) < threshold < Decimal(10):
        problems.add("$.deviation_threshold", "a fraction greater than 0 (0.30 means ±30%)")
    plan = top.get("committee")
    if plan is not None and not isinstance(plan, Mapping):
        problems.add("$.committee", "an object (the committee plan) or absent")
    review_items: list[ReviewItem] = []
    if "review_items" in top:
        for i, raw in enumerate(_list(top.get("review_items"), "$.review_items", problems, limit=MAX_REVIEW_ITEMS)):
            p = f"$.review_items[{i}]"
            item = _obj(raw, p, problems)
            problems.known(item, p, frozenset({"code", "name", "kind"}))
            icode = problems.text(item, "code", p, code=True)
            if any(icode == r.code for r in review_items):
                problems.add(f"{p}.code", f"review item {icode!r} is listed twice")
            kind_ = item.get("kind", "qualification") if item else "qualification"
            if kind_ not in REVIEW_KINDS:
                problems.add(f"{p}.kind", f"one of {list(REVIEW_KINDS)}")
            review_items.append(ReviewItem(icode, problems.text(item, "name", p), str(kind_)))

    if problems.items:
        raise ApiError(ErrorCode.IMPORT_REJECTED, f"the project file has {len(problems.items)} problem(s); "
                       "nothing was imported", details=problems.items)
    return Project(code=code, name=name, kind=kind, method=str(method), tenderer=tenderer, lots=tuple(lots),
                   bidders=bidders, bids=tuple(bids), criteria=tuple(criteria), price_rule=price_rule,
                   tie_break=tuple(tie_break), candidates=candidates, deviation_threshold=threshold,
                   committee_plan=plan, review_items=tuple(review_items))
