"""Planning, execution with quality gates, status reporting and closure, and a whole project from
proposal to closure driven through the services as the demo users."""

from __future__ import annotations

import pytest

from app.core.errors import Invalid
from app.core.extensions import db
from app.instances import commands as instances
from app.projects import operations as services
from app.projects import queries as project_queries
from app.projects.models import Project
from tests.projects.conftest import initiated_project, timer_service
from tests.projects.data import (
    ADMIN_CLOSE,
    BASELINE,
    CHANGE,
    CHECKLIST_OK,
    EVIDENCE_GOOD,
    LESSONS,
    STATUS_GREEN,
    assessment,
    d,
)

APPROVE = {"resource_decision": {"decision": "approve"}}


def decide_resources(pmo, iid, decisions=None):  # noqa: ANN001
    """Decide each resource request; ``decisions`` maps a role to its decision (default: approve)."""
    for task in pmo.tasks(iid, "review_resources"):
        role = pmo.task_data(task)["resource_request"]["role"]
        pmo.do("rita", iid, "review_resources", (decisions or {}).get(role, APPROVE), task=task)


def planned_project(pmo):  # noqa: ANN001, ANN201
    pid, iid = initiated_project(pmo)
    pmo.do("maria", iid, "prepare_plan", d(BASELINE))
    decide_resources(pmo, iid)
    pmo.do("petra", iid, "pmo_review", CHECKLIST_OK | {"pmo_review_decision": "approve"})
    pmo.do("sam", iid, "sponsor_signoff", {"signoff_decision": "approve"})
    return pid, iid


def pass_gate(pmo, iid, decision="go", evidence=None, quality="pass", **extra):  # noqa: ANN001
    pmo.do("maria", iid, "submit_evidence", evidence or d(EVIDENCE_GOOD))
    pmo.do("quinn", iid, "quality_review", {"quality_assessment": quality} | (
        {} if quality == "pass" else {"quality_findings": "Security review findings still open."}))
    data = {"gate_decision": decision} | ({} if decision == "go" else {"gate_rationale": "Decided by the gate board."})
    pmo.do("sam", iid, "gate_decision_task", data | extra)


def reach_milestone(pmo, iid, cost=100000):  # noqa: ANN001
    pmo.do("maria", iid, "deliver_milestone", {"milestone_actual_date": "2026-05-14", "actual_cost_to_date": cost})


# -- planning --------------------------------------------------------------------------------------

def test_planning_happy_path_saves_baseline(pmo):
    pid, iid = initiated_project(pmo)
    pmo.do("maria", iid, "prepare_plan", d(BASELINE))
    tasks = pmo.tasks(iid, "review_resources")
    assert len(tasks) == 2 and all(t.candidate_roles == ["resource_manager"] for t in tasks)
    assert sorted(t.title for t in tasks) == ["Resource request: Frontend developer (2 FTE) for CRM-0042",
                                              "Resource request: Solution architect (0.5 FTE) for CRM-0042"]
    decide_resources(pmo, iid, {"Frontend developer": {"resource_decision": {"decision": "adjust", "approved_fte": 1.5,
                                                          "comment": "Only 1.5 FTE free until June."}}})
    with pytest.raises(Invalid):   # approving needs every checklist item
        pmo.do("petra", iid, "pmo_review", CHECKLIST_OK | {"quality_plan_ok": False, "pmo_review_decision": "approve"})
    pmo.do("petra", iid, "pmo_review", CHECKLIST_OK | {"pmo_review_decision": "approve"})
    signoff = pmo.task(iid, "sponsor_signoff")
    assert signoff.candidate_users == ["sam"]
    pmo.do("sam", iid, "sponsor_signoff", {"signoff_decision": "approve"})
    project = db.session.get(Project, pid)
    assert project.phase == "execution" and project.baseline_version == 1
    assert float(project.budget_baseline) == 640000
    assert [m.name for m in project.milestones] == ["Design approved", "Portal live"]
    assert sorted(r.score for r in project.risks) == [12, 12]
    assert sorted((a.role, float(a.fte), a.status) for a in project.allocations) == [
        ("Frontend developer", 1.5, "adjusted"), ("Solution architect", 0.5, "approved")]
    assert pmo.ready(iid) == ["deliver_milestone"]


@pytest.mark.parametrize("rejecter", ["resource_manager", "pmo", "sponsor"])
def test_planning_rejections_return_to_pm_with_reason(pmo, rejecter):
    pid, iid = initiated_project(pmo)
    pmo.do("maria", iid, "prepare_plan", d(BASELINE))
    if rejecter == "resource_manager":
        decide_resources(pmo, iid, {"Solution architect": {"resource_decision": {"decision": "reject",
                                                              "comment": "No architect free before Q3."}}})
        expected = ("the resource manager", "Solution architect: No architect free before Q3.")
    else:
        decide_resources(pmo, iid)
        if rejecter == "pmo":
            pmo.do("petra", iid, "pmo_review", {"pmo_review_decision": "return",
                                                "pmo_review_comment": "Risk owners are missing."})
            expected = ("the PMO", "Risk owners are missing.")
        else:
            pmo.do("petra", iid, "pmo_review", CHECKLIST_OK | {"pmo_review_decision": "approve"})
            pmo.do("sam", iid, "sponsor_signoff", {"signoff_decision": "return",
                                                   "signoff_comment": "Contingency is too thin."})
            expected = ("the sponsor", "Contingency is too thin.")
    back = pmo.task(iid, "prepare_plan")
    data = pmo.task_data(back)
    assert (data["planning_returned_by"], data["planning_return_reason"]) == expected
    # the form shows the reason, prefilled from task data
    from app.definitions import forms
    schema = forms.load_form(instances.get(iid).process_version.deployment_id, back.form_schema_file, data)
    assert schema["properties"]["return_note"]["default"] == expected[1]
    pmo.do("maria", iid, "prepare_plan", d(BASELINE))
    decide_resources(pmo, iid)
    pmo.do("petra", iid, "pmo_review", CHECKLIST_OK | {"pmo_review_decision": "approve"})
    pmo.do("sam", iid, "sponsor_signoff", {"signoff_decision": "approve"})
    assert db.session.get(Project, pid).phase == "execution"


# -- quality gate and execution ------------------------------------------------------------------

def test_gate_go_moves_to_next_milestone(pmo):
    pid, iid = planned_project(pmo)
    reach_milestone(pmo, iid)
    assert pmo.task(iid, "submit_evidence").candidate_users == ["maria"]
    pmo.do("maria", iid, "submit_evidence", d(EVIDENCE_GOOD))
    review = pmo.task(iid, "quality_review")
    assert review.candidate_roles == ["quality_lead"] and review.excluded_users == ["maria"]
    pmo.do("quinn", iid, "quality_review", {"quality_assessment": "pass"})
    pmo.do("sam", iid, "gate_decision_task", {"gate_decision": "go"})
    project = db.session.get(Project, pid)
    assert [(g.gate_name, g.decision, g.recommended) for g in project.gate_decisions] == [
        ("Design approved", "go", "go")]
    assert project.milestones[0].status == "achieved" and float(project.budget_actual) == 100000
    task = pmo.task(iid, "deliver_milestone")
    assert task.title == "Deliver milestone: Portal live"


@pytest.mark.parametrize(("evidence", "quality", "recommended"), [
    ({"business_case_valid": False}, "pass", "kill"),
    ({"deliverables": [{"name": "Design", "status": "partial"}, {"name": "UX", "status": "not_started"}]},
     "fail", "kill"),
    ({}, "fail", "recycle"),
    ({"deliverables": [{"name": f"D{i}", "status": "complete" if i < 3 else "partial"} for i in range(4)]},
     "pass", "recycle"),                                          # 75 % < 80 %
    ({"deliverables": [{"name": f"D{i}", "status": "complete" if i < 4 else "partial"} for i in range(5)]},
     "pass", "go"),                                               # exactly 80 %
    ({"acceptance_criteria": [{"criterion": "A", "met": True}, {"criterion": "B", "met": False}]},
     "conditional", "recycle"),
    ({"open_issues": [{"description": "Pen test finding", "severity": "high"}]}, "pass", "hold"),
    ({"open_issues": [{"description": "Typo", "severity": "low"}]}, "pass", "go"),
    ({"external_blocker": True}, "conditional", "hold"),
])
def test_gate_recommendation_table(pmo, evidence, quality, recommended):
    pid, iid = planned_project(pmo)
    reach_milestone(pmo, iid)
    pmo.do("maria", iid, "submit_evidence", d(EVIDENCE_GOOD) | evidence)
    pmo.do("quinn", iid, "quality_review", {"quality_assessment": quality} | (
        {} if quality == "pass" else {"quality_findings": "Findings recorded in the review log."}))
    assert pmo.task_data(pmo.task(iid, "gate_decision_task"))["recommended_decision"] == recommended


def test_gate_recycle_returns_to_the_phase_with_feedback(pmo):
    pid, iid = planned_project(pmo)
    reach_milestone(pmo, iid)
    pass_gate(pmo, iid, decision="recycle", quality="fail")
    task = pmo.task(iid, "deliver_milestone")
    assert task.title == "Deliver milestone: Design approved"
    assert pmo.task_data(task)["gate_feedback"] == "Decided by the gate board."
    reach_milestone(pmo, iid)
    pass_gate(pmo, iid)
    assert pmo.task(iid, "deliver_milestone").title == "Deliver milestone: Portal live"


def test_gate_override_needs_pmo_confirmation(pmo):
    pid, iid = planned_project(pmo)
    reach_milestone(pmo, iid)
    pass_gate(pmo, iid, decision="recycle")          # criteria say go
    override = pmo.task(iid, "pmo_override")
    assert override.candidate_roles == ["pmo"]
    pmo.do("petra", iid, "pmo_override", {"pmo_override_decision": "refer_back",
                                          "pmo_override_comment": "Criteria are met; state why recycle."})
    pmo.do("sam", iid, "gate_decision_task", {"gate_decision": "recycle",
                                              "gate_rationale": "Stakeholders rejected the UX in review."})
    pmo.do("petra", iid, "pmo_override", {"pmo_override_decision": "confirm"})
    gate = db.session.get(Project, pid).gate_decisions[-1]
    assert (gate.decision, gate.recommended, gate.overridden, gate.recorded_by) == ("recycle", "go", True, "petra")
    assert pmo.task(iid, "deliver_milestone").title == "Deliver milestone: Design approved"


def test_gate_kill_goes_to_closure_and_still_records_lessons(pmo):
    pid, iid = planned_project(pmo)
    reach_milestone(pmo, iid)
    pass_gate(pmo, iid, decision="kill", evidence=d(EVIDENCE_GOOD) | {"business_case_valid": False})
    project = db.session.get(Project, pid)
    assert project.status == "killed" and project.phase == "closure"
    assert pmo.ready(iid) == ["write_lessons"]          # no deliverables acceptance for a killed project
    pmo.do("maria", iid, "write_lessons", d(LESSONS))
    pmo.do("petra", iid, "curate", d(LESSONS) | {"curation_decision": "publish"})
    pmo.do("petra", iid, "admin_close", d(ADMIN_CLOSE))
    project = db.session.get(Project, pid)
    assert (project.status, project.phase) == ("killed", "closed")
    assert [lesson.closure_type for lesson in project.lessons] == ["killed"]
    assert instances.get(iid).status == "completed"


@timer_service
def test_gate_hold_waits_then_reenters(pmo):
    pid, iid = planned_project(pmo)
    reach_milestone(pmo, iid)
    pmo.do("maria", iid, "submit_evidence", d(EVIDENCE_GOOD) | {"external_blocker": True})
    pmo.do("quinn", iid, "quality_review", {"quality_assessment": "pass"})
    with pytest.raises(Invalid):       # hold needs a period
        pmo.do("sam", iid, "gate_decision_task", {"gate_decision": "hold", "gate_rationale": "Vendor contract open."})
    pmo.do("sam", iid, "gate_decision_task", {"gate_decision": "hold", "gate_rationale": "Vendor contract open.",
                                              "hold_days": 10})
    assert db.session.get(Project, pid).status == "on_hold"
    assert pmo.ready(iid) == []
    pmo.fire_timers(iid, days=9)
    assert pmo.ready(iid) == []
    pmo.fire_timers(iid, days=2)
    assert pmo.ready(iid) == ["submit_evidence"]
    pass_gate(pmo, iid)
    assert db.session.get(Project, pid).status == "active"


# -- status reporting ------------------------------------------------------------------------------

def start_status_round(pmo, pid):  # noqa: ANN001, ANN201
    project = db.session.get(Project, pid)
    return pmo.start("status_reporting", "admin", services.binding(project)).id


@pytest.mark.parametrize(("ratings", "risk", "escalated"), [
    ({}, 12, False),
    ({"budget_rag": "amber"}, 14, False),
    ({"budget_rag": "amber"}, 15, True),
    ({"schedule_rag": "red"}, 1, True),
])
def test_status_report_escalation(pmo, ratings, risk, escalated):
    pid, _ = planned_project(pmo)
    sid = start_status_round(pmo, pid)
    task = pmo.task(sid, "report")
    assert task.candidate_users == ["maria"] and task.title == "Status report: CRM-0042 Customer portal relaunch"
    pmo.do("maria", sid, "report", d(STATUS_GREEN) | ratings | {"top_risk_score": risk})
    project = db.session.get(Project, pid)
    report = project.status_reports[-1]
    assert report.escalated is escalated and report.snapshot["budget_baseline"] == 640000
    # the register's worst open risk (12) counts even when the PM reports a lower one
    assert report.max_risk_score == max(risk, 12)
    assert project.rag == report.overall_rag
    if escalated:
        review = pmo.task(sid, "pmo_review")
        pmo.do("petra", sid, "pmo_review", {"pmo_assessment": "Recovery plan needed within two weeks.",
                                            "actions": [{"action": "Re-plan design", "owner": "maria",
                                                         "due_date": "2026-04-24"}],
                                            "escalate_to_sponsor": False}, task=review)
        assert db.session.get(Project, pid).status_reports[-1].pmo_review["actions"][0]["owner"] == "maria"
    assert instances.get(sid).status == "completed"


@timer_service
def test_status_reports_are_requested_every_14_days_during_execution(pmo):
    pid, iid = planned_project(pmo)
    assert pmo.ready(iid) == ["deliver_milestone"]
    pmo.fire_timers(iid, days=15)
    assert pmo.ready(iid) == ["deliver_milestone", "report"]
    pmo.do("maria", iid, "report", d(STATUS_GREEN))
    pmo.fire_timers(iid, days=14)
    assert pmo.ready(iid) == ["deliver_milestone", "report"]
    assert len(db.session.get(Project, pid).status_reports) == 1


# -- closure ---------------------------------------------------------------------------------------

def test_acceptance_rejected_then_remediated(pmo):
    pid, iid = planned_project(pmo)
    for _ in range(2):
        reach_milestone(pmo, iid)
        pass_gate(pmo, iid)
    acceptance = pmo.task(iid, "acceptance")
    assert acceptance.candidate_users == ["sam"]
    pmo.do("sam", iid, "acceptance", {"acceptance_decision": "reject",
                                      "acceptance_reason": "Accessibility audit not passed."})
    pmo.do("maria", iid, "remediate", {"remediation_notes": "Fixed 14 WCAG findings; re-audit passed."})
    pmo.do("sam", iid, "acceptance", {"acceptance_decision": "accept_with_conditions",
                                      "acceptance_conditions": "Hypercare for 4 weeks."})
    pmo.do("maria", iid, "write_lessons", d(LESSONS))
    pmo.do("petra", iid, "curate", d(LESSONS) | {"curation_decision": "return",
                                                 "curation_comment": "Add what to improve for testing."})
    assert pmo.task_data(pmo.task(iid, "write_lessons"))["lessons_return_reason"] == "Add what to improve for testing."
    pmo.do("maria", iid, "write_lessons", d(LESSONS))
    curated = d(LESSONS)
    curated["lessons"][0]["tags"] = ["SSO", "identity", "vendor-management"]
    pmo.do("petra", iid, "curate", curated | {"curation_decision": "publish"})
    pmo.do("petra", iid, "admin_close", d(ADMIN_CLOSE))
    project = db.session.get(Project, pid)
    assert (project.status, project.phase, float(project.budget_actual)) == ("closed", "closed", 655000)
    assert project.closure["acceptance_conditions"] == "Hypercare for 4 weeks."
    assert all(a.status == "released" for a in project.allocations)
    assert project.lessons[0].tags == ["identity", "sso", "vendor-management"]
    assert [x.title for x in project_queries.search_lessons("sso")] == [project.lessons[0].title]
    assert project_queries.search_lessons("vendor test environments")[0].project_id == pid
    assert project_queries.search_lessons("nonexistent words") == []


def test_admin_closure_requires_released_resources(pmo):
    pid, iid = planned_project(pmo)
    reach_milestone(pmo, iid)
    pass_gate(pmo, iid, decision="kill", evidence=d(EVIDENCE_GOOD) | {"business_case_valid": False})
    pmo.do("maria", iid, "write_lessons", d(LESSONS))
    pmo.do("petra", iid, "curate", d(LESSONS) | {"curation_decision": "publish"})
    with pytest.raises(Invalid) as err:
        pmo.do("petra", iid, "admin_close", d(ADMIN_CLOSE) | {"resources_released": False})
    assert "resources_released" in err.value.errors


# -- a whole project -------------------------------------------------------------------------------

def test_whole_project_from_proposal_to_closure(pmo):
    from tests.projects.data import CHARTER, REGISTER

    a = pmo.actors
    # an earlier project's lesson is shown at initiation
    old_pid, old_iid = planned_project(pmo)
    reach_milestone(pmo, old_iid)
    pass_gate(pmo, old_iid, decision="kill", evidence=d(EVIDENCE_GOOD) | {"business_case_valid": False})
    pmo.do("maria", old_iid, "write_lessons", d(LESSONS))
    pmo.do("petra", old_iid, "curate", d(LESSONS) | {"curation_decision": "publish"})
    pmo.do("petra", old_iid, "admin_close", d(ADMIN_CLOSE))

    project = services.create_project("Self-service portal for business customers", "paul", "sam", a["paul"])
    iid = project.lifecycle_instance_id
    charter_task = pmo.task(iid, "write_charter")
    lessons = pmo.task_data(charter_task)["relevant_lessons"]
    assert [x["project_code"] for x in lessons] == ["CRM-0042"]
    pmo.do("paul", iid, "write_charter", d(CHARTER) | {"project_name": "Self-service portal for business customers"})
    pmo.do("sam", iid, "sponsor_review", {"sponsor_decision": "approve"})
    pmo.do("petra", iid, "register", d(REGISTER) | {"project_code": "B2B-0100", "risk_score": 4})
    assert db.session.get(Project, project.id).priority == "P2"

    baseline = d(BASELINE)
    baseline["milestones"][0]["gate_required"] = False
    pmo.do("paul", iid, "prepare_plan", baseline)
    decide_resources(pmo, iid)
    pmo.do("petra", iid, "pmo_review", CHECKLIST_OK | {"pmo_review_decision": "approve"})
    pmo.do("sam", iid, "sponsor_signoff", {"signoff_decision": "approve"})

    # a change request during execution, approved by the sponsor
    cr_iid = services.start_change_request(project.id, a["maria"], d(CHANGE) | {"cost_impact": 20000}).id
    pmo.do("paul", cr_iid, "assess", assessment(20000, 10))
    pmo.do("sam", cr_iid, "sponsor_decision", {"change_decision": "approve"})

    view = next(v for v in project_queries.list_projects() if v.project.id == project.id)
    assert [t.element_id for t in view.open_tasks] == ["deliver_milestone"]
    assert view.project.baseline_version == 2 and float(view.project.budget_baseline) == 660000

    pmo.do("paul", iid, "deliver_milestone", {"milestone_actual_date": "2026-05-20", "actual_cost_to_date": 150000})
    assert pmo.task(iid, "deliver_milestone").title == "Deliver milestone: Portal live"   # no gate at milestone 1
    pmo.do("paul", iid, "deliver_milestone", {"milestone_actual_date": "2026-12-08", "actual_cost_to_date": 640000})
    pmo.do("paul", iid, "submit_evidence", d(EVIDENCE_GOOD))
    pmo.do("quinn", iid, "quality_review", {"quality_assessment": "pass"})
    pmo.do("sam", iid, "gate_decision_task", {"gate_decision": "go"})
    pmo.do("sam", iid, "acceptance", {"acceptance_decision": "accept"})
    pmo.do("paul", iid, "write_lessons", d(LESSONS))
    pmo.do("petra", iid, "curate", d(LESSONS) | {"curation_decision": "publish"})
    pmo.do("petra", iid, "admin_close", d(ADMIN_CLOSE) | {"final_actual_cost": 652000})

    project = db.session.get(Project, project.id)
    assert (project.status, project.phase, float(project.budget_actual)) == ("closed", "closed", 652000)
    assert instances.get(iid).status == "completed"
    assert project_queries.open_tasks(project) == []
    assert project.change_requests[0].status == "approved"
    assert [m.status for m in project.milestones] == ["achieved", "achieved"]
    # the approved change moved the not-yet-reached milestones by 10 days
    assert (project.milestones[1].due_date - project.milestones[1].baseline_due_date).days == 10
