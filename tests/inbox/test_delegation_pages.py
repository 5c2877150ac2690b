"""Claim, unclaim, assign, delegate (owner keeps watching), out-of-office stand-ins."""

from __future__ import annotations

from datetime import timedelta

from app.core.extensions import db
from app.core.models import utcnow
from app.inbox import delegation
from app.inbox.models import Delegation
from app.instances import commands as instances
from tests.support.web import start_purchase, submit_request


def _vote(actors, title="Scope change"):  # noqa: ANN001, ANN201
    return instances.ready_tasks(instances.start("ccb_vote", actors["maria"], {"title": title}).id)[0]


def test_claim_and_unclaim(login, actors):
    vote = _vote(actors)
    carla = login("carla")
    html = carla.html(f"/tasks/{vote.id}")
    assert "Claim this task" in html and 'name="f:vote"' in html
    response = carla.post(f"/tasks/{vote.id}/claim", {"back": "/inbox?view=mine"})
    assert response.status_code == 303 and response.headers["Location"] == "/inbox?view=mine"
    assert instances.get_task(vote.id).assignee == "carla"
    assert "CCB vote: Scope change" in carla.html("/inbox?view=mine")
    chen = login("chen")
    assert "Scope change" not in chen.html("/inbox?view=available")
    assert "claimed by carla" in chen.html(f"/tasks/{vote.id}")
    response = chen.post(f"/tasks/{vote.id}/claim", token_from=f"/tasks/{vote.id}")
    assert "already claimed by carla" in chen.html(response.headers["Location"])
    carla.post(f"/tasks/{vote.id}/unclaim", token_from=f"/tasks/{vote.id}")
    assert instances.get_task(vote.id).assignee is None
    assert "Scope change" in chen.html("/inbox?view=available")


def test_claim_then_vote(login, actors):
    vote = _vote(actors)
    carla = login("carla")
    carla.post(f"/tasks/{vote.id}/claim", token_from=f"/tasks/{vote.id}")
    response = carla.post(f"/tasks/{vote.id}", {"f:vote": "approve", "action": "complete"},
                          token_from=f"/tasks/{vote.id}")
    assert response.status_code == 303
    assert instances.get_task(vote.id).completed_by == "carla"


def test_assign_to_a_user_of_the_right_role(login, actors):
    vote = _vote(actors)
    petra = login("petra")  # PMO may assign
    html = petra.html(f"/tasks/{vote.id}")
    assert '<option value="carla"' in html and '<option value="chen"' in html and '<option value="sam"' not in html
    petra.post(f"/tasks/{vote.id}/assign", {"username": "chen"}, token_from=f"/tasks/{vote.id}")
    assert instances.get_task(vote.id).assignee == "chen"
    response = petra.post(f"/tasks/{vote.id}/assign", {"username": "sam"}, token_from=f"/tasks/{vote.id}")
    assert "may not take this task" in petra.html(response.headers["Location"])
    assert instances.get_task(vote.id).assignee == "chen"


def test_delegate_keeps_ownership_and_the_delegate_completes(login, actors):
    vote = _vote(actors)
    carla = login("carla")
    carla.post(f"/tasks/{vote.id}/claim", token_from=f"/tasks/{vote.id}")
    response = carla.post(f"/tasks/{vote.id}/delegate", {"delegate": "chen", "note": "I am in a workshop"},
                          token_from=f"/tasks/{vote.id}")
    assert response.status_code == 303
    assert instances.get_task(vote.id).assignee == "chen"
    html = carla.html("/inbox?view=delegated")
    assert 'data-count="delegated">1<' in html and "Delegated to chen" in html
    chen = login("chen")
    assert "CCB vote: Scope change" in chen.html("/inbox?view=mine")
    assert "Delegated by carla to chen" in chen.html(f"/tasks/{vote.id}")
    chen.post(f"/tasks/{vote.id}", {"f:vote": "reject", "f:comment": "Too expensive for now.", "action": "complete"},
              token_from=f"/tasks/{vote.id}")
    html = carla.html("/inbox?view=delegated")
    assert "completed by chen" in html
    assert "completed the task you delegated" in carla.html("/notifications")


def test_delegate_returns_the_task(login, actors):
    vote = _vote(actors)
    delegation.delegate(vote.id, actors["carla"], "chen")
    chen = login("chen")
    chen.post(f"/tasks/{vote.id}/return", token_from=f"/tasks/{vote.id}")
    assert instances.get_task(vote.id).assignee == "carla"
    assert db.session.query(Delegation).filter_by(task_id=vote.id).one().active is False


def test_cannot_delegate_to_self_or_others_task(login, actors):
    vote = _vote(actors)
    carla = login("carla")
    response = carla.post(f"/tasks/{vote.id}/delegate", {"delegate": "carla"}, token_from=f"/tasks/{vote.id}")
    assert "cannot delegate a task to yourself" in carla.html(response.headers["Location"])


def test_out_of_office_routes_new_tasks_to_the_stand_in(login, actors):
    # Issue 9 item 3 changed this: a stand-in must hold the task's role, and tasks offered to a role
    # stay with the role. The stand-in is chen (ccb_member), not petra (pmo, no role of these tasks).
    today = utcnow().date()
    sam = login("sam")
    response = sam.post("/account/out-of-office", {"stand_in": "chen", "starts_on": str(today),
                                                   "ends_on": str(today + timedelta(days=5))},
                        token_from="/account/out-of-office")
    assert response.status_code == 303
    assert "stand-in: <strong>chen</strong>" in sam.html("/account/out-of-office")
    # a task offered to sam's role (sponsor) stays with the role: chen is no sponsor
    instance = start_purchase(actors)
    submit_request(login("maria"), instance.id)
    review = instances.ready_tasks(instance.id)[0]
    chen = login("chen")
    assert "Approve purchase" not in chen.html("/inbox?view=available")
    assert "standing in for sam" in chen.html("/inbox")
    assert review.candidate_users == [] and review.candidate_roles == ["sponsor"]
    # a task assigned to sam by name in a lane chen holds goes to chen, and sam sees it under "Delegated by me"
    named = instances.start("ccb_vote", actors["maria"], {"title": "Named", "lane_owners": {"ccb_member": ["sam"]}})
    task = instances.ready_tasks(named.id)[0]
    assert task.assignee == "chen"
    assert "CCB vote: Named" in sam.html("/inbox?view=delegated")
    sam.post("/account/out-of-office", {"action": "cancel"}, token_from="/account/out-of-office")
    later = instances.ready_tasks(instances.start("ccb_vote", actors["maria"],
                                                  {"title": "Later", "lane_owners": {"ccb_member": ["sam"]}}).id)[0]
    assert later.assignee == "sam"


def test_out_of_office_form_errors(login):
    sam = login("sam")
    response = sam.post("/account/out-of-office", {"stand_in": "sam", "starts_on": "2030-01-05",
                                                   "ends_on": "2030-01-01"}, token_from="/account/out-of-office")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Your stand-in must be someone else" in html and "Must be after the start" in html
