"""Process test scenarios: a process run in memory with the real engine and sandbox, driven by
the data a scenario gives, and compared with what the scenario expects.

A scenario file is ``test_<process>.json`` beside the BPMN (SpiffArena's "process model unit
tests", whose ``tasks``/``data`` and ``expected_output_json`` it keeps); docs/process-tests.md
describes the format. Nothing here touches the database: service tasks return what the scenario
says instead of calling their ``pmo/...`` operator, and timers fire on a simulated clock of the
scenario's own thread (``clock.simulated``), so moving it never fires a real timer. Every run is
bounded in engine steps and wall time, so a scenario never holds the server.
"""

from __future__ import annotations

import copy
import difflib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from . import clock
from .bundle import SCENARIO_FILE, Problem
from .errors import EngineError
from .sandbox import Sandbox, SandboxError
from .scripting import PmoScriptEngine
from .serializer import json_default, new_workflow
from .task_info import parse_duration
from .waits import waiting_messages, waiting_timers

# A fixed Monday morning: working-day timers fall on the same dates whenever the scenario runs.
DEFAULT_CLOCK = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MAX_ENGINE_STEPS = 5_000   # automatic steps of one scenario (a loop without a person in it stops here)
MAX_ACTIONS = 1_000        # completions, timer firings and messages of one scenario
MAX_SECONDS = 10.0         # wall time of one scenario
MAX_SCENARIOS = 200        # in one file
MAX_DEPTH = 64             # objects and lists inside each other (the comparisons recurse)
END_COMPLETED = "completed"
_TICK = timedelta(microseconds=1)
# A service result {"per_call": [first, second, ...]}: one answer per call, the last one repeating.
PER_CALL = "per_call"
STEP_KINDS = ("complete", "advance_clock", "fire_timer", "message")

# (task properties, the task's data, the submission) -> (data applied, reasons it is refused).
SubmissionCheck = Callable[[dict[str, str], dict[str, Any], dict[str, Any]], tuple[dict[str, Any], list[str]]]


# -- the format ---------------------------------------------------------------------------------

@dataclass
class Step:
    """One explicit step, in order: complete a task, move the clock, fire a timer, send a message."""

    index: int
    kind: str
    target: str = ""              # task, timer or message
    data: Any = None              # submission(s), message payload, duration
    correlations: dict[str, Any] = field(default_factory=dict)
    # complete: the form must refuse the data (naming these fields, if any); the task stays ready
    refused: list[str] | None = None

    def label(self) -> str:
        what = f"{self.kind} {self.data}" if self.kind == "advance_clock" else f"{self.kind} {self.target}"
        return f"steps[{self.index}] ({what})"


@dataclass
class Scenario:
    name: str
    file: str
    process: str
    description: str = ""
    start_data: dict[str, Any] = field(default_factory=dict)
    clock_start: datetime = DEFAULT_CLOCK
    # task ref -> submissions, consumed in order each time a task of that ref is ready
    tasks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # service task ref -> what its operator returns (the same every call, or {"per_call": [...]})
    results: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    expected_path: list[str] | None = None
    expected_exact_path: list[str] | None = None
    expected_not_visited: list[str] = field(default_factory=list)
    expected_end: str | None = None           # "completed" or "waiting"
    expected_waiting_at: list[str] = field(default_factory=list)
    expected_data: dict[str, Any] | None = None
    expected_output_json: dict[str, Any] | None = None  # SpiffArena's: the end data, exactly
    # service task ref -> the parameters of each call, in order (each a subset of what was passed)
    expected_calls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class Failure:
    """Why a scenario failed: at which step, on which task, expected against got."""

    scenario: str
    step: str
    message: str
    task: str | None = None

    def __str__(self) -> str:
        where = f"{self.step}" + (f", task {self.task}" if self.task else "")
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "step": self.step, "task": self.task, "message": self.message}


@dataclass
class Outcome:
    passed: bool
    path: list[str]
    failures: list[Failure]
    end: str                      # "completed", "waiting" or "failed"
    waiting_at: list[str]
    data: dict[str, Any]
    seconds: float


_SCENARIO_KEYS = {
    "description", "start_data", "clock", "tasks", "results", "steps", "expected_path", "expected_exact_path",
    "expected_not_visited", "expected_end", "expected_data", "expected_output_json", "expected_calls", "mocks",
}


def process_of(file_name: str) -> str | None:
    """The process (or BPMN file stem) a scenario file is for: ``test_<process>.json``."""
    match = SCENARIO_FILE.match(file_name.rsplit("/", 1)[-1])
    return match.group("process") if match else None


def _line_of(text: str, path: list[str]) -> int | None:
    """The line of the key ``path`` (each key searched after the one before it): for error messages."""
    position = 0
    for key in path:
        found = text.find(json.dumps(key) + ":", position)
        if found < 0:
            found = text.find(json.dumps(key), position)
        if found < 0:
            break
        position = found
    return text.count("\n", 0, position) + 1 if path else None


def _ref(key: str) -> str:
    """A task reference as written (``element``, ``process/element`` or SpiffArena's ``process:element``)."""
    return key.strip().replace(":", "/", 1)


class _Reader:
    """Reads one scenario file, collecting a Problem (file, line, field path) per mistake."""

    def __init__(self, file_name: str, text: str) -> None:
        self.file = file_name
        self.text = text
        self.problems: list[Problem] = []

    def problem(self, path: list[str], message: str) -> None:
        self.problems.append(Problem(self.file, _line_of(self.text, path), "/".join(path) or None, message))

    def obj(self, value: Any, path: list[str]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, f"must be a JSON object, not {_kind(value)}")
            return None
        return value

    def names(self, value: Any, path: list[str]) -> list[str] | None:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.problem(path, "must be a list of element ids (strings)")
            return None
        return [_ref(v) for v in value]

    def submissions(self, value: Any, path: list[str]) -> list[dict[str, Any]]:
        """A list of submissions; a list inside it is one multi-instance round (one per instance)."""
        if not isinstance(value, list):
            self.problem(path, f"must be a list of submissions (JSON objects), not {_kind(value)}")
            return []
        found: list[dict[str, Any]] = []
        for index, item in enumerate(value):
            for inner in (item if isinstance(item, list) else [item]):
                if isinstance(inner, dict):
                    found.append(inner)
                else:
                    self.problem([*path, str(index)], f"a submission must be a JSON object, not {_kind(inner)}")
        return found

    def scenario(self, name: str, raw: Any, process: str) -> Scenario | None:
        body = self.obj(raw, [name])
        if body is None:
            return None
        before = len(self.problems)
        for key in sorted(set(body) - _SCENARIO_KEYS):
            self.problem([name, key], f"unknown field '{key}' (known: {', '.join(sorted(_SCENARIO_KEYS))})")
        if "mocks" in body:
            self.problem([name, "mocks"], "SpiffArena's script mocks are not supported: scripts here run in the sandbox "
                                          "with the helpers every process has; give service results under 'results'")
        scenario = Scenario(name=name, file=self.file, process=process)
        description = body.get("description", "")
        if not isinstance(description, str):
            self.problem([name, "description"], "must be text")
        scenario.description = description if isinstance(description, str) else ""
        if "start_data" in body:
            scenario.start_data = self.obj(body["start_data"], [name, "start_data"]) or {}
        if "clock" in body:
            scenario.clock_start = self._moment(body["clock"], [name, "clock"]) or DEFAULT_CLOCK
        tasks = self.obj(body.get("tasks", {}), [name, "tasks"]) or {}
        for key, entry in tasks.items():
            where = [name, "tasks", key]
            entry = self.obj(entry, where)
            if entry is None:
                continue
            if set(entry) != {"data"}:
                self.problem(where, "a task entry holds exactly one field, 'data': the list of its submissions")
                continue
            scenario.tasks[_ref(key)] = self.submissions(entry["data"], [*where, "data"])
        results = self.obj(body.get("results", {}), [name, "results"]) or {}
        scenario.results = {_ref(key): value for key, value in results.items()}
        steps = body.get("steps", [])
        if not isinstance(steps, list):
            self.problem([name, "steps"], f"must be a list of steps, not {_kind(steps)}")
            steps = []
        for index, raw_step in enumerate(steps):
            step = self._step(index, raw_step, [name, "steps", str(index)])
            if step is not None:
                scenario.steps.append(step)
        for key in ("expected_path", "expected_exact_path"):
            if key in body:
                setattr(scenario, key, self.names(body[key], [name, key]))
        if "expected_not_visited" in body:
            scenario.expected_not_visited = self.names(body["expected_not_visited"], [name, "expected_not_visited"]) or []
        if "expected_end" in body:
            self._end(scenario, body["expected_end"], [name, "expected_end"])
        for key in ("expected_data", "expected_output_json"):
            if key in body:
                setattr(scenario, key, self.obj(body[key], [name, key]))
        calls = self.obj(body.get("expected_calls", {}), [name, "expected_calls"]) or {}
        for key, value in calls.items():
            scenario.expected_calls[_ref(key)] = self.submissions(value, [name, "expected_calls", key])
        if not any(k in body for k in ("expected_path", "expected_exact_path", "expected_end", "expected_data",
                                       "expected_output_json", "expected_not_visited", "expected_calls")) and not \
                any(isinstance(st, dict) and "expect_refused" in st for st in steps):
            self.problem([name], "expects nothing: give expected_path, expected_end or expected_data")
        return scenario if len(self.problems) == before else None

    def _moment(self, value: Any, path: list[str]) -> datetime | None:
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None:
            self.problem(path, "must be an ISO 8601 date and time, e.g. \"2026-03-02T09:00:00+00:00\"")
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def _step(self, index: int, raw: Any, path: list[str]) -> Step | None:
        body = self.obj(raw, path)
        if body is None:
            return None
        kinds = [k for k in STEP_KINDS if k in body]
        if len(kinds) != 1:
            self.problem(path, f"a step holds exactly one of {', '.join(STEP_KINDS)}")
            return None
        kind = kinds[0]
        allowed = {"complete": {"complete", "data", "expect_refused"}, "advance_clock": {"advance_clock"},
                   "fire_timer": {"fire_timer"}, "message": {"message", "payload", "correlations"}}[kind]
        for key in sorted(set(body) - allowed):
            self.problem([*path, key], f"a {kind} step takes only {', '.join(sorted(allowed))}")
        value = body[kind]
        if not isinstance(value, str) or not value.strip():
            self.problem([*path, kind], "must be text (an element id, a message name or a duration)")
            return None
        if kind == "complete":
            data = body.get("data", {})
            refused = body.get("expect_refused")
            if refused is not None and refused is not True and not (
                    isinstance(refused, list) and all(isinstance(f, str) for f in refused)):
                self.problem([*path, "expect_refused"], "must be true or a list of the fields the form must name")
            return Step(index, kind, _ref(value), self.submissions(data if isinstance(data, list) else [data],
                                                                    [*path, "data"]),
                        refused=None if refused is None else (refused if isinstance(refused, list) else []))
        if kind == "advance_clock":
            try:
                parse_duration(value.strip(), DEFAULT_CLOCK)
            except Exception:  # noqa: BLE001 - SpiffWorkflow's parser raises several kinds
                self.problem([*path, kind], f"'{value}' is not an ISO 8601 duration such as P3D or PT4H")
                return None
            return Step(index, kind, data=value.strip())
        if kind == "message":
            correlations = self.obj(body.get("correlations", {}), [*path, "correlations"]) or {}
            return Step(index, kind, value.strip(), body.get("payload"), correlations)
        return Step(index, kind, _ref(value))

    def _end(self, scenario: Scenario, value: Any, path: list[str]) -> None:
        if value == END_COMPLETED:
            scenario.expected_end = END_COMPLETED
            return
        if isinstance(value, dict) and set(value) == {"waiting_at"}:
            waiting = value["waiting_at"]
            names = self.names([waiting] if isinstance(waiting, str) else waiting, [*path, "waiting_at"])
            if names:
                scenario.expected_end, scenario.expected_waiting_at = "waiting", names
            return
        self.problem(path, "must be \"completed\" or {\"waiting_at\": [element ids]}")


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


def _too_deep(doc: Any, limit: int) -> bool:
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


def parse_scenarios(file_name: str, content: bytes, process: str | None = None) -> tuple[list[Scenario], list[Problem]]:
    """The scenarios of one file, or the problems (file, line, field) that make it unreadable."""
    reader = _Reader(file_name, "")
    try:
        reader.text = content.decode("utf-8")
        doc = json.loads(reader.text)
    except UnicodeDecodeError as exc:
        return [], [Problem(file_name, None, None, f"not UTF-8 text: {exc}")]
    except json.JSONDecodeError as exc:
        return [], [Problem(file_name, exc.lineno, None, f"not valid JSON: {exc.msg} (column {exc.colno})")]
    except RecursionError:
        return [], [Problem(file_name, None, None, "nested too deeply")]
    process = process or process_of(file_name) or ""
    if _too_deep(doc, MAX_DEPTH):
        return [], [Problem(file_name, None, None, f"nested more than {MAX_DEPTH} levels deep")]
    if isinstance(doc, dict) and len(doc) > MAX_SCENARIOS:
        return [], [Problem(file_name, 1, None, f"{len(doc)} scenarios: at most {MAX_SCENARIOS} in one file")]
    if not isinstance(doc, dict) or not doc:
        return [], [Problem(file_name, 1, None, "a scenario file holds a JSON object: scenario name -> scenario")]
    scenarios = [s for name, raw in doc.items() if (s := reader.scenario(name, raw, process)) is not None]
    return (scenarios if not reader.problems else []), reader.problems


# -- the run ------------------------------------------------------------------------------------

class _Stop(Exception):
    """The scenario cannot go on (a failure was recorded)."""


class _ScenarioEngine(PmoScriptEngine):
    """The app's script engine (the sandbox), with service tasks answered by the scenario."""

    def __init__(self, sandbox: Sandbox, run: _Run) -> None:
        super().__init__(sandbox, {"scenario": run.scenario.name})
        self.run = run

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):  # noqa: ANN001, ANN201
        params = {name: p["value"] for name, p in (operation_params or {}).items()}
        self.run.calls.setdefault(self.run.ref_of(task), []).append(_plain(params))
        return json.dumps(self.run.service_result(task), default=json_default)


class _Run:
    """One scenario's run: the workflow, the submissions left, the path so far and the failures."""

    def __init__(self, scenario: Scenario, spec: Any, subprocess_specs: dict[str, Any], sandbox: Sandbox,
                 check: SubmissionCheck | None, max_seconds: float) -> None:
        self.scenario = scenario
        self.spec = spec
        self.subprocess_specs = subprocess_specs
        self.sandbox = sandbox
        self.check = check
        self.deadline = time.monotonic() + max_seconds
        self.max_seconds = max_seconds
        self.failures: list[Failure] = []
        self.path: list[str] = []
        self.seen: set[Any] = set()
        self.pool = {ref: list(items) for ref, items in scenario.tasks.items()}
        self.used = {ref: 0 for ref in scenario.tasks}
        self.service_calls: dict[str, int] = {}
        self.calls: dict[str, list[dict[str, Any]]] = {}  # service task ref -> evaluated parameters per call
        self.engine_steps = 0
        self.actions = 0
        self.step = "start"
        self.workflow: BpmnWorkflow | None = None

    # -- helpers ------------------------------------------------------------------------------

    def fail(self, message: str, task: str | None = None) -> None:
        self.failures.append(Failure(self.scenario.name, self.step, message, task))

    def stop(self, message: str, task: str | None = None) -> None:
        self.fail(message, task)
        raise _Stop

    def ref_of(self, task: Task) -> str:
        """The element id, qualified with its process when it runs in a called process."""
        element = task.task_spec.bpmn_id or task.task_spec.name
        return element if task.workflow is self.workflow else f"{task.workflow.spec.name}/{element}"

    def keys_of(self, task: Task) -> list[str]:
        element = task.task_spec.bpmn_id or task.task_spec.name
        return [f"{task.workflow.spec.name}/{element}", element]

    def matches(self, task: Task, ref: str) -> bool:
        return ref in self.keys_of(task)

    def guard(self, task: Task) -> None:
        self.engine_steps += 1
        if self.engine_steps > MAX_ENGINE_STEPS:
            self.stop(f"more than {MAX_ENGINE_STEPS} automatic steps: a loop without a person or a timer in it?",
                      self.ref_of(task))
        if time.monotonic() > self.deadline:
            self.stop(f"the scenario ran longer than {self.max_seconds:g} s", self.ref_of(task))

    def count_action(self) -> None:
        self.actions += 1
        if self.actions > MAX_ACTIONS:
            self.stop(f"more than {MAX_ACTIONS} completions, timers and messages")
        if time.monotonic() > self.deadline:
            self.stop(f"the scenario ran longer than {self.max_seconds:g} s")

    def engine(self, action: Callable[[], Any]) -> None:
        """Run ``action`` and the engine steps after it; a failure stops the scenario, placed."""
        try:
            action()
            self.workflow.refresh_timers()
            self.workflow.do_engine_steps(will_complete_task=self.guard)
        except _Stop:
            raise
        except (SpiffWorkflowException, WorkflowException, SandboxError, EngineError) as exc:
            error = EngineError.wrap(exc)
            where = f" (line {error.line_number}: {error.error_line.strip()})" if error.line_number and \
                error.error_line else (f" (line {error.line_number})" if error.line_number else "")
            self.stop(f"the engine failed: {error.message}{where}", self._qualified(error.element_id))
        except Exception as exc:  # noqa: BLE001 - a bug in a helper must fail the scenario, not the caller
            self.stop(f"the engine failed: {type(exc).__name__}: {exc}")
        finally:
            self.collect()

    def _qualified(self, element: str | None) -> str | None:
        """The failed element as the scenario names it (with its process inside a called one)."""
        for task in _all_tasks(self.workflow):
            if task.state == TaskState.ERROR and task.task_spec.bpmn_id == element:
                return self.ref_of(task)
        return element

    def collect(self) -> None:
        """Add the tasks completed since the last look to the path, in the order they completed."""
        done = [t for t in _all_tasks(self.workflow) if t.state == TaskState.COMPLETED and t.id not in self.seen]
        for task in sorted(done, key=lambda t: t.last_state_change):
            self.seen.add(task.id)
            spec = task.task_spec
            # Internal tasks (start/end joins, boundary splits) have no BPMN id; a multi-instance
            # task's instances share the spec "<id> [child]" and the task counts once.
            if spec.bpmn_id and spec.name == spec.bpmn_id:
                self.path.append(self.ref_of(task))

    def timer_task(self, timer: Any) -> Task:
        return self.workflow.get_task_from_id(UUID(timer.task_id))

    def ready(self) -> list[Task]:
        return [t for t in _all_tasks(self.workflow) if t.state == TaskState.READY and t.task_spec.manual]

    def waiting_at(self) -> list[str]:
        refs = [self.ref_of(t) for t in self.ready()]
        refs += [self.ref_of(self.timer_task(t)) for t in waiting_timers(self.workflow)]
        refs += [f"message {name}" for name, _ in waiting_messages(self.workflow)]
        return list(dict.fromkeys(refs))

    # -- what the scenario answers ------------------------------------------------------------

    def service_result(self, task: Task) -> Any:
        """What the scenario says the task's operator returns (the operator itself is never called)."""
        for key in self.keys_of(task):
            if key in self.scenario.results:
                value = self.scenario.results[key]
                count = self.service_calls.get(key, 0)
                self.service_calls[key] = count + 1
                if isinstance(value, dict) and set(value) == {PER_CALL} and isinstance(value[PER_CALL], list):
                    answers = value[PER_CALL]
                    return copy.deepcopy(answers[min(count, len(answers) - 1)]) if answers else None
                return copy.deepcopy(value)
        for key in self.keys_of(task):  # SpiffArena's way: the task's "data" merged into its data
            if self.pool.get(key):
                task.data.update(copy.deepcopy(self.take(key)))
                # The engine sets the result variable from what this returns: keep a value given for it.
                return copy.deepcopy(task.data.get(getattr(task.task_spec, "result_variable", None) or ""))
        return None

    def take(self, key: str) -> dict[str, Any]:
        self.used[key] += 1
        return self.pool[key].pop(0)

    def expect_refusal(self, task: Task, submission: dict[str, Any], fields: list[str]) -> None:
        """The form must refuse ``submission`` (naming ``fields``); nothing is completed."""
        ref = self.ref_of(task)
        if self.check is None:
            self.stop("expect_refused needs the forms: run the scenario with its bundle", ref)
        reasons = self.check(_properties(task), copy.deepcopy(task.data), submission)[1]
        if not reasons:
            self.stop("expected the task's form to refuse the data; it accepted it", ref)
        named = {reason.split(":", 1)[0].split("/", 1)[0] for reason in reasons}
        missing = [f for f in fields if f not in named]
        if missing:
            self.stop(f"expected the form to refuse {', '.join(missing)}; it refused: {'; '.join(reasons)}", ref)

    def submit(self, task: Task, submission: dict[str, Any], label: str) -> None:
        ref = self.ref_of(task)
        self.step = label
        self.count_action()
        data = submission
        if self.check is not None:
            try:
                data, reasons = self.check(_properties(task), copy.deepcopy(task.data), submission)
            except Exception as exc:  # noqa: BLE001 - e.g. a form file that is not what it claims
                reasons = [f"the form could not be checked: {type(exc).__name__}: {exc}"]
            if reasons:
                self.stop("the task's form refuses the data: " + "; ".join(reasons), ref)

        def run() -> None:
            task.set_data(**copy.deepcopy(data))
            task.run()

        self.engine(run)

    # -- driving ------------------------------------------------------------------------------

    def auto_complete(self) -> None:
        """Complete every ready task the scenario's ``tasks`` still has data for, as they come."""
        progressed = True
        while progressed:
            progressed = False
            for task in self.ready():
                key = next((k for k in self.keys_of(task) if self.pool.get(k)), None)
                if key is not None:
                    number = self.used[key] + 1
                    self.submit(task, self.take(key), f"tasks.{key}.data[{number - 1}]")
                    progressed = True
                    break

    def do_step(self, step: Step) -> None:
        self.step = step.label()
        if step.kind == "complete":
            for number, submission in enumerate(step.data or [{}]):
                candidates = [t for t in self.ready() if self.matches(t, step.target)]
                if not candidates:
                    ready = ", ".join(self.ref_of(t) for t in self.ready()) or "none"
                    self.stop(f"expected task {step.target} to be ready (submission {number + 1}); "
                              f"got ready: {ready}", step.target)
                if step.refused is not None:
                    self.expect_refusal(candidates[0], submission, step.refused)
                    continue
                self.submit(candidates[0], submission, step.label())
        elif step.kind == "advance_clock":
            self.advance_clock(parse_duration(step.data, clock.now()))
        elif step.kind == "fire_timer":
            timers = [t for t in waiting_timers(self.workflow)
                      if self.matches(self.timer_task(t), step.target)]
            if not timers:
                waiting = ", ".join(self.ref_of(self.timer_task(t))
                                    for t in waiting_timers(self.workflow)) or "none"
                self.stop(f"expected timer {step.target} to be waiting; got waiting timers: {waiting}", step.target)
            self.advance_clock(max(timers[0].due_at, clock.now()))
        elif step.kind == "message":
            waiting = [name for name, _ in waiting_messages(self.workflow)]
            if step.target not in waiting:
                self.stop(f"expected a task waiting for message '{step.target}'; got waiting for: "
                          f"{', '.join(waiting) or 'no message'}")
            self.count_action()
            event = BpmnEvent(MessageEventDefinition(step.target), payload=copy.deepcopy(step.data),
                              correlations=copy.deepcopy(step.correlations))
            self.engine(lambda: self.workflow.send_event(event))

    def advance_clock(self, target: datetime) -> None:
        """Move the clock to ``target``, firing every timer due on the way at its own time."""
        while True:
            due = sorted(t.due_at for t in waiting_timers(self.workflow) if t.due_at <= target)
            if not due:
                break
            self.count_action()
            # A timer fires once the clock is past its due time (SpiffWorkflow compares with <).
            clock.set_simulated(max(due[0] + _TICK, clock.now()))
            self.engine(lambda: None)
        clock.set_simulated(max(target, clock.now()))
        self.engine(lambda: None)

    def run(self) -> Outcome:
        started = time.monotonic()
        end = "failed"
        waiting: list[str] = []
        data: dict[str, Any] = {}
        with clock.simulated(self.scenario.clock_start):
            try:
                self.check_references()
                engine = _ScenarioEngine(self.sandbox, self)
                self.workflow = new_workflow(self.spec, self.subprocess_specs, engine, self.scenario.start_data)
                self.engine(lambda: None)
                self.auto_complete()
                for step in self.scenario.steps:
                    self.do_step(step)
                    self.auto_complete()
                self.step = "end"
                end = END_COMPLETED if self.workflow.is_completed() else "waiting"
                waiting = self.waiting_at() if end == "waiting" else []
                data = _plain(self.workflow.data if end == END_COMPLETED else _last_data(self.workflow))
                self.check_expectations(end, waiting, data)
            except _Stop:
                end = "failed"
            except Exception as exc:  # noqa: BLE001 - e.g. a clock moved past the year 9999: this scenario fails
                end = "failed"
                self.fail(f"the scenario could not go on: {type(exc).__name__}: {exc}")
            if end == "failed" and self.workflow is not None:
                try:
                    waiting, data = self.waiting_at(), _plain(_last_data(self.workflow))
                except Exception:  # noqa: BLE001 - what is left is only for display
                    waiting, data = [], {}
        return Outcome(not self.failures, self.path, self.failures, end, waiting, data, time.monotonic() - started)

    # -- names ----------------------------------------------------------------------------------

    def check_references(self) -> None:
        """Every element the scenario names exists (and is of the kind it is used as): a typo is
        reported before the run, with the nearest names, not as a path that never got there."""
        top = self.spec.name
        kinds: dict[str, str] = {}
        for spec in [self.spec, *self.subprocess_specs.values()]:
            for task_spec in spec.task_specs.values():
                if task_spec.bpmn_id and task_spec.name == task_spec.bpmn_id:
                    kind = "user" if task_spec.manual or _is_multi_instance_of_manual(task_spec) else (
                        "service" if hasattr(task_spec, "operation_name") else "other")
                    kinds[task_spec.bpmn_id if spec is self.spec else f"{spec.name}/{task_spec.bpmn_id}"] = kind
                    kinds.setdefault(f"{spec.name}/{task_spec.bpmn_id}", kind)
                    kinds.setdefault(task_spec.bpmn_id, kind)
        s = self.scenario

        def local(ref: str) -> str:  # "change_request/submit" in change_request is "submit"
            return ref[len(top) + 1:] if ref.startswith(f"{top}/") else ref

        for attr in ("expected_path", "expected_exact_path", "expected_not_visited", "expected_waiting_at"):
            value = getattr(s, attr)
            if value:
                setattr(s, attr, [local(ref) for ref in value])
        anything = ("user", "service", "other")
        # (where it is named, the name, the kinds of element it may name, what it must be)
        uses: list[tuple[str, str, tuple[str, ...], str]] = [
            (f"tasks.{ref}", ref, ("user", "service"), "a user task (or a service task, SpiffArena's way)")
            for ref in s.tasks]
        uses += [(f"results.{ref}", ref, ("service",), "a service task") for ref in s.results]
        uses += [(f"expected_calls.{ref}", ref, ("service",), "a service task") for ref in s.expected_calls]
        uses += [(step.label(), step.target, ("user",) if step.kind == "complete" else anything, "a user task")
                 for step in s.steps if step.kind in ("complete", "fire_timer")]
        uses += [(attr, ref, anything, "") for attr in ("expected_path", "expected_exact_path", "expected_not_visited")
                 for ref in (getattr(s, attr) or [])]
        uses += [("expected_end", ref, anything, "") for ref in s.expected_waiting_at if not ref.startswith("message ")]
        for where, ref, allowed, what in uses:
            kind = kinds.get(ref)
            self.step = where
            if kind is None:
                near = difflib.get_close_matches(ref, list(kinds), n=3)
                self.fail(f"no element {ref} in {top} or the processes it calls"
                          + (f" (did you mean {', '.join(near)}?)" if near else ""), ref)
            elif kind not in allowed:
                self.fail(f"{ref} is not {what}", ref)
        if self.failures:
            raise _Stop

    # -- comparing --------------------------------------------------------------------------------

    def check_expectations(self, end: str, waiting: list[str], data: dict[str, Any]) -> None:
        s = self.scenario
        for key, items in self.pool.items():
            if items:
                self.step = f"tasks.{key}.data[{self.used[key]}]"
                self.fail(f"{len(items)} submission(s) never used: the task was not ready when they were due "
                          f"(the path never reached it again)", key)
        if s.expected_path is not None:
            self.step = "expected_path"
            position = 0
            for index, element in enumerate(s.expected_path):
                found = next((i for i in range(position, len(self.path)) if self.path[i] == element), None)
                if found is None:
                    after = f" after {s.expected_path[index - 1]}" if index else ""
                    self.step = f"expected_path[{index}]"
                    self.fail(f"expected {element}{after}; got path {_arrows(self.path[position:]) or '(nothing more)'}",
                              element)
                    break
                position = found + 1
        if s.expected_exact_path is not None and s.expected_exact_path != self.path:
            index = next((i for i, (a, b) in enumerate(zip(s.expected_exact_path, self.path, strict=False)) if a != b),
                         min(len(s.expected_exact_path), len(self.path)))
            want = s.expected_exact_path[index] if index < len(s.expected_exact_path) else "(the end)"
            got = self.path[index] if index < len(self.path) else "(the end)"
            self.step = f"expected_exact_path[{index}]"
            self.fail(f"expected {want}, got {got}; path taken: {_arrows(self.path)}", want)
        for element in s.expected_not_visited:
            if element in self.path:
                self.step = "expected_not_visited"
                self.fail(f"expected {element} not to be visited; got path {_arrows(self.path)}", element)
        if s.expected_end == END_COMPLETED and end != END_COMPLETED:
            self.step = "expected_end"
            self.fail(f"expected the process to complete; got waiting at {', '.join(waiting) or 'nothing'}"
                      " (no data left in the scenario for it)", waiting[0] if waiting else None)
        elif s.expected_end == "waiting":
            self.step = "expected_end"
            if end == END_COMPLETED:
                self.fail(f"expected waiting at {', '.join(s.expected_waiting_at)}; got completed")
            elif set(s.expected_waiting_at) != set(waiting):
                self.fail(f"expected waiting at {', '.join(s.expected_waiting_at)}; got waiting at "
                          f"{', '.join(waiting) or 'nothing'}")
        for ref, expected in s.expected_calls.items():
            self.step = f"expected_calls.{ref}"
            made = self.calls.get(ref) or self.calls.get(ref.rsplit("/", 1)[-1])
            if made is None:  # a bare id: the calls of that service task in whichever process it ran
                made = [call for key, calls in self.calls.items() if key.rsplit("/", 1)[-1] == ref for call in calls]
            if len(made) != len(expected):
                self.fail(f"expected {len(expected)} call(s), got {len(made)}", ref)
                continue
            for index, (want, got) in enumerate(zip(expected, made, strict=True)):
                for where, message in _subset_differences(want, got, f"call[{index}]"):
                    self.fail(f"{where}: {message}", ref)
        if s.expected_data is not None:
            self.step = "expected_data"
            for where, message in _subset_differences(s.expected_data, data, "data"):
                self.fail(f"{where}: {message}")
        if s.expected_output_json is not None and _plain(s.expected_output_json) != data:
            self.step = "expected_output_json"
            differences = _subset_differences(s.expected_output_json, data, "data")
            extra = sorted(set(data) - set(s.expected_output_json))
            detail = "; ".join(f"{w}: {m}" for w, m in differences[:5]) or f"unexpected keys {', '.join(extra[:10])}"
            self.fail(f"the end data is not exactly the expected output: {detail}")


def _properties(task: Task) -> dict[str, str]:
    """The task's ``spiffworkflow:property`` values (its form files, ``dataFields``, ...)."""
    return dict((getattr(task.task_spec, "extensions", None) or {}).get("properties") or {})


def _is_multi_instance_of_manual(task_spec: Any) -> bool:
    child = getattr(task_spec, "task_spec", None)  # a multi-instance task's instance spec (its name)
    spec = task_spec._wf_spec.task_specs.get(child) if isinstance(child, str) else None
    return bool(spec is not None and spec.manual)


def _all_tasks(workflow: BpmnWorkflow) -> list[Task]:
    """Every task of the workflow and its called processes. ``get_tasks(state=...)`` does not look
    below a task in a lower state, so it misses what a still-waiting cycle timer started (the
    status reports under the lifecycle's 14-day boundary timer)."""
    return [*workflow.tasks.values(), *(t for sub in workflow.subprocesses.values() for t in sub.tasks.values())]


def _last_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    """What a waiting process knows: the data of its ready tasks over that of its last step."""
    data: dict[str, Any] = dict(workflow.last_task.data) if workflow.last_task is not None else {}
    for task in _all_tasks(workflow):
        if task.state == TaskState.READY and task.task_spec.manual:
            data.update(task.data)
    return data


def _plain(value: Any) -> Any:
    """Data as JSON sees it (dates as text), so a scenario compares what it can write."""
    return json.loads(json.dumps(value, default=json_default))


def _arrows(path: list[str]) -> str:
    return " -> ".join(path)


def _subset_differences(expected: Any, got: Any, where: str) -> list[tuple[str, str]]:
    """Where ``got`` does not hold ``expected``: objects by their keys, lists item by item."""
    expected = _plain(expected)
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return [(where, f"expected an object, got {json.dumps(got)[:200]}")]
        found: list[tuple[str, str]] = []
        for key, value in expected.items():
            if key not in got:
                found.append((f"{where}.{key}", "expected a value, got none (not set)"))
            else:
                found.extend(_subset_differences(value, got[key], f"{where}.{key}"))
        return found
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            return [(where, f"expected {json.dumps(expected)[:200]}, got {json.dumps(got)[:200]}")]
        return [d for i, (e, g) in enumerate(zip(expected, got, strict=True))
                for d in _subset_differences(e, g, f"{where}[{i}]")]
    if expected != got or isinstance(expected, bool) != isinstance(got, bool):
        return [(where, f"expected {json.dumps(expected)}, got {json.dumps(got)[:200]}")]
    return []


def run_scenario(scenario: Scenario, spec: Any, subprocess_specs: dict[str, Any], sandbox: Sandbox, *,
                 check_submission: SubmissionCheck | None = None, max_seconds: float = MAX_SECONDS) -> Outcome:
    """Run one scenario against a parsed process spec (with its called processes) in memory."""
    return _Run(scenario, spec, subprocess_specs, sandbox, check_submission, max_seconds).run()
