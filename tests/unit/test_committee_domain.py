"""The committee domain core without a database, a network or a clock: identity numbers and organisation
names, the specialty tree, the size rules and plan checks, avoidance reasons, member states, the chair
election and the expert-file parser. (The draw itself: test_committee_draw.py.)"""

from __future__ import annotations

import itertools
import json
import tomllib
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from timebase import day, iso

import evalroom
from evalroom.domain.avoidance import (
    CreditStatus,
    ExpertFacts,
    ProjectFacts,
    Reason,
    reasons_to_exclude,
    screen,
)
from evalroom.domain.chair import RoundResult, check_vote, tally
from evalroom.domain.committee_rules import Plan, Quota, RuleTable, check_plan
from evalroom.domain.expert_rows import MAX_ERRORS, ExpertRow, parse_expert_file
from evalroom.domain.identity import (
    check_id_number,
    id_number_with_check,
    mask_id_number,
    organisation_key,
)
from evalroom.domain.members import (
    ACTIVE,
    VACANCIES,
    MemberAction,
    MemberState,
    next_member_state,
)
from evalroom.domain.specialties import Specialty, SpecialtyTree
from evalroom.errors import ApiError, ConflictError, ErrorCode

pytestmark = pytest.mark.dates

DATA = Path(evalroom.__file__).parent / "data"
TREE = SpecialtyTree.from_json(json.loads((DATA / "specialties.json").read_text(encoding="utf-8")))
RULES = RuleTable.from_mapping(tomllib.loads((DATA / "committee_rules.toml").read_text(encoding="utf-8")))


def idn(seq: int, born: str = "19900307", area: str = "110101") -> str:
    """A valid identity number (distinct for distinct ``seq`` < 1000)."""
    return id_number_with_check(f"{area}{born}{seq:03d}")


ID_X = next(idn(i) for i in range(1000) if idn(i).endswith("X"))
"""A valid number whose check character is X."""


def iso7064_mod_11_2(first17: str) -> str:
    """The check character by the standard's own formula, independently of evalroom's tables."""
    s = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    return "0123456789X"[(12 - s % 11) % 11]


# ---------------------------------------------------------------------------------------------------------
# Identity numbers
# ---------------------------------------------------------------------------------------------------------

def test_the_check_character_is_iso_7064_mod_11_2() -> None:
    # the worked example of GB 11643-1999 and a number whose check character is X
    assert id_number_with_check("11010519491231002") == "11010519491231002X"
    assert id_number_with_check("44052418800101001") == "440524188001010014"
    assert check_id_number("11010519491231002X") == "11010519491231002X"


@pytest.mark.parametrize("first17", ["11010119900307123", "31011519851231000", "44030620000229456",
                                     "65010219000101999", "11010519491231002"])
def test_a_valid_number_is_accepted_unchanged(first17: str) -> None:
    number = id_number_with_check(first17)
    assert len(number) == 18 and number.startswith(first17)
    assert check_id_number(number) == number
    assert check_id_number(f"  {number}\n") == number


def test_a_lowercase_x_is_accepted_and_canonicalised() -> None:
    number = id_number_with_check("11010519491231002")
    assert number.endswith("X")
    assert check_id_number(number[:17] + "x") == number


@pytest.mark.parametrize("value, message", [
    ("110101199003071234", "check digit"),
    ("11010519491231002Y", "18 characters"),
    ("11010519491231002", "18 characters"),
    ("1101011990030712345", "18 characters"),
    ("", "18 characters"),
    ("11010119900307123 ", "18 characters"),
    ("1101011990030712X3", "18 characters"),
    ("11010119800230123X", "not a date"),
    ("110101198013011230", "not a date"),
    ("110101199000071230", "not a date"),
    ("110101189912311230", "before 1900"),
])
def test_bad_numbers_are_refused_with_the_reason(value: str, message: str) -> None:
    assert check_id_number(id_number_with_check("11010119900307123")) == "110101199003071233"  # the valid neighbour
    with pytest.raises(ValueError, match=message):
        check_id_number(value)


def test_the_birth_date_is_checked_as_a_calendar_date() -> None:
    assert check_id_number(idn(1, born="20000229"))  # leap day
    assert check_id_number(idn(1, born="19000101"))
    with pytest.raises(ValueError, match="not a date"):
        check_id_number(id_number_with_check("11010119800230123"))  # 1980-02-30, with a correct check digit
    with pytest.raises(ValueError, match="not a date"):
        check_id_number(id_number_with_check("11010119000229123"))  # 1900 was no leap year


@pytest.mark.parametrize("value", [None, 110101199003071233, b"110101199003071233"])
def test_non_text_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="text"):
        check_id_number(value)


@pytest.mark.parametrize("first17", ["1101011990030712", "110101199003071234", "1101011990030712a", ""])
def test_id_number_with_check_wants_17_digits(first17: str) -> None:
    with pytest.raises(ValueError, match="17 digits"):
        id_number_with_check(first17)


valid_first17 = st.builds(
    lambda area, born, seq: f"{area:06d}{born:%Y%m%d}{seq:03d}",
    # any birth date from 1900 on: the check reads it as a calendar date, never against today
    st.integers(110000, 659999), st.dates(min_value=date(1900, 1, 1)), st.integers(0, 999))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_the_check_character_matches_the_standard_formula(first17: str) -> None:
    assert id_number_with_check(first17) == first17 + iso7064_mod_11_2(first17)


@settings(max_examples=200, deadline=None)
@given(valid_first17, st.data())
def test_any_single_character_error_is_caught(first17: str, data: st.DataObject) -> None:
    number = id_number_with_check(first17)
    assert check_id_number(number) == number
    pos = data.draw(st.integers(0, 17))
    wrong = data.draw(st.sampled_from([c for c in "0123456789X" if c != number[pos] and (pos == 17 or c != "X")]))
    with pytest.raises(ValueError):
        check_id_number(number[:pos] + wrong + number[pos + 1:])


@settings(max_examples=200, deadline=None)
@given(valid_first17, st.integers(0, 16))
def test_any_adjacent_transposition_is_caught(first17: str, pos: int) -> None:
    number = id_number_with_check(first17)
    swapped = number[:pos] + number[pos + 1] + number[pos] + number[pos + 2:]
    if swapped != number:
        with pytest.raises(ValueError):
            check_id_number(swapped)


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


def test_full_width_digits_are_canonicalised() -> None:
    """Typed with a Chinese input method: the same number, in its ASCII form (so it compares equal)."""
    number = id_number_with_check("11010119900307123")
    assert check_id_number(full_width(number[:17]) + number[17]) == number
    assert check_id_number("\u3000" + full_width(number) + "\u3000") == number
    assert check_id_number(full_width(ID_X[:17]) + "ｘ") == ID_X


@pytest.mark.parametrize("digits", ["٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९"])  # Arabic-Indic, Devanagari
def test_digits_of_other_scripts_are_refused(digits: str) -> None:
    number = id_number_with_check("11010119900307123")
    other = "".join(digits[int(c)] for c in number[:17]) + number[17]
    with pytest.raises(ValueError, match="18 characters"):
        check_id_number(other)
    with pytest.raises(ValueError, match="17 digits"):
        id_number_with_check(other[:17])


def test_masking_keeps_the_address_code_and_the_last_four() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"
    number = idn(7)
    masked = mask_id_number(number)
    assert len(masked) == 18 and masked[:6] == number[:6] and masked[-4:] == number[-4:]
    assert masked[6:14] == "*" * 8 and number[6:14] not in masked


# ---------------------------------------------------------------------------------------------------------
# Organisation names
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b", [
    ("北京 某某（集团）有限公司", "北京某某(集团)有限公司"),
    ("北京某某（集团）有限公司", "北京某某集团有限公司"),
    ("北京某某[集团]{分公司}", "北京某某集团分公司"),
    ("ACME Engineering Ltd.", "acme engineering ltd"),
    ("ＡＣＭＥ　Ｅｎｇｉｎｅｅｒｉｎｇ", "acme engineering"),
    ("某某·设计院", "某某设计院"),
    ("某某-设计_院/分院", "某某设计院分院"),
    ("  某某\t设计院\n", "某某设计院"),
    ("某某设计院，上海分院", "某某设计院,上海分院"),
    ("STRASSE GmbH", "straße gmbh"),
])
def test_organisation_names_that_are_the_same(a: str, b: str) -> None:
    assert organisation_key(a) == organisation_key(b)


@pytest.mark.parametrize("a, b", [
    ("北京某某有限公司", "北京某某集团有限公司"),
    ("某某设计院", "某某研究院"),
    ("Acme Ltd", "Acme Ltd 2"),
])
def test_organisation_names_that_differ(a: str, b: str) -> None:
    assert organisation_key(a) != organisation_key(b)


def test_organisation_key_is_idempotent() -> None:
    for name in ("北京 某某（集团）有限公司", "ＡＣＭＥ Ltd.", "某某·设计院"):
        assert organisation_key(organisation_key(name)) == organisation_key(name)
    assert organisation_key("北京 某某（集团）有限公司") == "北京某某集团有限公司"


# ---------------------------------------------------------------------------------------------------------
# The specialty tree
# ---------------------------------------------------------------------------------------------------------

def test_the_default_tree_loads() -> None:
    assert len(TREE) == 39
    assert all(code in TREE for code in ("A", "B", "C", "D", "A03", "A0301", "B04", "C04", "D03"))
    assert TREE.name("A0301") == "公路工程"
    assert TREE.ancestors_or_self("A0301") == ["A0301", "A03", "A"]
    assert TREE.ancestors_or_self("C") == ["C"]
    assert "Z9" not in TREE and 42 not in TREE


@pytest.mark.parametrize("requested, held, expected", [
    ("A03", ["A0301"], True),       # a descendant qualifies
    ("A", ["A0301"], True),         # at any depth
    ("A0301", ["A0301"], True),     # the node itself
    ("A0301", ["A03"], False),      # an ancestor does not
    ("A0301", ["A"], False),
    ("A0302", ["A0301"], False),    # nor a sibling
    ("B01", ["A0101"], False),      # nor another branch
    ("A03", ["B01", "A0301"], True),  # one held specialty is enough
    ("A03", [], False),
    ("A03", ["ZZ99"], False),       # unknown held codes are ignored...
    ("A03", ["ZZ99", "A0303"], True),  # ...without hiding the known ones
    ("ZZ99", ["A0301"], False),     # an unknown requested code: nobody qualifies
    ("ZZ99", ["ZZ99"], False),
])
def test_qualifies_means_that_node_or_below(requested: str, held: list[str], expected: bool) -> None:
    assert TREE.qualifies(requested, held) is expected


def test_unknown_lists_the_codes_not_in_the_tree_sorted_once() -> None:
    assert TREE.unknown(["A01", "Z2", "B9", "Z2", "D03"]) == ["B9", "Z2"]
    assert TREE.unknown([]) == []
    assert TREE.unknown({"A0101": 1, "Q": 2}) == ["Q"]


def test_from_json_builds_parents_from_the_nesting() -> None:
    tree = SpecialtyTree.from_json([{"code": "X", "name": "x", "children": [{"code": "X1", "name": "x1",
                                                                             "children": []}]},
                                    {"code": "Y", "name": "y"}])
    assert len(tree) == 3
    assert tree.ancestors_or_self("X1") == ["X1", "X"]
    assert tree.qualifies("X", ["X1"]) and not tree.qualifies("Y", ["X1"])
    assert len(SpecialtyTree.from_json(())) == 0


@pytest.mark.parametrize("data, message", [
    ([{"code": "X", "name": "x"}, {"code": "X", "name": "again"}], "appears twice"),
    ([{"code": "X", "name": "x", "children": [{"code": "Y", "name": "y"}]},
      {"code": "Z", "name": "z", "children": [{"code": "Y", "name": "y2"}]}], "appears twice"),
    ([{"code": "X", "name": "x", "children": [{"code": "X", "name": "self"}]}], "appears twice"),
    ([{"code": "X"}], "code, name, children"),
    ([{"name": "x"}], "code, name, children"),
    ([{"code": 1, "name": "x"}], "code, name, children"),
    ([{"code": "X", "name": None}], "code, name, children"),
    ([{"code": "X", "name": "x", "parent": "Y"}], "code, name, children"),
    (["X"], "code, name, children"),
    ([["X", "x"]], "code, name, children"),
    ([{"code": "X", "name": "x", "children": {"code": "Y", "name": "y"}}], "'children' must be a list"),
    ([{"code": "X", "name": "x", "children": None}], "'children' must be a list"),
    ({"code": "X", "name": "x"}, "code, name, children"),
])
def test_from_json_refuses_a_bad_tree(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SpecialtyTree.from_json(data)


def test_a_parent_must_be_in_the_tree() -> None:
    with pytest.raises(ValueError, match="unknown parent NOPE"):
        SpecialtyTree([Specialty("A", "a", None), Specialty("A1", "a1", "NOPE")])
    tree = SpecialtyTree([Specialty("A1", "a1", "A"), Specialty("A", "a", None)])  # order does not matter
    assert tree.qualifies("A", ["A1"])


# ---------------------------------------------------------------------------------------------------------
# The rule table
# ---------------------------------------------------------------------------------------------------------

def test_the_default_rule_table_loads() -> None:
    assert set(RULES.rules) == {"works", "water_works", "procurement", "negotiation"}
    assert all(r.expert_share == Fraction(2, 3) for r in RULES.rules.values())
    assert RULES.get("nope") is None


@pytest.mark.parametrize("project_type, budget, complex_project, least", [
    ("works", None, False, 5),
    ("works", Decimal(99999999999), True, 5),       # no budget or complexity rule for works
    ("water_works", None, False, 7),
    ("negotiation", None, False, 3),
    ("procurement", None, False, 5),
    ("procurement", Decimal("9999999.99"), False, 5),
    ("procurement", Decimal(10000000), False, 7),    # 10 million or more
    ("procurement", Decimal("10000000.00"), False, 7),
    ("procurement", Decimal(25000000), False, 7),
    ("procurement", Decimal(100), True, 7),          # complex
    ("procurement", None, True, 7),
    ("procurement", Decimal(50000000), True, 7),
])
def test_minimum_sizes(project_type: str, budget: Decimal | None, complex_project: bool, least: int) -> None:
    rule = RULES.get(project_type)
    assert rule is not None
    assert rule.minimum_for(budget, complex_project) == least


GOOD_RULE = {"name": "n", "minimum": 5, "expert_share": "2/3"}


@pytest.mark.parametrize("table, message", [
    ({}, "names no project type"),
    ({"x": 5}, "must be a table"),
    ({"x": {**GOOD_RULE, "maximum": 9}}, "unknown key"),
    ({"x": {k: v for k, v in GOOD_RULE.items() if k != "name"}}, "lacks 'name'"),
    ({"x": {k: v for k, v in GOOD_RULE.items() if k != "minimum"}}, "lacks 'minimum'"),
    ({"x": {k: v for k, v in GOOD_RULE.items() if k != "expert_share"}}, "lacks 'expert_share'"),
    ({"x": {**GOOD_RULE, "minimum": 0}}, "minimum must be positive"),
    ({"x": {**GOOD_RULE, "minimum": "five"}}, r"\[x\]"),
    ({"x": {**GOOD_RULE, "expert_share": "0"}}, "expert_share"),
    ({"x": {**GOOD_RULE, "expert_share": "3/2"}}, "expert_share"),
    ({"x": {**GOOD_RULE, "expert_share": "-1/3"}}, "expert_share"),
    ({"x": {**GOOD_RULE, "expert_share": "1/0"}}, r"\[x\]"),
    ({"x": {**GOOD_RULE, "expert_share": "two thirds"}}, r"\[x\]"),
    ({"x": {**GOOD_RULE, "large_budget_yuan": "10000000"}}, "go together"),
    ({"x": {**GOOD_RULE, "large_minimum": 7}}, "go together"),
    ({"x": {**GOOD_RULE, "large_budget_yuan": "lots", "large_minimum": 7}}, r"\[x\]"),
    ({"ok": GOOD_RULE, "bad": {**GOOD_RULE, "minimum": -3}}, r"\[bad\]"),
])
def test_a_bad_rule_table_is_refused(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RuleTable.from_mapping(table)


def test_a_custom_rule_table() -> None:
    rules = RuleTable.from_mapping({"x": {**GOOD_RULE, "expert_share": "3/4", "large_budget_yuan": 1000,
                                          "large_minimum": 9, "complex_minimum": 11}})
    rule = rules.get("x")
    assert rule is not None and rule.expert_share == Fraction(3, 4) and rule.large_budget_yuan == Decimal(1000)
    assert [rule.minimum_for(b, c) for b, c in [(None, False), (Decimal(999), False), (Decimal(1000), False),
                                                (Decimal(1000), True)]] == [5, 5, 9, 11]


@pytest.mark.parametrize("extra, message", [
    ({"complex_minimum": "7"}, "whole numbers"),
    ({"large_budget_yuan": "10000000", "large_minimum": "7"}, "whole numbers"),
    ({"minimum": "5"}, "whole numbers"),
    ({"minimum": 5.0}, "whole numbers"),
    ({"minimum": True}, "whole numbers"),
    ({"complex_minimum": 7.5}, "whole numbers"),
    ({"complex_minimum": 0}, "minimum must be positive"),
    ({"large_budget_yuan": "10000000", "large_minimum": -1}, "minimum must be positive"),
])
def test_a_non_integer_or_non_positive_minimum_is_refused_when_the_table_is_read(extra: dict[str, Any],
                                                                                 message: str) -> None:
    """Found with the table at start, not as a TypeError when a plan is checked."""
    with pytest.raises(ValueError, match=message) as info:
        RuleTable.from_mapping({"procurement": {**GOOD_RULE, **extra}})
    assert "[procurement]" in str(info.value)


# ---------------------------------------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------------------------------------

def q(venue: str, region: str, **mix: int) -> Quota:
    return Quota(venue, region, f"会场 {venue}", mix)


def plan(**kw: Any) -> Plan:
    base: dict[str, Any] = {"project_type": "procurement", "total": 5, "representatives": 1,
                            "quotas": (q("v1", "r1", A0301=2), q("v2", "r2", D01=2))}
    return Plan(**{**base, **kw})


def problems(p: Plan) -> list[dict[str, str]]:
    with pytest.raises(ApiError) as info:
        check_plan(p, RULES, TREE)
    exc = info.value
    assert exc.code is ErrorCode.INVALID_INPUT and exc.http_status == 422
    assert exc.details is not None
    assert all(set(d) == {"loc", "msg"} for d in exc.details)
    for d in exc.details:  # the message lists every problem too
        assert f"{d['loc']}: {d['msg']}" in exc.message
    return exc.details


@pytest.mark.parametrize("good", [
    plan(),
    plan(total=7, representatives=2, quotas=(q("v1", "r1", A0301=3), q("v2", "r2", D01=2)),
         budget_yuan=Decimal(20000000)),
    plan(project_type="negotiation", total=3, representatives=1, quotas=(q("v1", "r1", B=2),)),  # exactly 2/3
    plan(project_type="works", total=5, representatives=0, quotas=(q("v1", "r1", A01=3, D01=2),)),
    plan(exclude_home_region=True, home_region_id="r0"),
], ids=["procurement", "large", "negotiation-exactly-two-thirds", "works-no-representatives", "remote-only"])
def test_a_good_plan_passes(good: Plan) -> None:
    assert check_plan(good, RULES, TREE) is None


def test_an_even_committee_is_refused() -> None:
    found = problems(plan(total=6, representatives=2))
    assert [d["loc"] for d in found] == ["total"]
    assert "odd" in found[0]["msg"] and "6" in found[0]["msg"]


@pytest.mark.parametrize("p, least", [
    (plan(project_type="works", total=3, representatives=1, quotas=(q("v1", "r1", A01=2),)), 5),
    (plan(project_type="water_works", total=5), 7),
    (plan(budget_yuan=Decimal(10000000)), 7),
    (plan(complex_project=True), 7),
])
def test_a_committee_below_the_minimum_is_refused(p: Plan, least: int) -> None:
    found = problems(p)
    assert [d["loc"] for d in found] == ["total"]
    assert f"at least {least} members (got {p.total})" in found[0]["msg"]


def test_experts_must_be_two_thirds() -> None:
    found = problems(plan(total=5, representatives=2, quotas=(q("v1", "r1", A0301=3),)))
    assert [d["loc"] for d in found] == ["representatives"]
    assert "2/3" in found[0]["msg"] and "3 of 5" in found[0]["msg"]


@pytest.mark.parametrize("representatives", [5, 6, -1])
def test_representatives_must_be_fewer_than_the_members(representatives: int) -> None:
    found = problems(plan(representatives=representatives))
    assert "representatives" in [d["loc"] for d in found]
    assert any("fewer than the members" in d["msg"] for d in found)


@pytest.mark.parametrize("quotas, drawn", [
    ((q("v1", "r1", A0301=3), q("v2", "r2", D01=3)), 6),   # more than the expert seats
    ((q("v1", "r1", A0301=1), q("v2", "r2", D01=2)), 3),   # fewer
    ((), 0),
])
def test_the_quotas_must_add_up_to_the_expert_seats(quotas: tuple[Quota, ...], drawn: int) -> None:
    found = problems(plan(quotas=quotas))
    assert [d["loc"] for d in found] == ["quotas"]
    assert f"add up to {drawn} experts but the committee has 4 expert seats" in found[0]["msg"]


def test_an_unknown_specialty_is_named() -> None:
    found = problems(plan(quotas=(q("v1", "r1", A0301=2), q("v2", "r2", Z99=1, D01=1))))
    assert found == [{"loc": "quotas[1]", "msg": "会场 v2: unknown specialty Z99 (not in the classification)"}]


def test_a_venue_may_have_one_quota() -> None:
    found = problems(plan(quotas=(q("v1", "r1", A0301=2), q("v1", "r1", D01=2))))
    assert [d["loc"] for d in found] == ["quotas[1]"]
    assert "会场 v1 has two quotas" in found[0]["msg"]


@pytest.mark.parametrize("mix, message", [({}, "names no specialty"), ({"A0301": 2, "D01": 0}, "at least one")])
def test_every_quota_names_specialties_with_experts(mix: dict[str, int], message: str) -> None:
    found = problems(plan(quotas=(Quota("v1", "r1", "会场 v1", mix), q("v2", "r2", D01=2))))
    assert any(d["loc"] == "quotas[0]" and message in d["msg"] for d in found)


def test_a_remote_only_plan_may_not_draw_from_the_home_region() -> None:
    found = problems(plan(exclude_home_region=True, home_region_id="r2"))
    assert found == [{"loc": "quotas[1]", "msg": "会场 v2 draws from the project's own region, which this plan "
                                                 "excludes"}]
    assert check_plan(plan(exclude_home_region=False, home_region_id="r2"), RULES, TREE) is None


def test_an_unknown_project_type() -> None:
    found = problems(plan(project_type="lottery"))
    assert [d["loc"] for d in found] == ["project_type"]
    assert "'lottery'" in found[0]["msg"] and "procurement" in found[0]["msg"]


def test_every_problem_is_listed_at_once() -> None:
    bad = Plan(project_type="procurement", total=6, representatives=3, budget_yuan=Decimal(10000000),
               exclude_home_region=True, home_region_id="r1",
               quotas=(q("v1", "r1", A0301=4), q("v1", "r2", Z1=1, D01=0)))
    found = problems(bad)
    assert [d["loc"] for d in found] == ["total", "total", "representatives", "quotas", "quotas[0]", "quotas[1]",
                                         "quotas[1]", "quotas[1]"]
    msgs = " | ".join(d["msg"] for d in found)
    for fragment in ("odd", "at least 7", "3 of 6", "add up to 5 experts but the committee has 3", "draws from the project's own region",
                     "two quotas", "at least one expert", "unknown specialty Z1"):
        assert fragment in msgs


# ---------------------------------------------------------------------------------------------------------
# Avoidance
# ---------------------------------------------------------------------------------------------------------

DAY = day(0)  # the evaluation day
PROJECT = ProjectFacts(tenderer="某市交通运输局", authority="某市发展和改革委员会", supervisor="某市公共资源交易监督办公室",
                       bidders=("甲路桥（集团）有限公司", "乙建设有限公司"), home_region_id="home", evaluation_date=DAY,
                       exclude_home_region=True, same_tenderer_days=30)
CLEAN = ExpertFacts(expert_id="e1", region_id="away", employer="某大学", ties=("丙咨询有限公司",),
                    unavailable=((DAY - timedelta(days=10), DAY - timedelta(days=1)),
                                 (DAY + timedelta(days=1), DAY + timedelta(days=5))),
                    evaluations=(("某市交通运输局", DAY - timedelta(days=31)), ("别的招标人", DAY)))


def with_(**kw: Any) -> ExpertFacts:
    return replace(CLEAN, **kw)


def test_an_expert_with_no_issue_has_no_reason() -> None:
    assert reasons_to_exclude(CLEAN, PROJECT) == ()
    assert reasons_to_exclude(CLEAN, ProjectFacts("某市交通运输局", None, None, (), "home", DAY)) == ()


REASON_CASES = [
    (with_(employer="甲路桥(集团)有限公司"), PROJECT, Reason.EMPLOYED_BY_BIDDER),
    (with_(employer="乙建设 有限公司"), PROJECT, Reason.EMPLOYED_BY_BIDDER),
    (with_(ties=("丙咨询有限公司", "甲路桥 （集团） 有限公司")), PROJECT, Reason.TIED_TO_BIDDER),
    (with_(employer="某市交通运输局"), PROJECT, Reason.EMPLOYED_BY_TENDERER),
    (with_(ties=("某市 交通运输局",)), PROJECT, Reason.TIED_TO_TENDERER),
    (with_(employer="某市发展和改革委员会"), PROJECT, Reason.EMPLOYED_BY_AUTHORITY),
    (with_(employer="某市公共资源交易监督办公室"), PROJECT, Reason.EMPLOYED_BY_SUPERVISOR),
    (with_(punished=True), PROJECT, Reason.PUNISHED),
    (with_(credit_status=CreditStatus.SUSPENDED), PROJECT, Reason.SUSPENDED),
    (with_(credit_status=CreditStatus.BLACKLISTED), PROJECT, Reason.BLACKLISTED),
    (with_(region_id="home"), PROJECT, Reason.HOME_REGION),
    (with_(evaluations=(("某市交通运输局", DAY - timedelta(days=3)),)), PROJECT, Reason.RECENT_SAME_TENDERER),
    (with_(unavailable=((DAY, DAY),)), PROJECT, Reason.UNAVAILABLE),
    (CLEAN, replace(PROJECT, already_drawn=frozenset({"e1"})), Reason.ALREADY_DRAWN),
    (CLEAN, replace(PROJECT, engaged_elsewhere=frozenset({"e1"})), Reason.ENGAGED_ELSEWHERE),
]


@pytest.mark.parametrize("expert, project, reason", REASON_CASES)
def test_each_reason_alone(expert: ExpertFacts, project: ProjectFacts, reason: Reason) -> None:
    assert reasons_to_exclude(expert, project) == (reason,)


def test_every_reason_has_a_case() -> None:
    assert {r for _, _, r in REASON_CASES} == set(Reason)


def test_no_authority_or_supervisor_and_no_home_exclusion() -> None:
    project = replace(PROJECT, authority=None, supervisor=None, exclude_home_region=False)
    assert reasons_to_exclude(with_(employer="某市发展和改革委员会", region_id="home"), project) == ()
    assert reasons_to_exclude(with_(employer="某市公共资源交易监督办公室"), project) == ()
    assert reasons_to_exclude(with_(employer="（）"), replace(project, authority="", supervisor="")) == ()


@pytest.mark.parametrize("days_before, days, excluded", [
    (30, 30, True),    # the first day of the window
    (31, 30, False),   # the day before it
    (0, 30, True),     # the evaluation day itself
    (-1, 30, False),   # a later evaluation does not count
    (0, 0, False),     # no cooling period
    (1, 1, True),
    (2, 1, False),
])
def test_the_same_tenderer_window(days_before: int, days: int, excluded: bool) -> None:
    project = replace(PROJECT, same_tenderer_days=days)
    expert = with_(evaluations=(("某市 交通运输局", DAY - timedelta(days=days_before)),))
    assert (Reason.RECENT_SAME_TENDERER in reasons_to_exclude(expert, project)) is excluded
    other = with_(evaluations=(("别的招标人", DAY - timedelta(days=days_before)),))
    assert reasons_to_exclude(other, project) == ()


@pytest.mark.parametrize("start, end, excluded", [
    (0, 0, True), (-1, 0, True), (0, 2, True), (-5, 5, True),   # ranges are inclusive at both ends
    (-3, -1, False), (1, 4, False),
])
def test_unavailable_ranges_are_inclusive(start: int, end: int, excluded: bool) -> None:
    expert = with_(unavailable=((DAY + timedelta(days=start), DAY + timedelta(days=end)),))
    assert reasons_to_exclude(expert, PROJECT) == ((Reason.UNAVAILABLE,) if excluded else ())


def test_all_reasons_together_in_a_stable_order() -> None:
    worst = ExpertFacts(expert_id="e9", region_id="home", employer="乙建设有限公司",
                        credit_status=CreditStatus.BLACKLISTED, ties=("甲路桥（集团）有限公司", "某市交通运输局"),
                        punished=True, unavailable=((DAY, DAY),), evaluations=(("某市交通运输局", DAY),))
    project = replace(PROJECT, already_drawn=frozenset({"e9"}))
    assert reasons_to_exclude(worst, project) == (
        Reason.EMPLOYED_BY_BIDDER, Reason.TIED_TO_BIDDER, Reason.TIED_TO_TENDERER, Reason.PUNISHED,
        Reason.BLACKLISTED, Reason.HOME_REGION, Reason.RECENT_SAME_TENDERER, Reason.UNAVAILABLE,
        Reason.ALREADY_DRAWN)
    tenderer_staff = with_(employer="某市交通运输局")
    project2 = replace(PROJECT, authority="某市交通运输局", supervisor="某市交通运输局")
    assert reasons_to_exclude(tenderer_staff, project2) == (
        Reason.EMPLOYED_BY_TENDERER, Reason.EMPLOYED_BY_AUTHORITY, Reason.EMPLOYED_BY_SUPERVISOR)


def test_screen_splits_in_order_with_the_reasons() -> None:
    a, b, c, d = (with_(expert_id="a"), with_(expert_id="b", punished=True), with_(expert_id="c"),
                  with_(expert_id="d", region_id="home", credit_status=CreditStatus.SUSPENDED))
    eligible, excluded = screen(iter([c, b, a, d]), PROJECT)
    assert eligible == [c, a]
    assert excluded == {"b": (Reason.PUNISHED,), "d": (Reason.SUSPENDED, Reason.HOME_REGION)}
    assert screen([], PROJECT) == ([], {})


# ---------------------------------------------------------------------------------------------------------
# Member states
# ---------------------------------------------------------------------------------------------------------

S, A = MemberState, MemberAction
ALLOWED = {
    (S.DRAWN, A.CHECK_IN): S.CHECKED_IN,
    (S.DRAWN, A.DECLINE): S.DECLINED,
    (S.DRAWN, A.NO_SHOW): S.NO_SHOW,
    (S.DRAWN, A.VOID): S.VOIDED,
    (S.CHECKED_IN, A.DECLARE_NO_CONFLICT): S.SEATED,
    (S.CHECKED_IN, A.DECLARE_CONFLICT): S.RECUSED,
    (S.CHECKED_IN, A.VOID): S.VOIDED,
    (S.SEATED, A.VOID): S.VOIDED,
}


@pytest.mark.parametrize("state, action", list(ALLOWED))
def test_each_allowed_transition(state: MemberState, action: MemberAction) -> None:
    assert next_member_state(state, action) is ALLOWED[(state, action)]


@pytest.mark.parametrize("state, action", [(s, a) for s, a in itertools.product(S, A) if (s, a) not in ALLOWED])
def test_every_other_transition_is_a_conflict(state: MemberState, action: MemberAction) -> None:
    with pytest.raises(ConflictError) as info:
        next_member_state(state, action)
    assert info.value.code is ErrorCode.CONFLICT
    assert info.value.message == f"a member who is {state.value} cannot {action.value.replace('_', ' ')}"


def test_vacancies_and_active_states() -> None:
    assert ACTIVE == {S.DRAWN, S.CHECKED_IN, S.SEATED}
    assert VACANCIES == {S.DECLINED, S.NO_SHOW, S.RECUSED, S.VOIDED}
    assert ACTIVE | VACANCIES == set(S) and not ACTIVE & VACANCIES
    for s in VACANCIES:  # a vacancy is final
        assert all((s, a) not in ALLOWED for a in A)


# ---------------------------------------------------------------------------------------------------------
# Electing the chair
# ---------------------------------------------------------------------------------------------------------

def test_one_member_with_the_most_votes_is_the_chair() -> None:
    result = tally(["a", "b", "c"], {"a": "b", "b": "b", "c": "a"})
    assert result == RoundResult({"a": 1, "b": 2, "c": 0}, "b", ())


def test_a_tie_gives_the_tied_sorted() -> None:
    result = tally(["c", "b", "a", "d"], {"a": "c", "b": "a", "c": "a", "d": "c", "e": "d"})
    assert result.chair is None
    assert result.tied == ("a", "c")
    assert result.counts == {"a": 2, "b": 0, "c": 2, "d": 1}


def test_candidates_without_votes_are_counted() -> None:
    result = tally(["x", "y", "z"], {"x": "x"})
    assert result.counts == {"x": 1, "y": 0, "z": 0}
    assert result.chair == "x"
    nobody = tally(["x", "y"], {})
    assert nobody.chair is None and nobody.tied == ("x", "y") and nobody.counts == {"x": 0, "y": 0}


def test_a_member_may_vote_for_themself() -> None:
    check_vote("a", "a", voters={"a", "b"}, candidates={"a", "b"}, votes={})
    assert tally(["a", "b"], {"a": "a", "b": "a"}).chair == "a"


def test_check_vote_errors() -> None:
    kw: dict[str, Any] = {"voters": {"a", "b", "c"}, "candidates": {"a", "b"}, "votes": {"a": "b"}}
    assert check_vote("b", "a", **kw) is None
    with pytest.raises(ConflictError, match="only a seated member"):
        check_vote("z", "a", **kw)
    with pytest.raises(ConflictError, match="already voted"):
        check_vote("a", "a", **kw)
    with pytest.raises(ApiError) as info:
        check_vote("c", "c", **kw)  # a voter who does not stand in this round
    assert info.value.code is ErrorCode.INVALID_INPUT and not isinstance(info.value, ConflictError)


# ---------------------------------------------------------------------------------------------------------
# Expert files
# ---------------------------------------------------------------------------------------------------------

def rejected(data: bytes, fmt: str) -> ApiError:
    with pytest.raises(ApiError) as info:
        parse_expert_file(data, fmt, TREE)
    assert info.value.code is ErrorCode.IMPORT_REJECTED and info.value.http_status == 422
    return info.value


def errors_of(data: bytes, fmt: str) -> list[tuple[int, str, str]]:
    exc = rejected(data, fmt)
    assert exc.details is not None
    assert all(set(d) == {"row", "field", "code", "message"} for d in exc.details)
    assert f"row {exc.details[0]['row']}, {exc.details[0]['message']}" in exc.message
    return [(d["row"], d["field"], d["code"]) for d in exc.details]


def csv_bytes(*lines: str, bom: bool = False) -> bytes:
    return (("\ufeff" if bom else "") + "\r\n".join(lines) + "\r\n").encode("utf-8")


HEADER_EN = "name,id_number,employer,specialties"


def test_a_csv_file_with_chinese_headers_and_a_bom() -> None:
    data = csv_bytes(
        "姓名,身份证号码,工作单位,评标专业,专家编号,数字证书,信用状态,曾受处罚,利害关系单位,不可参评日期,近期评标",
        f"张三,{idn(1)},某大学,A0301;D01,E-001,CN=CA;SN=01,正常,否,甲公司；乙公司,"
        f"{iso(10)}..{iso(12)};{iso(33)},{iso(-51)}:某市交通运输局",
        f" 李四 ,{ID_X.lower()},某设计院,B01；B0101 ; A,,,suspended,是,,,",
        f"王五,{idn(3)},某研究所,C01,,,黑名单,yes,,,",
        "", ",,,",  # blank lines are skipped
        bom=True)
    rows = parse_expert_file(data, "csv", TREE)
    assert rows[0] == ExpertRow(
        row=1, name="张三", id_number=idn(1), employer="某大学", specialties=("A0301", "D01"), code="E-001",
        certificate="CN=CA;SN=01", credit_status=CreditStatus.ACTIVE, punished=False, ties=("甲公司", "乙公司"),
        unavailable=((day(10), day(12)), (day(33), day(33))), evaluations=(("某市交通运输局", day(-51)),),
        given=frozenset({"name", "id_number", "employer", "specialties", "code", "certificate", "credit_status",
                         "punished", "ties", "unavailable", "evaluations"}))
    assert rows[1].name == "李四" and rows[1].id_number == ID_X
    assert rows[1].specialties == ("A", "B01", "B0101")
    assert rows[1].credit_status is CreditStatus.SUSPENDED and rows[1].punished is True
    assert (rows[1].code, rows[1].certificate, rows[1].ties, rows[1].unavailable) == (None, None, (), ())
    # empty cells are not given: an update from this file leaves those fields as they are
    assert rows[1].given == {"name", "id_number", "employer", "specialties", "credit_status", "punished"}
    assert rows[2].credit_status is CreditStatus.BLACKLISTED and rows[2].punished is True
    assert [r.row for r in rows] == [1, 2, 3]


@pytest.mark.parametrize("text, value", [("是", True), ("否", False), ("YES", True), ("no", False), ("True", True),
                                         ("false", False), ("1", True), ("0", False), (" 是 ", True)])
def test_yes_no_values(text: str, value: bool) -> None:
    rows = parse_expert_file(csv_bytes(HEADER_EN + ",punished", f"a,{idn(1)},b,A,{text}"), "csv", TREE)
    assert rows[0].punished is value


def test_english_headers_and_credit_aliases() -> None:
    rows = parse_expert_file(csv_bytes(" name , id_number,employer,specialties,credit_status",
                                       f"a,{idn(1)},b,A,暂停", f"c,{idn(2)},d,A,active"), "csv", TREE)
    assert [r.credit_status for r in rows] == [CreditStatus.SUSPENDED, CreditStatus.ACTIVE]


def test_a_json_file() -> None:
    data = json.dumps([
        {"name": "张三", "id_number": idn(1), "employer": "某大学", "specialties": ["D01", "A0301", "D01"],
         "punished": False, "credit_status": "blacklisted", "ties": ["甲公司"],
         "unavailable": [{"from": iso(10), "to": iso(11)}, f"{iso(33)}..{iso(34)}", iso(40)],
         "evaluations": [{"date": iso(-51), "tenderer": "某局"}, f"{iso(-81)}:某院"]},
        {"name": "李四", "id_number": idn(2).lower(), "employer": "某院", "specialties": "A;B", "punished": "是",
         "code": None, "ties": []},
    ], ensure_ascii=False).encode()
    rows = parse_expert_file(data, "json", TREE)
    assert rows[0].specialties == ("A0301", "D01")
    assert rows[0].credit_status is CreditStatus.BLACKLISTED
    assert rows[0].unavailable == ((day(10), day(11)), (day(33), day(34)), (day(40), day(40)))
    assert rows[0].evaluations == (("某局", day(-51)), ("某院", day(-81)))
    assert rows[1].specialties == ("A", "B") and rows[1].punished is True and rows[1].code is None
    assert rows[1].id_number == idn(2)
    # null is "not given"; an empty list is given (it clears the ties)
    assert rows[1].given == {"name", "id_number", "employer", "specialties", "punished", "ties"}
    assert rows[0].given == {"name", "id_number", "employer", "specialties", "punished", "credit_status", "ties",
                             "unavailable", "evaluations"}


def test_duplicate_identity_numbers() -> None:
    found = errors_of(csv_bytes(HEADER_EN, f"a,{idn(1)},b,A", f"c,{idn(2)},d,A", f"e,{idn(1)},f,A"), "csv")
    assert found == [(3, "id_number", "duplicate")]
    exc = rejected(csv_bytes(HEADER_EN, f"a,{idn(1)},b,A", f"e,{idn(1)},f,A"), "csv")
    assert exc.details is not None and "the same id_number as row 1" in exc.details[0]["message"]


def test_duplicate_identity_numbers_when_the_other_row_is_bad_too() -> None:
    # the first row is invalid otherwise (no name), the second is the duplicate
    found = errors_of(csv_bytes(HEADER_EN, f",{idn(1)},b,A", f"c,{idn(1)},d,A"), "csv")
    assert sorted(found) == [(1, "name", "missing"), (2, "id_number", "duplicate")]
    # the duplicate row itself is bad too (unknown specialty)
    found = errors_of(csv_bytes(HEADER_EN, f"a,{idn(1)},b,A", f"c,{idn(1)},d,ZZ"), "csv")
    assert sorted(found) == [(2, "id_number", "duplicate"), (2, "specialties", "unknown_specialty")]


def test_a_lower_case_x_duplicates_an_upper_case_one() -> None:
    number = id_number_with_check("11010519491231002")
    found = errors_of(csv_bytes(HEADER_EN, f"a,{number},b,A", f"c,{number.lower()},d,A"), "csv")
    assert found == [(2, "id_number", "duplicate")]


def test_duplicate_codes() -> None:
    found = errors_of(csv_bytes(HEADER_EN + ",code", f"a,{idn(1)},b,A,E1", f"c,{idn(2)},d,A,E2",
                                f"e,{idn(3)},f,A, E1 "), "csv")
    assert found == [(3, "code", "duplicate")]


@pytest.mark.parametrize("cells, expected", [
    (f"a,{idn(1)[:17]}{'1' if idn(1)[17] == '0' else '0'},b,A", ("id_number", "invalid")),  # check digit
    ("a,11010119800230123X,b,A", ("id_number", "invalid")),
    (f"a,{idn(1)},b,ZZ9", ("specialties", "unknown_specialty")),
    (f"a,{idn(1)},b,;", ("specialties", "missing")),
    (f",{idn(1)},b,A", ("name", "missing")),
    ("a,,b,A", ("id_number", "missing")),
    (f"a,{idn(1)}, ,A", ("employer", "invalid")),
    (f"a,{idn(1)},b,", ("specialties", "missing")),
])
def test_row_errors(cells: str, expected: tuple[str, str]) -> None:
    found = errors_of(csv_bytes(HEADER_EN, f"ok,{idn(9)},b,A", cells), "csv")
    assert found == [(2, *expected)]


@pytest.mark.parametrize("extra, value, code", [
    ("credit_status", "revoked", "invalid"),
    ("punished", "maybe", "invalid"),
    ("unavailable", f"{iso(12)}..{iso(10)}", "invalid"),  # ends before it starts
    ("unavailable", "2026-13-01", "invalid"),  # month 13
    ("evaluations", "某局", "invalid"),
    ("evaluations", f"{iso(-51)}:", "invalid"),
    ("code", "x" * 33, "invalid"),
])
def test_optional_field_errors(extra: str, value: str, code: str) -> None:
    found = errors_of(csv_bytes(f"{HEADER_EN},{extra}", f"a,{idn(1)},b,A,{value}"), "csv")
    assert found == [(1, extra, code)]


def test_all_errors_of_a_row_and_of_the_file_at_once() -> None:
    found = errors_of(csv_bytes(HEADER_EN + ",punished", ",123,,ZZ,maybe", f"b,{idn(2)},c,A,否",
                                f"d,{idn(3)},e,Q1;Q2,"), "csv")
    assert found == [(1, "name", "missing"), (1, "id_number", "invalid"), (1, "employer", "missing"),
                     (1, "punished", "invalid"), (1, "specialties", "unknown_specialty"),
                     (3, "specialties", "unknown_specialty"), (3, "specialties", "unknown_specialty")]


def test_an_identity_number_is_never_echoed_in_the_errors() -> None:
    bad = idn(1)[:17] + ("1" if idn(1)[17] == "0" else "0")
    exc = rejected(csv_bytes(HEADER_EN, f"a,{bad},b,A", f"c,{idn(2)},d,A", f"e,{idn(2)},f,A"), "csv")
    assert exc.details is not None and len(exc.details) == 2
    text = exc.message + json.dumps(exc.details, ensure_ascii=False)
    assert bad not in text and idn(2) not in text and bad[:14] not in text


def test_a_row_with_the_wrong_number_of_cells() -> None:
    found = errors_of(csv_bytes(HEADER_EN, f"a,{idn(1)},b,A", "only,three,cells", f"c,{idn(2)},d,A,extra"), "csv")
    assert found == [(2, "*", "invalid"), (3, "*", "invalid")]


def test_row_numbers_count_blank_lines_so_they_point_at_the_line() -> None:
    found = errors_of(csv_bytes(HEADER_EN, f"a,{idn(1)},b,A", "", "only,three,cells", "c,123,d,A"), "csv")
    assert found == [(3, "*", "invalid"), (4, "id_number", "invalid")]
    found = errors_of(csv_bytes(HEADER_EN, "", f"a,{idn(1)},b,A", " , , , ", f"c,{idn(1)},d,A"), "csv")
    assert found == [(4, "id_number", "duplicate")]
    exc = rejected(csv_bytes(HEADER_EN, "", f"a,{idn(1)},b,A", " , , , ", f"c,{idn(1)},d,A"), "csv")
    assert exc.details is not None and "the same id_number as row 2" in exc.details[0]["message"]
    rows = parse_expert_file(csv_bytes(HEADER_EN, "", f"a,{idn(1)},b,A", "", f"c,{idn(2)},d,A"), "csv", TREE)
    assert [r.row for r in rows] == [2, 4]


def test_a_file_of_only_bad_rows_reports_them() -> None:
    found = errors_of(csv_bytes(HEADER_EN, "only,three,cells"), "csv")
    assert found == [(1, "*", "invalid")]


def test_an_unknown_csv_column() -> None:
    exc = rejected(csv_bytes(HEADER_EN + ",age", f"a,{idn(1)},b,A,40"), "csv")
    assert "unknown CSV column 'age'" in exc.message and exc.details is None


def test_a_csv_column_twice() -> None:
    exc = rejected(csv_bytes("name,姓名,id_number,employer,specialties", f"a,a,{idn(1)},b,A"), "csv")
    assert "appears twice" in exc.message


def test_an_unknown_json_field() -> None:
    data = json.dumps([{"name": "a", "id_number": idn(1), "employer": "b", "specialties": ["A"]},
                       {"name": "c", "id_number": idn(2), "employer": "d", "specialties": ["A"], "age": 40,
                        "姓名": "c"}]).encode()
    assert errors_of(data, "json") == [(2, "age", "unknown_field"), (2, "姓名", "unknown_field")]


@pytest.mark.parametrize("item, fld", [
    ({"specialties": "A", "name": 5}, "name"),
    ({"specialties": [1]}, "specialties"),
    ({"specialties": "A", "punished": 1}, "punished"),
    ({"specialties": "A", "unavailable": {"from": iso(0)}}, "unavailable"),
    ({"specialties": "A", "unavailable": [{"from": iso(0)}]}, "unavailable"),
    ({"specialties": "A", "evaluations": [{"date": iso(0), "tenderer": ""}]}, "evaluations"),
    ({"specialties": "A", "id_number": 110101199003071233}, "id_number"),
])
def test_json_type_errors(item: dict[str, Any], fld: str) -> None:
    data = json.dumps([{"name": "a", "id_number": idn(1), "employer": "b", **item}]).encode()
    assert errors_of(data, "json") == [(1, fld, "invalid")]


@pytest.mark.parametrize("data, fmt, message", [
    (b"", "csv", "empty"),
    (csv_bytes(HEADER_EN), "csv", "lists no experts"),
    (csv_bytes(HEADER_EN, "", ""), "csv", "lists no experts"),
    (b"[]", "json", "lists no experts"),
    (b"\xef\xbb\xbf", "csv", "empty"),
    (b"{}", "json", "list of objects"),
    (b"[1, 2]", "json", "list of objects"),
    (b"[{", "json", "not valid JSON"),
    ("姓名,身份证号码,工作单位,评标专业\n张三".encode("gbk"), "csv", "not UTF-8"),
    (b"\xff\xfen\x00a\x00", "json", "not UTF-8"),
    (csv_bytes(HEADER_EN), "xlsx", "unknown format"),
])
def test_files_rejected_as_a_whole(data: bytes, fmt: str, message: str) -> None:
    exc = rejected(data, fmt)
    assert message in exc.message and exc.details is None


def test_a_file_with_more_errors_than_are_reported() -> None:
    lines = [HEADER_EN] + [f",{idn(i)},b,A" for i in range(MAX_ERRORS + 1)]  # each row lacks its name
    exc = rejected(csv_bytes(*lines), "csv")
    assert exc.details is not None and len(exc.details) == MAX_ERRORS
    assert f"{MAX_ERRORS}+ error(s)" in exc.message


def test_exactly_max_errors_are_not_reported_as_more() -> None:
    lines = [HEADER_EN] + [f",{idn(i)},b,A" for i in range(MAX_ERRORS)]
    exc = rejected(csv_bytes(*lines), "csv")
    assert exc.details is not None and len(exc.details) == MAX_ERRORS
    assert f"nothing was imported: {MAX_ERRORS} error(s)" in exc.message


def test_the_error_list_is_capped() -> None:
    # rows with an invalid value (not a missing one) stay on the ApiError path past the cap
    lines = [HEADER_EN] + [f"a,{idn(i)},b,ZZ" for i in range(MAX_ERRORS + 5)]
    exc = rejected(csv_bytes(*lines), "csv")
    assert exc.details is not None and len(exc.details) == MAX_ERRORS
    assert [d["row"] for d in exc.details] == list(range(1, MAX_ERRORS + 1))
    assert f"nothing was imported: {MAX_ERRORS}+ error(s)" in exc.message


def test_a_tree_with_a_cycle_is_refused() -> None:
    with pytest.raises(ValueError, match="its own ancestor"):
        SpecialtyTree([Specialty("A", "a", "B"), Specialty("B", "b", "A")])
    with pytest.raises(ValueError, match="its own ancestor"):
        SpecialtyTree([Specialty("A", "a", "A")])
