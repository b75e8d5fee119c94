"""The sites domain without a database, a network or a clock: seat usability, booking windows and seat
choice, the offer state machine, deadlines, the blind views, and the verifiable ranking of guest venues."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from timebase import T0, day, iso

from sites.calendar import (
    MAX_WINDOW,
    PAST_GRACE,
    FreeSeat,
    Window,
    check_window,
    choose_seats,
    crosses_midnight,
)
from sites.devices import DEVICES, DeviceState, seat_usable, unusable_reasons
from sites.errors import RuleViolation
from sites.offers import (
    LIVE,
    OfferAction,
    OfferState,
    guest_view,
    host_view,
    next_state,
    response_deadline,
)
from sites.pairing import Candidate, lot, rank

pytestmark = pytest.mark.dates

SHANGHAI = ZoneInfo("Asia/Shanghai")
BJ = timezone(timedelta(hours=8))
NOW = T0  # 09:00 in Beijing on Saturday day(0)
ALL_OK = {d: DeviceState.OK.value for d in DEVICES}


def _code(exc: pytest.ExceptionInfo[RuleViolation]) -> str:
    return exc.value.code


# --- devices ----------------------------------------------------------------------------------------------
def test_the_five_devices() -> None:
    assert DEVICES == ("pc", "network", "microphone", "speaker", "camera")


def test_all_ok_and_no_fault_is_usable() -> None:
    assert seat_usable(ALL_OK, seat_fault=None, room_fault=None)
    assert unusable_reasons(ALL_OK, seat_fault=None, room_fault=None) == []


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("state", [DeviceState.FAULT.value, DeviceState.UNKNOWN.value, "something else"])
def test_any_device_not_ok_makes_the_seat_unusable(device: str, state: str) -> None:
    devices = {**ALL_OK, device: state}
    assert not seat_usable(devices, seat_fault=None, room_fault=None)
    assert unusable_reasons(devices, seat_fault=None, room_fault=None) == [f"{device}: {state}"]


@pytest.mark.parametrize("device", DEVICES)
def test_a_device_never_reported_counts_as_unknown(device: str) -> None:
    devices = {d: s for d, s in ALL_OK.items() if d != device}
    assert not seat_usable(devices, seat_fault=None, room_fault=None)
    assert unusable_reasons(devices, seat_fault=None, room_fault=None) == [f"{device}: unknown"]


def test_nothing_reported_lists_every_device_in_order() -> None:
    assert unusable_reasons({}, seat_fault=None, room_fault=None) == [f"{d}: unknown" for d in DEVICES]


def test_faults_marked_by_a_person_make_a_working_seat_unusable() -> None:
    assert not seat_usable(ALL_OK, seat_fault="键盘坏了", room_fault=None)
    assert not seat_usable(ALL_OK, seat_fault=None, room_fault="空调故障")
    reasons = unusable_reasons({**ALL_OK, "camera": "fault"}, seat_fault="键盘坏了", room_fault="空调故障")
    assert reasons == ["room marked faulty: 空调故障", "seat marked faulty: 键盘坏了", "camera: fault"]


@given(st.dictionaries(st.sampled_from(DEVICES), st.sampled_from([s.value for s in DeviceState])),
       st.one_of(st.none(), st.text(min_size=1)), st.one_of(st.none(), st.text(min_size=1)))
def test_usable_exactly_when_all_five_ok_and_no_fault(devices: dict[str, str], seat_fault: str | None,
                                                      room_fault: str | None) -> None:
    expected = all(devices.get(d) == "ok" for d in DEVICES) and seat_fault is None and room_fault is None
    assert seat_usable(devices, seat_fault=seat_fault, room_fault=room_fault) is expected


# --- windows ----------------------------------------------------------------------------------------------
def test_window_needs_aware_times() -> None:
    naive = datetime.combine(day(10), time(9))  # no zone
    for start, end in ((naive, naive + timedelta(hours=1)), (NOW, naive), (naive, NOW)):
        with pytest.raises(RuleViolation) as exc:
            Window(start, end)
        assert _code(exc) == "invalid_input"


@pytest.mark.parametrize("length", [timedelta(0), timedelta(seconds=-1), timedelta(hours=-3)])
def test_window_must_end_after_it_starts(length: timedelta) -> None:
    with pytest.raises(RuleViolation) as exc:
        Window(NOW, NOW + length)
    assert _code(exc) == "invalid_input"


def test_window_is_normalised_to_utc() -> None:
    w = Window(datetime.combine(day(10), time(9), BJ), datetime.combine(day(10), time(17), BJ))
    assert w.start == datetime.combine(day(10), time(1), UTC) and w.start.utcoffset() == timedelta(0)
    assert w.end.tzinfo == UTC and w.duration == timedelta(hours=8)


def test_back_to_back_windows_do_not_overlap() -> None:
    a = Window(NOW, NOW + timedelta(hours=2))
    b = Window(NOW + timedelta(hours=2), NOW + timedelta(hours=4))
    assert not a.overlaps(b) and not b.overlaps(a)


@pytest.mark.parametrize("start, end", [(-1, 1), (1, 3), (0, 2), (0.5, 1.5), (-1, 3), (1.999, 5)])
def test_overlapping_windows_overlap_both_ways(start: float, end: float) -> None:
    a = Window(NOW, NOW + timedelta(hours=2))
    b = Window(NOW + timedelta(hours=start), NOW + timedelta(hours=end))
    assert a.overlaps(b) and b.overlaps(a)


def test_overlap_compares_instants_across_zones() -> None:
    a = Window(NOW, NOW + timedelta(hours=1))  # 09:00-10:00 Beijing
    b = Window(datetime.combine(day(0), time(9, 30), BJ), datetime.combine(day(0), time(11), BJ))
    c = Window(datetime.combine(day(0), time(10), BJ), datetime.combine(day(0), time(11), BJ))
    assert a.overlaps(b) and not a.overlaps(c)


_minutes = st.integers(min_value=-10_000, max_value=10_000)


@given(_minutes, st.integers(1, 5000), _minutes, st.integers(1, 5000))
def test_overlap_is_symmetric_and_half_open(s1: int, d1: int, s2: int, d2: int) -> None:
    a = Window(NOW + timedelta(minutes=s1), NOW + timedelta(minutes=s1 + d1))
    b = Window(NOW + timedelta(minutes=s2), NOW + timedelta(minutes=s2 + d2))
    shared_minutes = min(s1 + d1, s2 + d2) - max(s1, s2)
    assert a.overlaps(b) is b.overlaps(a) is (shared_minutes > 0)


# --- midnight ---------------------------------------------------------------------------------------------
def _bj(n: int, hour: int, minute: int = 0) -> datetime:
    """``hour:minute`` on ``day(n)``, written with Beijing's offset (not converted to UTC)."""
    return datetime.combine(day(n), time(hour, minute), BJ)


def test_a_working_day_does_not_cross_midnight() -> None:
    assert not crosses_midnight(Window(_bj(10, 9), _bj(10, 17)), SHANGHAI)


def test_ending_exactly_at_local_midnight_is_fine() -> None:
    assert not crosses_midnight(Window(_bj(10, 20), _bj(11, 0)), SHANGHAI)


def test_starting_exactly_at_local_midnight_is_fine() -> None:
    assert not crosses_midnight(Window(_bj(11, 0), _bj(11, 8)), SHANGHAI)


def test_a_minute_past_local_midnight_crosses() -> None:
    assert crosses_midnight(Window(_bj(10, 20), _bj(11, 0, 1)), SHANGHAI)


def test_23_to_01_local_crosses() -> None:
    assert crosses_midnight(Window(_bj(10, 23), _bj(11, 1)), SHANGHAI)


def test_utc_midnight_that_is_not_local_midnight_does_not_cross() -> None:
    # 07:00-09:00 Beijing is 23:00-01:00 UTC: it crosses midnight in UTC only.
    window = Window(datetime.combine(day(10), time(23), UTC), datetime.combine(day(11), time(1), UTC))
    assert not crosses_midnight(window, SHANGHAI)
    assert crosses_midnight(window, ZoneInfo("UTC"))


def test_local_midnight_that_is_not_utc_midnight_crosses() -> None:
    # 15:00-17:00 UTC on day(10) is 23:00-01:00 Beijing.
    window = Window(datetime.combine(day(10), time(15), UTC), datetime.combine(day(10), time(17), UTC))
    assert crosses_midnight(window, SHANGHAI)
    assert not crosses_midnight(window, ZoneInfo("UTC"))


def test_a_multi_day_window_crosses() -> None:
    assert crosses_midnight(Window(_bj(10, 9), _bj(12, 9)), SHANGHAI)


# --- check_window -----------------------------------------------------------------------------------------
def _check(window: Window, *, may_cross: bool = False) -> None:
    check_window(window, now=NOW, zone=SHANGHAI, may_cross_midnight=may_cross)


def _violation(window: Window, *, may_cross: bool = False) -> str:
    with pytest.raises(RuleViolation) as exc:
        _check(window, may_cross=may_cross)
    return _code(exc)


def test_a_window_in_the_near_future_is_accepted() -> None:
    _check(Window(NOW + timedelta(hours=1), NOW + timedelta(hours=3)))


def test_a_start_within_the_grace_is_accepted() -> None:
    _check(Window(NOW - PAST_GRACE, NOW + timedelta(hours=1)))


def test_a_start_past_the_grace_is_refused() -> None:
    start = NOW - PAST_GRACE - timedelta(seconds=1)
    assert _violation(Window(start, NOW + timedelta(hours=1))) == "invalid_input"
    assert _violation(Window(NOW - timedelta(days=2), NOW - timedelta(days=1)), may_cross=True) == "invalid_input"


def test_at_most_three_days() -> None:
    assert MAX_WINDOW == timedelta(days=3)
    _check(Window(NOW, NOW + MAX_WINDOW), may_cross=True)
    assert _violation(Window(NOW, NOW + MAX_WINDOW + timedelta(seconds=1)), may_cross=True) == "invalid_input"


def test_midnight_rule_follows_the_setting() -> None:
    night = Window(_bj(1, 23), _bj(2, 2))  # the coming night, 23:00-02:00 Beijing
    assert crosses_midnight(night, SHANGHAI)
    assert _violation(night, may_cross=False) == "invalid_input"
    _check(night, may_cross=True)


# --- choose_seats -----------------------------------------------------------------------------------------
def _room(room: str, n: int, *, start: int = 1) -> list[FreeSeat]:
    return [FreeSeat(seat_id=f"{room}-id-{i}", room_id=f"{room}-id", room_code=room, seat_code=f"S-{i:02d}")
            for i in range(start, start + n)]


def _rooms_of(chosen: list[FreeSeat]) -> set[str]:
    return {s.room_code for s in chosen}


def test_smallest_room_that_fits_everyone() -> None:
    free = _room("R1", 8) + _room("R2", 3) + _room("R3", 5)
    chosen = choose_seats(free, 3)
    assert _rooms_of(chosen) == {"R2"} and len(chosen) == 3
    assert _rooms_of(choose_seats(free, 4)) == {"R3"}
    assert _rooms_of(choose_seats(free, 6)) == {"R1"}


def test_equal_sized_fitting_rooms_are_chosen_by_code() -> None:
    free = _room("R9", 4) + _room("R2", 4)
    assert _rooms_of(choose_seats(free, 2)) == {"R2"}


def test_seats_in_code_order() -> None:
    free = list(reversed(_room("R1", 5)))
    assert [s.seat_code for s in choose_seats(free, 3)] == ["S-01", "S-02", "S-03"]


def test_fewest_rooms_biggest_first_when_no_room_fits() -> None:
    free = _room("R1", 2) + _room("R2", 5) + _room("R3", 4) + _room("R4", 1)
    chosen = choose_seats(free, 9)
    assert len(chosen) == 9 and _rooms_of(chosen) == {"R2", "R3"}
    chosen = choose_seats(free, 10)
    assert _rooms_of(chosen) == {"R1", "R2", "R3"}
    assert [s.room_code for s in chosen] == ["R2"] * 5 + ["R3"] * 4 + ["R1"]


def test_not_enough_seats() -> None:
    free = _room("R1", 2) + _room("R2", 2)
    with pytest.raises(RuleViolation) as exc:
        choose_seats(free, 5)
    assert _code(exc) == "not_enough_seats"
    with pytest.raises(RuleViolation) as exc:
        choose_seats([], 1)
    assert _code(exc) == "not_enough_seats"


@pytest.mark.parametrize("n", [0, -1])
def test_at_least_one_seat(n: int) -> None:
    with pytest.raises(RuleViolation) as exc:
        choose_seats(_room("R1", 3), n)
    assert _code(exc) == "invalid_input"


@st.composite
def _free_seats(draw: st.DrawFn) -> list[FreeSeat]:
    sizes = draw(st.lists(st.integers(1, 6), min_size=1, max_size=6))
    seats = []
    for r, size in enumerate(sizes):
        seats.extend(_room(f"R{r}", size))
    return draw(st.permutations(seats))


@given(_free_seats(), st.integers(1, 40), st.randoms(use_true_random=False))
def test_choose_seats_returns_n_distinct_seats_from_the_input_deterministically(
        free: list[FreeSeat], n: int, rnd: random.Random) -> None:
    if n > len(free):
        with pytest.raises(RuleViolation) as exc:
            choose_seats(free, n)
        assert _code(exc) == "not_enough_seats"
        return
    chosen = choose_seats(free, n)
    assert len(chosen) == n and len(set(chosen)) == n and set(chosen) <= set(free)
    shuffled = list(free)
    rnd.shuffle(shuffled)
    assert choose_seats(shuffled, n) == chosen
    sizes: dict[str, int] = {}
    for s in free:
        sizes[s.room_id] = sizes.get(s.room_id, 0) + 1
    fitting = [size for size in sizes.values() if size >= n]
    used = {s.room_id for s in chosen}
    if fitting:
        assert len(used) == 1 and sizes[used.pop()] == min(fitting)
    else:
        # Nobody can do it with fewer rooms: the biggest k rooms together are fewer than n.
        biggest = sorted(sizes.values(), reverse=True)
        assert sum(biggest[: len(used) - 1]) < n


# --- offer state machine ----------------------------------------------------------------------------------
ALLOWED = {
    (OfferState.PENDING, OfferAction.CONFIRM): OfferState.CONFIRMED,
    (OfferState.PENDING, OfferAction.DECLINE): OfferState.DECLINED,
    (OfferState.PENDING, OfferAction.EXPIRE): OfferState.EXPIRED,
    (OfferState.PENDING, OfferAction.CHANGE): OfferState.PENDING,
    (OfferState.PENDING, OfferAction.CANCEL): OfferState.CANCELLED,
    (OfferState.CONFIRMED, OfferAction.CHANGE): OfferState.PENDING,
    (OfferState.CONFIRMED, OfferAction.CANCEL): OfferState.CANCELLED,
}


@pytest.mark.parametrize("state, action", list(itertools.product(OfferState, OfferAction)))
def test_every_state_and_action(state: OfferState, action: OfferAction) -> None:
    if (state, action) in ALLOWED:
        assert next_state(state, action) is ALLOWED[(state, action)]
    else:
        with pytest.raises(RuleViolation) as exc:
            next_state(state, action)
        assert _code(exc) == "conflict"


def test_final_states_take_no_action_and_live_states_are_pending_and_confirmed() -> None:
    assert LIVE == {OfferState.PENDING, OfferState.CONFIRMED}
    for state in set(OfferState) - LIVE:
        assert not any((state, a) in ALLOWED for a in OfferAction)
    assert {s.value for s in OfferState} == {"pending", "confirmed", "declined", "expired", "cancelled"}


# --- response deadline ------------------------------------------------------------------------------------
START = NOW + timedelta(days=1)


def test_default_deadline_is_the_default_from_now() -> None:
    assert response_deadline(now=NOW, window_start=START, requested=None, default=timedelta(minutes=120)) \
        == NOW + timedelta(minutes=120)


def test_default_deadline_never_after_the_start() -> None:
    start = NOW + timedelta(minutes=30)
    assert response_deadline(now=NOW, window_start=start, requested=None, default=timedelta(minutes=120)) == start


def test_requested_deadline_is_kept() -> None:
    requested = NOW + timedelta(hours=5)
    assert response_deadline(now=NOW, window_start=START, requested=requested,
                             default=timedelta(minutes=120)) == requested
    assert response_deadline(now=NOW, window_start=START, requested=START, default=timedelta(minutes=120)) == START


@pytest.mark.parametrize("requested", [NOW, NOW - timedelta(seconds=1), NOW - timedelta(days=1)])
def test_requested_deadline_must_be_in_the_future(requested: datetime) -> None:
    with pytest.raises(RuleViolation) as exc:
        response_deadline(now=NOW, window_start=START, requested=requested, default=timedelta(minutes=120))
    assert _code(exc) == "invalid_input"


def test_requested_deadline_must_not_be_after_the_start() -> None:
    with pytest.raises(RuleViolation) as exc:
        response_deadline(now=NOW, window_start=START, requested=START + timedelta(seconds=1),
                          default=timedelta(minutes=120))
    assert _code(exc) == "invalid_input"


def test_no_deadline_possible_for_a_window_already_started() -> None:
    with pytest.raises(RuleViolation) as exc:
        response_deadline(now=NOW, window_start=NOW - timedelta(minutes=1), requested=None,
                          default=timedelta(minutes=120))
    assert _code(exc) == "invalid_input"


# --- blind views ------------------------------------------------------------------------------------------
SESSION_ID = "5e5510e0-0000-4000-8000-5e5510e5e551"
HOST_ID = "4057a000-0000-4000-8000-4057a0004057"
GUEST_ID = "9e57b000-0000-4000-8000-9e57b0009e57"
SEAT_ID = "5ea7c000-0000-4000-8000-5ea7c0005ea7"


def _record(state: str = "confirmed", reason: str | None = None, **extra: object) -> dict[str, object]:
    return {
        "offer_id": "0ffe4000-0000-4000-8000-0ffe40000ffe", "session_id": SESSION_ID, "host_venue_id": HOST_ID,
        "guest_venue_id": GUEST_ID, "state": state, "version": 2, "seats": 2, "specialties": ["B01", "C02"],
        "starts_at": f"{iso(10)}T16:00:00Z", "ends_at": f"{iso(10)}T18:30:00Z",
        "respond_by": f"{iso(10)}T10:00:00Z", "proposed_by": "coordinator", "reason": reason,
        "seat_ids": [SEAT_ID, "5ea7c000-0000-4000-8000-000000000002"], "seat_codes": ["GUESTROOM/Z-01", "GUESTROOM/Z-02"],
        "title": "某秘密道路工程", "code": "SECRET-PROJECT", **extra,
    }


def test_guest_view_is_date_times_seats_and_specialties_only() -> None:
    view = guest_view(_record(), SHANGHAI)
    assert view == {
        "offer_id": "0ffe4000-0000-4000-8000-0ffe40000ffe", "state": "confirmed", "version": 2,
        "date": iso(11),  # 16:00 UTC on day(10) is 00:00 on day(11) in Beijing
        "starts_at": f"{iso(10)}T16:00:00Z", "ends_at": f"{iso(10)}T18:30:00Z", "duration_minutes": 150,
        "seats": 2, "specialties": ["B01", "C02"], "respond_by": f"{iso(10)}T10:00:00Z",
        "assigned_seats": ["GUESTROOM/Z-01", "GUESTROOM/Z-02"],
    }


@pytest.mark.parametrize("state", [s.value for s in OfferState])
def test_guest_view_never_names_the_session_host_or_project(state: str) -> None:
    # The reason field holds the guest's words when declined, the host's when cancelled.
    reason = "副场工位检修" if state == "declined" else "主场取消：某秘密道路工程延期"
    view = guest_view(_record(state=state, reason=reason), SHANGHAI)
    text = repr(view)
    for secret in (SESSION_ID, HOST_ID, GUEST_ID, "某秘密道路工程", "SECRET-PROJECT", "coordinator"):
        assert secret not in text, (state, secret)
    for key in ("session_id", "host_venue_id", "guest_venue_id", "title", "code", "proposed_by", "seat_ids",
                "reason"):
        assert key not in view
    if state == "declined":
        assert view["decline_reason"] == "副场工位检修"  # a guest's own words come back to it
    else:
        assert "decline_reason" not in view


def test_cancel_reason_is_not_shown_to_the_guest() -> None:
    view = guest_view(_record(state="cancelled", reason="某秘密道路工程的主场说明"), SHANGHAI)
    assert "某秘密道路工程的主场说明" not in repr(view)


def test_guest_view_without_seats() -> None:
    record = _record(state="pending")
    del record["seat_codes"]
    assert guest_view(record, SHANGHAI)["assigned_seats"] == []


def test_host_view_hides_the_guest_until_revealed() -> None:
    record = _record(state="declined", reason="西安工位检修")
    hidden = host_view(record, reveal_guest=False)
    for key in ("guest_venue_id", "seat_ids", "seat_codes", "reason"):
        assert key not in hidden
    text = repr(hidden)
    for secret in (GUEST_ID, SEAT_ID, "GUESTROOM", "西安工位检修"):
        assert secret not in text
    assert hidden["guest_hidden"] is True
    assert hidden["session_id"] == SESSION_ID and hidden["host_venue_id"] == HOST_ID and hidden["seats"] == 2
    shown = host_view(record, reveal_guest=True)
    assert shown == record and "guest_hidden" not in shown
    assert record["guest_venue_id"] == GUEST_ID, "the record itself is not changed"


def test_host_view_keeps_the_hosts_own_cancel_reason() -> None:
    hidden = host_view(_record(state="cancelled", reason="项目暂停"), reveal_guest=False)
    assert hidden["reason"] == "项目暂停" and "guest_venue_id" not in hidden


# --- pairing ----------------------------------------------------------------------------------------------
SEED = bytes(range(32))
OTHER_SEED = bytes(range(1, 33))
T = T0 - timedelta(days=20)  # a day some venue last lent seats


def _ids(candidates: list[Candidate]) -> list[str]:
    return [c.venue_id for c in candidates]


def test_lot_is_hmac_sha256_of_the_venue_id() -> None:
    import hashlib
    import hmac
    assert lot(SEED, "v1") == hmac.new(SEED, b"v1", hashlib.sha256).hexdigest()
    assert lot(SEED, "v1") != lot(SEED, "v2") and lot(SEED, "v1") != lot(OTHER_SEED, "v1")


def test_never_used_first_then_oldest_last_lent() -> None:
    candidates = [
        Candidate("recent", 4, T + timedelta(days=3)),
        Candidate("never-a", 4, None),
        Candidate("oldest", 4, T),
        Candidate("middle", 9, T + timedelta(days=1)),
        Candidate("never-b", 1, None),
    ]
    ranked = _ids(rank(candidates, SEED))
    assert set(ranked[:2]) == {"never-a", "never-b"}
    assert ranked[2:] == ["oldest", "middle", "recent"]


def test_ties_are_ordered_by_lot() -> None:
    tied = [Candidate(f"venue-{i}", 4, T) for i in range(8)]
    assert _ids(rank(tied, SEED)) == sorted(_ids(tied), key=lambda v: lot(SEED, v))
    never = [Candidate(f"venue-{i}", 4, None) for i in range(8)]
    assert _ids(rank(never, SEED)) == sorted(_ids(never), key=lambda v: lot(SEED, v))


def test_same_seed_same_order_and_different_seeds_permute_ties() -> None:
    tied = [Candidate(f"venue-{i}", 4, None) for i in range(8)]
    first = _ids(rank(tied, SEED))
    assert _ids(rank(list(reversed(tied)), SEED)) == first
    orders = {tuple(_ids(rank(tied, bytes([i]) * 32))) for i in range(20)}
    assert len(orders) > 1, "the seed does not change the order of ties"
    firsts = {order[0] for order in orders}
    assert len(firsts) > 1, "the same venue always wins a tie"


def test_the_seed_never_overrides_last_lent() -> None:
    candidates = [Candidate("used", 4, T), Candidate("fresh", 4, None)]
    for i in range(20):
        assert _ids(rank(candidates, bytes([i]) * 16)) == ["fresh", "used"]


@pytest.mark.parametrize("seed", [b"", b"short", bytes(15)])
def test_short_seed_is_rejected(seed: bytes) -> None:
    with pytest.raises(ValueError):
        rank([Candidate("v", 1, None)], seed)


def test_empty_candidates() -> None:
    assert rank([], SEED) == []


_candidates = st.lists(
    st.builds(Candidate, venue_id=st.uuids().map(str), free_seats=st.integers(1, 50),
              last_lent_at=st.one_of(st.none(), st.integers(0, 5).map(lambda d: T + timedelta(days=d)))),
    max_size=12, unique_by=lambda c: c.venue_id)


@settings(max_examples=200)
@given(_candidates, st.binary(min_size=16, max_size=64), st.randoms(use_true_random=False))
def test_rank_is_a_permutation_ordered_by_last_lent_then_lot(candidates: list[Candidate], seed: bytes,
                                                             rnd: random.Random) -> None:
    ranked = rank(candidates, seed)
    assert sorted(_ids(ranked)) == sorted(_ids(candidates)) and len(ranked) == len(candidates)
    shuffled = list(candidates)
    rnd.shuffle(shuffled)
    assert rank(shuffled, seed) == ranked
    for a, b in itertools.pairwise(ranked):
        if a.last_lent_at is None:
            assert b.last_lent_at is not None or lot(seed, a.venue_id) < lot(seed, b.venue_id)
        else:
            assert b.last_lent_at is not None and a.last_lent_at <= b.last_lent_at
            if a.last_lent_at == b.last_lent_at:
                assert lot(seed, a.venue_id) < lot(seed, b.venue_id)
