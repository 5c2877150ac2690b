"""Running workflows: script engine, (de)serialization without the spec, human tasks.

Everything here is pure engine work on objects in memory; the instance service decides when to
load, step and save, inside one database transaction.
"""

from __future__ import annotations

import copy
import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as _SPIFF_SERIALIZER_VERSION
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessageEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .sandbox import SCRIPT_FILENAME, Sandbox, SandboxError

# Stored with every instance: a later engine upgrade can tell which format it is reading.
SERIALIZER_VERSION = f"pmo-1/spiff-{_SPIFF_SERIALIZER_VERSION}"


class EngineError(Exception):
    """A step failed inside the engine: a script, an expression, a DMN table or a service call."""

    def __init__(self, message: str, *, task_id: str | None = None, task_name: str | None = None,
                 element_id: str | None = None, line_number: int | None = None,
                 error_line: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.task_id = task_id
        self.task_name = task_name
        self.element_id = element_id
        self.line_number = line_number
        self.error_line = error_line

    def as_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "task_id": self.task_id,
            "task_name": self.task_name,
            "element_id": self.element_id,
            "line_number": self.line_number,
            "error_line": self.error_line,
        }

    @classmethod
    def wrap(cls, exc: Exception) -> EngineError:
        if isinstance(exc, EngineError):
            return exc
        task = getattr(exc, "task", None)
        spec = getattr(task, "task_spec", None)
        line = getattr(exc, "line_number", None) or None
        message = str(exc)
        inner = (getattr(exc, "error", None) or getattr(exc, "exception", None) or exc.__cause__
                 or exc.__context__)
        if isinstance(inner, Exception) and str(inner) and str(inner) not in message:
            message = f"{message.rstrip('. ')}: {type(inner).__name__}: {inner}"
        error_line = getattr(exc, "error_line", None) or None
        if not line and isinstance(inner, BaseException):
            # SpiffWorkflow looks for the line in frames named "<string>"; sandboxed code has its own name.
            line = _script_line_number(inner)
            script = getattr(spec, "script", None)
            if line and isinstance(script, str) and not error_line and line <= len(script.splitlines()):
                error_line = script.splitlines()[line - 1]
        notes = getattr(exc, "__notes__", None)
        if notes:
            message = message + " (" + "; ".join(notes) + ")"
        return cls(
            message,
            task_id=str(task.id) if task is not None else None,
            task_name=getattr(spec, "bpmn_name", None) or getattr(spec, "name", None),
            element_id=getattr(spec, "bpmn_id", None) or getattr(spec, "name", None),
            line_number=line,
            error_line=error_line,
        )


def _script_line_number(exc: BaseException) -> int | None:
    if isinstance(exc, SyntaxError) and exc.filename == SCRIPT_FILENAME:
        return exc.lineno
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == SCRIPT_FILENAME]
    return frames[-1].lineno if frames else None


# -- service task operators -------------------------------------------------------------------

@dataclass
class OperatorCall:
    """What a service-task operator receives: its evaluated parameters and the task's context."""

    params: dict[str, Any]
    data: dict[str, Any]
    context: dict[str, Any]


Operator = Callable[[OperatorCall], Any]
OPERATORS: dict[str, Operator] = {}
# Operators that call out of the application (a finance system, e-mail, ...). They never run
# inside an instance's transaction: the engine pauses before their service task, the step
# commits, and a background worker calls them with retries (app/tasks.py: pmo.run_external).
EXTERNAL_OPERATORS: set[str] = set()


def register_operator(name: str, *, external: bool = False) -> Callable[[Operator], Operator]:
    """Register a named service-task operator (``<spiffworkflow:serviceTaskOperator id=...>``).

    ``external=True`` for operators that call other systems: see EXTERNAL_OPERATORS.
    """

    def decorator(fn: Operator) -> Operator:
        OPERATORS[name] = fn
        if external:
            EXTERNAL_OPERATORS.add(name)
        else:
            EXTERNAL_OPERATORS.discard(name)
        return fn

    return decorator


@dataclass
class ExternalCall:
    """A service task paused for a worker: which task, which operator, with what parameters."""

    task_id: str
    element_id: str
    operator: str
    params: dict[str, Any]


# -- script engine ------------------------------------------------------------------------------

class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__({})
        self.sandbox = sandbox

    def evaluate(self, expression, context, external_context=None):  # noqa: ANN001
        return self.sandbox.evaluate(expression, context, external_context)

    def execute(self, script, context, external_context=None):  # noqa: ANN001
        self.sandbox.execute(script, context, external_context)
        return True


class PmoScriptEngine(PythonScriptEngine):
    """SpiffWorkflow script engine backed by the sandbox, with named service operators.

    ``context`` carries what operators may need about the running instance (its id, the actor).
    """

    def __init__(self, sandbox: Sandbox, context: dict[str, Any] | None = None) -> None:
        super().__init__(environment=SandboxEnvironment(sandbox))
        self.context = context or {}

    def validate(self, expression: str) -> None:
        from .sandbox import compile_code

        compile_code(expression, "eval")

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):  # noqa: ANN001
        operator = OPERATORS.get(operation_name or "")
        if operator is None:
            raise EngineError(
                f"unknown service operator '{operation_name}'",
                task_id=str(task.id), element_id=task.task_spec.bpmn_id,
            )
        params = {name: p["value"] for name, p in (operation_params or {}).items()}
        results = self.context.get("external_results") or {}
        if str(task.id) in results:  # the worker already called it, outside the transaction
            return json.dumps(results[str(task.id)], default=json_default)
        try:
            result = operator(OperatorCall(params=params, data=task.data, context=self.context))
            return json.dumps(result, default=json_default)
        except EngineError:
            raise
        except Exception as exc:  # an operator's failure is the step's failure, named and placed
            raise EngineError(
                f"service operator '{operation_name}' failed: {type(exc).__name__}: {exc}",
                task_id=str(task.id), element_id=task.task_spec.bpmn_id,
                task_name=task.task_spec.bpmn_name) from exc


# -- serialization -------------------------------------------------------------------------------

class _SpecInjectingConverter(BpmnWorkflowConverter):
    """Stores instances without their spec; the spec is stored once per process version.

    ``from_dict`` accepts spec objects already built (from the per-version cache) in place of
    their dictionaries, so loading an instance never re-parses or re-restores its spec.
    """

    def to_dict(self, workflow):  # noqa: ANN001
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):  # noqa: ANN001
        spec = dct.pop("spec")
        subprocess_specs = dct.pop("subprocess_specs", {})
        if isinstance(spec, dict):
            spec = self.registry.restore(spec)
            subprocess_specs = self.mapping_from_dict(subprocess_specs)
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class _TypedTaskConverter(TaskConverter):
    """SpiffWorkflow 3.2's task converter stores task data (and its deltas) unconverted, so a date or
    a Decimal would be written by ``json_default`` as a string and come back as one. Convert them."""

    def to_dict(self, task):  # noqa: ANN001
        dct = super().to_dict(task)
        if dct["data"]:
            dct["data"] = self.registry.convert(dct["data"])
        if dct["delta"] and dct["delta"].get("updates"):
            dct["delta"]["updates"] = self.registry.convert(dct["delta"]["updates"])
        return dct


def _make_registry():
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SpecInjectingConverter
    config[Task] = _TypedTaskConverter
    registry = BpmnWorkflowSerializer.configure(config)
    # Dates and decimals in task data survive a round trip instead of failing to serialize.
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda d: date.fromisoformat(d["value"]),
                      typename="date")
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda d: Decimal(d["value"]), typename="Decimal")
    return registry


_REGISTRY = _make_registry()
_SPEC_REGISTRY = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)


def json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"value of type {type(value).__name__} cannot be stored in task data")


def spec_to_dict(spec, subprocess_specs: dict) -> dict[str, Any]:  # noqa: ANN001
    return {
        "spec": _SPEC_REGISTRY.convert(spec),
        "subprocess_specs": {name: _SPEC_REGISTRY.convert(s) for name, s in subprocess_specs.items()},
    }


def spec_from_dict(dct: dict[str, Any]):  # noqa: ANN201
    spec = _SPEC_REGISTRY.restore(copy.deepcopy(dct["spec"]))
    subprocess_specs = {
        name: _SPEC_REGISTRY.restore(copy.deepcopy(s)) for name, s in dct["subprocess_specs"].items()
    }
    return spec, subprocess_specs


def state_to_json(workflow: BpmnWorkflow) -> str:
    """The instance's state as JSON text, without the spec.

    Encoded here, once, so a value that cannot be stored fails this step cleanly (as an
    EngineError) instead of failing later inside the database flush.
    """
    try:
        return json.dumps(_REGISTRY.convert(workflow), default=json_default, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise EngineError(f"task data cannot be stored: {exc}") from exc


def state_to_dict(workflow: BpmnWorkflow) -> dict[str, Any]:
    return json.loads(state_to_json(workflow))


def state_from_json(text: str, spec, subprocess_specs: dict, script_engine) -> BpmnWorkflow:  # noqa: ANN001
    """Restore from JSON text: freshly decoded, so no defensive deep copy is needed."""
    return _restore(json.loads(text), spec, subprocess_specs, script_engine)


def state_from_dict(state: dict[str, Any], spec, subprocess_specs: dict, script_engine) -> BpmnWorkflow:  # noqa: ANN001
    return _restore(copy.deepcopy(state), spec, subprocess_specs, script_engine)


def _restore(dct: dict[str, Any], spec, subprocess_specs: dict, script_engine) -> BpmnWorkflow:  # noqa: ANN001
    dct["spec"] = spec
    dct["subprocess_specs"] = subprocess_specs
    workflow = _REGISTRY.restore(dct)
    _attach_engine(workflow, script_engine)
    return workflow


def _attach_engine(workflow: BpmnWorkflow, script_engine) -> None:  # noqa: ANN001
    # Subprocesses read the top workflow's engine (their attribute is read-only in SpiffWorkflow 3.2).
    workflow.script_engine = script_engine


def new_workflow(spec, subprocess_specs: dict, script_engine, data: dict[str, Any] | None = None) -> BpmnWorkflow:  # noqa: ANN001
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)
    start = workflow.get_tasks(state=TaskState.READY)
    for task in start:
        task.data.update(copy.deepcopy(data or {}))
    return workflow


# -- stepping -----------------------------------------------------------------------------------

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


# -- human tasks --------------------------------------------------------------------------------

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


# -- timers and messages ------------------------------------------------------------------------

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
