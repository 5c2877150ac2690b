"""A horizon for SpiffWorkflow's prediction, so starting a large process costs what it runs.

On every start and step SpiffWorkflow predicts the rest of the diagram: ``TaskSpec._predict`` walks
on as long as tasks are definite (FUTURE), so a 5,000-element chain gets 5,000 predicted tasks on
its first start (94 s measured, and a RecursionError on long chains: one Python frame per element).
Nothing in the application reads predictions beyond the next few steps (the diagram marks what was
reached, migration compares what is live), so prediction stops ``HORIZON`` steps ahead. A task that
completes without children because prediction stopped before it gets them then, as prediction
would have given them.
"""

from __future__ import annotations

from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.util.task import TaskState

HORIZON = 8

_predict = TaskSpec._predict
_on_complete = TaskSpec._on_complete


def _bounded_predict(self, my_task, seen=None, looked_ahead=0, mask=TaskState.PREDICTED_MASK):  # noqa: ANN001, ANN202
    if looked_ahead >= HORIZON:
        return None
    return _predict(self, my_task, seen, looked_ahead, mask)


def _on_complete_with_children(self, my_task):  # noqa: ANN001, ANN202
    if not my_task.children and self.outputs:
        # Beyond the horizon when predicted: the step's children, as prediction makes them.
        self._on_complete_hook(my_task)
        if not my_task.children:
            my_task._sync_children(self.outputs, TaskState.FUTURE)
            for child in my_task.children:
                child.task_spec._predict(child, mask=TaskState.FUTURE | TaskState.PREDICTED_MASK)
        for child in my_task.children:
            if not child.has_state(TaskState.FINISHED_MASK):
                child.task_spec._update(child)
        my_task.workflow._task_completed_notify(my_task)
        return None
    return _on_complete(self, my_task)


def install() -> None:
    """Put the horizon in place (once, at import of the engine)."""
    TaskSpec._predict = _bounded_predict
    TaskSpec._on_complete = _on_complete_with_children


install()
