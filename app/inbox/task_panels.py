"""Panels a task page shows beside its form, chosen by the task's process and step.

Some steps need figures from a domain above the inbox before someone decides: a resource request
needs the capacity it would take (``app/portfolio/panels.py``). The inbox cannot import those
domains, so they register a builder here for the (BPMN process id, step id) it serves, and the task
page asks ``panels_for``. A builder gets the task, its instance and the task's data, and decides for
itself who may see what (it answers None to show nothing); it reads its figures from its own tables.
A builder that fails shows nothing rather than breaking the page, as the business-key resolvers do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.core.extensions import db
from app.instances.models import HumanTask, ProcessInstance
from app.people.actor import Actor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Panel:
    """One panel: the Jinja template that draws it (given ``panel``) and what it draws."""

    template: str
    title: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PanelRequest:
    """What a builder may read: the task, its instance (with its business key) and the task's data."""

    task: HumanTask
    instance: ProcessInstance
    data: dict[str, Any]
    actor: Actor


Builder = Callable[[PanelRequest], Panel | None]

_BUILDERS: dict[tuple[str, str], list[Builder]] = {}


def register(process_id: str, step_id: str) -> Callable[[Builder], Builder]:
    """Decorator: show the builder's panel on the tasks of step ``step_id`` of process ``process_id``."""

    def add(builder: Builder) -> Builder:
        found = _BUILDERS.setdefault((process_id, step_id), [])
        if builder not in found:
            found.append(builder)
        return builder

    return add


def unregister(process_id: str, step_id: str) -> None:
    _BUILDERS.pop((process_id, step_id), None)


def step_of(task: HumanTask) -> tuple[str, str]:
    """The (process, step) a task is keyed by: the BPMN process it runs in (a called one too)."""
    return task.bpmn_process_id or task.process_key, task.element_id


def panels_for(task: HumanTask, instance: ProcessInstance, data: dict[str, Any], actor: Actor) -> list[Panel]:
    request = PanelRequest(task, instance, data, actor)
    panels = []
    for builder in list(_BUILDERS.get(step_of(task), ())):
        try:
            panel = builder(request)
        except Exception:  # noqa: BLE001 - a panel is extra: the task page still shows the task
            db.session.rollback()
            log.warning("task panel %r failed for task %s", getattr(builder, "__name__", builder), task.id,
                        exc_info=True)
            continue
        if panel is not None:
            panels.append(panel)
    return panels
