"""In-app notifications (new task for me or my role, task overdue, my request decided, delegated
to me) and their e-mail copies through SMTP.

- ``record_for_new_tasks(session, rows)`` runs inside the instance command that created ``rows``
  (the new ``human_tasks`` rows, candidates set): it routes tasks of users who are out of office to
  their stand-ins, then notifies who may act. It only adds rows to the session; the command commits.
- ``record_decision(session, instance, task, actor, data)`` runs inside the command that completed a
  task: when the submitted data holds a decision, the requester (who started the instance) is told.
- ``overdue_pass()`` is periodic: one notice per overdue open task and person, never twice.
- ``deliver_pending_emails()`` is periodic too: sends each pending notice once, when ``SMTP_HOST``
  is set (``SMTP_PORT``, ``SMTP_FROM``, optional ``SMTP_USER``/``SMTP_PASSWORD``/``SMTP_STARTTLS``).
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from flask import current_app
from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from app.core.extensions import db
from app.core.models import utcnow
from app.core.transactions import claim_lease_seconds, write_transaction
from app.inbox.models import Notification, NotificationKind
from app.instances import access, signals
from app.instances.models import HumanTask, ProcessInstance, TaskStatus
from app.people import queries as people_queries
from app.people.models import User, UserRole

log = logging.getLogger(__name__)
MAX_ROLE_FANOUT = 500
DECISION_KEYS = ("decision", "vote", "outcome")


def _one_line(text: str, limit: int = 480) -> str:
    return " ".join(str(text).split())[:limit]


def notify(session: Session, usernames: Iterable[str], kind: str, task: HumanTask | None, title: str,
           body: str = "", instance_id: int | None = None) -> int:
    """Insert one notice per user (deduplicated) in the current transaction; how many.

    One Core INSERT of all the rows, not ORM objects: nothing reads them back in the transaction,
    and the unit of work cost about as much as the rest of a role's fan-out.
    """
    now = utcnow()
    rows = [{"username": username, "kind": kind, "task_id": task.id if task is not None else None,
             "instance_id": instance_id or (task.instance_id if task is not None else None),
             "title": _one_line(title), "body": (body or "")[:4000], "created_at": now, "email_status": "pending"}
            for username in sorted({u for u in usernames if u})]
    if rows:
        session.execute(insert(Notification.__table__), rows)
    return len(rows)


def _recipients(session: Session, task: HumanTask) -> set[str]:
    """Who may act on a new task: its assignee, else its candidate users, the holders of its roles and
    the members of its groups."""
    if task.assignee:
        return set() if access.is_excluded(task, task.assignee) else {task.assignee}
    names = {c.username for c in task.candidates if c.username}
    roles = {c.role for c in task.candidates if c.role}
    if roles:
        names.update(session.scalars(
            select(User.username).join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role.in_(roles), User.active.is_(True)).limit(MAX_ROLE_FANOUT)))
    groups = {c.group_name for c in task.candidates if c.group_name}
    if groups:  # an empty group notifies nobody: the task waits on the operations page
        for members in people_queries.group_members(groups).values():
            names.update(members[:MAX_ROLE_FANOUT])
    return {u for u in names if not access.is_excluded(task, u)}


def record_for_new_tasks(session: Session, rows: Iterable[HumanTask]) -> None:
    """Call inside the command that created ``rows``: out-of-office routing, then "new task" notices."""
    from app.inbox import delegation
    rows = [r for r in rows if r.status == TaskStatus.READY]
    if not rows:
        return
    delegation.apply_out_of_office(session, rows)
    for row in rows:
        who = "you" if row.assignee else "you or your role"
        notify(session, _recipients(session, row), NotificationKind.NEW_TASK, row,
               f"New task for {who}: {row.title}", f"Process: {row.process_name or row.process_key}")


def _decision_of(data: dict[str, Any]) -> tuple[str, str] | None:
    """(decision, comment) when the submitted data holds a decision (``*decision``, ``*vote``, ``outcome``)."""
    for key, value in data.items():
        if isinstance(value, dict):
            found = _decision_of(value)
            if found:
                return found
        if isinstance(value, str) and value and any(key.endswith(k) for k in DECISION_KEYS):
            comment = next((str(v) for k, v in data.items()
                            if isinstance(v, str) and v and any(w in k for w in ("comment", "reason", "note"))), "")
            return value, comment
    return None


def record_decision(session: Session, instance: ProcessInstance, task: HumanTask, actor: str,
                    data: dict[str, Any]) -> None:
    """Call inside the command that completed ``task`` with ``data``: tell the requester the decision.

    Also tells the owner of a delegated task that their delegate completed it.
    """
    from app.inbox.models import Delegation

    decided = _decision_of(data or {})
    if decided and instance.started_by and instance.started_by != actor:
        decision, comment = decided
        body = f"Decision: {decision.replace('_', ' ')}" + (f"\nComment: {comment}" if comment else "")
        notify(session, [instance.started_by], NotificationKind.DECIDED, task,
               f"Your request was decided ({decision.replace('_', ' ')}): {task.title}", body)
    owners = session.scalars(select(Delegation.owner).where(Delegation.task_id == task.id,
                                                            Delegation.active.is_(True))).all()
    owners = [o for o in owners if o != actor]
    if owners:
        notify(session, owners, NotificationKind.DELEGATED, task, f"{actor} completed the task you delegated: "
               f"{task.title}")


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def overdue_pass(limit: int = 1000) -> int:
    """One "overdue" notice per overdue open task and person; returns how many were created.

    Claim first, in the same transaction as the notices: a conditional UPDATE of the task's
    ``overdue_notified_at`` (only the pass that changes it notifies), so two schedulers never send
    a notice twice and a pass that dies leaves nothing half done. On PostgreSQL the candidates are
    read FOR UPDATE SKIP LOCKED: a second pass skips the tasks the first is handling.
    """
    now = utcnow()
    created = 0
    with write_transaction():
        query = (select(HumanTask.id).where(HumanTask.status == TaskStatus.READY, HumanTask.due_at < now,
                                            HumanTask.overdue_notified_at.is_(None))
                 .order_by(HumanTask.due_at, HumanTask.id).limit(limit))
        if _is_postgres():
            query = query.with_for_update(skip_locked=True)
        candidates = list(db.session.scalars(query))
        if not candidates:
            return 0
        claimed = set(db.session.scalars(
            update(HumanTask).where(HumanTask.id.in_(candidates), HumanTask.overdue_notified_at.is_(None))
            .values(overdue_notified_at=now).returning(HumanTask.id)
            .execution_options(synchronize_session=False)))
        tasks = db.session.scalars(select(HumanTask).where(HumanTask.id.in_(claimed))
                                   .order_by(HumanTask.due_at, HumanTask.id))
        for task in tasks:
            created += notify(db.session, _recipients(db.session, task), NotificationKind.OVERDUE, task,
                              f"Overdue: {task.title}", f"It was due {task.due_at:%Y-%m-%d %H:%M UTC}.")
    return created


# -- reading and marking ------------------------------------------------------------------------------

def for_user(username: str, unread_only: bool = False, limit: int = 50) -> list[Notification]:
    stmt = select(Notification).where(Notification.username == username)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return list(db.session.scalars(stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
                                   .limit(limit)))


def unread_count(username: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.username == username, Notification.read_at.is_(None))) or 0


def mark_read(username: str, ids: Iterable[int] | None = None) -> int:
    with write_transaction():
        stmt = update(Notification).where(Notification.username == username, Notification.read_at.is_(None))
        if ids is not None:
            stmt = stmt.where(Notification.id.in_(list(ids)))
        result = db.session.execute(stmt.values(read_at=utcnow()))
    return result.rowcount or 0


def mark_task_read(username: str, task_id: str) -> None:
    """Opening a task reads its notices: a page load (GET), so it writes only when one is unread,
    in its own write transaction, keeping what the page has loaded."""
    unread = and_(Notification.username == username, Notification.task_id == task_id,
                  Notification.read_at.is_(None))
    if not db.session.scalar(select(exists().where(unread))):
        return
    with write_transaction(keep_loaded=True):
        db.session.execute(update(Notification).where(unread).values(read_at=utcnow()))


# -- e-mail ------------------------------------------------------------------------------------------

def smtp_enabled(config: dict[str, Any] | None = None) -> bool:
    config = config if config is not None else current_app.config
    return bool(config.get("SMTP_HOST"))


def send_email(to: str, subject: str, body: str, config: dict[str, Any] | None = None) -> None:
    """Send one plain-text message through the configured SMTP server."""
    config = config if config is not None else current_app.config
    message = EmailMessage()
    message["From"] = config.get("SMTP_FROM") or "pmo-flow@localhost"
    message["To"] = to
    message["Subject"] = _one_line(subject, 200)
    message.set_content(body)
    port = int(config.get("SMTP_PORT") or 25)
    with smtplib.SMTP(config["SMTP_HOST"], port, timeout=float(config.get("SMTP_TIMEOUT", 10))) as smtp:
        if str(config.get("SMTP_STARTTLS", "")).lower() in ("1", "true", "yes"):
            smtp.starttls()
        if config.get("SMTP_USER"):
            smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD", ""))
        smtp.send_message(message)


def _email_body(title: str, body: str | None, task_id: str | None, base_url: str) -> str:
    lines = [title, ""]
    if body:
        lines += [body, ""]
    if task_id:
        lines.append(f"Open the task: {base_url.rstrip('/')}/tasks/{task_id}")
    lines += ["", "You receive this because of your tasks in PMO Flow."]
    return "\n".join(lines)


EMAIL_BATCH = 20  # claimed at once: sent well within the lease even at the SMTP timeout each


def _claim_emails(batch: int) -> list[tuple[int, str, str, str, str | None]]:
    """Claim up to ``batch`` notices to e-mail (pending, or "sending" past the lease: their mailer
    died) and commit the claim before sending, so another mailer skips them. Returns their fields."""
    now = utcnow()
    claimable = or_(Notification.email_status == "pending",
                    and_(Notification.email_status == "sending",
                         Notification.email_claimed_at < now - timedelta(seconds=claim_lease_seconds())))
    with write_transaction():
        query = select(Notification.id).where(claimable).order_by(Notification.id).limit(batch)
        if _is_postgres():
            query = query.with_for_update(skip_locked=True)
        ids = list(db.session.scalars(query))
        if not ids:
            return []
        claimed = list(db.session.scalars(
            update(Notification).where(Notification.id.in_(ids), claimable)
            .values(email_status="sending", email_claimed_at=now).returning(Notification.id)
            .execution_options(synchronize_session=False)))
        return [tuple(row) for row in db.session.execute(
            select(Notification.id, Notification.username, Notification.title, Notification.body,
                   Notification.task_id).where(Notification.id.in_(claimed)).order_by(Notification.id))]


def _email_done(note_id: int, status: str) -> None:
    with write_transaction():
        db.session.execute(update(Notification).where(Notification.id == note_id,
                                                      Notification.email_status == "sending")
                           .values(email_status=status).execution_options(synchronize_session=False))


def deliver_pending_emails(limit: int = 200) -> int:
    """Send pending notices by e-mail (once each); a no-op unless SMTP_HOST is set. Returns sent count.

    Claim first, then send, then record: two mailers never take the same notice. A mailer that dies
    between claim and record leaves it "sending"; it is sent again after the lease (at least once:
    SMTP gives no way to ask whether the message went out).
    """
    config = current_app.config
    if not smtp_enabled(config):
        return 0
    base_url = config.get("SERVER_NAME_HINT", "http://127.0.0.1:5000")
    sent = handled = 0
    while handled < limit:
        notes = _claim_emails(min(EMAIL_BATCH, limit - handled))
        if not notes:
            break
        handled += len(notes)
        emails = dict(db.session.execute(select(User.username, User.email).where(
            User.username.in_({n[1] for n in notes}))).all())
        for note_id, username, title, body, task_id in notes:
            address = emails.get(username) or ""
            if "@" not in address:
                _email_done(note_id, "skipped")
                continue
            try:
                send_email(address, f"[PMO Flow] {title}", _email_body(title, body, task_id, base_url), config)
            except (OSError, smtplib.SMTPException) as exc:
                log.warning("e-mail to %s failed: %s", address, exc)
                _email_done(note_id, "failed")
                continue
            _email_done(note_id, "sent")
            sent += 1
    return sent


# -- what the instance commands announce ----------------------------------------------------------

@signals.tasks_created.connect
def _on_tasks_created(sender: object, *, session: Session, rows: list[HumanTask]) -> None:
    record_for_new_tasks(session, rows)


@signals.task_completed.connect
def _on_task_completed(sender: object, *, session: Session, instance: ProcessInstance, task: HumanTask,
                       actor: str, data: dict[str, Any]) -> None:
    record_decision(session, instance, task, actor, data)
