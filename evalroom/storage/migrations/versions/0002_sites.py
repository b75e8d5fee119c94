"""Sites: region specialties, venue credentials and link state, rooms, seats, offers, seat bookings, and the
venue routing of events.

Besides the tables, the rule "no seat is booked twice for overlapping time" (and "a single-project room holds
one session at a time") is installed in the database itself, so that two coordinator processes racing cannot
double-book even if both pass the service's own check:
- PostgreSQL: exclusion constraints over ``tstzrange(starts_at, ends_at)`` (half-open, so back-to-back
  bookings do not clash), with ``btree_gist`` for the equality parts (a trusted extension since PostgreSQL 13,
  so the database owner may create it).
- SQLite: BEFORE INSERT / UPDATE triggers that abort on an overlap. SQLite writers are serialised
  (BEGIN IMMEDIATE), so the check and the insert cannot interleave with another writer. Times are stored as
  fixed-width UTC text, so comparing them as text compares the instants.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evalroom.storage.models import UTCDateTime

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('region_specialties',
    sa.Column('region_id', sa.String(length=36), nullable=False),
    sa.Column('specialty', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_region_specialties_region_id_regions')),
    sa.PrimaryKeyConstraint('region_id', 'specialty', name=op.f('pk_region_specialties'))
    )
    op.create_table('event_venues',
    sa.Column('venue_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['seq'], ['events.seq'], name=op.f('fk_event_venues_seq_events')),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_event_venues_venue_id_venues')),
    sa.PrimaryKeyConstraint('venue_id', 'seq', name=op.f('pk_event_venues'))
    )
    op.create_table('rooms',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('venue_id', sa.String(length=36), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('fault', sa.String(length=500), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('single', 'shared')", name=op.f('ck_rooms_kind')),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_rooms_venue_id_venues')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rooms')),
    sa.UniqueConstraint('venue_id', 'code', name=op.f('uq_rooms_venue_id_code'))
    )
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rooms_venue_id'), ['venue_id'], unique=False)

    op.create_table('venue_credentials',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('venue_id', sa.String(length=36), nullable=False),
    sa.Column('public_key', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_venue_credentials_venue_id_venues')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venue_credentials'))
    )
    with op.batch_alter_table('venue_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_venue_credentials_venue_id'), ['venue_id'], unique=False)

    op.create_table('offers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('host_venue_id', sa.String(length=36), nullable=False),
    sa.Column('guest_venue_id', sa.String(length=36), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('specialties', sa.JSON(), nullable=False),
    sa.Column('starts_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('respond_by', UTCDateTime(timezone=True), nullable=False),
    sa.Column('proposed_by', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("proposed_by IN ('host', 'coordinator')", name=op.f('ck_offers_proposed_by')),
    sa.CheckConstraint("state IN ('pending', 'confirmed', 'declined', 'expired', 'cancelled')", name=op.f('ck_offers_state')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_offers_window_order')),
    sa.CheckConstraint('guest_venue_id <> host_venue_id', name=op.f('ck_offers_guest_not_host')),
    sa.CheckConstraint('seats > 0', name=op.f('ck_offers_seats_positive')),
    sa.ForeignKeyConstraint(['guest_venue_id'], ['venues.id'], name=op.f('fk_offers_guest_venue_id_venues')),
    sa.ForeignKeyConstraint(['host_venue_id'], ['venues.id'], name=op.f('fk_offers_host_venue_id_venues')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_offers_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offers'))
    )
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offers_guest_venue_id'), ['guest_venue_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offers_respond_by'), ['respond_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_offers_session_id'), ['session_id'], unique=False)
        batch_op.create_index('uq_offers_live_guest', ['session_id', 'guest_venue_id'], unique=True, sqlite_where=sa.text("state IN ('pending', 'confirmed')"), postgresql_where=sa.text("state IN ('pending', 'confirmed')"))

    op.create_table('seats',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('room_id', sa.String(length=36), nullable=False),
    sa.Column('venue_id', sa.String(length=36), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('pc', sa.String(length=8), nullable=False),
    sa.Column('network', sa.String(length=8), nullable=False),
    sa.Column('microphone', sa.String(length=8), nullable=False),
    sa.Column('speaker', sa.String(length=8), nullable=False),
    sa.Column('camera', sa.String(length=8), nullable=False),
    sa.Column('devices_reported_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('fault', sa.String(length=500), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("camera IN ('ok', 'fault', 'unknown')", name=op.f('ck_seats_camera_state')),
    sa.CheckConstraint("microphone IN ('ok', 'fault', 'unknown')", name=op.f('ck_seats_microphone_state')),
    sa.CheckConstraint("network IN ('ok', 'fault', 'unknown')", name=op.f('ck_seats_network_state')),
    sa.CheckConstraint("pc IN ('ok', 'fault', 'unknown')", name=op.f('ck_seats_pc_state')),
    sa.CheckConstraint("speaker IN ('ok', 'fault', 'unknown')", name=op.f('ck_seats_speaker_state')),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_seats_room_id_rooms')),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_seats_venue_id_venues')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seats')),
    sa.UniqueConstraint('room_id', 'code', name=op.f('uq_seats_room_id_code'))
    )
    with op.batch_alter_table('seats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seats_room_id'), ['room_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_seats_venue_id'), ['venue_id'], unique=False)

    op.create_table('seat_bookings',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('seat_id', sa.String(length=36), nullable=False),
    sa.Column('room_id', sa.String(length=36), nullable=False),
    sa.Column('venue_id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('offer_id', sa.String(length=36), nullable=True),
    sa.Column('starts_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('room_exclusive', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('released_at', UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_seat_bookings_window_order')),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_seat_bookings_offer_id_offers')),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_seat_bookings_room_id_rooms')),
    sa.ForeignKeyConstraint(['seat_id'], ['seats.id'], name=op.f('fk_seat_bookings_seat_id_seats')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_seat_bookings_session_id_eval_sessions')),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_seat_bookings_venue_id_venues')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seat_bookings'))
    )
    with op.batch_alter_table('seat_bookings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seat_bookings_offer_id'), ['offer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_seat_bookings_room_id'), ['room_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_seat_bookings_seat_id'), ['seat_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_seat_bookings_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_seat_bookings_venue_id'), ['venue_id'], unique=False)

    with op.batch_alter_table('eval_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('check_in_opened_at', UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ca_name', sa.String(length=200), nullable=True))

    with op.batch_alter_table('venues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('online', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('link_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('last_heartbeat_at', UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_lent_at', UTCDateTime(timezone=True), nullable=True))

    _install_booking_exclusion()


def downgrade() -> None:
    _drop_booking_exclusion()
    with op.batch_alter_table('venues', schema=None) as batch_op:
        batch_op.drop_column('last_lent_at')
        batch_op.drop_column('last_heartbeat_at')
        batch_op.drop_column('link_id')
        batch_op.drop_column('online')

    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.drop_column('ca_name')

    with op.batch_alter_table('eval_sessions', schema=None) as batch_op:
        batch_op.drop_column('check_in_opened_at')

    with op.batch_alter_table('seat_bookings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seat_bookings_venue_id'))
        batch_op.drop_index(batch_op.f('ix_seat_bookings_session_id'))
        batch_op.drop_index(batch_op.f('ix_seat_bookings_seat_id'))
        batch_op.drop_index(batch_op.f('ix_seat_bookings_room_id'))
        batch_op.drop_index(batch_op.f('ix_seat_bookings_offer_id'))

    op.drop_table('seat_bookings')
    with op.batch_alter_table('seats', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seats_venue_id'))
        batch_op.drop_index(batch_op.f('ix_seats_room_id'))

    op.drop_table('seats')
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_index('uq_offers_live_guest', sqlite_where=sa.text("state IN ('pending', 'confirmed')"), postgresql_where=sa.text("state IN ('pending', 'confirmed')"))
        batch_op.drop_index(batch_op.f('ix_offers_session_id'))
        batch_op.drop_index(batch_op.f('ix_offers_respond_by'))
        batch_op.drop_index(batch_op.f('ix_offers_guest_venue_id'))

    op.drop_table('offers')
    with op.batch_alter_table('venue_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_venue_credentials_venue_id'))

    op.drop_table('venue_credentials')
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rooms_venue_id'))

    op.drop_table('rooms')
    op.drop_table('event_venues')
    op.drop_table('region_specialties')


_OVERLAP = "b.released_at IS NULL AND b.starts_at < NEW.ends_at AND NEW.starts_at < b.ends_at"
_SQLITE_RULES = {
    "seat": f"b.seat_id = NEW.seat_id AND {_OVERLAP}",
    "room": f"NEW.room_exclusive AND b.room_exclusive AND b.room_id = NEW.room_id "
            f"AND b.session_id <> NEW.session_id AND {_OVERLAP}",
}


def _install_booking_exclusion() -> None:
    if op.get_context().dialect.name == "sqlite":
        for name, rule in _SQLITE_RULES.items():
            message = f"double_booked: {name} already booked for an overlapping time"
            op.execute(f"CREATE TRIGGER seat_bookings_{name}_insert BEFORE INSERT ON seat_bookings "
                       f"WHEN NEW.released_at IS NULL AND EXISTS (SELECT 1 FROM seat_bookings b WHERE {rule}) "
                       f"BEGIN SELECT RAISE(ABORT, '{message}'); END")
            op.execute(f"CREATE TRIGGER seat_bookings_{name}_update BEFORE UPDATE ON seat_bookings "
                       f"WHEN NEW.released_at IS NULL AND EXISTS (SELECT 1 FROM seat_bookings b "
                       f"WHERE b.id <> NEW.id AND {rule}) "
                       f"BEGIN SELECT RAISE(ABORT, '{message}'); END")
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute("ALTER TABLE seat_bookings ADD CONSTRAINT ex_seat_bookings_seat EXCLUDE USING gist "
                   "(seat_id WITH =, tstzrange(starts_at, ends_at) WITH &&) WHERE (released_at IS NULL)")
        op.execute("ALTER TABLE seat_bookings ADD CONSTRAINT ex_seat_bookings_room EXCLUDE USING gist "
                   "(room_id WITH =, session_id WITH <>, tstzrange(starts_at, ends_at) WITH &&) "
                   "WHERE (released_at IS NULL AND room_exclusive)")


def _drop_booking_exclusion() -> None:
    if op.get_context().dialect.name == "sqlite":
        for name in _SQLITE_RULES:
            op.execute(f"DROP TRIGGER seat_bookings_{name}_insert")
            op.execute(f"DROP TRIGGER seat_bookings_{name}_update")
    else:
        op.execute("ALTER TABLE seat_bookings DROP CONSTRAINT ex_seat_bookings_seat")
        op.execute("ALTER TABLE seat_bookings DROP CONSTRAINT ex_seat_bookings_room")
