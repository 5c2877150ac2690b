"""External service operators run in a worker, outside the instance's transaction, with retries
and back-off; the last failure becomes an incident an admin can retry."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from app.core.audit import AuditEntry
from app.core.extensions import db
from app.definitions import operations as definitions
from app.engine.runtime import EXTERNAL_OPERATORS, OPERATORS, register_operator
from app.instances import commands as instances
from app.instances.jobs import run_external
from app.ops import operations

FIXTURES = Path(__file__).parent / "fixtures"
FINANCE: dict = {}


@pytest.fixture(autouse=True)
def finance_system(app):
    FINANCE.clear()
    FINANCE.update(calls=[], fail_times=0, keys=[])
    app.config.update(EXTERNAL_MAX_RETRIES=2, EXTERNAL_RETRY_BACKOFF_SECONDS=0.01)

    @register_operator("test/BookBudget", external=True)
    def book(call):  # noqa: ANN001, ANN202
        FINANCE["calls"].append(call.params)
        FINANCE["keys"].append(call.context["idempotency_key"])
        # Called from a worker: never inside the instance's transaction.
        assert not db.session.dirty and not db.session.new
        if FINANCE["fail_times"] > 0:
            FINANCE["fail_times"] -= 1
            raise TimeoutError("finance system timed out")
        return {"reference": f"FIN-{call.params['amount']}", "cost_centre": call.params["cost_centre"]}

    definitions.deploy_directory([FIXTURES], "admin")
    yield
    OPERATORS.pop("test/BookBudget", None)
    EXTERNAL_OPERATORS.discard("test/BookBudget")


def _request(actors, data) -> int:  # noqa: ANN001
    inst = instances.start("budget_booking", actors["maria"], {})
    task = instances.ready_tasks(inst.id)[0]
    instances.complete(task.id, actors["maria"], data)
    return inst.id


def _actions(instance_id: int) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEntry.action).where(AuditEntry.instance_id == instance_id)
                                   .order_by(AuditEntry.id)))


def test_the_call_happens_after_the_step_commits_and_the_process_goes_on(actors):
    instance_id = _request(actors, {"amount": 5000, "cost_centre": "CC-42"})
    assert FINANCE["calls"] == [{"amount": 5000, "cost_centre": "CC-42"}]
    assert [t.title for t in instances.ready_tasks(instance_id)] == ["Confirm booking FIN-5000"]
    assert _actions(instance_id) == ["start", "complete_task", "external_call_done"]
    assert instances.get(instance_id).waiting["external"] == []


def test_retries_with_back_off_then_succeeds(actors):
    FINANCE["fail_times"] = 2
    instance_id = _request(actors, {"amount": 10, "cost_centre": "CC-1"})
    assert len(FINANCE["calls"]) == 3
    assert len(set(FINANCE["keys"])) == 1  # the same idempotency key on every attempt
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "external_call_done")).one()
    assert entry.details["attempts"] == 3
    assert instances.get(instance_id).status == "running"


def test_the_last_failure_is_an_incident_and_the_users_work_is_kept(actors):
    FINANCE["fail_times"] = 99
    instance_id = _request(actors, {"amount": 10, "cost_centre": "CC-1"})
    assert len(FINANCE["calls"]) == 3  # first try + EXTERNAL_MAX_RETRIES
    instance = instances.get(instance_id)
    assert instance.status == "error"
    assert "failed after 3 attempt(s)" in instance.error["message"] and instance.error["element_id"] == "book"
    assert [i.id for i in operations.incidents()] == [instance_id]
    # The PM's completed request is committed: nothing to redo for them.
    assert _actions(instance_id)[:2] == ["start", "complete_task"]
    FINANCE["fail_times"] = 0
    operations.retry(instance_id, actors["admin"], "finance back")
    assert instances.get(instance_id).status == "running"
    assert [t.title for t in instances.ready_tasks(instance_id)] == ["Confirm booking FIN-10"]


def test_a_redelivered_call_changes_nothing(actors):
    instance_id = _request(actors, {"amount": 7, "cost_centre": "CC-7"})
    calls = len(FINANCE["calls"])
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "external_call_done")).one()
    assert run_external.apply(args=(instance_id, entry.task_id)).get() == "nothing to do"
    assert len(FINANCE["calls"]) == calls
    assert _actions(instance_id).count("external_call_done") == 1
