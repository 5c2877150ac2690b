"""Initiation: charter, sponsor decision (approve / send back / reject), PMO registration, priority DMN."""

from __future__ import annotations

import pytest

from app.core.errors import Invalid, NotFound
from app.core.extensions import db
from app.projects import operations as services
from app.projects.models import Project
from tests.projects.data import CHARTER, REGISTER, d


def new_project(pmo, pm="maria", sponsor="sam"):  # noqa: ANN001, ANN201
    project = services.create_project("Customer portal relaunch", pm, sponsor, pmo.actors[pm])
    return project, project.lifecycle_instance_id


def test_create_project_starts_lifecycle_bound_to_its_pm_and_sponsor(pmo):
    project, iid = new_project(pmo)
    assert project.phase == "initiation" and project.status == "proposed"
    task = pmo.task(iid, "write_charter")
    assert task.candidate_users == ["maria"] and task.candidate_roles == []
    assert task.title == "Write project charter: Customer portal relaunch"
    # paul is a project manager too, but not this project's: for him the task does not exist
    with pytest.raises(NotFound):
        pmo.do("paul", iid, "write_charter", d(CHARTER))


def test_charter_approved_registered_with_priority(pmo):
    project, iid = new_project(pmo)
    pmo.do("maria", iid, "write_charter", d(CHARTER))
    review = pmo.task(iid, "sponsor_review")
    assert review.candidate_users == ["sam"] and "maria" in review.excluded_users
    pmo.do("sam", iid, "sponsor_review", {"sponsor_decision": "approve"})
    register = pmo.task(iid, "register")
    assert register.candidate_roles == ["pmo"]
    pmo.do("petra", iid, "register", d(REGISTER))
    project = db.session.get(Project, project.id)
    assert project.code == "CRM-0042" and project.priority == "P1" and project.phase == "planning"
    assert project.status == "active" and float(project.budget_estimate) == 650000
    assert project.charter["scope_out"] == CHARTER["scope_out"]
    assert [r.score for r in project.risks] == [12]
    assert pmo.ready(iid) == ["prepare_plan"]


def test_sponsor_sends_back_with_required_reason_then_approves(pmo):
    project, iid = new_project(pmo)
    pmo.do("maria", iid, "write_charter", d(CHARTER))
    with pytest.raises(Invalid) as err:
        pmo.do("sam", iid, "sponsor_review", {"sponsor_decision": "send_back"})
    assert "sponsor_reason" in err.value.errors
    pmo.do("sam", iid, "sponsor_review", {"sponsor_decision": "send_back",
                                          "sponsor_reason": "Quantify the call-centre savings."})
    again = pmo.task(iid, "write_charter")
    assert again.candidate_users == ["maria"]
    assert pmo.task_data(again)["sponsor_reason"] == "Quantify the call-centre savings."
    pmo.do("maria", iid, "write_charter", d(CHARTER))
    pmo.do("sam", iid, "sponsor_review", {"sponsor_decision": "approve"})
    assert pmo.ready(iid) == ["register"]


def test_sponsor_rejects_and_lifecycle_ends(pmo):
    project, iid = new_project(pmo)
    pmo.do("maria", iid, "write_charter", d(CHARTER))
    pmo.do("sam", iid, "sponsor_review", {"sponsor_decision": "reject",
                                          "sponsor_reason": "No budget this year for this initiative."})
    project = db.session.get(Project, project.id)
    assert project.status == "rejected" and project.phase == "closed"
    assert pmo.ready(iid) == []
    from app.instances import commands as instances
    assert instances.get(iid).status == "completed"


def test_charter_with_end_before_start_is_refused_at_submit(pmo):
    # Issue 16 item 15: a validation error at the field (the form's validationRules), no longer a
    # task sent back to the same person with a note in its instructions.
    project, iid = new_project(pmo)
    bad = d(CHARTER) | {"target_end_date": "2026-01-01"}
    with pytest.raises(Invalid) as info:
        pmo.do("maria", iid, "write_charter", bad)
    assert "target end date must be after" in info.value.errors["target_end_date"][0]
    assert pmo.ready(iid) == ["write_charter"]


def test_duplicate_project_code_is_reported_to_the_pmo(pmo):
    first, iid1 = new_project(pmo)
    second, iid2 = new_project(pmo, pm="paul")
    for user, iid in (("maria", iid1), ("paul", iid2)):
        pmo.do(user, iid, "write_charter", d(CHARTER))
        pmo.do("sam", iid, "sponsor_review", {"sponsor_decision": "approve"})
    pmo.do("petra", iid1, "register", d(REGISTER))
    pmo.do("petra", iid2, "register", d(REGISTER))
    again = pmo.task(iid2, "register")
    assert "already used" in pmo.task_data(again)["registration"]["error"]
    pmo.do("petra", iid2, "register", d(REGISTER) | {"project_code": "CRM-0043"})
    assert db.session.get(Project, second.id).code == "CRM-0043"


def test_register_form_rejects_bad_code(pmo):
    project, iid = new_project(pmo)
    pmo.do("maria", iid, "write_charter", d(CHARTER))
    pmo.do("sam", iid, "sponsor_review", {"sponsor_decision": "approve"})
    with pytest.raises(Invalid) as err:
        pmo.do("petra", iid, "register", d(REGISTER) | {"project_code": "crm 42"})
    assert "project_code" in err.value.errors


@pytest.mark.parametrize(("fit", "value", "risk", "priority"), [
    (5, 5, 3, "P1"), (4, 4, 3, "P1"),          # strategic, valuable, risk acceptable
    (4, 4, 4, "P2"),                           # risk above 3 drops to P2
    (4, 3, 5, "P2"),                           # strategic enabler
    (3, 4, 2, "P2"), (3, 4, 3, "P3"),          # quick win needs risk <= 2
    (3, 3, 5, "P3"),
    (2, 3, 1, "P4"), (3, 2, 1, "P4"), (1, 1, 1, "P4"),
])
def test_priority_table_boundaries(pmo, fit, value, risk, priority):
    project, iid = new_project(pmo)
    pmo.do("maria", iid, "write_charter", d(CHARTER))
    pmo.do("sam", iid, "sponsor_review", {"sponsor_decision": "approve"})
    pmo.do("petra", iid, "register", d(REGISTER) | {"strategic_fit": fit, "value_score": value, "risk_score": risk})
    assert db.session.get(Project, project.id).priority == priority
