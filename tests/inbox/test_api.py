"""The inbox, task details, and claim / unclaim / assign / complete."""

from __future__ import annotations

from datetime import timedelta

from app.core.extensions import db
from app.core.models import utcnow
from app.instances.models import HumanTask
from app.people import operations as users
from tests.support.api import assert_problem


def _inbox(api, user: str, query: str = "") -> dict:  # noqa: ANN001
    r = api.get(f"/tasks{query}", user)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _approval_task(api) -> tuple[dict, str]:  # noqa: ANN001
    """An instance whose request maria submitted: the sponsor's approval task is ready."""
    instance = api.start()
    submit = instance["ready_tasks"][0]["id"]
    r = api.post(f"/tasks/{submit}/complete", "maria", json={"data": {"title": "Laptop", "cost": 1200}})
    assert r.status_code == 200, r.get_json()
    [task] = [t for t in _inbox(api, "sam")["items"] if t["instance_id"] == instance["id"]]
    return instance, task["id"]


def _second_sponsor() -> None:
    users.create("sue", "sue-secret-pw", ["sponsor"])


def test_inbox_shows_tasks_offered_to_my_roles(api, deployed):
    instance = api.start()
    body = _inbox(api, "maria")
    assert body["total"] == 1 and body["page"] == 1 and body["per_page"] == 50
    [task] = body["items"]
    assert task["instance_id"] == instance["id"] and task["candidate_roles"] == ["project_manager"]
    assert task["assignee"] is None and task["status"] == "ready" and task["overdue"] is False
    assert _inbox(api, "paul")["total"] == 1      # same role
    assert _inbox(api, "sam")["total"] == 0
    assert _inbox(api, "admin")["total"] == 0     # the inbox is personal, even for admins


def test_inbox_filters_sort_and_pagination(api, deployed):
    _approval_task(api)
    _, second = _approval_task(api)
    body = _inbox(api, "sam", "?per_page=1&sort=-created_at")
    assert body["total"] == 2 and len(body["items"]) == 1 and body["items"][0]["id"] == second
    second_page = _inbox(api, "sam", "?per_page=1&page=2&sort=-created_at")
    assert second_page["total"] == 2 and [t["id"] for t in second_page["items"]] != [second]
    past_the_end = _inbox(api, "sam", "?per_page=1&page=3")
    assert past_the_end["items"] == [] and past_the_end["total"] == 2   # the total is still told
    assert _inbox(api, "sam", "?process_key=simple_approval")["total"] == 2
    assert _inbox(api, "sam", "?process_key=other")["total"] == 0
    for sort in ("created_at", "due_at", "-due_at", "priority", "title"):
        assert _inbox(api, "sam", f"?sort={sort}")["total"] == 2
    # claimed by me / unassigned
    assert api.post(f"/tasks/{second}/claim", "sam").status_code == 200
    assert [t["id"] for t in _inbox(api, "sam", "?assigned=me")["items"]] == [second]
    assert second not in [t["id"] for t in _inbox(api, "sam", "?assigned=unassigned")["items"]]
    # overdue
    assert _inbox(api, "sam", "?overdue=true")["total"] == 0
    db.session.get(HumanTask, second).due_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    [late] = _inbox(api, "sam", "?overdue=true")["items"]
    assert late["id"] == second and late["overdue"] is True
    body = assert_problem(api.get("/tasks?sort=colour&assigned=you&per_page=201&status=open", "sam"), 422)
    assert set(body["errors"]) == {"sort", "assigned", "per_page", "status"}


def test_inbox_completed_and_all(api, deployed):
    _approval_task(api)
    done = _inbox(api, "maria", "?status=completed")["items"]
    assert [t["element_id"] for t in done] == ["submit"] and done[0]["completed_by"] == "maria"
    api.start()
    assert _inbox(api, "maria", "?status=all")["total"] == 2
    assert _inbox(api, "maria")["total"] == 1


def test_task_detail(api, deployed):
    api.start(data={"title": "Old"})
    [task] = _inbox(api, "maria")["items"]
    r = api.get(f"/tasks/{task['id']}", "maria")
    assert r.status_code == 200
    body = r.get_json()
    assert body["form_schema"]["required"] == ["title", "cost"]
    assert body["form_ui_schema"]["ui:order"] == ["title", "cost"]
    assert body["instructions"] == "Describe the **request**."
    assert body["instructions_html"].strip() == "<p>Describe the <strong>request</strong>.</p>"
    assert body["data"] == {"title": "Old"}
    assert body["candidate_roles"] == ["project_manager"] and body["candidate_users"] == []
    assert body["instance"]["process_key"] == "simple_approval" and body["instance"]["started_by"] == "maria"
    assert body["due_at"] is None and body["overdue"] is False


def test_task_detail_renders_instructions_safely(api, two_steps):
    instance = api.start("maria", "two_steps", data={"name": "Ann <b>"})
    task_id = instance["ready_tasks"][0]["id"]
    body = api.get(f"/tasks/{task_id}", "maria").get_json()
    assert body["title"] == "First step for Ann <b>"
    assert "{{ name }}" in body["instructions"]
    html = body["instructions_html"]
    assert "<strong>Ann &lt;b&gt;</strong>" in html
    assert "<script>" not in html and "<b>" not in html
    assert body["candidate_users"] == ["maria"] and body["assignee"] == "maria"
    assert body["form_schema"] is None


def test_task_not_visible_is_404(api, deployed):
    instance = api.start()
    task_id = instance["ready_tasks"][0]["id"]
    assert_problem(api.get(f"/tasks/{task_id}", "sam"), 404)
    assert_problem(api.get("/tasks/no-such-task", "maria"), 404)
    assert_problem(api.post(f"/tasks/{task_id}/claim", "quinn"), 404)
    assert_problem(api.post(f"/tasks/{task_id}/complete", "sam", json={"data": {}}), 404)


def test_complete_form_errors_list_every_field(api, deployed):
    instance = api.start()
    task_id = instance["ready_tasks"][0]["id"]
    body = assert_problem(api.post(f"/tasks/{task_id}/complete", "maria", json={"data": {}}), 422)
    assert set(body["errors"]) == {"title", "cost"}
    body = assert_problem(api.post(f"/tasks/{task_id}/complete", "maria",
                                   json={"data": {"title": "x", "cost": -1}}), 422)
    assert set(body["errors"]) == {"title", "cost"}
    body = assert_problem(api.post(f"/tasks/{task_id}/complete", "maria", json={"data": "nope"}), 422)
    assert "data" in body["errors"]


def test_complete_conditional_form_rule(api, deployed):
    _, task_id = _approval_task(api)
    body = assert_problem(api.post(f"/tasks/{task_id}/complete", "sam", json={"data": {"decision": "reject"}}), 422)
    assert "comment" in body["errors"]


def test_complete_and_double_completion_is_409(api, deployed):
    instance, task_id = _approval_task(api)
    r = api.post(f"/tasks/{task_id}/complete", "sam", json={"data": {"decision": "approve"}})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["instance"]["id"] == instance["id"] and body["instance"]["status"] == "completed"
    assert body["next_tasks"] == []
    assert_problem(api.post(f"/tasks/{task_id}/complete", "sam", json={"data": {"decision": "approve"}}), 409)


def test_complete_returns_next_tasks_i_may_act_on(api, two_steps):
    instance = api.start("maria", "two_steps", data={"name": "Ann"})
    first = instance["ready_tasks"][0]["id"]
    r = api.post(f"/tasks/{first}/complete", "maria", json={"data": {"value": 2}})
    assert r.status_code == 200
    [nxt] = r.get_json()["next_tasks"]
    assert nxt["element_id"] == "second" and nxt["assignee"] == "maria"
    r = api.post(f"/tasks/{nxt['id']}/complete", "maria", json={})
    assert r.get_json()["instance"]["status"] == "completed"


def test_reject_loops_back_to_the_requester(api, deployed):
    instance, task_id = _approval_task(api)
    r = api.post(f"/tasks/{task_id}/complete", "sam", json={"data": {"decision": "reject", "comment": "too much"}})
    assert r.status_code == 200
    assert r.get_json()["next_tasks"] == []                    # the resubmission is maria's, not sam's
    [again] = _inbox(api, "maria")["items"]
    assert again["instance_id"] == instance["id"] and again["element_id"] == "submit"


def test_claim_unclaim_and_conflicts(api, deployed):
    _second_sponsor()
    _, task_id = _approval_task(api)
    r = api.post(f"/tasks/{task_id}/claim", "sam")
    assert r.status_code == 200 and r.get_json()["assignee"] == "sam"
    sue = {"Authorization": f"Bearer {api.token('sue', 'sue-secret-pw')}"}
    assert_problem(api.client.post(f"/api/v1/tasks/{task_id}/claim", headers=sue), 409)
    assert_problem(api.client.post(f"/api/v1/tasks/{task_id}/complete", headers=sue,
                                   json={"data": {"decision": "approve"}}), 403)
    assert_problem(api.client.post(f"/api/v1/tasks/{task_id}/unclaim", headers=sue), 403)
    assert _inbox(api, "sam", "?assigned=me")["total"] == 1
    r = api.post(f"/tasks/{task_id}/unclaim", "sam")
    assert r.status_code == 200 and r.get_json()["assignee"] is None
    r = api.client.post(f"/api/v1/tasks/{task_id}/claim", headers=sue)
    assert r.status_code == 200 and r.get_json()["assignee"] == "sue"
    assert _inbox(api, "sam")["total"] == 0                   # claimed by someone else


def test_claim_needs_a_candidate(api, deployed):
    instance = api.start()
    task_id = instance["ready_tasks"][0]["id"]
    assert_problem(api.post(f"/tasks/{task_id}/claim", "petra"), 403)   # sees it (PMO), not a candidate


def test_assign(api, deployed):
    _second_sponsor()
    _, task_id = _approval_task(api)
    r = api.post(f"/tasks/{task_id}/assign", "petra", json={"username": "sue"})
    assert r.status_code == 200 and r.get_json()["assignee"] == "sue"
    assert_problem(api.post(f"/tasks/{task_id}/assign", "sam", json={"username": "sam"}), 403)
    assert_problem(api.post(f"/tasks/{task_id}/assign", "petra", json={"username": "quinn"}), 403)
    assert_problem(api.post(f"/tasks/{task_id}/assign", "petra", json={"username": "ghost"}), 400)
    body = assert_problem(api.post(f"/tasks/{task_id}/assign", "petra", json={}), 422)
    assert "username" in body["errors"]


def test_actions_on_a_completed_task_are_409(api, deployed):
    instance = api.start()
    task_id = instance["ready_tasks"][0]["id"]
    api.post(f"/tasks/{task_id}/complete", "maria", json={"data": {"title": "Laptop", "cost": 1}})
    assert_problem(api.post(f"/tasks/{task_id}/claim", "maria"), 409)
    assert_problem(api.post(f"/tasks/{task_id}/unclaim", "maria"), 409)
    assert api.get(f"/tasks/{task_id}", "maria").get_json()["status"] == "completed"
