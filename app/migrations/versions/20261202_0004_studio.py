"""studio: drafts, publish notes, releases, instance migration

Issue 11: drafts of process models and their files, the publish note of a deployment, the version
new instances start on, and instance migration (batches and the state each moved instance had).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 03:19:13.926061
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('studio_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('base_deployment_id', sa.Integer(), nullable=True),
    sa.Column('base_versions', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=80), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['base_deployment_id'], ['deployments.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('studio_drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_studio_drafts_process_key'), ['process_key'], unique=False)

    op.create_table('migration_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('to_version_id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.String(length=80), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('instance_ids', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('moved', sa.Integer(), nullable=False),
    sa.Column('blocked', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('results', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['to_version_id'], ['process_versions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('migration_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_migration_batches_process_key'), ['process_key'], unique=False)

    op.create_table('process_releases',
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('process_version_id', sa.Integer(), nullable=False),
    sa.Column('set_by', sa.String(length=80), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['process_version_id'], ['process_versions.id'], ),
    sa.PrimaryKeyConstraint('process_key')
    )
    op.create_table('studio_draft_files',
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('saved_by', sa.String(length=80), nullable=False),
    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['draft_id'], ['studio_drafts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('draft_id', 'name')
    )
    op.create_table('instance_migrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('from_version_id', sa.Integer(), nullable=False),
    sa.Column('to_version_id', sa.Integer(), nullable=False),
    sa.Column('migrated_by', sa.String(length=80), nullable=False),
    sa.Column('migrated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state_before', sa.Text(), nullable=False),
    sa.Column('waiting_before', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('lock_version_after', sa.Integer(), nullable=False),
    sa.Column('reverted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reverted_by', sa.String(length=80), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['migration_batches.id'], ),
    sa.ForeignKeyConstraint(['from_version_id'], ['process_versions.id'], ),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_version_id'], ['process_versions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('instance_migrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instance_migrations_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_instance_migrations_instance_id'), ['instance_id'], unique=False)

    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=False, server_default=''))



def downgrade() -> None:
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.drop_column('note')

    with op.batch_alter_table('instance_migrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instance_migrations_instance_id'))
        batch_op.drop_index(batch_op.f('ix_instance_migrations_batch_id'))

    op.drop_table('instance_migrations')
    op.drop_table('studio_draft_files')
    op.drop_table('process_releases')
    with op.batch_alter_table('migration_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_migration_batches_process_key'))

    op.drop_table('migration_batches')
    with op.batch_alter_table('studio_drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_studio_drafts_process_key'))

    op.drop_table('studio_drafts')
