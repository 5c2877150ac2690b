"""The project manager's pages on the demo portfolio: "My projects", a project's workspace, and
raising a change request from it."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.core.extensions import db
from app.people.models import User
from app.projects.models import ChangeRequest, Project


def _project(name: str) -> Project:
    return db.session.scalars(select(Project).where(Project.name == name)).one()


def test_my_projects_lists_what_a_pm_manages_and_nothing_else(seeded, login):
    maria = login("maria")
    html = maria.html("/projects")
    mine = {p.name for p in db.session.scalars(select(Project).where(Project.project_manager == "maria"))}
    others = {p.name for p in db.session.scalars(select(Project).where(Project.project_manager != "maria",
                                                                         Project.sponsor != "maria"))}
    assert mine and all(name in html for name in mine)
    assert "My projects" in html
    for name in others:  # maria takes no part in paul's projects
        if name not in html:
            continue
        project = _project(name)
        assert maria.get(f"/projects/{project.id}").status_code == 200  # visible only if she is involved


def test_the_pmo_sees_every_project_and_filters_stay_in_the_url(seeded, login):
    petra = login("petra")  # PMO
    html = petra.html("/projects")
    assert "All projects" in html
    for project in db.session.scalars(select(Project)):
        assert project.name in html
    planning = petra.html("/projects?phase=planning")
    assert 'value="planning" selected' in planning
    for project in db.session.scalars(select(Project).where(Project.phase != "planning")):
        assert f'data-project-id="{project.id}"' not in planning


def test_a_guessed_project_id_answers_404(seeded, login):
    other = db.session.scalars(select(Project).where(Project.project_manager != "maria",
                                                     Project.sponsor != "maria")).first()
    maria = login("maria")
    if other is not None and other.name not in maria.html("/projects"):
        assert maria.get(f"/projects/{other.id}").status_code == 404
    assert maria.get("/projects/999999").status_code == 404


def test_the_workspace_shows_lifecycle_plan_risks_changes_and_activity(seeded, login):
    project = db.session.scalars(select(Project).where(Project.phase == "execution")).first()
    assert project is not None
    html = login(project.project_manager).html(f"/projects/{project.id}")
    assert project.name in html
    assert 'aria-current="step"' in html and "Execution" in html
    assert 'data-testid="milestones"' in html and 'data-testid="heat-map"' in html
    assert 'data-testid="activity"' in html
    manager = db.session.scalars(select(User).where(User.username == project.project_manager)).one()
    assert f"Project manager {manager.display_name}" in html  # people by their name
    budget = re.search(r'data-testid="budget">(.*?)</dl>', html, re.S).group(1)
    assert "€" in budget  # money as people write it
    for risk in project.risks:
        assert risk.title in html


def test_next_for_me_lists_my_open_steps_with_a_link(seeded, login):
    project = db.session.scalars(select(Project).where(Project.phase == "initiation")).first()
    assert project is not None
    sponsor_page = login(project.sponsor).html(f"/projects/{project.id}")
    mine = re.search(r'data-testid="my-steps">(.*?)</ul>', sponsor_page, re.S)
    assert mine and "/tasks/" in mine.group(1)
    pm_page = login(project.project_manager).html(f"/projects/{project.id}")
    assert 'data-testid="waiting-steps"' in pm_page


def test_raising_a_change_request_from_the_workspace_starts_change_control(seeded, login):
    project = db.session.scalars(select(Project).where(Project.phase == "execution")).first()
    paul = login(project.project_manager)
    form = paul.html(f"/projects/{project.id}/changes/new")
    names = set(re.findall(r'name="(f:[^"]+)"', form))
    assert names, "the change form is rendered from the deployed submit form"
    before = db.session.scalar(select(db.func.count()).select_from(ChangeRequest)
                               .where(ChangeRequest.project_id == project.id))

    invalid = paul.post(f"/projects/{project.id}/changes/new", {}, token_from=f"/projects/{project.id}/changes/new")
    assert invalid.status_code == 422
    assert db.session.scalar(select(db.func.count()).select_from(ChangeRequest)
                             .where(ChangeRequest.project_id == project.id)) == before

    data = {"f:cr_title": "Add a reporting module", "f:cr_description": "Finance asks for month-end reports.",
            "f:cr_reason": "Regulatory reporting", "f:cost_impact": "25000", "f:schedule_impact_days": "10",
            "f:scope_impact": "One more module", "f:risk_impact": "low", "f:urgency": "normal"}
    data = {k: v for k, v in data.items() if k in names}
    response = paul.post(f"/projects/{project.id}/changes/new", data,
                         token_from=f"/projects/{project.id}/changes/new")
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    cr = db.session.scalars(select(ChangeRequest).where(ChangeRequest.project_id == project.id)
                            .order_by(ChangeRequest.id.desc())).first()
    assert cr.title == "Add a reporting module" and cr.requested_by == project.project_manager
    page = paul.html(f"/projects/{project.id}")
    assert f"CR-{cr.number} Add a reporting module" in page


def test_a_change_request_is_refused_before_planning(seeded, login):
    project = db.session.scalars(select(Project).where(Project.phase == "initiation")).first()
    response = login(project.project_manager).get(f"/projects/{project.id}/changes/new")
    assert response.status_code == 303
    page = login(project.project_manager).html(f"/projects/{project.id}")
    assert "Raise a change request" not in page
