"""The projects API: propose, list, show, change requests, lessons; and a whole project from
proposal to closure driven over HTTP as the demo users."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.definitions import operations as definitions
from tests.projects.data import (
    ADMIN_CLOSE,
    BASELINE,
    CHANGE,
    CHARTER,
    CHECKLIST_OK,
    EVIDENCE_GOOD,
    LESSONS,
    REGISTER,
    assessment,
    d,
)
from tests.support.api import assert_problem

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lifecycle(api, app):
    definitions.deploy_directory([ROOT / "workflows", ROOT / "forms"], "admin")
    return api


def propose(api, user="petra", name="Customer portal relaunch", pm="maria", sponsor="sam") -> dict:  # noqa: ANN001
    r = api.post("/projects", user, json={"name": name, "project_manager": pm, "sponsor": sponsor})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def task_of(api, user: str, instance_id: int, element_id: str) -> dict:  # noqa: ANN001
    r = api.get("/tasks?per_page=200", user)
    assert r.status_code == 200, r.get_json()
    found = [t for t in r.get_json()["items"] if t["instance_id"] == instance_id and t["element_id"] == element_id]
    assert found, f"{user} has no task {element_id} in instance {instance_id}: " + str(
        [(t["instance_id"], t["element_id"]) for t in r.get_json()["items"]])
    return found[0]


def do(api, user: str, instance_id: int, element_id: str, data: dict | None = None) -> dict:  # noqa: ANN001
    task = task_of(api, user, instance_id, element_id)
    r = api.post(f"/tasks/{task['id']}/complete", user, json={"data": data or {}})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def initiate(api, project: dict, code: str = "CRM-0042", pm: str = "maria") -> int:  # noqa: ANN001
    iid = project["lifecycle_instance_id"]
    do(api, pm, iid, "write_charter", d(CHARTER) | {"project_name": project["name"]})
    do(api, "sam", iid, "sponsor_review", {"sponsor_decision": "approve"})
    do(api, "petra", iid, "register", d(REGISTER) | {"project_code": code})
    return iid


# -- POST /projects --------------------------------------------------------------------------------

def test_propose_project_starts_its_lifecycle(lifecycle):
    body = propose(lifecycle, "maria")
    assert body["phase"] == "initiation" and body["status"] == "proposed"
    assert (body["project_manager"], body["sponsor"], body["created_by"]) == ("maria", "sam", "maria")
    assert body["lifecycle_instance_id"] == body["lifecycle_instance"]["id"]
    assert body["lifecycle_instance"]["status"] == "running"
    assert [(t["element_id"], t["candidate_users"]) for t in body["open_tasks"]] == [("write_charter", ["maria"])]
    # the PMO can propose a project for any project manager
    other = propose(lifecycle, "petra", name="ERP upgrade", pm="paul")
    assert other["project_manager"] == "paul" and other["id"] != body["id"]


def test_propose_project_needs_a_token_and_a_proposer_role(lifecycle):
    payload = {"name": "ERP upgrade", "project_manager": "maria", "sponsor": "sam"}
    assert_problem(lifecycle.post("/projects", json=payload), 401)
    for user in ("sam", "quinn", "carla"):
        assert_problem(lifecycle.post("/projects", user, json=payload), 403)
    body = assert_problem(lifecycle.post("/projects", "paul", json=payload), 403)   # not his own project
    assert "themselves" in body["detail"]


@pytest.mark.parametrize(("payload", "field", "words"), [
    ({"project_manager": "nobody"}, "project_manager", "no active user"),
    ({"sponsor": "ghost"}, "sponsor", "no active user"),
    ({"project_manager": "sam"}, "project_manager", "does not have the role project_manager"),
    ({"sponsor": "paul"}, "sponsor", "does not have the role sponsor"),
    ({"sponsor": "maria"}, "sponsor", "segregation of duties"),
    ({"name": "X"}, "name", "Length"),
    ({"name": None}, "name", "null"),
])
def test_propose_project_validation(lifecycle, payload, field, words):
    base = {"name": "ERP upgrade", "project_manager": "maria", "sponsor": "sam"}
    body = assert_problem(lifecycle.post("/projects", "petra", json=base | payload), 422)
    assert field in body["errors"], body
    assert any(words.lower() in m.lower() for m in body["errors"][field]) or words == "Length", body


def test_propose_project_missing_fields_and_bad_json(lifecycle):
    body = assert_problem(lifecycle.post("/projects", "petra", json={}), 422)
    assert set(body["errors"]) == {"name", "project_manager", "sponsor"}
    assert_problem(lifecycle.post("/projects", "petra", data="nope", content_type="application/json"), 400)


# -- GET /projects and /projects/{id} --------------------------------------------------------------

def test_list_projects_filters_visibility_and_pagination(lifecycle):
    portal = propose(lifecycle, name="Customer portal relaunch", pm="maria")
    erp = propose(lifecycle, name="ERP upgrade", pm="paul")
    initiate(lifecycle, erp, code="ERP-0007", pm="paul")

    everything = lifecycle.get("/projects", "petra").get_json()
    assert everything["total"] == 2 and {p["name"] for p in everything["items"]} == {portal["name"], erp["name"]}
    planning = lifecycle.get("/projects?phase=planning", "petra").get_json()["items"]
    assert [p["code"] for p in planning] == ["ERP-0007"] and planning[0]["priority"] == "P1"
    assert [p["name"] for p in lifecycle.get("/projects?pm=maria", "admin").get_json()["items"]] == [portal["name"]]
    assert [p["name"] for p in lifecycle.get("/projects?q=erp-00", "petra").get_json()["items"]] == [erp["name"]]
    assert [p["name"] for p in lifecycle.get("/projects?q=PORTAL", "petra").get_json()["items"]] == [portal["name"]]
    assert lifecycle.get("/projects?status=active&sponsor=sam", "petra").get_json()["total"] == 1
    assert lifecycle.get("/projects?rag=red", "petra").get_json()["total"] == 0
    page = lifecycle.get("/projects?per_page=1&page=2", "petra").get_json()
    assert (page["page"], page["per_page"], page["total"], len(page["items"])) == (2, 1, 2, 1)

    # a PM sees their own projects, the sponsor both, an uninvolved CCB member none
    assert [p["name"] for p in lifecycle.get("/projects", "maria").get_json()["items"]] == [portal["name"]]
    assert lifecycle.get("/projects", "sam").get_json()["total"] == 2
    assert lifecycle.get("/projects", "carla").get_json()["total"] == 0
    assert_problem(lifecycle.get("/projects?phase=nonsense", "petra"), 422)
    assert_problem(lifecycle.get("/projects?per_page=0", "petra"), 422)
    assert_problem(lifecycle.get("/projects"), 401)


def test_project_detail_and_who_may_see_it(lifecycle):
    erp = propose(lifecycle, name="ERP upgrade", pm="paul")
    iid = initiate(lifecycle, erp, code="ERP-0007", pm="paul")
    pid = erp["id"]
    # the resource manager can see it only once a resource request is offered to her
    assert_problem(lifecycle.get(f"/projects/{pid}", "rita"), 404)
    do(lifecycle, "paul", iid, "prepare_plan", d(BASELINE))
    body = lifecycle.get(f"/projects/{pid}", "rita").get_json()
    assert body["code"] == "ERP-0007" and body["phase"] == "planning" and body["priority"] == "P1"
    requests = [t for t in body["open_tasks"] if t["element_id"] == "review_resources"]
    assert len(requests) == 2 and all(t["candidate_roles"] == ["resource_manager"] for t in requests)
    assert all(t["assignee"] is None and "due_at" in t for t in requests)
    assert body["budget_estimate"] == 650000 and body["start_date"] == "2026-03-02"
    assert body["charter"]["scope_out"] == CHARTER["scope_out"]
    assert body["risks"] and body["risks"][0]["source"] == "charter"
    assert rita_list(lifecycle) == ["ERP upgrade"]
    # uninvolved users get 404; so does a project that does not exist
    for user in ("maria", "carla", "quinn"):
        assert_problem(lifecycle.get(f"/projects/{pid}", user), 404)
    assert_problem(lifecycle.get("/projects/9999", "petra"), 404)
    assert_problem(lifecycle.get(f"/projects/{pid}"), 401)
    assert lifecycle.get(f"/projects/{pid}", "sam").status_code == 200


def rita_list(api) -> list[str]:  # noqa: ANN001
    return [p["name"] for p in api.get("/projects", "rita").get_json()["items"]]


# -- change requests -------------------------------------------------------------------------------

def test_change_request_is_submitted_and_routed(lifecycle):
    portal = propose(lifecycle)
    initiate(lifecycle, portal)
    r = lifecycle.post(f"/projects/{portal['id']}/change-requests", "maria", json=d(CHANGE))
    assert r.status_code == 201, r.get_json()
    cr = r.get_json()
    assert (cr["reference"], cr["status"], cr["requested_by"], cr["title"]) == (
        "CR-001", "submitted", "maria", CHANGE["cr_title"])
    assert cr["cost_impact"] == 8000 and cr["instance"]["process_key"] == "change_request"
    assert [t["element_id"] for t in cr["next_tasks"]] == ["assess"]
    do(lifecycle, "maria", cr["instance_id"], "assess", assessment(8000, 3))
    do(lifecycle, "sam", cr["instance_id"], "sponsor_decision", {"change_decision": "approve"})  # raised by the PM
    detail = lifecycle.get(f"/projects/{portal['id']}", "maria").get_json()
    [shown] = detail["change_requests"]
    assert shown["status"] == "approved" and shown["route"] == "sponsor" and shown["size"] == "small"
    assert [(x["decided_by"], x["decision"]) for x in shown["decisions"]] == [("sam", "approve")]
    assert detail["baseline_version"] == 1 and detail["budget_estimate"] == 650000


def test_change_request_errors(lifecycle):
    portal = propose(lifecycle)
    url = f"/projects/{portal['id']}/change-requests"
    body = assert_problem(lifecycle.post(url, "maria", json=d(CHANGE)), 409)          # still in initiation
    assert "initiation" in body["detail"]
    assert_problem(lifecycle.post(url, json=d(CHANGE)), 401)
    assert_problem(lifecycle.post(url, "carla", json=d(CHANGE)), 404)                 # cannot see it
    assert_problem(lifecycle.post("/projects/9999/change-requests", "petra", json=d(CHANGE)), 404)
    initiate(lifecycle, portal)
    bad = d(CHANGE) | {"cr_title": "x", "risk_impact": "huge"}
    del bad["cr_reason"]
    body = assert_problem(lifecycle.post(url, "maria", json=bad), 422)
    assert {"cr_title", "risk_impact", "cr_reason"} <= set(body["errors"])
    # nothing was started by the rejected requests
    assert lifecycle.get(f"/projects/{portal['id']}", "maria").get_json()["change_requests"] == []
    instances = lifecycle.get("/process-instances?process_key=change_request", "petra").get_json()
    assert instances["total"] == 0


# -- lessons ---------------------------------------------------------------------------------------

def _lesson(project, title, category, tags, text="Plan vendor environments early."):  # noqa: ANN001, ANN202
    from app.core.extensions import db
    from app.projects.models import LessonLearned

    lesson = LessonLearned(project_id=project["id"], title=title, recommendation=text, category=category,
                           tags=tags, tags_text="," + ",".join(tags) + ",", created_by="maria", curated_by="petra")
    db.session.add(lesson)
    db.session.commit()
    return lesson


def test_lessons_search_filters_and_pages(lifecycle):
    from app.core.extensions import db

    portal = propose(lifecycle)
    _lesson(portal, "Book the identity provider test tenant early", "vendors", ["sso", "identity"])
    _lesson(portal, "Freeze the data model before migration rehearsals", "data", ["erp", "data-migration"],
            text="Run three migration rehearsals.")
    hidden = _lesson(portal, "Draft lesson about vendors", "vendors", ["draft"])
    hidden.published = False
    db.session.commit()

    everything = lifecycle.get("/lessons", "carla").get_json()
    assert everything["total"] == 2
    assert everything["items"][0]["project_name"] == "Customer portal relaunch"
    assert [x["title"] for x in lifecycle.get("/lessons?q=identity tenant", "quinn").get_json()["items"]] == [
        "Book the identity provider test tenant early"]
    assert [x["category"] for x in lifecycle.get("/lessons?category=data", "quinn").get_json()["items"]] == ["data"]
    assert lifecycle.get("/lessons?tag=DATA-MIGRATION", "quinn").get_json()["total"] == 1
    assert lifecycle.get("/lessons?tag=data", "quinn").get_json()["total"] == 0          # whole tags only
    assert lifecycle.get("/lessons?q=nothing+like+this", "quinn").get_json()["total"] == 0
    page = lifecycle.get("/lessons?per_page=1&page=2", "quinn").get_json()
    assert (page["total"], len(page["items"]), page["items"][0]["title"]) == (
        2, 1, "Book the identity provider test tenant early")
    assert_problem(lifecycle.get("/lessons?per_page=500", "quinn"), 422)
    assert_problem(lifecycle.get("/lessons"), 401)


def test_projects_routes_are_in_the_openapi_document(lifecycle):
    spec = lifecycle.get("/openapi.json").get_json()
    for path, method in (("/api/v1/projects", "post"), ("/api/v1/projects", "get"),
                         ("/api/v1/projects/{project_id}", "get"),
                         ("/api/v1/projects/{project_id}/change-requests", "post"), ("/api/v1/lessons", "get")):
        assert method in spec["paths"][path], (path, method)
    assert "409" in spec["paths"]["/api/v1/projects/{project_id}/change-requests"]["post"]["responses"]


# -- a whole project over HTTP ---------------------------------------------------------------------

def test_whole_project_from_proposal_to_closure_over_http(lifecycle):
    api = lifecycle
    project = propose(api, "paul", name="Self-service portal for business customers", pm="paul")
    pid, iid = project["id"], project["lifecycle_instance_id"]
    initiate(api, project, code="B2B-0100", pm="paul")

    baseline = d(BASELINE)
    baseline["milestones"][0]["gate_required"] = False
    do(api, "paul", iid, "prepare_plan", baseline)
    for _ in range(2):
        do(api, "rita", iid, "review_resources", {"resource_decision": {"decision": "approve"}})
    do(api, "petra", iid, "pmo_review", CHECKLIST_OK | {"pmo_review_decision": "approve"})
    do(api, "sam", iid, "sponsor_signoff", {"signoff_decision": "approve"})
    shown = api.get(f"/projects/{pid}", "paul").get_json()
    assert (shown["phase"], shown["status"], shown["budget_baseline"]) == ("execution", "active", 640000)
    assert [t["element_id"] for t in shown["open_tasks"]] == ["deliver_milestone"]

    # a change request during execution, assessed by the PM and approved by the sponsor
    r = api.post(f"/projects/{pid}/change-requests", "paul", json=d(CHANGE) | {"cost_impact": 20000})
    assert r.status_code == 201, r.get_json()
    cr_iid = r.get_json()["instance_id"]
    do(api, "paul", cr_iid, "assess", assessment(20000, 10))
    do(api, "sam", cr_iid, "sponsor_decision", {"change_decision": "approve"})

    do(api, "paul", iid, "deliver_milestone", {"milestone_actual_date": "2026-05-20", "actual_cost_to_date": 150000})
    do(api, "paul", iid, "deliver_milestone", {"milestone_actual_date": "2026-12-08", "actual_cost_to_date": 640000})
    do(api, "paul", iid, "submit_evidence", d(EVIDENCE_GOOD))
    do(api, "quinn", iid, "quality_review", {"quality_assessment": "pass"})
    do(api, "sam", iid, "gate_decision_task", {"gate_decision": "go"})
    do(api, "sam", iid, "acceptance", {"acceptance_decision": "accept"})
    do(api, "paul", iid, "write_lessons", d(LESSONS))
    do(api, "petra", iid, "curate", d(LESSONS) | {"curation_decision": "publish"})
    do(api, "petra", iid, "admin_close", d(ADMIN_CLOSE) | {"final_actual_cost": 652000})

    final = api.get(f"/projects/{pid}", "sam").get_json()
    assert (final["phase"], final["status"], final["budget_actual"]) == ("closed", "closed", 652000)
    assert final["open_tasks"] == [] and final["lifecycle_instance"]["status"] == "completed"
    assert final["baseline_version"] == 2 and final["budget_baseline"] == 660000
    [cr] = final["change_requests"]
    assert cr["status"] == "approved" and cr["applied_baseline_version"] == 2
    assert [(x["decided_by"], x["decision"]) for x in cr["decisions"]] == [("sam", "approve")]
    assert [m["status"] for m in final["milestones"]] == ["achieved", "achieved"]
    assert [(g["gate_name"], g["decision"]) for g in final["gate_decisions"]] == [("Portal live", "go")]
    assert [x["title"] for x in final["lessons"]] == [LESSONS["lessons"][0]["title"]]
    found = api.get("/lessons?q=vendor test environments", "maria").get_json()
    assert [(x["project_code"], x["title"]) for x in found["items"]] == [
        ("B2B-0100", LESSONS["lessons"][0]["title"])]
    assert api.get("/projects?status=closed", "petra").get_json()["total"] == 1
