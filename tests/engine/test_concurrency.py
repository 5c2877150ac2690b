"""Concurrent writers on one instance, with real threads (each its own app context and session).

Runs on SQLite (BEGIN IMMEDIATE + optimistic version) and on PostgreSQL (SELECT ... FOR UPDATE +
optimistic version) alike: set PMO_TEST_DATABASE_URL for the latter.
"""

from __future__ import annotations

from collections import Counter

import pytest

from app.core.errors import Conflict, ServiceError
from app.core.extensions import db
from app.instances import commands as instances
from tests.engine.conftest import audit_entries, fresh_instance, ready
from tests.threads import run_together as _run_together

N = 8
REQUEST = {"title": "New laptop", "cost": 1200}
pytestmark = pytest.mark.postgres  # also meaningful there; not skipped on SQLite




def test_same_task_completed_by_many_clients_at_once(app, actors, deployed):
    maria = actors["maria"]
    instance = instances.start("simple_approval", maria)
    instance_id, [submit_id] = instance.id, [t.id for t in ready(instance.id)]
    lock_before = fresh_instance(instance_id).lock_version
    db.session.remove()

    def complete():
        return instances.complete(submit_id, maria, REQUEST).id

    results = _run_together(app, [complete] * N)
    winners = [r for r in results if r == instance_id]
    losers = [r for r in results if isinstance(r, ServiceError)]
    unexpected = [r for r in results if r not in winners and r not in losers]
    assert not unexpected, unexpected
    assert len(winners) == 1
    assert len(losers) == N - 1
    assert all(isinstance(r, Conflict) and r.status == 409 for r in losers), [repr(r) for r in losers]

    [approve] = ready(instance_id)
    assert approve.element_id == "approve"
    assert len(audit_entries(instance_id, "complete_task")) == 1
    assert fresh_instance(instance_id).lock_version == lock_before + 1
    assert instances.get_task(submit_id).status == "completed"


def test_two_tasks_of_one_instance_completed_at_once(app, actors, engine_deployed):
    maria = actors["maria"]
    instance = instances.start("parallel", maria)
    instance_id = instance.id
    tasks = {t.element_id: t.id for t in ready(instance_id)}
    assert set(tasks) == {"task_a", "task_b"}
    lock_before = fresh_instance(instance_id).lock_version
    db.session.remove()

    def complete(element):
        return lambda: instances.complete(tasks[element], maria, {f"from_{element}": element}).id

    results = _run_together(app, [complete("task_a"), complete("task_b")])
    assert results == [instance_id, instance_id], results

    [final] = ready(instance_id)  # both arrived at the join: no lost update
    assert final.element_id == "final"
    assert Counter(e.task_id for e in audit_entries(instance_id, "complete_task")) == Counter(tasks.values())
    assert fresh_instance(instance_id).lock_version == lock_before + 2
    data = instances.task_data(final)
    assert data["from_task_a"] == "task_a" and data["from_task_b"] == "task_b"


def test_claims_race_one_wins(app, actors, deployed):
    maria, paul = actors["maria"], actors["paul"]
    instance = instances.start("simple_approval", maria)
    instance_id, [submit_id] = instance.id, [t.id for t in ready(instance.id)]
    db.session.remove()

    def claim(actor):
        return lambda: instances.claim(submit_id, actor).assignee

    results = _run_together(app, [claim(maria), claim(paul)] * 2)
    assignee = instances.get_task(submit_id).assignee
    assert assignee in {"maria", "paul"}
    loser = "paul" if assignee == "maria" else "maria"
    for actor, result in zip(["maria", "paul"] * 2, results, strict=True):
        if actor == assignee:
            assert result == assignee
        else:
            assert isinstance(result, Conflict), (loser, result)
    assert {e.actor for e in audit_entries(instance_id, "claim")} == {assignee}
