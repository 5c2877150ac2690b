"""Projects as the PMO reads them: a project (by id or code), its open tasks and change requests,
project lists and which ones a user may see, and the lessons-learned repository. Nothing here changes state (``operations`` does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import or_, select

from app.core.errors import NotFound
from app.core.extensions import db
from app.instances import access
from app.instances.models import HumanTask, ProcessInstance, TaskStatus
from app.people.actor import Actor
from app.projects.models import ChangeRequest, LessonLearned, Phase, Project, ProjectStatus

MIN_SEARCH_WORD = 3


def get_project(project_id: int) -> Project:
    project = db.session.get(Project, project_id)
    if project is None:
        raise NotFound(f"project {project_id} does not exist")
    return project


def get_project_by_code(code: str) -> Project:
    project = db.session.scalars(select(Project).where(Project.code == code.upper())).first()
    if project is None:
        raise NotFound(f"no project with code '{code}'")
    return project


def open_tasks(project: Project) -> list[HumanTask]:
    """Ready tasks of every process instance of the project (lifecycle and change requests)."""
    return list(db.session.scalars(
        select(HumanTask).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(ProcessInstance.business_key == project.business_key, HumanTask.status == TaskStatus.READY)
        .order_by(HumanTask.created_at, HumanTask.id)))


@dataclass
class ProjectView:
    project: Project
    open_tasks: list[HumanTask] = field(default_factory=list)


def list_projects(phase: str | None = None, status: str | None = None,
                  with_tasks: bool = True) -> list[ProjectView]:
    query = select(Project).order_by(Project.priority.is_(None), Project.priority, Project.id)
    if phase:
        query = query.where(Project.phase == phase)
    if status:
        query = query.where(Project.status == status)
    projects = list(db.session.scalars(query))
    if not with_tasks or not projects:
        return [ProjectView(p) for p in projects]
    keys = {p.business_key: p for p in projects}
    rows = db.session.execute(
        select(HumanTask, ProcessInstance.business_key).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(ProcessInstance.business_key.in_(list(keys)), HumanTask.status == TaskStatus.READY)
        .order_by(HumanTask.created_at, HumanTask.id)).all()
    views = {p.id: ProjectView(p) for p in projects}
    for task, key in rows:
        views[keys[key].id].open_tasks.append(task)
    return list(views.values())


def change_requests(project_id: int) -> list[ChangeRequest]:
    return list(get_project(project_id).change_requests)


def search_lessons(q: str, category: str | None = None, match_any: bool = False,
                   limit: int = 50) -> list[LessonLearned]:
    """Published lessons matching the words of ``q`` (all of them, or any with ``match_any``) in title,
    text, category or tags; newest first."""
    words = [w.lower() for w in re.findall(r"[\w-]+", q or "") if len(w) >= MIN_SEARCH_WORD]
    query = select(LessonLearned).where(LessonLearned.published.is_(True))
    if category:
        query = query.where(LessonLearned.category == category)
    if match_any and not words:
        return []
    conditions = []
    for word in words[:10]:
        like = f"%{word}%"
        conditions.append(or_(LessonLearned.title.ilike(like), LessonLearned.recommendation.ilike(like),
                              LessonLearned.what_to_improve.ilike(like), LessonLearned.what_went_well.ilike(like),
                              LessonLearned.category.ilike(like), LessonLearned.tags_text.ilike(like)))
    if conditions:
        query = query.where(or_(*conditions)) if match_any else query.where(*conditions)
    return list(db.session.scalars(query.order_by(LessonLearned.id.desc()).limit(limit)))


def tasks_by_project(projects: list[Project]) -> dict[int, list[HumanTask]]:
    keys = {p.business_key: p.id for p in projects}
    if not keys:
        return {}
    found: dict[int, list[HumanTask]] = {}
    rows = db.session.execute(
        select(HumanTask, ProcessInstance.business_key).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(ProcessInstance.business_key.in_(list(keys)), HumanTask.status == TaskStatus.READY)
        .order_by(HumanTask.created_at, HumanTask.id)).all()
    for task, key in rows:
        found.setdefault(keys[key], []).append(task)
    return found


def accepts_change_requests(project: Project) -> bool:
    return project.phase in Phase.CHANGEABLE and project.status not in (
        ProjectStatus.REJECTED, ProjectStatus.CLOSED, ProjectStatus.KILLED)


def lesson_page(q: str | None = None, category: str | None = None, tag: str | None = None,
                page: int = 1, per_page: int = 50):  # noqa: ANN201
    """Published lessons, newest first: every word of ``q`` (3+ letters) in the title, text, category
    or tags; ``category`` exactly; ``tag`` one of the tags (case-insensitive)."""
    from app.instances.queries import _paginate

    words = [w.lower() for w in re.findall(r"[\w-]+", q or "") if len(w) >= MIN_SEARCH_WORD]
    query = select(LessonLearned).where(LessonLearned.published.is_(True))
    if category:
        query = query.where(LessonLearned.category == category)
    if tag and tag.strip():
        query = query.where(LessonLearned.tags_text.like(f"%,{tag.strip().lower()},%"))
    for word in words[:10]:
        like = f"%{word}%"
        query = query.where(or_(LessonLearned.title.ilike(like), LessonLearned.recommendation.ilike(like),
                                LessonLearned.what_to_improve.ilike(like), LessonLearned.what_went_well.ilike(like),
                                LessonLearned.category.ilike(like), LessonLearned.tags_text.ilike(like)))
    return _paginate(query.order_by(LessonLearned.id.desc()), page, per_page)


# -- which projects a user may see ------------------------------------------------------------

def _visible_to(actor: Actor):  # noqa: ANN202
    """SQL: the actor manages or sponsors the project, or may see one of its process instances
    (``access.instance_visible_sql``: started it, holds or completed one of its tasks, or has one
    available to claim)."""
    from sqlalchemy import String, cast, exists, literal

    business_key = literal("project:") + cast(Project.id, String)
    return or_(Project.project_manager == actor.username, Project.sponsor == actor.username,
               exists().where(ProcessInstance.business_key == business_key, access.instance_visible_sql(actor)))


def visible_project(project_id: int, actor: Actor) -> Project:
    """The project if ``actor`` may see it: PMO and admins see all; others the projects they manage or
    sponsor or whose processes they take part in. One they may not see does not exist for them."""
    query = select(Project).where(Project.id == project_id)
    if not access.has_oversight(actor):
        query = query.where(_visible_to(actor))
    project = db.session.scalars(query).first()
    if project is None:
        raise NotFound(f"project {project_id} does not exist")
    return project


def project_page(actor: Actor, *, phase: str | None = None, status: str | None = None, rag: str | None = None,
                 pm: str | None = None, sponsor: str | None = None, q: str | None = None,
                 page: int = 1, per_page: int = 50):  # noqa: ANN201
    """The projects ``actor`` may see, filtered, by priority then id; each with its open tasks."""
    from app.instances.queries import _paginate

    query = select(Project)
    if not access.has_oversight(actor):
        query = query.where(_visible_to(actor))
    for column, value in ((Project.phase, phase), (Project.status, status), (Project.rag, rag),
                          (Project.project_manager, pm), (Project.sponsor, sponsor)):
        if value:
            query = query.where(column == value)
    if q and q.strip():
        like = f"%{q.strip()}%"
        query = query.where(or_(Project.code.ilike(like), Project.name.ilike(like)))
    result = _paginate(query.order_by(Project.priority.is_(None), Project.priority, Project.id), page, per_page)
    tasks = tasks_by_project(result.items)
    result.items = [ProjectView(p, tasks.get(p.id, [])) for p in result.items]
    return result
