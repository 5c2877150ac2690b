"""Where a running workflow stands, per BPMN process: what it completed, where it is now and the
sequence flows it took — what a process diagram marks for the people following it."""

from __future__ import annotations

from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState

# A task in one of these states has been reached by the token (not only predicted).
_REACHED = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.COMPLETED | TaskState.ERROR
# ...and in one of these the process stands there now (ERROR: a failed step holds it).
_CURRENT = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


# Where compaction (``compaction.compact``) records what the tasks it dropped told, in the top
# workflow's root task's internal data: {process id: {"completed": [element ids], "flows":
# [[source, target], ...], "calls": {call activity id: called process id}}}.
PRUNED_KEY = "pmo_pruned"


def pruned_record(workflow: BpmnWorkflow) -> dict[str, dict]:
    """What compaction dropped, per process (empty when it dropped nothing)."""
    root = workflow.task_tree
    return (root.internal_data.get(PRUNED_KEY) or {}) if root is not None else {}


@dataclass
class ProcessProgress:
    """One BPMN process of a workflow (the top one or a called one), all its runs together.

    ``flows`` are (source element id, target element id) pairs: SpiffWorkflow keeps no sequence
    flow ids in its specs, so the diagram's side matches them to the flows of the BPMN file.
    """

    process_id: str
    completed: set[str] = field(default_factory=set)
    current: set[str] = field(default_factory=set)
    flows: set[tuple[str, str]] = field(default_factory=set)
    calls: dict[str, str] = field(default_factory=dict)  # call activity id -> called process id, once started


def _bpmn_parent(task):  # noqa: ANN001, ANN202
    """The nearest ancestor that is a BPMN element (skipping SpiffWorkflow's own helper tasks such
    as the start task and the boundary-event split and join); None at the root."""
    parent = task.parent
    while parent is not None and parent.task_spec.bpmn_id is None:
        parent = parent.parent
    return parent


def _task(workflow: BpmnWorkflow, task_id):  # noqa: ANN001, ANN202
    for wf in (workflow, *workflow.subprocesses.values()):
        if task_id in wf.tasks:
            return wf.tasks[task_id]
    return None


def _reached(task) -> bool:  # noqa: ANN001
    if task.state & _REACHED:
        return True
    # A parallel (or inclusive) join keeps one task per arriving branch and cancels all but the one
    # that goes on: a cancelled join task whose source completed was reached all the same.
    return task.state == TaskState.CANCELLED and isinstance(task.task_spec, Join)


def _passed(task) -> bool:  # noqa: ANN001
    """The token went on from this task: it completed, or it is a boundary event that fired and
    stays armed (a timer cycle, a non-interrupting event) with a branch already reached."""
    if task.state == TaskState.COMPLETED:
        return True
    return (task.state == TaskState.WAITING and isinstance(task.task_spec, BoundaryEvent)
            and any(_reached(child) for child in task.children))


def workflow_progress(workflow: BpmnWorkflow) -> dict[str, ProcessProgress]:
    """Per process id (the top process first, then the called ones, shallowest first), the
    element ids completed, the ones current and the sequence flows taken, read from the task tree.

    - **completed**: a task of the element is COMPLETED (or, for a boundary event that stays
      armed, fired: a branch after it was reached); an element that is current again (a loop
      back, a second run of a called process) counts as current only.
    - **current**: a task of the element is READY, WAITING, STARTED (a running call activity or
      subprocess) or ERROR. Boundary events waiting beside their activity are armed, not where the
      process stands, and are left out.
    - **flows**: a flow source → target is taken when a task of the target was reached (any state
      but predicted or cancelled; a cancelled parallel join counts, see ``_reached``) and its nearest
      BPMN ancestor in the tree — the task it came from — passed (completed, or a boundary event
      that fired). Helper tasks between them (SpiffWorkflow's boundary-event split and join) are
      skipped; a boundary event's pair with the step before its activity is no flow of the diagram
      and is dropped when the pairs are matched to the file's sequence flows.

    Embedded subprocesses are drawn inside their process, so their elements count for it; a call
    activity's process is its own entry. One walk over the tasks already in memory: no parsing,
    no copy of the state.
    """
    found = progress_of(workflow)
    for process_id, entry in pruned_record(workflow).items():
        progress = found.setdefault(process_id, ProcessProgress(process_id))
        progress.completed.update(entry["completed"])
        progress.flows.update(tuple(f) for f in entry["flows"])
        for call, called in entry["calls"].items():
            progress.calls.setdefault(call, called)
    for progress in found.values():
        progress.completed -= progress.current
    return found


def progress_of(workflow: BpmnWorkflow, only: set | None = None) -> dict[str, ProcessProgress]:
    """The walk behind ``workflow_progress``, without the record of compacted tasks. ``only``: count
    just these task ids (an element completed by one of them, a flow into or out of one of them):
    what compaction records before it drops them."""
    found: dict[str, ProcessProgress] = {}
    top = workflow.spec.name
    found[top] = ProcessProgress(top)
    owner_of: dict[int, str] = {id(workflow): top}  # workflow -> the process its elements are drawn in
    # Parents before children: a subprocess's depth counts the workflows above it.
    for sub in sorted(workflow.subprocesses.values(), key=lambda s: s.depth):
        parent_task = _task(workflow, sub.parent_task_id)
        if parent_task is None:
            continue
        parent_owner = owner_of.get(id(parent_task.workflow), top)
        if isinstance(parent_task.task_spec, CallActivity):
            owner_of[id(sub)] = sub.spec.name
            found.setdefault(sub.spec.name, ProcessProgress(sub.spec.name))
            found[parent_owner].calls[parent_task.task_spec.bpmn_id] = sub.spec.name
        else:
            owner_of[id(sub)] = parent_owner
    for wf in (workflow, *workflow.subprocesses.values()):
        if id(wf) not in owner_of:
            continue
        progress = found[owner_of[id(wf)]]
        for task in wf.tasks.values():
            element = task.task_spec.bpmn_id
            if element is None:
                continue
            counted = only is None or task.id in only
            armed = task.state == TaskState.WAITING and isinstance(task.task_spec, BoundaryEvent)
            if _passed(task):
                if counted:
                    progress.completed.add(element)
            elif task.state & _CURRENT and not armed and counted:
                progress.current.add(element)
            if _reached(task):
                source = _bpmn_parent(task)
                # A multi-instance step's instances are children of the step itself: no flow.
                if (source is not None and _passed(source) and source.task_spec.bpmn_id != element
                        and (counted or source.id in only)):
                    progress.flows.add((source.task_spec.bpmn_id, element))
    return found
