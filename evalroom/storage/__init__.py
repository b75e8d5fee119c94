"""Storage adapters: SQLAlchemy models, the unit of work with the event chain, Alembic migrations."""
