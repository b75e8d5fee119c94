"""Storage on real SQLite and PostgreSQL: schema, the append-only chain, concurrency, atomicity."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from timebase import T0

from evalroom.api.context import AppContext
from evalroom.clock import SystemClock, format_time
from evalroom.domain.events import GENESIS_HASH, ChainBroken, next_event
from evalroom.errors import ConflictError
from evalroom.services import tlog
from evalroom.storage import migrate
from evalroom.storage.db import is_sqlite, make_engine
from evalroom.storage.models import Base, EventRow, RecordingSegment, Region
from evalroom.storage.store import Store, read_events, verify_stored_chain


def test_migrations_build_exactly_the_models_schema(ctx: AppContext) -> None:
    with ctx.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    assert not migrate.pending(ctx.engine)


def test_schema_downgrades_and_upgrades_again(ctx: AppContext) -> None:
    migrate.downgrade(ctx.engine, "base")
    assert migrate.current_revision(ctx.engine) is None
    migrate.upgrade(ctx.engine)
    assert migrate.current_revision(ctx.engine) == migrate.head_revision()
    assert ctx.store.head()[0] == 0


@pytest.mark.parametrize("statement", ["UPDATE events SET kind = 'x.y'", "DELETE FROM events"])
def test_events_table_refuses_update_and_delete(ctx: AppContext, statement: str) -> None:
    with ctx.store.write() as tx:
        tx.record(actor="system", kind="test.recorded", payload={})
    with pytest.raises(DBAPIError, match="append-only"), ctx.engine.begin() as conn:
        conn.execute(text(statement))
    assert verify_stored_chain(ctx.store) == 1


@pytest.mark.parametrize("statement", ["UPDATE log_leaves SET kind = 'x.y'", "DELETE FROM log_leaves",
                                       "UPDATE log_nodes SET hash = hash", "DELETE FROM log_nodes"])
def test_log_tables_refuse_update_and_delete(ctx: AppContext, statement: str) -> None:
    """Nobody but the log's appender writes leaves, and it only inserts: the database refuses the rest."""
    with ctx.store.write() as tx:
        for _ in range(2):  # two leaves: a node above them too
            tx.record(actor="system", kind="test.recorded", session_id="s-1", payload={})
    assert tlog.append_pending(ctx.store, tlog.load_or_create_log_key(ctx.settings)) == 2
    with pytest.raises(DBAPIError, match="append-only"), ctx.engine.begin() as conn:
        conn.execute(text(statement))


def test_a_failed_write_leaves_no_row_and_no_event(ctx: AppContext) -> None:
    announced: list[int] = []
    ctx.store.on_commit(announced.append)
    head = ctx.store.head()
    with pytest.raises(RuntimeError), ctx.store.write() as tx:
        tx.session.add(Region(id=str(uuid.uuid4()), code="RB", name="x", created_at=tx.now()))
        tx.record(actor="system", kind="region.created", payload={"code": "RB"})
        raise RuntimeError("handler failed after writing")
    with ctx.store.read() as s:
        assert s.query(Region).count() == 0
    assert ctx.store.head() == head and announced == []


def test_a_constraint_violation_is_a_conflict_and_changes_nothing(ctx: AppContext) -> None:
    with ctx.store.write() as tx:
        tx.session.add(Region(id=str(uuid.uuid4()), code="RC", name="x", created_at=tx.now()))
        tx.record(actor="system", kind="region.created", payload={})
    head = ctx.store.head()
    with pytest.raises(ConflictError), ctx.store.write() as tx:
        tx.session.add(Region(id=str(uuid.uuid4()), code="RC", name="dup", created_at=tx.now()))
        tx.record(actor="system", kind="region.created", payload={})
    assert ctx.store.head() == head


def test_naive_datetimes_are_refused(ctx: AppContext) -> None:
    with pytest.raises(Exception, match="naive"), ctx.store.write() as tx:
        tx.session.add(Region(id=str(uuid.uuid4()), code="RN", name="x", created_at=T0.replace(tzinfo=None)))
        tx.session.flush()


def test_concurrent_writers_on_separate_engines_keep_one_gapless_chain(ctx: AppContext) -> None:
    """Four writers, each with its own engine as a separate coordinator process would have, append at once."""
    writers, per_writer = 4, 25
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers)

    def write(n: int) -> None:
        engine = make_engine(ctx.settings.effective_database_url)
        store = Store(engine, SystemClock())
        try:
            barrier.wait()
            for i in range(per_writer):
                with store.write() as tx:
                    tx.record(actor=f"system:writer-{n}", kind="test.appended", payload={"i": i})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert verify_stored_chain(ctx.store) == writers * per_writer


def test_tampering_below_the_application_is_detected(ctx: AppContext) -> None:
    """Someone with database access disables the guard and edits history: the chain check names the event."""
    for i in range(5):
        with ctx.store.write() as tx:
            tx.record(actor="system", kind="test.recorded", payload={"i": i})
    with ctx.engine.begin() as conn:
        if is_sqlite(ctx.engine):
            conn.execute(text("DROP TRIGGER events_no_update"))
        else:
            conn.execute(text("ALTER TABLE events DISABLE TRIGGER events_no_change"))
        conn.execute(text("UPDATE events SET payload = :p WHERE seq = 3"), {"p": '{"i": 99}'})
    with pytest.raises(ChainBroken) as broken:
        verify_stored_chain(ctx.store)
    assert broken.value.seq == 3


def test_the_migration_indexes_the_recording_segments_logged_one_event_each(ctx: AppContext) -> None:
    """Databases from before batched recording lines: the segments their single-line events logged are served
    by the replay after the upgrade, through the new index."""
    migrate.downgrade(ctx.engine, "0013")
    payload = {"publisher": "JN-GGZY/R1/cam", "track": "video-1", "type": "segment", "index": 1,
               "file": "seg-000001.webm", "sha256": "ab" * 32}
    with ctx.engine.begin() as conn:
        conn.execute(text("INSERT INTO events (seq, recorded_at, actor, kind, session_id, payload, prev_hash, hash) "
                          "VALUES (1, :at, 'system:media', 'media.segment_recorded', 's-1', :payload, :zero, :hash)"),
                     {"at": format_time(T0), "payload": json.dumps(payload), "zero": "0" * 64,
                      "hash": "1" * 64})
    migrate.upgrade(ctx.engine)
    with ctx.store.read() as s:
        row = s.get(RecordingSegment, ("s-1", "JN-GGZY_R1_cam", "video-1", "seg-000001.webm"))
    assert row is not None and (row.publisher, row.track, row.sha256) == ("JN-GGZY/R1/cam", "video-1", "ab" * 32)


def _chains_record(ctx: AppContext) -> None:
    """Seven events: the coordinator's own, and two sessions' interleaved (seq 1..7)."""
    for i, session_id in enumerate([None, "s-a", "s-b", "s-a", "s-b", "s-a", None]):
        with ctx.store.write() as tx:
            tx.record(actor="system", kind="test.recorded", session_id=session_id, payload={"i": i})


def _tamper(ctx: AppContext, *statements: str) -> None:
    with ctx.engine.begin() as conn:
        if is_sqlite(ctx.engine):
            conn.execute(text("DROP TRIGGER events_no_update"))
            conn.execute(text("DROP TRIGGER events_no_delete"))
        else:
            conn.execute(text("ALTER TABLE events DISABLE TRIGGER events_no_change"))
        for statement in statements:
            conn.execute(text(statement))


@pytest.mark.parametrize("tampering, statements, at", [
    ("altered", ["UPDATE events SET payload = '{\"i\": 99}' WHERE seq = 4"], "chain s-a at position 2"),
    ("dropped", ["DELETE FROM events WHERE seq = 4"], "seq 4"),
    ("dropped at the end", ["DELETE FROM events WHERE seq = 7"], "seq 7"),
    ("reordered", ["UPDATE events SET seq = -4 WHERE seq = 4", "UPDATE events SET seq = 4 WHERE seq = 6",
                   "UPDATE events SET seq = 6 WHERE seq = -4"], "chain s-a at position 3"),
])
def test_verify_events_finds_an_altered_dropped_or_reordered_event(ctx: AppContext, tampering: str,
                                                                    statements: list[str], at: str) -> None:
    """Below the application (the guard disabled): the check names where the record breaks."""
    _chains_record(ctx)
    assert verify_stored_chain(ctx.store) == 7
    _tamper(ctx, *statements)
    with pytest.raises(ChainBroken) as broken:
        verify_stored_chain(ctx.store)
    assert at in str(broken.value), (tampering, str(broken.value))


def test_chains_are_per_session_and_seq_is_one_order(ctx: AppContext) -> None:
    _chains_record(ctx)
    with ctx.store.read() as s:
        events = read_events(s, limit=100)
    assert [e.seq for e in events] == list(range(1, 8))
    assert [(e.chain, e.position) for e in events] == [("coordinator", 1), ("s-a", 1), ("s-b", 1), ("s-a", 2),
                                                       ("s-b", 2), ("s-a", 3), ("coordinator", 2)]
    assert events[3].prev_hash == events[1].hash and events[0].prev_hash == GENESIS_HASH


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_write_holding_one_sessions_chain_holds_up_that_session_only(ctx: AppContext) -> None:
    """Writer A stops in the middle of appending to session A's chain (its head locked): a write to session B
    commits meanwhile, a second write to session A waits for A, and the record is whole afterwards."""
    locked, release = threading.Event(), threading.Event()
    finished: dict[str, float] = {}

    def write(name: str, session_id: str, hold: bool = False) -> None:
        engine = make_engine(ctx.settings.effective_database_url)
        try:
            with Store(engine, SystemClock()).write() as tx:
                tx.record(actor=f"system:{name}", kind="test.recorded", session_id=session_id, payload={},
                          on_appended=(lambda _ev: (locked.set(), release.wait(20))) if hold else None)
            finished[name] = time.monotonic()
        finally:
            engine.dispose()

    a = threading.Thread(target=write, args=("a", "s-a", True))
    a.start()
    assert locked.wait(10)
    b = threading.Thread(target=write, args=("b", "s-b"))
    a2 = threading.Thread(target=write, args=("a2", "s-a"))
    b.start()
    a2.start()
    b.join(10)
    assert "b" in finished, "a write to another session waited for session A's"
    time.sleep(0.5)
    assert "a2" not in finished, "a second write to session A did not wait for the first"
    release.set()
    a.join(10)
    a2.join(10)
    # a2 waited for a: its record is chained after a's. (Not the threads' finishing times: once a commits, a2 may
    # commit and note its time before a's thread notes its own.)
    with ctx.store.read() as s:
        rows = {r.actor: r for r in s.scalars(select(EventRow).where(EventRow.session_id == "s-a"))}
    assert rows["system:a2"].prev_hash == rows["system:a"].hash
    assert verify_stored_chain(ctx.store) == 3


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_events_a_writer_left_without_seq_are_numbered_by_the_sequencer_and_unseen_until_then(
        ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer that died between its commit and its numbering: the events wait, invisible to readers, and the
    leader's sequencer numbers them in their chain's order."""
    assert ctx.store.sequencing == "deferred"
    engine = make_engine(ctx.settings.effective_database_url)
    crashed = Store(engine, SystemClock())
    monkeypatch.setattr(crashed, "sequence_pending", lambda **_: (_ for _ in ()).throw(RuntimeError("died")))
    try:
        for i in range(3):
            with crashed.write() as tx:
                tx.record(actor="system", kind="test.recorded", session_id="s-a", payload={"i": i})
    finally:
        engine.dispose()
    with ctx.store.read() as s:
        assert read_events(s, limit=10) == []
    assert verify_stored_chain(ctx.store) == 3  # whole, if not yet in order
    assert ctx.store.sequence_pending() == 3
    with ctx.store.read() as s:
        assert [(e.seq, e.position) for e in read_events(s, limit=10)] == [(1, 1), (2, 2), (3, 3)]
    assert ctx.store.head()[0] == 3


def test_an_upgraded_database_keeps_its_old_events_verifiable_and_chains_what_comes_next(ctx: AppContext) -> None:
    """The events recorded before schema 0015 are one coordinator-wide chain of format 1: after the upgrade it is
    the checked prefix of the record, and new events start their sessions' chains."""
    migrate.downgrade(ctx.engine, "0014")
    legacy, prev = [], None
    for i, session_id in enumerate(["s-a", None, "s-a"]):
        prev = next_event(prev_seq=prev.seq if prev else 0, prev_hash=prev.hash if prev else GENESIS_HASH,
                          recorded_at=format_time(T0), actor="system", kind="test.recorded",
                          session_id=session_id, payload={"i": i})
        legacy.append(prev)
    with ctx.engine.begin() as conn:
        for ev in legacy:
            conn.execute(text("INSERT INTO events (seq, recorded_at, actor, kind, session_id, payload, prev_hash, hash) "
                              "VALUES (:seq, :recorded_at, :actor, :kind, :session_id, :payload, :prev_hash, :hash)"),
                         {**ev.as_dict(), "payload": json.dumps(dict(ev.payload))})
        conn.execute(text("UPDATE event_head SET seq = 3, hash = :h"), {"h": legacy[-1].hash})
    migrate.upgrade(ctx.engine)
    with ctx.store.write() as tx:
        tx.record(actor="system", kind="test.recorded", session_id="s-a", payload={"i": 3})
    assert verify_stored_chain(ctx.store) == 4
    with ctx.store.read() as s:
        events = read_events(s, limit=10)
    assert [(e.seq, e.version, e.chain, e.position) for e in events] == [
        (1, 1, "s-a", None), (2, 1, "coordinator", None), (3, 1, "s-a", None), (4, 2, "s-a", 1)]
    _tamper(ctx, "UPDATE events SET actor = 'someone' WHERE seq = 2")
    with pytest.raises(ChainBroken, match="seq 2"):
        verify_stored_chain(ctx.store)
