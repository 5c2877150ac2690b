"""Demo process instances for ``pmo init --demo``, so a new install has work in its inboxes.

What to start comes from ``demo.toml`` in the workflows folder when there is one::

    [[instances]]
    process = "project_initiation"          # process key (the BPMN process id)
    business_key = "demo-crm-upgrade"       # unique: an instance with this key is never started twice
    started_by = "maria"                    # a user (the demo users exist by then)
    data = { project_name = "CRM upgrade", budget = 120000 }

    [[instances.steps]]                     # optional: complete tasks to reach a later stage
    task = "submit_charter"                 # the BPMN element id of a ready task
    user = "maria"
    data = { objectives = "..." }

Without the file, every deployed process that is not one of the PMO lifecycle processes gets
two instances started by a project manager (the PMO processes need project data to start).
Seeding is idempotent: instances are found again by their business key. Each instance goes
through the instance service like any other start or completion (audited, one transaction each).

When the PMO lifecycle is deployed, the demo projects of ``demo_projects`` are created as well:
proposed through ``app.projects.operations`` and driven to their phase by completing tasks as the
demo users, so every inbox has real work in it. A project is found again by its name.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, or_, select

from app.core.errors import Invalid, ServiceError
from app.core.extensions import db
from app.core.transactions import write_transaction
from app.definitions import queries as definition_queries
from app.inbox.models import Notification, NotificationKind
from app.instances import commands as instances
from app.instances.models import HumanTask, ProcessInstance, TaskStatus
from app.people import queries as user_queries

DEMO_FILE = "demo.toml"
DEFAULT_PER_PROCESS = 2
# The project lifecycle and the processes it calls: they start only with a project's data.
PMO_PROCESSES = frozenset({"project_lifecycle", "project_initiation", "project_planning", "project_execution",
                           "project_closure", "quality_gate", "change_request", "status_reporting"})


@dataclass
class Step:
    task: str
    user: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoInstance:
    process: str
    business_key: str
    started_by: str
    data: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)


def demo_file() -> Path:
    return Path(current_app.config["WORKFLOWS_DIR"]) / DEMO_FILE


def _default_starter() -> str | None:
    demo_users = current_app.config["DEMO_USERS"]
    for demo in demo_users:
        if "project_manager" in demo.roles:
            return demo.username
    return demo_users[0].username if demo_users else None


def plan() -> list[DemoInstance]:
    """The demo instances wanted: from demo.toml, or a default set for each deployed process."""
    path = demo_file()
    if path.is_file():
        return _read_plan(path)
    starter = _default_starter()
    if starter is None:
        return []
    return [
        DemoInstance(process=v.process_key, business_key=f"demo-{v.process_key}-{n}", started_by=starter,
                     data={"title": f"{v.name} (demo {n})"})
        for v in definition_queries.list_latest() if v.process_key not in PMO_PROCESSES
        for n in range(1, DEFAULT_PER_PROCESS + 1)
    ]


def _read_plan(path: Path) -> list[DemoInstance]:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        return [
            DemoInstance(
                process=str(item["process"]), business_key=str(item["business_key"]),
                started_by=str(item["started_by"]), data=dict(item.get("data", {})),
                steps=[Step(str(s["task"]), str(s["user"]), dict(s.get("data", {}))) for s in item.get("steps", [])],
            )
            for item in doc.get("instances", [])
        ]
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise Invalid(f"{path}: not a valid demo file: {exc}") from exc


def _existing(business_key: str) -> ProcessInstance | None:
    return db.session.scalars(
        select(ProcessInstance).where(ProcessInstance.business_key == business_key).limit(1)).first()


def seed() -> list[str]:
    """Start the planned demo instances and create the demo projects that do not exist yet; return
    one line per instance or project.

    Seeded history does not notify: of the notices the seeding created, only "new task" notices of
    tasks still open are kept (a demo user sees the work that waits for them, not the steps the
    seeding completed as them or the decisions it made)."""
    before = db.session.scalar(select(func.max(Notification.id))) or 0
    report = seed_instances() + seed_projects()
    _forget_seeded_history(before)
    return report


def _forget_seeded_history(after_id: int) -> int:
    """Delete the notices created after ``after_id`` except "new task" notices of open tasks."""
    still_open = select(HumanTask.id).where(HumanTask.status == TaskStatus.READY)
    with write_transaction():
        result = db.session.execute(delete(Notification).where(
            Notification.id > after_id,
            or_(Notification.kind != NotificationKind.NEW_TASK, Notification.task_id.is_(None),
                Notification.task_id.not_in(still_open))).execution_options(synchronize_session=False))
    return result.rowcount or 0


def seed_instances() -> list[str]:
    """Start the planned demo instances that do not exist yet; return one line per instance."""
    report: list[str] = []
    deployed = {v.process_key for v in definition_queries.list_latest()}
    from_file = demo_file().is_file()
    failed: set[str] = set()
    for item in plan():
        if item.process in failed and not from_file:
            continue  # the default plan: one failed start per process is enough to report
        if item.process not in deployed:
            report.append(f"{item.business_key}: skipped, process '{item.process}' is not deployed")
            continue
        if _existing(item.business_key) is not None:
            report.append(f"{item.business_key}: already there")
            continue
        starter = user_queries.find(item.started_by)
        if starter is None:
            report.append(f"{item.business_key}: skipped, no user '{item.started_by}'")
            continue
        try:
            instance = instances.start(item.process, instances.Actor.of(starter), dict(item.data),
                                       business_key=item.business_key)
            done = _run_steps(instance.id, item.steps)
        except ServiceError as exc:
            failed.add(item.process)
            hint = "" if from_file else f" (give it start data in {demo_file()})"
            report.append(f"{item.business_key}: failed{hint}: {exc.detail}")
            continue
        status = instances.get(instance.id).status
        report.append(f"{item.business_key}: started {item.process} as instance {instance.id}"
                      + (f", {done} step(s) completed" if done else "")
                      + (f" (instance is {status})" if status == "error" else ""))
    return report


def _run_steps(instance_id: int, steps: list[Step]) -> int:
    done = 0
    for step in steps:
        task = db.session.scalars(select(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.READY,
            HumanTask.element_id == step.task)).first()
        user = user_queries.find(step.user)
        if task is None or user is None:
            missing = f"no ready task '{step.task}'" if task is None else f"no user '{step.user}'"
            raise Invalid(f"demo step {done + 1} of instance {instance_id}: {missing}")
        instances.complete(task.id, instances.Actor.of(user), dict(step.data))
        done += 1
    return done


# -- the demo projects -----------------------------------------------------------------------------
#
# Each project is proposed with app.projects.operations and driven to its phase by completing its
# tasks as the demo users, through the instance service (validated forms, audited steps). Dates are
# relative to today so the demo always looks current.

def _day(offset: int) -> str:
    return (date.today() + timedelta(days=offset)).isoformat()


def _charter(name: str, *, objectives: list[str], scope_in: str, scope_out: str, benefits: str, costs: str,
             payback: int, budget: int, start: int, end: int, risks: list[tuple[str, int, int, str]],
             stakeholders: list[tuple[str, str, str]], success: list[str]) -> dict[str, Any]:
    return {
        "project_name": name, "objectives": objectives, "scope_in": scope_in, "scope_out": scope_out,
        "business_case": {"benefits": benefits, "estimated_costs": costs, "payback_months": payback},
        "budget_estimate": budget, "start_date": _day(start), "target_end_date": _day(end),
        "key_risks": [{"description": d, "probability": p, "impact": i, "mitigation": m} for d, p, i, m in risks],
        "stakeholders": [{"name": n, "role": r, "interest": i} for n, r, i in stakeholders],
        "success_criteria": success,
    }


def _baseline(pm: str, *, milestones: list[tuple[str, int, str, bool]], budget: dict[str, int],
              resources: list[tuple[str, float, int, int, str]], risks: list[tuple[str, int, int, str]],
              standards: str) -> dict[str, Any]:
    return {
        "milestones": [{"name": n, "due_date": _day(due), "deliverables": dl, "gate_required": gate}
                       for n, due, dl, gate in milestones],
        "budget_by_category": budget,
        "resource_requests": [{"role": r, "fte": fte, "start_date": _day(s), "end_date": _day(e), "skills": sk}
                              for r, fte, s, e, sk in resources],
        "risk_register": [{"title": t, "probability": p, "impact": i, "owner": pm, "response": resp,
                           "trigger": ""} for t, p, i, resp in risks],
        "communication_plan": [{"audience": "Steering committee", "content": "Status, risks and decisions",
                                "frequency": "monthly", "channel": "Meeting"},
                               {"audience": "Affected staff", "content": "What changes for them and when",
                                "frequency": "fortnightly", "channel": "Intranet"}],
        "quality_plan": {"standards": standards, "acceptance_criteria": "Sign-off by the business owner",
                         "reviews": "Design review, test review, go-live readiness review"},
    }


CHECKLIST_OK = {"milestones_complete": True, "budget_reconciled": True, "risks_assessed": True,
                "resources_confirmed": True, "communication_plan_ok": True, "quality_plan_ok": True}


def _evidence(summary: str, deliverables: list[str]) -> dict[str, Any]:
    return {"deliverables": [{"name": n, "status": "complete"} for n in deliverables],
            "acceptance_criteria": [{"criterion": "Business owner sign-off", "met": True},
                                    {"criterion": "No open high-severity defects", "met": True}],
            "open_issues": [], "business_case_valid": True, "external_blocker": False,
            "evidence_summary": summary}


class _Run:
    """Completes a project's tasks as named demo users."""

    def __init__(self) -> None:
        self._actors: dict[str, instances.Actor] = {}

    def actor(self, username: str) -> instances.Actor:
        if username not in self._actors:
            user = user_queries.find(username)
            if user is None:
                raise Invalid(f"demo user '{username}' is missing (run with --demo to create the demo users)")
            self._actors[username] = instances.Actor.of(user)
        return self._actors[username]

    def do(self, user: str, instance_id: int, element_id: str, data: dict[str, Any] | None = None) -> None:
        task = db.session.scalars(select(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.READY,
            HumanTask.element_id == element_id).order_by(HumanTask.created_at, HumanTask.id)).first()
        if task is None:
            raise Invalid(f"demo: no ready task '{element_id}' in instance {instance_id}")
        instances.complete(task.id, self.actor(user), dict(data or {}))

    def ready(self, instance_id: int, element_id: str) -> int:
        return len([t for t in instances.ready_tasks(instance_id) if t.element_id == element_id])


def _propose(run: _Run, name: str, pm: str, sponsor: str):  # noqa: ANN202
    from app.projects import operations as projects
    return projects.create_project(name, pm, sponsor, run.actor(pm))


def _initiate(run: _Run, project, charter: dict[str, Any], register: dict[str, Any]) -> int:  # noqa: ANN001
    iid = project.lifecycle_instance_id
    run.do(project.project_manager, iid, "write_charter", charter)
    run.do(project.sponsor, iid, "sponsor_review", {"sponsor_decision": "approve"})
    run.do("petra", iid, "register", register)
    return iid


def _plan(run: _Run, project, iid: int, baseline: dict[str, Any]) -> None:  # noqa: ANN001
    run.do(project.project_manager, iid, "prepare_plan", baseline)
    while run.ready(iid, "review_resources"):
        run.do("rita", iid, "review_resources", {"resource_decision": {"decision": "approve"}})
    run.do("petra", iid, "pmo_review", CHECKLIST_OK | {"pmo_review_decision": "approve"})
    run.do(project.sponsor, iid, "sponsor_signoff", {"signoff_decision": "approve"})


def _gate(run: _Run, project, iid: int, evidence: dict[str, Any]) -> None:  # noqa: ANN001
    run.do(project.project_manager, iid, "submit_evidence", evidence)
    run.do("quinn", iid, "quality_review", {"quality_assessment": "pass"})
    run.do(project.sponsor, iid, "gate_decision_task", {"gate_decision": "go"})


# (e) closed, with a published lesson that initiation shows to the customer portal relaunch
SUPPLIER_PORTAL = "Supplier self-service portal"
SUPPLIER_LESSONS = {"lessons": [
    {"title": "Order the identity provider test tenant during initiation",
     "what_went_well": "An early single sign-on spike with the vendor found the federation gaps in week 3.",
     "what_to_improve": "The test tenant arrived six weeks late and held up portal integration testing.",
     "recommendation": "Order vendor test environments (identity provider, payment gateway) at initiation "
                       "for every customer or supplier portal.",
     "category": "vendors", "tags": ["portal", "sso", "identity", "customer", "vendor-management"]},
    {"title": "Run accessibility audits per sprint, not before go-live",
     "what_went_well": "Suppliers liked the self-service forms; 70 % of address changes moved online.",
     "what_to_improve": "One late WCAG audit produced 40 findings in the last month.",
     "recommendation": "Put an accessibility check into the definition of done of every portal sprint.",
     "category": "quality", "tags": ["portal", "accessibility", "wcag"]},
]}


def _supplier_portal(run: _Run) -> str:
    project = _propose(run, SUPPLIER_PORTAL, "maria", "sam")
    iid = _initiate(run, project, _charter(
        SUPPLIER_PORTAL, objectives=["Suppliers maintain their own master data", "Halve invoice queries"],
        scope_in="Supplier portal with single sign-on, master-data and invoice-status self-service.",
        scope_out="E-invoicing; changes to the ERP purchasing module.",
        benefits="Accounts-payable savings of 180k a year; faster onboarding.", costs="Build 420k, run 40k a year.",
        payback=28, budget=420000, start=-420, end=-75,
        risks=[("Identity provider integration is late", 3, 4, "Early spike with the vendor")],
        stakeholders=[("Head of procurement", "Business owner", "high"), ("Top 50 suppliers", "Users", "medium")],
        success=["50 % fewer invoice-status calls", "90 % of suppliers onboarded"]),
        {"project_code": "SUP-0031", "portfolio_category": "operational_improvement", "strategic_fit": 4,
         "value_score": 4, "risk_score": 2})
    _plan(run, project, iid, _baseline(
        "maria", milestones=[("Design approved", -330, "Solution design, UX prototypes", False),
                             ("Portal live", -100, "Production release, 50 suppliers onboarded", True)],
        budget={"labour": 290000, "vendors": 80000, "hardware_software": 20000, "contingency": 30000},
        resources=[("Solution architect", 0.5, -410, -300, "Identity federation"),
                   ("Frontend developer", 2, -380, -100, "React, accessibility")],
        risks=[("Identity provider integration is late", 3, 4, "mitigate"),
               ("Suppliers do not adopt the portal", 2, 4, "mitigate")],
        standards="WCAG 2.1 AA, OWASP ASVS L2"))
    run.do("maria", iid, "deliver_milestone", {"milestone_actual_date": _day(-325), "actual_cost_to_date": 110000})
    run.do("maria", iid, "deliver_milestone", {"milestone_actual_date": _day(-95), "actual_cost_to_date": 405000})
    _gate(run, project, iid, _evidence("Portal live since release 1.0; 52 suppliers onboarded.",
                                       ["Production release", "Supplier onboarding", "Runbook"]))
    run.do("sam", iid, "acceptance", {"acceptance_decision": "accept"})
    run.do("maria", iid, "write_lessons", SUPPLIER_LESSONS)
    run.do("petra", iid, "curate", SUPPLIER_LESSONS | {"curation_decision": "publish"})
    run.do("petra", iid, "admin_close", {
        "final_actual_cost": 412500, "final_end_date": _day(-70), "resources_released": True,
        "contracts_closed": True, "documents_archived": True, "archive_location": "dms://projects/SUP-0031"})
    return "closed, 2 lessons published"


# (a) initiation: the charter waits for the sponsor
CUSTOMER_PORTAL = "Customer portal relaunch"


def _customer_portal(run: _Run) -> str:
    project = _propose(run, CUSTOMER_PORTAL, "maria", "sam")
    run.do("maria", project.lifecycle_instance_id, "write_charter", _charter(
        CUSTOMER_PORTAL, objectives=["Cut call-centre volume by 20 % within a year",
                                     "Self-service for 80 % of address and payment changes"],
        scope_in="New customer portal, single sign-on, address and payment self-service, account migration.",
        scope_out="Mobile apps; billing engine changes.",
        benefits="Call-centre savings of 400k a year, higher customer satisfaction.",
        costs="Build 600k, run 80k a year.", payback=20, budget=650000, start=30, end=320,
        risks=[("Identity provider test tenant arrives late", 3, 4, "Order it now (lesson from SUP-0031)"),
               ("Account migration data quality", 4, 3, "Profile the data in the first sprint")],
        stakeholders=[("Head of customer service", "Business owner", "high"), ("Call-centre team leads", "Users", "high")],
        success=["20 % fewer calls about account changes", "Portal availability 99.5 %"]))
    return "initiation, charter waiting for the sponsor (sam)"


# (b) planning: resource requests wait for the resource manager
ERP_UPGRADE = "ERP upgrade"


def _erp_upgrade(run: _Run) -> str:
    project = _propose(run, ERP_UPGRADE, "paul", "sam")
    iid = _initiate(run, project, _charter(
        ERP_UPGRADE, objectives=["Move to the vendor's supported release before end of support",
                                 "Retire 40 custom reports"],
        scope_in="Technical upgrade of finance, purchasing and inventory; regression tests; report clean-up.",
        scope_out="New modules; process redesign.", benefits="Avoids 250k a year of extended-support fees.",
        costs="Partner 700k, internal 350k.", payback=36, budget=1050000, start=-20, end=300,
        risks=[("Custom code does not survive the upgrade", 3, 4, "Code scan in planning"),
               ("Key users unavailable during month-end", 4, 3, "Test windows outside month-end")],
        stakeholders=[("CFO", "Business owner", "high"), ("Finance key users", "Testers", "high")],
        success=["Go-live without a missed month-end close", "Fewer than 10 priority-2 defects after go-live"]),
        {"project_code": "ERP-0107", "portfolio_category": "regulatory", "strategic_fit": 4, "value_score": 3,
         "risk_score": 4})
    run.do("paul", iid, "prepare_plan", _baseline(
        "paul", milestones=[("Sandbox upgraded", 60, "Upgraded sandbox, code-scan report", True),
                            ("Integration test passed", 180, "Test evidence, defect log", True),
                            ("Go-live", 290, "Production cut-over, hypercare plan", True)],
        budget={"labour": 350000, "vendors": 600000, "hardware_software": 40000, "contingency": 60000},
        resources=[("ERP functional consultant", 1, 10, 290, "Finance and purchasing"),
                   ("Test manager", 0.8, 60, 290, "Regression test automation"),
                   ("DBA", 0.3, 30, 290, "Database upgrade")],
        risks=[("Custom code does not survive the upgrade", 3, 4, "mitigate"),
               ("Key users unavailable during month-end", 4, 3, "mitigate"),
               ("Partner staff turnover", 2, 3, "accept")],
        standards="Vendor upgrade guide, internal test policy"))
    return f"planning, {run.ready(iid, 'review_resources')} resource requests waiting for the resource manager (rita)"


# (c) execution: a quality gate for the quality lead, a large change request before the CCB, a status report due
DATA_CENTRE = "Data centre migration"


def _data_centre(run: _Run) -> str:
    from app.projects import operations as projects
    project = _propose(run, DATA_CENTRE, "maria", "sam")
    iid = _initiate(run, project, _charter(
        DATA_CENTRE, objectives=["Leave the Frankfurt co-location before the lease ends",
                                 "Move 320 workloads to the new data centre without unplanned outage"],
        scope_in="Network, storage and 320 virtual machines; migration waves; decommissioning the old site.",
        scope_out="Application modernisation; end-user devices.", benefits="Saves 900k a year of co-location fees.",
        costs="1.8m one-off.", payback=24, budget=1800000, start=-150, end=210,
        risks=[("Undocumented dependencies between workloads", 4, 4, "Dependency discovery tooling"),
               ("Lease cannot be extended if late", 2, 5, "Negotiate an option now")],
        stakeholders=[("CIO", "Sponsor delegate", "high"), ("Application owners", "Approve wave plans", "high")],
        success=["All workloads moved before the lease ends", "No priority-1 incident caused by a migration wave"]),
        {"project_code": "DCM-0058", "portfolio_category": "infrastructure", "strategic_fit": 5, "value_score": 4,
         "risk_score": 4})
    _plan(run, project, iid, _baseline(
        "maria", milestones=[("Landing zone ready", -40, "Network, storage and backup in the new site", True),
                             ("Wave 1-3 migrated", 90, "180 workloads moved, runbooks", True),
                             ("Old site decommissioned", 200, "Certificates of data destruction", True)],
        budget={"labour": 600000, "vendors": 850000, "hardware_software": 250000, "contingency": 100000},
        resources=[("Infrastructure architect", 1, -140, 200, "Network and storage"),
                   ("Migration engineer", 3, -60, 200, "VMware, scripting")],
        risks=[("Undocumented dependencies between workloads", 4, 4, "mitigate"),
               ("Lease cannot be extended if late", 2, 5, "transfer")],
        standards="ITIL change management, ISO 27001 controls"))
    run.do("maria", iid, "deliver_milestone", {"milestone_actual_date": _day(-35), "actual_cost_to_date": 520000})
    run.do("maria", iid, "submit_evidence", _evidence("Landing zone built and failover-tested.",
                                                      ["Network", "Storage", "Backup"]))
    cr = projects.start_change_request(project.id, run.actor("maria"), {
        "cr_title": "Add a second disaster-recovery site",
        "cr_description": "Replicate tier-1 workloads to a second site 200 km away.",
        "cr_reason": "The regulator's new resilience guideline requires geographic separation.",
        "cost_impact": 180000, "schedule_impact_days": 30, "scope_impact": "Second site, replication and DR tests.",
        "risk_impact": "medium", "urgency": "high"})
    run.do("maria", cr.id, "assess", {"assessed_cost_impact": 185000, "assessed_schedule_days": 30,
                                      "assessed_risk_level": "medium", "pm_recommendation": "approve",
                                      "assessment_notes": "Fits after wave 3; the lease option covers the delay."})
    report = instances.start("status_reporting", run.actor("petra"), projects.binding(project),
                             business_key=project.business_key)
    ballots = run.ready(cr.id, "ccb_vote_task")
    return (f"execution, gate review waiting for the quality lead (quinn), CR-001 waiting for {ballots} CCB "
            f"votes (carla, chen), status report due from maria (instance {report.id})")


# (d) closure: lessons learned wait for the PMO
OFFICE_MOVE = "Office move"


def _office_move(run: _Run) -> str:
    project = _propose(run, OFFICE_MOVE, "paul", "sam")
    iid = _initiate(run, project, _charter(
        OFFICE_MOVE, objectives=["Move 450 staff to the new Harbour Street office", "Cut floor space by 30 %"],
        scope_in="Fit-out, desk booking, IT and telephony, removals, staff communication.",
        scope_out="Furniture for the Berlin branch.", benefits="Rent savings of 600k a year.",
        costs="Fit-out 900k, removals 120k.", payback=20, budget=1020000, start=-300, end=-10,
        risks=[("Fit-out contractor delay", 3, 3, "Penalty clause and weekly site meetings")],
        stakeholders=[("Works council", "Consulted on desk sharing", "high"), ("Facilities", "Delivery", "high")],
        success=["Everyone moved in one weekend", "Desk utilisation above 70 % after three months"]),
        {"project_code": "FAC-0023", "portfolio_category": "operational_improvement", "strategic_fit": 3,
         "value_score": 4, "risk_score": 2})
    _plan(run, project, iid, _baseline(
        "paul", milestones=[("Fit-out complete", -80, "Handover certificate, snag list closed", False),
                            ("Staff moved", -20, "Move weekend done, old office handed back", True)],
        budget={"labour": 90000, "vendors": 820000, "hardware_software": 60000, "contingency": 50000},
        resources=[("Facilities coordinator", 1, -280, -10, "Removals planning"),
                   ("IT field engineer", 2, -60, -15, "Network, telephony")],
        risks=[("Fit-out contractor delay", 3, 3, "mitigate"), ("Staff resist desk sharing", 3, 2, "mitigate")],
        standards="Building regulations, health and safety plan"))
    run.do("paul", iid, "deliver_milestone", {"milestone_actual_date": _day(-78), "actual_cost_to_date": 760000})
    run.do("paul", iid, "deliver_milestone", {"milestone_actual_date": _day(-18), "actual_cost_to_date": 985000})
    _gate(run, project, iid, _evidence("All staff moved over one weekend; old office handed back.",
                                       ["Move weekend", "Handover of the old office"]))
    run.do("sam", iid, "acceptance", {"acceptance_decision": "accept_with_conditions",
                                      "acceptance_conditions": "Close the last 12 snag items by month end."})
    run.do("paul", iid, "write_lessons", {"lessons": [{
        "title": "Pilot desk sharing with one department before the move",
        "what_went_well": "The move weekend ran to plan with a minute-by-minute runbook.",
        "what_to_improve": "Desk-sharing rules were argued about until the week before the move.",
        "recommendation": "Run a four-week desk-sharing pilot and agree the rules with the works council early.",
        "category": "stakeholders", "tags": ["office", "facilities", "change-management"]}]})
    return "closure, lessons learned waiting for the PMO (petra)"


DEMO_PROJECTS = [(SUPPLIER_PORTAL, _supplier_portal), (CUSTOMER_PORTAL, _customer_portal),
                 (ERP_UPGRADE, _erp_upgrade), (DATA_CENTRE, _data_centre), (OFFICE_MOVE, _office_move)]
NEEDED = ("project_lifecycle", "change_request", "status_reporting")


def seed_projects() -> list[str]:
    """Create the demo projects that do not exist yet (found by name); one line per project."""
    from app.projects.models import Project

    deployed = {v.process_key for v in definition_queries.list_latest()}
    if not set(NEEDED) <= deployed:
        return []
    report: list[str] = []
    run = _Run()
    for name, build in DEMO_PROJECTS:
        existing = db.session.scalars(select(Project).where(Project.name == name)).first()
        if existing is not None:
            report.append(f"project '{name}': already there ({existing.code or existing.phase})")
            continue
        try:
            detail = build(run)
        except ServiceError as exc:
            db.session.rollback()
            report.append(f"project '{name}': failed: {exc.detail}")
            continue
        project = db.session.scalars(select(Project).where(Project.name == name)).first()
        report.append(f"project '{name}' ({project.code or 'no code yet'}): created, {detail}")
    return report
