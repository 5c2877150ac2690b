"""inbox at scale: the RAID entries a user owns, by due date

Issue 15: the layout's Projects badge (on every page) counts the open RAID entries the user owns
that are past their due date; without an index on the owner it read the whole RAID log each time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 06:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_raid_items_owner_due', 'project_raid_items', ['owner', 'due_date'])


def downgrade() -> None:
    op.drop_index('ix_raid_items_owner_due', table_name='project_raid_items')
