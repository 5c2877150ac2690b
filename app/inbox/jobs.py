"""The inbox's background work: overdue notices and e-mail, run by the scheduler every minute."""

from __future__ import annotations

from celery import shared_task

from app.instances.scheduler import periodic

NOTIFICATIONS_SECONDS = 60.0


@periodic(NOTIFICATIONS_SECONDS)
@shared_task(name="pmo.notifications_pass")
def notifications_pass() -> dict:
    """Overdue-task notices (never twice) and pending e-mails (only when SMTP_HOST is set)."""
    from app.inbox import notifications

    return {"overdue": notifications.overdue_pass(), "emailed": notifications.deliver_pending_emails()}
