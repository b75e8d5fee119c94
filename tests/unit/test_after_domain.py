"""After the session, the rules alone (evalroom.domain.fees, publication, ratings): no database, no clock.
Every figure and date below was computed by hand.

Dates are days of the suite's week (tests/timebase.py; ``day(0)`` is a Saturday): Sun day(1), Mon day(2),
Tue day(3), Wed day(4), Thu day(5), Fri day(6), Sat day(7), Sun day(8), Mon day(9), Tue day(10), Wed day(11),
Thu day(12), Fri day(13). ``CAL`` makes Tuesday day(3) a (made-up) holiday.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from timebase import beijing, day, iso

from evalroom.domain.avoidance import CreditStatus
from evalroom.domain.fees import (
    ExpertTime,
    FeePayer,
    FeeTable,
    FeeTables,
    batches,
    fee_line,
    fee_under,
    load_fee_tables,
    worked_minutes,
)
from evalroom.domain.publication import objection_deadline, publication_deadlines
from evalroom.domain.ratings import Rater, check_open, check_score, credit_after, rating_due
from evalroom.domain.workdays import Due, WorkCalendar
from evalroom.errors import ApiError, ConfigError, ErrorCode

pytestmark = pytest.mark.dates

TZ = "Asia/Shanghai"
CAL = WorkCalendar(holidays=frozenset({day(3)}))
SD = FeeTable(code="SD-2026", region="SD", name="山东", base_fee=Decimal("800.00"), base_hours=4,
              extra_per_hour=Decimal("100.00"), travel=Decimal("50.00"), cap=Decimal("1500.00"))
SX = FeeTable(code="SX-2026", region="SX", name="陕西", base_fee=Decimal("700.00"), base_hours=4,
              extra_per_hour=Decimal("150.00"), travel=Decimal("80.00"))
TABLES = FeeTables((SD, SX))


# --- fees ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("minutes", "hours", "amount"), [
    (0, 0, "850.00"), (239, 0, "850.00"), (240, 0, "850.00"),  # within the base: 800 + travel 50
    (241, 1, "950.00"),  # one minute over is a started hour: 800 + 100 + 50
    (370, 3, "1150.00"),  # 6 h 10 min: 130 min over, 3 started hours
    (600, 6, "1450.00"),  # 800 + 600 = 1400, under the cap
    (840, 10, "1550.00"),  # 800 + 1000 = 1800, capped at 1500, + 50
])
def test_a_table_pays_base_started_hours_cap_and_travel(minutes: int, hours: int, amount: str) -> None:
    fee = fee_under(SD, minutes)
    assert (fee.overtime_hours, fee.amount) == (hours, Decimal(amount))
    assert fee.base + fee.overtime_paid + fee.travel == fee.amount  # the columns add up, cap or not


def test_the_cap_is_explained_and_the_overtime_paid_is_what_the_cap_leaves() -> None:
    fee = fee_under(SD, 840)
    assert fee.capped and fee.overtime == Decimal("1000.00") and fee.overtime_paid == Decimal("700.00")
    assert fee.explain() == "基本费 800.00 (≤4 h) + 超时 10 h × 100.00 = 1000.00，封顶 1500.00 + 交通 50.00 = 1550.00"


def test_amounts_are_exact_decimals() -> None:
    odd = FeeTable(code="X-1", region="X", name="x", base_fee=Decimal("812.50"), base_hours=2,
                   extra_per_hour=Decimal("37.35"), travel=Decimal("12.30"))
    # 812.50 + 3 × 37.35 (= 112.05) + 12.30 = 936.85; in binary floats 3 * 37.35 is 112.05000000000001
    assert fee_under(odd, 121 + 120).amount == Decimal("936.85")
    assert str(fee_under(odd, 241).amount) == "936.85"


def test_worked_minutes_drop_the_seconds() -> None:
    assert worked_minutes(beijing(1, 8, 30), beijing(1, 14, 40) + timedelta(seconds=59)) == 370
    with pytest.raises(ValueError, match="before the start"):
        worked_minutes(beijing(1, 9), beijing(1, 8))


def _time(region: str, venue: str, checked_in: datetime, member: str = "m1") -> ExpertTime:
    return ExpertTime(member_id=member, expert_id=f"e-{member}", name=f"专家{member}", pool_code=None, region=region,
                      venue_id=venue, checked_in_at=checked_in, ended_at=beijing(1, 14, 40))


def test_pay_the_higher_picks_the_guest_table_on_a_long_day_and_the_host_table_on_a_short_one() -> None:
    # 6 h: SD 800 + 2 × 100 + 50 = 1050; SX 700 + 2 × 150 + 80 = 1080: the expert's own (guest) table
    long_day = fee_line(_time("SX", "guest", beijing(1, 8, 40)), TABLES, "SD", "host")
    assert (long_day.fee.table.code, long_day.fee.amount, long_day.other.amount) == (
        "SX-2026", Decimal("1080.00"), Decimal("1050.00"))
    assert long_day.basis == ("时长 6 h 00 min: 基本费 700.00 (≤4 h) + 超时 2 h × 150.00 = 300.00 + 交通 80.00 = "
                              "1080.00; 就高: 副场表 SX-2026 1080.00 高于 主场表 SD-2026 1050.00")
    # 4 h: SD 800 + 50 = 850; SX 700 + 80 = 780: the host's table
    short_day = fee_line(_time("SX", "guest", beijing(1, 10, 40)), TABLES, "SD", "host")
    assert (short_day.fee.table.code, short_day.fee.amount) == ("SD-2026", Decimal("850.00"))
    assert short_day.basis.endswith("就高: 主场表 SD-2026 850.00 高于 副场表 SX-2026 780.00")
    # An expert of the host's region has one table.
    host = fee_line(_time("SD", "host", beijing(1, 8, 30)), TABLES, "SD", "host")
    assert host.other is None and host.basis == (
        "时长 6 h 10 min: 基本费 800.00 (≤4 h) + 超时 3 h × 100.00 = 300.00 + 交通 50.00 = 1150.00; 主场表 SD-2026")


def test_equal_amounts_pay_by_the_experts_own_table() -> None:
    twin = FeeTable(code="SX-EQ", region="SX", name="x", base_fee=Decimal("800.00"), base_hours=4,
                    extra_per_hour=Decimal("100.00"), travel=Decimal("50.00"))
    line = fee_line(_time("SX", "guest", beijing(1, 8, 40)), FeeTables((SD, twin)), "SD", "host")
    assert line.fee.table.code == "SX-EQ" and "相同，按副场表" in line.basis


def test_batches_by_payer_and_unknown_regions_named_at_once() -> None:
    times = [_time("SD", "host", beijing(1, 8, 30), "m2"), _time("SX", "guest", beijing(1, 8, 40), "m1")]
    one = batches(times, TABLES, host_region="SD", host_venue_id="host", payer=FeePayer.HOST)
    assert list(one) == ["host"] and [line.expert.member_id for line in one["host"]] == ["m2", "m1"]
    assert sum(line.fee.amount for line in one["host"]) == Decimal("2230.00")  # 1150 + 1080
    each = batches(times, TABLES, host_region="SD", host_venue_id="host", payer=FeePayer.VENUE)
    assert {k: [line.fee.amount for line in v] for k, v in each.items()} == {
        "host": [Decimal("1150.00")], "guest": [Decimal("1080.00")]}
    with pytest.raises(ApiError) as caught:
        batches([*times, _time("GZ", "guest", beijing(1, 9))], FeeTables((SX,)), host_region="SD",
                host_venue_id="host", payer=FeePayer.HOST)
    assert caught.value.code is ErrorCode.UNKNOWN_FEE_TABLE and caught.value.details == [{"region": "GZ"},
                                                                                         {"region": "SD"}]


GOOD = (Path(__file__).parents[1] / "data" / "fee-tables.toml").read_text(encoding="utf-8")
"""The tests' fee tables: SD-2026 as :data:`SD` (with its full name), SX-2026 with a base fee of "700"."""


def test_the_fee_tables_file_loads() -> None:
    tables = load_fee_tables(GOOD)
    assert tables.for_region("SD").as_dict() == {**SD.as_dict(), "name": "山东省评标专家劳务报酬标准（2026）"}
    assert tables.for_region("SX").base_fee == Decimal("700")
    assert tables.for_region("GZ") is None


@pytest.mark.parametrize(("change", "message"), [
    (('base_fee = "800.00"', "base_fee = 800.0"), "never floats"),
    (('travel = "50.00"', 'travel = "50.001"'), "at most two places"),
    (('cap = "1500.00"', 'cap = "500.00"'), "below the base fee"),
    (('region = "SX"', 'region = "SD"'), "two tables have the region 'SD'"),
    (("base_hours = 4\nextra", 'base_hours = 4\nrate = "1"\nextra'), "unknown key 'rate'"),
    (('code = "SD-2026"', 'code = "sd"'), "upper-case code"),
    (("base_hours = 4\nextra_per_hour = \"100.00\"", "base_hours = 25\nextra_per_hour = \"100.00\""), "0 to 24"),
    ((GOOD, 'tables = "SD"'), "array of tables"),
    ((GOOD, '[[table]]\ncode = "SD"'), "unknown key 'table'"),
])
def test_a_bad_fee_tables_file_names_the_value(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_fee_tables(GOOD.replace(*change, 1))


# --- publication -----------------------------------------------------------------------------------------------
SEALED = beijing(1, 14, 0)


def test_publication_deadlines_move_off_the_weekend() -> None:
    # Sealed Sunday day(1): publish by Wednesday day(4) (1 + 3). Published Thursday day(5): overdue. The window
    # runs Fri day(6), Sat day(7), Sun day(8); Sunday is a rest day, so it closes at the end of Monday day(9)
    # (00:00 of day(10) in Beijing).
    d = publication_deadlines(sealed_at=SEALED, published_at=beijing(5, 10), window_days=3, calendar=CAL, tz=TZ)
    assert (d.received_on, d.publish_by.on, d.published_on, d.overdue) == (
        iso(1), day(4), iso(5), True)
    assert d.closes == Due(day(9), beijing(10, 0))
    # Published on the last day, late in the evening: in time.
    assert not publication_deadlines(sealed_at=SEALED, published_at=beijing(4, 23, 59), window_days=3,
                                     calendar=CAL, tz=TZ).overdue
    # 07:30 on Thursday day(5) in Beijing is still Wednesday day(4) in UTC: counted by the local date, overdue.
    assert publication_deadlines(sealed_at=SEALED, published_at=beijing(5, 7, 30), window_days=3,
                                 calendar=CAL, tz=TZ).overdue
    # A holiday on the last day to publish moves it too.
    wed_off = WorkCalendar(holidays=frozenset({day(4)}))
    assert publication_deadlines(sealed_at=SEALED, published_at=SEALED, window_days=3, calendar=wed_off,
                                 tz=TZ).publish_by.on == day(5)
    # Five days from Sunday day(1): Monday day(2) ... Friday day(6), a working day.
    assert publication_deadlines(sealed_at=SEALED, published_at=SEALED, window_days=5, calendar=CAL,
                                 tz=TZ).closes.on == day(6)


@pytest.mark.parametrize(("published", "days"), [(SEALED - timedelta(seconds=1), 3), (SEALED, 2), (SEALED, 31)])
def test_a_publication_before_the_seal_or_with_a_short_window_is_refused(published: datetime, days: int) -> None:
    with pytest.raises(ApiError) as caught:
        publication_deadlines(sealed_at=SEALED, published_at=published, window_days=days, calendar=CAL, tz=TZ)
    assert caught.value.code is ErrorCode.INVALID_INPUT


def test_objections_are_answered_within_three_days_and_late_ones_marked() -> None:
    closes = Due(day(9), beijing(10, 0))
    thu = objection_deadline(received_at=beijing(5, 15), closes=closes, calendar=CAL, tz=TZ)
    assert (thu.late, thu.answer_by.on) == (False, day(9))  # Sunday day(8) is a rest day: Monday day(9)
    last = objection_deadline(received_at=beijing(9, 23, 59), closes=closes, calendar=CAL, tz=TZ)
    assert (last.late, last.answer_by.on) == (False, day(12))
    after = objection_deadline(received_at=beijing(10, 0), closes=closes, calendar=CAL, tz=TZ)
    assert (after.late, after.received_on, after.answer_by.on) == (True, iso(10), day(13))


# --- ratings -----------------------------------------------------------------------------------------------------
def test_ratings_are_due_two_working_days_after_the_end() -> None:
    ended = beijing(1, 14, 40)
    assert rating_due(ended, WorkCalendar(), TZ).on == day(3)  # Monday day(2), Tuesday day(3)
    assert rating_due(ended, CAL, TZ) == Due(day(4), beijing(5, 0))
    # Ended at 00:30 on Monday day(2) in Beijing (Sunday in UTC): counted from Monday day(2), skipping the holiday
    # on Tuesday day(3): Wednesday day(4), Thursday day(5).
    assert rating_due(beijing(2, 0, 30), CAL, TZ).on == day(5)
    due = rating_due(ended, CAL, TZ)
    check_open(due.before - timedelta(microseconds=1), ended, due)
    for now, end in ((due.before, ended), (ended, None)):
        with pytest.raises(ApiError) as caught:
            check_open(now, end, due if end else None)
        assert caught.value.code is ErrorCode.RATING_CLOSED


@pytest.mark.parametrize("score", [-1, 101, 1000])
def test_a_score_outside_0_to_100_is_invalid(score: int) -> None:
    with pytest.raises(ApiError) as caught:
        check_score(score)
    assert caught.value.code is ErrorCode.INVALID_INPUT
    check_score(0), check_score(100)


def test_a_rating_below_the_pass_mark_suspends_an_active_expert_only() -> None:
    change = credit_after(CreditStatus.ACTIVE, 59, Rater.TENDERER, threshold=60, session_code="S-1")
    assert change is not None and change.status is CreditStatus.SUSPENDED
    assert change.reason == "rated 59 (below 60) by the tenderer (招标人) for session S-1"
    assert credit_after(CreditStatus.ACTIVE, 60, Rater.HOST, threshold=60, session_code="S-1") is None
    for status in (CreditStatus.SUSPENDED, CreditStatus.BLACKLISTED):  # never lifted, never made worse
        assert credit_after(status, 0, Rater.HOST, threshold=60, session_code="S-1") is None
    assert credit_after(CreditStatus.ACTIVE, 0, Rater.HOST, threshold=0, session_code="S-1") is None  # rule off
