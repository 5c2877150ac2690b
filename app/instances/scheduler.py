"""The timer scheduler: fires due timers through the instance service.

Embedded mode runs it as a thread inside ``pmo serve``; scaled out, ``pmo scheduler`` runs the
same loop in its own process (any number of them: firing is exactly-once in effect). Each pass
asks the database only for due rows (an index on due_at), so waiting timers cost nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app

from app.core.extensions import db
from app.instances import commands as instances
from app.instances import events
from app.instances.heartbeats import beat
from app.worker import is_eager

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 5.0
PERIODIC: list[tuple[float, Any]] = []  # (interval in seconds, Celery task), see periodic()


def periodic(seconds: float) -> Callable[[Any], Any]:
    """Register a Celery task the scheduler runs every ``seconds`` (the domains' periodic work,
    such as the inbox's overdue notices): in-process when embedded, queued for a worker when scaled out."""
    def register(task: Any) -> Any:
        PERIODIC.append((seconds, task))
        return task
    return register


def _run_periodic(task: Any) -> None:
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
    from app.instances.jobs import dispatch_messages, fire_timers

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
            last_run = [0.0] * len(PERIODIC)
            while not self._stop_event.is_set():
                if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                    last_beat = time.monotonic()
                    try:
                        beat("scheduler", f"every {self.interval:g} s")
                    except Exception as exc:  # noqa: BLE001 - health reporting must not stop firing
                        db.session.rollback()
                        log.warning("scheduler heartbeat failed: %s", exc)
                for index, (seconds, task) in enumerate(PERIODIC):
                    if time.monotonic() - last_run[index] < seconds:
                        continue
                    last_run[index] = time.monotonic()
                    try:
                        _run_periodic(task)
                    except Exception as exc:  # noqa: BLE001 - periodic work must not stop timers
                        db.session.rollback()
                        log.warning("%s failed: %s", task.name, exc)
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
