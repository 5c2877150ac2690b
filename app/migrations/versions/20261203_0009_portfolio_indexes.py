"""portfolio indexes: the open risks by score for the dashboard's "Top risks"

Issue 13: the dashboard's top 20 open risks sorted every open risk of the portfolio (10 to 25 ms
at 30,000 risks on PostgreSQL); an index on (status, score DESC, id) hands them over in order
(under a millisecond).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 06:45:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_project_risks_status_score', 'project_risks', ['status', sa.text('score DESC'), 'id'])


def downgrade() -> None:
    op.drop_index('ix_project_risks_status_score', table_name='project_risks')
