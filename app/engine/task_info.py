"""What the engine tells about a workflow's tasks and data: the ready human tasks with their
lane, form and properties, a task's data, whether the workflow is complete."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from .stepping import find_task


@dataclass
class HumanTaskInfo:
    """A READY manual task, as the inbox projection needs it."""

    id: str
    element_id: str
    name_template: str
    lane: str | None
    process_id: str
    process_name: str
    form_schema_file: str | None
    form_ui_file: str | None
    instructions: str | None
    documentation: str | None
    properties: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


def ready_human_tasks(workflow: BpmnWorkflow) -> list[HumanTaskInfo]:
    tasks = []
    for task in workflow.get_tasks(state=TaskState.READY, manual=True):
        spec = task.task_spec
        ext = getattr(spec, "extensions", {}) or {}
        props = dict(ext.get("properties", {}) or {})
        tasks.append(HumanTaskInfo(
            id=str(task.id),
            element_id=spec.bpmn_id or spec.name,
            name_template=spec.bpmn_name or spec.bpmn_id or spec.name,
            lane=spec.lane,
            process_id=task.workflow.spec.name,
            process_name=task.workflow.spec.description or task.workflow.spec.name,
            form_schema_file=props.get("formJsonSchemaFilename") or None,  # empty: no form (SpiffArena)
            form_ui_file=props.get("formUiSchemaFilename") or None,
            instructions=ext.get("instructionsForEndUser"),
            documentation=getattr(spec, "documentation", None),
            properties=props,
            data=task.data,
        ))
    return tasks


def task_data(workflow: BpmnWorkflow, task_id: str) -> dict[str, Any] | None:
    task = find_task(workflow, task_id)
    return None if task is None else task.data


def is_completed(workflow: BpmnWorkflow) -> bool:
    return workflow.is_completed()


def workflow_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    """Data of the last completed task, or of the workflow once it ended."""
    if workflow.is_completed():
        return workflow.data
    last = workflow.last_task
    return last.data if last is not None else {}


def parse_duration(text: str, start: datetime | None = None) -> datetime:
    """Due time for an ISO 8601 duration such as ``P2D`` counted from ``start`` (UTC)."""
    start = start or datetime.now(UTC)
    parsed = TimerEventDefinition.parse_iso_duration(text)
    return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)
