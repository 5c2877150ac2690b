"""Service-task operators (``<spiffworkflow:serviceTaskOperator id="pmo/...">``): the registry
domains add their operators to, and the calls the engine hands out to run outside a step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class OperatorCall:
    """What a service-task operator receives: its evaluated parameters and the task's context."""

    params: dict[str, Any]
    data: dict[str, Any]
    context: dict[str, Any]


Operator = Callable[[OperatorCall], Any]


OPERATORS: dict[str, Operator] = {}
# The parameter names each operator reads, for the studio's picker (a service task's parameters).
OPERATOR_PARAMETERS: dict[str, tuple[str, ...]] = {}


# Operators that call out of the application (a finance system, e-mail, ...). They never run
# inside an instance's transaction: the engine pauses before their service task, the step
# commits, and a background worker calls them with retries (app/tasks.py: pmo.run_external).
EXTERNAL_OPERATORS: set[str] = set()


def register_operator(name: str, *, external: bool = False,
                      parameters: tuple[str, ...] = ()) -> Callable[[Operator], Operator]:
    """Register a named service-task operator (``<spiffworkflow:serviceTaskOperator id=...>``).

    ``external=True`` for operators that call other systems: see EXTERNAL_OPERATORS.
    ``parameters``: the names it reads, offered by the studio's editor.
    """

    def decorator(fn: Operator) -> Operator:
        OPERATORS[name] = fn
        OPERATOR_PARAMETERS[name] = tuple(parameters)
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
