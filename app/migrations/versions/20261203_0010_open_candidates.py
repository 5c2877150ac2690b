"""inbox at scale: candidate rows know whether their task is open

Issue 15: "offered to me" was an id set of every candidate row of the user's roles, completed tasks'
included (the analytics keep them): at 1,000,000 completed tasks a role held 167,500 rows and the
layout's Projects badge took 0.1-1.3 s. The candidate indexes now hold only the rows of open tasks.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 07:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (("ix_candidates_role", "ix_candidates_open_role", "role"),
            ("ix_candidates_username", "ix_candidates_open_username", "username"),
            ("ix_candidates_group", "ix_candidates_open_group", "group_name"))


def upgrade() -> None:
    with op.batch_alter_table("human_task_candidates") as batch:
        batch.add_column(sa.Column("is_open", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.execute("UPDATE human_task_candidates SET is_open = false WHERE task_id IN "
               "(SELECT id FROM human_tasks WHERE status <> 'ready')")
    for old, new, column in _INDEXES:
        op.drop_index(old, table_name="human_task_candidates")
        op.create_index(new, "human_task_candidates", [column, "task_id"],
                        postgresql_where=sa.text(f"is_open AND {column} IS NOT NULL"),
                        sqlite_where=sa.text(f"is_open = 1 AND {column} IS NOT NULL"))


def downgrade() -> None:
    for old, new, column in _INDEXES:
        op.drop_index(new, table_name="human_task_candidates")
        op.create_index(old, "human_task_candidates", [column, "task_id"])
    with op.batch_alter_table("human_task_candidates") as batch:
        batch.drop_column("is_open")
