"""Issue 16 item 21: whoever delegated a task can take it back (audited, the delegate notified)."""

from __future__ import annotations

from sqlalchemy import select

from app.core.audit import AuditEntry
from app.core.extensions import db
from app.inbox import delegation
from app.inbox.models import Delegation
from app.instances import commands as instances


def _vote(actors):  # noqa: ANN001, ANN201
    return instances.ready_tasks(instances.start("ccb_vote", actors["maria"], {"title": "Scope change"}).id)[0]


def test_the_owner_takes_a_delegated_task_back(login, actors):
    vote = _vote(actors)
    delegation.delegate(vote.id, actors["carla"], "chen", "while I am away")
    carla = login("carla")
    html = carla.html(f"/tasks/{vote.id}")
    assert f'action="/tasks/{vote.id}/take-back"' in html and "Take back from chen" in html
    assert "Take back" not in login("chen").html(f"/tasks/{vote.id}")
    response = carla.post(f"/tasks/{vote.id}/take-back", token_from=f"/tasks/{vote.id}")
    assert response.status_code == 303
    assert instances.get_task(vote.id).assignee == "carla"
    assert db.session.query(Delegation).filter_by(task_id=vote.id).one().active is False
    assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "take_back",
                                                       AuditEntry.task_id == vote.id)).first() is not None
    assert "took back a task they had delegated to you" in login("chen").html("/notifications")
    assert 'data-count="delegated">0<' in carla.html("/inbox?view=delegated")


def test_only_the_owner_takes_back(login, actors):
    vote = _vote(actors)
    delegation.delegate(vote.id, actors["carla"], "chen")
    response = login("petra").post(f"/tasks/{vote.id}/take-back", token_from="/inbox")
    assert response.status_code in (303, 403, 404)
    assert instances.get_task(vote.id).assignee == "chen"
