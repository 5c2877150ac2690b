"""A small portfolio with figures worked out by hand (see the comments), on a frozen day:
Wednesday 2 December 2026, 09:00 UTC (the fourth quarter began on 1 October).

Projects
  Alpha   (P1, Digital, execution, PM maria, sponsor sam): baseline 100,000, actuals 60,000, open CR
          15,000 -> forecast 115,000, variance 15,000 (15%). Latest report red (schedule red, budget
          amber, risk amber). Milestones: Build slips 10 days (gate, due 20 Dec), Go live 30 days;
          forecast end 14 Apr 2027 against a baseline end of 31 Mar 2027: 14 days late.
          Risks: 20 (open), 9 (open), 25 (closed).
  Beta    (P2, Operations, planning, PM paul, sponsor sam): baseline 50,000, actuals 55,000 ->
          forecast 55,000, variance 5,000 (10%). Report from August: grey. Risk 16 (open).
  Gamma   (P1, Digital, execution, PM maria, sponsor owen): estimate 20,000 only, no actuals, no
          report. Totals: baseline 170,000, actuals 115,000, forecast 190,000, variance 20,000 (11.8%).
Gates this quarter: go, hold (Beta), kill (Gamma); a recycle in June does not count.
Changes decided this quarter: PM route 1 of 1 approved; sponsor route 1 of 2; a CCB one in September
does not count.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.core.extensions import db
from app.definitions import operations as definitions
from app.engine import clock
from app.instances.models import HumanTask, HumanTaskCandidate, ProcessInstance, TaskStatus
from app.projects.models import (
    ChangeRequest,
    GateDecision,
    Milestone,
    Project,
    ResourceAllocation,
    Risk,
    StatusReport,
)
from tests.projects.conftest import FORMS, WORKFLOWS

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CAPACITY = {"risk_threshold": 15, "status_current_days": 45, "default_person_capacity": 1.0,
            "default_role_capacity": 2.0, "analytics_period_days": 90,
            "role_capacity": {"Frontend developer": 4.0}, "person_capacity": {"erin": 1.5}}


@pytest.fixture(autouse=True)
def frozen_clock():
    with clock.simulated(NOW):
        yield NOW


def _at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def _report(project: Project, period_end: str, **rags: str) -> StatusReport:
    values = {k: rags.get(k, "green") for k in ("schedule", "budget", "scope", "resources", "risk")}
    overall = "red" if "red" in values.values() else "amber" if "amber" in values.values() else "green"
    return StatusReport(project=project, period_end=date.fromisoformat(period_end), overall_rag=overall,
                        summary="Report", submitted_by=project.project_manager,
                        **{f"{k}_rag": v for k, v in values.items()})


def _cr(project: Project, number: int, status: str, cost: int, days: int = 0, route: str | None = None,
        decided: str | None = None) -> ChangeRequest:
    return ChangeRequest(project=project, number=number, title=f"Change {number}", cost_impact=Decimal(cost),
                         schedule_impact_days=days, status=status, route=route, requested_by=project.project_manager,
                         submitted_at=_at("2026-09-01"), decided_at=_at(decided) if decided else None)


def seed_projects() -> dict[str, Project]:
    alpha = Project(code="ALP-001", name="Alpha", project_manager="maria", sponsor="sam", created_by="petra",
                    phase="execution", status="active", portfolio_category="Digital", priority="P1",
                    budget_baseline=Decimal(100000), budget_actual=Decimal(60000),
                    target_end_date=date(2027, 3, 31))
    beta = Project(code="BET-002", name="Beta", project_manager="paul", sponsor="sam", created_by="petra",
                   phase="planning", status="active", portfolio_category="Operations", priority="P2",
                   budget_baseline=Decimal(50000), budget_actual=Decimal(55000), target_end_date=date(2027, 6, 30))
    gamma = Project(code="GAM-003", name="Gamma", project_manager="maria", sponsor="owen", created_by="petra",
                    phase="execution", status="active", portfolio_category="Digital", priority="P1",
                    budget_estimate=Decimal(20000), budget_actual=Decimal(0))
    db.session.add_all([alpha, beta, gamma])
    alpha.milestones = [
        Milestone(seq=1, name="Design", baseline_due_date=date(2026, 10, 1), due_date=date(2026, 10, 1),
                  status="achieved", achieved_date=date(2026, 10, 1)),
        Milestone(seq=2, name="Build", baseline_due_date=date(2026, 12, 10), due_date=date(2026, 12, 20),
                  gate_required=True),
        Milestone(seq=3, name="Go live", baseline_due_date=date(2027, 3, 15), due_date=date(2027, 4, 14),
                  gate_required=False),
    ]
    beta.milestones = [Milestone(seq=1, name="Plan approved", baseline_due_date=date(2027, 1, 15),
                                 due_date=date(2027, 1, 15), gate_required=True)]
    alpha.status_reports = [_report(alpha, "2026-10-30"),
                            _report(alpha, "2026-11-27", schedule="red", budget="amber", risk="amber")]
    beta.status_reports = [_report(beta, "2026-08-01")]
    alpha.risks = [Risk(title="Vendor insolvency", probability=4, impact=5, score=20, owner="maria"),
                   Risk(title="Key person leaves", probability=3, impact=3, score=9, owner="maria"),
                   Risk(title="Old risk", probability=5, impact=5, score=25, status="closed")]
    beta.risks = [Risk(title="Regulator delay", probability=4, impact=4, score=16, owner="paul")]
    alpha.change_requests = [_cr(alpha, 1, "submitted", 15000, 10), _cr(alpha, 2, "approved", 5000, route="pm",
                                                                         decided="2026-10-15")]
    beta.change_requests = [_cr(beta, 1, "rejected", 8000, route="sponsor", decided="2026-11-20"),
                            _cr(beta, 2, "approved", 3000, route="sponsor", decided="2026-11-25"),
                            _cr(beta, 3, "approved", 1000, route="ccb", decided="2026-09-10")]
    beta.gate_decisions = [
        GateDecision(gate_name="Gate 1", recommended="go", decision="go", decided_by="sam", recorded_by="petra",
                     decided_at=_at("2026-10-20")),
        GateDecision(gate_name="Gate 2", recommended="go", decision="hold", decided_by="sam", recorded_by="petra",
                     decided_at=_at("2026-11-05"))]
    gamma.gate_decisions = [
        GateDecision(gate_name="Gate 1", recommended="kill", decision="kill", decided_by="owen", recorded_by="petra",
                     decided_at=_at("2026-11-30")),
        GateDecision(gate_name="Gate 0", recommended="go", decision="recycle", decided_by="owen",
                     recorded_by="petra", decided_at=_at("2026-06-01"))]
    # Resources: Frontend developer 3 (Alpha, Nov-Feb) + 2 (Beta, Dec-Jan) = 5 in Dec and Jan against 4;
    # dana holds both (1.0 capacity); erin 1.0 of 1.5 on Alpha only. Gamma's DBA was rejected.
    alpha.allocations = [
        ResourceAllocation(role="Frontend developer", requested_fte=Decimal(3), fte=Decimal(2), named_resource="dana",
                           start_date=date(2026, 11, 1), end_date=date(2027, 2, 28), status="approved",
                           decided_by="rita"),
        ResourceAllocation(role="Frontend developer", requested_fte=Decimal(1), fte=Decimal(1), named_resource="erin",
                           start_date=date(2026, 11, 1), end_date=date(2027, 2, 28), status="approved",
                           decided_by="rita")]
    beta.allocations = [ResourceAllocation(role="Frontend developer", requested_fte=Decimal(3), fte=Decimal(2),
                                           named_resource="dana", start_date=date(2026, 12, 1),
                                           end_date=date(2027, 1, 31), status="adjusted", decided_by="rita")]
    gamma.allocations = [ResourceAllocation(role="DBA", requested_fte=Decimal("0.5"), fte=Decimal(0),
                                            start_date=date(2026, 12, 15), end_date=date(2027, 6, 30),
                                            status="rejected", decided_by="rita")]
    db.session.commit()
    return {"alpha": alpha, "beta": beta, "gamma": gamma}


def _instance(version_id: int, key: str) -> ProcessInstance:
    instance = ProcessInstance(process_version_id=version_id, process_key=key, started_by="maria",
                               state_json="{}", serializer_version="test")
    db.session.add(instance)
    db.session.flush()
    return instance


def _task(instance: ProcessInstance, element: str, created: datetime, hours: float | None, by: str | None,
          role: str | None, bpmn_process: str | None = None, due: datetime | None = None) -> HumanTask:
    done = hours is not None
    task = HumanTask(id=f"t{instance.id}-{element[:16]}-{created:%m%d%H}", instance_id=instance.id,
                     process_key=instance.process_key, business_key=instance.business_key, process_name="", element_id=element,
                     bpmn_process_id=bpmn_process, title=element, created_at=created, due_at=due,
                     status=TaskStatus.COMPLETED if done else TaskStatus.READY,
                     completed_at=created + timedelta(hours=hours) if done else None, completed_by=by)
    if role:
        task.candidates = [HumanTaskCandidate(role=role)]
    db.session.add(task)
    return task


def seed_tasks() -> None:
    """Change requests: pm_decision waits 2 h and 4 h (one instance, sent back once) and 10 h (breaching
    its due time); assess 1 h and 3 h; two pm_decisions wait now, one overdue. Lifecycles: initiation
    took 5 days in one project and 2 in another."""
    from sqlalchemy import select

    from app.definitions.models import ProcessVersion

    versions = {v.process_key: v.id for v in db.session.scalars(select(ProcessVersion))}
    cr1, cr2, cr3 = (_instance(versions["change_request"], "change_request") for _ in range(3))
    _task(cr1, "pm_decision", _at("2026-11-02"), 2, "maria", "project_manager")
    _task(cr1, "pm_decision", _at("2026-11-03"), 4, "maria", "project_manager")
    _task(cr2, "pm_decision", _at("2026-11-04"), 10, "sam", "project_manager", due=_at("2026-11-04", 12))
    _task(cr1, "assess", _at("2026-11-02", 6), 1, "petra", "pmo")
    _task(cr2, "assess", _at("2026-11-04", 6), 3, "petra", "pmo")
    _task(cr3, "pm_decision", _at("2026-12-01"), None, None, "project_manager", due=_at("2026-12-01", 17))
    _task(cr3, "pm_decision", _at("2026-12-02", 8), None, None, "project_manager", due=_at("2026-12-04"))
    _task(cr1, "pm_decision", _at("2026-06-01"), 100, "maria", "project_manager")  # outside 90 days
    life1, life2 = (_instance(versions["project_lifecycle"], "project_lifecycle") for _ in range(2))
    _task(life1, "write_charter", _at("2026-11-01"), 48, "chen", None, "project_initiation")
    _task(life1, "approve_charter", _at("2026-11-03"), 72, "chen", None, "project_initiation")
    _task(life2, "write_charter", _at("2026-11-10"), 48, "chen", None, "project_initiation")
    db.session.commit()


@pytest.fixture
def portfolio_app(app, demo_users):
    app.config["PORTFOLIO"] = CAPACITY
    return app


@pytest.fixture
def seeded_portfolio(portfolio_app):
    return seed_projects()


@pytest.fixture
def with_tasks(portfolio_app, seeded_portfolio):
    definitions.deploy_directory([WORKFLOWS, FORMS], "admin")
    seed_tasks()
    return seeded_portfolio
