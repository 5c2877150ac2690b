"""A step that failed inside the engine, as one error with its task, element and script line."""

from __future__ import annotations

import traceback
from typing import Any

from .sandbox import SCRIPT_FILENAME


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
