"""Shared fixtures. The suite runs on SQLite by default; set PMO_TEST_DATABASE_URL to a
PostgreSQL URL (as .ci/run does) to run the same tests against PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.services import users
from app.services.instances import Actor

FIXTURES = Path(__file__).parent / "fixtures"
TEST_DATABASE_URL = os.environ.get("PMO_TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")
_pg_schema_ready = False


def pytest_report_header(config):  # noqa: ANN001
    return f"PMO Flow test database: {TEST_DATABASE_URL or 'SQLite (one file per test)'}"


def _reset_postgres() -> None:
    global _pg_schema_ready
    if not _pg_schema_ready:
        db.drop_all()
        db.create_all()
        _pg_schema_ready = True
        return
    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.session.commit()


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
    return {u.username: u for u in users.list_users()}


@pytest.fixture
def actors(demo_users) -> dict[str, Actor]:
    return {name: Actor.of(user) for name, user in demo_users.items()}


@pytest.fixture
def deployed(app):
    """The fixture bundle (tests/fixtures) deployed once."""
    from app.services import definitions

    return definitions.deploy_directory([FIXTURES], "admin")
