"""Delegation and out-of-office.

- **Delegate**: the assignee hands a task to a colleague who may take it and keeps ownership: the
  delegate becomes the assignee (with ``instances.assign``'s checks), a ``Delegation`` row records
  owner and delegate, and the owner's "Delegated by me" view lists the task until it is done.
  Delegate, return and take back are each one instance command (``instances.task_command``).
- **Out of office**: a user names a stand-in for a period. New tasks that would go to them by name
  go to the stand-in (``apply_out_of_office``, called from ``notifications.record_for_new_tasks``
  inside the instance command that creates the tasks); tasks offered to a role stay with the role.

Whoever takes a task for someone else (a stand-in, a delegate) must hold the task's role, may not
be kept out of it by segregation of duties, and never holds two ballots of one vote (two tasks of
the same step open at once, e.g. the parallel CCB ballots): ``refusal`` says why not. Such a task
stays with its owner.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from app.core import audit
from app.core.errors import BadRequest, Conflict, Forbidden, Invalid
from app.core.extensions import db
from app.core.models import utcnow
from app.core.transactions import in_write_transaction
from app.engine.bundle import INITIATOR_LANE, normalize_role
from app.inbox.models import Delegation, DelegationReason, OutOfOffice
from app.instances import access
from app.instances import commands as instances
from app.instances.models import HumanTask, HumanTaskCandidate, TaskStatus
from app.people import queries as people_queries
from app.people.actor import Actor
from app.people.models import User, UserRole


def _active_user(username: str) -> User:
    user = db.session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        raise BadRequest(f"no active user named '{username}'")
    return user


# -- delegation ------------------------------------------------------------------------------------

def delegate(task_id: str, actor: Actor, delegate_to: str, note: str = "") -> Delegation:
    """Hand ``task_id`` to ``delegate_to`` while ``actor`` keeps ownership (claims it first if needed).

    One command: the claim (when the task was not yet the actor's), the assignment, the delegation
    row and the delegate's notice commit together, each audited as before (claim, assign, delegate).
    """
    delegate_to = (delegate_to or "").strip()
    if not delegate_to:
        raise Invalid("choose someone to delegate to", errors={"delegate": ["choose a user"]})
    if delegate_to == actor.username:
        raise Invalid("you cannot delegate a task to yourself", errors={"delegate": ["choose someone else"]})
    task = access.visible_task(task_id, actor)
    if task.status != TaskStatus.READY:
        raise Conflict(f"task {task_id} is already {task.status}")
    if access.is_excluded(task, actor.username):  # delegating is acting on it (access.act_refusal)
        raise Forbidden(access.SEGREGATION)
    delegate_user = _active_user(delegate_to)
    reason = refusal(db.session, task, delegate_to, set(delegate_user.roles))
    if reason:
        raise Forbidden(f"{delegate_to} cannot take this task: {reason}")
    if task.assignee is None:
        instances.check_claim(task, actor)
    elif task.assignee != actor.username:
        raise Forbidden("only the assignee can delegate this task")
    made: list[Delegation] = []

    def change(row: HumanTask, command: instances.InstanceCommand) -> dict[str, Any]:
        if row.assignee is None:
            command.record("claim", **instances.reassign(row, actor.username))
        elif row.assignee != actor.username:
            raise Conflict(f"task is already claimed by {row.assignee}")
        instances.check_assign(row, actor, delegate_to)
        command.record("assign", **instances.reassign(row, delegate_to))
        made.append(_record_delegation(row, actor, delegate_to, note))
        return {"delegate": delegate_to, "note": made[0].note}

    instances.execute(instances.task_command("delegate", task, actor, change))
    return made[0]


def _record_delegation(task: HumanTask, actor: Actor, delegate_to: str, note: str) -> Delegation:
    """Inside the delegate command: the delegation row and the delegate's notice."""
    for old in db.session.scalars(select(Delegation).where(Delegation.task_id == task.id, Delegation.active.is_(True),
                                                           Delegation.delegate == actor.username)):
        # re-delegating a delegated task: the original owner keeps watching, the chain is recorded
        old.note = (old.note + f" (passed on to {delegate_to})").strip()
    record = Delegation(task_id=task.id, instance_id=task.instance_id, owner=actor.username, delegate=delegate_to,
                        reason=DelegationReason.DELEGATED, note=(note or "").strip()[:2000])
    db.session.add(record)
    from app.inbox import notifications
    notifications.notify(db.session, [delegate_to], "delegated", task,
                         f"{actor.username} delegated a task to you: {task.title}", record.note)
    return record


def return_to_owner(task_id: str, actor: Actor) -> Delegation:
    """The delegate hands the task back to its owner: one command (the assignment, audited as
    ``assign``, and the delegation's end)."""
    record = active_delegation(task_id)
    if record is None or record.delegate != actor.username:
        raise Forbidden("this task was not delegated to you")
    task = instances.visible_task(task_id, actor)
    if task.status != TaskStatus.READY:
        raise Conflict(f"task {task_id} is already {task.status}")
    instances.check_assign(task, actor, record.owner)
    record_id, owner = record.id, record.owner

    def change(row: HumanTask, command: instances.InstanceCommand) -> dict[str, Any]:
        ended = db.session.get(Delegation, record_id, populate_existing=True)
        ended.active = False
        ended.ended_at = utcnow()
        return instances.reassign(row, owner)

    instances.execute(instances.task_command("assign", task, actor, change))
    return db.session.get(Delegation, record_id)


def take_back(task_id: str, actor: Actor) -> Delegation:
    """The owner who delegated ``task_id`` takes it back while it is open (audited, the delegate notified).

    Ends every active delegation of the task (a task passed on again comes back from the last
    delegate too); the task is assigned to the owner again. One command, one audit entry.
    """
    record = active_delegation(task_id)
    owned = [d for d in db.session.scalars(select(Delegation).where(
        Delegation.task_id == task_id, Delegation.active.is_(True), Delegation.owner == actor.username))]
    if record is None or not owned:
        raise Forbidden("you did not delegate this task")
    task = db.session.get(HumanTask, task_id)
    if task is None or task.status != TaskStatus.READY:
        raise Conflict(f"task {task_id} is already {task.status if task else 'gone'}")
    if access.is_excluded(task, actor.username):
        raise Forbidden("segregation of duties keeps you out of this task")
    last: list[Delegation] = []

    def change(row: HumanTask, command: instances.InstanceCommand) -> dict[str, Any]:
        # the owner needs no assign right
        extra = instances.reassign(row, actor.username)
        last.append(_end_delegations(row, actor, extra["previous_assignee"]))
        return {**extra, "delegate": extra["previous_assignee"]}

    instances.execute(instances.task_command("take_back", task, actor, change))
    return last[0]


def _end_delegations(task: HumanTask, actor: Actor, holder: str | None) -> Delegation:
    """Inside the take-back command: end the task's active delegations and tell their holder."""
    ended = list(db.session.scalars(select(Delegation).where(Delegation.task_id == task.id,
                                                             Delegation.active.is_(True)).order_by(Delegation.id)))
    now = utcnow()
    for row in ended:
        row.active = False
        row.ended_at = now
    from app.inbox import notifications
    if holder and holder != actor.username:
        notifications.notify(db.session, [holder], "delegated", task,
                             f"{actor.username} took back a task they had delegated to you: {task.title}",
                             "You no longer need to act on it.")
    return ended[-1]


def active_delegation(task_id: str) -> Delegation | None:
    return db.session.scalars(select(Delegation).where(Delegation.task_id == task_id, Delegation.active.is_(True))
                              .order_by(Delegation.id.desc())).first()


def owners(task_id: str) -> set[str]:
    """Who delegated ``task_id`` and may take it back (the owners of its active delegations)."""
    return set(db.session.scalars(select(Delegation.owner).where(Delegation.task_id == task_id,
                                                                 Delegation.active.is_(True))))


def delegations_of(task_id: str) -> list[Delegation]:
    return list(db.session.scalars(select(Delegation).where(Delegation.task_id == task_id).order_by(Delegation.id)))


def task_role(task: HumanTask) -> str | None:
    """The role a task belongs to (its lane); None for the initiator's own steps."""
    if not task.lane or normalize_role(task.lane) == INITIATOR_LANE:
        return None
    return normalize_role(task.lane)


def _same_vote(session: Session, task: HumanTask, batch: Iterable[HumanTask] = ()) -> list[HumanTask]:
    """Other tasks of the same step of the same instance open while ``task`` is: its vote's ballots.

    A step that comes round again (a loop) is not the same vote: its earlier task was done before
    this one was created.
    """
    def same_step(other: HumanTask) -> bool:
        return (other is not task and other.id != task.id and other.instance_id == task.instance_id
                and other.element_id == task.element_id and other.bpmn_process_id == task.bpmn_process_id)

    found = {t.id: t for t in batch if same_step(t)}
    if task.created_at is not None:
        with session.no_autoflush:
            for other in session.scalars(select(HumanTask).where(
                    HumanTask.instance_id == task.instance_id, HumanTask.element_id == task.element_id,
                    HumanTask.id != task.id,
                    or_(HumanTask.status == TaskStatus.READY,
                        and_(HumanTask.status == TaskStatus.COMPLETED, HumanTask.completed_at >= task.created_at)))):
                if same_step(other):
                    found.setdefault(other.id, other)
    return list(found.values())


def _holds(task: HumanTask, username: str) -> bool:
    return (task.assignee == username or task.completed_by == username
            or any(c.username == username for c in task.candidates))


def refusal(session: Session, task: HumanTask, username: str, roles: set[str],
            batch: Iterable[HumanTask] = ()) -> str | None:
    """Why ``username`` may not take ``task`` for someone else (stand-in or delegate); None if they may."""
    if access.is_excluded(task, username):
        return "segregation of duties keeps them out of it"
    if task.candidate_groups:  # a lane group's task: the stand-in must be in the group
        if not set(task.candidate_groups) & people_queries.groups_of(username, set(roles)):
            return f"they are not in its group ({task.lane})"
    elif (role := task_role(task)) is None:
        return "it is a step of whoever started the process, not of a role"
    elif role not in {normalize_role(r) for r in roles}:
        return f"they do not hold its role ({role})"
    if any(_holds(other, username) for other in _same_vote(session, task, batch)):
        return "they already hold a ballot of the same vote"
    return None


def assignable_users(task: HumanTask, exclude: Iterable[str] = ()) -> list[User]:
    """Active users who may take ``task``: a candidate role, name or group member, and not excluded from it."""
    skip = set(exclude)
    roles = task.candidate_roles
    names = set(task.candidate_users)
    for members in people_queries.group_members(task.candidate_groups).values():
        names.update(members)
    stmt = select(User).where(User.active.is_(True)).order_by(User.username)
    if roles:
        stmt = stmt.where((User.id.in_(select(UserRole.user_id).where(UserRole.role.in_(roles))))
                          | User.username.in_(names))
    else:
        stmt = stmt.where(User.username.in_(sorted(names)))
    return [u for u in db.session.scalars(stmt) if u.username not in skip and not access.is_excluded(task, u.username)]


# -- out of office -----------------------------------------------------------------------------------

@in_write_transaction
def set_out_of_office(user: User, stand_in: str, starts_at: datetime, ends_at: datetime,
                      note: str = "") -> OutOfOffice:
    errors: dict[str, list[str]] = {}
    stand_in = (stand_in or "").strip()
    if not stand_in:
        errors["stand_in"] = ["choose a stand-in"]
    elif stand_in == user.username:
        errors["stand_in"] = ["your stand-in must be someone else"]
    else:
        found = db.session.scalars(select(User).where(User.username == stand_in)).first()
        if found is None or not found.active:
            errors["stand_in"] = [f"no active user named '{stand_in}'"]
    if ends_at <= starts_at:
        errors["ends_at"] = ["must be after the start"]
    if ends_at <= utcnow():
        errors.setdefault("ends_at", []).append("must be in the future")
    if errors:
        raise Invalid("the out-of-office period has errors", errors=errors)
    for current in current_out_of_office(user.username, include_future=True):
        current.cancelled = True
    record = OutOfOffice(username=user.username, stand_in=stand_in, starts_at=starts_at, ends_at=ends_at,
                         note=(note or "").strip()[:2000])
    db.session.add(record)
    audit.record(user.username, "out_of_office", stand_in=stand_in, starts_at=starts_at.isoformat(),
                 ends_at=ends_at.isoformat())
    return record


@in_write_transaction
def cancel_out_of_office(user: User) -> int:
    rows = current_out_of_office(user.username, include_future=True)
    for row in rows:
        row.cancelled = True
    if rows:
        audit.record(user.username, "out_of_office_cancelled")
    return len(rows)


def current_out_of_office(username: str, include_future: bool = False) -> list[OutOfOffice]:
    now = utcnow()
    stmt = select(OutOfOffice).where(OutOfOffice.username == username, OutOfOffice.cancelled.is_(False),
                                     OutOfOffice.ends_at > now)
    if not include_future:
        stmt = stmt.where(OutOfOffice.starts_at <= now)
    return list(db.session.scalars(stmt.order_by(OutOfOffice.starts_at)))


def standing_in_for(username: str) -> list[OutOfOffice]:
    """Who ``username`` stands in for right now."""
    now = utcnow()
    return list(db.session.scalars(select(OutOfOffice).where(
        OutOfOffice.stand_in == username, OutOfOffice.cancelled.is_(False), OutOfOffice.starts_at <= now,
        OutOfOffice.ends_at > now)))


def apply_out_of_office(session: Session, rows: Iterable[HumanTask]) -> None:
    """Route new tasks of users who are away to their stand-ins (inside the creating transaction).

    A task assigned to an away user by name is assigned to the stand-in (with a delegation row, so
    the away user finds it in "Delegated by me" when back); a task offered to an away user by name
    is also offered to the stand-in. Only when ``refusal`` finds nothing against the stand-in: one
    without the task's role, kept out by segregation of duties, or already holding a ballot of the
    same vote is skipped (audited), and the task stays with its owner. Tasks offered to a role stay
    with the role: a stand-in with that role sees them anyway.
    """
    rows = [r for r in rows if r.status == TaskStatus.READY]
    if not rows:
        return
    now = utcnow()
    away = {o.username: o for o in session.scalars(select(OutOfOffice).where(
        OutOfOffice.cancelled.is_(False), OutOfOffice.starts_at <= now, OutOfOffice.ends_at > now))}
    if not away:
        return
    named = [r for r in rows if r.assignee in away or any(c.username in away for c in r.candidates)]
    if not named:
        return
    stand_ins = {o.stand_in for o in away.values()}
    roles_of: dict[str, set[str]] = {}
    for username, role in session.execute(
            select(User.username, UserRole.role).join(UserRole, UserRole.user_id == User.id)
            .where(User.username.in_(stand_ins))).all():
        roles_of.setdefault(username, set()).add(role)
    for row in named:
        names = {c.username for c in row.candidates if c.username}
        for username in sorted(u for u in names | {row.assignee} if u in away):
            record = away[username]
            stand_in = record.stand_in
            if stand_in in names or stand_in == row.assignee:
                continue
            reason = refusal(session, row, stand_in, roles_of.get(stand_in, set()), batch=rows)
            if reason:
                audit.record("system", "out_of_office_not_routed", instance_id=row.instance_id, task_id=row.id,
                             process_key=row.process_key, owner=username, stand_in=stand_in, reason=reason)
                continue
            if row.assignee == username:
                session.add(Delegation(task_id=row.id, instance_id=row.instance_id, owner=username,
                                       delegate=stand_in, reason=DelegationReason.OUT_OF_OFFICE,
                                       note=f"{username} is out of office until {record.ends_at:%Y-%m-%d}"))
                row.assignee = stand_in
            row.candidates.append(HumanTaskCandidate(username=stand_in))
            names.add(stand_in)
