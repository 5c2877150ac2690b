"""Celery tasks. Each is idempotent: delivered twice, the second run finds nothing to do."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="pmo.fire_timers", bind=True, max_retries=5, default_retry_delay=2)
def fire_timers(self, instance_id: int) -> bool:  # noqa: ANN001
    """Fire the due timers of one instance (a no-op when another worker already did)."""
    from app.core.errors import Conflict
    from app.instances import commands as instances

    try:
        return instances.fire_due_timers(instance_id)
    except Conflict as exc:  # busy: someone else holds the instance; try again shortly
        raise self.retry(exc=exc, countdown=min(2 ** self.request.retries, 30)) from exc


@shared_task(name="pmo.dispatch_messages")
def dispatch_messages() -> int:
    from app.instances import events
    return events.dispatch_pending()


@shared_task(name="pmo.run_external", bind=True, max_retries=None)
def run_external(self, instance_id: int, task_id: str) -> str:  # noqa: ANN001
    """Call an external operator for a paused service task, outside any transaction, with retries
    and exponential back-off; then hand the result to the instance (one command).

    Idempotent: a redelivered task whose instance no longer waits there does nothing. The
    operator gets an idempotency key (instance:task) for the system it calls, because a worker
    that dies after calling out but before the commit will call again.
    """
    from flask import current_app

    from app.core.errors import Conflict, StepFailed
    from app.engine.runtime import OPERATORS, OperatorCall
    from app.instances import commands as instances

    try:
        call, data = instances.external_call(instance_id, task_id)
    except (Conflict, StepFailed):
        return "nothing to do"
    max_retries = int(current_app.config.get("EXTERNAL_MAX_RETRIES", 4))
    attempt = self.request.retries + 1
    try:
        result = OPERATORS[call.operator](OperatorCall(
            params=call.params, data=data,
            context={"instance_id": instance_id, "task_id": task_id, "attempt": attempt,
                     "idempotency_key": f"{instance_id}:{task_id}"}))
    except Exception as exc:  # noqa: BLE001 - any failure of the other system is retried
        if self.request.retries < max_retries:
            base = float(current_app.config.get("EXTERNAL_RETRY_BACKOFF_SECONDS", 2.0))
            raise self.retry(exc=exc, countdown=min(base * 2 ** self.request.retries, 300)) from exc
        log.warning("external call %s of instance %s failed after %s attempts: %s", call.operator,
                    instance_id, attempt, exc)
        instances.external_failed(instance_id, task_id, call.element_id,
                                  f"service operator '{call.operator}' failed after {attempt} attempt(s): "
                                  f"{type(exc).__name__}: {exc}")
        return "failed"
    instances.external_result(instance_id, task_id, result, attempts=attempt)
    return "done"


@shared_task(name="pmo.run_migration_batch")
def run_migration_batch(batch_id: int) -> str:
    """Move the instances of a migration batch, each in its own command (a redelivery resumes it:
    instances already recorded are skipped)."""
    from app.instances import migration

    return migration.run_batch(batch_id)
