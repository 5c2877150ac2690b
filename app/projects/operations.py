"""Projects as the PMO changes them: create one (and start its lifecycle) and raise change requests.
Reading projects, which ones a user may see, their open tasks and the lessons learned is in
``queries``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.core.errors import BadRequest, Conflict, Forbidden, NotFound
from app.core.extensions import db
from app.core.transactions import write_transaction
from app.instances import commands as instances
from app.instances.models import ProcessInstance
from app.people.actor import Actor
from app.people.models import User
from app.projects.models import ChangeRequest, Phase, Project, ProjectStatus
from app.projects.queries import accepts_change_requests, get_project

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

CHANGE_SUBMIT_FORM = "change-submit-schema.json"


def raise_change_request(project_id: int, actor: Actor, data: dict[str, Any]) -> tuple[ChangeRequest, ProcessInstance]:
    """Start change control for the project and submit ``data`` at once. The state is checked (409)
    and ``data`` is validated against the submit form (422) before anything starts."""
    from app.definitions import forms
    from app.definitions import queries as definition_queries
    project = get_project(project_id)
    if not accepts_change_requests(project):
        raise Conflict(f"{project.code or project.name} is in {project.phase} ({project.status}): change "
                       "requests are accepted from planning until closure")
    version = definition_queries.current_version(CHANGE_PROCESS)
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
