"""GET /health: database, Celery broker, timer scheduler lag and workers, for load balancers and operators.

It always answers JSON, and soon: a database that accepts connections but never answers (a
stopped VM, a dropped network) used to hold the request until the worker was killed (a bare
500). The database is probed on a thread of its own with a deadline (HEALTH_DB_TIMEOUT_SECONDS).
"""

from __future__ import annotations

import threading
import weakref
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from flask import Blueprint, current_app
from sqlalchemy.engine import Engine

from app.api.docs import doc
from app.api.io import dump
from app.core.extensions import db
from app.ops import operations
from app.ops.schemas import HealthOut

# Routes under /api/v1, nested in the shared API blueprint (app/api): its token check,
# error answers and OpenAPI document cover them.
bp = Blueprint("ops", __name__)

BROKER_TIMEOUT_SECONDS = 1.0
DB_TIMEOUT_SECONDS = 2.0
# One probe in flight per engine: a hung probe is waited on again, never piled up behind.
_PROBES: weakref.WeakKeyDictionary[Engine, Future] = weakref.WeakKeyDictionary()
_PROBES_LOCK = threading.Lock()


def _probe(engine: Engine) -> tuple[bool, str]:
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        return True, f"{engine.dialect.name}: SELECT 1 ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        return False, f"database unreachable ({type(exc).__name__})"


def _start_probe(engine: Engine) -> Future:
    future: Future = Future()

    def run() -> None:
        future.set_result(_probe(engine))

    # A daemon thread: a probe stuck on a dead database must not keep the process from exiting.
    threading.Thread(target=run, name="pmo-health-db-probe", daemon=True).start()
    return future


def check_database() -> tuple[bool, str]:
    """SELECT 1 on a connection of its own, answered within HEALTH_DB_TIMEOUT_SECONDS."""
    timeout = float(current_app.config.get("HEALTH_DB_TIMEOUT_SECONDS") or DB_TIMEOUT_SECONDS)
    engine = db.engine
    with _PROBES_LOCK:
        future = _PROBES.get(engine)
        if future is None or future.done():
            future = _PROBES[engine] = _start_probe(engine)
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        return False, f"database did not answer within {timeout:g} s"


def _guarded(check, name: str) -> dict:  # noqa: ANN001
    """A check that fails (the database went away meanwhile) reports itself as not ok."""
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - the health answer matters more
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001, S110 - a dead connection cannot even roll back
            pass
        return {"ok": False, "detail": f"cannot check the {name} ({type(exc).__name__})"}


def check_broker(url: str) -> tuple[bool, str]:
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        return True, "in-process (embedded)"
    if scheme in ("redis", "rediss"):
        import redis

        try:
            client = redis.Redis.from_url(url, socket_timeout=BROKER_TIMEOUT_SECONDS,
                                          socket_connect_timeout=BROKER_TIMEOUT_SECONDS)
            try:
                client.ping()
            finally:
                client.close()
            return True, "redis: PING ok"
        except Exception as exc:  # noqa: BLE001
            return False, f"redis unreachable ({type(exc).__name__})"
    return False, f"cannot check a broker of scheme '{scheme or '?'}'"


@bp.get("/health")
@doc(summary="Health of the database, the task broker, the timer scheduler and the workers", tags=["health"],
     public=True, responses={200: HealthOut, 503: HealthOut})
def health():  # noqa: ANN201
    db_ok, db_detail = check_database()
    broker_ok, broker_detail = check_broker(str(current_app.config.get("CELERY_BROKER_URL") or ""))
    body = {"database": {"ok": db_ok, "detail": db_detail}, "broker": {"ok": broker_ok, "detail": broker_detail}}
    ok = db_ok and broker_ok
    if db_ok:
        body["scheduler"] = _guarded(operations.scheduler_status, "scheduler")
        ok = ok and body["scheduler"]["ok"]
    if broker_ok:
        body["workers"] = _guarded(operations.worker_status, "workers")
        ok = ok and body["workers"]["ok"]
    body["status"] = "ok" if ok else "degraded"
    return dump(HealthOut, body, 200 if ok else 503)
