"""Operations: what an administrator watches and repairs.

Incidents (instances whose last step failed), suspended instances, stuck instances (running but
waiting on nothing: no open task, timer or message), tasks waiting for a lane group with nobody in
it, overdue timers, undelivered messages, and
the repairs: retry, skip the failing step, terminate, redeliver. Every repair goes through the
instance service (one command, one transaction) and is audited with the admin's reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import exists, func, select

from app.core import audit
from app.core.errors import BadRequest, Conflict, NotFound
from app.core.extensions import db
from app.core.models import utcnow
from app.core.transactions import write_transaction
from app.engine import clock
from app.instances import commands as instances
from app.instances import events
from app.instances.heartbeats import heartbeats
from app.instances.models import (
    HumanTask,
    HumanTaskCandidate,
    InstanceStatus,
    InstanceTimer,
    Message,
    MessageStatus,
    MessageSubscription,
    ProcessInstance,
    TaskStatus,
)
from app.people import queries as people_queries
from app.people.actor import Actor

OVERDUE_TIMER_SECONDS = 10.0


@dataclass
class Overview:
    incidents: list[ProcessInstance]
    suspended: list[ProcessInstance]
    stuck: list[ProcessInstance]
    overdue_timers: list[InstanceTimer]
    unmatched_messages: list[Message]
    waiting_for_groups: list[GroupWait] = field(default_factory=list)


@dataclass(frozen=True)
class GroupWait:
    """An open task offered only to a lane group that reaches nobody: it waits until an admin fills it."""

    task: HumanTask
    group_key: str
    group_name: str


def incidents(limit: int = 200) -> list[ProcessInstance]:
    return list(db.session.scalars(select(ProcessInstance).where(ProcessInstance.status == InstanceStatus.ERROR)
                                   .order_by(ProcessInstance.updated_at.desc()).limit(limit)))


def suspended(limit: int = 200) -> list[ProcessInstance]:
    return list(db.session.scalars(select(ProcessInstance).where(ProcessInstance.status == InstanceStatus.SUSPENDED)
                                   .order_by(ProcessInstance.updated_at.desc()).limit(limit)))


def stuck(limit: int = 200) -> list[ProcessInstance]:
    """Running instances waiting on nothing: no open task, no timer, no message subscription."""
    open_task = exists().where(HumanTask.instance_id == ProcessInstance.id, HumanTask.status == TaskStatus.READY)
    timer = exists().where(InstanceTimer.instance_id == ProcessInstance.id)
    subscription = exists().where(MessageSubscription.instance_id == ProcessInstance.id)
    rows = db.session.scalars(
        select(ProcessInstance).where(ProcessInstance.status == InstanceStatus.RUNNING, ~open_task, ~timer,
                                      ~subscription).order_by(ProcessInstance.id).limit(limit))
    # Waiting for a worker's external call is waiting on something.
    return [i for i in rows if not (i.waiting or {}).get("external")]


def overdue_timers(late_by: float = OVERDUE_TIMER_SECONDS, limit: int = 200) -> list[InstanceTimer]:
    cutoff = clock.now() - timedelta(seconds=late_by)
    return list(db.session.scalars(
        select(InstanceTimer).join(ProcessInstance, ProcessInstance.id == InstanceTimer.instance_id)
        .where(InstanceTimer.due_at <= cutoff, ProcessInstance.status == InstanceStatus.RUNNING)
        .order_by(InstanceTimer.due_at).limit(limit)))


def waiting_for_empty_groups(limit: int = 200) -> list[GroupWait]:
    """Open, unclaimed tasks of lane groups with no active member (no user, no holder of a member role)."""
    candidates = db.session.execute(
        select(HumanTask, HumanTaskCandidate.group_name)
        .join(HumanTaskCandidate, HumanTaskCandidate.task_id == HumanTask.id)
        .where(HumanTask.status == TaskStatus.READY, HumanTask.assignee.is_(None),
               HumanTaskCandidate.group_name.is_not(None))
        .order_by(HumanTask.created_at, HumanTask.id)).all()
    keys = {key for _, key in candidates}
    if not keys:
        return []
    reached = people_queries.group_members(keys)
    names = {g.key: g.name for g in people_queries.list_groups() if g.key in keys}
    waits: dict[str, GroupWait] = {}
    for task, key in candidates:
        others = any(c.role or c.username for c in task.candidates)  # a role or a user can take it
        if reached.get(key) or others or task.id in waits:
            continue
        waits[task.id] = GroupWait(task, key, names.get(key, key))
        if len(waits) >= limit:
            break
    return list(waits.values())


def overview() -> Overview:
    return Overview(incidents(), suspended(), stuck(), overdue_timers(), events.unmatched_messages(),
                    waiting_for_empty_groups())


# -- repairs ------------------------------------------------------------------------------------

def _require_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise BadRequest("a reason is required (it goes into the audit log)")
    return reason


def retry(instance_id: int, actor: Actor, reason: str | None = None) -> ProcessInstance:
    """Run the failed step again (after its cause was fixed)."""
    return instances.retry(instance_id, actor, reason=(reason or "").strip())


def retry_and_report(instance_id: int, actor: Actor, reason: str | None = None) -> tuple[ProcessInstance, str]:
    """Retry, and say what really happened (a failed completion is not run again: its person redoes it)."""
    before = dict(instances.get(instance_id).error or {})
    instance = retry(instance_id, actor, reason)
    task_id = before.get("command_task_id")
    if before.get("action") == "complete_task" and task_id:
        task = db.session.get(HumanTask, task_id)
        who = before.get("actor") or "someone"
        title = task.title if task is not None else "a task"
        if task is not None and task.status == TaskStatus.READY:
            holder = task.assignee or "its role"
            return instance, (f"Instance {instance_id}: incident cleared, but nothing ran again. It came from "
                              f"{who}'s completion of “{title}”, which was rolled back: the task is open again "
                              f"for {holder}, who must complete it again once the cause is fixed.")
        return instance, (f"Instance {instance_id}: incident cleared; it came from {who}'s completion of “{title}”, "
                          f"which nothing ran again.")
    open_tasks = instances.ready_tasks(instance_id)
    after = (f"now waiting on “{open_tasks[0].title}”" if open_tasks else f"now {instance.status}")
    return instance, f"Instance {instance_id}: retry done — the failed step ran again; the instance is {after}."


def skip(instance_id: int, actor: Actor, reason: str | None) -> ProcessInstance:
    """Mark the failed automatic step as done without running it, and go on."""
    reason = _require_reason(reason)
    instance = instances.get(instance_id)
    element_id = (instance.error or {}).get("element_id")
    if instance.status != InstanceStatus.ERROR or not element_id:
        raise Conflict(f"process instance {instance_id} has no failed step to skip")
    return instances.skip_failed_step(instance_id, actor, element_id, reason)


def terminate(instance_id: int, actor: Actor, reason: str | None) -> ProcessInstance:
    return instances.terminate(instance_id, actor, _require_reason(reason))


def redeliver(message_id: int, actor: Actor, reason: str | None = None) -> Message:
    """Queue an undelivered message again (e.g. after the receiving process was deployed)."""
    with write_transaction():
        message = db.session.get(Message, message_id, populate_existing=True, with_for_update=True)
        if message is None:
            raise NotFound(f"message {message_id} does not exist")
        if message.status != MessageStatus.UNMATCHED:
            raise Conflict(f"message {message_id} is {message.status}; only unmatched messages can be redelivered")
        message.status = MessageStatus.PENDING
        message.note = None
        audit.record(actor.username, "message_redeliver", message_id=message_id, name=message.name,
                     reason=(reason or "").strip())
    events.dispatch_pending()
    return db.session.get(Message, message_id)


# -- heartbeats and health -------------------------------------------------------------------

def scheduler_status() -> dict[str, Any]:
    """Lag of the most overdue timer, and which schedulers were seen lately."""
    lag = events.lag_seconds()
    alive = [h.name for h in heartbeats("scheduler")]
    due = db.session.scalar(select(func.count()).select_from(InstanceTimer)
                            .where(InstanceTimer.due_at <= clock.now()))
    limit = float(current_app.config.get("SCHEDULER_MAX_LAG_SECONDS", 5.0))
    return {"ok": lag <= limit, "lag_seconds": round(lag, 3), "due_timers": due, "schedulers": alive,
            "detail": (f"most overdue timer is {lag:.1f} s late" if lag else "no timer is overdue")
            + ("" if alive else "; no scheduler seen in the last 30 s")}


def worker_status() -> dict[str, Any]:
    """Celery workers answering a ping (scaled out), or in-process execution (embedded)."""
    celery = current_app.extensions["celery"]
    if celery.conf.task_always_eager:
        return {"ok": True, "workers": [], "detail": "in-process (embedded): no workers needed"}
    try:
        replies = celery.control.ping(timeout=1.0) or []
    except Exception as exc:  # noqa: BLE001 - an unreachable broker means no worker either
        return {"ok": False, "workers": [], "detail": f"cannot ask the workers ({type(exc).__name__})"}
    names = sorted(name for reply in replies for name in reply)
    return {"ok": bool(names), "workers": names,
            "detail": f"{len(names)} worker(s) answered" if names else "no worker answered within 1 s"}


def message_counts() -> dict[str, int]:
    rows = db.session.execute(select(Message.status, func.count()).group_by(Message.status)).all()
    return {status: count for status, count in rows}


def since(moment: datetime | None) -> float | None:
    return None if moment is None else (utcnow() - moment).total_seconds()
