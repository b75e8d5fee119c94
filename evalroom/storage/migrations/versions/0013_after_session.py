"""After the session: the candidates' publication and its objections, the experts' ratings, fee batches.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evalroom.storage.models import UTCDateTime

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fee_batches',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('payer_venue_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('total', sa.String(length=20), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['payer_venue_id'], ['venues.id'], name=op.f('fk_fee_batches_payer_venue_id_venues')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_fee_batches_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fee_batches')),
    sa.UniqueConstraint('session_id', 'payer_venue_id', 'version', name=op.f('uq_fee_batches_session_id_payer_venue_id_version'))
    )
    with op.batch_alter_table('fee_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fee_batches_session_id'), ['session_id'], unique=False)

    op.create_table('publications',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('report_version', sa.Integer(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('sealed_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.String(length=200), nullable=False),
    sa.Column('window_days', sa.Integer(), nullable=False),
    sa.Column('overdue', sa.Boolean(), nullable=False),
    sa.CheckConstraint('window_days >= 3', name=op.f('ck_publications_window_days')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_publications_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publications')),
    sa.UniqueConstraint('session_id', name=op.f('uq_publications_session_id'))
    )
    op.create_table('objections',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('publication_id', sa.String(length=36), nullable=False),
    sa.Column('objector', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('received_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_by', sa.String(length=200), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_by', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['publication_id'], ['publications.id'], name=op.f('fk_objections_publication_id_publications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_objections'))
    )
    with op.batch_alter_table('objections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_objections_publication_id'), ['publication_id'], unique=False)

    op.create_table('expert_ratings',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('expert_id', sa.String(length=36), nullable=False),
    sa.Column('rater', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('rated_by', sa.String(length=200), nullable=False),
    sa.Column('rated_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("rater IN ('host', 'tenderer')", name=op.f('ck_expert_ratings_rater')),
    sa.CheckConstraint('score >= 0 AND score <= 100', name=op.f('ck_expert_ratings_score_range')),
    sa.ForeignKeyConstraint(['expert_id'], ['experts.id'], name=op.f('fk_expert_ratings_expert_id_experts')),
    sa.ForeignKeyConstraint(['member_id'], ['committee_members.id'], name=op.f('fk_expert_ratings_member_id_committee_members')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_expert_ratings_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expert_ratings')),
    sa.UniqueConstraint('session_id', 'member_id', 'rater', name=op.f('uq_expert_ratings_session_id_member_id_rater'))
    )
    with op.batch_alter_table('expert_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_expert_ratings_expert_id'), ['expert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_expert_ratings_session_id'), ['session_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('expert_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_expert_ratings_session_id'))
        batch_op.drop_index(batch_op.f('ix_expert_ratings_expert_id'))

    op.drop_table('expert_ratings')
    with op.batch_alter_table('objections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_objections_publication_id'))

    op.drop_table('objections')
    op.drop_table('publications')
    with op.batch_alter_table('fee_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fee_batches_session_id'))

    op.drop_table('fee_batches')
