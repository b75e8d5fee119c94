"""Supervision: supervisors' marks (annotations, warnings, flagged experts) and complaints with their rulings.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evalroom.storage.models import UTCDateTime

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('complaints',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('complainant', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('known_on', sa.Date(), nullable=False),
    sa.Column('filed_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('filed_by', sa.String(length=200), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('ruling', sa.Text(), nullable=True),
    sa.Column('ruled_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('ruled_by', sa.String(length=200), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('decision', sa.Text(), nullable=True),
    sa.Column('decided_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.CheckConstraint("state IN ('filed', 'accepted', 'refused', 'decided')", name=op.f('ck_complaints_state')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_complaints_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_session_id'), ['session_id'], unique=False)

    op.create_table('supervision_marks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('moment', UTCDateTime(timezone=True), nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('event_seq', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("kind IN ('annotation', 'warning', 'expert_flag')", name=op.f('ck_supervision_marks_kind')),
    sa.ForeignKeyConstraint(['member_id'], ['committee_members.id'], name=op.f('fk_supervision_marks_member_id_committee_members')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_supervision_marks_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_marks'))
    )
    with op.batch_alter_table('supervision_marks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_marks_session_id'), ['session_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('supervision_marks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_marks_session_id'))

    op.drop_table('supervision_marks')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_session_id'))

    op.drop_table('complaints')
