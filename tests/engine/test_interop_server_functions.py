"""SpiffArena's server functions that have an equivalent here: ``get_current_user()`` (who acts, as a
dict with username, email and display name) and ``get_url_for_task_with_bpmn_identifier(id)`` (the
absolute URL of that ready task's page, or None). The command that runs the step hands their values
to the script engine; scripts run in the sandbox's worker processes and reach nothing else."""

from __future__ import annotations

from app.definitions import operations as definitions
from app.engine import bundle as bundle_mod
from app.engine.spiff_globals import CurrentUser, TaskUrls
from app.instances import commands as instances
from app.people import queries as people_queries
from tests.engine.conftest import bpmn, fresh_instance, ready

SCRIPT = """me = get_current_user()
who = me["username"]
who_name = me["display_name"]
other_url = get_url_for_task_with_bpmn_identifier("other")
missing_url = get_url_for_task_with_bpmn_identifier("nowhere")"""

LANES = """    <bpmn:laneSet id="ls">
      <bpmn:lane id="lane_pm" name="Project Manager"><bpmn:flowNodeRef>first</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="lane_start" name="process_initiator"><bpmn:flowNodeRef>other</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
"""

BODY = f"""    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="fork" />
    <bpmn:parallelGateway id="fork" />
    <bpmn:sequenceFlow id="f1" sourceRef="fork" targetRef="first" />
    <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="other" />
    <bpmn:manualTask id="first" name="First" />
    <bpmn:manualTask id="other" name="Other" />
    <bpmn:sequenceFlow id="f3" sourceRef="first" targetRef="who" />
    <bpmn:scriptTask id="who" name="Who"><bpmn:script>{SCRIPT}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f4" sourceRef="who" targetRef="join" />
    <bpmn:sequenceFlow id="f5" sourceRef="other" targetRef="join" />
    <bpmn:parallelGateway id="join" />
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="end" />
    <bpmn:endEvent id="end" />
"""


def _deploy() -> None:
    text = bpmn("server_functions", BODY, lanes=LANES)
    definitions.deploy([bundle_mod.BundleFile("server_functions.bpmn", text.encode())], "admin")


def _first_and_other(instance_id: int):  # noqa: ANN202
    tasks = {t.element_id: t for t in ready(instance_id)}
    return tasks["first"], tasks["other"]


def test_the_completing_user_and_the_task_url_reach_the_script(app, actors):
    _deploy()  # no longer refused at deploy: both have an equivalent here
    instance = instances.start("server_functions", actors["admin"], {})
    first, other = _first_and_other(instance.id)
    instances.complete(first.id, actors["paul"], {})  # paul completes; admin started it
    data = instances.instance_data(fresh_instance(instance.id))
    paul = people_queries.get("paul")
    assert data["who"] == "paul" and data["who_name"] == paul.display_name
    assert data["me"] == {"username": "paul", "email": paul.email, "display_name": paul.display_name}
    hint = app.config["SERVER_NAME_HINT"].rstrip("/")
    assert data["other_url"] == f"{hint}/tasks/{other.id}"
    assert data["missing_url"] is None
    assert "get_current_user" not in data and "get_url_for_task_with_bpmn_identifier" not in data


def test_through_the_api_the_url_is_the_address_the_request_came_to(app, api, actors):
    _deploy()
    instance = instances.start("server_functions", actors["admin"], {})
    first, other = _first_and_other(instance.id)
    response = api.post(f"/tasks/{first.id}/complete", "paul", json={"data": {}})
    assert response.status_code == 200, response.get_json()
    data = instances.instance_data(fresh_instance(instance.id))
    assert data["who"] == "paul" and data["other_url"] == f"http://localhost/tasks/{other.id}"
    page = api.client.get(data["other_url"].removeprefix("http://localhost"))
    assert page.status_code in (200, 302)  # the page exists (302: sign in first)


def test_the_system_has_no_current_user_and_values_are_copies():
    user = CurrentUser({"username": "paul", "email": "", "display_name": "Paul"})
    first = user()
    first["username"] = "mallory"
    assert user()["username"] == "paul"
    assert CurrentUser(None)() is None
    assert TaskUrls({"a": "http://x/tasks/1"})("a") == "http://x/tasks/1" and TaskUrls({})("a") is None
