"""Marshmallow schemas of the projects API: projects, their records, change requests and lessons."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from app.api.schemas import PageQuery, page_schema
from app.core.extensions import db
from app.instances.schemas import InstanceSummaryOut, _is_overdue
from app.people.models import User
from app.projects.models import Phase, ProjectStatus, RaidKind

PHASES = (Phase.INITIATION, Phase.PLANNING, Phase.EXECUTION, Phase.CLOSURE, Phase.CLOSED)
STATUSES = (ProjectStatus.PROPOSED, ProjectStatus.ACTIVE, ProjectStatus.ON_HOLD, ProjectStatus.REJECTED,
            ProjectStatus.KILLED, ProjectStatus.CLOSED)
RAGS = ("green", "amber", "red")
RISK_RESPONSES = ("avoid", "mitigate", "transfer", "accept")
RISK_STATUSES = ("open", "closed")
RAID_STATUSES = tuple(dict.fromkeys(s for kind in RaidKind.ALL for s in RaidKind.STATUSES[kind]))


def _money() -> fields.Float:
    return fields.Float(allow_none=True)


# -- input -----------------------------------------------------------------------------------------

def _user_problem(username: str, role: str) -> str | None:
    user = db.session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        return f"no active user named '{username}'"
    if not user.has_role(role):
        return f"{username} does not have the role {role}"
    return None


class ProjectCreateIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=3, max=200))
    project_manager = fields.String(required=True, validate=validate.Length(min=1, max=80),
                                    metadata={"description": "username of a user with the project_manager role"})
    sponsor = fields.String(required=True, validate=validate.Length(min=1, max=80),
                            metadata={"description": "username of a user with the sponsor role"})

    @validates_schema
    def _people(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        for field, role in (("project_manager", "project_manager"), ("sponsor", "sponsor")):
            if data.get(field) and (problem := _user_problem(data[field], role)):
                errors.setdefault(field, []).append(problem)
        if data.get("project_manager") and data.get("project_manager") == data.get("sponsor"):
            errors.setdefault("sponsor", []).append(
                "segregation of duties: the sponsor and the project manager must be different people")
        if errors:
            raise ValidationError(errors)


# -- the RAID log: risks and the other entries, in and out ----------------------------------------

def _risk_fields(required: bool) -> dict[str, fields.Field]:
    """The fields of a risk; for an update none is required and none has a default (only what is sent changes)."""
    req: dict[str, Any] = {"required": True} if required else {}
    extra = (lambda default: {"load_default": default}) if required else (lambda default: {})
    return {
        "title": fields.String(validate=validate.Length(min=3, max=300), **req),
        "probability": fields.Integer(validate=validate.Range(1, 5), metadata={"description": "1 (rare) to 5"},
                                      **req),
        "impact": fields.Integer(validate=validate.Range(1, 5), metadata={"description": "1 (minor) to 5"}, **req),
        "owner": fields.String(validate=validate.Length(max=80), metadata={"description": "username of an active user"},
                               **extra("")),
        "response": fields.String(validate=validate.OneOf(RISK_RESPONSES), **extra("mitigate")),
        "trigger": fields.String(validate=validate.Length(max=2000), **extra("")),
        "action": fields.String(validate=validate.Length(max=4000),
                                metadata={"description": "what is done about it"}, **extra("")),
        "status": fields.String(validate=validate.OneOf(RISK_STATUSES), **extra("open")),
    }


RiskIn = Schema.from_dict(_risk_fields(True), name="RiskIn")
RiskUpdateIn = Schema.from_dict(_risk_fields(False), name="RiskUpdateIn")


def _raid_fields(required: bool) -> dict[str, fields.Field]:
    return {
        "title": fields.String(validate=validate.Length(min=3, max=300), **({"required": True} if required else {})),
        "description": fields.String(validate=validate.Length(max=4000)),
        "owner": fields.String(validate=validate.Length(max=80), metadata={"description": "username of an active user"}),
        "due_date": fields.Date(allow_none=True),
        "status": fields.String(validate=validate.OneOf(RAID_STATUSES),
                                metadata={"description": "per kind: " + "; ".join(
                                    f"{k}: {', '.join(RaidKind.STATUSES[k])}" for k in RaidKind.ALL)}),
        "severity": fields.String(validate=validate.OneOf(RaidKind.SEVERITIES), allow_none=True,
                                  metadata={"description": "issues only"}),
    }


RaidItemIn = Schema.from_dict(_raid_fields(True), name="RaidItemIn")
RaidItemUpdateIn = Schema.from_dict(_raid_fields(False), name="RaidItemUpdateIn")


class RaidItemOut(Schema):
    id = fields.Integer(required=True)
    project_id = fields.Integer()
    kind = fields.String(metadata={"enum": list(RaidKind.ALL)})
    title = fields.String()
    description = fields.String()
    owner = fields.String()
    due_date = fields.Date(allow_none=True)
    status = fields.String()
    severity = fields.String(allow_none=True)
    risk_id = fields.Integer(allow_none=True, metadata={"description": "the risk this issue was raised from"})
    status_report_id = fields.Integer(allow_none=True,
                                      metadata={"description": "the status report whose get-to-green plan it is in"})
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ProjectQuery(PageQuery):
    phase = fields.String(validate=validate.OneOf(PHASES))
    status = fields.String(validate=validate.OneOf(STATUSES))
    rag = fields.String(validate=validate.OneOf(RAGS))
    pm = fields.String(metadata={"description": "username of the project manager"})
    sponsor = fields.String(metadata={"description": "username of the sponsor"})
    q = fields.String(metadata={"description": "part of the project code or name"})
    sort = fields.String(validate=validate.OneOf(("priority", "name", "code", "phase", "target_end", "updated")),
                         metadata={"description": "priority (default), name, code, phase, target_end (soonest "
                                                  "first) or updated (newest first)"})


class ChangeRequestIn(Schema):
    """The change_request process's submit form (forms/change-submit-schema.json)."""

    cr_title = fields.String(required=True, validate=validate.Length(min=5, max=200))
    cr_description = fields.String(required=True, validate=validate.Length(min=10))
    cr_reason = fields.String(required=True, validate=validate.Length(min=10))
    cost_impact = fields.Float(required=True, metadata={"description": "positive adds cost, negative saves"})
    schedule_impact_days = fields.Integer(required=True, validate=validate.Range(min=-365, max=730))
    scope_impact = fields.String(required=True, validate=validate.Length(min=3))
    risk_impact = fields.String(required=True, validate=validate.OneOf(("none", "low", "medium", "high")))
    urgency = fields.String(validate=validate.OneOf(("normal", "high", "critical")))


class LessonQuery(PageQuery):
    q = fields.String(metadata={"description": "words (3+ letters) that must all appear"})
    category = fields.String()
    tag = fields.String()


# -- output ----------------------------------------------------------------------------------------

class OpenTaskOut(Schema):
    id = fields.String(required=True)
    title = fields.String()
    element_id = fields.String()
    process_key = fields.String()
    instance_id = fields.Integer()
    lane = fields.String(allow_none=True)
    candidate_roles = fields.List(fields.String(), metadata={"description": "offered to these roles"})
    candidate_users = fields.List(fields.String(), metadata={"description": "offered to these users"})
    assignee = fields.String(allow_none=True)
    created_at = fields.DateTime()
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Function(_is_overdue, dump_only=True, metadata={"type": "boolean"})


class MilestoneOut(Schema):
    seq = fields.Integer()
    name = fields.String()
    due_date = fields.Date()
    baseline_due_date = fields.Date()
    deliverables = fields.String()
    gate_required = fields.Boolean()
    status = fields.String()
    achieved_date = fields.Date(allow_none=True)


class RiskOut(Schema):
    id = fields.Integer()
    title = fields.String()
    probability = fields.Integer()
    impact = fields.Integer()
    score = fields.Integer()
    owner = fields.String()
    response = fields.String()
    trigger = fields.String()
    action = fields.String()
    status = fields.String()
    source = fields.String()
    escalation_instance_id = fields.Integer(allow_none=True,
                                            metadata={"description": "the PMO escalation started at the last crossing"})
    pmo_review = fields.Dict(allow_none=True)


class RiskChangeOut(Schema):
    risk = fields.Nested(RiskOut)
    escalated = fields.Boolean(metadata={"description": "this change crossed the PMO threshold and escalated it"})
    escalation_instance_id = fields.Integer(allow_none=True)
    escalation_problem = fields.String(metadata={"description": "why it was not escalated, when it should have been"})


class ChangeDecisionOut(Schema):
    kind = fields.String()
    decided_as = fields.String()
    decided_by = fields.String()
    decision = fields.String()
    reason = fields.String()
    decided_at = fields.DateTime()


class ChangeRequestOut(Schema):
    id = fields.Integer(required=True)
    project_id = fields.Integer()
    number = fields.Integer()
    reference = fields.String(dump_only=True)
    title = fields.String()
    description = fields.String()
    reason = fields.String()
    cost_impact = _money()
    schedule_impact_days = fields.Integer()
    scope_impact = fields.String()
    risk_impact = fields.String()
    assessed_cost_impact = _money()
    assessed_schedule_days = fields.Integer(allow_none=True)
    assessed_risk_level = fields.String(allow_none=True)
    size = fields.String(allow_none=True)
    route = fields.String(allow_none=True, metadata={"description": "pm | sponsor | ccb"})
    status = fields.String(metadata={"enum": ["submitted", "approved", "rejected", "withdrawn"]})
    requested_by = fields.String()
    instance_id = fields.Integer(allow_none=True)
    submitted_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    applied_baseline_version = fields.Integer(allow_none=True)
    decisions = fields.List(fields.Nested(ChangeDecisionOut))


class ChangeRequestCreatedOut(ChangeRequestOut):
    instance = fields.Nested(InstanceSummaryOut, required=True)
    next_tasks = fields.List(fields.Nested(OpenTaskOut), metadata={"description": "the instance's ready tasks"})


class AllocationOut(Schema):
    role = fields.String()
    requested_fte = _money()
    fte = _money()
    start_date = fields.Date()
    end_date = fields.Date()
    named_resource = fields.String()
    status = fields.String()
    decided_by = fields.String()
    comment = fields.String()


class GateDecisionOut(Schema):
    gate_name = fields.String()
    recommended = fields.String()
    decision = fields.String()
    rationale = fields.String()
    quality_assessment = fields.String()
    decided_by = fields.String()
    recorded_by = fields.String()
    overridden = fields.Boolean()
    decided_at = fields.DateTime()


class StatusReportOut(Schema):
    id = fields.Integer()
    period_end = fields.Date()
    schedule_rag = fields.String()
    budget_rag = fields.String()
    scope_rag = fields.String()
    resources_rag = fields.String()
    risk_rag = fields.String()
    overall_rag = fields.String()
    max_risk_score = fields.Integer()
    summary = fields.String()
    achievements = fields.String()
    next_steps = fields.String()
    top_issues = fields.List(fields.Dict())
    snapshot = fields.Dict()
    escalated = fields.Boolean()
    escalation_reason = fields.String()
    pmo_review = fields.Dict(allow_none=True)
    submitted_by = fields.String()
    created_at = fields.DateTime()


class LessonOut(Schema):
    id = fields.Integer(required=True)
    project_id = fields.Integer()
    project_code = fields.String(attribute="project.code", allow_none=True, dump_only=True)
    project_name = fields.String(attribute="project.name", dump_only=True)
    title = fields.String()
    what_went_well = fields.String()
    what_to_improve = fields.String()
    recommendation = fields.String()
    category = fields.String()
    tags = fields.List(fields.String())
    closure_type = fields.String()
    published = fields.Boolean()
    created_by = fields.String()
    curated_by = fields.String()
    created_at = fields.DateTime()


class ProjectSummaryOut(Schema):
    id = fields.Integer(required=True)
    code = fields.String(allow_none=True)
    name = fields.String(required=True)
    phase = fields.String(metadata={"enum": list(PHASES)})
    status = fields.String(metadata={"enum": list(STATUSES)})
    rag = fields.String(allow_none=True, metadata={"enum": list(RAGS)})
    priority = fields.String(allow_none=True)
    portfolio_category = fields.String(allow_none=True)
    project_manager = fields.String()
    sponsor = fields.String()
    created_by = fields.String()
    budget_estimate = _money()
    budget_baseline = _money()
    budget_actual = _money()
    baseline_version = fields.Integer()
    start_date = fields.Date(allow_none=True)
    target_end_date = fields.Date(allow_none=True)
    end_date = fields.Date(allow_none=True)
    lifecycle_instance_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    open_tasks = fields.List(fields.Nested(OpenTaskOut))


class ProjectOut(ProjectSummaryOut):
    strategic_fit = fields.Integer(allow_none=True)
    value_score = fields.Integer(allow_none=True)
    risk_score = fields.Integer(allow_none=True)
    rag_detail = fields.Dict()
    charter = fields.Dict()
    closure = fields.Dict()
    lifecycle_instance = fields.Nested(InstanceSummaryOut, allow_none=True)
    milestones = fields.List(fields.Nested(MilestoneOut))
    risks = fields.List(fields.Nested(RiskOut))
    allocations = fields.List(fields.Nested(AllocationOut))
    change_requests = fields.List(fields.Nested(ChangeRequestOut))
    gate_decisions = fields.List(fields.Nested(GateDecisionOut))
    status_reports = fields.List(fields.Nested(StatusReportOut))
    lessons = fields.List(fields.Nested(LessonOut))
    tags = fields.List(fields.String())
    raid_items = fields.List(fields.Nested(RaidItemOut))
    applied_lesson_ids = fields.Method("_applied", metadata={"description": "lessons of earlier projects applied"})

    def _applied(self, project: Any) -> list[int]:
        return [a.lesson_id for a in project.applied_lessons]


ProjectPageOut = page_schema(ProjectSummaryOut, "ProjectPage")
LessonPageOut = page_schema(LessonOut, "LessonPage")


# -- the workspace of one project (GET /projects/<id>/workspace) ------------------------------------

class WorkspaceQuery(Schema):
    kind = fields.String(validate=validate.Length(max=80),
                         metadata={"description": "only activity of this kind (one of activity_kinds)"})


class StageOut(Schema):
    phase = fields.String(metadata={"enum": list(PHASES)})
    title = fields.String()
    state = fields.String(metadata={"enum": ["done", "current", "next"]})


class PersonOut(Schema):
    username = fields.String()
    name = fields.String(metadata={"description": "as people write it"})


class RoleHoldersOut(Schema):
    role = fields.String()
    members = fields.List(fields.Nested(PersonOut), metadata={"description": "active users with the role"})


class StepOut(Schema):
    """An open step of the project (lifecycle or change request) and who holds it."""

    task = fields.Nested(OpenTaskOut)
    holders = fields.List(fields.Nested(PersonOut), metadata={"description": "assigned to or offered to by name"})
    roles = fields.List(fields.Nested(RoleHoldersOut), metadata={"description": "offered to these roles (unclaimed)"})
    since = fields.DateTime()
    due = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    mine = fields.Boolean(metadata={"description": "the caller may act on it now"})


class MilestoneRowOut(Schema):
    name = fields.String()
    baseline = fields.Date(allow_none=True)
    forecast = fields.Date(allow_none=True)
    actual = fields.Date(allow_none=True)
    slip_days = fields.Integer(allow_none=True, metadata={"description": "reached or forecast minus baseline"})
    gate = fields.Boolean()
    status = fields.String()


class BudgetOut(Schema):
    estimate = _money()
    baseline = _money()
    actual = _money()
    remaining = _money()


class HeatCellOut(Schema):
    probability = fields.Integer()
    impact = fields.Integer()
    count = fields.Integer()
    risk_ids = fields.List(fields.Integer())


class RaidLogsOut(Schema):
    issues = fields.List(fields.Nested(RaidItemOut))
    actions = fields.List(fields.Nested(RaidItemOut))
    decisions = fields.List(fields.Nested(RaidItemOut))
    assumptions = fields.List(fields.Nested(RaidItemOut))
    dependencies = fields.List(fields.Nested(RaidItemOut))


class WorkspaceReportOut(StatusReportOut):
    needs_plan = fields.Method("_needs_plan", metadata={
        "type": "boolean", "description": "amber or red: it asks for a get-to-green plan (actions, owners, dates)"})
    plan_actions = fields.List(fields.Nested(RaidItemOut), metadata={"description": "its get-to-green plan"})

    def _needs_plan(self, report: Any) -> bool:
        return report.overall_rag in ("amber", "red")


class ActivityOut(Schema):
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    task_id = fields.String(allow_none=True)
    task_title = fields.String(allow_none=True)
    process_key = fields.String(allow_none=True)


class WorkspaceProjectOut(ProjectSummaryOut):
    class Meta:
        exclude = ("open_tasks",)  # they are the workspace's current steps


class WorkspaceOut(Schema):
    """What the workspace page shows, as data (``workspace.Workspace`` and its ``*_rows`` views)."""

    project = fields.Nested(WorkspaceProjectOut)
    stopped = fields.String(allow_none=True, metadata={"description": "why it is not moving (on hold, ...)"})
    stages = fields.List(fields.Nested(StageOut))
    gate_decisions = fields.List(fields.Nested(GateDecisionOut), attribute="project.gate_decisions")
    current_steps = fields.List(fields.Nested(StepOut), attribute="step_rows")
    milestones = fields.List(fields.Nested(MilestoneRowOut))
    budget = fields.Nested(BudgetOut)
    allocations = fields.List(fields.Nested(AllocationOut), attribute="project.allocations")
    risks = fields.List(fields.Nested(RiskOut))
    heat_map = fields.List(fields.Nested(HeatCellOut), attribute="heat_cells",
                           metadata={"description": "open risks per probability x impact cell (empty cells left out)"})
    risk_threshold = fields.Integer(attribute="threshold", metadata={"description": "the score escalated to the PMO"})
    raid = fields.Nested(RaidLogsOut, attribute="raid_logs")
    changes = fields.List(fields.Nested(ChangeRequestOut))
    can_raise_change = fields.Boolean()
    status_reports = fields.List(fields.Nested(WorkspaceReportOut), attribute="reports_newest_first")
    can_report = fields.Boolean(metadata={"description": "the caller may submit a status report now"})
    report_refusal = fields.String(allow_none=True, metadata={"description": "why no report can be submitted now"})
    lessons = fields.List(fields.Nested(LessonOut), attribute="project.lessons")
    applied_lessons = fields.List(fields.Nested(LessonOut), attribute="applied_lesson_rows",
                                  metadata={"description": "lessons of earlier projects applied to this one"})
    activity = fields.List(fields.Nested(ActivityOut), attribute="activity_rows",
                           metadata={"description": "newest first, at most 200"})
    activity_kinds = fields.List(fields.String())
    may_change = fields.Boolean(metadata={"description": "the caller keeps this project's RAID log"})


# -- a status report outside the schedule -----------------------------------------------------------

class StatusReportIn(Schema):
    """The status reporting process's report form (validated against the deployed form too)."""

    period_end = fields.Date(required=True)
    schedule_rag = fields.String(required=True, validate=validate.OneOf(RAGS))
    budget_rag = fields.String(required=True, validate=validate.OneOf(RAGS))
    scope_rag = fields.String(required=True, validate=validate.OneOf(RAGS))
    resources_rag = fields.String(required=True, validate=validate.OneOf(RAGS))
    risk_rag = fields.String(required=True, validate=validate.OneOf(RAGS))
    top_risk_score = fields.Integer(required=True, validate=validate.Range(min=1, max=25))
    summary = fields.String(required=True, validate=validate.Length(min=10))
    achievements = fields.String()
    next_steps = fields.String()
    top_issues = fields.List(fields.Dict(), required=True, validate=validate.Length(max=10))


class ReportFiledOut(Schema):
    report = fields.Nested(WorkspaceReportOut)
    instance = fields.Nested(InstanceSummaryOut)
    needs_plan = fields.Boolean(metadata={"description": "amber or red: add get-to-green actions with "
                                                         "POST /projects/{id}/actions?status_report_id="})
    next_tasks = fields.List(fields.Nested(OpenTaskOut), metadata={"description": "e.g. the PMO's review of a "
                                                                                  "red report"})
