"""integrity: session generations, work claims, idempotent completions

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 19:20:00

One migration for the integrity work (issue 9); each part adds its own operations below.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401 - used by the operations below
from alembic import op  # noqa: F401

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # start policy of a process version, idempotent completions (issue 9, items 1 and 7)
    from sqlalchemy.dialects import postgresql

    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('start_policy', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'),
                                      nullable=True))
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('completion_key', sa.String(length=200), nullable=True))
    # session generation: sign-out, a password change and deactivation end every session (item 17)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))
    # work claims: overdue notices, e-mails and messages are claimed before they are handled (item 8)
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('overdue_notified_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_claimed_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=40), nullable=True))
    # the overdue notices sent before the claim column existed count as sent
    op.execute("UPDATE human_tasks SET overdue_notified_at = created_at WHERE EXISTS (SELECT 1 FROM notifications "
               "n WHERE n.task_id = human_tasks.id AND n.kind = 'overdue')")


def downgrade() -> None:
    # work claims (item 8)
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('claimed_at')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('email_claimed_at')
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_column('overdue_notified_at')
    # session generation (item 17)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
    # start policy of a process version, idempotent completions (issue 9, items 1 and 7)
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_column('completion_key')
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.drop_column('start_policy')
