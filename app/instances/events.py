"""Timers and messages: the indexes an instance's waits are kept in, and message delivery.

``sync`` runs inside every instance command (same transaction as the state it describes):
it rewrites the instance's timer rows (due times, indexed) and message subscriptions when they
changed, and stores the messages the step threw for other instances; it answers what the command
must hand on, which the command carries. ``after_commit`` then enqueues the external calls and
delivers those messages, so a receiver never sees a message from a step that rolled back.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update

from app.core.extensions import db
from app.core.models import utcnow
from app.core.transactions import claim_lease_seconds, write_transaction
from app.definitions import queries as definition_queries
from app.engine import clock, runtime
from app.instances.models import (
    InstanceStatus,
    InstanceTimer,
    Message,
    MessageStatus,
    MessageSubscription,
    ProcessInstance,
)

log = logging.getLogger(__name__)
# Set while ``dispatch_pending`` runs: the commands it runs leave the messages they throw to its loop.
_DISPATCHING: contextvars.ContextVar[bool] = contextvars.ContextVar("pmo_dispatching", default=False)


# -- inside a command ---------------------------------------------------------------------------

@dataclass
class Synced:
    """What a step hands on after its commit: the external calls it paused at, the messages it threw."""

    external_calls: list[str] = field(default_factory=list)  # task ids
    threw_messages: bool = False


def sync(instance: ProcessInstance, workflow, delivery: Delivery | None = None) -> Synced:  # noqa: ANN001
    """Bring the instance's wait indexes in step with ``workflow``; mark ``delivery`` delivered."""
    synced = Synced()
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
        synced.external_calls = [c["task_id"] for c in waiting["external"]]
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
        synced.threw_messages = True
    if delivery is not None:
        _mark_delivered(instance, delivery)
    return synced


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
    if _is_postgres():
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
    ids: dict[int, None] = {}
    with write_transaction():
        if _is_postgres():
            query = query.with_for_update(skip_locked=True, of=InstanceTimer)
        for timer in db.session.scalars(query):
            timer.enqueued_at = now
            ids.setdefault(timer.instance_id, None)
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

def after_commit(external_calls: list[tuple[int, str]], threw_messages: bool) -> bool:
    """After a command committed: queue the external calls (instance id, task id) its step paused
    at, and deliver the messages it threw (unless a dispatcher runs it: its loop delivers them).

    Returns whether it handed anything on: in embedded mode that work has already run (in its own
    session), so the caller's loaded objects may be stale.
    """
    if external_calls:
        from app.instances.jobs import run_external

        for instance_id, task_id in external_calls:
            run_external.delay(instance_id, task_id)
    if not threw_messages or _DISPATCHING.get():
        return bool(external_calls)
    from flask import current_app

    from app.worker import is_eager

    if is_eager(current_app):
        dispatch_pending()
    else:
        from app.instances.jobs import dispatch_messages

        dispatch_messages.delay()
    return True


class ClaimLost(Exception):
    """The message's lease ran out and another dispatcher claimed it: this delivery rolls back."""


@dataclass
class Delivery:
    """The claimed message a command is delivering (see ``_mark_delivered``): the command carries it."""

    message_id: int
    token: str
    instance_id: int
    note: str | None = None
    marked: bool = False


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _claimable(now: datetime):  # noqa: ANN202 - a SQL condition
    """Pending, or claimed by a dispatcher that did not finish within the lease (it died)."""
    expired = now - timedelta(seconds=claim_lease_seconds())
    return or_(Message.status == MessageStatus.PENDING,
               and_(Message.status == MessageStatus.DISPATCHING, Message.claimed_at < expired))


def dispatch_pending(limit: int = 1000) -> int:
    """Deliver pending messages, including those their delivery throws in turn. Returns how many.

    Claim first, then deliver: each message is claimed (status "dispatching" with this
    dispatcher's token, committed) before anything is done with it, so two dispatchers never take
    the same message; the delivering command itself marks it delivered, conditioned on the token,
    so a delivery is recorded exactly once even when a slow dispatcher's lease ran out.
    """
    from app.definitions import operations as definitions
    from app.instances import commands as instances  # import here: instances imports this module
    token = _DISPATCHING.set(True)
    delivered = 0
    try:
        for _ in range(limit):
            claim = _claim_next()
            if claim is None:
                break
            delivered += _deliver_one(*claim, instances, definitions)
    finally:
        _DISPATCHING.reset(token)
    return delivered


def _claim_next() -> tuple[int, str] | None:
    """Claim the oldest claimable message for this dispatcher: (message id, claim token)."""
    now = utcnow()
    token = uuid.uuid4().hex
    with write_transaction():
        query = select(Message.id).where(_claimable(now)).order_by(Message.id).limit(1)
        if _is_postgres():
            query = query.with_for_update(skip_locked=True)
        message_id = db.session.scalar(query)
        if message_id is None:
            return None
        claimed = db.session.execute(
            update(Message).where(Message.id == message_id, _claimable(now))
            .values(status=MessageStatus.DISPATCHING, claimed_at=now, claimed_by=token)
            .execution_options(synchronize_session=False)).rowcount
    return (message_id, token) if claimed else None


def _settle(message_id: int, token: str, status: str, targets: list[int], note: str | None) -> bool:
    """Record the outcome of a claimed message, unless its claim was lost (then another dispatcher owns it)."""
    done = db.session.execute(
        update(Message).where(Message.id == message_id, Message.status == MessageStatus.DISPATCHING,
                              Message.claimed_by == token)
        .values(status=status, delivered_to=targets, note=note, delivered_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    return bool(done)


def _mark_delivered(instance: ProcessInstance, delivery: Delivery) -> None:
    """Inside the command that hands the claimed message to ``instance``: mark it delivered in the
    same transaction (called from ``sync``), so delivery and record commit or roll back together."""
    if delivery.marked or instance.id != delivery.instance_id:
        return
    if not _settle(delivery.message_id, delivery.token, MessageStatus.DELIVERED, [instance.id], delivery.note):
        raise ClaimLost(f"message {delivery.message_id} was claimed by another dispatcher")
    delivery.marked = True


def _receive(instances, instance_id: int, message_id: int, token: str, name: str, payload: Any,  # noqa: ANN001
             correlations: dict[str, Any], note: str | None = None) -> None:
    delivery = Delivery(message_id, token, instance_id, note)
    instances.receive_message(instance_id, name, payload, correlations, message_id, delivery=delivery)
    if not delivery.marked:  # the instance had nothing to sync the mark into (cannot happen today)
        raise ClaimLost(f"message {message_id} was not recorded as delivered")


def _deliver_one(message_id: int, token: str, instances, definitions) -> int:  # noqa: ANN001
    message = db.session.get(Message, message_id, populate_existing=True)
    name, payload, correlations = message.name, message.payload, dict(message.correlations)
    source = message.source_instance_id
    candidates = db.session.execute(
        select(MessageSubscription.instance_id, MessageSubscription.correlations)
        .join(ProcessInstance, ProcessInstance.id == MessageSubscription.instance_id)
        .where(MessageSubscription.name == name, ProcessInstance.status == InstanceStatus.RUNNING)
        .order_by(MessageSubscription.instance_id)).all()
    for instance_id, waiting in candidates:
        if instance_id == source or not runtime.correlations_match(waiting, correlations):
            continue
        try:
            _receive(instances, instance_id, message_id, token, name, payload, correlations)
        except ClaimLost as exc:
            log.warning("%s; leaving it to that dispatcher", exc)
            return 0
        except Exception as exc:  # noqa: BLE001 - the receiver is now in error; try the next one
            log.warning("message %s could not be delivered to instance %s: %s", message_id, instance_id, exc)
            continue
        return 1
    for version in definition_queries.list_latest():
        spec, _ = definition_queries.spec_for(version)
        if name in runtime.message_start_names(spec):
            # If this dispatcher dies after the start, the new instance waits for the message and
            # the retry after the lease delivers it there (it is then one of the candidates above).
            instance = instances.start(version.process_key, instances.SYSTEM, {}, version=version)
            try:
                _receive(instances, instance.id, message_id, token, name, payload, correlations,
                         "started a new instance")
            except ClaimLost as exc:
                log.warning("%s; leaving it to that dispatcher", exc)
                return 0
            return 1
    with write_transaction():
        _settle(message_id, token, MessageStatus.UNMATCHED, [], "no instance or process was waiting for this message")
    return 0


def unmatched_messages() -> list[Message]:
    return list(db.session.scalars(
        select(Message).where(Message.status == MessageStatus.UNMATCHED).order_by(Message.id)))


def has_pending_messages() -> bool:
    """Messages waiting for a dispatcher, including claims whose dispatcher died."""
    return db.session.scalar(select(func.count()).select_from(Message).where(_claimable(utcnow()))) > 0
