"""What a workflow waits for and throws: timers with their due time, message subscriptions with
their correlations, thrown messages, delivering a message, message start events."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessageEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .errors import EngineError
from .serializer import json_default
from .stepping import advance


@dataclass
class WaitingTimer:
    task_id: str
    element_id: str
    kind: str
    due_at: datetime


def _as_utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.astimezone()  # SpiffWorkflow reads naive times in the server's zone
    return moment.astimezone(UTC)


def waiting_definitions(task: Task) -> list[Any]:
    """The event definitions a WAITING task waits on. An event-based gateway (or a multiple event)
    carries one MultipleEventDefinition holding each branch's: a timer and a message, say."""
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition] if definition is not None else []


def waiting_timers(workflow: BpmnWorkflow) -> list[WaitingTimer]:
    """Every timer the workflow (and its subprocesses) waits on, with its next due time."""
    timers = []
    for task, definition in ((t, d) for t in workflow.get_tasks(state=TaskState.WAITING)
                             for d in waiting_definitions(t)):
        if not isinstance(definition, TimerEventDefinition):
            continue
        value = definition.details(task).value
        if isinstance(value, dict):  # a cycle not started yet
            value = value.get("next")
        if not isinstance(value, str):
            continue
        timers.append(WaitingTimer(str(task.id), task.task_spec.bpmn_id or task.task_spec.name,
                                   type(definition).__name__.replace("EventDefinition", ""), _as_utc(value)))
    return timers


def waiting_messages(workflow: BpmnWorkflow) -> list[tuple[str, dict[str, Any]]]:
    """(message name, the workflow's correlations) for each message the workflow waits for."""
    waiting = []
    for task, definition in ((t, d) for t in workflow.get_tasks(state=TaskState.WAITING)
                             for d in waiting_definitions(t)):
        if isinstance(definition, MessageEventDefinition):
            correlations = copy.deepcopy(task.workflow.correlations or {})
            if not correlations and definition.correlation_properties:
                # Not correlated yet: the waiter's own data says which message is for it
                # (e.g. its project_id), read with the message's correlation expressions.
                correlations = _own_correlations(task, definition)
            waiting.append((definition.name, correlations))
    return waiting


def _own_correlations(task, definition) -> dict[str, Any]:  # noqa: ANN001
    found: dict[str, Any] = {}
    engine = task.workflow.script_engine
    for prop in definition.correlation_properties:
        try:
            value = engine.environment.evaluate(prop.retrieval_expression, copy.deepcopy(task.data))
        except Exception:  # noqa: BLE001 - the value is not in this instance's data
            continue
        for key in prop.correlation_keys:
            found.setdefault(key, {})[prop.name] = value
    return json.loads(json.dumps(found, default=json_default))


def thrown_messages(workflow: BpmnWorkflow) -> list[tuple[str, Any, dict[str, Any]]]:
    """Messages thrown that no task inside this instance caught: (name, payload, correlations)."""
    found = []
    for event in workflow.get_events():
        definition = event.event_definition
        if isinstance(definition, MessageEventDefinition):
            payload = json.loads(json.dumps(event.payload, default=json_default))
            found.append((definition.name, payload, copy.deepcopy(event.correlations or {})))
    return found


def correlations_match(waiting: dict[str, Any], sent: dict[str, Any]) -> bool:
    """SpiffWorkflow's rule: uncorrelated waiters take any message; else a shared key must agree."""
    if not waiting or not sent:
        return True
    return any(sent.get(key) == waiting.get(key) for key in sent)


def deliver_message(workflow: BpmnWorkflow, name: str, payload: Any, correlations: dict[str, Any]) -> None:
    event = BpmnEvent(SpiffMessageEventDefinition(name), payload=copy.deepcopy(payload),
                      correlations=copy.deepcopy(correlations))
    try:
        workflow.send_event(event)
    except (SpiffWorkflowException, WorkflowException) as exc:
        raise EngineError.wrap(exc) from exc
    advance(workflow)


def message_start_names(spec) -> set[str]:  # noqa: ANN001
    """Names of the messages that start this process (message start events)."""
    names = set()
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        if type(task_spec).__name__ == "StartEvent" and isinstance(definition, MessageEventDefinition):
            names.add(definition.name)
    return names
