"""The script engine SpiffWorkflow runs every script, condition, timer expression and DMN cell
with: the sandbox (app/engine/sandbox.py) behind SpiffWorkflow's environment interface."""

from __future__ import annotations

import json
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from .errors import EngineError
from .operators import OPERATORS, OperatorCall
from .sandbox import Sandbox
from .serializer import json_default
from .spiff_globals import CURRENT_USER, SERVER_FUNCTIONS, TASK_URL, CurrentUser, TaskUrls
from .task_info import ready_human_tasks


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

    ``context`` carries what operators may need about the running instance (its id, the actor) and
    what SpiffArena's server functions answer: ``current_user`` (a zero-argument callable giving the
    acting user's values, asked only when a script calls ``get_current_user()``) and
    ``task_url`` (the absolute URL of a task page, with ``{task_id}`` in it).
    """

    def __init__(self, sandbox: Sandbox, context: dict[str, Any] | None = None) -> None:
        super().__init__(environment=SandboxEnvironment(sandbox))
        self.context = context or {}

    def evaluate(self, task, expression, external_context=None):  # noqa: ANN001, ANN201
        return super().evaluate(task, expression, self._with_server_functions(task, expression, external_context))

    def execute(self, task, script, external_context=None):  # noqa: ANN001, ANN201
        return super().execute(task, script, self._with_server_functions(task, script, external_context))

    def _with_server_functions(self, task, source: str | None, external: dict | None) -> dict | None:  # noqa: ANN001
        """``external`` plus the server functions ``source`` names, bound to plain values now."""
        if not source or not any(name in source for name in SERVER_FUNCTIONS):
            return external
        extra = dict(external or {})
        if CURRENT_USER in source:
            lookup = self.context.get("current_user")
            extra[CURRENT_USER] = CurrentUser(lookup() if callable(lookup) else lookup)
        if TASK_URL in source:
            extra[TASK_URL] = TaskUrls(self._ready_task_urls(task))
        return extra

    def _ready_task_urls(self, task) -> dict[str, str]:  # noqa: ANN001
        """{BPMN id: page URL} of the human tasks ready now in the whole instance (the first of each id)."""
        template = self.context.get("task_url")
        if not template or task is None:
            return {}
        urls: dict[str, str] = {}
        for info in ready_human_tasks(task.workflow.top_workflow):
            urls.setdefault(info.element_id, str(template).replace("{task_id}", info.id))
        return urls

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
