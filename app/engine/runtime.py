"""The engine's surface for the instance commands: one import for what they call, each part in
the module named for its job.

- ``compaction`` dropping the finished tasks of earlier loop turns before a save
- ``errors``     EngineError: a failed step with its task, element and script line
- ``operators``  the service-task operator registry and external calls
- ``scripting``  the script engine (the sandbox behind SpiffWorkflow's environment)
- ``serializer`` state saved and restored without its spec
- ``stepping``   engine steps, completing a user task, cancelling, skipping a failed step
- ``task_info``  ready human tasks and task data
- ``progress``   per process: the steps completed, the current ones and the flows taken
- ``waits``      timers, message subscriptions, thrown and delivered messages

Everything here is pure engine work on objects in memory; the instance commands decide when to
load, step and save, inside one database transaction.
"""

from __future__ import annotations

from . import prediction  # noqa: F401 - the prediction horizon, installed on import
from .compaction import compact
from .errors import EngineError
from .operators import EXTERNAL_OPERATORS, OPERATORS, ExternalCall, Operator, OperatorCall, register_operator
from .progress import ProcessProgress, workflow_progress
from .scripting import PmoScriptEngine, SandboxEnvironment
from .serializer import (
    SERIALIZER_VERSION,
    json_default,
    new_workflow,
    spec_from_dict,
    spec_to_dict,
    state_from_dict,
    state_from_json,
    state_to_dict,
    state_to_json,
)
from .stepping import (
    advance,
    cancel,
    complete_user_task,
    external_call_params,
    find_task,
    pending_external_calls,
    skip_task,
    task_data_of,
)
from .task_info import (
    HumanTaskInfo,
    is_completed,
    parse_duration,
    ready_human_tasks,
    task_data,
    workflow_data,
)
from .waits import (
    WaitingTimer,
    correlations_match,
    deliver_message,
    message_start_names,
    thrown_messages,
    waiting_definitions,
    waiting_messages,
    waiting_timers,
)

__all__ = [
    "EXTERNAL_OPERATORS", "OPERATORS", "SERIALIZER_VERSION", "EngineError", "ExternalCall", "HumanTaskInfo",
    "Operator", "OperatorCall", "PmoScriptEngine", "ProcessProgress", "SandboxEnvironment", "WaitingTimer",
    "advance", "cancel", "compact",
    "complete_user_task", "correlations_match", "deliver_message", "external_call_params", "find_task",
    "is_completed", "json_default", "message_start_names", "new_workflow", "parse_duration",
    "pending_external_calls", "ready_human_tasks", "register_operator", "skip_task", "spec_from_dict",
    "spec_to_dict", "state_from_dict", "state_from_json", "state_to_dict", "state_to_json", "task_data",
    "task_data_of", "thrown_messages", "waiting_definitions", "waiting_messages", "waiting_timers", "workflow_data",
    "workflow_progress",
]
