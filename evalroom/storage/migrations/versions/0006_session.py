"""The evaluation session: the imported project, the session's state and phase columns, score sheets
(append-only versions), flags of the automatic checks, faults that suspend a session, dissents, requests
for more time, and the report's versions (JSON twin and PDF).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evalroom.storage.models import UTCDateTime

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('projects',
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('imported_by', sa.String(length=200), nullable=False),
    sa.Column('imported_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_projects_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_projects'))
    )
    op.create_table('reports',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('json_bytes', sa.LargeBinary(), nullable=False),
    sa.Column('json_sha256', sa.String(length=64), nullable=False),
    sa.Column('pdf_bytes', sa.LargeBinary(), nullable=False),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_reports_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
    sa.UniqueConstraint('session_id', 'version', name=op.f('uq_reports_session_id_version'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_session_id'), ['session_id'], unique=False)

    op.create_table('session_faults',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('venue_id', sa.String(length=36), nullable=False),
    sa.Column('cause', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.Column('started_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('fixed_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=24), nullable=True),
    sa.CheckConstraint("cause IN ('site_link', 'media')", name=op.f('ck_session_faults_cause')),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('continue', 'seal_and_reevaluate')", name=op.f('ck_session_faults_outcome')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_session_faults_session_id_eval_sessions')),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_session_faults_venue_id_venues')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_faults'))
    )
    with op.batch_alter_table('session_faults', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_faults_session_id'), ['session_id'], unique=False)

    op.create_table('dissents',
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('recorded_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['committee_members.id'], name=op.f('fk_dissents_member_id_committee_members')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_dissents_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('session_id', 'member_id', name=op.f('pk_dissents'))
    )
    op.create_table('extension_requests',
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('requested_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['committee_members.id'], name=op.f('fk_extension_requests_member_id_committee_members')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_extension_requests_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('session_id', 'member_id', name=op.f('pk_extension_requests'))
    )
    op.create_table('flags',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('bid', sa.String(length=80), nullable=False),
    sa.Column('criterion', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=True),
    sa.Column('raised_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by', sa.String(length=36), nullable=True),
    sa.Column('confirmed_at', UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('open', 'corrected', 'explained', 'cleared')", name=op.f('ck_flags_status')),
    sa.ForeignKeyConstraint(['member_id'], ['committee_members.id'], name=op.f('fk_flags_member_id_committee_members')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_flags_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flags')),
    sa.UniqueConstraint('session_id', 'member_id', 'bid', 'criterion', 'kind', name=op.f('uq_flags_session_id_member_id_bid_criterion_kind'))
    )
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flags_session_id'), ['session_id'], unique=False)

    op.create_table('sheets',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('phase', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('cause', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("phase IN ('review', 'detailed_review')", name=op.f('ck_sheets_phase')),
    sa.ForeignKeyConstraint(['member_id'], ['committee_members.id'], name=op.f('fk_sheets_member_id_committee_members')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_sheets_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sheets')),
    sa.UniqueConstraint('session_id', 'member_id', 'phase', 'version', name=op.f('uq_sheets_session_id_member_id_phase_version'))
    )
    with op.batch_alter_table('sheets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sheets_session_id'), ['session_id'], unique=False)

    with op.batch_alter_table('eval_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phase', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('started_at', UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('suspended_at', UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ended_at', UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('end_reason', sa.String(length=32), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('eval_sessions', schema=None) as batch_op:
        batch_op.drop_column('end_reason')
        batch_op.drop_column('ended_at')
        batch_op.drop_column('suspended_at')
        batch_op.drop_column('started_at')
        batch_op.drop_column('phase')

    with op.batch_alter_table('sheets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sheets_session_id'))

    op.drop_table('sheets')
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flags_session_id'))

    op.drop_table('flags')
    op.drop_table('extension_requests')
    op.drop_table('dissents')
    with op.batch_alter_table('session_faults', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_faults_session_id'))

    op.drop_table('session_faults')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_session_id'))

    op.drop_table('reports')
    op.drop_table('projects')
