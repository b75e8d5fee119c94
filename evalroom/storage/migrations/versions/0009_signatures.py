"""Signing: second factors, single-use challenges, per-document authorisations, accepted signatures (sheets,
report revisions, the seal) and deemed agreements.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evalroom.storage.models import UTCDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('second_factors',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('person_hash', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('secret_sealed', sa.String(length=200), nullable=True),
    sa.Column('last_step', sa.BigInteger(), nullable=True),
    sa.Column('credential_id', sa.String(length=400), nullable=True),
    sa.Column('public_key', sa.LargeBinary(), nullable=True),
    sa.Column('sign_count', sa.BigInteger(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('totp', 'webauthn')", name=op.f('ck_second_factors_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_second_factors')),
    sa.UniqueConstraint('credential_id', name=op.f('uq_second_factors_credential_id'))
    )
    with op.batch_alter_table('second_factors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_second_factors_person_hash'), ['person_hash'], unique=False)
        batch_op.create_index('uq_second_factors_totp', ['person_hash'], unique=True, sqlite_where=sa.text("kind = 'totp'"), postgresql_where=sa.text("kind = 'totp'"))

    op.create_table('deemed_agreements',
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['committee_members.id'], name=op.f('fk_deemed_agreements_member_id_committee_members')),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_deemed_agreements_report_id_reports')),
    sa.PrimaryKeyConstraint('report_id', 'member_id', name=op.f('pk_deemed_agreements'))
    )
    op.create_table('signatures',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=True),
    sa.Column('document_kind', sa.String(length=16), nullable=False),
    sa.Column('document_ref', sa.String(length=36), nullable=False),
    sa.Column('document_sha256', sa.String(length=64), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=True),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('signer', sa.String(length=500), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=True),
    sa.Column('certificate_sha256', sa.String(length=64), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=True),
    sa.Column('verification', sa.JSON(), nullable=False),
    sa.Column('dissent_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("document_kind IN ('sheet', 'report', 'seal')", name=op.f('ck_signatures_document_kind')),
    sa.ForeignKeyConstraint(['member_id'], ['committee_members.id'], name=op.f('fk_signatures_member_id_committee_members')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_signatures_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signatures')),
    sa.UniqueConstraint('document_ref', 'revision', name=op.f('uq_signatures_document_ref_revision'))
    )
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signatures_document_ref'), ['document_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_signatures_session_id'), ['session_id'], unique=False)
        batch_op.create_index('uq_signatures_member_document', ['document_ref', 'member_id'], unique=True, sqlite_where=sa.text('member_id IS NOT NULL'), postgresql_where=sa.text('member_id IS NOT NULL'))

    op.create_table('signing_authorisations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('document_kind', sa.String(length=16), nullable=False),
    sa.Column('document_ref', sa.String(length=36), nullable=False),
    sa.Column('document_sha256', sa.String(length=64), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('expires_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("document_kind IN ('sheet', 'report')", name=op.f('ck_signing_authorisations_document_kind')),
    sa.ForeignKeyConstraint(['member_id'], ['committee_members.id'], name=op.f('fk_signing_authorisations_member_id_committee_members')),
    sa.ForeignKeyConstraint(['session_id'], ['eval_sessions.id'], name=op.f('fk_signing_authorisations_session_id_eval_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_authorisations'))
    )
    with op.batch_alter_table('signing_authorisations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_authorisations_session_id'), ['session_id'], unique=False)

    op.create_table('signing_challenges',
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('document_sha256', sa.String(length=64), nullable=True),
    sa.Column('expires_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("purpose IN ('register', 'sign')", name=op.f('ck_signing_challenges_purpose')),
    sa.ForeignKeyConstraint(['member_id'], ['committee_members.id'], name=op.f('fk_signing_challenges_member_id_committee_members')),
    sa.PrimaryKeyConstraint('nonce', name=op.f('pk_signing_challenges'))
    )
    with op.batch_alter_table('signing_challenges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_challenges_member_id'), ['member_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('signing_challenges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_challenges_member_id'))

    op.drop_table('signing_challenges')
    with op.batch_alter_table('signing_authorisations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_authorisations_session_id'))

    op.drop_table('signing_authorisations')
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.drop_index('uq_signatures_member_document', sqlite_where=sa.text('member_id IS NOT NULL'), postgresql_where=sa.text('member_id IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_signatures_session_id'))
        batch_op.drop_index(batch_op.f('ix_signatures_document_ref'))

    op.drop_table('signatures')
    op.drop_table('deemed_agreements')
    with op.batch_alter_table('second_factors', schema=None) as batch_op:
        batch_op.drop_index('uq_second_factors_totp', sqlite_where=sa.text("kind = 'totp'"), postgresql_where=sa.text("kind = 'totp'"))
        batch_op.drop_index(batch_op.f('ix_second_factors_person_hash'))

    op.drop_table('second_factors')
