"""Initial schema: the event chain, regions, venues, staff accounts, sessions, supervisors, revoked tokens.

Besides the tables: the genesis row of ``event_head`` and triggers that make ``events`` append-only on both
SQLite and PostgreSQL (an UPDATE, DELETE or, on PostgreSQL, TRUNCATE fails).

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evalroom.domain.events import GENESIS_HASH
from evalroom.storage.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_event_head_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_head'))
    )
    op.create_table('events',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('recorded_at', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=100), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_events')),
    sa.UniqueConstraint('hash', name=op.f('uq_events_hash'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_session_id'), ['session_id'], unique=False)

    op.create_table('regions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regions')),
    sa.UniqueConstraint('code', name=op.f('uq_regions_code'))
    )
    op.create_table('revoked_tokens',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_revoked_tokens'))
    )
    with op.batch_alter_table('revoked_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revoked_tokens_expires_at'), ['expires_at'], unique=False)

    op.create_table('venues',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('region_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_venues_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venues')),
    sa.UniqueConstraint('code', name=op.f('uq_venues_code'))
    )
    with op.batch_alter_table('venues', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_venues_region_id'), ['region_id'], unique=False)

    op.create_table('accounts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('venue_id', sa.String(length=36), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', UTCDateTime(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint("(role = 'hall-operator') = (venue_id IS NOT NULL)", name=op.f('ck_accounts_operator_has_venue')),
    sa.CheckConstraint("role IN ('coordinator-admin', 'hall-operator', 'supervisor')", name=op.f('ck_accounts_staff_role')),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_accounts_venue_id_venues')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('username', name=op.f('uq_accounts_username'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_venue_id'), ['venue_id'], unique=False)

    op.create_table('eval_sessions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('host_venue_id', sa.String(length=36), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('scheduled_start', UTCDateTime(), nullable=False),
    sa.Column('scheduled_end', UTCDateTime(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint('scheduled_end > scheduled_start', name=op.f('ck_eval_sessions_window_order')),
    sa.ForeignKeyConstraint(['host_venue_id'], ['venues.id'], name=op.f('fk_eval_sessions_host_venue_id_venues')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eval_sessions')),
    sa.UniqueConstraint('code', name=op.f('uq_eval_sessions_code'))
    )
    with op.batch_alter_table('eval_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eval_sessions_host_venue_id'), ['host_venue_id'], unique=False)

    op.create_table('session_supervisors',
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.CheckConstraint("level IN ('primary', 'secondary')", name=op.f('ck_session_supervisors_level')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_session_supervisors_account_id_accounts')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_session_supervisors_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('session_id', 'account_id', name=op.f('pk_session_supervisors'))
    )
    with op.batch_alter_table('session_supervisors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_supervisors_account_id'), ['account_id'], unique=False)
        batch_op.create_index('uq_session_supervisors_one_primary', ['session_id'], unique=True, sqlite_where=sa.text("level = 'primary'"), postgresql_where=sa.text("level = 'primary'"))



    op.execute(sa.text("INSERT INTO event_head (id, seq, hash) VALUES (1, 0, :h)").bindparams(h=GENESIS_HASH))
    _install_append_only_triggers()


_MESSAGE = "events are append-only"


def _install_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER events_no_{action.lower()} BEFORE {action} ON events "
                       f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END")
    else:
        op.execute("CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN RAISE EXCEPTION '{_MESSAGE}'; END $$")
        op.execute("CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events "
                   "FOR EACH ROW EXECUTE FUNCTION events_append_only()")
        op.execute("CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
                   "FOR EACH STATEMENT EXECUTE FUNCTION events_append_only()")


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER events_no_update")
        op.execute("DROP TRIGGER events_no_delete")
    else:
        op.execute("DROP TRIGGER events_no_change ON events")
        op.execute("DROP TRIGGER events_no_truncate ON events")
        op.execute("DROP FUNCTION events_append_only()")


def downgrade() -> None:
    _drop_append_only_triggers()
    with op.batch_alter_table('session_supervisors', schema=None) as batch_op:
        batch_op.drop_index('uq_session_supervisors_one_primary', sqlite_where=sa.text("level = 'primary'"), postgresql_where=sa.text("level = 'primary'"))
        batch_op.drop_index(batch_op.f('ix_session_supervisors_account_id'))

    op.drop_table('session_supervisors')
    with op.batch_alter_table('eval_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eval_sessions_host_venue_id'))

    op.drop_table('eval_sessions')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_venue_id'))

    op.drop_table('accounts')
    with op.batch_alter_table('venues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_venues_region_id'))

    op.drop_table('venues')
    with op.batch_alter_table('revoked_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revoked_tokens_expires_at'))

    op.drop_table('revoked_tokens')
    op.drop_table('regions')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_session_id'))

    op.drop_table('events')
    op.drop_table('event_head')
