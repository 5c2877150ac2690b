"""The project manager's read model: "My projects" and one project's workspace, assembled from
the project records, the project's open tasks and its audit trail (read-only; nothing here writes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.core.audit import AuditEntry
from app.core.extensions import db
from app.core.models import utcnow
from app.instances import access
from app.instances.models import HumanTask, ProcessInstance, TaskStatus
from app.people.actor import Actor
from app.people.models import User, UserRole
from app.projects import queries as project_queries
from app.projects.models import (
    AppliedLesson,
    ChangeRequest,
    Phase,
    Project,
    ProjectStatus,
    RaidItem,
    RaidKind,
    Risk,
)

# The lifecycle as a track: phase, and the words a PM reads on the strip.
LIFECYCLE = ((Phase.INITIATION, "Initiation"), (Phase.PLANNING, "Planning"),
             (Phase.EXECUTION, "Execution"), (Phase.CLOSURE, "Closure"))
OPEN_CHANGE = ("submitted",)  # not yet decided (then approved, rejected or withdrawn)
ACTIVITY_LIMIT = 200
# Each RAID log as a page names it: one entry, the log, and what the PMO domain says it holds.
RAID_TITLES: dict[str, tuple[str, str, str]] = {
    RaidKind.ISSUE: ("Issue", "Issues", "Problems happening now (risks that occurred), by severity."),
    RaidKind.ACTION: ("Action", "Actions", "Who does what by when."),
    RaidKind.DECISION: ("Decision", "Decisions", "What was decided, by whom, and when it stands."),
    RaidKind.ASSUMPTION: ("Assumption", "Assumptions", "What the plan takes as true until it is checked."),
    RaidKind.DEPENDENCY: ("Dependency", "Dependencies", "What the project needs from other projects or parties."),
}


@dataclass
class Stage:
    phase: str
    title: str
    state: str  # "done", "current" or "next"


@dataclass
class OpenStep:
    task: HumanTask
    holders: list[str]            # usernames when assigned or offered to people
    roles: list[str]              # roles it is offered to (unclaimed)
    overdue: bool
    mine: bool


@dataclass
class MilestoneRow:
    name: str
    baseline: date | None
    forecast: date | None
    actual: date | None
    slip_days: int | None
    gate: bool
    status: str


@dataclass
class Workspace:
    project: Project
    stages: list[Stage]
    steps: list[OpenStep]
    milestones: list[MilestoneRow]
    budget: dict[str, Decimal | None]
    risks: list[Risk]
    heat: list[list[list[Risk]]]  # [impact 5..1][probability 1..5] -> risks in that cell
    changes: list[ChangeRequest]
    can_raise_change: bool
    activity: list[AuditEntry]
    activity_kinds: list[str]
    raid: dict[str, list[RaidItem]] = field(default_factory=dict)  # kind -> entries, open ones first
    applied_lessons: list[AppliedLesson] = field(default_factory=list)
    related_lessons: list[project_queries.LessonMatch] = field(default_factory=list)  # not applied yet
    may_change: bool = False          # the actor keeps this project's RAID log (its PM, the PMO, admins)
    threshold: int = 15               # the risk score at which the PMO is asked
    task_titles: dict[str, str] = field(default_factory=dict)  # task id -> title, for the activity
    people: dict[str, str] = field(default_factory=dict)  # username -> name as people write it
    role_members: dict[str, list[str]] = field(default_factory=dict)
    open_report: HumanTask | None = None     # a status report waiting to be written (scheduled or not)
    report_refusal: str | None = None        # why no status report can be submitted now
    can_report: bool = False                 # the actor may submit one now ("Submit a status report")

    @property
    def my_steps(self) -> list[OpenStep]:
        return [s for s in self.steps if s.mine]

    @property
    def waiting_on_others(self) -> list[OpenStep]:
        return [s for s in self.steps if not s.mine]

    # -- the same, shaped as the API gives it (schemas.WorkspaceOut) --------------------------------

    def _person(self, username: str) -> dict[str, str]:
        return {"username": username, "name": self.people.get(username, username)}

    @property
    def step_rows(self) -> list[dict[str, Any]]:
        return [{"task": s.task, "holders": [self._person(u) for u in s.holders],
                 "roles": [{"role": r, "members": [self._person(u) for u in self.role_members.get(r, [])]}
                           for r in s.roles],
                 "since": s.task.created_at, "due": s.task.due_at, "overdue": s.overdue, "mine": s.mine}
                for s in self.steps]

    @property
    def heat_cells(self) -> list[dict[str, Any]]:
        return [{"impact": 5 - row, "probability": col + 1, "count": len(cell), "risk_ids": [r.id for r in cell]}
                for row, cells in enumerate(self.heat) for col, cell in enumerate(cells) if cell]

    @property
    def raid_logs(self) -> dict[str, list[RaidItem]]:
        return {RAID_TITLES[kind][1].lower(): items for kind, items in self.raid.items()}

    @property
    def reports_newest_first(self) -> list[Any]:
        return sorted(self.project.status_reports, key=lambda r: (r.period_end, r.id), reverse=True)

    @property
    def applied_lesson_rows(self) -> list[Any]:
        return [a.lesson for a in self.applied_lessons]

    @property
    def activity_rows(self) -> list[dict[str, Any]]:
        return [{"at": e.at, "actor": e.actor, "action": e.action, "task_id": e.task_id,
                 "task_title": self.task_titles.get(e.task_id) if e.task_id else None,
                 "process_key": e.process_key} for e in self.activity]


def stages_of(project: Project) -> list[Stage]:
    """Done, current and next along the lifecycle; a closed project has every phase done."""
    order = [p for p, _ in LIFECYCLE]
    current = order.index(project.phase) if project.phase in order else len(order)
    return [Stage(p, title, "done" if i < current else "current" if i == current else "next")
            for i, (p, title) in enumerate(LIFECYCLE)]


def milestone_rows(project: Project) -> list[MilestoneRow]:
    rows = []
    for m in sorted(project.milestones, key=lambda m: (m.seq, m.id)):
        reached = m.achieved_date or m.due_date
        slip = (reached - m.baseline_due_date).days if reached and m.baseline_due_date else None
        rows.append(MilestoneRow(m.name, m.baseline_due_date, m.due_date, m.achieved_date, slip,
                                 bool(m.gate_required), m.status))
    return rows


def _budget(project: Project) -> dict[str, Decimal | None]:
    baseline = project.budget_baseline
    actual = project.budget_actual or Decimal(0)
    return {"estimate": project.budget_estimate, "baseline": baseline, "actual": actual,
            "remaining": (baseline - actual) if baseline is not None else None}


def heat_map(risks: list[Risk]) -> list[list[list[Risk]]]:
    """Open risks by impact (rows, 5 at the top) and probability (columns, 1 to 5)."""
    cells: list[list[list[Risk]]] = [[[] for _ in range(5)] for _ in range(5)]
    for risk in risks:
        if risk.status == "closed" or not (1 <= risk.probability <= 5 and 1 <= risk.impact <= 5):
            continue
        cells[5 - risk.impact][risk.probability - 1].append(risk)
    return cells


def _steps(project: Project, actor: Actor) -> list[OpenStep]:
    now = utcnow()
    steps = []
    for task in project_queries.open_tasks(project):
        roles = sorted({c.role for c in task.candidates if c.role}) if not task.assignee else []
        users = [task.assignee] if task.assignee else sorted({c.username for c in task.candidates if c.username})
        steps.append(OpenStep(task, users, roles, bool(task.due_at and task.due_at < now),
                              access.may_act(task, actor)))
    return steps


def _activity(project: Project, kind: str | None) -> tuple[list[AuditEntry], list[str]]:
    instance_ids = select(ProcessInstance.id).where(ProcessInstance.business_key == project.business_key)
    base = select(AuditEntry).where(AuditEntry.instance_id.in_(instance_ids))
    kinds = sorted(set(db.session.scalars(select(AuditEntry.action).where(AuditEntry.instance_id.in_(instance_ids))
                                          .distinct())))
    if kind:
        base = base.where(AuditEntry.action == kind)
    entries = list(db.session.scalars(base.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(ACTIVITY_LIMIT)))
    return entries, kinds


def _titles(task_ids: set[str]) -> dict[str, str]:
    if not task_ids:
        return {}
    return dict(db.session.execute(select(HumanTask.id, HumanTask.title).where(HumanTask.id.in_(task_ids))).all())


def names_of(usernames: set[str]) -> dict[str, str]:
    """Display names of the given users (their username when they have none)."""
    usernames = {u for u in usernames if u}
    if not usernames:
        return {}
    found = dict(db.session.execute(select(User.username, User.display_name).where(User.username.in_(usernames))).all())
    return {u: (found.get(u) or u) for u in usernames}


def members_of(roles: set[str]) -> dict[str, list[str]]:
    if not roles:
        return {}
    rows = db.session.execute(select(UserRole.role, User.username).join(User, User.id == UserRole.user_id)
                              .where(UserRole.role.in_(roles), User.active.is_(True)).order_by(User.username)).all()
    members: dict[str, list[str]] = {r: [] for r in roles}
    for role, username in rows:
        members[role].append(username)
    return members


def _raid(project: Project) -> dict[str, list[RaidItem]]:
    logs: dict[str, list[RaidItem]] = {kind: [] for kind in RaidKind.ALL}
    for item in project.raid_items:
        logs[item.kind].append(item)
    for items in logs.values():
        items.sort(key=lambda i: (not i.is_open, i.due_date is None, i.due_date or date.max, i.id))
    return logs


# Lessons of similar projects are offered while the project is being shaped.
LESSONS_OFFERED_IN = (Phase.INITIATION, Phase.PLANNING)


def _related(project: Project) -> list[project_queries.LessonMatch]:
    """Lessons of similar earlier projects not applied yet: by category, tags, name and charter words."""
    charter = project.charter or {}
    words = " ".join([project.name, str(charter.get("scope_in") or ""),
                      " ".join(str(o) for o in charter.get("objectives") or [])])
    applied = {a.lesson_id for a in project.applied_lessons}
    found = project_queries.related_lessons(project.portfolio_category, list(project.tags or []), words,
                                            limit=5 + len(applied), exclude_project=project.id)
    return [m for m in found if m.lesson.id not in applied][:5]


def workspace(project_id: int, actor: Actor, activity_kind: str | None = None, threshold: int = 15) -> Workspace:
    """One project as its manager sees it; NotFound when ``actor`` may not see the project."""
    project = project_queries.visible_project(project_id, actor, project_queries.WORKSPACE_RECORDS)
    project_queries.attach_raid_links(project)
    raid = _raid(project)
    may_change = project_queries.keeps_raid_log(project, actor)
    steps = _steps(project, actor)
    risks = sorted(project.risks, key=lambda r: (-(r.score or 0), r.id))
    activity, kinds = _activity(project, activity_kind)
    changes = sorted(project.change_requests, key=lambda c: -c.number)
    roles = {r for s in steps for r in s.roles}
    members = members_of(roles)
    open_report = project_queries.open_status_report(project, [s.task for s in steps])
    report_refusal = project_queries.status_report_refusal(project) or (
        "a status report is already waiting to be written" if open_report is not None else None)
    usernames = ({project.project_manager, project.sponsor} | {u for s in steps for u in s.holders}
                 | {u for ms in members.values() for u in ms} | {r.owner for r in risks}
                 | {c.requested_by for c in changes} | {d.decided_by for c in changes for d in c.decisions}
                 | {g.decided_by for g in project.gate_decisions} | {e.actor for e in activity}
                 | {i.owner for i in project.raid_items} | {a.applied_by for a in project.applied_lessons}
                 | {(r.pmo_review or {}).get("by", "") for r in risks} | {s.submitted_by for s in project.status_reports}
                 | {str((project.closure or {}).get("closed_by") or "")})
    return Workspace(project=project, stages=stages_of(project), steps=steps, milestones=milestone_rows(project),
                     budget=_budget(project), risks=risks, heat=heat_map(risks), changes=changes,
                     can_raise_change=project_queries.accepts_change_requests(project), activity=activity,
                     activity_kinds=kinds, task_titles=_titles({e.task_id for e in activity if e.task_id}),
                     people=names_of(usernames), role_members=members, raid=raid,
                     applied_lessons=list(project.applied_lessons),
                     may_change=may_change,
                     related_lessons=_related(project) if may_change and project.phase in LESSONS_OFFERED_IN else [],
                     threshold=threshold, open_report=open_report, report_refusal=report_refusal,
                     can_report=may_change and report_refusal is None)


@dataclass
class ProjectRow:
    project: Project
    next_step: HumanTask | None
    holder: str
    overdue: int
    open_changes: int
    top_risk: int | None
    needs_me: bool


def my_projects(actor: Actor, *, phase: str | None = None, rag: str | None = None, q: str | None = None,
                sort: str | None = None, page: int = 1) -> tuple[Any, list[ProjectRow], dict[str, str]]:
    """The projects ``actor`` manages, sponsors or takes part in (the PMO and admins: all), with
    what is next on each and who holds it."""
    result = project_queries.project_page(actor, phase=phase, rag=rag, q=q, sort=sort, page=page, per_page=50)
    now = utcnow()
    rows, usernames = [], set()
    ids = [view.project.id for view in result.items]
    open_changes = dict(db.session.execute(
        select(ChangeRequest.project_id, db.func.count()).where(ChangeRequest.project_id.in_(ids),
                                                               ChangeRequest.status.in_(OPEN_CHANGE))
        .group_by(ChangeRequest.project_id)).all()) if ids else {}
    top_risk = dict(db.session.execute(
        select(Risk.project_id, db.func.max(Risk.score)).where(Risk.project_id.in_(ids), Risk.status != "closed")
        .group_by(Risk.project_id)).all()) if ids else {}
    for view in result.items:
        tasks = [t for t in view.open_tasks if t.status == TaskStatus.READY]
        first = tasks[0] if tasks else None
        holder = ""
        if first is not None:
            holder = first.assignee or ", ".join(sorted({c.role for c in first.candidates if c.role}
                                                        | {c.username for c in first.candidates if c.username}))
        usernames |= {view.project.project_manager, view.project.sponsor, first.assignee if first else ""}
        rows.append(ProjectRow(view.project, first, holder, sum(1 for t in tasks if t.due_at and t.due_at < now),
                               open_changes.get(view.project.id, 0), top_risk.get(view.project.id),
                               any(access.may_act(t, actor) for t in tasks)))
    return result, rows, names_of(usernames)


def is_stopped(project: Project) -> str | None:
    """Why a project is not moving (on hold, killed, rejected, closed), in words; None when it runs."""
    return {ProjectStatus.ON_HOLD: "On hold", ProjectStatus.KILLED: "Stopped at a gate",
            ProjectStatus.REJECTED: "Not approved", ProjectStatus.CLOSED: "Closed"}.get(project.status)



def today() -> date:
    """The day due dates are read against (UTC, the day the server's clock says)."""
    return utcnow().date()
