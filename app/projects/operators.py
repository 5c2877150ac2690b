"""Named service-task operators of the PMO processes (``<spiffworkflow:serviceTaskOperator id="pmo/...">``).

Each runs inside the instance's database transaction: it writes with ``db.session`` and never
commits, so the record and the process step succeed or fail together. Each returns JSON-able
data that lands in task data under the task's ``resultVariable``. Parameters are the explicit
inputs; optional form fields are read from ``call.data`` (the task data).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.core import audit
from app.core.extensions import db
from app.core.models import utcnow
from app.engine.runtime import EngineError, OperatorCall, register_operator
from app.people.models import User, UserRole
from app.projects.models import (
    ChangeDecision,
    ChangeRequest,
    GateDecision,
    LessonLearned,
    Milestone,
    Phase,
    Project,
    ProjectStatus,
    ResourceAllocation,
    Risk,
    StatusReport,
)

MAX_RELEVANT_LESSONS = 5


# -- helpers -----------------------------------------------------------------------------------

def _money(value: Any) -> Decimal:
    return Decimal(str(value if value not in (None, "") else 0)).quantize(Decimal("0.01"))


def _date(value: Any) -> date | None:
    if not value:
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _locked(model: type[Any], row_id: int) -> Any:
    """The row read fresh and locked (``SELECT ... FOR UPDATE``) until the instance command commits.

    Fresh: the request may have read this row before the step. Locked: two instances of one project
    (its lifecycle and change requests) must not read the same figures and overwrite each other's
    changes. On SQLite the command's ``BEGIN IMMEDIATE`` already serialises writers.
    """
    return db.session.get(model, row_id, populate_existing=True, with_for_update=True)


def _project(call: OperatorCall) -> Project:
    project_id = call.params.get("project_id") or call.data.get("project_id")
    project = _locked(Project, int(project_id)) if project_id else None
    if project is None:
        raise EngineError(f"project {project_id} does not exist")
    return project


def _change_request(call: OperatorCall) -> ChangeRequest:
    """The change request, locked, after its project: always project first, so no two steps deadlock."""
    cr_id = int(call.params.get("cr_id") or 0)
    project_id = db.session.scalar(select(ChangeRequest.project_id).where(ChangeRequest.id == cr_id))
    if project_id is not None:
        _locked(Project, project_id)
    cr = _locked(ChangeRequest, cr_id) if project_id is not None else None
    if cr is None:
        raise EngineError(f"change request {call.params.get('cr_id')} does not exist")
    return cr


def _actor(call: OperatorCall) -> str:
    return str(call.context.get("actor") or "system")


def _audit(call: OperatorCall, action: str, **details: Any) -> None:
    audit.record(_actor(call), action, instance_id=call.context.get("instance_id"),
                 process_key=call.context.get("process_key"), **details)


def snapshot(project: Project) -> dict[str, Any]:
    """The project's figures of the day, as JSON (shown to reporters and kept in reports)."""
    achieved = [m for m in project.milestones if m.status == "achieved"]
    return {
        "id": project.id,
        "code": project.code,
        "name": project.name,
        "phase": project.phase,
        "status": project.status,
        "rag": project.rag,
        "priority": project.priority,
        "budget_baseline": float(project.budget_baseline) if project.budget_baseline is not None else None,
        "budget_actual": float(project.budget_actual or 0),
        "baseline_version": project.baseline_version,
        "target_end_date": project.target_end_date.isoformat() if project.target_end_date else None,
        "milestones_total": len(project.milestones),
        "milestones_achieved": len(achieved),
        "max_risk_score": project.max_open_risk_score,
    }


# -- initiation --------------------------------------------------------------------------------

@register_operator("pmo/RelevantLessons", parameters=("project_id", "query"))
def relevant_lessons(call: OperatorCall) -> list[dict[str, Any]]:
    """Published lessons of other projects that match the new project's name: shown at initiation."""
    from app.projects.queries import search_lessons

    project_id = int(call.params.get("project_id") or 0)
    found = [lesson for lesson in search_lessons(str(call.params.get("query") or ""), match_any=True)
             if lesson.project_id != project_id]
    return [{"id": lesson.id, "title": lesson.title, "category": lesson.category,
             "recommendation": lesson.recommendation, "tags": lesson.tags,
             "project_code": lesson.project.code} for lesson in found[:MAX_RELEVANT_LESSONS]]


@register_operator("pmo/SaveCharter", parameters=("project_id",))
def save_charter(call: OperatorCall) -> dict[str, Any]:
    project = _project(call)
    d = call.data
    project.name = d.get("project_name") or project.name
    project.charter = {key: d.get(key) for key in (
        "objectives", "scope_in", "scope_out", "business_case", "budget_estimate", "start_date",
        "target_end_date", "key_risks", "stakeholders", "success_criteria", "assumptions")}
    project.budget_estimate = _money(d.get("budget_estimate"))
    project.start_date = _date(d.get("start_date"))
    project.target_end_date = _date(d.get("target_end_date"))
    # The charter's key risks open the RAID log; the plan's register replaces them later.
    project.risks = [r for r in project.risks if r.source != "charter"]
    for r in d.get("key_risks") or []:
        project.risks.append(Risk(title=r["description"][:300], probability=int(r["probability"]),
                                  impact=int(r["impact"]), score=int(r["probability"]) * int(r["impact"]),
                                  action=r.get("mitigation", ""), source="charter", owner=project.project_manager))
    return {"saved": True, "version": len(project.charter)}


@register_operator("pmo/RejectProject", parameters=("project_id", "reason"))
def reject_project(call: OperatorCall) -> dict[str, Any]:
    project = _project(call)
    project.status = ProjectStatus.REJECTED
    project.phase = Phase.CLOSED
    project.closure = {"type": "rejected", "reason": call.params.get("reason") or "", "by": _actor(call)}
    return {"status": project.status}


@register_operator("pmo/RegisterProject", parameters=("category", "code", "priority", "project_id", "risk_score", "strategic_fit", "value_score"))
def register_project(call: OperatorCall) -> dict[str, Any]:
    """Give the project its code, category and priority; a code in use is reported, not raised."""
    project = _project(call)
    p = call.params
    code = str(p.get("code") or "").strip().upper()
    clash = db.session.scalars(select(Project).where(Project.code == code, Project.id != project.id)).first()
    if clash is not None:
        return {"ok": False, "error": f"Project code {code} is already used by '{clash.name}'. Choose another."}
    project.code = code
    project.portfolio_category = p.get("category")
    project.priority = p.get("priority")
    project.strategic_fit = int(p["strategic_fit"])
    project.value_score = int(p["value_score"])
    project.risk_score = int(p["risk_score"])
    project.phase = Phase.PLANNING
    project.status = ProjectStatus.ACTIVE
    return {"ok": True, "error": "", "code": code, "priority": project.priority}


# -- planning ----------------------------------------------------------------------------------

@register_operator("pmo/RecordResourceDecision", parameters=("decisions", "project_id"))
def record_resource_decisions(call: OperatorCall) -> list[dict[str, Any]]:
    """The resource managers' decisions of this planning round replace those of earlier rounds."""
    project = _project(call)
    project.allocations = [a for a in project.allocations if a.status == "released"]
    status_of = {"approve": "approved", "adjust": "adjusted", "reject": "rejected"}
    out = []
    for d in call.params.get("decisions") or []:
        allocation = ResourceAllocation(
            role=d["role"], requested_fte=Decimal(str(d["requested_fte"])), fte=Decimal(str(d["approved_fte"] or 0)),
            start_date=_date(d["start_date"]), end_date=_date(d["end_date"]),
            named_resource=d.get("named_resource") or "", status=status_of[d["decision"]],
            decided_by=_actor(call), comment=d.get("comment") or "")
        project.allocations.append(allocation)
        out.append({"role": allocation.role, "fte": float(allocation.fte), "status": allocation.status})
    return out


@register_operator("pmo/SaveBaseline", parameters=("project_id",))
def save_baseline(call: OperatorCall) -> dict[str, Any]:
    project = _project(call)
    d = call.data
    milestones = sorted(d.get("milestones") or [], key=lambda m: m["due_date"])
    project.milestones = [
        Milestone(seq=i + 1, name=m["name"], due_date=_date(m["due_date"]), baseline_due_date=_date(m["due_date"]),
                  deliverables=m.get("deliverables") or "", gate_required=bool(m.get("gate_required", True)))
        for i, m in enumerate(milestones)]
    project.risks = [r for r in project.risks if r.source not in ("charter", "plan")]
    for r in d.get("risk_register") or []:
        project.risks.append(Risk(
            title=r["title"], probability=int(r["probability"]), impact=int(r["impact"]),
            score=int(r["probability"]) * int(r["impact"]), owner=r.get("owner", ""),
            response=r.get("response", "mitigate"), trigger=r.get("trigger") or "", action=r.get("action") or "",
            source="plan"))
    budget = d.get("budget_by_category") or {}
    project.budget_baseline = _money(sum(float(v or 0) for v in budget.values()))
    project.plan = {"budget_by_category": budget, "communication_plan": d.get("communication_plan") or [],
                    "quality_plan": d.get("quality_plan") or {}, "signed_off_by": _actor(call),
                    "signed_off_at": utcnow().isoformat()}
    if milestones:
        last_due = _date(milestones[-1]["due_date"])
        if project.target_end_date is None or last_due > project.target_end_date:
            project.target_end_date = last_due
    project.baseline_version = 1
    project.phase = Phase.EXECUTION
    project.status = ProjectStatus.ACTIVE
    return {"baseline_version": 1, "budget_baseline": float(project.budget_baseline),
            "milestones": len(project.milestones), "risks": len(project.risks)}


# -- execution, gates --------------------------------------------------------------------------

@register_operator("pmo/RecordMilestone", parameters=("actual_cost_to_date", "actual_date", "milestone", "project_id"))
def record_milestone(call: OperatorCall) -> dict[str, Any]:
    project = _project(call)
    wanted = call.params.get("milestone") or {}
    milestone = next((m for m in project.milestones if m.name == wanted.get("name")), None)
    if milestone is not None:
        milestone.status = "achieved"
        milestone.achieved_date = _date(call.params.get("actual_date"))
    project.budget_actual = _money(call.params.get("actual_cost_to_date"))
    return {"milestone": wanted.get("name"), "recorded": milestone is not None,
            "budget_actual": float(project.budget_actual)}


@register_operator("pmo/RecordGateDecision", parameters=("decision", "evidence", "gate_name", "project_id", "quality_assessment", "rationale", "recommended"))
def record_gate_decision(call: OperatorCall) -> dict[str, Any]:
    project = _project(call)
    p = call.params
    decision = p["decision"]
    gate = GateDecision(
        gate_name=str(p.get("gate_name") or ""), recommended=p.get("recommended") or "", decision=decision,
        rationale=p.get("rationale") or "", quality_assessment=p.get("quality_assessment") or "",
        decided_by=project.sponsor, recorded_by=_actor(call), overridden=decision != p.get("recommended"),
        evidence=p.get("evidence") or {})
    project.gate_decisions.append(gate)
    project.status = {"hold": ProjectStatus.ON_HOLD, "kill": ProjectStatus.KILLED}.get(decision, ProjectStatus.ACTIVE)
    db.session.flush()
    return {"id": gate.id, "decision": decision, "project_status": project.status}


@register_operator("pmo/SetPhase", parameters=("phase", "project_id"))
def set_phase(call: OperatorCall) -> dict[str, Any]:
    project = _project(call)
    phase = call.params["phase"]
    if phase not in (Phase.INITIATION, Phase.PLANNING, Phase.EXECUTION, Phase.CLOSURE, Phase.CLOSED):
        raise EngineError(f"unknown project phase '{phase}'")
    project.phase = phase
    return {"phase": phase}


# -- status reporting --------------------------------------------------------------------------

@register_operator("pmo/ProjectSnapshot", parameters=("project_id",))
def project_snapshot(call: OperatorCall) -> dict[str, Any]:
    return snapshot(_project(call))


@register_operator("pmo/SaveStatusReport", parameters=("project_id",))
def save_status_report(call: OperatorCall) -> dict[str, Any]:
    project = _project(call)
    d = call.data
    report = StatusReport(
        period_end=_date(d["period_end"]), schedule_rag=d["schedule_rag"], budget_rag=d["budget_rag"],
        scope_rag=d["scope_rag"], resources_rag=d["resources_rag"], risk_rag=d["risk_rag"],
        overall_rag=d["overall_rag"], max_risk_score=int(d.get("max_risk_score") or 0), summary=d["summary"],
        achievements=d.get("achievements") or "", next_steps=d.get("next_steps") or "",
        top_issues=d.get("top_issues") or [], snapshot=snapshot(project),
        escalated=bool(d.get("needs_pmo_review")), escalation_reason=d.get("escalation_reason") or "",
        submitted_by=_actor(call))
    project.status_reports.append(report)
    project.rag = report.overall_rag
    project.rag_detail = {"schedule": report.schedule_rag, "budget": report.budget_rag, "scope": report.scope_rag,
                          "resources": report.resources_rag, "risk": report.risk_rag,
                          "as_of": report.period_end.isoformat()}
    db.session.flush()
    return {"id": report.id, "overall_rag": report.overall_rag, "escalated": report.escalated}


@register_operator("pmo/SavePmoReview", parameters=("report_id",))
def save_pmo_review(call: OperatorCall) -> dict[str, Any]:
    report = _locked(StatusReport, int(call.params.get("report_id") or 0))
    if report is None:
        raise EngineError(f"status report {call.params.get('report_id')} does not exist")
    d = call.data
    report.pmo_review = {"assessment": d.get("pmo_assessment", ""), "actions": d.get("actions") or [],
                         "escalate_to_sponsor": bool(d.get("escalate_to_sponsor")), "by": _actor(call),
                         "at": utcnow().isoformat()}
    return {"id": report.id, "actions": len(report.pmo_review["actions"])}


# -- change control ----------------------------------------------------------------------------

@register_operator("pmo/RegisterChangeRequest", parameters=("cost_impact", "description", "project_id", "reason", "requested_by", "risk_impact", "schedule_impact_days", "scope_impact", "title"))
def register_change_request(call: OperatorCall) -> dict[str, Any]:
    """Create the change request, or update it when the requester revised a rejected one."""
    project = _project(call)
    p = call.params
    cr = _locked(ChangeRequest, int(call.data["cr_id"])) if call.data.get("cr_id") else None
    if cr is None:
        number = max((c.number for c in project.change_requests), default=0) + 1
        cr = ChangeRequest(number=number, requested_by=str(p.get("requested_by") or _actor(call)),
                           instance_id=call.context.get("instance_id"))
        project.change_requests.append(cr)
    cr.title = p["title"]
    cr.description = p.get("description") or ""
    cr.reason = p.get("reason") or ""
    cr.cost_impact = _money(p.get("cost_impact"))
    cr.schedule_impact_days = int(p.get("schedule_impact_days") or 0)
    cr.scope_impact = p.get("scope_impact") or ""
    cr.risk_impact = p.get("risk_impact") or "none"
    cr.status = "submitted"
    cr.submitted_at = utcnow()
    cr.decided_at = None
    db.session.flush()
    return {"id": cr.id, "reference": cr.reference, "number": cr.number}


@register_operator("pmo/CcbBallots", parameters=("exclude",))
def ccb_ballots(call: OperatorCall) -> dict[str, dict[str, list[str]]]:
    """One ballot per active CCB member except the requester: ``{username: {"ccb_member": [username]}}``.

    Each ballot becomes the ``lane_owners`` of one parallel vote task, so each member votes once, on
    their own ballot; the votes come back keyed by the same username.
    """
    exclude = call.params.get("exclude")
    excluded = set(exclude if isinstance(exclude, list) else [exclude])
    names = db.session.scalars(
        select(User.username).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "ccb_member", User.active.is_(True)).order_by(User.username)).all()
    return {name: {"ccb_member": [name]} for name in names if name not in excluded}


@register_operator("pmo/ChangeReminder", parameters=("approver", "cr_id"))
def change_reminder(call: OperatorCall) -> dict[str, Any]:
    cr = _change_request(call)
    cr.reminders_sent += 1
    _audit(call, "reminder", change_request=cr.reference, project_id=cr.project_id,
           approver=call.params.get("approver"), message=f"{cr.reference} is waiting for a decision")
    return {"reminders_sent": cr.reminders_sent}


@register_operator("pmo/RecordChangeDecision", parameters=("cr_id", "decided_by", "decision", "reason", "route", "size", "votes"))
def record_change_decision(call: OperatorCall) -> dict[str, Any]:
    cr = _change_request(call)
    p = call.params
    d = call.data
    now = utcnow()
    for vote in p.get("votes") or []:
        cr.decisions.append(ChangeDecision(kind="ccb_vote", decided_as="ccb member", decided_by=vote["voter"],
                                           decision=vote["vote"], reason=vote.get("comment") or "", decided_at=now))
    decided_as = str(p.get("decided_by") or "")
    cr.decisions.append(ChangeDecision(kind="decision", decided_as=decided_as,
                                       decided_by="ccb" if decided_as == "ccb" else _actor(call),
                                       decision=p["decision"], reason=p.get("reason") or "", decided_at=now))
    cr.status = "approved" if p["decision"] == "approve" else "rejected"
    cr.decision_reason = p.get("reason") or ""
    cr.decided_at = now
    cr.size = p.get("size")
    cr.route = p.get("route")
    cr.assessed_cost_impact = _money(d.get("assessed_cost_impact"))
    cr.assessed_schedule_days = int(d.get("assessed_schedule_days") or 0)
    cr.assessed_risk_level = d.get("assessed_risk_level")
    return {"status": cr.status}


@register_operator("pmo/ApplyChangeToBaseline", parameters=("cr_id",))
def apply_change_to_baseline(call: OperatorCall) -> dict[str, Any]:
    """An approved change moves the baseline: budget, target date and the milestones not yet reached."""
    cr = _change_request(call)
    project = _locked(Project, cr.project_id)  # read under the lock: not ``cr.project`` (a stale copy)
    cost = cr.assessed_cost_impact if cr.assessed_cost_impact is not None else cr.cost_impact
    days = cr.assessed_schedule_days if cr.assessed_schedule_days is not None else cr.schedule_impact_days
    project.budget_baseline = (project.budget_baseline or project.budget_estimate or Decimal("0")) + cost
    if days and project.target_end_date:
        project.target_end_date = project.target_end_date + timedelta(days=days)
    if days:
        for milestone in project.milestones:
            if milestone.status != "achieved":
                milestone.due_date = milestone.due_date + timedelta(days=days)
    project.baseline_version = (project.baseline_version or 0) + 1
    cr.applied_baseline_version = project.baseline_version
    _audit(call, "baseline_changed", project_id=project.id, change_request=cr.reference,
           baseline_version=project.baseline_version, cost=str(cost), days=days)
    return {"baseline_version": project.baseline_version, "budget_baseline": float(project.budget_baseline),
            "target_end_date": project.target_end_date.isoformat() if project.target_end_date else None}


@register_operator("pmo/WithdrawChangeRequest", parameters=("cr_id",))
def withdraw_change_request(call: OperatorCall) -> dict[str, Any]:
    cr = _change_request(call)
    cr.status = "withdrawn"
    return {"status": cr.status}


# -- closure -----------------------------------------------------------------------------------

@register_operator("pmo/SaveLesson", parameters=("lessons", "project_id"))
def save_lessons(call: OperatorCall) -> dict[str, Any]:
    project = _project(call)
    saved = []
    for lesson in call.params.get("lessons") or []:
        tags = sorted({str(t).strip().lower() for t in lesson.get("tags") or [] if str(t).strip()})
        row = LessonLearned(
            title=lesson["title"], what_went_well=lesson.get("what_went_well") or "",
            what_to_improve=lesson.get("what_to_improve") or "", recommendation=lesson["recommendation"],
            category=lesson["category"], tags=tags, tags_text="," + ",".join(tags) + ",",
            closure_type=call.data.get("closure_type") or "completed", created_by=project.project_manager,
            curated_by=_actor(call))
        project.lessons.append(row)
        saved.append(row)
    db.session.flush()
    return {"saved": len(saved), "ids": [row.id for row in saved]}


@register_operator("pmo/CloseProject", parameters=("archive_location", "closure_type", "final_actual_cost", "final_end_date", "notes", "project_id"))
def close_project(call: OperatorCall) -> dict[str, Any]:
    project = _project(call)
    p = call.params
    now = utcnow()
    killed = p.get("closure_type") == "killed"
    project.status = ProjectStatus.KILLED if killed else ProjectStatus.CLOSED
    project.phase = Phase.CLOSED
    project.budget_actual = _money(p.get("final_actual_cost"))
    project.end_date = _date(p.get("final_end_date"))
    released = 0
    for allocation in project.allocations:
        if allocation.status in ("approved", "adjusted"):
            allocation.status = "released"
            allocation.released_at = now
            released += 1
    project.closure = {"type": "killed" if killed else "completed", "archive_location": p.get("archive_location"),
                       "notes": p.get("notes") or "", "acceptance": call.data.get("acceptance_decision"),
                       "acceptance_conditions": call.data.get("acceptance_conditions"), "closed_by": _actor(call),
                       "closed_at": now.isoformat()}
    return {"status": project.status, "resources_released": released}


# -- risk escalation -----------------------------------------------------------------------------

def _risk(call: OperatorCall) -> Risk:
    """The risk, locked after its project (project first, like every other step)."""
    risk_id = int(call.params.get("risk_id") or 0)
    project_id = db.session.scalar(select(Risk.project_id).where(Risk.id == risk_id))
    if project_id is not None:
        _locked(Project, project_id)
    risk = _locked(Risk, risk_id) if project_id is not None else None
    if risk is None:
        raise EngineError(f"risk {call.params.get('risk_id')} does not exist")
    return risk


@register_operator("pmo/LinkRiskEscalation", parameters=("risk_id",))
def link_risk_escalation(call: OperatorCall) -> dict[str, Any]:
    """Point the risk at this escalation, in the start's own transaction: the workspace shows it at once."""
    risk = _risk(call)
    risk.escalation_instance_id = call.context.get("instance_id")
    return {"risk_id": risk.id, "score": risk.score}


@register_operator("pmo/RecordRiskReview", parameters=("comment", "decision", "risk_id"))
def record_risk_review(call: OperatorCall) -> dict[str, Any]:
    """Keep the PMO's decision with the risk (shown on the workspace beside it)."""
    risk = _risk(call)
    risk.pmo_review = {"decision": call.params.get("decision") or "", "comment": call.params.get("comment") or "",
                       "by": _actor(call), "at": utcnow().isoformat(), "score": risk.score}
    _audit(call, "review_risk_escalation", project_id=risk.project_id, risk_id=risk.id,
           decision=risk.pmo_review["decision"])
    return {"decision": risk.pmo_review["decision"]}
