"""Moving a running workflow onto a new version of its process (SpiffWorkflow 3.2's ``util.diff``).

``check`` answers whether a workflow can move and why not, and what the move would do; ``migrate``
moves it in place. The rule is SpiffWorkflow's documented one, made stricter where forcing a move
is known to break an instance (studio.md, measured on 3.2.0):

- a task that is COMPLETED or STARTED (or failed) and whose spec changed or was removed blocks:
  the instance's history would no longer match its definition;
- a READY or WAITING task whose spec was removed always blocks: the saved state would not load;
- a running called process the new version does not hold blocks (its diff is None).

``migrate_workflow`` resets the branch of every READY and WAITING task from the new spec. That keeps
the READY task ids (claims, drafts and comments hang on them) but also clears what those tasks
carried: a multi-instance ballot's item and key, a waiting timer's due time. So the data and internal
data of tasks whose spec did not change are put back (an unchanged reminder keeps its due time, each
ballot its voter); a changed timer keeps the reset, i.e. it restarts from the migration time. Every
move is checked before it is kept: the READY tasks are the same, and the state loads with the new spec.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from .progress import pruned_record
from .serializer import _make_registry, state_from_json, state_to_json
from .waits import waiting_timers

_REGISTRY = _make_registry()
_DONE = TaskState.COMPLETED | TaskState.STARTED | TaskState.ERROR
_LIVE = TaskState.READY | TaskState.WAITING
_PASSED_REMOVED = "the instance has already passed this step, and the new version removes it"
_AHEAD = TaskState.FUTURE | TaskState.LIKELY | TaskState.MAYBE

# SpecDiff's attribute names in the words a process owner reads.
_WORDS = {"bpmn_name": "name", "prescript": "pre-script", "postscript": "post-script", "script": "script",
          "extensions": "properties (form, instructions, operator...)", "cond_task_specs": "conditions",
          "lane": "lane", "event_definition": "event or timer", "documentation": "documentation",
          "decision_ref": "called decision", "outputs": "what follows it", "inputs": "what leads to it",
          "default_task_spec": "default flow", "typename": "kind of step", "operation_name": "operator",
          "operation_params": "operator parameters", "spec": "called process", "bpmn_id": "id"}
_TEMPLATE = re.compile(r"\s*\{\{.*?\}\}|\s*\{%.*?%\}")


@dataclass(frozen=True)
class Blocker:
    """Why a workflow cannot move: the BPMN element (id and name) and the reason in plain words."""

    element: str
    name: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"element": self.element, "name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class Change:
    """What a move does to the workflow. ``kind``: changed (a step it is at), timer (a changed timer
    restarts from the migration), form (an open task's form changed), added (a new step), ahead (a
    step not reached yet changed)."""

    element: str
    name: str
    kind: str
    detail: str
    due_at: str = ""  # a restarting timer's new due time (ISO 8601), as the dry run found it
    what: str = ""  # changed and ahead: what changed, in words ("name, pre-script")

    def as_dict(self) -> dict[str, str]:
        out = {"element": self.element, "name": self.name, "kind": self.kind, "detail": self.detail,
               "what": self.what}
        if self.due_at:
            out["due_at"] = self.due_at
        return out


@dataclass
class MigrationCheck:
    blockers: list[Blocker] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    @property
    def movable(self) -> bool:
        return not self.blockers


class MigrationRefused(Exception):
    """The workflow cannot move (or the move would not load again): nothing is kept."""

    def __init__(self, blockers: list[Blocker]) -> None:
        super().__init__("; ".join(f"{b.name}: {b.reason}" for b in blockers))
        self.blockers = blockers


@dataclass
class Moved:
    """A move done: the timers that restart from the migration (element, name, new due time)."""

    restarted_timers: list[dict[str, str]] = field(default_factory=list)


def plain_name(name: str) -> str:
    """A step's name as people read it: a title template's placeholders become an ellipsis."""
    text = _TEMPLATE.sub(" …", name or "").strip()
    return text or name


def _kind(spec: Any) -> str:
    """What an unnamed element is, in words: ``ExclusiveGateway`` -> "exclusive gateway"."""
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", type(spec).__name__).lower()
    return words.replace("bpmn ", "").replace("spiff ", "") or "step"


def _element(spec: Any) -> tuple[str, str]:
    """(BPMN id, name) of a task spec; an internal spec (``pm_decision.BoundaryEventSplit``) is
    named by the element it belongs to, an unnamed one by what it is ("unnamed end event")."""
    bpmn_id = getattr(spec, "bpmn_id", None)
    owner = spec
    if not bpmn_id:
        bpmn_id = spec.name.split(".")[0].replace(" [child]", "")
        process = getattr(spec, "_wf_spec", None)
        owner = process.task_specs.get(bpmn_id, spec) if process is not None else spec
    name = getattr(owner, "bpmn_name", None)
    return bpmn_id, plain_name(name) if name else f"unnamed {_kind(owner)}"


def _attached_to(task: Any) -> str:
    """`` on 'Approve ...'`` for a boundary event (its parent is the split of the task it sits on)."""
    parent = task.parent
    if parent is not None and parent.task_spec.name.endswith(".BoundaryEventSplit"):
        return f" on '{_element(parent.task_spec)[1]}'"
    return ""


def _words(attributes: list[str]) -> str:
    return ", ".join(sorted({_WORDS.get(a, a.replace("_", " ")) for a in attributes})) or "its definition"


def _has_timer(spec: Any) -> bool:
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return any(isinstance(d, TimerEventDefinition) for d in definition.event_definitions)
    return isinstance(definition, TimerEventDefinition)


def _diffs(workflow: BpmnWorkflow, new_spec: Any, new_subprocess_specs: dict) -> tuple[Any, dict]:
    return diff_workflow(_REGISTRY, workflow, new_spec, new_subprocess_specs)


def _changed_attributes(diff: Any, task: Any) -> list[str]:
    new = diff.alignment.get(task)
    if new is None:
        return []
    old, new_dict = _REGISTRY.convert(task.task_spec), _REGISTRY.convert(new)
    if old.get("typename") != new_dict.get("typename"):
        return ["typename"]
    return [k for k, v in old.items() if new_dict.get(k) != v]


def blockers(workflow: BpmnWorkflow, new_spec: Any, new_subprocess_specs: dict,
             diffs: tuple[Any, dict] | None = None) -> list[Blocker]:
    """The documented rule (module docstring), each blocking element once. ``diffs``: diff_workflow's
    answer when the caller has it already (it is the costly part)."""
    top, subprocess_diffs = diffs or _diffs(workflow, new_spec, new_subprocess_specs)
    found: dict[tuple[str, str], Blocker] = {}

    def add(task: Any, reason: str) -> None:
        element, name = _element(task.task_spec)
        found.setdefault((element, reason), Blocker(element, name, reason))

    pairs = [(top, workflow)] + [(d, workflow.subprocesses[sp_id]) for sp_id, d in subprocess_diffs.items()]
    for sp_id, diff in subprocess_diffs.items():
        if diff is None:
            caller = next((t for t in workflow.get_tasks() if t.id == sp_id), None)
            called = workflow.subprocesses[sp_id].spec.name
            if caller is not None:
                add(caller, f"it is running the called process '{called}', which the new version does not include")
            else:
                found.setdefault((called, "missing"), Blocker(called, called, "a running called process is not "
                                                                            "included in the new version"))
    for diff, _owner in pairs:
        if diff is None:
            continue
        for task in diff.removed:
            if task.has_state(_LIVE):
                add(task, "the instance waits here and the new version removes this step: moving it would "
                          "save a state that can no longer be loaded")
            elif task.has_state(_DONE):
                add(task, _PASSED_REMOVED)
        for task in diff.changed:
            if task.has_state(_DONE) and task not in diff.removed:
                what = _words(_changed_attributes(diff, task))
                when = "is under way at" if task.has_state(TaskState.STARTED) else "has already passed"
                add(task, f"the instance {when} this step, and the new version changes it ({what})")
    _pruned_blockers(workflow, new_spec, new_subprocess_specs, found)
    return list(found.values())


def _pruned_blockers(workflow: BpmnWorkflow, new_spec: Any, new_subprocess_specs: dict,
                     found: dict[tuple[str, str], Blocker]) -> None:
    """Steps passed in loop turns that compaction dropped from the tree (their record keeps the element
    ids): a new version that removes one of them blocks, as it does for a step still in the tree."""
    old_specs = {workflow.spec.name: workflow.spec} | {s.spec.name: s.spec for s in workflow.subprocesses.values()}
    for process_id, entry in pruned_record(workflow).items():
        target = new_spec if process_id == workflow.spec.name else new_subprocess_specs.get(process_id)
        if target is None:
            continue
        present = {getattr(spec, "bpmn_id", None) for spec in target.task_specs.values()}
        old = old_specs.get(process_id)
        for element in entry["completed"]:
            if element in present:
                continue
            spec = next((s for s in old.task_specs.values() if getattr(s, "bpmn_id", None) == element), None) \
                if old is not None else None
            name = _element(spec)[1] if spec is not None else element
            found.setdefault((element, _PASSED_REMOVED), Blocker(element, name, _PASSED_REMOVED))


def _form_files(task: Any) -> set[str]:
    props = ((getattr(task.task_spec, "extensions", None) or {}).get("properties") or {})
    return {props[k] for k in ("formJsonSchemaFilename", "formUiSchemaFilename") if props.get(k)}


def changes(workflow: BpmnWorkflow, new_spec: Any, new_subprocess_specs: dict,
            changed_forms: frozenset[str] | set[str] = frozenset(),
            diffs: tuple[Any, dict] | None = None) -> list[Change]:
    """What the move would do, in plain words (see ``Change``). ``changed_forms``: the form files
    whose content differs between the two versions (a form is only a file name to the spec)."""
    top, subprocess_diffs = diffs or _diffs(workflow, new_spec, new_subprocess_specs)
    out: dict[tuple[str, str], Change] = {}

    def add(task_or_spec: Any, kind: str, detail: str, what: str = "") -> None:
        spec = getattr(task_or_spec, "task_spec", task_or_spec)
        element, name = _element(spec)
        out.setdefault((element, kind), Change(element, name, kind, detail, what=what))

    pairs = [(top, workflow, new_spec)] + [
        (d, workflow.subprocesses[sp_id], new_subprocess_specs.get(workflow.subprocesses[sp_id].spec.name))
        for sp_id, d in subprocess_diffs.items() if d is not None]
    for diff, owner, target in pairs:
        for task in diff.changed:
            attributes = _changed_attributes(diff, task)
            if task.has_state(TaskState.WAITING) and _has_timer(task.task_spec):
                add(task, "timer", f"timer '{_element(task.task_spec)[1]}'{_attached_to(task)} changed: it restarts "
                                   "from the migration, not from when it started")
            elif task.has_state(_LIVE):
                add(task, "changed", f"the open step changes ({_words(attributes)})", _words(attributes))
            elif task.has_state(_AHEAD):
                add(task, "ahead", f"changed in the new version ({_words(attributes)})", _words(attributes))
        for task in owner.get_tasks(state=TaskState.READY, skip_subprocesses=True):
            files = sorted(_form_files(task) & set(changed_forms))
            if files and task.task_spec.manual:
                add(task, "form", "changed (form): the open task shows the new form (" + ", ".join(files) + ")")
        if target is not None:
            for name in sorted(set(target.task_specs) - set(owner.spec.task_specs)):
                spec = target.task_specs[name]
                if getattr(spec, "bpmn_id", None):
                    add(spec, "added", "a new step in the new version")
    order = {"timer": 0, "form": 1, "changed": 2, "added": 3, "ahead": 4}
    return sorted(out.values(), key=lambda c: (order[c.kind], c.name.lower()))


def check(workflow: BpmnWorkflow, new_spec: Any, new_subprocess_specs: dict,
          changed_forms: frozenset[str] | set[str] = frozenset()) -> MigrationCheck:
    """Whether ``workflow`` can move to the new version, and what the move would do.

    A workflow the rule lets through is also moved on a copy, and the copy saved and loaded with the
    new spec: a move that would not load again (or whose READY tasks would not stay) is refused here,
    in the dry run, not found out when it is done. The copy tells the restarted timers' new due times.
    """
    diffs = _diffs(workflow, new_spec, new_subprocess_specs)
    result = MigrationCheck(blockers=blockers(workflow, new_spec, new_subprocess_specs, diffs))
    if not result.blockers:
        result.changes = changes(workflow, new_spec, new_subprocess_specs, changed_forms, diffs)
        trial = state_from_json(state_to_json(workflow), workflow.spec, workflow.subprocess_specs,
                                workflow.script_engine)
        try:
            moved = migrate(trial, new_spec, new_subprocess_specs)
        except MigrationRefused as refused:
            result.blockers = refused.blockers
            result.changes = []
        else:
            due = {t["element"]: t["due_at"] for t in moved.restarted_timers}
            result.changes = [Change(c.element, c.name, c.kind, c.detail, due[c.element], c.what)
                              if c.kind == "timer" and c.element in due else c for c in result.changes]
    return result


def _snapshot(workflow: Any) -> dict[Any, tuple[Any, dict, dict]]:
    """READY and WAITING tasks of one (sub)workflow: their spec, data and internal data."""
    return {task.id: (task.task_spec, copy.deepcopy(task.data), copy.deepcopy(task.internal_data))
            for task in workflow.get_tasks(state=_LIVE, skip_subprocesses=True)}


def _migrate_one(diff: Any, workflow: Any, spec: Any) -> list[str]:
    """Move one (sub)workflow; put back what the reset cleared on tasks whose spec did not change.
    Returns the ids of the waiting timer tasks that restart (their spec changed)."""
    before = _snapshot(workflow)
    changed = {task.id for task in diff.changed}
    migrate_workflow(diff, workflow, spec)
    restarted = []
    for task in workflow.get_tasks(state=_LIVE, skip_subprocesses=True):
        if task.id not in before:
            continue
        _old_spec, data, internal = before[task.id]
        if task.id not in changed:
            task.data = data
            task.internal_data = internal
        elif task.has_state(TaskState.READY) and "key_or_index" in internal:
            # A changed multi-instance ballot keeps whose it is (its item and key), or the vote breaks.
            task.data = data
            task.internal_data = internal
        elif task.has_state(TaskState.WAITING) and _has_timer(task.task_spec):
            restarted.append(str(task.id))
    return restarted


def migrate(workflow: BpmnWorkflow, new_spec: Any, new_subprocess_specs: dict) -> Moved:
    """Move ``workflow`` (in place) to ``new_spec``: the top workflow and each running called
    process with its own diff. Raises MigrationRefused when the rule blocks it or when the moved
    state would lose a READY task or not load again (the caller then drops the workflow)."""
    top, subprocess_diffs = _diffs(workflow, new_spec, new_subprocess_specs)
    refused = blockers(workflow, new_spec, new_subprocess_specs, (top, subprocess_diffs))
    if refused:
        raise MigrationRefused(refused)
    ready_before = {str(t.id): _element(t.task_spec) for t in workflow.get_tasks(state=TaskState.READY)}
    whole = (workflow.spec.name, workflow.spec.description or workflow.spec.name)
    try:
        restarted = _migrate_one(top, workflow, new_spec)
        for sp_id, diff in subprocess_diffs.items():
            subprocess = workflow.subprocesses[sp_id]
            restarted += _migrate_one(diff, subprocess, new_subprocess_specs[subprocess.spec.name])
        workflow.subprocess_specs = new_subprocess_specs
    except Exception as exc:  # noqa: BLE001 - e.g. a new pre-script failing: a refusal, not an incident
        raise MigrationRefused([Blocker(*whole, f"the move failed in the engine: {exc}")]) from exc
    ready_after = {str(t.id) for t in workflow.get_tasks(state=TaskState.READY)}
    lost = [ready_before[task_id] for task_id in ready_before if task_id not in ready_after]
    if lost:
        raise MigrationRefused([Blocker(element, name, "this open task would not stay open after the move")
                                for element, name in lost])
    try:
        state_from_json(state_to_json(workflow), new_spec, new_subprocess_specs, workflow.script_engine)
    except Exception as exc:  # noqa: BLE001 - whatever breaks the load, the move is not kept
        raise MigrationRefused([Blocker(*whole, f"the moved state would not load again: {exc}")]) from exc
    due = {t.task_id: t.due_at.isoformat() for t in waiting_timers(workflow)}
    moved = Moved()
    for task_id in restarted:
        element, name = _element(workflow.get_task_from_id(UUID(task_id)).task_spec)
        moved.restarted_timers.append({"task_id": task_id, "element": element, "name": name,
                                       "due_at": due.get(task_id, "")})
    return moved
