"""Issue 9, items 2 and 3 on the real change request: no ballot stuffing through out-of-office or
delegation, and no process variable set through a step's data."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.audit import AuditEntry
from app.core.errors import Forbidden, Invalid, NotFound
from app.core.extensions import db
from app.core.models import utcnow
from app.inbox import delegation
from app.instances import commands as instances
from app.people import operations as users
from app.people import queries as user_queries
from tests.projects.conftest import initiated_project
from tests.projects.data import CHANGE, assessment, d


@pytest.fixture
def project_id(pmo):
    pid, _ = initiated_project(pmo)
    return pid


def _away(username: str, stand_in: str) -> None:
    now = utcnow()
    delegation.set_out_of_office(user_queries.find(username), stand_in, now - timedelta(hours=1), now + timedelta(days=5))


def _ccb_vote(pmo, project_id, requester: str = "paul") -> int:  # noqa: ANN001
    from app.projects import operations as services
    iid = services.start_change_request(project_id, pmo.actors[requester], d(CHANGE)).id
    pmo.do("maria", iid, "assess", assessment(80000, 10))
    return iid


def test_a_ccb_stand_in_does_not_get_a_second_ballot(pmo, project_id):
    """carla names chen (also on the CCB) as her stand-in: both ballots used to go to chen."""
    _away("carla", "chen")
    iid = _ccb_vote(pmo, project_id)
    ballots = pmo.tasks(iid, "ccb_vote_task")
    assert sorted(t.assignee for t in ballots) == ["carla", "chen"]
    assert sorted(tuple(t.candidate_users) for t in ballots) == [("carla",), ("chen",)]
    carla_ballot = next(t for t in ballots if t.assignee == "carla")
    with pytest.raises((Forbidden, NotFound)):
        instances.complete(carla_ballot.id, pmo.actors["chen"], {"ccb_vote": {"vote": "approve"}})
    skipped = db.session.query(AuditEntry).filter_by(action="out_of_office_not_routed", task_id=carla_ballot.id).one()
    assert skipped.details["stand_in"] == "chen" and "same vote" in skipped.details["reason"]


def test_a_stand_in_without_the_role_gets_nothing_and_every_ccb_member_votes_once(pmo, project_id):
    _away("carla", "petra")                     # PMO, not on the CCB
    iid = _ccb_vote(pmo, project_id)
    carla_ballot = next(t for t in pmo.tasks(iid, "ccb_vote_task") if "carla" in t.candidate_users)
    assert carla_ballot.assignee == "carla" and "petra" not in carla_ballot.candidate_users

    users.create("cody", "cody-secret-pw", ["ccb_member"])
    _away("carla", "cody")                      # on the CCB: he has a ballot of his own
    iid = _ccb_vote(pmo, project_id)
    holders = sorted(tuple(t.candidate_users) for t in pmo.tasks(iid, "ccb_vote_task"))
    assert holders == [("carla",), ("chen",), ("cody",)]


def test_delegating_a_ballot_to_someone_who_holds_one_is_refused(pmo, project_id):
    iid = _ccb_vote(pmo, project_id)
    carla_ballot = next(t for t in pmo.tasks(iid, "ccb_vote_task") if t.assignee == "carla")
    with pytest.raises(Forbidden, match="same vote"):
        delegation.delegate(carla_ballot.id, pmo.actors["carla"], "chen")
    assert instances.get_task(carla_ballot.id).assignee == "carla"


def test_a_step_cannot_set_requested_by_and_so_cannot_bypass_segregation(pmo, project_id):
    """maria added "requested_by": "paul" to her assessment; the approval then went to her."""
    from app.projects import operations as services
    iid = services.start_change_request(project_id, pmo.actors["maria"], d(CHANGE)).id
    with pytest.raises(Invalid) as info:
        pmo.do("maria", iid, "assess", assessment(8000, 3) | {"requested_by": "paul"})
    assert "requested_by" in info.value.errors
    assert pmo.ready(iid) == ["assess"]
    pmo.do("maria", iid, "assess", assessment(8000, 3))
    assert pmo.data(iid)["requested_by"] == "maria"
    assert "pm_decision" not in pmo.ready(iid)      # her own change: not within her tolerance
