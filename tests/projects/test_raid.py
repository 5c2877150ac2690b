"""The RAID log from the workspace and the API: risks (added, rescored, raised to issues, escalated
to the PMO once per crossing of the threshold), issues, actions, decisions, assumptions and
dependencies; who may change them (the PM, the PMO, admins: others 403, strangers 404)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.core.audit import AuditEntry
from app.core.errors import Forbidden, Invalid, NotFound
from app.core.extensions import db
from app.instances import commands as instances
from app.instances.models import ProcessInstance
from app.projects import operations as projects
from app.projects.models import Project, RaidItem, Risk
from tests.projects.conftest import initiated_project


def _execution_project() -> Project:
    return db.session.scalars(select(Project).where(Project.phase == "execution")).first()


def _escalations(project: Project) -> list[ProcessInstance]:
    return list(db.session.scalars(select(ProcessInstance).where(
        ProcessInstance.business_key == project.business_key, ProcessInstance.process_key == "risk_escalation")))


def _stranger(project: Project) -> str:
    """A demo user with no part in the project: it does not exist for them."""
    from app.people.actor import Actor
    from app.people.models import User
    from app.projects.queries import visible_project

    for user in db.session.scalars(select(User).order_by(User.username)):
        try:
            visible_project(project.id, Actor.of(user))
        except NotFound:
            return user.username
    raise AssertionError("every demo user takes part in the project")


# -- pages --------------------------------------------------------------------------------------

def test_a_pm_adds_a_risk_from_the_page_and_it_lands_in_its_heat_map_cell(seeded, login):
    project = _execution_project()
    pm = login(project.project_manager)
    form = pm.html(f"/projects/{project.id}/risks/new")
    assert 'name="probability"' in form and 'name="csrf_token"' in form
    response = pm.post(f"/projects/{project.id}/risks/new",
                       {"title": "Key supplier goes out of business", "probability": "2", "impact": "4",
                        "owner": project.project_manager, "response": "transfer", "trigger": "Late invoices",
                        "action": "Second supplier on standby", "status": "open"},
                       token_from=f"/projects/{project.id}/risks/new")
    assert response.status_code == 303
    risk = db.session.scalars(select(Risk).where(Risk.title == "Key supplier goes out of business")).one()
    assert (risk.score, risk.source, risk.escalation_instance_id) == (8, "workspace", None)  # below 15
    page = pm.html(f"/projects/{project.id}")
    cell = re.search(r'data-probability="2" data-impact="4">(.*?)</td>', page, re.S).group(1)
    assert f'href="#risk-{risk.id}"' in cell or "Key supplier goes out of business" in cell
    assert f'id="risk-{risk.id}"' in page
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "add_risk")).one()
    assert entry.instance_id == project.lifecycle_instance_id and entry.details["risk_id"] == risk.id
    assert "Add risk" in page  # in the project's activity


def test_an_invalid_risk_is_shown_again_with_its_errors_and_nothing_saved(seeded, login):
    project = _execution_project()
    pm = login(project.project_manager)
    before = len(project.risks)
    response = pm.post(f"/projects/{project.id}/risks/new", {"title": "x", "probability": "9", "impact": "3"},
                       token_from=f"/projects/{project.id}/risks/new")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="f-probability-error"' in html and 'id="f-title-error"' in html
    db.session.expire_all()
    assert len(db.session.get(Project, project.id).risks) == before


def test_rescoring_a_risk_over_the_threshold_escalates_it_once_per_crossing(seeded, login, actors):
    project = _execution_project()
    pm = actors[project.project_manager]
    risk = projects.add_risk(project.id, pm, {"title": "Data centre move slips", "probability": 2, "impact": 4}).risk
    assert _escalations(project) == []
    change = projects.update_risk(project.id, risk.id, pm, {"probability": 4})  # 16 >= 15
    assert change.escalation is not None
    db.session.expire_all()
    risk = db.session.get(Risk, risk.id)
    assert risk.escalation_instance_id == change.escalation.id
    review = next(t for t in instances.ready_tasks(change.escalation.id) if t.element_id == "pmo_review")
    assert "Data centre move slips" in review.title
    assert {c.role for c in review.candidates if c.role} == {"pmo"}
    assert projects.update_risk(project.id, risk.id, pm, {"impact": 5}).escalation is None  # still above: no second
    assert len(_escalations(project)) == 1
    projects.update_risk(project.id, risk.id, pm, {"probability": 1})  # below again
    assert projects.update_risk(project.id, risk.id, pm, {"probability": 5}).escalation is not None  # crosses again
    assert len(_escalations(project)) == 2

    petra = login("petra")
    response = petra.post(f"/tasks/{review.id}", {"f:pmo_decision": "to_sponsor", "f:pmo_comment": "Sponsor must know",
                                                  "action": "complete"}, token_from=f"/tasks/{review.id}")
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    assert db.session.get(Risk, risk.id).pmo_review["decision"] == "to_sponsor"
    page = login(project.project_manager).html(f"/projects/{project.id}")
    assert "Escalated to the PMO" in page and "taken to the sponsor" in page


def test_a_new_risk_at_the_threshold_is_escalated_at_once(seeded, actors):
    project = _execution_project()
    change = projects.add_risk(project.id, actors[project.project_manager],
                               {"title": "Regulator changes the reporting format", "probability": 5, "impact": 3})
    assert change.escalation is not None and change.risk.score == 15


def test_a_risk_is_raised_to_an_issue_with_its_link_kept(seeded, login):
    project = _execution_project()
    risk = next(r for r in project.risks if r.status == "open")
    pm = login(project.project_manager)
    response = pm.post(f"/projects/{project.id}/risks/{risk.id}/issue", {}, token_from=f"/projects/{project.id}")
    assert response.status_code == 303
    issue = db.session.scalars(select(RaidItem).where(RaidItem.risk_id == risk.id)).one()
    assert issue.kind == "issue" and issue.status == "open" and issue.title == risk.title
    db.session.expire_all()
    assert db.session.get(Risk, risk.id).status == "closed"
    page = pm.html(f"/projects/{project.id}")
    assert f'id="issue-{issue.id}"' in page and "Raised from the risk" in page
    again = pm.post(f"/projects/{project.id}/risks/{risk.id}/issue", {}, token_from=f"/projects/{project.id}")
    assert again.status_code == 303  # refused with a message: it is an issue already
    assert db.session.scalar(select(db.func.count()).select_from(RaidItem).where(RaidItem.risk_id == risk.id)) == 1


@pytest.mark.parametrize("kind", ["issue", "action", "decision", "assumption", "dependency"])
def test_each_raid_log_is_added_to_and_updated_from_the_page(seeded, login, kind):
    project = _execution_project()
    pm = login(project.project_manager)
    new = f"/projects/{project.id}/raid/{kind}/new"
    response = pm.post(new, {"title": f"A {kind} to follow", "description": "Details", "owner": "petra",
                             "due_date": "2027-01-15", "severity": "high" if kind == "issue" else ""},
                       token_from=new)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    item = db.session.scalars(select(RaidItem).where(RaidItem.title == f"A {kind} to follow")).one()
    assert item.kind == kind and item.owner == "petra" and item.due_date.isoformat() == "2027-01-15"
    closed = {"issue": "resolved", "action": "done", "decision": "agreed", "assumption": "validated",
              "dependency": "delivered"}[kind]
    edit = f"/projects/{project.id}/raid/{kind}/{item.id}"
    assert pm.post(edit, {"title": f"A {kind} to follow", "status": closed, "owner": "", "due_date": ""},
                   token_from=edit).status_code == 303
    db.session.expire_all()
    item = db.session.get(RaidItem, item.id)
    assert (item.status, item.owner, item.due_date) == (closed, "", None)
    assert pm.post(edit, {"title": "ok title", "status": "nonsense"}, token_from=edit).status_code == 422
    assert f'data-testid="raid-{kind}"' in pm.html(f"/projects/{project.id}")


def test_who_may_change_the_raid_log(seeded, login):
    project = _execution_project()
    stranger = _stranger(project)
    assert login(stranger).get(f"/projects/{project.id}/risks/new").status_code == 404  # may not see it
    assert login(project.sponsor).get(f"/projects/{project.id}/risks/new").status_code == 403  # sees, not theirs
    assert login(project.sponsor).get(f"/projects/{project.id}/raid/issue/new").status_code == 403
    assert "Add a risk" not in login(project.sponsor).html(f"/projects/{project.id}")
    assert login("petra").get(f"/projects/{project.id}/raid/decision/new").status_code == 200  # the PMO
    assert login(project.project_manager).get(f"/projects/{project.id}/raid/nonsense/new").status_code == 404
    no_token = login(project.project_manager).client.post(f"/projects/{project.id}/risks/new",
                                                          data={"title": "No token", "probability": "1", "impact": "1"})
    assert no_token.status_code == 400  # CSRF


def test_operations_check_people_and_permissions(seeded, actors):
    project = _execution_project()
    with pytest.raises(Forbidden):
        projects.add_raid_item(project.id, actors[project.sponsor], "issue", {"title": "Not mine"})
    with pytest.raises(NotFound):
        projects.add_risk(project.id, actors[_stranger(project)], {"title": "Guess", "probability": 1, "impact": 1})
    with pytest.raises(Invalid):
        projects.add_raid_item(project.id, actors[project.project_manager], "action",
                               {"title": "Owned by nobody real", "owner": "ghost"})
    with pytest.raises(Invalid):
        projects.add_raid_item(project.id, actors[project.project_manager], "action",
                               {"title": "Actions have no severity", "severity": "high"})


# -- API ----------------------------------------------------------------------------------------

@pytest.fixture
def planned(api, pmo):
    """A project in planning managed by maria, sponsored by sam (the API tests' demo users)."""
    project_id, _iid = initiated_project(pmo)
    return project_id


def test_api_creates_and_updates_risks_issues_actions_and_decisions(api, planned):
    base = f"/projects/{planned}"
    r = api.post(f"{base}/risks", "maria", json={"title": "Vendor API changes", "probability": 3, "impact": 5})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["risk"]["score"] == 15 and body["escalated"] is True and body["escalation_instance_id"]
    risk_id = body["risk"]["id"]
    r = api.patch(f"{base}/risks/{risk_id}", "maria", json={"owner": "maria", "response": "avoid"})
    assert r.status_code == 200 and r.get_json()["risk"]["response"] == "avoid" and r.get_json()["escalated"] is False
    r = api.post(f"{base}/risks/{risk_id}/issue", "maria")
    assert r.status_code == 201 and r.get_json()["risk_id"] == risk_id
    assert api.post(f"{base}/risks/{risk_id}/issue", "maria").status_code == 409
    for log, extra in (("issues", {"severity": "critical"}), ("actions", {"due_date": "2027-03-01"}),
                       ("decisions", {}), ("assumptions", {}), ("dependencies", {})):
        r = api.post(f"{base}/{log}", "maria", json={"title": f"From the API: {log}", "owner": "sam", **extra})
        assert r.status_code == 201, (log, r.get_json())
        item = r.get_json()
        r = api.patch(f"{base}/{log}/{item['id']}", "petra", json={"description": "Checked by the PMO"})
        assert r.status_code == 200 and r.get_json()["description"] == "Checked by the PMO"
    r = api.post(f"{base}/actions", "maria", json={"title": "Bad status", "status": "agreed"})
    assert r.status_code == 422
    assert api.patch(f"{base}/issues/{item['id']}", "maria", json={"title": "wrong log"}).status_code == 404
    detail = api.get(base, "maria").get_json()
    assert {i["kind"] for i in detail["raid_items"]} == {"issue", "action", "decision", "assumption", "dependency"}


def test_api_raid_permissions(api, planned):
    base = f"/projects/{planned}"
    assert api.post(f"{base}/risks", "sam", json={"title": "Sponsor risk", "probability": 1,
                                                  "impact": 1}).status_code == 403
    assert api.post(f"{base}/issues", "carla", json={"title": "Stranger issue"}).status_code == 404
    assert api.post(f"{base}/issues", json={"title": "No token"}).status_code == 401
    assert api.post(f"{base}/risks", "petra", json={"title": "PMO risk", "probability": 1, "impact": 1}).status_code == 201


def test_api_raid_routes_are_documented(api, planned):
    paths = api.get("/openapi.json").get_json()["paths"]
    for path in ("/api/v1/projects/{project_id}/risks", "/api/v1/projects/{project_id}/risks/{risk_id}",
                 "/api/v1/projects/{project_id}/risks/{risk_id}/issue", "/api/v1/projects/{project_id}/{log}",
                 "/api/v1/projects/{project_id}/{log}/{item_id}"):
        assert path in paths or path.removeprefix("/api/v1") in paths, path
