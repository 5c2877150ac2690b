"""Pooled PostgreSQL connections are pinged when they sat idle, not at every checkout.

The suite needs PostgreSQL in both of its passes; in the SQLite pass these tests connect to the
server's maintenance database (they create nothing in it), so the behaviour is checked in both.
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app import ALWAYS_PING, _engine_options, _ping_idle_connections, create_app
from app.core.extensions import db
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL

PG_URL = TEST_DATABASE_URL if ON_POSTGRES else "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _engine(idle_seconds: float):  # noqa: ANN202
    engine = create_engine(PG_URL, **_engine_options(PG_URL, 5))
    _ping_idle_connections(engine, idle_seconds)
    return engine


def _terminate(*pids: int) -> None:
    """What a server restart or an idle timeout does to pooled connections."""
    url = make_url(PG_URL)
    with psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                         password=url.password, dbname=url.database, autocommit=True) as admin:
        for pid in pids:
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


def test_a_failed_ping_discards_the_whole_pool_whose_other_connections_died_with_it() -> None:
    engine = _engine(idle_seconds=60)
    try:
        returned = []
        event.listen(engine, "checkin", lambda dbapi_connection, record: returned.append(record))
        a, b = engine.connect(), engine.connect()  # two pooled connections
        dead = {a.exec_driver_sql("SELECT pg_backend_pid()").scalar_one(),
                b.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()}
        a.close()
        b.close()
        returned[0].info["pmo_checked_in"] = 0.0  # the first back (and first out) sat idle long; the other did not
        _terminate(*dead)
        # The idle one's ping fails and the pool starts over, so the other, recent but as dead, is
        # not handed out either: both checkouts work, on new connections.
        with engine.connect() as c1, engine.connect() as c2:
            fresh = {c1.exec_driver_sql("SELECT pg_backend_pid()").scalar_one(),
                     c2.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()}
        assert not fresh & dead
    finally:
        engine.dispose()


def test_within_the_window_a_dead_connection_fails_one_statement_and_the_pool_recovers() -> None:
    """The trade made for skipping the ping: a server gone inside the window costs the statement
    that finds it, and SQLAlchemy then discards the pool, so the next checkout connects anew."""
    engine = _engine(idle_seconds=60)
    try:
        dead = _backend_pid(engine)
        _terminate(dead)
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        assert _backend_pid(engine) != dead
    finally:
        engine.dispose()


@pytest.mark.parametrize(("overrides", "pinged"), [({}, 0), (ALWAYS_PING, 3)])
def test_the_app_pings_after_its_setting_and_background_processes_at_every_checkout(overrides, pinged) -> None:  # noqa: ANN001
    app = create_app({"DATABASE_URL": PG_URL, "TESTING": True, "SECRET_KEY": "test-secret", **overrides})
    with app.app_context():
        try:
            pings = _count_pings(db.engine)
            for _ in range(4):  # the first connects; the next three come back from the pool at once
                _backend_pid(db.engine)
            assert len(pings) == pinged
        finally:
            db.engine.dispose()
