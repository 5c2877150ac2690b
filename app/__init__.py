"""PMO Flow: the application factory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

from app.core import converters, gc_tuning, security, throttle
from app.core.extensions import csrf, db, login_manager
from app.core.settings import load_settings

# The domain packages, lowest first: each may import only from core, the engine and the domains
# before it (tests/test_architecture.py holds the tree to this order).
DOMAINS = ("people", "definitions", "instances", "inbox", "projects", "portfolio", "studio", "ops")


def load_models() -> None:
    """Import every domain's tables, so the metadata (and Alembic) sees the whole schema."""
    import importlib.util

    importlib.import_module("app.core.audit")
    for domain in DOMAINS:
        if importlib.util.find_spec(f"app.{domain}.models"):
            importlib.import_module(f"app.{domain}.models")


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    settings = load_settings(overrides)
    instance = str(settings.get("INSTANCE_PATH") or "") or None  # where the generated secret key lives
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static",
                instance_path=str(Path(instance).resolve()) if instance else None)
    converters.install(app.url_map)  # before any route: path ids bounded to what a column holds
    app.config.update(settings)
    app.config["SQLALCHEMY_DATABASE_URI"] = settings["DATABASE_URL"]
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(
        settings["DATABASE_URL"], int(settings.get("DATABASE_CONNECT_TIMEOUT_SECONDS") or 10))
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    security.configure(app)  # secret key, MAX_CONTENT_LENGTH, headers, cookie flags

    load_models()
    db.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    throttle.init_app(app)
    gc_tuning.init_app(app)  # once warm, full collections stop walking the app's long-lived objects
    with app.app_context():
        _configure_engine(db.engine, float(settings.get("DATABASE_PING_AFTER_IDLE_SECONDS") or 0.0))

    from app.core import caches
    from app.engine import clock
    caches.clear_all()
    calendar = settings.get("CALENDAR", {})
    clock.configure_calendar(calendar.get("working_weekdays"), calendar.get("holidays"))
    from app.engine import isolation

    isolation.configure(enabled=settings.get("SANDBOX_ISOLATION"), workers=settings.get("SANDBOX_WORKERS"),
                        memory_limit_mb=settings.get("SANDBOX_MEMORY_LIMIT_MB"))
    if security.under_gunicorn():  # pmo serve warms up itself
        _warm_up_sandbox_per_process(app)

    from app.worker import init_celery

    init_celery(app)

    _register_blueprints(app)
    # The inbox listens to what instance commands announce (new tasks, decisions).
    from app.inbox import notifications  # noqa: F401
    return app


def _warm_up_sandbox_per_process(app: Flask) -> None:
    """Each gunicorn worker starts its first script worker at its first request, in the background, so
    a script soon after does not wait for the fork server. Not when the app is built: with
    ``--preload`` that is the master, which forks the workers afterwards and serves nothing."""
    import os

    from app.engine import isolation
    warmed = {"pid": 0}

    @app.before_request
    def _warm_up() -> None:
        if warmed["pid"] != os.getpid():
            warmed["pid"] = os.getpid()
            isolation.warm_up()


_NESTED_APIS: set[str] = set()


def _register_blueprints(app: Flask) -> None:
    """The shared API and web blueprints, and each domain's pages and API routes.

    Every domain's API blueprint nests in the shared one, so the token check, the problem+json
    answers and the OpenAPI document apply to it; its routes keep ``/api/v1``.
    """
    import importlib

    from app.api import bp as api_bp
    from app.web import bp as web_bp

    csrf.exempt(api_bp)  # the API authenticates with bearer tokens, not cookies
    for domain in DOMAINS:
        domain_api = importlib.import_module(f"app.{domain}.api").bp
        if domain_api.name not in _NESTED_APIS:  # once per process: blueprints are module-level
            api_bp.register_blueprint(domain_api)
            _NESTED_APIS.add(domain_api.name)
        csrf.exempt(domain_api)  # Flask-WTF exempts by the blueprint a request is routed to
    app.register_blueprint(api_bp)
    app.register_blueprint(web_bp)
    for domain in ("people", "inbox", "projects", "portfolio", "studio", "ops"):
        app.register_blueprint(importlib.import_module(f"app.{domain}.pages").bp)


def _engine_options(url: str, connect_timeout: int) -> dict[str, Any]:
    """SQLite waits for the write lock; PostgreSQL gives up on a silent server instead of hanging."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_size": 10, "max_overflow": 20, "connect_args": {"connect_timeout": connect_timeout}}


# Background processes (``pmo worker``, ``pmo scheduler``) ping at every checkout: they take their next
# job moments after the last one, and a job that meets a dead connection is not retried by a client.
ALWAYS_PING = {"DATABASE_PING_AFTER_IDLE_SECONDS": 0.0}


def _ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection at checkout only when it sat in the pool for ``idle_seconds``.

    Why not ``pool_pre_ping``: it pings at every checkout, and a request checks out two or three
    times (its read, a command's write transaction, the answer after the commit): five round trips
    per start-and-complete pair, each to test a connection returned milliseconds before. What dies
    in the pool (a server restart, an idle timeout, a network drop) dies while it waits there. A
    failed ping discards the whole pool (``InvalidatePoolError``: its other connections died with
    it, and the pool retries with a new one). A server that goes away inside the window fails the
    statement that meets it, which SQLAlchemy reads as a disconnect and also answers by discarding
    the pool. ``idle_seconds`` 0 pings at every checkout but a connection's first.
    """
    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection, record) -> None:  # noqa: ANN001
        record.info["pmo_checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, proxy) -> None:  # noqa: ANN001
        returned = record.info.get("pmo_checked_in")  # none: connected just now
        if returned is None or time.monotonic() - returned < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as err:
            raise exc.InvalidatePoolError(f"a pooled connection failed its ping: {err}") from err


def _configure_engine(engine: Engine, ping_after_idle_seconds: float = 0.0) -> None:
    """SQLite: WAL, foreign keys, and BEGIN IMMEDIATE for every write transaction; other databases:
    a ping for connections that sat idle in the pool.

    Writers that start as readers and upgrade fail at once with "database is locked" when another
    writer committed meanwhile; ``BEGIN IMMEDIATE`` (see services/transactions.py) makes them wait.
    """
    if engine.dialect.name != "sqlite":
        _ping_idle_connections(engine, ping_after_idle_seconds)
        return
    from app.core.transactions import WRITE_TRANSACTION

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, record):  # noqa: ANN001
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        if ":memory:" not in str(engine.url):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        conn.exec_driver_sql("BEGIN IMMEDIATE" if WRITE_TRANSACTION.get() else "BEGIN")
