"""Celery tasks. Each is idempotent: delivered twice, the second run finds nothing to do."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="pmo.fire_timers", bind=True, max_retries=5, default_retry_delay=2)
def fire_timers(self, instance_id: int) -> bool:  # noqa: ANN001
    """Fire the due timers of one instance (a no-op when another worker already did)."""
    from .services import instances
    from .services.errors import Conflict

    try:
        return instances.fire_due_timers(instance_id)
    except Conflict as exc:  # busy: someone else holds the instance; try again shortly
        raise self.retry(exc=exc, countdown=min(2 ** self.request.retries, 30)) from exc


@shared_task(name="pmo.dispatch_messages")
def dispatch_messages() -> int:
    from .services import events

    return events.dispatch_pending()
