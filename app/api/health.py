"""GET /health: database, Celery broker, timer scheduler lag and workers, for load balancers and operators."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import text

from ..extensions import db
from ..services import operations
from . import bp
from .docs import doc
from .io import dump
from .schemas import HealthOut

BROKER_TIMEOUT_SECONDS = 1.0


def check_database() -> tuple[bool, str]:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        return True, f"{db.engine.dialect.name}: SELECT 1 ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        db.session.rollback()
        return False, f"database unreachable ({type(exc).__name__})"


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
        body["scheduler"] = operations.scheduler_status()
        ok = ok and body["scheduler"]["ok"]
    if broker_ok:
        body["workers"] = operations.worker_status()
        ok = ok and body["workers"]["ok"]
    body["status"] = "ok" if ok else "degraded"
    return dump(HealthOut, body, 200 if ok else 503)
