"""The inbox: the open tasks a user can act on, read from the human-task projection."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, exists, or_, select

from ..extensions import db
from ..models import HumanTask, HumanTaskCandidate
from ..models.instance import TaskStatus

DEFAULT_LIMIT = 200


def open_tasks(username: str, roles: Iterable[str], limit: int = DEFAULT_LIMIT) -> list[HumanTask]:
    """READY tasks assigned to ``username``, or unclaimed ones offered to one of ``roles`` or to them.

    One query; the candidate test is an EXISTS on ``human_task_candidates`` (indexed by role and by
    username). Tasks the user is excluded from (segregation of duties) are left out. Sorted by due
    date (overdue first, undated last), then priority and age.
    """
    roles = sorted(set(roles))
    offered = or_(HumanTaskCandidate.username == username,
                  HumanTaskCandidate.role.in_(roles)) if roles else HumanTaskCandidate.username == username
    candidate = exists().where(HumanTaskCandidate.task_id == HumanTask.id, offered)
    query = (
        select(HumanTask)
        .where(HumanTask.status == TaskStatus.READY,
               or_(HumanTask.assignee == username, and_(HumanTask.assignee.is_(None), candidate)))
        .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.priority.desc(),
                  HumanTask.created_at, HumanTask.id)
        .limit(limit)
    )
    return [t for t in db.session.scalars(query) if username not in (t.excluded_users or [])]
