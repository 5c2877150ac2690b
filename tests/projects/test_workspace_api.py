"""The workspace through the API (the page's data, with its activity filter), the projects list's
sort, and status reports outside the schedule from the API and from the workspace page."""

from __future__ import annotations

from sqlalchemy import select

from app.core.extensions import db
from app.instances import commands as instances
from app.instances.models import HumanTask, TaskStatus
from app.people.actor import Actor
from app.people.models import User
from app.projects.models import Project, StatusReport
from tests.support.api import assert_problem

AMBER_REPORT = {"period_end": "2027-03-15", "schedule_rag": "amber", "budget_rag": "green", "scope_rag": "green",
                "resources_rag": "green", "risk_rag": "green", "top_risk_score": 6,
                "summary": "Two weeks behind on the cut-over rehearsal.", "top_issues": []}


def _execution() -> Project:
    return db.session.scalars(select(Project).where(Project.phase == "execution")).first()


def _write_the_waiting_report(project: Project) -> None:
    """The demo's execution project has its scheduled report waiting: its PM writes it (green)."""
    task = db.session.scalars(select(HumanTask).where(HumanTask.element_id == "report",
                                                      HumanTask.status == TaskStatus.READY,
                                                      HumanTask.title.contains(project.name))).first()
    if task is not None:
        pm = db.session.scalars(select(User).where(User.username == project.project_manager)).one()
        instances.complete(task.id, Actor.of(pm), {**AMBER_REPORT, "schedule_rag": "green"})


def test_the_workspace_api_gives_the_pages_data(seeded, api):
    project = _execution()
    body = api.get(f"/projects/{project.id}/workspace", project.project_manager).get_json()
    assert body["project"]["id"] == project.id and "open_tasks" not in body["project"]
    assert [s["state"] for s in body["stages"]] == ["done", "done", "current", "next"]
    steps = body["current_steps"]
    assert steps and all({"task", "holders", "roles", "since", "due", "overdue", "mine"} <= set(s) for s in steps)
    held = {s["task"]["element_id"]: s for s in steps}
    assert held["quality_review"]["roles"] == [{"role": "quality_lead",  # a role, with who holds it
                                                "members": [{"username": "quinn", "name": "Quinn Harper"}]}]
    assert {h["username"] for s in steps if s["task"]["element_id"] == "ccb_vote_task"
            for h in s["holders"]} == {"carla", "chen"}  # the CCB ballots, one per member
    assert held["report"]["mine"] is True and held["quality_review"]["mine"] is False
    assert all(h["name"] for s in steps for h in s["holders"])
    assert set(body["raid"]) == {"issues", "actions", "decisions", "assumptions", "dependencies"}
    assert sum(c["count"] for c in body["heat_map"]) == sum(1 for r in body["risks"] if r["status"] != "closed")
    assert body["changes"] and all("decisions" in c for c in body["changes"])
    assert body["budget"]["baseline"] == float(project.budget_baseline)
    kinds = body["activity_kinds"]
    assert body["activity"] and kinds
    only = api.get(f"/projects/{project.id}/workspace?kind={kinds[0]}", "petra").get_json()["activity"]
    assert only and {e["action"] for e in only} == {kinds[0]}
    assert_problem(api.get(f"/projects/{project.id}/workspace", "owen"), 404)  # nothing to do with it
    assert_problem(api.get("/projects/999999/workspace", "petra"), 404)
    assert_problem(api.get(f"/projects/{project.id}/workspace?kind={'x' * 81}", "petra"), 422)


def test_the_projects_list_sorts_as_the_page_does(seeded, api, login):
    names = [p["name"] for p in api.get("/projects?sort=name", "petra").get_json()["items"]]
    assert names == sorted(names)
    updated = [p["updated_at"] for p in api.get("/projects?sort=updated", "petra").get_json()["items"]]
    assert updated == sorted(updated, reverse=True)
    assert_problem(api.get("/projects?sort=budget", "petra"), 422)
    html = login("petra").html("/projects?sort=name&phase=execution")
    assert 'value="name" selected' in html and 'value="execution" selected' in html


def test_a_status_report_outside_the_schedule_over_the_api(seeded, api):
    project = _execution()
    pm = project.project_manager
    refused = assert_problem(api.post(f"/projects/{project.id}/status-reports", pm, json=AMBER_REPORT), 409)
    assert "already waiting" in refused["detail"]  # the demo's scheduled report is still open
    _write_the_waiting_report(project)
    before = db.session.scalar(select(db.func.count()).select_from(StatusReport).where(
        StatusReport.project_id == project.id))
    bad = assert_problem(api.post(f"/projects/{project.id}/status-reports", pm,
                                  json={**AMBER_REPORT, "schedule_rag": "purple", "summary": "short"}), 422)
    assert {"schedule_rag", "summary"} <= set(bad["errors"])
    # quinn holds the quality review of this project, so sees it, but does not report on it
    assert_problem(api.post(f"/projects/{project.id}/status-reports", "quinn", json=AMBER_REPORT), 403)
    assert_problem(api.post(f"/projects/{project.id}/status-reports", "owen", json=AMBER_REPORT), 404)
    r = api.post(f"/projects/{project.id}/status-reports", pm, json=AMBER_REPORT)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["report"]["overall_rag"] == "amber" and body["needs_plan"] is True
    assert body["report"]["submitted_by"] == pm and body["instance"]["process_key"] == "status_reporting"
    db.session.expire_all()
    assert db.session.get(Project, project.id).rag == "amber"
    assert db.session.scalar(select(db.func.count()).select_from(StatusReport).where(
        StatusReport.project_id == project.id)) == before + 1
    ws = api.get(f"/projects/{project.id}/workspace", pm).get_json()
    assert ws["status_reports"][0]["id"] == body["report"]["id"] and ws["status_reports"][0]["needs_plan"]
    # The get-to-green plan: an action joins the report through the RAID API.
    action = api.post(f"/projects/{project.id}/actions?status_report_id={body['report']['id']}", pm,
                      json={"title": "Extra rehearsal weekend", "owner": pm, "due_date": "2027-03-22"})
    assert action.status_code == 201, action.get_json()
    # The PMO may report too, for the PM; a planning project may not report at all.
    r = api.post(f"/projects/{project.id}/status-reports", "petra", json={**AMBER_REPORT, "schedule_rag": "green"})
    assert r.status_code == 201 and r.get_json()["report"]["submitted_by"] == "petra"
    planning = db.session.scalars(select(Project).where(Project.phase == "planning")).first()
    refused = assert_problem(api.post(f"/projects/{planning.id}/status-reports", "petra", json=AMBER_REPORT), 409)
    assert "execution" in refused["detail"]


def test_submit_a_status_report_from_the_workspace(seeded, login):
    project = _execution()
    pm = login(project.project_manager)
    page = pm.html(f"/projects/{project.id}")
    assert "Submit a status report" not in page and "Write the status report that is due" in page
    _write_the_waiting_report(project)
    page = pm.html(f"/projects/{project.id}")
    assert f'href="/projects/{project.id}/status-reports/new"' in page
    form = pm.html(f"/projects/{project.id}/status-reports/new")
    assert 'name="f:schedule_rag"' in form and 'name="f:summary"' in form
    data = {"f:period_end": "2027-03-15", "f:schedule_rag": "red", "f:budget_rag": "green", "f:scope_rag": "green",
            "f:resources_rag": "amber", "f:risk_rag": "green", "f:top_risk_score": "12", "n:top_issues": "0",
            "action": "submit"}
    bad = pm.post(f"/projects/{project.id}/status-reports/new", {**data, "f:summary": "short"},
                  token_from=f"/projects/{project.id}/status-reports/new")
    assert bad.status_code == 422
    ok = pm.post(f"/projects/{project.id}/status-reports/new",
                 {**data, "f:summary": "The cut-over slipped: the vendor missed the window."},
                 token_from=f"/projects/{project.id}/status-reports/new")
    assert ok.status_code == 303, ok.get_data(as_text=True)[:2000]
    report = db.session.scalars(select(StatusReport).where(StatusReport.project_id == project.id)
                                .order_by(StatusReport.id.desc())).first()
    assert report.overall_rag == "red" and ok.headers["Location"].endswith(f"#report-{report.id}")
    page = pm.html(f"/projects/{project.id}")
    assert "get-to-green plan" in page and f'data-testid="green-plan-{report.id}"' in page
    # A red report goes to the PMO for review: a report now waits there, so none is offered.
    planning = db.session.scalars(select(Project).where(Project.phase == "planning")).first()
    petra = login("petra")
    assert "status reports are submitted while a running project is in execution" in petra.html(
        f"/projects/{planning.id}")
    refused = petra.get(f"/projects/{planning.id}/status-reports/new")
    assert refused.status_code == 303
