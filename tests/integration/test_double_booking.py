"""No seat is ever double-booked, on SQLite and PostgreSQL: coordinators racing through the service, a service
whose own check was raced past, and writers below the service that only the database itself can stop."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from conftest import SPECIALTY, T0, World, snapshot, unique_code
from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from evalroom.api.context import AppContext
from evalroom.domain.roles import Principal, Role
from evalroom.errors import ApiError
from evalroom.schemas import OfferCreate, SessionCreate
from evalroom.services import offers, sessions
from evalroom.storage.db import is_sqlite, make_engine
from evalroom.storage.models import Offer, Room, Seat, SeatBooking
from evalroom.storage.store import Store
from sites.calendar import Window

START = T0 + timedelta(days=1)
ADMIN = Principal(role=Role.COORDINATOR_ADMIN, subject="admin-test")
ROUNDS = 5
RAW_ROUNDS = 3


def _op(venue_id: str) -> Principal:
    return Principal(role=Role.HALL_OPERATOR, subject=f"op-{uuid.uuid4().hex[:6]}", venue_id=venue_id)


def _live_bookings(ctx: AppContext, venue_id: str) -> int:
    with ctx.store.read() as s:
        return s.scalar(select(func.count()).select_from(SeatBooking).where(
            SeatBooking.venue_id == venue_id, SeatBooking.released_at.is_(None)))


def _session(ctx: AppContext, host_venue_id: str, start: datetime, hours: int = 8) -> str:
    with ctx.store.write() as tx:
        return sessions.create_session(tx, _op(host_venue_id), SessionCreate(
            code=unique_code("S"), title="并发测试", scheduled_start=start,
            scheduled_end=start + timedelta(hours=hours))).id


def _offer(ctx: AppContext, session_id: str, guest_venue_id: str, seats: int, **window: datetime) -> str:
    with ctx.store.write() as tx:
        return offers.create_offer(tx, ctx.settings, ADMIN, session_id, OfferCreate(
            guest_venue_id=guest_venue_id, seats=seats, specialties=[SPECIALTY], **window)).id


# --- (a) through the service ------------------------------------------------------------------------------
def _race(ctx: AppContext, jobs: list[Callable[[Store], Any]]) -> list[Any]:
    """Run each job on its own engine and store (another coordinator process on the shared database), all
    released at once; return each job's result or the exception it raised."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int) -> None:
        engine = make_engine(ctx.settings.effective_database_url)
        try:
            store = Store(engine, ctx.clock)
            with store.read() as s:  # connect before the start line, so that both really start together
                s.execute(select(1))
            barrier.wait()
            results[i] = jobs[i](store)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            results[i] = exc
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    return results


def _confirm(offer_id: str, guest_venue_id: str) -> Callable[[Store], Any]:
    def job(store: Store) -> str:
        with store.write() as tx:
            return offers.confirm_offer(tx, _op(guest_venue_id), offer_id, 1).state
    return job


def test_two_coordinators_confirming_the_same_seats_at_once_book_them_once(ctx: AppContext, world: World) -> None:
    guest = world.guest_venue_id
    for round_ in range(ROUNDS):
        start = START + timedelta(days=round_)
        # Two sessions hosted at different venues want all four seats of the guest's room, at overlapping times.
        first = _offer(ctx, _session(ctx, world.host_venue_id, start), guest, 4)
        second = _offer(ctx, _session(ctx, world.other_venue_id, start + timedelta(hours=1), hours=2), guest, 4)
        before = _live_bookings(ctx, guest)
        results = _race(ctx, [_confirm(first, guest), _confirm(second, guest)])
        won = [r for r in results if r == "confirmed"]
        lost = [r for r in results if isinstance(r, ApiError)]
        assert len(won) == 1 and len(lost) == 1, results
        assert lost[0].code.value in {"double_booked", "not_enough_seats"}, lost[0]
        assert _live_bookings(ctx, guest) == before + 4
        with ctx.store.read() as s:
            states = {o: s.scalar(select(Offer.state).where(Offer.id == o)) for o in (first, second)}
        assert sorted(states.values()) == ["confirmed", "pending"], states
    assert _live_bookings(ctx, guest) == 4 * ROUNDS


def test_shared_room_lets_two_sessions_confirm_at_once_on_different_seats(ctx: AppContext, world: World) -> None:
    other = world.other_venue_id
    first = _offer(ctx, _session(ctx, world.host_venue_id, START), other, 2)
    second = _offer(ctx, _session(ctx, world.guest_venue_id, START), other, 2)
    results = _race(ctx, [_confirm(first, other), _confirm(second, other)])
    assert results == ["confirmed", "confirmed"]
    with ctx.store.read() as s:
        seats = s.scalars(select(SeatBooking.seat_id).where(SeatBooking.venue_id == other)).all()
    assert len(seats) == 4 == len(set(seats))


def test_a_service_check_raced_past_is_stopped_by_the_database(ctx: AppContext, world: World,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A coordinator whose read of the calendar is stale (another process booked after it looked) still
    cannot double-book: the insert fails in the database and the guest gets double_booked."""
    guest = world.guest_venue_id
    first = _offer(ctx, world.session_id, guest, 2)
    with ctx.store.write() as tx:
        offers.confirm_offer(tx, _op(guest), first, 1)
    seat_clash = _offer(ctx, world.other_session_id, guest, 2)
    original = offers.free_seats

    def stale(s: Any, venue_ids: Any, window: Window, *, session_id: str | None) -> Any:
        # What the calendar looked like before anything was booked: a window with no bookings, same seats.
        empty = Window(window.start + timedelta(days=100), window.end + timedelta(days=100))
        return original(s, venue_ids, empty, session_id=session_id)

    monkeypatch.setattr(offers, "free_seats", stale)
    before = snapshot(ctx)
    # The same seats: the seat rule.
    with pytest.raises(ApiError) as exc, ctx.store.write() as tx:
        offers.confirm_offer(tx, _op(guest), seat_clash, 1)
    assert exc.value.code.value == "double_booked"
    assert snapshot(ctx) == before
    # Other seats of the same single-project room, for another session: the room rule.
    with ctx.store.read() as s:
        free = s.scalars(select(Seat.id).where(Seat.venue_id == guest, Seat.code.in_(["A-03", "A-04"]))).all()
    with pytest.raises(ApiError) as exc, ctx.store.write() as tx:
        offers.confirm_offer(tx, _op(guest), seat_clash, 1, seat_ids=free)
    assert exc.value.code.value == "double_booked"
    assert snapshot(ctx) == before
    assert _live_bookings(ctx, guest) == 2


# --- (b) below the service: the database's own rule -------------------------------------------------------
@dataclass
class Place:
    seat_id: str
    room_id: str
    venue_id: str
    exclusive: bool


def _places(ctx: AppContext, venue_id: str) -> list[Place]:
    with ctx.store.read() as s:
        rows = s.execute(select(Seat.id, Room.id, Room.kind).join(Room, Room.id == Seat.room_id)
                         .where(Seat.venue_id == venue_id).order_by(Seat.code)).all()
    return [Place(seat_id, room_id, venue_id, kind == "single") for seat_id, room_id, kind in rows]


def _booking(place: Place, session_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "seat_id": place.seat_id, "room_id": place.room_id, "venue_id": place.venue_id,
            "session_id": session_id, "offer_id": None, "starts_at": start, "ends_at": end,
            "room_exclusive": place.exclusive, "created_at": T0, "released_at": None}


def _insert(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(SeatBooking.__table__).values(**row))


def _book(engine: Engine, row: dict[str, Any]) -> None:
    with engine.begin() as conn:
        _insert(conn, row)


def _refused(engine: Engine, row: dict[str, Any]) -> None:
    with pytest.raises(IntegrityError):
        _book(engine, row)


@pytest.fixture
def engines(ctx: AppContext) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on the coordinator's database: writers that bypass the service and the chain lock."""
    pair = (make_engine(ctx.settings.effective_database_url), make_engine(ctx.settings.effective_database_url))
    yield pair
    for engine in pair:
        engine.dispose()


def _race_raw(engines: tuple[Engine, Engine], rows: list[dict[str, Any]]) -> list[Any]:
    """Each engine inserts its row in its own transaction, released together; "inserted" or the exception."""
    barrier = threading.Barrier(2)
    outcome: list[Any] = [None, None]

    def run(i: int) -> None:
        try:
            with engines[i].begin() as conn:
                barrier.wait()
                _insert(conn, rows[i])
            outcome[i] = "inserted"
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return outcome


def test_concurrent_raw_inserts_of_one_seat_one_fails(ctx: AppContext, world: World,
                                                      engines: tuple[Engine, Engine]) -> None:
    seats = _places(ctx, world.other_venue_id)  # a shared room: only the seat rule applies
    for round_ in range(RAW_ROUNDS):
        seat = seats[round_ % len(seats)]
        start = START + timedelta(days=round_)
        outcome = _race_raw(engines, [
            _booking(seat, world.session_id, start, start + timedelta(hours=4)),
            _booking(seat, world.other_session_id, start + timedelta(hours=3), start + timedelta(hours=6))])
        assert outcome.count("inserted") == 1, outcome
        (loser,) = [o for o in outcome if o != "inserted"]
        assert _refused_by_database(engines[0], loser), loser
    assert _live_bookings(ctx, world.other_venue_id) == RAW_ROUNDS


def _refused_by_database(engine: Engine, exc: BaseException) -> bool:
    """The exclusion rule's refusal: an integrity error; on PostgreSQL, two inserts that each wait for the
    other's uncommitted row to settle the constraint may instead be ended by the deadlock detector
    (SQLSTATE 40P01), which refuses the same booking."""
    if isinstance(exc, IntegrityError):
        return True
    return (not is_sqlite(engine) and isinstance(exc, DBAPIError)
            and getattr(exc.orig, "sqlstate", None) == "40P01")


def test_a_second_writer_waits_for_the_first_and_is_then_refused(ctx: AppContext, world: World,
                                                                 engines: tuple[Engine, Engine]) -> None:
    """Interleaved deterministically: A has inserted but not committed; B's overlapping insert must wait for
    A (it cannot see A's row yet), and fail once A commits."""
    seat = _places(ctx, world.other_venue_id)[0]
    a_engine, b_engine = engines
    outcome: list[Any] = []
    started = threading.Event()

    def writer_b() -> None:
        started.set()
        try:
            _book(b_engine, _booking(seat, world.other_session_id, START + timedelta(hours=1),
                                     START + timedelta(hours=2)))
            outcome.append("inserted")
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome.append(exc)

    with a_engine.begin() as conn:
        _insert(conn, _booking(seat, world.session_id, START, START + timedelta(hours=8)))
        b = threading.Thread(target=writer_b)
        b.start()
        started.wait(30)
        time.sleep(0.3)
        assert outcome == [], "B finished while A's overlapping booking was still uncommitted"
    b.join(120)
    assert len(outcome) == 1 and isinstance(outcome[0], IntegrityError), outcome
    assert _live_bookings(ctx, world.other_venue_id) == 1


def test_back_to_back_bookings_of_one_seat_are_accepted(ctx: AppContext, world: World,
                                                         engines: tuple[Engine, Engine]) -> None:
    engine = engines[0]
    for venue in (world.guest_venue_id, world.other_venue_id):  # single-project and shared rooms
        seat = _places(ctx, venue)[0]
        _book(engine, _booking(seat, world.session_id, START, START + timedelta(hours=2)))
        _book(engine, _booking(seat, world.other_session_id, START + timedelta(hours=2), START + timedelta(hours=4)))
        _book(engine, _booking(seat, world.other_session_id, START - timedelta(hours=1), START))
        _refused(engine, _booking(seat, world.other_session_id, START + timedelta(hours=1, minutes=59),
                                  START + timedelta(hours=2, minutes=1)))
        _refused(engine, _booking(seat, world.session_id, START + timedelta(minutes=30), START + timedelta(hours=1)))
        assert _live_bookings(ctx, venue) == 3


def test_a_released_booking_lets_an_overlapping_one_in(ctx: AppContext, world: World,
                                                        engines: tuple[Engine, Engine]) -> None:
    engine = engines[0]
    seat = _places(ctx, world.other_venue_id)[0]
    first = _booking(seat, world.session_id, START, START + timedelta(hours=8))
    _book(engine, first)
    overlapping = _booking(seat, world.other_session_id, START + timedelta(hours=1), START + timedelta(hours=3))
    _refused(engine, overlapping)
    with engine.begin() as conn:
        conn.execute(update(SeatBooking.__table__).where(SeatBooking.id == first["id"])
                     .values(released_at=T0 + timedelta(minutes=1)))
    _book(engine, overlapping)
    # Taking the released booking back while the seat is held again is refused too.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(update(SeatBooking.__table__).where(SeatBooking.id == first["id"]).values(released_at=None))
    # A released booking may overlap another released one.
    _book(engine, {**_booking(seat, world.session_id, START, START + timedelta(hours=8)), "released_at": T0})
    assert _live_bookings(ctx, world.other_venue_id) == 1


def test_single_project_room_refuses_a_second_session_shared_room_allows_it(
        ctx: AppContext, world: World, engines: tuple[Engine, Engine]) -> None:
    engine = engines[0]
    single, shared = _places(ctx, world.guest_venue_id), _places(ctx, world.other_venue_id)
    assert all(p.exclusive for p in single) and not any(p.exclusive for p in shared)
    end = START + timedelta(hours=8)
    for places in (single, shared):
        _book(engine, _booking(places[0], world.session_id, START, end))
    # Another seat of the single-project room: refused for another session, accepted for the same one.
    _refused(engine, _booking(single[1], world.other_session_id, START + timedelta(hours=7), end + timedelta(hours=1)))
    _book(engine, _booking(single[1], world.session_id, START, end))
    # ... and after the first session's window, the room is free for another one (half-open).
    _book(engine, _booking(single[2], world.other_session_id, end, end + timedelta(hours=2)))
    # In the shared room, another session takes another seat at the same time, but not the same seat.
    _book(engine, _booking(shared[1], world.other_session_id, START, end))
    _refused(engine, _booking(shared[0], world.other_session_id, START, end))
    assert _live_bookings(ctx, world.guest_venue_id) == 3
    assert _live_bookings(ctx, world.other_venue_id) == 2
