"""portfolio rollups: completed human tasks summed per day/month and wait bucket

Issue 13: process analytics read per-day (and per-month) sums of completed tasks per step, role
and person, with wait-bucket counts for the percentiles, instead of every completion; a watermark
row says which days they hold, a snapshot per period
merges them once a day, and an index on human_tasks.completed_at serves the catch-up job
and the live edges of a period.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 19:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('portfolio_task_rollups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grain', sa.String(length=5), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=6), nullable=False),
    sa.Column('process', sa.String(length=200), nullable=False),
    sa.Column('step', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('bucket', sa.SmallInteger(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('breaches', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_portfolio_task_rollups_grain_day', 'portfolio_task_rollups', ['grain', 'day', 'kind'])
    op.create_table('portfolio_rollup_watermark',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('through', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('portfolio_analytics_snapshots',
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('through', sa.Date(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('period')
    )
    op.create_index('ix_human_tasks_completed_at', 'human_tasks', ['completed_at'])


def downgrade() -> None:
    op.drop_index('ix_human_tasks_completed_at', table_name='human_tasks')
    op.drop_table('portfolio_analytics_snapshots')
    op.drop_table('portfolio_rollup_watermark')
    op.drop_index('ix_portfolio_task_rollups_grain_day', table_name='portfolio_task_rollups')
    op.drop_table('portfolio_task_rollups')
