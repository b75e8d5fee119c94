"""A chain of events per session, and the coordinator-wide order given after commit.

Until now every write locked one chain head for the whole coordinator, so writes of different sessions waited
for each other. From here (evalroom/domain/events.py, format 2) each session's events form a chain of their own
(``chain``, ``position``, linked by ``prev_hash``) and the coordinator's own records one more; ``event_chains``
holds each chain's head, which writers lock. ``seq`` (the order streams and cursors follow) is given once an
event is committed, so it may be empty for a moment (PostgreSQL's sequencer fills it; storage/store.py), and
``id`` is the new primary key. The events recorded before this revision keep their format (1) and hashes:
they are the prefix of the record that ``verify-events`` checks as one chain, as before.

Also: ``event_venues`` refers to the event's ``id``; a supervision mark names its event by hash (its order is
its event's); the append-only triggers let PostgreSQL's sequencer set ``seq`` once, and nothing else.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

MESSAGE = "events are append-only"
_EVENT_COLUMNS = "recorded_at, actor, kind, session_id, payload, prev_hash, hash"


def upgrade() -> None:
    op.create_table('event_chains',
    sa.Column('chain', sa.String(length=36), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('chain', name=op.f('pk_event_chains'))
    )
    if op.get_bind().dialect.name == "sqlite":
        _upgrade_sqlite()
    else:
        _upgrade_postgresql()
    with op.batch_alter_table('supervision_marks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_hash', sa.String(length=64), nullable=True))
    op.execute("UPDATE supervision_marks SET event_hash = "
               "(SELECT hash FROM events WHERE events.seq = supervision_marks.event_seq)")
    with op.batch_alter_table('supervision_marks', schema=None) as batch_op:
        batch_op.alter_column('event_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('event_seq')


def _upgrade_sqlite() -> None:
    # The routing rows first, without their reference to events.seq (SQLite checks it when events is dropped).
    op.execute("CREATE TABLE event_venues_new (venue_id VARCHAR(36) NOT NULL, event_id INTEGER NOT NULL, "
               "CONSTRAINT pk_event_venues PRIMARY KEY (venue_id, event_id), "
               "CONSTRAINT fk_event_venues_venue_id_venues FOREIGN KEY(venue_id) REFERENCES venues (id))")
    op.execute("INSERT INTO event_venues_new (venue_id, event_id) SELECT venue_id, seq FROM event_venues")
    op.execute("DROP TABLE event_venues")
    # The events table rebuilt (SQLite cannot change a primary key in place); its triggers go with it.
    op.execute("CREATE TABLE events_new (id INTEGER NOT NULL, seq BIGINT, chain VARCHAR(36) NOT NULL, "
               "position BIGINT, version SMALLINT NOT NULL, recorded_at VARCHAR(32) NOT NULL, "
               "actor VARCHAR(200) NOT NULL, kind VARCHAR(100) NOT NULL, session_id VARCHAR(36), payload JSON NOT NULL, "
               "prev_hash VARCHAR(64) NOT NULL, hash VARCHAR(64) NOT NULL, CONSTRAINT pk_events PRIMARY KEY (id), "
               "CONSTRAINT uq_events_seq UNIQUE (seq), CONSTRAINT uq_events_chain_position UNIQUE (chain, position), "
               "CONSTRAINT uq_events_hash UNIQUE (hash))")
    op.execute(f"INSERT INTO events_new (id, seq, chain, position, version, {_EVENT_COLUMNS}) "
               f"SELECT seq, seq, COALESCE(session_id, 'coordinator'), NULL, 1, {_EVENT_COLUMNS} FROM events")
    op.execute("DROP TABLE events")
    op.execute("ALTER TABLE events_new RENAME TO events")
    op.execute("CREATE INDEX ix_events_session_id_seq ON events (session_id, seq)")
    op.execute("CREATE INDEX ix_events_unsequenced ON events (id) WHERE seq IS NULL")
    op.execute("CREATE TABLE event_venues_ref (venue_id VARCHAR(36) NOT NULL, event_id INTEGER NOT NULL, "
               "CONSTRAINT pk_event_venues PRIMARY KEY (venue_id, event_id), "
               "CONSTRAINT fk_event_venues_event_id_events FOREIGN KEY(event_id) REFERENCES events (id), "
               "CONSTRAINT fk_event_venues_venue_id_venues FOREIGN KEY(venue_id) REFERENCES venues (id))")
    op.execute("INSERT INTO event_venues_ref SELECT venue_id, event_id FROM event_venues_new")
    op.execute("DROP TABLE event_venues_new")
    op.execute("ALTER TABLE event_venues_ref RENAME TO event_venues")
    for action in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER events_no_{action.lower()} BEFORE {action} ON events "
                   f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def _upgrade_postgresql() -> None:
    op.execute("ALTER TABLE events DISABLE TRIGGER events_no_change")
    op.execute("ALTER TABLE event_venues DROP CONSTRAINT fk_event_venues_seq_events")
    op.execute("ALTER TABLE events ADD COLUMN id BIGINT, ADD COLUMN chain VARCHAR(36), ADD COLUMN position BIGINT, "
               "ADD COLUMN version SMALLINT")
    op.execute("UPDATE events SET id = seq, chain = COALESCE(session_id, 'coordinator'), version = 1")
    op.execute("ALTER TABLE events DROP CONSTRAINT pk_events")
    op.execute("ALTER TABLE events ALTER COLUMN seq DROP NOT NULL, ALTER COLUMN id SET NOT NULL, "
               "ALTER COLUMN chain SET NOT NULL, ALTER COLUMN version SET NOT NULL")
    op.execute("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (id), "
               "ADD CONSTRAINT uq_events_seq UNIQUE (seq), "
               "ADD CONSTRAINT uq_events_chain_position UNIQUE (chain, position)")
    op.execute("CREATE SEQUENCE events_id_seq OWNED BY events.id")
    op.execute("SELECT setval('events_id_seq', COALESCE((SELECT max(id) FROM events), 0) + 1, false)")
    op.execute("ALTER TABLE events ALTER COLUMN id SET DEFAULT nextval('events_id_seq')")
    op.execute("DROP INDEX ix_events_session_id")
    op.execute("CREATE INDEX ix_events_session_id_seq ON events (session_id, seq)")
    op.execute("CREATE INDEX ix_events_unsequenced ON events (id) WHERE seq IS NULL")
    op.execute("ALTER TABLE event_venues RENAME COLUMN seq TO event_id")
    op.execute("ALTER TABLE event_venues ADD CONSTRAINT fk_event_venues_event_id_events "
               "FOREIGN KEY (event_id) REFERENCES events (id)")
    # The sequencer sets seq once, on a row that has none, changing nothing else; everything else is refused.
    op.execute("CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               "IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL AND "
               "(NEW.id, NEW.chain, NEW.position, NEW.version, NEW.recorded_at, NEW.actor, NEW.kind, NEW.session_id, "
               "NEW.payload::text, NEW.prev_hash, NEW.hash) IS NOT DISTINCT FROM "
               "(OLD.id, OLD.chain, OLD.position, OLD.version, OLD.recorded_at, OLD.actor, OLD.kind, OLD.session_id, "
               "OLD.payload::text, OLD.prev_hash, OLD.hash) THEN RETURN NEW; END IF; "
               f"RAISE EXCEPTION '{MESSAGE}'; END $$")
    op.execute("ALTER TABLE events ENABLE TRIGGER events_no_change")


def downgrade() -> None:
    """Back to one coordinator-wide chain: only a database whose events are all of format 1 (nothing was
    recorded since the upgrade) can go back; otherwise the events would lose what their hashes commit to."""
    if op.get_bind().execute(sa.text("SELECT count(*) FROM events WHERE version <> 1 OR seq IS NULL")).scalar():
        raise RuntimeError("events of format 2 were recorded since 0015: they cannot be turned back")
    with op.batch_alter_table('supervision_marks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_seq', sa.BigInteger(), nullable=True))
    op.execute("UPDATE supervision_marks SET event_seq = "
               "(SELECT seq FROM events WHERE events.hash = supervision_marks.event_hash)")
    with op.batch_alter_table('supervision_marks', schema=None) as batch_op:
        batch_op.alter_column('event_seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_column('event_hash')
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE TABLE event_venues_old (venue_id VARCHAR(36) NOT NULL, seq BIGINT NOT NULL, "
                   "CONSTRAINT pk_event_venues PRIMARY KEY (venue_id, seq), "
                   "CONSTRAINT fk_event_venues_venue_id_venues FOREIGN KEY(venue_id) REFERENCES venues (id))")
        op.execute("INSERT INTO event_venues_old SELECT venue_id, event_id FROM event_venues")
        op.execute("DROP TABLE event_venues")
        op.execute("CREATE TABLE events_old (seq BIGINT NOT NULL, recorded_at VARCHAR(32) NOT NULL, "
                   "actor VARCHAR(200) NOT NULL, kind VARCHAR(100) NOT NULL, session_id VARCHAR(36), "
                   "payload JSON NOT NULL, prev_hash VARCHAR(64) NOT NULL, hash VARCHAR(64) NOT NULL, "
                   "CONSTRAINT pk_events PRIMARY KEY (seq), CONSTRAINT uq_events_hash UNIQUE (hash))")
        op.execute(f"INSERT INTO events_old (seq, {_EVENT_COLUMNS}) SELECT seq, {_EVENT_COLUMNS} FROM events")
        op.execute("DROP TABLE events")
        op.execute("ALTER TABLE events_old RENAME TO events")
        op.execute("CREATE INDEX ix_events_session_id ON events (session_id)")
        op.execute("CREATE TABLE event_venues_ref (venue_id VARCHAR(36) NOT NULL, seq BIGINT NOT NULL, "
                   "CONSTRAINT pk_event_venues PRIMARY KEY (venue_id, seq), "
                   "CONSTRAINT fk_event_venues_seq_events FOREIGN KEY(seq) REFERENCES events (seq), "
                   "CONSTRAINT fk_event_venues_venue_id_venues FOREIGN KEY(venue_id) REFERENCES venues (id))")
        op.execute("INSERT INTO event_venues_ref SELECT venue_id, seq FROM event_venues_old")
        op.execute("DROP TABLE event_venues_old")
        op.execute("ALTER TABLE event_venues_ref RENAME TO event_venues")
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER events_no_{action.lower()} BEFORE {action} ON events "
                       f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")
    else:
        op.execute("ALTER TABLE event_venues DROP CONSTRAINT fk_event_venues_event_id_events")
        op.execute("ALTER TABLE event_venues RENAME COLUMN event_id TO seq")
        op.execute("DROP INDEX ix_events_unsequenced")
        op.execute("DROP INDEX ix_events_session_id_seq")
        op.execute("CREATE INDEX ix_events_session_id ON events (session_id)")
        op.execute("ALTER TABLE events DROP CONSTRAINT pk_events, DROP CONSTRAINT uq_events_seq, "
                   "DROP CONSTRAINT uq_events_chain_position")
        op.execute("ALTER TABLE events DROP COLUMN id, DROP COLUMN chain, DROP COLUMN position, DROP COLUMN version")
        op.execute("ALTER TABLE events ALTER COLUMN seq SET NOT NULL, ADD CONSTRAINT pk_events PRIMARY KEY (seq)")
        op.execute("ALTER TABLE event_venues ADD CONSTRAINT fk_event_venues_seq_events "
                   "FOREIGN KEY (seq) REFERENCES events (seq)")
        op.execute("CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$")
    op.drop_table('event_chains')
