"""Moving a workflow on: engine steps up to the next wait, completing a user task, pausing before
external calls, cancelling, and skipping a failed automatic step."""

from __future__ import annotations

import copy
import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from .errors import EngineError
from .operators import EXTERNAL_OPERATORS, ExternalCall
from .sandbox import SandboxError
from .serializer import json_default


class _PauseForExternal(Exception):
    def __init__(self, task) -> None:  # noqa: ANN001
        super().__init__("external call")
        self.task = task


def _pause_before_external(task) -> None:  # noqa: ANN001
    operator = getattr(task.task_spec, "operation_name", None)
    if operator in EXTERNAL_OPERATORS:
        results = task.workflow.script_engine.context.get("external_results") or {}
        if str(task.id) not in results:
            raise _PauseForExternal(task)


def pending_external_calls(workflow: BpmnWorkflow) -> list[ExternalCall]:
    """READY service tasks of external operators: they wait for a worker."""
    calls = []
    for task in workflow.get_tasks(state=TaskState.READY):
        operator = getattr(task.task_spec, "operation_name", None)
        if operator in EXTERNAL_OPERATORS:
            calls.append(ExternalCall(str(task.id), task.task_spec.bpmn_id or task.task_spec.name, operator, {}))
    return calls


def external_call_params(workflow: BpmnWorkflow, task_id: str) -> ExternalCall:
    """Evaluate the parameters of a paused external service task (for the worker that calls it)."""
    task = find_task(workflow, task_id)
    operator = getattr(task.task_spec, "operation_name", None) if task is not None else None
    if task is None or task.state != TaskState.READY or operator not in EXTERNAL_OPERATORS:
        raise EngineError("no external call is waiting at this task", task_id=task_id)
    try:
        params = {name: p["value"] for name, p in task.task_spec.evaluate_params(task).items()}
    except (SpiffWorkflowException, WorkflowException, SandboxError) as exc:
        raise EngineError.wrap(exc) from exc
    return ExternalCall(task_id, task.task_spec.bpmn_id or task.task_spec.name, operator,
                        json.loads(json.dumps(params, default=json_default)))


def task_data_of(workflow: BpmnWorkflow, task_id: str) -> dict[str, Any]:
    task = find_task(workflow, task_id)
    return copy.deepcopy(task.data) if task is not None else {}


def advance(workflow: BpmnWorkflow) -> None:
    """Run every automatic step until the workflow waits on people, timers, messages or workers."""
    try:
        workflow.refresh_timers()
        try:
            workflow.do_engine_steps(will_complete_task=_pause_before_external)
        except _PauseForExternal:
            # The engine stops here (parallel branches too) until a worker has made the call.
            pass
    except (SpiffWorkflowException, WorkflowException, SandboxError, EngineError) as exc:
        raise EngineError.wrap(exc) from exc
    except Exception as exc:  # a bug in a script helper or operator must not escape unexplained
        raise EngineError(f"{type(exc).__name__}: {exc}") from exc


def find_task(workflow: BpmnWorkflow, task_id: str):  # noqa: ANN201
    try:
        return workflow.get_task_from_id(UUID(task_id))
    except Exception:  # noqa: BLE001 - unknown or malformed id
        return None


def complete_user_task(workflow: BpmnWorkflow, task_id: str, data: dict[str, Any]) -> None:
    task = find_task(workflow, task_id)
    if task is None or task.state != TaskState.READY or not task.task_spec.manual:
        raise EngineError("the task is not ready to be completed", task_id=task_id)
    try:
        task.set_data(**copy.deepcopy(data))
        task.run()
    except (SpiffWorkflowException, WorkflowException, SandboxError) as exc:
        raise EngineError.wrap(exc) from exc
    advance(workflow)


def cancel(workflow: BpmnWorkflow) -> None:
    workflow.cancel()


class _ReachedStep(Exception):
    def __init__(self, task) -> None:  # noqa: ANN001
        super().__init__("reached")
        self.task = task


def skip_task(workflow: BpmnWorkflow, element_id: str) -> str:
    """Run up to the failed automatic step ``element_id``, mark it done without running it, go on.

    The stored state is the one from before the failed step (which rolled back), so the engine
    first walks forward to that step again; task ids are new on that walk, element ids are not.
    For an operator who fixed the consequence by hand: the audit entry records who skipped what.
    """

    def stop_there(task) -> None:  # noqa: ANN001
        if (task.task_spec.bpmn_id or task.task_spec.name) == element_id:
            raise _ReachedStep(task)

    try:
        workflow.refresh_timers()
        workflow.do_engine_steps(will_complete_task=stop_there)
    except _ReachedStep as reached:
        try:
            reached.task.complete()
        except (SpiffWorkflowException, WorkflowException) as exc:
            raise EngineError.wrap(exc) from exc
        advance(workflow)
        return element_id
    except (SpiffWorkflowException, WorkflowException, SandboxError) as exc:
        raise EngineError.wrap(exc) from exc
    raise EngineError(f"step '{element_id}' is not reached any more; nothing to skip", element_id=element_id)
