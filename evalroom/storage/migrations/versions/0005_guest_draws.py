"""Guest venues are drawn with the same commit-then-reveal mechanism as committees: draws gain the purpose
``guest`` and the ``request`` (the offer asked for) that the draw is performed on, and an offer names the draw
that chose its guest.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request', sa.JSON(), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_draws_purpose'), type_='check')
        batch_op.create_check_constraint('purpose', "purpose IN ('initial', 'replacement', 'guest')")
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('draw_id', sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_offers_draw_id_draws'), 'draws', ['draw_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_offers_draw_id_draws'), type_='foreignkey')
        batch_op.drop_column('draw_id')
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_draws_purpose'), type_='check')
        batch_op.create_check_constraint('purpose', "purpose IN ('initial', 'replacement')")
        batch_op.drop_column('request')
