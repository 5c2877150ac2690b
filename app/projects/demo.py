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

When the PMO lifecycle is deployed, the demo projects of ``demo_projects.toml`` (next to this
module: people, charters, baselines and steps) are created as well: proposed through
``app.projects.operations`` and driven to their phase by completing tasks as the demo users, so
every inbox has real work in it. A project is found again by its name.
"""

from __future__ import annotations

import copy
import re
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
# The project lifecycle, the processes it calls and the risk escalation start only with a project's data;
# the monthly portfolio report is started once by the PMO, not seeded twice as a demo.
PMO_PROCESSES = frozenset({"project_lifecycle", "project_initiation", "project_planning", "project_execution",
                           "project_closure", "quality_gate", "change_request", "status_reporting",
                           "risk_escalation", "portfolio_report"})


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
# What the demo projects are (people, charters, baselines, the steps to each one's phase) is data:
# demo_projects.toml next to this module. This is only the driver: it proposes each project with
# app.projects.operations and takes its steps as the demo users, through the instance service
# (validated forms, audited steps).

PROJECTS_FILE = Path(__file__).with_name("demo_projects.toml")
NEEDED = ("project_lifecycle", "change_request", "status_reporting")
_RELATIVE_DAY = re.compile(r"today(?:([+-])(\d+))?")


@dataclass
class DemoProject:
    name: str
    project_manager: str
    sponsor: str
    report: str
    steps: list[dict[str, Any]] = field(default_factory=list)


def project_plan(path: Path = PROJECTS_FILE) -> list[DemoProject]:
    """The demo projects of the data file, with its dates and shared values resolved."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        shared = doc.get("shared", {})
        return [DemoProject(name=str(p["name"]), project_manager=str(p["project_manager"]),
                            sponsor=str(p["sponsor"]), report=str(p.get("report", "")),
                            steps=[_resolve(s, shared) for s in p.get("steps", [])])
                for p in doc.get("projects", [])]
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise Invalid(f"{path}: not a valid demo projects file: {exc}") from exc


def _resolve(value: Any, shared: dict[str, Any]) -> Any:
    """Dates relative to today ("today-35") and { shared = "name" } references, all the way down."""
    if isinstance(value, dict):
        if set(value) == {"shared"}:
            return _resolve(copy.deepcopy(shared[value["shared"]]), shared)
        return {k: _resolve(v, shared) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, shared) for v in value]
    if isinstance(value, str) and (match := _RELATIVE_DAY.fullmatch(value)):
        sign, days = match.groups()
        offset = int(days or 0) * (-1 if sign == "-" else 1)
        return (date.today() + timedelta(days=offset)).isoformat()
    return value


class _Ready:
    """``{name.ready.element}`` in a report line: how many tasks of that element are ready."""

    def __init__(self, instance_id: int) -> None:
        self._instance_id = instance_id

    def __getattr__(self, element_id: str) -> int:
        return len([t for t in instances.ready_tasks(self._instance_id) if t.element_id == element_id])


@dataclass
class _Started:
    """A named instance of a demo project (``{name.id}``, ``{name.ready.element}``)."""

    id: int

    @property
    def ready(self) -> _Ready:
        return _Ready(self.id)


class _Run:
    """Takes a demo project's steps as the named demo users."""

    def __init__(self) -> None:
        self._actors: dict[str, instances.Actor] = {}

    def actor(self, username: str) -> instances.Actor:
        if username not in self._actors:
            user = user_queries.find(username)
            if user is None:
                raise Invalid(f"demo user '{username}' is missing (run with --demo to create the demo users)")
            self._actors[username] = instances.Actor.of(user)
        return self._actors[username]

    def _oldest_ready(self, instance_id: int, element_id: str) -> HumanTask | None:
        return db.session.scalars(select(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.READY,
            HumanTask.element_id == element_id).order_by(HumanTask.created_at, HumanTask.id)).first()

    def complete(self, user: str, instance_id: int, element_id: str, data: dict[str, Any],
                 every_ready: bool = False) -> None:
        task = self._oldest_ready(instance_id, element_id)
        if task is None and not every_ready:
            raise Invalid(f"demo: no ready task '{element_id}' in instance {instance_id}")
        while task is not None:
            instances.complete(task.id, self.actor(user), copy.deepcopy(data))
            task = self._oldest_ready(instance_id, element_id) if every_ready else None

    def build(self, item: DemoProject) -> str:
        """Propose the project and take its steps; the report line."""
        from app.projects import operations as projects

        project = projects.create_project(item.name, item.project_manager, item.sponsor,
                                          self.actor(item.project_manager))
        named = {"lifecycle": _Started(project.lifecycle_instance_id)}
        for number, step in enumerate(item.steps, 1):
            user = str(step["user"])
            data = dict(step.get("data", {}))
            if "task" in step:
                instance = named[str(step.get("in", "lifecycle"))]
                self.complete(user, instance.id, str(step["task"]), data, bool(step.get("every_ready")))
            elif "change_request" in step:
                cr = projects.start_change_request(project.id, self.actor(user), data)
                named[str(step["change_request"])] = _Started(cr.id)
            elif "start" in step:
                started = instances.start(str(step["start"]), self.actor(user), projects.binding(project),
                                          business_key=project.business_key)
                named[str(step.get("as", step["start"]))] = _Started(started.id)
            else:
                raise Invalid(f"demo project '{item.name}', step {number}: no task, change_request or start")
        return item.report.format_map(named)


def seed_projects() -> list[str]:
    """Create the demo projects that do not exist yet (found by name); one line per project."""
    from app.projects.models import Project

    deployed = {v.process_key for v in definition_queries.list_latest()}
    if not set(NEEDED) <= deployed:
        return []
    report: list[str] = []
    run = _Run()
    for item in project_plan():
        existing = db.session.scalars(select(Project).where(Project.name == item.name)).first()
        if existing is not None:
            report.append(f"project '{item.name}': already there ({existing.code or existing.phase})")
            continue
        try:
            detail = run.build(item)
        except ServiceError as exc:
            db.session.rollback()
            report.append(f"project '{item.name}': failed: {exc.detail}")
            continue
        project = db.session.scalars(select(Project).where(Project.name == item.name)).first()
        report.append(f"project '{item.name}' ({project.code or 'no code yet'}): created, {detail}")
    return report
