"""Engines for the two supported databases, with the settings durability depends on.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL``: a transaction that returned from
COMMIT is on disk, so an acknowledged write survives a SIGKILL and a power cut. Write transactions start with
``BEGIN IMMEDIATE``: they take SQLite's single writer lock at the start instead of upgrading a read lock
half-way, which under concurrency fails with SQLITE_BUSY that no timeout can cure. Readers use plain ``BEGIN``
and, with WAL, never block the writer.

PostgreSQL needs nothing special here: writers serialise on the event-chain head row (``SELECT ... FOR
UPDATE``, see evalroom.storage.store), and unique constraints catch every other race.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

__all__ = ["WRITE", "is_sqlite", "make_engine"]

WRITE = {"evalroom_write": True}
"""Execution options that mark a connection as a writer (``engine.execution_options(**WRITE)``)."""

SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True, **kwargs)

    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
                           **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that _on_begin decides how BEGIN looks.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("evalroom_write") else "BEGIN")

    return engine
