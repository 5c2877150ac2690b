"""Incidents and repairs: retry after the cause is fixed, skip the failed step, terminate,
stuck and overdue detection, message redelivery, scheduler and worker health."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.core.audit import AuditEntry
from app.core.errors import BadRequest, Conflict, StepFailed
from app.core.extensions import db
from app.definitions import operations as definitions
from app.engine import clock
from app.engine.runtime import OPERATORS, register_operator
from app.instances import commands as instances
from app.instances import events, heartbeats
from app.instances.models import Message, MessageStatus
from app.ops import operations

FIXTURES = Path(__file__).parent / "fixtures"
FINANCE = {"up": False, "calls": 0}


@pytest.fixture(autouse=True)
def _flaky_operator():
    @register_operator("test/Flaky")
    def flaky(call):  # noqa: ANN001, ANN202
        FINANCE["calls"] += 1
        if not FINANCE["up"]:
            raise ConnectionError("finance system unreachable")
        return {"booked": call.params["amount"]}

    FINANCE.update(up=False, calls=0)
    yield
    OPERATORS.pop("test/Flaky", None)
    clock.reset()


@pytest.fixture
def bundle(app):
    return definitions.deploy_directory([FIXTURES], "admin")


def _failed_instance(actors) -> int:  # noqa: ANN001
    with pytest.raises(StepFailed) as failure:
        instances.start("flaky_call", actors["petra"], {"amount": 1200})
    return failure.value.errors["instance_id"]


def test_a_failed_start_is_an_incident_with_message_task_and_audit(bundle, actors):
    instance_id = _failed_instance(actors)
    [incident] = operations.incidents()
    assert incident.id == instance_id and incident.status == "error"
    assert "finance system unreachable" in incident.error["message"]
    assert incident.error["element_id"] == "call"
    assert db.session.scalars(select(AuditEntry.action).where(AuditEntry.instance_id == instance_id)).all() == [
        "start_failed"]


def test_retry_after_the_cause_is_fixed_runs_the_step_once(bundle, actors):
    instance_id = _failed_instance(actors)
    with pytest.raises(StepFailed):
        operations.retry(instance_id, actors["admin"], "still down?")
    assert instances.get(instance_id).status == "error"
    FINANCE["up"] = True
    operations.retry(instance_id, actors["admin"], "finance back up")
    instance = instances.get(instance_id)
    assert instance.status == "running" and instance.error is None
    assert [t.title for t in instances.ready_tasks(instance_id)] == ["Check booking"]
    assert instances.task_data(instances.ready_tasks(instance_id)[0])["booking"] == {"booked": 1200}
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "retry")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry.actor == "admin" and entry.details["reason"] == "finance back up"


def test_skip_needs_a_reason_and_moves_past_the_failed_step(bundle, actors):
    instance_id = _failed_instance(actors)
    with pytest.raises(BadRequest):
        operations.skip(instance_id, actors["admin"], "  ")
    operations.skip(instance_id, actors["admin"], "booked by hand in finance")
    assert [t.title for t in instances.ready_tasks(instance_id)] == ["Check booking"]
    assert FINANCE["calls"] == 1  # skipping does not call the system again
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "skip_step")).one()
    assert entry.details["skipped"] == "call" and entry.details["reason"] == "booked by hand in finance"
    with pytest.raises(Conflict):
        operations.skip(instance_id, actors["admin"], "again")


def test_terminate_an_incident_with_a_reason(bundle, actors):
    instance_id = _failed_instance(actors)
    with pytest.raises(BadRequest):
        operations.terminate(instance_id, actors["admin"], "")
    operations.terminate(instance_id, actors["admin"], "project cancelled")
    assert instances.get(instance_id).status == "terminated"
    assert operations.incidents() == []


def test_stuck_and_overdue_detection(bundle, actors, app):
    FINANCE["up"] = True
    ok = instances.start("flaky_call", actors["petra"], {"amount": 5})
    assert operations.stuck() == []
    # A running instance waiting on nothing is stuck (made here by hand: its task row vanished).
    from app.instances.models import HumanTask

    db.session.query(HumanTask).filter(HumanTask.instance_id == ok.id).delete()
    db.session.commit()
    assert [i.id for i in operations.stuck()] == [ok.id]


def test_unmatched_messages_can_be_redelivered(bundle, actors):
    message = Message(name="nobody_listens", payload={"x": 1}, correlations={}, status=MessageStatus.UNMATCHED)
    db.session.add(message)
    db.session.commit()
    assert [m.id for m in operations.overview().unmatched_messages] == [message.id]
    again = operations.redeliver(message.id, actors["admin"], "receiver deployed")
    assert again.status == MessageStatus.UNMATCHED  # still nobody waits: kept, reported again
    with pytest.raises(Conflict):
        db.session.get(Message, message.id).status = MessageStatus.DELIVERED
        db.session.commit()
        operations.redeliver(message.id, actors["admin"])


def test_scheduler_status_reports_lag_and_heartbeats(app, actors):
    status = operations.scheduler_status()
    assert status["lag_seconds"] == 0 and status["schedulers"] == []
    heartbeats.beat("scheduler", "test")
    assert len(operations.scheduler_status()["schedulers"]) == 1
    assert operations.worker_status()["ok"]  # embedded: tasks run in-process


def test_overdue_timer_shows_up_when_no_scheduler_runs(app, actors):
    tests_events = Path(__file__).parents[1] / "instances" / "fixtures"
    definitions.deploy_directory([tests_events / "sla.bpmn"], "admin")
    instances.start("sla_approval", actors["maria"], {"project_id": 1})
    clock.advance(timedelta(days=30))
    assert len(operations.overdue_timers()) == 2
    assert operations.scheduler_status()["ok"] is False
    assert events.lag_seconds() > 0
