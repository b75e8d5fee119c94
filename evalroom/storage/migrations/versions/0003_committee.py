"""The committee: expert pools (identity numbers sealed, found by keyed hash), committees with their plan,
draws with commitment and revealed seed, committee members, and chair votes.

The partial unique indexes on committee_members hold the rules a racing writer must not break: an expert is
drawn at most once per session; a person holds at most one live place and a seat at most one live member.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evalroom.storage.models import UTCDateTime

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('experts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('region_id', sa.String(length=36), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=True),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('id_number_hash', sa.String(length=64), nullable=False),
    sa.Column('id_number_sealed', sa.String(length=200), nullable=False),
    sa.Column('id_number_masked', sa.String(length=18), nullable=False),
    sa.Column('employer', sa.String(length=200), nullable=False),
    sa.Column('specialties', sa.JSON(), nullable=False),
    sa.Column('certificate', sa.String(length=200), nullable=True),
    sa.Column('credit_status', sa.String(length=16), nullable=False),
    sa.Column('credit_reason', sa.String(length=500), nullable=True),
    sa.Column('punished', sa.Boolean(), nullable=False),
    sa.Column('ties', sa.JSON(), nullable=False),
    sa.Column('unavailable', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("credit_status IN ('active', 'suspended', 'blacklisted')", name=op.f('ck_experts_credit_status')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_experts_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_experts')),
    sa.UniqueConstraint('id_number_hash', name=op.f('uq_experts_id_number_hash')),
    sa.UniqueConstraint('region_id', 'code', name=op.f('uq_experts_region_id_code'))
    )
    with op.batch_alter_table('experts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_experts_region_id'), ['region_id'], unique=False)

    op.create_table('committees',
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('plan', sa.JSON(), nullable=False),
    sa.Column('parties', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('election_round', sa.Integer(), nullable=False),
    sa.Column('election_candidates', sa.JSON(), nullable=True),
    sa.Column('chair_member_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_committees_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_committees'))
    )
    op.create_table('draws',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('vacancy_member_id', sa.String(length=36), nullable=True),
    sa.Column('commitment', sa.String(length=64), nullable=False),
    sa.Column('seed_sealed', sa.String(length=200), nullable=False),
    sa.Column('seed_hex', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=8), nullable=True),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('performed_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('revealed_at', UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('drawn', 'failed')", name=op.f('ck_draws_outcome')),
    sa.CheckConstraint("purpose IN ('initial', 'replacement')", name=op.f('ck_draws_purpose')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_draws_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_draws'))
    )
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_draws_session_id'), ['session_id'], unique=False)

    op.create_table('expert_evaluations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('expert_id', sa.String(length=36), nullable=False),
    sa.Column('tenderer', sa.String(length=200), nullable=False),
    sa.Column('evaluated_on', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=True),
    sa.CheckConstraint("source IN ('import', 'session')", name=op.f('ck_expert_evaluations_source')),
    sa.ForeignKeyConstraint(['expert_id'], ['experts.id'], name=op.f('fk_expert_evaluations_expert_id_experts')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_expert_evaluations_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expert_evaluations'))
    )
    with op.batch_alter_table('expert_evaluations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_expert_evaluations_expert_id'), ['expert_id'], unique=False)

    op.create_table('committee_members',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('expert_id', sa.String(length=36), nullable=True),
    sa.Column('draw_id', sa.String(length=36), nullable=True),
    sa.Column('venue_id', sa.String(length=36), nullable=False),
    sa.Column('specialty', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('id_number_hash', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('replaces_member_id', sa.String(length=36), nullable=True),
    sa.Column('seat_id', sa.String(length=36), nullable=True),
    sa.Column('checked_in_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('login_code_hash', sa.String(length=64), nullable=True),
    sa.Column('login_code_expires_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('token_jti', sa.String(length=64), nullable=True),
    sa.Column('declared_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('declaration_sha256', sa.String(length=64), nullable=True),
    sa.Column('vacancy_reason', sa.String(length=500), nullable=True),
    sa.Column('vacated_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'expert') = (expert_id IS NOT NULL)", name=op.f('ck_committee_members_expert_has_expert')),
    sa.CheckConstraint("kind IN ('expert', 'representative')", name=op.f('ck_committee_members_kind')),
    sa.CheckConstraint("state IN ('drawn', 'checked_in', 'seated', 'declined', 'no_show', 'recused', 'voided')", name=op.f('ck_committee_members_state')),
    sa.ForeignKeyConstraint(['draw_id'], ['draws.id'], name=op.f('fk_committee_members_draw_id_draws')),
    sa.ForeignKeyConstraint(['expert_id'], ['experts.id'], name=op.f('fk_committee_members_expert_id_experts')),
    sa.ForeignKeyConstraint(['seat_id'], ['seats.id'], name=op.f('fk_committee_members_seat_id_seats')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_committee_members_session_id_eval_sessions')),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_committee_members_venue_id_venues')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_committee_members')),
    sa.UniqueConstraint('login_code_hash', name=op.f('uq_committee_members_login_code_hash'))
    )
    with op.batch_alter_table('committee_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_committee_members_expert_id'), ['expert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_committee_members_id_number_hash'), ['id_number_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_committee_members_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_committee_members_venue_id'), ['venue_id'], unique=False)
        batch_op.create_index('uq_committee_members_expert', ['session_id', 'expert_id'], unique=True, sqlite_where=sa.text('expert_id IS NOT NULL'), postgresql_where=sa.text('expert_id IS NOT NULL'))
        batch_op.create_index('uq_committee_members_live_person', ['session_id', 'id_number_hash'], unique=True, sqlite_where=sa.text("state IN ('drawn', 'checked_in', 'seated')"), postgresql_where=sa.text("state IN ('drawn', 'checked_in', 'seated')"))
        batch_op.create_index('uq_committee_members_live_seat', ['session_id', 'seat_id'], unique=True, sqlite_where=sa.text("seat_id IS NOT NULL AND state IN ('drawn', 'checked_in', 'seated')"), postgresql_where=sa.text("seat_id IS NOT NULL AND state IN ('drawn', 'checked_in', 'seated')"))

    op.create_table('chair_votes',
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('voter_member_id', sa.String(length=36), nullable=False),
    sa.Column('candidate_member_id', sa.String(length=36), nullable=False),
    sa.Column('cast_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['candidate_member_id'], ['committee_members.id'], name=op.f('fk_chair_votes_candidate_member_id_committee_members')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_chair_votes_session_id_eval_sessions')),
    sa.ForeignKeyConstraint(['voter_member_id'], ['committee_members.id'], name=op.f('fk_chair_votes_voter_member_id_committee_members')),
    sa.PrimaryKeyConstraint('session_id', 'round', 'voter_member_id', name=op.f('pk_chair_votes'))
    )


def downgrade() -> None:
    op.drop_table('chair_votes')
    with op.batch_alter_table('committee_members', schema=None) as batch_op:
        batch_op.drop_index('uq_committee_members_live_seat', sqlite_where=sa.text("seat_id IS NOT NULL AND state IN ('drawn', 'checked_in', 'seated')"), postgresql_where=sa.text("seat_id IS NOT NULL AND state IN ('drawn', 'checked_in', 'seated')"))
        batch_op.drop_index('uq_committee_members_live_person', sqlite_where=sa.text("state IN ('drawn', 'checked_in', 'seated')"), postgresql_where=sa.text("state IN ('drawn', 'checked_in', 'seated')"))
        batch_op.drop_index('uq_committee_members_expert', sqlite_where=sa.text('expert_id IS NOT NULL'), postgresql_where=sa.text('expert_id IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_committee_members_venue_id'))
        batch_op.drop_index(batch_op.f('ix_committee_members_session_id'))
        batch_op.drop_index(batch_op.f('ix_committee_members_id_number_hash'))
        batch_op.drop_index(batch_op.f('ix_committee_members_expert_id'))

    op.drop_table('committee_members')
    with op.batch_alter_table('expert_evaluations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_expert_evaluations_expert_id'))

    op.drop_table('expert_evaluations')
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_draws_session_id'))

    op.drop_table('draws')
    op.drop_table('committees')
    with op.batch_alter_table('experts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_experts_region_id'))

    op.drop_table('experts')
