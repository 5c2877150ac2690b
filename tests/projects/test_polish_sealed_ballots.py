"""Issue 16 item 19: a CCB member does not see the other members' ballots before the vote closes."""

from __future__ import annotations

import pytest
from flask import g

from app.instances import ballots
from tests.projects.conftest import initiated_project
from tests.projects.data import CHANGE, assessment, d
from tests.test_web import login

SECRET = "Carla thinks the vendor quote is padded"


@pytest.fixture
def vote(pmo):
    from app.projects import operations as services
    project_id, _ = initiated_project(pmo)
    iid = services.start_change_request(project_id, pmo.actors["paul"], d(CHANGE)).id
    pmo.do("maria", iid, "assess", assessment(80000, 10))
    tasks = {t.assignee: t for t in pmo.tasks(iid, "ccb_vote_task")}
    pmo.do("carla", iid, "ccb_vote_task", {"ccb_vote": {"vote": "reject", "comment": SECRET}}, task=tasks["carla"])
    return iid, tasks


def _page(app, user: str, task_id: str) -> str:
    # the tests hold one app context: Flask-Login's cached user (on g) would leak between clients
    g.pop("_login_user", None)
    g.pop("csrf_token", None)
    client = app.test_client()
    login(client, user)
    g.pop("_login_user", None)
    response = client.get(f"/tasks/{task_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_ballots_are_sealed_until_the_vote_closes(app, pmo, vote):
    iid, tasks = vote
    html = _page(app, "chen", tasks["chen"].id)
    assert SECRET not in html and "Ballot sealed" in html
    assert SECRET in _page(app, "carla", tasks["carla"].id)      # a voter sees their own ballot
    assert tasks["carla"].id in ballots.sealed_tasks(iid)
    pmo.do("chen", iid, "ccb_vote_task", {"ccb_vote": {"vote": "approve"}}, task=tasks["chen"])
    assert ballots.sealed_tasks(iid) == set()
    html = _page(app, "chen", tasks["chen"].id)
    assert SECRET in html and "Ballot sealed" not in html


def test_a_process_can_open_the_ballots(app, pmo, vote, monkeypatch):
    iid, tasks = vote
    monkeypatch.setattr(ballots, "_open_by_process", lambda instance_id, element_id: True)
    assert SECRET in _page(app, "chen", tasks["chen"].id)


def test_the_api_keeps_ballots_sealed_too(app, pmo, vote):
    from tests.support.api import Api

    iid, tasks = vote
    api = Api(app.test_client())
    g.pop("_login_user", None)
    audit = api.get(f"/process-instances/{iid}/audit", "chen")
    assert audit.status_code == 200 and SECRET not in audit.get_data(as_text=True)
    g.pop("_login_user", None)
    instance = api.get(f"/process-instances/{iid}", "chen")
    assert instance.status_code == 200 and SECRET not in instance.get_data(as_text=True)
    assert SECRET in api.get(f"/process-instances/{iid}/audit", "carla").get_data(as_text=True)
    pmo.do("chen", iid, "ccb_vote_task", {"ccb_vote": {"vote": "approve"}}, task=tasks["chen"])
    g.pop("_login_user", None)
    assert SECRET in api.get(f"/process-instances/{iid}/audit", "chen").get_data(as_text=True)
