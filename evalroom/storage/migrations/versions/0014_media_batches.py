"""Recording lines logged in batches: the index of logged segments the replay serves from.

The media hub now logs a session's manifest lines together, one ``media.recorded`` event per session per
interval (services/media.py), so a segment is no longer found by its own event; ``recording_segments`` names
each logged segment's file and hash. Existing ``media.segment_recorded`` events are indexed here.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def _path_name(name: str) -> str:
    # media.manifest.path_name as it is at this revision (a migration must not change with the code)
    return _UNSAFE.sub("_", name)[:80] or "_"


def upgrade() -> None:
    op.create_table('recording_segments',
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('publisher_dir', sa.String(length=200), nullable=False),
    sa.Column('track_dir', sa.String(length=120), nullable=False),
    sa.Column('file', sa.String(length=120), nullable=False),
    sa.Column('publisher', sa.String(length=200), nullable=False),
    sa.Column('track', sa.String(length=120), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('session_id', 'publisher_dir', 'track_dir', 'file', name=op.f('pk_recording_segments'))
    )
    events = sa.table('events', sa.column('session_id', sa.String), sa.column('kind', sa.String),
                      sa.column('payload', sa.JSON), sa.column('seq', sa.BigInteger))
    segments = sa.table('recording_segments', *(sa.column(c, sa.String) for c in (
        'session_id', 'publisher_dir', 'track_dir', 'file', 'publisher', 'track', 'sha256')))
    conn = op.get_bind()
    rows = conn.execute(sa.select(events.c.session_id, events.c.payload)
                        .where(events.c.kind == 'media.segment_recorded').order_by(events.c.seq))
    seen = set()
    for session_id, payload in rows:
        key = (session_id, _path_name(payload['publisher']), _path_name(payload['track']), payload['file'])
        if key not in seen:
            seen.add(key)
            conn.execute(sa.insert(segments).values(
                session_id=key[0], publisher_dir=key[1], track_dir=key[2], file=key[3],
                publisher=payload['publisher'], track=payload['track'], sha256=payload['sha256']))


def downgrade() -> None:
    op.drop_table('recording_segments')
