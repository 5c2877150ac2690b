"""Timers fire on the moved clock, exactly once; messages reach the right instance by correlation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.core.audit import AuditEntry
from app.core.extensions import db
from app.definitions import operations as definitions
from app.engine import clock
from app.instances import commands as instances
from app.instances import events, scheduler
from app.instances.models import HumanTask, InstanceTimer, Message, MessageStatus
from app.people.actor import Actor

FIXTURES = Path(__file__).parent / "fixtures"
MONDAY_9AM = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock_at_monday():
    clock.reset()
    clock.advance(MONDAY_9AM - clock.now())
    yield
    clock.reset()


@pytest.fixture
def bundle(app):
    return definitions.deploy_directory([FIXTURES], "admin")


def _open_titles(instance_id: int) -> list[str]:
    return [t.title for t in instances.ready_tasks(instance_id)]


def test_waiting_timers_are_indexed_with_working_day_due_times(bundle, actors):
    inst = instances.start("sla_approval", actors["maria"], {"project_id": 7})
    due = sorted(t.due_at for t in db.session.scalars(select(InstanceTimer)))
    # Monday 09:00 + 2 working days = Wednesday; + 5 working days = next Monday.
    assert [d.date().isoformat() for d in due] == ["2026-11-25", "2026-11-30"]
    assert not events.has_due_timer(inst.id)
    assert scheduler.run_once() == 0


def test_reminder_then_escalation_fire_when_the_clock_moves(bundle, actors):
    inst = instances.start("sla_approval", actors["maria"], {"project_id": 7})
    clock.advance(timedelta(days=2, minutes=1))  # Wednesday 09:01: reminder due, not escalation
    assert scheduler.run_once() == 1
    assert _open_titles(inst.id) == ["Approve"]
    assert instances.instance_data(instances.get(inst.id)).get("reminders") == 1
    clock.advance(timedelta(days=5))  # past the next Monday: escalation (interrupting)
    assert scheduler.run_once() == 1
    assert _open_titles(inst.id) == ["Escalated approval"]
    cancelled = db.session.scalars(select(HumanTask).where(HumanTask.title == "Approve")).one()
    assert cancelled.status == "cancelled"
    assert db.session.scalar(select(func.count()).select_from(InstanceTimer)) == 0


def test_a_due_timer_fires_once_with_two_schedulers_racing(app, bundle, actors):
    inst = instances.start("sla_approval", actors["maria"], {"project_id": 7})
    clock.advance(timedelta(days=2, minutes=1))
    barrier = threading.Barrier(2)
    results: list[object] = []
    instance_id = inst.id  # plain value: ORM objects belong to this thread's session
    db.session.commit()

    def race() -> None:
        with app.app_context():
            barrier.wait()
            try:
                results.append(instances.fire_due_timers(instance_id))
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                results.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=race) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == [False, True]
    db.session.rollback()
    fired = db.session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "timer_fired", AuditEntry.instance_id == inst.id))
    assert fired == 1
    assert instances.instance_data(instances.get(inst.id)).get("reminders") == 1


def test_suspended_instances_do_not_fire(bundle, actors):
    inst = instances.start("sla_approval", actors["maria"], {"project_id": 7})
    instances.suspend(inst.id, actors["admin"], "waiting for budget round")
    clock.advance(timedelta(days=10))
    assert scheduler.run_once() == 0
    assert _open_titles(inst.id) == ["Approve"]
    instances.resume(inst.id, actors["admin"])  # resuming fires what fell due meanwhile
    assert _open_titles(inst.id) == ["Escalated approval"]
    assert scheduler.run_once() == 0


def test_message_reaches_the_correlated_instance_after_commit(bundle, actors):
    waiter_7 = instances.start("project_waiter", actors["maria"], {"project_id": 7})
    waiter_8 = instances.start("project_waiter", actors["maria"], {"project_id": 8})
    sla = instances.start("sla_approval", actors["maria"], {"project_id": 8})
    task = instances.ready_tasks(sla.id)[0]
    instances.complete(task.id, actors["sam"], {"decision": "approve"})
    assert instances.get(waiter_8.id).status == "completed"
    assert instances.instance_data(instances.get(waiter_8.id))["decided"] == {"project_id": 8, "decision": "approve"}
    assert instances.get(waiter_7.id).status == "running"
    message = db.session.scalars(select(Message)).one()
    assert message.status == MessageStatus.DELIVERED and message.delivered_to == [waiter_8.id]


def test_a_message_nobody_waits_for_is_kept_and_reported(bundle, actors):
    sla = instances.start("sla_approval", actors["maria"], {"project_id": 99})
    task = instances.ready_tasks(sla.id)[0]
    instances.complete(task.id, actors["sam"], {"decision": "reject"})
    [message] = events.unmatched_messages()
    assert message.name == "change_decided" and message.payload == {"project_id": 99, "decision": "reject"}


def test_a_step_that_fails_sends_no_message(bundle, actors):
    instances.start("project_waiter", actors["maria"], {"project_id": 5})
    sla = instances.start("sla_approval", actors["maria"], {"project_id": 5})
    task = instances.ready_tasks(sla.id)[0]
    # No "decision" in the data: the payload expression fails, the step rolls back whole.
    with pytest.raises(instances.StepFailed):
        instances.complete(task.id, Actor("sam", frozenset({"sponsor"})), {})
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0
    assert instances.get(sla.id).status == "error"
