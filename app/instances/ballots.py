"""Sealed ballots: while a vote is open, no voter sees how the others voted.

A vote is the set of tasks of one step of one instance open at the same time (the ballots of a
parallel multi-instance task, e.g. the CCB vote). A completed ballot stays sealed — its entered
values are hidden from everyone but its voter — while another ballot of the same vote is still
open. When the last ballot is in (or the vote is cancelled), every ballot can be read.

A process can say otherwise on the step: ``<spiffworkflow:property name="ballots" value="open" />``
(anything else, or nothing, keeps them sealed).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.core.extensions import db
from app.definitions import queries as definition_queries
from app.instances.models import HumanTask, TaskStatus

BALLOTS_PROPERTY = "ballots"
OPEN = "open"


def _step(task: HumanTask) -> tuple[str, str | None]:
    return task.element_id, task.bpmn_process_id


def _open_by_process(instance_id: int, element_id: str) -> bool:
    """Whether the process marks ``element_id`` as a step whose ballots everyone may read at once."""
    from app.instances import commands as instances
    try:
        spec, subprocess_specs = definition_queries.spec_for(instances.get(instance_id).process_version)
    except Exception:  # noqa: BLE001 - a spec that cannot be read keeps the ballots sealed
        return False
    for s in [spec, *subprocess_specs.values()]:
        task_spec = s.task_specs.get(element_id)
        if task_spec is None:
            continue
        props = ((getattr(task_spec, "extensions", None) or {}).get("properties") or {})
        if str(props.get(BALLOTS_PROPERTY, "")).strip().lower() == OPEN:
            return True
    return False


def _sealed(instance_id: int, ready: list[HumanTask] | None = None) -> dict[str, str]:
    """Completed tasks of ``instance_id`` whose vote is still open (another ballot of their step is
    open), by id, with their step's element id. ``ready``: the instance's open tasks, when the
    caller has read them already.

    It starts from the open tasks: with none open no vote is, and nothing else is read; otherwise
    it reads the completed rows of the open steps only (a few columns, not every task the instance
    ever had), so the answer of a long-running instance does not grow with its history.
    """
    if ready is None:
        ready = list(db.session.scalars(select(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.READY)))
    open_since: dict[tuple[str, str | None], list[HumanTask]] = {}
    for row in ready:
        if row.status == TaskStatus.READY:
            open_since.setdefault(_step(row), []).append(row)
    if not open_since:
        return {}
    completed = db.session.execute(
        select(HumanTask.id, HumanTask.element_id, HumanTask.bpmn_process_id, HumanTask.completed_at)
        .where(HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.COMPLETED,
               HumanTask.element_id.in_(sorted({element for element, _ in open_since}))))
    sealed: dict[str, str] = {}
    open_steps: dict[str, bool] = {}
    for task_id, element_id, process_id, completed_at in completed:
        ballots = open_since.get((element_id, process_id))
        # the same vote: an open ballot that already existed when this one was completed (not a later round)
        if not ballots or not any(r.created_at is None or completed_at is None or r.created_at <= completed_at
                                  for r in ballots):
            continue
        if element_id not in open_steps:
            open_steps[element_id] = _open_by_process(instance_id, element_id)
        if not open_steps[element_id]:
            sealed[task_id] = element_id
    return sealed


def sealed_tasks(instance_id: int) -> set[str]:
    """Ids of completed tasks of ``instance_id`` whose vote is still open (another ballot is open)."""
    return set(_sealed(instance_id))


def sealed_variables(instance_id: int, ready: list[HumanTask] | None = None) -> set[str]:
    """The process variables that collect the ballots of an open vote (a multi-instance step's
    output collection, e.g. ``ccb_votes``): hidden from the instance's data while the vote is open.
    ``ready``: the instance's open tasks, when the caller has read them already."""
    elements = set(_sealed(instance_id, ready).values())
    if not elements:
        return set()
    from app.instances import commands as instances
    try:
        spec, subprocess_specs = definition_queries.spec_for(instances.get(instance_id).process_version)
    except Exception:  # noqa: BLE001
        return set()
    names: set[str] = set()
    for s in [spec, *subprocess_specs.values()]:
        for element in elements:
            task_spec = s.task_specs.get(element)
            for attr in ("data_output", "output_item"):
                ref = getattr(task_spec, attr, None)
                name = getattr(ref, "bpmn_id", None) or getattr(ref, "name", None)
                if name:
                    names.add(str(name))
    return names


def seal_audit(entries: list[Any], instance_id: int, viewer: str) -> list[Any]:
    """Audit entries with the entered values of sealed ballots left out (a voter sees their own)."""
    from app.api.io import View

    sealed = sealed_tasks(instance_id) if entries else set()
    if not sealed:
        return entries
    return [View(e, details={**{k: v for k, v in (e.details or {}).items() if k != "data"}, "sealed": True})
            if e.task_id in sealed and e.actor != viewer and "data" in (e.details or {}) else e for e in entries]


def seal(steps: list[dict[str, Any]], instance_id: int, viewer: str) -> list[dict[str, Any]]:
    """"Earlier steps" entries with the values of sealed ballots hidden (a voter still sees their own)."""
    sealed = sealed_tasks(instance_id) if steps else set()
    if not sealed:
        return steps
    return [{**step, "data": {}, "sealed": True} if step.get("task_id") in sealed and step.get("actor") != viewer
            else step for step in steps]
