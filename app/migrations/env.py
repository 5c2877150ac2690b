"""Alembic environment for PMO Flow.

Runs inside the Flask app's context when there is one (``pmo init``, the tests); otherwise it
creates the app from the settings, so ``alembic -c app/migrations/alembic.ini ...`` works too.
SQLite needs batch mode to alter tables; PostgreSQL does not, and both use the same scripts.
"""

from __future__ import annotations

import logging.config

import sqlalchemy as sa
from alembic import context
from flask import current_app, has_app_context
from sqlalchemy.dialects import postgresql

from app.core import models as model_types
from app.core.extensions import db

config = context.config
if config.config_file_name and not config.attributes.get("skip_logging_config"):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)


def render_item(type_: str, obj, autogen_context):  # noqa: ANN001, ANN201
    """Write the project's column types as plain SQLAlchemy types, so migrations never import app code."""
    if type_ != "type":
        return False
    if isinstance(obj, model_types.UTCDateTime):
        return "sa.DateTime(timezone=True)"
    variants = getattr(obj, "_variant_mapping", {})
    if isinstance(obj, sa.JSON) and isinstance(variants.get("postgresql"), postgresql.JSONB):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


def _configure(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=db.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
        transaction_per_migration=True,
    )


def run_migrations() -> None:
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported; run them against a database")
    if has_app_context():
        engine = db.engine
    else:
        from app import create_app

        app = create_app()
        app.app_context().push()
        engine = db.engine
        current_app.logger.debug("alembic using %s", engine.url.render_as_string())
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
