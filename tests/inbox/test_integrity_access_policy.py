"""One access policy for tasks (app/instances/access.py): the web inbox, the API inbox, the task page
and the commands agree. An excluded user (segregation of duties) never sees a task as available nor
claims or completes it; the API inbox used to list it to them."""

from __future__ import annotations

import pytest

from app.core.errors import Forbidden
from app.core.extensions import db
from app.inbox import delegation
from app.inbox import queries as inbox
from app.instances import commands as instances
from app.instances import queries
from app.people.models import UserRole
from tests.support.api import assert_problem
from tests.support.web import start_purchase, submit_request


def _review_raised_by_a_sponsor(login, actors, demo_users):  # noqa: ANN001, ANN201
    """maria (also a sponsor) raises a purchase: the sponsors' review excludes her."""
    demo_users["maria"].role_rows.append(UserRole(role="sponsor"))
    db.session.commit()
    actors["maria"] = instances.Actor.of(demo_users["maria"])
    instance = start_purchase(actors, "maria")
    submit_request(login("maria"), instance.id)
    [review] = instances.ready_tasks(instance.id)
    assert review.excluded_users == ["maria"] and review.candidate_roles == ["sponsor"]
    return instance, review


def test_the_api_inbox_does_not_offer_a_task_to_a_user_it_excludes(login, actors, demo_users, api):
    instance, review = _review_raised_by_a_sponsor(login, actors, demo_users)
    for status in ("ready", "all"):
        listed = api.get(f"/tasks?status={status}", "maria").get_json()
        assert review.id not in [t["id"] for t in listed["items"]], status
    assert review.id not in [t["id"] for t in api.get("/tasks?assigned=unassigned", "maria").get_json()["items"]]
    assert review.id in [t["id"] for t in api.get("/tasks", "sam").get_json()["items"]]
    # ... and the web inbox, the home page and the next-task link agree with it
    assert inbox.counts("maria", ["project_manager", "sponsor"])["available"] == 0
    assert review.id not in [t.id for t in inbox.open_tasks("maria", ["project_manager", "sponsor"])]
    assert inbox.next_task_for("maria", ["project_manager", "sponsor"], instance.id) is None
    assert queries.actionable_tasks(instance.id, actors["maria"]) == []
    # she can neither claim nor complete it, and the task is not hers to see through her role
    assert_problem(api.post(f"/tasks/{review.id}/claim", "maria"), 404)
    assert_problem(api.post(f"/tasks/{review.id}/complete", "maria", json={"data": {}}), 404)
    assert login("maria").get(f"/tasks/{review.id}").status_code == 404


def test_an_excluded_assignee_may_not_act_and_is_not_offered_it(login, actors, demo_users, api):
    instance, review = _review_raised_by_a_sponsor(login, actors, demo_users)
    row = db.session.get(type(review), review.id)
    row.assignee = "maria"  # e.g. named by the process itself: she still may not act on it
    db.session.commit()
    assert review.id not in [t["id"] for t in api.get("/tasks", "maria").get_json()["items"]]
    assert inbox.counts("maria", ["project_manager", "sponsor"])["mine"] == 0
    body = assert_problem(api.post(f"/tasks/{review.id}/complete", "maria", json={"data": {}}), 403)
    assert "segregation of duties" in body["detail"]
    with pytest.raises(Forbidden, match="segregation of duties"):
        delegation.delegate(review.id, actors["maria"], "sam")  # nor hand it on
    page = login("maria").html(f"/tasks/{review.id}")  # hers to see (and release), not to act on
    assert "Segregation of duties" in page and 'value="complete"' not in page


def test_an_instance_is_not_visible_through_a_task_that_excludes_the_user(login, actors, demo_users, api):
    instance, review = _review_raised_by_a_sponsor(login, actors, demo_users)
    path = f"/process-instances/{instance.id}"
    assert api.get(path, "maria").status_code == 200   # she started it
    assert api.get(path, "sam").status_code == 200     # offered the review
    demo_users["paul"].role_rows.append(UserRole(role="sponsor"))
    row = db.session.get(type(review), review.id)
    row.excluded_users = ["maria", "paul"]
    db.session.commit()
    assert_problem(api.get(path, "paul"), 404)         # offered it through his role, but kept out of it
    assert_problem(api.get(f"/tasks/{review.id}", "paul"), 404)
    assert api.get(path, "sam").status_code == 200
