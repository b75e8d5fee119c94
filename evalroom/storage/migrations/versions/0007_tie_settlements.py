"""How the committee settled ties that every tie-break left standing among the candidates (e.g. by lot).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evalroom.storage.models import UTCDateTime

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tie_settlements',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('lot', sa.String(length=32), nullable=False),
    sa.Column('decided_order', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('settled_by', sa.String(length=36), nullable=False),
    sa.Column('settled_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_tie_settlements_session_id_eval_sessions')),
    sa.ForeignKeyConstraint(['settled_by'], ['committee_members.id'], name=op.f('fk_tie_settlements_settled_by_committee_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tie_settlements'))
    )
    with op.batch_alter_table('tie_settlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tie_settlements_session_id'), ['session_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tie_settlements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tie_settlements_session_id'))

    op.drop_table('tie_settlements')
