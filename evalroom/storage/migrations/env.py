"""Alembic environment. Run through evalroom.storage.migrate (``evalroom db upgrade``), which passes the
connection in; there is no alembic.ini and no URL in any file."""

from __future__ import annotations

from alembic import context

from evalroom.storage.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
