"""Bounding what a workflow keeps of the steps it finished, so an instance that loops costs the same
at its 500th iteration as at its first.

SpiffWorkflow keeps every task it ever ran: a loop adds its tasks to the tree on every turn, one
level deeper each time. The state grows (~1.4 KB per turn), every load, walk and save grows with it,
and past ~1,000 levels the library's ``TaskIterator`` (``max_depth=1000``) stops looking: around the
334th turn of a three-step loop the ready task is no longer found and the workflow reports itself
completed. Compaction, run before each save:

- finds the *anchors*: every task not finished and not merely predicted (READY, WAITING, STARTED,
  FUTURE, ERROR), plus the workflow's ``last_task`` (its data is the instance's data);
- keeps their deepest common ancestor and ``KEEP_ABOVE`` finished steps above it (the step each
  current task came from, for the flows the diagram draws), with everything below;
- drops the rest of the tree (finished steps of earlier turns and the branches they ended) and
  hangs the kept subtree under the root. Called processes started by a dropped task go too.

What the dropped tasks told is kept in a compact record on the root task (``progress.PRUNED_KEY``): per
process, the element ids completed and the flows taken, and the call activities that called a
process — what ``progress.workflow_progress`` and ``migration.blockers`` read. The audit table keeps
every completion with its data; the instance's state only needs what can still run.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from .progress import PRUNED_KEY, progress_of, pruned_record

# Finished steps kept above the common ancestor of the current tasks.
KEEP_ABOVE = 2
# Below this many tasks a workflow is left alone: compaction would cost more than it saves.
MIN_TASKS = 30

_ANCHOR = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.FUTURE | TaskState.ERROR


def _ancestors(task) -> list:  # noqa: ANN001
    """``task`` and its ancestors, root last."""
    chain = []
    while task is not None:
        chain.append(task)
        task = task.parent
    return chain


def _cut(wf) -> Any | None:  # noqa: ANN001
    """The task whose subtree is kept, or None when nothing can be dropped."""
    anchors = [t for t in wf.tasks.values() if t.state & _ANCHOR]
    if wf.last_task is not None and wf.last_task.workflow is wf:
        anchors.append(wf.last_task)
    if not anchors:
        return None  # a finished workflow: its end is its data, nothing more runs
    common: list | None = None
    for anchor in anchors:
        chain = list(reversed(_ancestors(anchor)))  # root first
        if common is None:
            common = chain
            continue
        n = 0
        while n < len(common) and n < len(chain) and common[n] is chain[n]:
            n += 1
        common = common[:n]
    assert common  # every anchor descends from the root
    index = len(common) - 1 - KEEP_ABOVE
    # The root and its first child stay in place; below index 2 there is nothing to splice out.
    return common[index] if index >= 2 else None


def _subtree_ids(task) -> set[UUID]:  # noqa: ANN001
    ids, stack = set(), [task]
    while stack:
        t = stack.pop()
        ids.add(t.id)
        stack.extend(t.children)
    return ids


def compact(workflow: BpmnWorkflow) -> int:
    """Drop the finished tasks of earlier loop turns (see the module docstring); the number dropped."""
    plans = []  # (workflow, cut, kept ids)
    for wf in (workflow, *workflow.subprocesses.values()):
        if len(wf.tasks) < MIN_TASKS:
            continue
        cut = _cut(wf)
        if cut is not None:
            plans.append((wf, cut, _subtree_ids(cut) | {wf.task_tree.id}))
    if not plans:
        return 0
    removed: set[UUID] = set()
    for wf, _cut_task, kept in plans:
        removed.update(i for i in wf.tasks if i not in kept)
    # Called processes whose caller goes, and the ones they called, go with it.
    gone_subs: list = []
    changed = True
    while changed:
        changed = False
        for sp_id, sub in workflow.subprocesses.items():
            if sp_id in removed and sub not in gone_subs:
                gone_subs.append(sub)
                removed.update(sub.tasks)
                changed = True
    # Record what the dropped tasks told, while the tree is whole.
    dropped = progress_of(workflow, removed)
    record = pruned_record(workflow)
    for process_id, progress in dropped.items():
        entry = record.setdefault(process_id, {"completed": [], "flows": [], "calls": {}})
        entry["completed"] = sorted(set(entry["completed"]) | progress.completed)
        entry["flows"] = sorted({tuple(f) for f in entry["flows"]} | progress.flows)
        entry["flows"] = [list(f) for f in entry["flows"]]
        entry["calls"].update(progress.calls)
    # Splice: the kept subtree hangs under the root; every other task is forgotten.
    for wf, cut, kept in plans:
        root = wf.task_tree
        for task_id in [i for i in wf.tasks if i not in kept]:
            del wf.tasks[task_id]
        cut.parent = root
        root.children = [cut]
    for sub in gone_subs:
        del workflow.subprocesses[sub.parent_task_id]
    workflow.task_tree.internal_data[PRUNED_KEY] = record
    return len(removed)
