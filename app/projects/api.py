"""Projects: propose one (starting its lifecycle), list and show them with their records and open
tasks, raise change requests, and search the lessons learned."""

from __future__ import annotations

from flask import Blueprint

from app.api.docs import doc
from app.api.io import View, body, dump, query
from app.core.errors import Forbidden
from app.instances import commands as instance_service
from app.people.auth import current_actor, require_roles
from app.projects import operations as projects
from app.projects import queries as project_queries
from app.projects.models import Project
from app.projects.schemas import (
    ChangeRequestCreatedOut,
    ChangeRequestIn,
    LessonPageOut,
    LessonQuery,
    ProjectCreateIn,
    ProjectOut,
    ProjectPageOut,
    ProjectQuery,
)

# Routes under /api/v1, nested in the shared API blueprint (app/api): its token check,
# error answers and OpenAPI document cover them.
bp = Blueprint("projects", __name__)

TAGS = ["projects"]
PROPOSERS = ("pmo", "admin", "project_manager")


def _detail(project: Project, status: int = 200):  # noqa: ANN202
    instance = (instance_service.get(project.lifecycle_instance_id)
                if project.lifecycle_instance_id is not None else None)
    return dump(ProjectOut, View(project, open_tasks=project_queries.open_tasks(project), lifecycle_instance=instance),
                status)


@bp.post("/projects")
@doc(summary="Propose a project and start its lifecycle", tags=TAGS, body=ProjectCreateIn,
     responses={201: ProjectOut}, errors=(403,),
     description="The PMO and admins can propose a project for any project manager; a project manager "
                 "only a project they manage themselves. 422 per field: unknown or inactive users, a "
                 "project manager without the project_manager role, a sponsor without the sponsor role, "
                 "or the same person as both (segregation of duties).")
def create_project():  # noqa: ANN201
    actor = require_roles(*PROPOSERS)
    data = body(ProjectCreateIn)
    if not actor.roles & {"pmo", "admin"} and data["project_manager"] != actor.username:
        raise Forbidden("a project manager can only propose projects they manage themselves")
    project = projects.create_project(data["name"], data["project_manager"], data["sponsor"], actor)
    return _detail(project, 201)


@bp.get("/projects")
@doc(summary="Projects the caller may see, by priority", tags=TAGS, query=ProjectQuery,
     responses={200: ProjectPageOut},
     description="The PMO and admins see every project; anyone else the projects they manage or sponsor "
                 "or whose processes they take part in (a task they hold, completed or can claim).")
def list_projects():  # noqa: ANN201
    page = project_queries.project_page(current_actor(), **query(ProjectQuery))
    page.items = [View(v.project, open_tasks=v.open_tasks) for v in page.items]
    return dump(ProjectPageOut, page)


@bp.get("/projects/<int:project_id>")
@doc(summary="A project with its open tasks, milestones, risks, change requests, gates, reports and lessons",
     tags=TAGS, responses={200: ProjectOut}, errors=(404,))
def get_project(project_id: int):  # noqa: ANN201
    return _detail(project_queries.visible_project(project_id, current_actor()))


@bp.post("/projects/<int:project_id>/change-requests")
@doc(summary="Raise a change request for a project (submitted at once)", tags=TAGS, body=ChangeRequestIn,
     responses={201: ChangeRequestCreatedOut}, errors=(404, 409),
     description="The body is the change_request process's submit form. 409 when the project does not "
                 "accept change requests (before planning, or rejected, killed or closed).")
def raise_change_request(project_id: int):  # noqa: ANN201
    actor = current_actor()
    project = project_queries.visible_project(project_id, actor)
    if not project_queries.accepts_change_requests(project):
        projects.raise_change_request(project.id, actor, {})  # raises the Conflict with its reason
    data = body(ChangeRequestIn)
    cr, instance = projects.raise_change_request(project.id, actor, data)
    view = View(cr, instance=instance, next_tasks=instance_service.ready_tasks(instance.id))
    return dump(ChangeRequestCreatedOut, view, 201)


@bp.get("/lessons")
@doc(summary="Published lessons learned across projects, newest first", tags=TAGS, query=LessonQuery,
     responses={200: LessonPageOut},
     description="q: every word of 3+ letters must appear in the title, text, category or tags.")
def list_lessons():  # noqa: ANN201
    return dump(LessonPageOut, project_queries.lesson_page(**query(LessonQuery)))
