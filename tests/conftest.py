"""Shared fixtures. The suite runs on SQLite by default; set PMO_TEST_DATABASE_URL to a
PostgreSQL URL (as .ci/run does) to run the same tests against PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from app import create_app
from app.core.extensions import db
from app.people import operations as users
from app.people import queries as user_queries
from app.people.actor import Actor

# The API client and the browser-like web client, for the tests of every domain.
pytest_plugins = ["tests.support.api", "tests.support.web"]

FIXTURES = Path(__file__).parent / "fixtures"
# The suite builds many apps in one process and frees them: no freeze of the collector (the browser
# tests' apps are not in testing mode, and their servers answer hundreds of requests).
os.environ["GC_FREEZE_AFTER_REQUESTS"] = "0"
TEST_DATABASE_URL = os.environ.get("PMO_TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")
_pg_schema_ready = False


def pytest_report_header(config):  # noqa: ANN001
    return f"PMO Flow test database: {TEST_DATABASE_URL or 'SQLite (one file per test)'}"


def _reset_postgres() -> None:
    global _pg_schema_ready
    if not _pg_schema_ready:
        db.drop_all()
        # An Alembic version left by an earlier run's `pmo init` would have the scale-out tests' `pmo init`
        # migrate from it onto the tables create_all makes here ("already exists"); without it, init stamps.
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        db.create_all()
        _pg_schema_ready = True
        return
    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.session.commit()


def fresh_database_url(tmp_path: Path, suffix: str) -> str:
    """An empty database of its own: ``<test db>_<suffix>`` on PostgreSQL, a new file on SQLite."""
    if not ON_POSTGRES:
        return f"sqlite:///{tmp_path / (suffix + '.db')}"
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    url = make_url(TEST_DATABASE_URL)
    name = f"{url.database}_{suffix}"
    params = {"host": url.host or "127.0.0.1", "port": url.port or 5432, "user": url.username or "postgres",
              "password": url.password}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return TEST_DATABASE_URL if ON_POSTGRES else f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def app(database_url: str):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test-secret",
                      "SCRIPT_TIME_LIMIT_SECONDS": 1.0})
    with app.app_context():
        if ON_POSTGRES:
            _reset_postgres()
        else:
            db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def demo_users(app):
    users.seed_demo_users()
    return {u.username: u for u in user_queries.list_users()}


@pytest.fixture
def actors(demo_users) -> dict[str, Actor]:
    return {name: Actor.of(user) for name, user in demo_users.items()}


@pytest.fixture
def deployed(app):
    """The fixture bundle (tests/fixtures) deployed once."""
    from app.definitions import operations as definitions
    return definitions.deploy_directory([FIXTURES], "admin")
