"""Real workers and schedulers: exactly-once timers, and no lost step when a worker is killed."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select

from app.core.audit import AuditEntry
from app.core.extensions import db
from app.definitions import operations as definitions
from app.instances import commands as instances
from app.instances import scheduler
from app.instances.models import InstanceTimer
from tests.scaleout.conftest import wait_until

FIXTURES = Path(__file__).parent / "fixtures"


def _fired_count(instance_id: int) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "timer_fired", AuditEntry.instance_id == instance_id))


def _ready_titles(instance_id: int) -> list[str]:
    db.session.rollback()
    return [t.title for t in instances.ready_tasks(instance_id)]


def test_a_worker_killed_mid_step_loses_and_doubles_nothing(scaleout_app, workers, actors):
    definitions.deploy_directory([FIXTURES], "admin")
    inst = instances.start("slow_after_timer", actors["petra"], {"wait_for": "PT0.5S", "slow_seconds": 4})
    instance_id = inst.id
    first = workers.start("first")
    # The scheduler queues the due timer under a 3 s lease; the worker starts the 4 s step.
    assert wait_until(lambda: scheduler.run_once() > 0 or _leased(instance_id), timeout=30)
    assert wait_until(lambda: _leased(instance_id), timeout=10)
    assert wait_until(lambda: _worker_log_mentions(workers, "first", "pmo.fire_timers"), timeout=30)
    workers.kill9(first)  # mid-step: its transaction never commits
    assert _fired_count(instance_id) == 0 and _ready_titles(instance_id) == []
    workers.start("second")
    # Once the lease runs out the scheduler queues the still-due timer again.
    assert wait_until(lambda: (scheduler.run_once() >= 0) and _ready_titles(instance_id) == ["Review"],
                      timeout=60, interval=0.5)
    assert _fired_count(instance_id) == 1
    data = instances.instance_data(instances.get(instance_id))
    assert data["slow_runs"] == 1


def test_two_schedulers_and_two_workers_fire_each_timer_once(scaleout_app, workers, actors):
    definitions.deploy_directory([FIXTURES], "admin")
    ids = [instances.start("slow_after_timer", actors["petra"], {"wait_for": "PT0.2S", "slow_seconds": 0}).id
           for _ in range(20)]
    workers.start("w1")
    workers.start("w2")
    stop = threading.Event()

    def scheduler_loop() -> None:
        with scaleout_app.app_context():
            while not stop.is_set():
                scheduler.run_once()
                db.session.remove()
                stop.wait(0.1)

    threads = [threading.Thread(target=scheduler_loop) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        assert wait_until(lambda: all(_ready_titles(i) == ["Review"] for i in ids), timeout=60, interval=0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert [_fired_count(i) for i in ids] == [1] * 20
    assert db.session.scalar(select(func.count()).select_from(InstanceTimer)) == 0


def _leased(instance_id: int) -> bool:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(InstanceTimer).where(
        InstanceTimer.instance_id == instance_id, InstanceTimer.enqueued_at.is_not(None))) > 0


def _worker_log_mentions(workers, name: str, text: str) -> bool:  # noqa: ANN001
    log = workers.log_dir / f"worker-{name}.log"
    return log.exists() and text in log.read_text()
