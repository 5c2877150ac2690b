"""Projects: propose one (starting its lifecycle), list and show them with their records and open
tasks, raise change requests, keep their RAID log (risks, issues, actions, decisions, assumptions,
dependencies), and search the lessons learned."""

from __future__ import annotations

from flask import Blueprint, request

from app.api.docs import doc
from app.api.io import View, body, dump, query
from app.core.errors import BadRequest, Forbidden
from app.instances import commands as instance_service
from app.people.auth import current_actor, require_roles
from app.projects import operations as projects
from app.projects import queries as project_queries
from app.projects import workspace as views
from app.projects.models import Project, RaidKind
from app.projects.schemas import (
    ChangeRequestCreatedOut,
    ChangeRequestIn,
    LessonPageOut,
    LessonQuery,
    ProjectCreateIn,
    ProjectOut,
    ProjectPageOut,
    ProjectQuery,
    RaidItemIn,
    RaidItemOut,
    RaidItemUpdateIn,
    ReportFiledOut,
    RiskChangeOut,
    RiskIn,
    RiskUpdateIn,
    StatusReportIn,
    WorkspaceOut,
    WorkspaceQuery,
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


@bp.get("/projects/<int:project_id>/workspace")
@doc(summary="The workspace of a project: lifecycle, current steps and holders, plan, RAID, changes, reports, "
             "lessons, activity", tags=TAGS, query=WorkspaceQuery, responses={200: WorkspaceOut}, errors=(404,),
     description="What the project's workspace page shows, as data: the lifecycle stages (done, current, next) "
                 "and gate decisions; the open steps with who holds them (users, or roles with their members), "
                 "since when, due and overdue; milestones with slip, budget and allocations; risks with the heat "
                 "map and the PMO threshold; issues, actions, decisions, assumptions and dependencies; change "
                 "requests with their decisions; status reports with their get-to-green plans; lessons; the "
                 "activity (newest first, ?kind= one kind). 404 for a project the caller may not see.")
def get_workspace(project_id: int):  # noqa: ANN201
    kind = query(WorkspaceQuery).get("kind") or None
    ws = views.workspace(project_id, current_actor(), kind, threshold=projects.escalation_threshold())
    return dump(WorkspaceOut, View(ws, stopped=views.is_stopped(ws.project)))


@bp.post("/projects/<int:project_id>/status-reports")
@doc(summary="Submit a status report outside the schedule", tags=TAGS, body=StatusReportIn,
     responses={201: ReportFiledOut}, errors=(403, 404, 409),
     description="Runs the status reporting process the lifecycle runs every 14 days (the project's snapshot, "
                 "the escalation rule, the PMO's review of a red report), its report step submitted at once "
                 "with the body. The project's manager and the PMO may: 403 for others who see the project, 404 "
                 "for who does not. 409 when the project is not in execution (or not running), or when a report "
                 "is already waiting to be written (errors.task_id names it). An amber or red report answers "
                 "needs_plan: add its get-to-green actions with POST /projects/{id}/actions?status_report_id=.")
def submit_status_report(project_id: int):  # noqa: ANN201
    actor = current_actor()
    projects.check_status_report(project_id, actor)  # 404 / 403 / 409 before the body is read
    data = request.get_json(silent=True)
    body(StatusReportIn)  # 422 per field
    filed = projects.submit_status_report(project_id, actor, data)
    view = View(filed, next_tasks=instance_service.ready_tasks(filed.instance.id))
    return dump(ReportFiledOut, view, 201)


@bp.get("/lessons")
@doc(summary="Published lessons learned across projects, newest first", tags=TAGS, query=LessonQuery,
     responses={200: LessonPageOut},
     description="q: every word of 3+ letters must appear in the title, text, category or tags.")
def list_lessons():  # noqa: ANN201
    return dump(LessonPageOut, project_queries.lesson_page(**query(LessonQuery)))


# -- the RAID log ---------------------------------------------------------------------------------

RAID_RULES = ("The project's manager, the PMO and administrators change its RAID log: 403 for anyone else "
              "who may see the project, 404 for who may not. 422 per field: an owner who is not an active "
              "user, a status the kind does not have.")
# The logs by their path segment: /projects/<id>/issues, /actions, ...
LOGS = {"issues": RaidKind.ISSUE, "actions": RaidKind.ACTION, "decisions": RaidKind.DECISION,
        "assumptions": RaidKind.ASSUMPTION, "dependencies": RaidKind.DEPENDENCY}


def _risk_change(change: projects.RiskChange, status: int):  # noqa: ANN202
    view = View(change, escalated=change.escalation is not None,
                escalation_instance_id=change.escalation.id if change.escalation is not None else None)
    return dump(RiskChangeOut, view, status)


@bp.post("/projects/<int:project_id>/risks")
@doc(summary="Add a risk to a project's RAID log", tags=TAGS, body=RiskIn, responses={201: RiskChangeOut},
     errors=(403, 404),
     description=RAID_RULES + " A risk whose score (probability × impact) reaches the PMO threshold "
                 "(RISK_ESCALATION_SCORE) starts the risk_escalation process with a PMO review task.")
def add_risk(project_id: int):  # noqa: ANN201
    return _risk_change(projects.add_risk(project_id, current_actor(), body(RiskIn)), 201)


@bp.patch("/projects/<int:project_id>/risks/<int:risk_id>")
@doc(summary="Change a risk's score, owner, response, trigger, actions or status", tags=TAGS, body=RiskUpdateIn,
     responses={200: RiskChangeOut}, errors=(403, 404),
     description=RAID_RULES + " Only the fields sent change. A change that takes an open risk from below "
                 "the PMO threshold to it or above escalates it (once per crossing).")
def update_risk(project_id: int, risk_id: int):  # noqa: ANN201
    return _risk_change(projects.update_risk(project_id, risk_id, current_actor(), body(RiskUpdateIn)), 200)


@bp.post("/projects/<int:project_id>/risks/<int:risk_id>/issue")
@doc(summary="Raise a risk to an issue (the risk happened)", tags=TAGS, responses={201: RaidItemOut},
     errors=(403, 404, 409),
     description=RAID_RULES + " The issue keeps a link to the risk, which is closed. 409 when the risk "
                 "already has an open issue.")
def raise_risk_to_issue(project_id: int, risk_id: int):  # noqa: ANN201
    return dump(RaidItemOut, projects.raise_risk_to_issue(project_id, risk_id, current_actor()), 201)


@bp.post("/projects/<int:project_id>/<any(issues, actions, decisions, assumptions, dependencies):log>")
@doc(summary="Add an issue, action, decision, assumption or dependency", tags=TAGS, body=RaidItemIn,
     responses={201: RaidItemOut}, errors=(403, 404, 409),
     description=RAID_RULES + " Status defaults to the kind's first (issue: open, decision: proposed, "
                 "assumption: to_validate, dependency: expected). An action may join an amber or red status "
                 "report's get-to-green plan with ?status_report_id= (409 for a green report).")
def add_raid_item(project_id: int, log: str):  # noqa: ANN201
    report = request.args.get("status_report_id", "")
    if report and not report.isdigit():
        raise BadRequest("status_report_id must be a number")
    item = projects.add_raid_item(project_id, current_actor(), LOGS[log], body(RaidItemIn),
                                  status_report_id=int(report) if report else None)
    return dump(RaidItemOut, item, 201)


@bp.patch("/projects/<int:project_id>/<any(issues, actions, decisions, assumptions, dependencies):log>/<int:item_id>")
@doc(summary="Change an issue, action, decision, assumption or dependency", tags=TAGS, body=RaidItemUpdateIn,
     responses={200: RaidItemOut}, errors=(403, 404),
     description=RAID_RULES + " Only the fields sent change.")
def update_raid_item(project_id: int, log: str, item_id: int):  # noqa: ANN201
    item = projects.update_raid_item(project_id, item_id, current_actor(), body(RaidItemUpdateIn), LOGS[log])
    return dump(RaidItemOut, item)
