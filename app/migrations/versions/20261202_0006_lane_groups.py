"""lane groups: lanes that are not roles, filled by an admin

Issue 14: SpiffArena treats a lane name as a group. A lane that is not a configured role becomes a
lane group (made when a process using it is deployed) whose members are users and roles; a task's
candidate row may name a group, and the inbox reads the membership when it lists tasks.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:09:59.482133
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('lane_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_table('lane_group_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=True),
    sa.Column('role', sa.String(length=80), nullable=True),
    sa.CheckConstraint('(username IS NULL) <> (role IS NULL)', name='ck_lane_group_member_one_kind'),
    sa.ForeignKeyConstraint(['group_id'], ['lane_groups.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['username'], ['users.username'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id', 'username', 'role', name='uq_lane_group_member')
    )
    with op.batch_alter_table('lane_group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lane_group_members_group_id'), ['group_id'], unique=False)
        batch_op.create_index('ix_lane_group_members_role', ['role', 'group_id'], unique=False)
        batch_op.create_index('ix_lane_group_members_username', ['username', 'group_id'], unique=False)

    with op.batch_alter_table('human_task_candidates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_name', sa.String(length=80), nullable=True))
        batch_op.create_index('ix_candidates_group', ['group_name', 'task_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('human_task_candidates', schema=None) as batch_op:
        batch_op.drop_index('ix_candidates_group')
        batch_op.drop_column('group_name')

    with op.batch_alter_table('lane_group_members', schema=None) as batch_op:
        batch_op.drop_index('ix_lane_group_members_username')
        batch_op.drop_index('ix_lane_group_members_role')
        batch_op.drop_index(batch_op.f('ix_lane_group_members_group_id'))

    op.drop_table('lane_group_members')
    op.drop_table('lane_groups')
