"""Read-only queries for the API and the web pages: the instance list, the inbox, the audit trail.

Every list is filtered, sorted and paginated in SQL; nothing loads all rows into Python. Who may
see which instance and task is the access policy's (``app.instances.access``): the lists and the
single-item views use its conditions, so they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select

from app.core.audit import AuditEntry
from app.core.errors import BadRequest, NotFound
from app.core.extensions import db
from app.core.models import utcnow
from app.instances import access
from app.instances.models import HumanTask, InstanceStatus, ProcessInstance, TaskStatus
from app.people.actor import Actor

T = TypeVar("T")
MAX_PER_PAGE = 200
TASK_SORTS = {
    "created_at": (HumanTask.created_at.asc(),),
    "-created_at": (HumanTask.created_at.desc(),),
    "due_at": (HumanTask.due_at.is_(None).asc(), HumanTask.due_at.asc()),
    "-due_at": (HumanTask.due_at.is_(None).asc(), HumanTask.due_at.desc()),
    "priority": (HumanTask.priority.asc(),),
    "-priority": (HumanTask.priority.desc(),),
    "title": (HumanTask.title.asc(),),
    "-title": (HumanTask.title.desc(),),
}


@dataclass
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int


def _paginate(stmt: Select, page: int, per_page: int) -> Page:
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise BadRequest(f"page must be >= 1 and per_page between 1 and {MAX_PER_PAGE}")
    # The total rides along as a window count: one statement instead of a count and a page query.
    rows = db.session.execute(stmt.add_columns(func.count().over().label("total"))
                              .limit(per_page).offset((page - 1) * per_page)).all()
    if rows:
        return Page([row[0] for row in rows], page, per_page, rows[0].total)
    total = 0 if page == 1 else db.session.scalar(
        select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    return Page([], page, per_page, total)


# -- instances ---------------------------------------------------------------------------------------

def visible_instance(instance_id: int, actor: Actor) -> ProcessInstance:
    """The instance if ``actor`` may see it (``access.instance_visible_sql``); one they may not see
    does not exist for them."""
    found = db.session.scalar(select(ProcessInstance).where(ProcessInstance.id == instance_id,
                                                            access.instance_visible_sql(actor)))
    if found is None:
        raise NotFound(f"process instance {instance_id} does not exist")
    return found


def list_instances(actor: Actor, *, process_key: str | None = None, status: str | None = None,
                   started_by: str | None = None, business_key: str | None = None,
                   page: int = 1, per_page: int = 50) -> Page[ProcessInstance]:
    """Instances the actor may see, newest first."""
    stmt = select(ProcessInstance).where(access.instance_visible_sql(actor))
    for column, value in ((ProcessInstance.process_key, process_key), (ProcessInstance.status, status),
                          (ProcessInstance.started_by, started_by),
                          (ProcessInstance.business_key, business_key)):
        if value is not None:
            stmt = stmt.where(column == value)
    stmt = stmt.order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
    return _paginate(stmt, page, per_page)


def audit_trail(instance_id: int) -> list[AuditEntry]:
    return list(db.session.scalars(
        select(AuditEntry).where(AuditEntry.instance_id == instance_id).order_by(AuditEntry.at, AuditEntry.id)))


# -- the inbox ---------------------------------------------------------------------------------------

def inbox(actor: Actor, *, process_key: str | None = None, status: str = "ready", overdue: bool = False,
          assigned: str | None = None, sort: str = "created_at", page: int = 1, per_page: int = 50,
          now: datetime | None = None) -> Page[HumanTask]:
    """The actor's tasks.

    ``status``: ``ready`` (what they can work on now), ``completed`` (what they completed) or
    ``all`` (both). ``assigned``: ``me`` or ``unassigned``. ``overdue``: READY and past due.
    """
    if status == "ready":
        who: ColumnElement[bool] = access.may_act_sql(actor)
    elif status == "completed":
        who = access.completed_by_sql(actor)
    elif status == "all":
        who = or_(access.may_act_sql(actor), access.completed_by_sql(actor))
    else:
        raise BadRequest(f"unknown task status filter '{status}'")
    if sort not in TASK_SORTS:
        raise BadRequest(f"unknown sort '{sort}'")
    stmt = select(HumanTask).where(who)
    if process_key:
        stmt = stmt.where(HumanTask.process_key == process_key)
    if assigned == "me":
        stmt = stmt.where(HumanTask.assignee == actor.username)
    elif assigned == "unassigned":
        stmt = stmt.where(HumanTask.assignee.is_(None))
    elif assigned is not None:
        raise BadRequest(f"unknown assigned filter '{assigned}'")
    if overdue:
        stmt = stmt.where(HumanTask.status == TaskStatus.READY, HumanTask.due_at.is_not(None),
                          HumanTask.due_at < (now or utcnow()))
    stmt = stmt.order_by(*TASK_SORTS[sort], HumanTask.id)
    return _paginate(stmt, page, per_page)


def actionable_tasks(instance_id: int, actor: Actor) -> list[HumanTask]:
    """READY tasks of one instance that ``actor`` may act on (``access.may_act_sql``)."""
    stmt = (select(HumanTask).where(HumanTask.instance_id == instance_id, access.may_act_sql(actor))
            .order_by(HumanTask.created_at, HumanTask.id))
    return list(db.session.scalars(stmt))


def next_tasks(instance: ProcessInstance, actor: Actor) -> list[HumanTask]:
    """What a completion answers: the instance's tasks ``actor`` may act on now. An instance that
    ended has none (its command closed every row), so that answer needs no statement."""
    if instance.status in (InstanceStatus.COMPLETED, InstanceStatus.TERMINATED):
        return []
    return actionable_tasks(instance.id, actor)
