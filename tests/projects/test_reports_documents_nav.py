"""A status report's get-to-green plan, the printable documents, and the Projects badge of what
needs the user."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.core.errors import Conflict
from app.core.extensions import db
from app.core.transactions import write_transaction
from app.projects import operations as projects
from app.projects import queries as project_queries
from app.projects.models import Project, StatusReport
from app.projects.workspace import today


def _execution_project() -> Project:
    return db.session.scalars(select(Project).where(Project.phase == "execution")).first()


def _report(project: Project, overall: str, period_end: date = date(2026, 11, 27)) -> StatusReport:
    with write_transaction():
        report = StatusReport(project_id=project.id, period_end=period_end, schedule_rag=overall, budget_rag="green",
                              scope_rag="green", resources_rag="green", risk_rag=overall, overall_rag=overall,
                              max_risk_score=12, summary=f"The month in {overall}.", submitted_by=project.project_manager,
                              snapshot={"phase": "execution", "budget_baseline": 640000, "budget_actual": 210000,
                                        "milestones_total": 2, "milestones_achieved": 1})
        db.session.add(report)
    return report


def test_an_amber_report_asks_for_a_get_to_green_plan_made_of_actions(seeded, login):
    project = _execution_project()
    amber = _report(project, "amber")
    green = _report(project, "green", date(2026, 11, 13))
    pm = login(project.project_manager)
    page = pm.html(f"/projects/{project.id}")
    plan = re.search(rf'data-testid="green-plan-{amber.id}">(.*?)</div>', page, re.S).group(1)
    assert "needed" in plan and f"report={amber.id}" in plan
    assert f'data-testid="green-plan-{green.id}"' not in page  # a green report needs none

    new = f"/projects/{project.id}/raid/action/new?report={amber.id}"
    assert "get-to-green plan" in pm.html(new)
    response = pm.post(f"/projects/{project.id}/raid/action/new",
                       {"report": str(amber.id), "title": "Add a second test team", "owner": "paul",
                        "due_date": "2026-12-15"}, token_from=new)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    amber = db.session.get(StatusReport, amber.id)
    assert [(a.kind, a.title, a.owner, a.due_date) for a in amber.plan_actions] == [
        ("action", "Add a second test team", "paul", date(2026, 12, 15))]
    page = pm.html(f"/projects/{project.id}")
    plan = re.search(rf'data-testid="green-plan-{amber.id}">(.*?)</div>', page, re.S).group(1)
    assert "Add a second test team" in plan and "needed" not in plan and "Dec 15, 2026" in plan
    doc = pm.html(f"/projects/{project.id}/documents/status-reports/{amber.id}")
    assert "Get-to-green plan" in doc and "Add a second test team" in doc
    assert pm.get(f"/projects/{project.id}/raid/issue/new?report={amber.id}").status_code == 404  # actions only


def test_a_green_report_has_no_plan(seeded, actors):
    project = _execution_project()
    green = _report(project, "green")
    with pytest.raises(Conflict):
        projects.add_raid_item(project.id, actors[project.project_manager], "action", {"title": "Not needed"},
                               status_report_id=green.id)


def test_the_charter_baseline_and_reports_print_as_documents(seeded, login):
    project = _execution_project()
    report = _report(project, "red")
    pm = login(project.project_manager)
    page = pm.html(f"/projects/{project.id}")
    documents = re.search(r'data-testid="documents">(.*?)</ul>', page, re.S).group(1)
    for path in (f"/projects/{project.id}/documents/charter", f"/projects/{project.id}/documents/baseline",
                 f"/projects/{project.id}/documents/status-reports/{report.id}"):
        assert path in documents
        html = pm.html(path)
        assert 'data-testid="document"' in html and project.name in html
    charter = pm.html(f"/projects/{project.id}/documents/charter")
    assert project.charter["scope_in"][:30] in charter and "€" in charter  # money as people write it
    baseline = pm.html(f"/projects/{project.id}/documents/baseline")
    assert all(m.name in baseline for m in project.milestones)
    css = pm.get("/static/app.css").get_data(as_text=True)
    assert "@media print" in css and ".site-header" in css.split("@media print", 1)[1]


def test_documents_follow_the_projects_visibility(seeded, login):
    from tests.projects.test_raid import _stranger

    project = _execution_project()
    report = _report(project, "amber")
    stranger = login(_stranger(project))
    for path in (f"/projects/{project.id}/documents/charter", f"/projects/{project.id}/documents/baseline",
                 f"/projects/{project.id}/documents/status-reports/{report.id}"):
        assert stranger.get(path).status_code == 404
    initiation = db.session.scalars(select(Project).where(Project.phase == "initiation",
                                                          Project.baseline_version == 0)).first()
    assert login("petra").get(f"/projects/{initiation.id}/documents/baseline").status_code == 404  # none yet
    assert login("petra").get(f"/projects/{project.id}/documents/status-reports/999999").status_code == 404


def test_the_projects_badge_counts_my_open_project_tasks_and_my_overdue_entries(seeded, login, actors):
    project = db.session.scalars(select(Project).where(Project.phase == "initiation")).first()
    sponsor = project.sponsor
    before = project_queries.needs_me_count(actors[sponsor], today())
    assert before >= 1  # the charter waits for the sponsor's authorisation
    html = login(sponsor).html("/projects")
    badge = re.search(r'data-testid="projects-need-me">(.*?)</span></span>', html, re.S).group(1)
    assert str(before) in badge
    execution = _execution_project()
    projects.add_raid_item(execution.id, actors[execution.project_manager], "action",
                           {"title": "Late action", "owner": sponsor, "due_date": today() - timedelta(days=2)})
    projects.add_raid_item(execution.id, actors[execution.project_manager], "action",
                           {"title": "Future action", "owner": sponsor, "due_date": today() + timedelta(days=2)})
    assert project_queries.needs_me_count(actors[sponsor], today()) == before + 1
    assert 'data-testid="projects-need-me"' not in login("owen").html("/projects")  # nothing needs owen
