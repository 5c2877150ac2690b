"""Timers and messages: the indexes an instance's waits are kept in, and message delivery.

``sync`` runs inside every instance command (same transaction as the state it describes):
it rewrites the instance's timer rows (due times, indexed) and message subscriptions when they
changed, and stores the messages the step threw for other instances. ``after_commit`` then
delivers those messages, so a receiver never sees a message from a step that rolled back.
"""

from __future__ import annotations

import contextvars
import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select

from ..engine import clock, runtime
from ..extensions import db
from ..models import InstanceTimer, Message, MessageSubscription, ProcessInstance
from ..models.base import utcnow
from ..models.events import MessageStatus
from ..models.instance import InstanceStatus

log = logging.getLogger(__name__)
_DISPATCHING: contextvars.ContextVar[bool] = contextvars.ContextVar("pmo_dispatching", default=False)
_PENDING_FLAG: contextvars.ContextVar[bool] = contextvars.ContextVar("pmo_pending_messages", default=False)
# External service calls the committed step paused at: queued for a worker after the commit.
_EXTERNAL_CALLS: contextvars.ContextVar[list[tuple[int, str]] | None] = contextvars.ContextVar(
    "pmo_external_calls", default=None)


# -- inside a command ---------------------------------------------------------------------------

def sync(instance: ProcessInstance, workflow) -> None:  # noqa: ANN001
    timers = runtime.waiting_timers(workflow)
    subscriptions = runtime.waiting_messages(workflow)
    external = runtime.pending_external_calls(workflow)
    waiting = {
        "timers": [{"task_id": t.task_id, "element_id": t.element_id, "kind": t.kind,
                    "due_at": t.due_at.isoformat()} for t in timers],
        "messages": [{"name": name, "correlations": corr} for name, corr in subscriptions],
        "external": [{"task_id": c.task_id, "element_id": c.element_id, "operator": c.operator} for c in external],
    }
    if instance.status in (InstanceStatus.TERMINATED, InstanceStatus.COMPLETED):
        waiting = {"timers": [], "messages": [], "external": []}
    if waiting["external"] and instance.status == InstanceStatus.RUNNING:
        queued = _EXTERNAL_CALLS.get() or []
        queued.extend((instance.id, c["task_id"]) for c in waiting["external"])
        _EXTERNAL_CALLS.set(queued)
    previous = instance.waiting or {}
    if instance.id is not None and previous.get("timers", []) != waiting["timers"]:
        if previous.get("timers"):
            db.session.execute(delete(InstanceTimer).where(InstanceTimer.instance_id == instance.id))
        if waiting["timers"]:  # plain INSERTs: the rows are not read back in this transaction
            db.session.execute(insert(InstanceTimer.__table__), [
                {"instance_id": instance.id, "task_id": t["task_id"], "element_id": t["element_id"],
                 "kind": t["kind"], "due_at": datetime.fromisoformat(t["due_at"]), "enqueued_at": None}
                for t in waiting["timers"]])
    if instance.id is not None and previous.get("messages", []) != waiting["messages"]:
        if previous.get("messages"):
            db.session.execute(delete(MessageSubscription).where(MessageSubscription.instance_id == instance.id))
        for m in waiting["messages"]:
            db.session.add(MessageSubscription(instance_id=instance.id, name=m["name"],
                                               correlations=m["correlations"]))
    if previous != waiting:
        instance.waiting = waiting
    for name, payload, correlations in runtime.thrown_messages(workflow):
        db.session.add(Message(name=name, payload=payload, correlations=correlations,
                               source_instance_id=instance.id, status=MessageStatus.PENDING))
        _PENDING_FLAG.set(True)


def has_due_timer(instance_id: int, now: datetime | None = None) -> bool:
    now = now or clock.now()
    return db.session.scalar(
        select(func.count()).select_from(InstanceTimer)
        .where(InstanceTimer.instance_id == instance_id, InstanceTimer.due_at <= now)) > 0


def due_timers_of(instance_id: int, now: datetime | None = None) -> list[InstanceTimer]:
    now = now or clock.now()
    return list(db.session.scalars(
        select(InstanceTimer).where(InstanceTimer.instance_id == instance_id, InstanceTimer.due_at <= now)))


# -- the timer scheduler's query ------------------------------------------------------------------

def due_instance_ids(limit: int = 100, now: datetime | None = None) -> list[int]:
    """Running instances with a due timer, oldest due first. Cost depends on due rows only (index).

    On PostgreSQL the rows are read with FOR UPDATE SKIP LOCKED so two schedulers split the work;
    firing itself is safe against doubles either way (see instances.fire_due_timers).
    """
    now = now or clock.now()
    query = (select(InstanceTimer.instance_id, InstanceTimer.due_at)
             .join(ProcessInstance, ProcessInstance.id == InstanceTimer.instance_id)
             .where(InstanceTimer.due_at <= now, ProcessInstance.status == InstanceStatus.RUNNING)
             .order_by(InstanceTimer.due_at).limit(limit))
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=InstanceTimer)
    seen: dict[int, None] = {}
    for instance_id, _due in db.session.execute(query):
        seen.setdefault(instance_id, None)
    return list(seen)


def lease_due_instances(limit: int, lease_seconds: float, now: datetime | None = None) -> list[int]:
    """Scaled out: mark due timers as queued (a lease) and return their instances, once each.

    A timer whose lease ran out (its worker died mid-step, so the step rolled back) is leased
    again; a fired timer's row is gone, so nothing is queued twice in effect.
    """
    now = now or clock.now()
    expired = now - timedelta(seconds=lease_seconds)
    query = (select(InstanceTimer)
             .join(ProcessInstance, ProcessInstance.id == InstanceTimer.instance_id)
             .where(InstanceTimer.due_at <= now, ProcessInstance.status == InstanceStatus.RUNNING,
                    or_(InstanceTimer.enqueued_at.is_(None), InstanceTimer.enqueued_at < expired))
             .order_by(InstanceTimer.due_at).limit(limit))
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=InstanceTimer)
    ids: dict[int, None] = {}
    for timer in db.session.scalars(query):
        timer.enqueued_at = now
        ids.setdefault(timer.instance_id, None)
    db.session.commit()
    return list(ids)


def next_due_at() -> datetime | None:
    return db.session.scalar(select(func.min(InstanceTimer.due_at)))


def lag_seconds(now: datetime | None = None) -> float:
    """How late the most overdue timer of a running instance is (0 when none is due)."""
    now = now or clock.now()
    oldest = db.session.scalar(
        select(func.min(InstanceTimer.due_at))
        .join(ProcessInstance, ProcessInstance.id == InstanceTimer.instance_id)
        .where(ProcessInstance.status == InstanceStatus.RUNNING))
    if oldest is None or oldest > now:
        return 0.0
    return (now - oldest).total_seconds()


# -- messages -------------------------------------------------------------------------------------

def forget_uncommitted() -> None:
    """A step rolled back: drop what it would have queued."""
    _EXTERNAL_CALLS.set(None)


def after_commit() -> bool:
    """Queue the external calls the committed step paused at, and deliver the messages it threw.

    Returns whether it handed anything on: in embedded mode that work has already run (in its own
    session), so the caller's loaded objects may be stale.
    """
    calls = _EXTERNAL_CALLS.get()
    if calls:
        _EXTERNAL_CALLS.set(None)
        from ..tasks import run_external

        for instance_id, task_id in calls:
            run_external.delay(instance_id, task_id)
    if not _PENDING_FLAG.get() or _DISPATCHING.get():
        return bool(calls)
    _PENDING_FLAG.set(False)
    from flask import current_app

    from ..worker import is_eager

    if is_eager(current_app):
        dispatch_pending()
    else:
        from ..tasks import dispatch_messages

        dispatch_messages.delay()
    return True


def dispatch_pending(limit: int = 1000) -> int:
    """Deliver pending messages, including those their delivery throws in turn. Returns how many."""
    from . import definitions, instances  # import here: instances imports this module

    token = _DISPATCHING.set(True)
    delivered = 0
    try:
        for _ in range(limit):
            db.session.commit()
            message = db.session.scalars(
                select(Message).where(Message.status == MessageStatus.PENDING).order_by(Message.id).limit(1)
            ).first()
            if message is None:
                break
            delivered += _deliver_one(message, instances, definitions)
            _PENDING_FLAG.set(False)
    finally:
        _DISPATCHING.reset(token)
    return delivered


def _claim(message_id: int, status: str, targets: list[int], note: str | None) -> bool:
    """Mark the message as handled unless another dispatcher did first."""
    msg = db.session.get(Message, message_id, with_for_update=True, populate_existing=True)
    if msg is None or msg.status != MessageStatus.PENDING:
        db.session.rollback()
        return False
    msg.status, msg.delivered_to, msg.note, msg.delivered_at = status, targets, note, utcnow()
    db.session.commit()
    return True


def _deliver_one(message: Message, instances, definitions) -> int:  # noqa: ANN001
    name, payload, correlations, message_id = message.name, message.payload, dict(message.correlations), message.id
    candidates = db.session.execute(
        select(MessageSubscription.instance_id, MessageSubscription.correlations)
        .join(ProcessInstance, ProcessInstance.id == MessageSubscription.instance_id)
        .where(MessageSubscription.name == name, ProcessInstance.status == InstanceStatus.RUNNING)
        .order_by(MessageSubscription.instance_id)).all()
    for instance_id, waiting in candidates:
        if instance_id == message.source_instance_id or not runtime.correlations_match(waiting, correlations):
            continue
        try:
            instances.receive_message(instance_id, name, payload, correlations, message_id)
        except Exception as exc:  # noqa: BLE001 - the receiver is now in error; try the next one
            log.warning("message %s could not be delivered to instance %s: %s", message_id, instance_id, exc)
            continue
        return 1 if _claim(message_id, MessageStatus.DELIVERED, [instance_id], None) else 0
    for version in definitions.list_latest():
        spec, _ = definitions.spec_for(version)
        if name in runtime.message_start_names(spec):
            instance = instances.start_by_message(version, name, payload, correlations, message_id)
            return 1 if _claim(message_id, MessageStatus.DELIVERED, [instance.id], "started a new instance") else 0
    _claim(message_id, MessageStatus.UNMATCHED, [], "no instance or process was waiting for this message")
    return 0


def unmatched_messages() -> list[Message]:
    return list(db.session.scalars(
        select(Message).where(Message.status == MessageStatus.UNMATCHED).order_by(Message.id)))


def has_pending_messages() -> bool:
    return db.session.scalar(select(func.count()).select_from(Message)
                             .where(Message.status == MessageStatus.PENDING)) > 0
