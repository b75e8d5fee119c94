"""Storage on real SQLite and PostgreSQL: schema, the append-only chain, concurrency, atomicity."""

from __future__ import annotations

import threading
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from timebase import T0

from evalroom.api.context import AppContext
from evalroom.clock import SystemClock
from evalroom.domain.events import ChainBroken
from evalroom.errors import ConflictError
from evalroom.services import tlog
from evalroom.storage import migrate
from evalroom.storage.db import is_sqlite, make_engine
from evalroom.storage.models import Base, Region
from evalroom.storage.store import Store, verify_stored_chain


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
