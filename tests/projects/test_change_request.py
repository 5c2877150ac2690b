"""Change control: routing by size (DMN boundaries), PM / sponsor / CCB approval, rejection loop,
segregation of duties, SLA reminder and escalation."""

from __future__ import annotations

import pytest

from app.core.errors import Conflict, Forbidden, NotFound
from app.core.extensions import db
from app.instances import commands as instances
from app.projects import operations as services
from app.projects.models import ChangeRequest, Project
from tests.projects.conftest import initiated_project, timer_service
from tests.projects.data import CHANGE, assessment, d


@pytest.fixture
def project_id(pmo):
    pid, _ = initiated_project(pmo)
    return pid


def raise_cr(pmo, project_id, user="paul", **changes):  # noqa: ANN001, ANN201
    instance = services.start_change_request(project_id, pmo.actors[user], d(CHANGE) | changes)
    return instance.id


def assess(pmo, iid, cost, days, risk="low"):  # noqa: ANN001, ANN201
    pmo.do("maria", iid, "assess", assessment(cost, days, risk))
    return pmo.data(iid)


def the_cr(project_id) -> ChangeRequest:  # noqa: ANN001
    return db.session.get(Project, project_id).change_requests[-1]


def test_change_request_not_accepted_before_initiation_completes(pmo):
    project = services.create_project("Early idea", "maria", "sam", pmo.actors["maria"])
    with pytest.raises(Conflict):
        services.start_change_request(project.id, pmo.actors["maria"], d(CHANGE))


@pytest.mark.parametrize(("cost", "days", "risk", "requester", "size", "route"), [
    (9999.99, 5, "medium", "paul", "small", "pm"),
    (-9999, -5, "low", "paul", "small", "pm"),        # savings count by size too
    (9999, 5, "low", "maria", "small", "sponsor"),    # raised by the PM: not within her own tolerance
    (10000, 0, "low", "paul", "medium", "sponsor"),
    (0, 6, "none", "paul", "medium", "sponsor"),
    (49999, 20, "medium", "paul", "medium", "sponsor"),
    (50000, 0, "low", "paul", "large", "ccb"),
    (0, 21, "low", "paul", "large", "ccb"),
    (100, 1, "high", "paul", "large", "ccb"),
])
def test_routing_boundaries(pmo, project_id, cost, days, risk, requester, size, route):
    iid = raise_cr(pmo, project_id, user=requester)
    data = assess(pmo, iid, cost, days, risk)
    assert (data["change_size"], data["approval_route"]) == (size, route)
    expected = {"pm": "pm_decision", "sponsor": "sponsor_decision", "ccb": "ccb_vote_task"}[route]
    assert expected in pmo.ready(iid)


def test_small_change_approved_by_pm_updates_baseline(pmo, project_id):
    project = db.session.get(Project, project_id)
    before = (project.budget_baseline or project.budget_estimate, project.target_end_date, project.baseline_version)
    iid = raise_cr(pmo, project_id)
    assert pmo.task(iid, "assess").candidate_users == ["maria"]
    assess(pmo, iid, 8000, 3)
    pmo.do("maria", iid, "pm_decision", {"change_decision": "approve"})
    cr = the_cr(project_id)
    project = db.session.get(Project, project_id)
    assert cr.status == "approved" and cr.reference == "CR-001" and cr.route == "pm"
    assert project.budget_baseline == before[0] + 8000
    assert (project.target_end_date - before[1]).days == 3
    assert project.baseline_version == before[2] + 1 == cr.applied_baseline_version
    assert [(x.decided_by, x.decision) for x in cr.decisions] == [("maria", "approve")]
    assert instances.get(iid).status == "completed"


def test_requester_cannot_approve_own_change(pmo, project_id):
    # The sponsor raises a medium change: the sponsor's approval task excludes him.
    iid = raise_cr(pmo, project_id, user="sam")
    assess(pmo, iid, 20000, 2)
    task = pmo.task(iid, "sponsor_decision")
    assert task.excluded_users == ["sam"]
    with pytest.raises((Forbidden, NotFound)):
        pmo.do("sam", iid, "sponsor_decision", {"change_decision": "approve"}, task=task)
    with pytest.raises((Forbidden, NotFound)):
        instances.claim(task.id, pmo.actors["sam"])


def test_pmo_requester_gets_forbidden(pmo, project_id):
    # The PMO sees every task, so the rule shows as Forbidden: petra raised it, she cannot decide it.
    iid = raise_cr(pmo, project_id, user="petra")
    assess(pmo, iid, 1000, 1)
    task = pmo.task(iid, "pm_decision")
    with pytest.raises(Forbidden, match="segregation of duties"):
        pmo.do("petra", iid, "pm_decision", {"change_decision": "approve"}, task=task)
    with pytest.raises(Forbidden):
        instances.assign(task.id, pmo.actors["admin"], "petra")
    pmo.do("maria", iid, "pm_decision", {"change_decision": "approve"}, task=task)
    assert the_cr(project_id).status == "approved"


def test_requester_cannot_vote_as_ccb_member(pmo, project_id):
    iid = raise_cr(pmo, project_id, user="carla")
    assess(pmo, iid, 80000, 10)
    votes = pmo.tasks(iid, "ccb_vote_task")
    assert [t.candidate_users for t in votes] == [["chen"]]   # carla raised it: no ballot for her
    assert all("carla" in t.excluded_users for t in votes)


def test_sponsor_rejects_requester_sees_why_and_revises(pmo, project_id):
    iid = raise_cr(pmo, project_id)
    assess(pmo, iid, 20000, 2)
    from app.core.errors import Invalid
    with pytest.raises(Invalid):
        pmo.do("sam", iid, "sponsor_decision", {"change_decision": "reject"})
    pmo.do("sam", iid, "sponsor_decision", {"change_decision": "reject",
                                            "change_decision_reason": "Not before the portal is live."})
    assert the_cr(project_id).status == "rejected"
    outcome = pmo.task(iid, "requester_sees")
    assert outcome.candidate_users == ["paul"]
    assert pmo.task_data(outcome)["change_decision_reason"] == "Not before the portal is live."
    pmo.do("paul", iid, "requester_sees", {"outcome_choice": "revise"})
    pmo.do("paul", iid, "submit", d(CHANGE) | {"cost_impact": 5000})
    cr = the_cr(project_id)
    assert cr.status == "submitted" and float(cr.cost_impact) == 5000 and len(db.session.get(
        Project, project_id).change_requests) == 1
    assess(pmo, iid, 5000, 2)
    pmo.do("maria", iid, "pm_decision", {"change_decision": "approve"})
    assert the_cr(project_id).status == "approved"


def test_rejected_change_withdrawn(pmo, project_id):
    iid = raise_cr(pmo, project_id)
    assess(pmo, iid, 5000, 1)
    pmo.do("maria", iid, "pm_decision", {"change_decision": "reject", "change_decision_reason": "Out of scope."})
    pmo.do("paul", iid, "requester_sees", {"outcome_choice": "withdraw"})
    assert the_cr(project_id).status == "withdrawn"
    assert instances.get(iid).status == "completed"


@pytest.mark.parametrize(("votes", "outcome"), [
    (["approve", "approve"], "approved"),
    (["approve", "abstain"], "approved"),
    (["approve", "reject"], "rejected"),     # a tie rejects
    (["abstain", "abstain"], "rejected"),
    (["reject", "reject"], "rejected"),
])
def test_ccb_majority_vote(pmo, project_id, votes, outcome):
    iid = raise_cr(pmo, project_id)
    assess(pmo, iid, 120000, 30, "high")
    ballots = {t.candidate_users[0]: t for t in pmo.tasks(iid, "ccb_vote_task")}
    assert sorted(ballots) == ["carla", "chen"]
    with pytest.raises(NotFound):  # each member votes on their own ballot only
        instances.complete(ballots["carla"].id, pmo.actors["chen"], {"ccb_vote": {"vote": "approve"}})
    for voter, vote in zip(["carla", "chen"], votes, strict=True):
        data = {"vote": vote} if vote == "approve" else {"vote": vote, "comment": "Cost is not justified."}
        pmo.do(voter, iid, "ccb_vote_task", {"ccb_vote": data}, task=ballots[voter])
    cr = the_cr(project_id)
    assert cr.status == outcome and cr.route == "ccb"
    assert sorted((x.decided_by, x.decision) for x in cr.decisions if x.kind == "ccb_vote") == sorted(
        zip(["carla", "chen"], votes, strict=True))
    if outcome == "rejected":
        assert pmo.task(iid, "requester_sees").candidate_users == ["paul"]


@timer_service
def test_reminder_after_two_working_days_then_escalation_to_pmo(pmo, project_id):
    iid = raise_cr(pmo, project_id)
    assess(pmo, iid, 20000, 2)
    pmo.fire_timers(iid, days=1)
    assert the_cr(project_id).reminders_sent == 0
    pmo.fire_timers(iid, days=3)       # at least 2 working days later, whatever the weekday
    assert the_cr(project_id).reminders_sent == 1
    assert pmo.ready(iid) == ["sponsor_decision"]          # the reminder does not interrupt
    pmo.fire_timers(iid, days=5)       # 8 calendar days: past 5 working days
    assert pmo.ready(iid) == ["pmo_decision"]
    task = pmo.task(iid, "pmo_decision")
    assert task.candidate_roles == ["pmo"] and task.excluded_users == ["paul"]
    pmo.do("petra", iid, "pmo_decision", {"change_decision": "approve",
                                          "change_decision_reason": "Sponsor unavailable; within contingency."})
    cr = the_cr(project_id)
    assert cr.status == "approved" and cr.decisions[-1].decided_as == "pmo"


@timer_service
def test_ccb_vote_escalates_to_pmo(pmo, project_id):
    iid = raise_cr(pmo, project_id)
    assess(pmo, iid, 90000, 10)
    pmo.do("carla", iid, "ccb_vote_task", {"ccb_vote": {"vote": "approve"}},
           task=next(t for t in pmo.tasks(iid, "ccb_vote_task") if t.candidate_users == ["carla"]))
    pmo.fire_timers(iid, days=8)
    assert pmo.ready(iid) == ["pmo_decision"]
    pmo.do("petra", iid, "pmo_decision", {"change_decision": "reject",
                                          "change_decision_reason": "CCB quorum not reached in time."})
    assert the_cr(project_id).status == "rejected"
    assert pmo.task_data(pmo.task(iid, "requester_sees"))["lane_owners"]["sponsor"] == ["sam"]
