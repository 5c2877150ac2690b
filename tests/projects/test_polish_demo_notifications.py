"""Issue 16 item 8: seeded demo history does not notify. After ``pmo init --demo`` a demo user's
unread notices are the tasks waiting for them, not the steps the seeding completed as them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app.core.extensions import db
from app.definitions import operations as definitions
from app.inbox import notifications
from app.inbox.models import Notification, NotificationKind
from app.instances.models import HumanTask, TaskStatus
from app.projects import demo

ROOT = Path(__file__).resolve().parents[2]


def test_demo_notices_are_only_the_work_that_waits(app, actors):
    definitions.deploy_directory([ROOT / "workflows", ROOT / "forms"], "admin")
    demo.seed()
    notes = list(db.session.scalars(select(Notification)))
    assert notes
    for note in notes:
        task = db.session.get(HumanTask, note.task_id) if note.task_id else None
        assert note.kind == NotificationKind.NEW_TASK and task is not None and task.status == TaskStatus.READY, \
            (note.username, note.kind, note.title)
    assert notifications.unread_count("sam") == 1  # the charter waiting for his authorisation
    assert notifications.unread_count("rita") == 3  # three resource requests
    assert notifications.unread_count("maria") == 1  # the status report due
    assert notifications.unread_count("paul") == 0  # nothing waits for him


def test_work_after_seeding_still_notifies(app, actors):
    definitions.deploy_directory([ROOT / "workflows", ROOT / "forms"], "admin")
    demo.seed()
    from app.instances import commands as instances
    [charter] = [t for t in db.session.scalars(select(HumanTask).where(HumanTask.status == TaskStatus.READY))
                 if t.element_id == "sponsor_review"]
    instances.complete(charter.id, actors["sam"], {"sponsor_decision": "approve"})
    assert any("decided" in n.title for n in notifications.for_user("maria"))
