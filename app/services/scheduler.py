"""The timer scheduler: fires due timers through the instance service.

Embedded mode runs it as a thread inside ``pmo serve``; scaled out, ``pmo scheduler`` runs the
same loop in its own process (any number of them: firing is exactly-once in effect). Each pass
asks the database only for due rows (an index on due_at), so waiting timers cost nothing.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask, current_app

from app.extensions import db
from app.services import events, instances, operations
from app.worker import is_eager

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 5.0
NOTIFICATIONS_SECONDS = 60.0


def notifications_pass() -> None:
    """Overdue notices and e-mails: in-process when embedded, queued for a worker when scaled out."""
    from app.tasks import notifications_pass as task

    if is_eager(current_app):
        task.apply()
    else:
        task.delay()


def run_once(limit: int = 100) -> int:
    """One scheduler pass. Embedded (eager Celery): fire due timers here; scaled out: queue them
    for the workers under a lease. Returns how many instances had timers fired or queued."""
    if not is_eager(current_app):
        return enqueue_due(limit)
    return fire_due(limit)


def enqueue_due(limit: int = 100) -> int:
    from app.tasks import dispatch_messages, fire_timers

    lease = float(current_app.config.get("TIMER_LEASE_SECONDS", 30))
    ids = events.lease_due_instances(limit, lease)
    for instance_id in ids:
        fire_timers.delay(instance_id)
    if events.has_pending_messages():
        dispatch_messages.delay()
    return len(ids)


def fire_due(limit: int = 100) -> int:
    """Fire every due timer (up to ``limit`` instances) and deliver stuck messages, in-process."""
    ids = events.due_instance_ids(limit)
    db.session.commit()  # release the SKIP LOCKED read; each instance is then locked by its command
    fired = 0
    for instance_id in ids:
        try:
            if instances.fire_due_timers(instance_id):
                fired += 1
        except Exception as exc:  # noqa: BLE001 - one failing instance (now in error) must not stop the rest
            db.session.rollback()
            log.warning("timer of instance %s failed: %s", instance_id, exc)
    try:
        events.dispatch_pending()
    except Exception as exc:  # noqa: BLE001
        db.session.rollback()
        log.warning("message dispatch failed: %s", exc)
    return fired


class SchedulerThread(threading.Thread):
    """Polls for due timers every ``interval`` seconds until stopped."""

    def __init__(self, app: Flask, interval: float = 0.25) -> None:
        super().__init__(name="pmo-timer-scheduler", daemon=True)
        self.app = app
        self.interval = interval
        self._stop_event = threading.Event()
        self.passes = 0

    def run(self) -> None:
        with self.app.app_context():
            last_beat = 0.0
            last_notify = 0.0
            while not self._stop_event.is_set():
                if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                    last_beat = time.monotonic()
                    try:
                        operations.beat("scheduler", f"every {self.interval:g} s")
                    except Exception as exc:  # noqa: BLE001 - health reporting must not stop firing
                        db.session.rollback()
                        log.warning("scheduler heartbeat failed: %s", exc)
                if time.monotonic() - last_notify >= NOTIFICATIONS_SECONDS:
                    last_notify = time.monotonic()
                    try:
                        notifications_pass()
                    except Exception as exc:  # noqa: BLE001 - notices must not stop timers
                        db.session.rollback()
                        log.warning("notifications pass failed: %s", exc)
                try:
                    run_once()
                except Exception as exc:  # noqa: BLE001 - keep the scheduler alive (e.g. DB restarting)
                    db.session.rollback()
                    log.warning("scheduler pass failed: %s", exc)
                finally:
                    db.session.remove()
                self.passes += 1
                self._stop_event.wait(self.interval)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop_event.set()
        self.join(timeout)


def run_forever(app: Flask, interval: float = 0.25) -> None:
    """Blocking loop for ``pmo scheduler``."""
    thread = SchedulerThread(app, interval)
    thread.start()
    try:
        while thread.is_alive():
            time.sleep(1)
    except KeyboardInterrupt:
        thread.stop()
