"""Pooled PostgreSQL connections are pinged when they sat idle, not at every checkout.

On SQLite (no pool of server connections) the same tests run against a fresh PostgreSQL database of
their own, so the behaviour is checked in both passes of the suite.
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from app import _engine_options, _ping_idle_connections
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL

PG_URL = TEST_DATABASE_URL if ON_POSTGRES else "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _engine(idle_seconds: float):  # noqa: ANN202
    engine = create_engine(PG_URL, **_engine_options(PG_URL, 5))
    _ping_idle_connections(engine, idle_seconds)
    return engine


def _terminate(pid: int) -> None:
    url = make_url(PG_URL)
    with psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                         dbname=url.database, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _backend_pid(engine) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


def _count_pings(engine) -> list[int]:  # noqa: ANN001
    """A list that grows by one at every ping the pool makes."""
    pings: list[int] = []
    original = engine.dialect.do_ping
    engine.dialect.do_ping = lambda conn: pings.append(1) or original(conn)
    return pings


def test_a_connection_back_moments_ago_is_handed_out_without_a_ping() -> None:
    engine = _engine(idle_seconds=60)
    try:
        pings = _count_pings(engine)
        first = _backend_pid(engine)
        assert [_backend_pid(engine) for _ in range(5)] == [first] * 5  # the same pooled connection
        assert pings == []
    finally:
        engine.dispose()


def test_a_connection_that_sat_idle_is_pinged_at_checkout() -> None:
    engine = _engine(idle_seconds=0)  # every connection counts as idle
    try:
        pings = _count_pings(engine)
        first = _backend_pid(engine)  # connected just now: no ping
        assert [_backend_pid(engine) for _ in range(3)] == [first] * 3
        assert len(pings) == 3
    finally:
        engine.dispose()


def test_a_connection_that_sat_idle_is_pinged_and_replaced_when_its_server_side_is_gone() -> None:
    engine = _engine(idle_seconds=0)  # every connection counts as idle
    try:
        dead = _backend_pid(engine)
        _terminate(dead)  # what a server restart or an idle timeout does to a pooled connection
        replacement = _backend_pid(engine)  # no error reaches the caller: the ping failed, the pool reconnected
        assert replacement != dead
        assert _backend_pid(engine) == replacement  # the new connection is healthy and reused
    finally:
        engine.dispose()


def test_within_the_window_a_dead_connection_fails_one_statement_and_the_pool_recovers() -> None:
    """The trade made for skipping the ping: a server gone inside the window costs the statement
    that finds it, and SQLAlchemy then discards the pool, so the next checkout connects anew."""
    from sqlalchemy.exc import OperationalError

    engine = _engine(idle_seconds=60)
    try:
        dead = _backend_pid(engine)
        _terminate(dead)
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        assert _backend_pid(engine) != dead
    finally:
        engine.dispose()
