"""An event-based gateway waiting on a timer and a message: both waits are written (a timer row and a
message subscription), and each branch can win."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.core.extensions import db
from app.definitions import operations as definitions
from app.engine import bundle as bundle_mod
from app.engine import clock
from app.instances import commands as instances
from app.instances.models import InstanceTimer, MessageSubscription
from tests.engine.conftest import fresh_instance

FIXTURE = Path(__file__).parent / "fixtures" / "interop" / "event_gateway.bpmn"


@pytest.fixture
def deployed_gateway(app):
    clock.reset()
    definitions.deploy([bundle_mod.BundleFile(FIXTURE.name, FIXTURE.read_bytes())], "admin")
    yield
    clock.reset()


def _waits(instance_id: int) -> tuple[list[InstanceTimer], list[MessageSubscription]]:
    db.session.expire_all()
    timers = list(db.session.scalars(select(InstanceTimer).where(InstanceTimer.instance_id == instance_id)))
    subs = list(db.session.scalars(select(MessageSubscription).where(MessageSubscription.instance_id == instance_id)))
    return timers, subs


def test_gateway_writes_a_timer_row_and_a_message_subscription(deployed_gateway, actors):
    instance = instances.start("await_reply", actors["maria"], {})
    timers, subs = _waits(instance.id)
    assert [t.element_id for t in timers] == ["wait"]
    assert timers[0].due_at - clock.now() > timedelta(hours=23)
    assert [s.name for s in subs] == ["supplier_reply"]


def test_the_timer_branch_wins_when_the_day_passes(deployed_gateway, actors):
    instance = instances.start("await_reply", actors["maria"], {})
    clock.advance(timedelta(days=1, minutes=1))
    instances.fire_due_timers(instance.id)
    inst = fresh_instance(instance.id)
    assert inst.status == "completed"
    assert instances.instance_data(inst)["outcome"] == "timed out"
    assert _waits(instance.id) == ([], [])


def test_the_message_branch_wins_when_the_reply_comes(deployed_gateway, actors):
    instance = instances.start("await_reply", actors["maria"], {})
    instances.start("send_reply", actors["maria"], {})
    inst = fresh_instance(instance.id)
    assert inst.status == "completed"
    assert instances.instance_data(inst)["outcome"] == "answered"
    assert _waits(instance.id) == ([], [])
