"""polish: a completed task keeps the instructions its person saw

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 21:00:00

Issue 16; each part adds its own operations below.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the instructions as rendered when the task was completed (item 1)
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('instructions_seen', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_column('instructions_seen')
