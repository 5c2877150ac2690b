"""Projects as the PMO changes them: propose one (and start its lifecycle, with its charter and
the lessons applied to it), raise change requests, and keep the RAID log (risks, issues, actions,
decisions, assumptions, dependencies; a risk crossing the PMO threshold starts its escalation).
Reading projects, which ones a user may see, their open tasks and the lessons learned is in
``queries``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.core import audit
from app.core.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound, StepFailed
from app.core.extensions import db
from app.core.transactions import write_transaction
from app.instances import commands as instances
from app.instances.models import HumanTask, ProcessInstance, TaskStatus
from app.people.actor import Actor
from app.people.models import User
from app.projects import queries as project_queries
from app.projects.models import (
    AppliedLesson,
    ChangeRequest,
    LessonLearned,
    Phase,
    Project,
    ProjectStatus,
    RaidItem,
    RaidKind,
    Risk,
    StatusReport,
)
from app.projects.queries import (
    accepts_change_requests,
    get_project,
    is_finished,
    keeps_raid_log,
    visible_project,
)

LIFECYCLE_PROCESS = "project_lifecycle"
INITIATION_PROCESS = "project_initiation"
CHANGE_PROCESS = "change_request"
RISK_ESCALATION_PROCESS = "risk_escalation"
CHARTER_FORM = "initiation-charter-schema.json"
CHARTER_TASK = "write_charter"
PROPOSERS = frozenset({"project_manager", "pmo", "admin"})


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

    def record() -> Project:
        project = Project(name=name, project_manager=project_manager, sponsor=sponsor, created_by=actor.username,
                          phase=Phase.INITIATION, status=ProjectStatus.PROPOSED)
        db.session.add(project)
        return project

    return _start_lifecycle(record, actor)


def _start_lifecycle(record: Callable[[], Project], actor: Actor, charter: dict[str, Any] | None = None,
                     on_saved: Callable[[Project, ProcessInstance], None] | None = None) -> Project:
    """Write the project (``record``), start its lifecycle bound to it and link the two; with
    ``charter``, the actor (its PM) also submits the charter step. One transaction through the
    instance command path: if any part fails (the engine, the charter form, the access rule),
    nothing is kept, neither the project nor an instance nor an audit entry."""
    created: list[Project] = []

    def setup() -> tuple[dict[str, Any], str]:
        project = record()
        db.session.flush()
        created.append(project)
        return ({**binding(project), "suggested_code": f"PRJ-{project.id:04d}", "requested_by": actor.username},
                project.business_key)

    def link(instance: ProcessInstance) -> None:
        project = created[0]
        project.lifecycle_instance_id = instance.id
        if on_saved is not None:
            on_saved(project, instance)
        db.session.flush()

    instances.start_with(LIFECYCLE_PROCESS, actor, setup, first_step=CHARTER_TASK if charter is not None else None,
                         first_data=charter, on_saved=link)
    return db.session.get(Project, created[0].id)


# -- the guided "New project" page ------------------------------------------------------------

@dataclass
class Proposal:
    """What the proposer fills in: the project, its people, how it is filed, its charter, and the
    lessons of earlier projects they mean to apply."""

    name: str
    project_manager: str
    sponsor: str
    category: str | None
    tags: list[str]
    charter: dict[str, Any]
    applied_lessons: list[int]


@dataclass
class Proposed:
    project: Project
    charter_submitted: bool      # the PM proposed it: the charter went on to the sponsor
    charter_problem: str = ""    # why the charter is still with the PM (their task), if it is


def charter_form(data: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The charter form of the deployed initiation process (None when it is not deployed)."""
    from app.definitions import forms
    from app.definitions import queries as definition_queries

    try:
        version = definition_queries.latest_version(INITIATION_PROCESS)
        return forms.load_form(version.deployment_id, CHARTER_FORM, data)
    except NotFound:
        return None


def check_proposer(actor: Actor, project_manager: str | None = None) -> None:
    """PM, PMO and admins propose projects; a PM only one they manage themselves (403 otherwise)."""
    if not actor.roles & PROPOSERS:
        raise Forbidden("only project managers, the PMO and administrators can propose projects")
    if project_manager is not None and not actor.roles & {"pmo", "admin"} and project_manager != actor.username:
        raise Forbidden("a project manager can only propose projects they manage themselves")


def _proposal_problems(proposal: Proposal) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if len(proposal.name.strip()) < 3:
        errors["name"] = ["a project needs a name of at least 3 characters"]
    for field_name, username, role in (("project_manager", proposal.project_manager, "project_manager"),
                                       ("sponsor", proposal.sponsor, "sponsor")):
        try:
            _user_with_role(username, role)
        except BadRequest as exc:
            errors[field_name] = [exc.detail]
    if proposal.project_manager and proposal.project_manager == proposal.sponsor:
        errors.setdefault("sponsor", []).append("the sponsor and the project manager must be different people")
    if proposal.applied_lessons:
        known = set(db.session.scalars(select(LessonLearned.id).where(
            LessonLearned.id.in_(proposal.applied_lessons), LessonLearned.published.is_(True))))
        if known != set(proposal.applied_lessons):
            errors["applied_lessons"] = ["a lesson marked as applied is not in the lessons repository"]
    return errors


def propose_project(proposal: Proposal, actor: Actor) -> Proposed:
    """Propose a project from the guided page: checked whole first (people and their roles, the
    charter against the deployed charter form, the lessons), then the project, its filing and the
    applied lessons in one audited transaction, then its lifecycle. The PM's own charter is
    submitted at once (it goes to the sponsor); one the PMO wrote for a PM waits as the PM's draft
    of their charter task.
    """
    from app.definitions import forms
    from app.inbox import operations as inbox_operations

    check_proposer(actor, proposal.project_manager)
    errors = _proposal_problems(proposal)
    schema = charter_form({"project_name": proposal.name, "sponsor_reason": ""})
    if schema is None:
        raise Conflict("the initiation process is not deployed: projects cannot be proposed yet")
    charter = {**proposal.charter, "project_name": proposal.name.strip()}
    try:
        forms.validate(schema, charter)
    except Invalid as exc:
        errors.update({f"charter.{k}": v for k, v in (exc.errors or {}).items()} if isinstance(exc.errors, dict)
                      else {"charter": [exc.detail]})
    if errors:
        raise Invalid("the proposal has errors", errors=errors)
    tags = sorted({t.strip().lower() for t in proposal.tags if t.strip()})[:20]
    own = actor.username == proposal.project_manager

    def record() -> Project:
        project = Project(name=proposal.name.strip(), project_manager=proposal.project_manager,
                          sponsor=proposal.sponsor, created_by=actor.username, phase=Phase.INITIATION,
                          status=ProjectStatus.PROPOSED, portfolio_category=proposal.category or None, tags=tags)
        db.session.add(project)
        db.session.flush()
        for lesson_id in dict.fromkeys(proposal.applied_lessons):
            db.session.add(AppliedLesson(project_id=project.id, lesson_id=lesson_id, applied_by=actor.username))
        audit.record(actor.username, "propose_project", project_id=project.id, name=project.name,
                     project_manager=project.project_manager, sponsor=project.sponsor,
                     category=project.portfolio_category, tags=tags, applied_lessons=list(proposal.applied_lessons))
        return project

    def draft_for_pm(project: Project, instance: ProcessInstance) -> None:
        """Someone else proposed it: the charter waits as the PM's draft of their charter task."""
        task = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                          HumanTask.element_id == CHARTER_TASK,
                                                          HumanTask.status == TaskStatus.READY)).first()
        if task is None:
            raise Conflict("the lifecycle did not reach the charter step: nothing was proposed")
        inbox_operations.put_draft(task.id, project.project_manager, charter)

    # One transaction: the project, its filing, the lifecycle and the charter (or the PM's draft of it).
    try:
        project = _start_lifecycle(record, actor, charter if own else None, on_saved=None if own else draft_for_pm)
    except Invalid as exc:  # the charter step's own check of the form: its fields are the charter's
        found = exc.errors if isinstance(exc.errors, dict) else {}
        raise Invalid("the charter has errors: nothing was proposed",
                      errors={f"charter.{k}": v for k, v in found.items()} or {"charter": [exc.detail]}) from exc
    if not own:
        return Proposed(project, False, "the charter waits as a draft in the project manager's charter task")
    # A charter the process finds incomplete comes back to the PM as the same step.
    back = any(t.element_id == CHARTER_TASK for t in instances.ready_tasks(project.lifecycle_instance_id))
    return Proposed(project, not back, "the process asks for corrections to the charter" if back else "")


def apply_lesson(project_id: int, lesson_id: int, actor: Actor, applied: bool = True) -> None:
    """Mark a lesson of an earlier project as applied to this one (or no longer)."""
    project = changeable(project_id, actor)
    with write_transaction():
        lesson = db.session.get(LessonLearned, lesson_id)
        if lesson is None or not lesson.published:
            raise NotFound(f"lesson {lesson_id} does not exist")
        row = db.session.scalars(select(AppliedLesson).where(AppliedLesson.project_id == project.id,
                                                             AppliedLesson.lesson_id == lesson_id)).first()
        if applied and row is None:
            db.session.add(AppliedLesson(project_id=project.id, lesson_id=lesson_id, applied_by=actor.username))
        elif not applied and row is not None:
            db.session.delete(row)
        else:
            return
        _audit(actor, project, "apply_lesson" if applied else "unapply_lesson", lesson_id=lesson_id)


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


# -- status reports outside the schedule -------------------------------------------------------------

STATUS_REPORT_FORM = "status-report-schema.json"


@dataclass
class ReportFiled:
    report: StatusReport
    instance: ProcessInstance
    needs_plan: bool             # amber or red: it asks for a get-to-green plan (actions, owners, dates)


def status_report_form() -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The deployed status report process's report form and its UI schema ((None, {}) when not deployed)."""
    from app.definitions import forms
    from app.definitions import queries as definition_queries

    try:
        version = definition_queries.current_version(project_queries.STATUS_REPORT_PROCESS)
        schema = forms.load_form(version.deployment_id, STATUS_REPORT_FORM)
    except NotFound:
        return None, {}
    try:
        ui = forms.load_form(version.deployment_id, STATUS_REPORT_FORM.replace("-schema", "-uischema")) or {}
    except NotFound:
        ui = {}
    return schema, ui


def check_status_report(project_id: int, actor: Actor) -> Project:
    """The project, if ``actor`` may report on it now: 404 unseen, 403 not its PM or the PMO, 409 when
    it is not in execution or a report is already waiting (with where it waits)."""
    project = changeable(project_id, actor)
    refusal = project_queries.status_report_refusal(project)
    if refusal:
        raise Conflict(refusal)
    waiting = project_queries.open_status_report(project)
    if waiting is not None:
        raise Conflict(f"a status report is already waiting to be written: “{waiting.title}” (task {waiting.id})",
                       errors={"task_id": [waiting.id]})
    return project


def submit_status_report(project_id: int, actor: Actor, data: dict[str, Any]) -> ReportFiled:
    """Report outside the 14-day schedule: the same status reporting process the lifecycle runs
    (its snapshot, escalation rule and PMO review), started for the project and its report step
    submitted by ``actor`` at once, in one transaction. Checked first: who (the PM or the PMO), the
    lifecycle (execution), no report already waiting, and ``data`` against the deployed form (422)."""
    from app.definitions import forms

    project = check_status_report(project_id, actor)
    schema, _ui = status_report_form()
    if schema is None:
        raise Conflict("the status reporting process is not deployed")
    forms.validate(schema, data)
    start = {**binding(project), "requested_by": actor.username, "unscheduled": True}
    if actor.username != project.project_manager:  # the PMO writes this one report in the PM's lane
        start["lane_owners"] = {**start["lane_owners"], "project_manager": [actor.username]}
    instance = instances.start_with(project_queries.STATUS_REPORT_PROCESS, actor,
                                    lambda: (start, project.business_key),
                                    first_step=project_queries.STATUS_REPORT_TASK, first_data=data)
    report = db.session.scalars(select(StatusReport).where(StatusReport.project_id == project.id)
                                .order_by(StatusReport.id.desc())).first()
    if report is None:
        raise Conflict(f"status reporting instance {instance.id} did not file a report ({instance.status})")
    return ReportFiled(report, instance, report.overall_rag in ("amber", "red"))


# -- the RAID log ------------------------------------------------------------------------------

def changeable(project_id: int, actor: Actor) -> Project:
    """The project, for a change by ``actor``: 404 when they may not see it, 403 when they may see it
    but it is not theirs to change, 409 when it is finished (its log stands as it was left)."""
    project = visible_project(project_id, actor)
    if not keeps_raid_log(project, actor):
        if is_finished(project):
            raise Conflict(f"{project.name} is {project.status}: its RAID log is kept as it was left")
        raise Forbidden("only the project's manager and the PMO can change its RAID log")
    return project


def _locked_project(project_id: int) -> Project:
    return db.session.get(Project, project_id, populate_existing=True, with_for_update=True)


def _audit(actor: Actor, project: Project, action: str, **details: Any) -> None:
    """Audited against the project's lifecycle instance, so it shows in the project's activity."""
    audit.record(actor.username, action, instance_id=project.lifecycle_instance_id, project_id=project.id,
                 **details)


def _owner(username: str | None, field_name: str = "owner") -> str:
    """An owner is an active user (or nobody yet)."""
    username = (username or "").strip()
    if not username:
        return ""
    user = db.session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        raise Invalid(f"no active user named '{username}'", errors={field_name: [f"no active user named '{username}'"]})
    return username


def escalation_threshold() -> int:
    return int(current_app.config.get("RISK_ESCALATION_SCORE", 15))


@dataclass
class RiskChange:
    risk: Risk
    escalation: ProcessInstance | None = None  # started by this change (the score crossed the threshold)
    escalation_problem: str = ""


RISK_FIELDS = ("title", "probability", "impact", "owner", "response", "trigger", "action", "status")


def add_risk(project_id: int, actor: Actor, data: dict[str, Any]) -> RiskChange:
    """Add a risk to the project's log; at or above the PMO threshold it is escalated at once."""
    project = changeable(project_id, actor)
    owner = _owner(data.get("owner"))
    with write_transaction():
        project = _locked_project(project.id)
        risk = Risk(project_id=project.id, title=data["title"].strip(), probability=int(data["probability"]),
                    impact=int(data["impact"]), owner=owner, response=data.get("response") or "mitigate",
                    trigger=data.get("trigger") or "", action=data.get("action") or "",
                    status=data.get("status") or "open", source="workspace")
        risk.score = risk.probability * risk.impact
        db.session.add(risk)
        db.session.flush()
        _audit(actor, project, "add_risk", risk_id=risk.id, title=risk.title, score=risk.score)
    return _escalate_if_crossed(project, risk, None, actor)


def update_risk(project_id: int, risk_id: int, actor: Actor, data: dict[str, Any]) -> RiskChange:
    """Change a risk's score, owner, response, trigger, actions or status (only the fields given)."""
    project = changeable(project_id, actor)
    if "owner" in data:
        data = {**data, "owner": _owner(data.get("owner"))}
    with write_transaction():
        project = _locked_project(project.id)
        risk = db.session.get(Risk, risk_id, populate_existing=True, with_for_update=True)
        if risk is None or risk.project_id != project.id:
            raise NotFound(f"risk {risk_id} does not exist")
        # A closed risk is not in the open register: reopened at or above the threshold, it crosses.
        before = risk.score if risk.status == "open" else None
        changed = {}
        for key in RISK_FIELDS:
            value = data.get(key)
            value = value.strip() if key == "title" and isinstance(value, str) else value
            if value is not None and getattr(risk, key) != value:
                changed[key] = value
                setattr(risk, key, value)
        risk.score = risk.probability * risk.impact
        if changed:
            _audit(actor, project, "update_risk", risk_id=risk.id, changed=changed, score=risk.score)
    return _escalate_if_crossed(project, risk, before, actor)


def _escalate_if_crossed(project: Project, risk: Risk, before: int | None, actor: Actor) -> RiskChange:
    """Start the PMO's risk escalation when this change took an open risk to the threshold or above
    from below it (or it is new): once per crossing, never again while it stays above."""
    threshold = escalation_threshold()
    crossed = risk.status == "open" and risk.score >= threshold and (before is None or before < threshold)
    if not crossed:
        return RiskChange(risk)
    names = dict(db.session.execute(select(User.username, User.display_name)
                                    .where(User.username == risk.owner)).all()) if risk.owner else {}
    data = {**binding(project), "risk_id": risk.id, "risk_title": risk.title, "risk_score": risk.score,
            "probability": risk.probability, "impact": risk.impact, "risk_owner": risk.owner,
            "risk_owner_name": names.get(risk.owner) or risk.owner, "response": risk.response,
            "trigger": risk.trigger, "risk_action": risk.action, "threshold": threshold,
            "raised_by": actor.username}
    try:
        instance = instances.start(RISK_ESCALATION_PROCESS, actor, data, business_key=project.business_key)
    except NotFound:
        return RiskChange(risk, None, "the risk escalation process is not deployed, so the PMO was not asked")
    except StepFailed as exc:
        return RiskChange(risk, None, exc.detail)
    db.session.refresh(risk)
    return RiskChange(risk, instance)


def raise_risk_to_issue(project_id: int, risk_id: int, actor: Actor, data: dict[str, Any] | None = None) -> RaidItem:
    """The risk happened: open an issue linked to it (the risk stays, closed as occurred)."""
    project = changeable(project_id, actor)
    data = data or {}
    with write_transaction():
        project = _locked_project(project.id)
        risk = db.session.get(Risk, risk_id, populate_existing=True, with_for_update=True)
        if risk is None or risk.project_id != project.id:
            raise NotFound(f"risk {risk_id} does not exist")
        if any(i.is_open for i in risk.issues):
            raise Conflict(f"the risk “{risk.title}” is already an open issue")
        severity = data.get("severity") or ("critical" if risk.impact == 5 else "high" if risk.impact >= 4
                                            else "medium" if risk.impact == 3 else "low")
        issue = RaidItem(project_id=project.id, kind=RaidKind.ISSUE, title=risk.title,
                         description=data.get("description") or risk.action or risk.trigger or "",
                         owner=_owner(data.get("owner", risk.owner)), due_date=data.get("due_date"),
                         status=RaidKind.STATUSES[RaidKind.ISSUE][0], severity=severity, risk_id=risk.id,
                         created_by=actor.username)
        risk.status = "closed"
        db.session.add(issue)
        db.session.flush()
        _audit(actor, project, "raise_risk_to_issue", risk_id=risk.id, issue_id=issue.id)
    return issue


RAID_FIELDS = ("title", "description", "owner", "due_date", "status", "severity")


def _check_item(kind: str, data: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if data.get("status") and data["status"] not in RaidKind.STATUSES[kind]:
        errors["status"] = [f"a {kind} is one of: {', '.join(RaidKind.STATUSES[kind])}"]
    if data.get("severity") and (kind != RaidKind.ISSUE or data["severity"] not in RaidKind.SEVERITIES):
        errors["severity"] = ["only issues have a severity: low, medium, high or critical"]
    if errors:
        raise Invalid("the entry has errors", errors=errors)


def add_raid_item(project_id: int, actor: Actor, kind: str, data: dict[str, Any],
                  status_report_id: int | None = None) -> RaidItem:
    """Add an issue, action, decision, assumption or dependency; an action may belong to an amber or
    red status report's get-to-green plan."""
    if kind not in RaidKind.ALL:
        raise NotFound(f"the RAID log has no {kind}s")
    project = changeable(project_id, actor)
    _check_item(kind, data)
    owner = _owner(data.get("owner"))
    with write_transaction():
        project = _locked_project(project.id)
        if status_report_id is not None:
            report = db.session.get(StatusReport, status_report_id)
            if report is None or report.project_id != project.id:
                raise NotFound(f"status report {status_report_id} does not exist")
            if kind != RaidKind.ACTION or report.overall_rag not in ("amber", "red"):
                raise Conflict("only an amber or red status report has a get-to-green plan, made of actions")
        item = RaidItem(project_id=project.id, kind=kind, title=data["title"].strip(),
                        description=data.get("description") or "", owner=owner, due_date=data.get("due_date"),
                        status=data.get("status") or RaidKind.STATUSES[kind][0],
                        severity=(data.get("severity") or "medium") if kind == RaidKind.ISSUE else None,
                        status_report_id=status_report_id, created_by=actor.username)
        db.session.add(item)
        db.session.flush()
        _audit(actor, project, f"add_{kind}", item_id=item.id, title=item.title,
               status_report_id=status_report_id)
    return item


def update_raid_item(project_id: int, item_id: int, actor: Actor, data: dict[str, Any],
                     kind: str | None = None) -> RaidItem:
    """Change an entry's title, description, owner, due date, status or severity (the fields given)."""
    project = changeable(project_id, actor)
    if "owner" in data:
        data = {**data, "owner": _owner(data.get("owner"))}
    with write_transaction():
        project = _locked_project(project.id)
        item = db.session.get(RaidItem, item_id, populate_existing=True, with_for_update=True)
        if item is None or item.project_id != project.id or (kind is not None and item.kind != kind):
            raise NotFound(f"{kind or 'RAID entry'} {item_id} does not exist")
        _check_item(item.kind, data)
        changed = {}
        for key in RAID_FIELDS:
            if key in data and getattr(item, key) != data[key] and not (key == "title" and not data[key]):
                changed[key] = data[key].isoformat() if isinstance(data[key], date) else data[key]
                setattr(item, key, data[key])
        if changed:
            _audit(actor, project, f"update_{item.kind}", item_id=item.id, changed=changed)
    return item
