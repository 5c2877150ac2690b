"""Process instances: start, list with filters and pagination, visibility, audit, lifecycle."""

from __future__ import annotations

from tests.support.api import assert_problem


def _submit(api, instance: dict, user: str = "maria", **data) -> None:  # noqa: ANN003
    task_id = instance["ready_tasks"][0]["id"]
    r = api.post(f"/tasks/{task_id}/complete", user, json={"data": {"title": "Laptop", "cost": 1200, **data}})
    assert r.status_code == 200, r.get_json()


def test_start_returns_201_with_instance(api, deployed):
    r = api.post("/process-instances", "maria", json={"process_key": "simple_approval", "data": {"budget": 5},
                                                      "business_key": "PRJ-1"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["status"] == "running" and body["process_key"] == "simple_approval" and body["version"] == 1
    assert body["business_key"] == "PRJ-1" and body["started_by"] == "maria"
    assert body["data"] == {"budget": 5} and body["error"] is None
    assert [t["element_id"] for t in body["ready_tasks"]] == ["submit"]
    assert body["created_at"] and body["updated_at"] and body["ended_at"] is None


def test_start_errors(api, deployed):
    assert_problem(api.post("/process-instances", "maria", json={"process_key": "nope"}), 404)
    body = assert_problem(api.post("/process-instances", "maria", json={"data": [1]}), 422)
    assert set(body["errors"]) == {"process_key", "data"}
    assert_problem(api.post("/process-instances", json={"process_key": "simple_approval"}), 401)


def test_get_instance_and_visibility(api, deployed):
    instance = api.start()
    path = f"/process-instances/{instance['id']}"
    assert api.get(path, "maria").status_code == 200
    assert api.get(path, "petra").status_code == 200      # the PMO sees everything
    assert api.get(path, "paul").status_code == 200       # offered the submit task (project_manager)
    assert_problem(api.get(path, "sam"), 404)              # not involved yet
    assert_problem(api.get(path, "quinn"), 404)
    _submit(api, instance)
    r = api.get(path, "sam")                               # now offered the approval
    assert r.status_code == 200
    assert r.get_json()["data"]["title"] == "Laptop"
    assert_problem(api.get("/process-instances/9999", "admin"), 404)


def test_list_filters_and_pagination(api, deployed):
    first = api.start(business_key="A")
    api.start(business_key="B")
    api.start("paul", business_key="C")
    r = api.get("/process-instances", "admin")
    body = r.get_json()
    assert body["total"] == 3 and body["page"] == 1 and body["per_page"] == 50
    assert [i["business_key"] for i in body["items"]] == ["C", "B", "A"]   # newest first
    assert "data" not in body["items"][0]
    r = api.get("/process-instances?started_by=maria&per_page=1&page=2", "admin")
    body = r.get_json()
    assert body["total"] == 2 and [i["business_key"] for i in body["items"]] == ["A"]
    assert api.get("/process-instances?business_key=C", "admin").get_json()["total"] == 1
    assert api.get("/process-instances?process_key=other", "admin").get_json()["total"] == 0
    api.post(f"/process-instances/{first['id']}/terminate", "maria", json={"reason": "dup"})
    r = api.get("/process-instances?status=terminated", "admin")
    assert [i["id"] for i in r.get_json()["items"]] == [first["id"]]
    body = assert_problem(api.get("/process-instances?per_page=500&status=weird&page=0", "admin"), 422)
    assert set(body["errors"]) == {"per_page", "status", "page"}


def test_list_only_shows_visible_instances(api, deployed):
    mine = api.start("maria")
    assert api.get("/process-instances", "sam").get_json()["total"] == 0
    assert api.get("/process-instances", "quinn").get_json()["total"] == 0
    _submit(api, mine)
    items = api.get("/process-instances", "sam").get_json()["items"]
    assert [i["id"] for i in items] == [mine["id"]]
    assert api.get("/process-instances", "petra").get_json()["total"] == 1


def test_audit_trail(api, deployed):
    instance = api.start()
    _submit(api, instance)
    r = api.get(f"/process-instances/{instance['id']}/audit", "maria")
    assert r.status_code == 200
    actions = [e["action"] for e in r.get_json()["items"]]
    assert actions == ["start", "complete_task"]
    assert r.get_json()["items"][1]["details"]["data"]["title"] == "Laptop"
    assert_problem(api.get(f"/process-instances/{instance['id']}/audit", "quinn"), 404)


def test_terminate_by_starter_records_reason(api, deployed):
    instance = api.start()
    r = api.post(f"/process-instances/{instance['id']}/terminate", "maria", json={"reason": "not needed"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "terminated" and body["status_reason"] == "not needed" and body["ended_at"]
    assert body["ready_tasks"] == []
    assert_problem(api.post(f"/process-instances/{instance['id']}/terminate", "maria"), 409)


def test_lifecycle_permissions(api, deployed):
    instance = api.start()
    base = f"/process-instances/{instance['id']}"
    assert_problem(api.post(f"{base}/suspend", "paul", json={"reason": "x"}), 403)   # sees it, not his
    assert_problem(api.post(f"{base}/terminate", "quinn"), 404)                      # cannot see it
    assert_problem(api.post(f"{base}/retry", "maria"), 403)                          # admin only
    assert_problem(api.post(f"{base}/retry", "admin"), 409)                          # not in error


def test_suspend_and_resume(api, deployed):
    instance = api.start()
    base = f"/process-instances/{instance['id']}"
    r = api.post(f"{base}/suspend", "petra")   # no body: reason is optional
    assert r.status_code == 200 and r.get_json()["status"] == "suspended"
    assert_problem(api.post(f"{base}/suspend", "petra", json={"reason": "again"}), 409)
    r = api.post(f"{base}/resume", "maria")
    assert r.status_code == 200 and r.get_json()["status"] == "running"
    assert_problem(api.post(f"{base}/resume", "maria"), 409)


def test_step_failure_is_422_and_retry_by_admin(api, two_steps):
    instance = api.start("maria", "two_steps", data={"name": "Ann"})
    first = instance["ready_tasks"][0]["id"]
    r = api.post(f"/tasks/{first}/complete", "maria", json={"data": {"value": 0}})
    second = r.get_json()["next_tasks"][0]["id"]
    r = api.post(f"/tasks/{second}/complete", "maria", json={"data": {}})
    body = assert_problem(r, 422)
    assert body["type"].endswith("step-failed")
    r = api.get(f"/process-instances/{instance['id']}", "maria")
    assert r.get_json()["status"] == "error" and r.get_json()["error"]["element_id"] == "divide"
    r = api.post(f"/process-instances/{instance['id']}/retry", "admin")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "running" and r.get_json()["error"] is None
    assert [t["id"] for t in r.get_json()["ready_tasks"]] == [second]
