"""Fixtures for the PMO lifecycle processes: the real workflows/ and forms/ deployed, and a driver
that completes tasks as the demo users through the instance service."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import app.projects  # noqa: F401 - registers the project tables and the pmo/... operators
from app.definitions import operations as definitions
from app.engine import clock
from app.instances import commands as instances
from app.people.actor import Actor

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"
FORMS = ROOT / "forms"

# Kept as a plain marker name for the timer-path tests (the timer service exists).
timer_service = pytest.mark.timers


@pytest.fixture(autouse=True)
def _reset_clock():
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
def pmo(app, actors):
    definitions.deploy_directory([WORKFLOWS, FORMS], "admin")
    return Driver(actors)


class Driver:
    """Finds ready tasks by element id and completes them as a named demo user."""

    def __init__(self, actors: dict[str, Actor]) -> None:
        self.actors = actors

    def tasks(self, instance_id: int, element_id: str | None = None) -> list:
        return [t for t in instances.ready_tasks(instance_id) if element_id is None or t.element_id == element_id]

    def ready(self, instance_id: int) -> list[str]:
        return sorted(t.element_id for t in instances.ready_tasks(instance_id))

    def task(self, instance_id: int, element_id: str):
        found = self.tasks(instance_id, element_id)
        assert found, f"no ready task '{element_id}'; ready: {self.ready(instance_id)}"
        return found[0]

    def do(self, user: str, instance_id: int, element_id: str, data: dict[str, Any] | None = None,
           task=None):  # noqa: ANN001
        task = task or self.task(instance_id, element_id)
        return instances.complete(task.id, self.actors[user], data or {})

    def start(self, key: str, user: str, data: dict[str, Any]):
        return instances.start(key, self.actors[user], data)

    def data(self, instance_id: int) -> dict[str, Any]:
        return instances.instance_data(instances.get(instance_id))

    def task_data(self, task) -> dict[str, Any]:  # noqa: ANN001
        return instances.task_data(task)

    def fire_timers(self, instance_id: int, days: float = 0) -> None:
        if days:
            clock.advance(timedelta(days=days))
        instances.fire_due_timers(instance_id)


def initiated_project(pmo: Driver, pm: str = "maria", code: str = "CRM-0042"):  # noqa: ANN201
    """A project through initiation (charter authorised, registered): now in planning."""
    from app.projects import operations as services
    from tests.projects.data import CHARTER, REGISTER, d

    project = services.create_project("Customer portal relaunch", pm, "sam", pmo.actors[pm])
    iid = project.lifecycle_instance_id
    pmo.do(pm, iid, "write_charter", d(CHARTER))
    pmo.do("sam", iid, "sponsor_review", {"sponsor_decision": "approve"})
    pmo.do("petra", iid, "register", d(REGISTER) | {"project_code": code})
    return project.id, iid
