"""Projects as the PMO reads them: a project (by id or code), its open tasks and change requests,
project lists and which ones a user may see, and the lessons-learned repository. Nothing here changes state (``operations`` does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, literal_column, or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app.core.errors import NotFound
from app.core.extensions import db
from app.instances import access
from app.instances.models import HumanTask, ProcessInstance, TaskStatus
from app.people.actor import Actor
from app.projects.models import (
    AppliedLesson,
    ChangeRequest,
    LessonLearned,
    Phase,
    Project,
    ProjectStatus,
)

MIN_SEARCH_WORD = 3
# Words of a proposal that say nothing about what it is like.
STOP_WORDS = frozenset({"with", "from", "that", "this", "will", "have", "into", "project", "projects", "their",
                        "about", "more", "than", "which", "when", "where", "what", "also", "each", "other"})


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


@dataclass
class LessonMatch:
    lesson: LessonLearned
    score: int
    reasons: list[str]   # why it matched, in words (same category, shared tags, words)


RELATED_CANDIDATES = 300


def related_lessons(category: str | None, tags: list[str], text: str, limit: int = 8,
                    exclude_project: int | None = None) -> list[LessonMatch]:
    """Published lessons of earlier projects like this one, best first: a lesson from a project of the
    same portfolio category counts 3, each shared tag 2, each word of the proposal found in it 1
    (ties: newest first). One query for the candidates, scored here."""
    from app.projects.models import Project as ProjectRow

    tags = sorted({t.strip().lower() for t in tags if t and t.strip()})[:20]
    words = sorted({w.lower() for w in re.findall(r"[\w-]+", text or "") if len(w) > MIN_SEARCH_WORD and w.lower() not in STOP_WORDS})[:30]
    conditions = [LessonLearned.tags_text.like(f"%,{tag},%") for tag in tags]
    for word in words:
        like = f"%{word}%"
        conditions.append(or_(LessonLearned.title.ilike(like), LessonLearned.recommendation.ilike(like),
                              LessonLearned.what_to_improve.ilike(like), LessonLearned.tags_text.ilike(like)))
    if category:
        conditions.append(ProjectRow.portfolio_category == category)
    if not conditions:
        return []
    query = (select(LessonLearned, ProjectRow.portfolio_category).join(ProjectRow, ProjectRow.id == LessonLearned.project_id)
             .where(LessonLearned.published.is_(True), or_(*conditions)))
    if exclude_project is not None:
        query = query.where(LessonLearned.project_id != exclude_project)
    matches = []
    for lesson, project_category in db.session.execute(query.order_by(LessonLearned.id.desc())
                                                       .limit(RELATED_CANDIDATES)).all():
        reasons, score = [], 0
        if category and project_category == category:
            score += 3
            reasons.append("same kind of project")
        shared = [t for t in tags if t in (lesson.tags_text or "").split(",")]
        if shared:
            score += 2 * len(shared)
            reasons.append("tagged " + ", ".join(shared))
        body = " ".join((lesson.title, lesson.recommendation, lesson.what_to_improve, lesson.tags_text or "")).lower()
        found = [w for w in words if w in body and w not in shared]
        if found:
            score += len(found)
            reasons.append("mentions " + ", ".join(found[:5]))
        if score:
            matches.append(LessonMatch(lesson, score, reasons))
    matches.sort(key=lambda m: (-m.score, -m.lesson.id))
    return matches[:limit]


def sponsors_and_managers() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Active users with the sponsor role and with the project manager role, as (username, name)."""
    from app.people.models import User, UserRole

    rows = db.session.execute(select(UserRole.role, User.username, User.display_name)
                              .join(User, User.id == UserRole.user_id)
                              .where(UserRole.role.in_(("sponsor", "project_manager")), User.active.is_(True))
                              .order_by(User.display_name, User.username)).all()
    sponsors = [(u, n or u) for role, u, n in rows if role == "sponsor"]
    managers = [(u, n or u) for role, u, n in rows if role == "project_manager"]
    return sponsors, managers


def active_people() -> list[tuple[str, str]]:
    """Every active user as (username, name): who can own a RAID entry."""
    from app.people.models import User

    return [(u, n or u) for u, n in db.session.execute(
        select(User.username, User.display_name).where(User.active.is_(True)).order_by(User.display_name, User.username))]


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


FINISHED = (ProjectStatus.REJECTED, ProjectStatus.CLOSED, ProjectStatus.KILLED)


def accepts_change_requests(project: Project) -> bool:
    return project.phase in Phase.CHANGEABLE and project.status not in FINISHED


def is_finished(project: Project) -> bool:
    """Rejected, killed or closed: its records stand as they were left (read-only)."""
    return project.status in FINISHED


def keeps_raid_log(project: Project, actor: Actor) -> bool:
    """The project's manager, the PMO and administrators keep its RAID log while the project runs."""
    return not is_finished(project) and (actor.username == project.project_manager or access.has_oversight(actor))


STATUS_REPORT_PROCESS = "status_reporting"
STATUS_REPORT_TASK = "report"


def status_report_refusal(project: Project) -> str | None:
    """Why the project takes no status report now (None when it does): reports are due during
    execution (the lifecycle's 14-day cycle runs on the execution phase) of a project that runs."""
    if project.phase != Phase.EXECUTION or project.status != ProjectStatus.ACTIVE:
        return (f"{project.code or project.name} is in {project.phase} ({project.status.replace('_', ' ')}): "
                "status reports are submitted while a running project is in execution")
    return None


def open_status_report(project: Project, tasks: list[HumanTask] | None = None) -> HumanTask | None:
    """The project's status report waiting to be written (scheduled or not), if any."""
    tasks = open_tasks(project) if tasks is None else tasks
    return next((t for t in tasks if t.element_id == STATUS_REPORT_TASK
                 and t.bpmn_process_id == STATUS_REPORT_PROCESS), None)


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


# The pattern is in the SQL text, not a parameter: PostgreSQL's generic plan for a prepared statement
# (psycopg prepares after 5 runs) guessed 0.5 % of instances for "LIKE $1", and joined 10,000 instances
# to the badge's 1,200 tasks by a nested loop (20 s at a million tasks, 8 ms with the pattern known).
_PROJECT_KEYS = ProcessInstance.business_key.like(literal_column("'project:%'"))
_PROJECT_TASKS = HumanTask.business_key.like(literal_column("'project:%'"))


def needs_me_count(actor: Actor, today: date) -> int:
    """The Projects badge: open tasks of project processes the actor may act on now, plus the open
    RAID entries they own that are past their due date. Two counting queries; the first reads the task's
    own copy of its instance's business key (55 ms median with a lookup of each instance, 46 without, at 5,000 tasks)."""
    from app.projects.models import RaidItem, RaidKind

    tasks = db.session.scalar(
        select(func.count()).select_from(HumanTask)
        .where(HumanTask.status == TaskStatus.READY, _PROJECT_TASKS, access.may_act_sql(actor))) or 0
    closed = [s for kind in RaidKind.ALL for s in RaidKind.CLOSED[kind]]
    overdue = db.session.scalar(
        select(func.count()).select_from(RaidItem)
        .where(RaidItem.owner == actor.username, RaidItem.due_date < today, RaidItem.status.not_in(closed))) or 0
    return int(tasks) + int(overdue)


# -- which projects a user may see ------------------------------------------------------------

def _visible_to(actor: Actor):  # noqa: ANN202
    """SQL: the actor manages or sponsors the project, or may see one of its process instances
    (``access.instance_visible_sql``: started it, or holds, completed or may claim one of its tasks).

    The instances are found as one uncorrelated set of business keys (those the actor started, and
    those of the tasks that involve them, each from its index) rather than an EXISTS per project:
    a list of 2,000 projects then costs one pass over the actor's tasks, not one per project (on
    PostgreSQL the correlated form was also estimated so high that it was JIT-compiled, 2.5 s)."""
    from sqlalchemy import String, cast, literal, union

    business_key = literal("project:") + cast(Project.id, String)
    project_keys = _PROJECT_KEYS
    started = select(ProcessInstance.business_key).where(ProcessInstance.started_by == actor.username, project_keys)

    def involved(driver: Any) -> Any:
        # Each branch is access.involves_sql narrowed by one indexed term (assignee, completed_by,
        # offered): together exactly the tasks that involve the actor, each found from its index and
        # read with its own copy of the business key (no lookup of its instance).
        return select(HumanTask.business_key).where(driver, access.involves_sql(actor), _PROJECT_TASKS)

    keys = union(started, involved(HumanTask.assignee == actor.username),
                 involved(HumanTask.completed_by == actor.username), involved(access.offered_sql(actor)))
    return or_(Project.project_manager == actor.username, Project.sponsor == actor.username, business_key.in_(keys))


def visible_project(project_id: int, actor: Actor, options: tuple = ()) -> Project:
    """The project if ``actor`` may see it: PMO and admins see all; others the projects they manage or
    sponsor or whose processes they take part in. One they may not see does not exist for them.
    ``options``: loader options (``WORKSPACE_RECORDS``) for a page that reads its records."""
    query = select(Project).where(Project.id == project_id).options(*options)
    if not access.has_oversight(actor):
        query = query.where(_visible_to(actor))
    project = db.session.scalars(query).first()
    if project is None:
        raise NotFound(f"project {project_id} does not exist")
    return project


# Every record the workspace shows, each collection in one batched IN query (SQLAlchemy's
# ``selectinload``) instead of one lazy query per row (a change's decisions, an applied lesson's
# project). A risk's issues and a report's get-to-green actions are RAID entries, already loaded:
# ``attach_raid_links`` files them without a query.
WORKSPACE_RECORDS = (
    selectinload(Project.milestones), selectinload(Project.allocations), selectinload(Project.gate_decisions),
    selectinload(Project.lessons), selectinload(Project.raid_items), selectinload(Project.risks),
    selectinload(Project.status_reports),
    selectinload(Project.change_requests).selectinload(ChangeRequest.decisions),
    selectinload(Project.applied_lessons).selectinload(AppliedLesson.lesson).selectinload(LessonLearned.project),
)


def attach_raid_links(project: Project) -> None:
    """Fill each risk's ``issues`` and each status report's ``plan_actions`` from the project's loaded
    RAID entries (in id order, as the relationships are), so reading them runs no query."""
    issues: dict[int, list] = {r.id: [] for r in project.risks}
    plans: dict[int, list] = {s.id: [] for s in project.status_reports}
    for item in project.raid_items:
        if item.risk_id in issues:
            issues[item.risk_id].append(item)
        if item.status_report_id in plans:
            plans[item.status_report_id].append(item)
    for risk in project.risks:
        set_committed_value(risk, "issues", issues[risk.id])
    for report in project.status_reports:
        set_committed_value(report, "plan_actions", plans[report.id])


# How a project list can be ordered (the list page and the API's ``sort``), each ending on the id.
PROJECT_SORTS = {
    "priority": (Project.priority.is_(None), Project.priority, Project.id),
    "name": (Project.name, Project.id),
    "code": (Project.code.is_(None), Project.code, Project.id),
    "phase": (Project.phase, Project.priority.is_(None), Project.priority, Project.id),
    "target_end": (Project.target_end_date.is_(None), Project.target_end_date, Project.id),
    "updated": (Project.updated_at.desc(), Project.id.desc()),
}


def project_page(actor: Actor, *, phase: str | None = None, status: str | None = None, rag: str | None = None,
                 pm: str | None = None, sponsor: str | None = None, q: str | None = None, sort: str | None = None,
                 page: int = 1, per_page: int = 50):  # noqa: ANN201
    """The projects ``actor`` may see, filtered, ordered by ``sort`` (``PROJECT_SORTS``; priority by
    default); each with its open tasks."""
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
    result = _paginate(query.order_by(*PROJECT_SORTS.get(sort or "priority", PROJECT_SORTS["priority"])),
                       page, per_page)
    tasks = tasks_by_project(result.items)
    result.items = [ProjectView(p, tasks.get(p.id, [])) for p in result.items]
    return result
