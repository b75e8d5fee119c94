"""Regions' trust anchors: their CA certificates and CRLs, and whether a region is recognised (数字证书互认).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evalroom.storage.models import UTCDateTime

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('region_certificates',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('region_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.Column('not_after', UTCDateTime(timezone=True), nullable=False),
    sa.Column('added_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('root', 'intermediate')", name=op.f('ck_region_certificates_kind')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_region_certificates_region_id_regions')),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_region_certificates'))
    )
    with op.batch_alter_table('region_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_region_certificates_region_id'), ['region_id'], unique=False)

    op.create_table('region_crls',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('region_id', sa.String(length=36), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.Column('this_update', UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_update', UTCDateTime(timezone=True), nullable=True),
    sa.Column('added_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_region_crls_region_id_regions')),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_region_crls'))
    )
    with op.batch_alter_table('region_crls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_region_crls_region_id'), ['region_id'], unique=False)

    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recognised', sa.Boolean(), server_default=sa.text('false'), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.drop_column('recognised')

    with op.batch_alter_table('region_crls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_region_crls_region_id'))

    op.drop_table('region_crls')
    with op.batch_alter_table('region_certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_region_certificates_region_id'))

    op.drop_table('region_certificates')
