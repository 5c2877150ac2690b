"""Database migrations (Alembic), run from code: ``pmo init`` calls :func:`upgrade`.

The Alembic environment lives next to this file (``env.py``, ``versions/``); ``alembic.ini`` here
is only for running the ``alembic`` command by hand (``alembic -c app/migrations/alembic.ini ...``).
Inside the app, the database URL always comes from the settings (``DATABASE_URL``).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from app.core.extensions import db

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config() -> Config:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["skip_logging_config"] = True  # keep the caller's logging as it is
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision() -> str | None:
    """The revision the database of the current app is at (None: never migrated)."""
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the current app's database to ``revision``; return (before, after).

    A database made earlier with ``db.create_all()`` (all tables present, no Alembic version) is
    stamped instead of migrated, so it is not created twice.
    """
    config = alembic_config()
    before = current_revision()
    if before is None and _has_all_model_tables():
        command.stamp(config, revision)
    else:
        command.upgrade(config, revision)
    return before, current_revision()


def _has_all_model_tables() -> bool:
    existing = set(inspect(db.engine).get_table_names())
    return bool(db.metadata.tables) and set(db.metadata.tables).issubset(existing)
