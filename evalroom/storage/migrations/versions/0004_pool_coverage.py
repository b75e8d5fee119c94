"""A region's specialties are what its expert pool holds, not a declaration: drop region_specialties.

Seat search and guest proposals now ask the pool itself (services/experts.py::covering_regions), through the
classification tree, so the declared list (which could claim what no expert offered) goes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table('region_specialties')


def downgrade() -> None:
    op.create_table('region_specialties',
    sa.Column('region_id', sa.String(length=36), nullable=False),
    sa.Column('specialty', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_region_specialties_region_id_regions')),
    sa.PrimaryKeyConstraint('region_id', 'specialty', name=op.f('pk_region_specialties'))
    )
