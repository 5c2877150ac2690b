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
