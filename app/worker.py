"""Celery: background work (timer firing, message delivery, e-mail) outside web requests.

Embedded mode (the default) sets ``CELERY_TASK_ALWAYS_EAGER``: tasks run in-process, so no
broker is needed. Scaled out, ``CELERY_BROKER_URL`` points at Redis and ``pmo worker`` runs
workers. Tasks acknowledge late and are re-queued if a worker dies, and every task is
idempotent (it re-checks the database under the instance lock), so a redelivery changes nothing.

Run a worker: ``pmo worker`` (or ``celery -A app.worker:celery_app worker``).
"""

from __future__ import annotations

from celery import Celery, Task
from celery.signals import worker_process_init
from flask import Flask

from app.core.extensions import db


def init_celery(app: Flask) -> Celery:
    """Bind a Celery app to the Flask app (the pattern from Flask's Celery guide)."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    broker = app.config.get("CELERY_BROKER_URL") or "memory://"
    celery.conf.update(
        broker_url=broker,
        result_backend=None,
        task_ignore_result=True,
        task_always_eager=bool(app.config.get("CELERY_TASK_ALWAYS_EAGER")) or broker.startswith("memory"),
        task_eager_propagates=False,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": int(app.config.get("CELERY_VISIBILITY_TIMEOUT", 300))},
        task_default_queue="pmo",
    )
    celery.set_default()
    app.extensions["celery"] = celery

    def fresh_connections_after_fork(**_: object) -> None:
        """A prefork child must not use the pooled connections it inherited from the parent
        (``pmo worker`` checks the schema before forking): two processes on one socket corrupt
        the protocol. Drop them without closing, so the parent's stay intact."""
        with app.app_context():
            db.engine.dispose(close=False)

    # Weakly connected and kept on the Celery app: the receiver lives as long as this app does.
    celery.pmo_after_fork = fresh_connections_after_fork
    worker_process_init.connect(fresh_connections_after_fork)
    # Each domain's background work registers its Celery tasks (and periodic runs) on import.
    from app.inbox import jobs as inbox_jobs  # noqa: F401
    from app.instances import jobs as instance_jobs  # noqa: F401
    from app.portfolio import jobs as portfolio_jobs  # noqa: F401

    return celery


def is_eager(app: Flask) -> bool:
    return bool(app.extensions["celery"].conf.task_always_eager)


def _worker_app() -> Celery:
    from app import ALWAYS_PING, create_app

    return create_app(ALWAYS_PING).extensions["celery"]


class _LazyCelery:
    """``celery -A app.worker:celery_app`` builds the Flask app only when Celery asks for it."""

    _app: Celery | None = None

    def __getattr__(self, name: str) -> object:
        if _LazyCelery._app is None:
            _LazyCelery._app = _worker_app()
        return getattr(_LazyCelery._app, name)


celery_app = _LazyCelery()
