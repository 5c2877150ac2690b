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

Without the file, every deployed process gets two instances started by a project manager.
Seeding is idempotent: instances are found again by their business key. Each instance goes
through the instance service like any other start or completion (audited, one transaction each).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import HumanTask, ProcessInstance
from ..models.instance import TaskStatus
from . import definitions, instances, users
from .errors import Invalid, ServiceError

DEMO_FILE = "demo.toml"
DEFAULT_PER_PROCESS = 2


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
        for v in definitions.list_latest() for n in range(1, DEFAULT_PER_PROCESS + 1)
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
    """Start the planned demo instances that do not exist yet; return one line per instance."""
    report: list[str] = []
    deployed = {v.process_key for v in definitions.list_latest()}
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
        starter = users.find(item.started_by)
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
        report.append(f"{item.business_key}: started {item.process} as instance {instance.id}"
                      + (f", {done} step(s) completed" if done else ""))
    return report


def _run_steps(instance_id: int, steps: list[Step]) -> int:
    done = 0
    for step in steps:
        task = db.session.scalars(select(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.READY,
            HumanTask.element_id == step.task)).first()
        user = users.find(step.user)
        if task is None or user is None:
            missing = f"no ready task '{step.task}'" if task is None else f"no user '{step.user}'"
            raise Invalid(f"demo step {done + 1} of instance {instance_id}: {missing}")
        instances.complete(task.id, instances.Actor.of(user), dict(step.data))
        done += 1
    return done
