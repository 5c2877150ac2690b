"""Projects as the PMO changes them: create one (and start its lifecycle) and raise change requests.
Reading projects, their open tasks and the lessons learned is in ``queries``; which projects a user
may see (``visible_project``, ``project_page``) is still here, next to the visibility rule.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from app.core.errors import BadRequest, Conflict, Forbidden, NotFound
from app.core.extensions import db
from app.core.transactions import write_transaction
from app.instances import commands as instances
from app.instances.models import HumanTask, ProcessInstance, TaskStatus
from app.people.actor import Actor
from app.people.models import User
from app.projects.models import ChangeRequest, Phase, Project, ProjectStatus
from app.projects.queries import ProjectView, accepts_change_requests, get_project, tasks_by_project

LIFECYCLE_PROCESS = "project_lifecycle"
CHANGE_PROCESS = "change_request"


def _user_with_role(username: str, role: str) -> User:
    user = db.session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        raise BadRequest(f"no active user named '{username}'")
    if not user.has_role(role):
        raise BadRequest(f"{username} does not have the role {role}")
    return user


def binding(project: Project) -> dict[str, Any]:
    """Task data that ties a process instance to the project and to its own PM and sponsor."""
    return {
        "project_id": project.id,
        "project_code": project.code or "",
        "project_name": project.name,
        "project_manager": project.project_manager,
        "sponsor": project.sponsor,
        "lane_owners": {"project_manager": [project.project_manager], "sponsor": [project.sponsor]},
    }


def create_project(name: str, project_manager: str, sponsor: str, actor: Actor) -> Project:
    """Record a proposed project and start its lifecycle, bound to its PM and sponsor."""
    name = (name or "").strip()
    if len(name) < 3:
        raise BadRequest("a project needs a name of at least 3 characters")
    if not ({"project_manager", "pmo", "sponsor", "admin"} & set(actor.roles)):
        raise Forbidden("only project managers, sponsors and the PMO can propose projects")
    _user_with_role(project_manager, "project_manager")
    _user_with_role(sponsor, "sponsor")
    if project_manager == sponsor:
        raise BadRequest("the sponsor and the project manager must be different people")
    with write_transaction():
        project = Project(name=name, project_manager=project_manager, sponsor=sponsor, created_by=actor.username,
                          phase=Phase.INITIATION, status=ProjectStatus.PROPOSED)
        db.session.add(project)
    data = {**binding(project), "suggested_code": f"PRJ-{project.id:04d}", "requested_by": actor.username}
    try:
        instances.start(LIFECYCLE_PROCESS, actor, data, business_key=project.business_key)
    finally:
        # Even a failed first step leaves an instance (in error) to link to.
        with write_transaction():
            latest = db.session.scalars(select(ProcessInstance.id).where(
                ProcessInstance.business_key == project.business_key,
                ProcessInstance.process_key == LIFECYCLE_PROCESS).order_by(ProcessInstance.id.desc())).first()
            project = db.session.get(Project, project.id, populate_existing=True, with_for_update=True)
            project.lifecycle_instance_id = latest
    return project


def start_change_request(project_id: int, actor: Actor, data: dict[str, Any] | None = None) -> ProcessInstance:
    """Start change control for a project (after initiation); with ``data``, submit it at once."""
    project = get_project(project_id)
    if project.phase not in Phase.CHANGEABLE or project.status in (ProjectStatus.REJECTED, ProjectStatus.CLOSED,
                                                                   ProjectStatus.KILLED):
        raise Conflict(f"{project.code or project.name} is in {project.phase} ({project.status}): change "
                       "requests are accepted from planning until closure")
    start_data = {**binding(project), "requested_by": actor.username}
    instance = instances.start(CHANGE_PROCESS, actor, start_data, business_key=project.business_key)
    if data:
        submit = next((t for t in instances.ready_tasks(instance.id) if t.element_id == "submit"), None)
        if submit is not None:
            instance = instances.complete(submit.id, actor, data)
    return instance


# -- for the API: visibility, pages and change requests with their form checked first ---------------

SEE_ALL_PROJECTS = frozenset({"admin", "pmo"})
CHANGE_SUBMIT_FORM = "change-submit-schema.json"


def _involved(actor: Actor):  # noqa: ANN202
    """SQL: the actor is involved in a process instance of the project (started it, holds, completed
    or is offered one of its tasks)."""
    from sqlalchemy import String, and_, cast, exists, literal

    from app.instances.models import HumanTaskCandidate

    offered = HumanTaskCandidate.username == actor.username
    if actor.roles:
        offered = or_(HumanTaskCandidate.role.in_(sorted(actor.roles)), offered)
    task_of_actor = exists().where(
        HumanTask.instance_id == ProcessInstance.id,
        or_(HumanTask.assignee == actor.username, HumanTask.completed_by == actor.username,
            and_(HumanTask.status == TaskStatus.READY, HumanTask.assignee.is_(None),
                 exists().where(HumanTaskCandidate.task_id == HumanTask.id, offered))))
    business_key = literal("project:") + cast(Project.id, String)
    return exists().where(ProcessInstance.business_key == business_key,
                          or_(ProcessInstance.started_by == actor.username, task_of_actor))


def _visible_to(actor: Actor):  # noqa: ANN202
    return or_(Project.project_manager == actor.username, Project.sponsor == actor.username, _involved(actor))


def visible_project(project_id: int, actor: Actor) -> Project:
    """The project if ``actor`` may see it: PMO and admins see all; others the projects they manage or
    sponsor or whose processes they take part in. One they may not see does not exist for them."""
    query = select(Project).where(Project.id == project_id)
    if not actor.roles & SEE_ALL_PROJECTS:
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
    if not actor.roles & SEE_ALL_PROJECTS:
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


def raise_change_request(project_id: int, actor: Actor, data: dict[str, Any]) -> tuple[ChangeRequest, ProcessInstance]:
    """Start change control for the project and submit ``data`` at once. The state is checked (409)
    and ``data`` is validated against the submit form (422) before anything starts."""
    from app.definitions import forms
    from app.definitions import queries as definition_queries
    project = get_project(project_id)
    if not accepts_change_requests(project):
        raise Conflict(f"{project.code or project.name} is in {project.phase} ({project.status}): change "
                       "requests are accepted from planning until closure")
    version = definition_queries.latest_version(CHANGE_PROCESS)
    try:
        schema = forms.load_form(version.deployment_id, CHANGE_SUBMIT_FORM)
    except NotFound:
        schema = None
    forms.validate(schema, data)
    instance = start_change_request(project_id, actor, data)
    cr = db.session.scalars(select(ChangeRequest).where(ChangeRequest.instance_id == instance.id)
                            .order_by(ChangeRequest.id.desc())).first()
    if cr is None:
        raise Conflict(f"change request instance {instance.id} did not record a change request "
                       f"(instance status: {instance.status})")
    return cr, instance
