"""workspace: the RAID log, lessons applied to a project, its tags, risk escalations

Issue 12: issues, actions, decisions, assumptions and dependencies of a project (an issue may come
from a risk, an action may be part of a status report's get-to-green plan); the lessons a proposer
marked as applied; the tags a project is filed under; and on each risk the escalation started when
its score last crossed the PMO threshold, with the PMO's review.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 03:32:16.282474
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('project_applied_lessons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('applied_by', sa.String(length=80), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons_learned.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_id', 'lesson_id', name='uq_applied_lesson')
    )
    with op.batch_alter_table('project_applied_lessons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_applied_lessons_lesson_id'), ['lesson_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_applied_lessons_project_id'), ['project_id'], unique=False)

    op.create_table('project_raid_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner', sa.String(length=80), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=True),
    sa.Column('risk_id', sa.Integer(), nullable=True),
    sa.Column('status_report_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('issue', 'action', 'decision', 'assumption', 'dependency')", name='ck_raid_kind'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['risk_id'], ['project_risks.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['status_report_id'], ['status_reports.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('project_raid_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_raid_items_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_raid_items_risk_id'), ['risk_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_raid_items_status_report_id'), ['status_report_id'], unique=False)
        batch_op.create_index('ix_raid_items_project_kind', ['project_id', 'kind'], unique=False)

    with op.batch_alter_table('project_risks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalation_instance_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('pmo_review', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True))
        batch_op.create_index(batch_op.f('ix_project_risks_escalation_instance_id'), ['escalation_instance_id'], unique=False)

    with op.batch_alter_table('projects', schema=None) as batch_op:
        # Existing projects have no tags: the default fills them, new rows get theirs from the model.
        batch_op.add_column(sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'),
                                      nullable=False, server_default=sa.text("'[]'")))



def downgrade() -> None:
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('tags')

    with op.batch_alter_table('project_risks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_risks_escalation_instance_id'))
        batch_op.drop_column('pmo_review')
        batch_op.drop_column('escalation_instance_id')

    with op.batch_alter_table('project_raid_items', schema=None) as batch_op:
        batch_op.drop_index('ix_raid_items_project_kind')
        batch_op.drop_index(batch_op.f('ix_project_raid_items_status_report_id'))
        batch_op.drop_index(batch_op.f('ix_project_raid_items_risk_id'))
        batch_op.drop_index(batch_op.f('ix_project_raid_items_project_id'))

    op.drop_table('project_raid_items')
    with op.batch_alter_table('project_applied_lessons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_applied_lessons_project_id'))
        batch_op.drop_index(batch_op.f('ix_project_applied_lessons_lesson_id'))

    op.drop_table('project_applied_lessons')
