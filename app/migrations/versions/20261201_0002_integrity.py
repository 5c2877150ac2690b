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
    pass


def downgrade() -> None:
    pass
