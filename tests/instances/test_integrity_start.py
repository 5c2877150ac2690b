"""Issue 9, item 1: a process says who may start it by hand, and start data is only what it declares."""

from __future__ import annotations

import json

import pytest

from app.core.extensions import db
from app.definitions import operations as definitions
from app.instances.models import ProcessInstance
from tests.support.api import assert_problem, upload

WORKFLOWS_AND_FORMS = ["workflows", "forms"]

START_FORM_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="D_ask" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="ask" name="Ask" isExecutable="true">
    <bpmn:extensionElements>
      <spiffworkflow:properties>
        <spiffworkflow:property name="startableBy" value="project_manager, sponsor" />
        <spiffworkflow:property name="startFormJsonSchemaFilename" value="ask-start.json" />
      </spiffworkflow:properties>
    </bpmn:extensionElements>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="answer" />
    <bpmn:userTask id="answer" name="Answer {{ question }}" />
    <bpmn:sequenceFlow id="f2" sourceRef="answer" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""
START_FORM = {"type": "object", "required": ["question"], "properties": {
    "question": {"type": "string", "minLength": 3}, "kind": {"type": "string", "readOnly": True}}}


def _deploy_ask(api, bpmn: bytes = START_FORM_BPMN, form: dict | None = None):  # noqa: ANN001, ANN201
    return api.post("/process-definitions", "owen", **upload(
        [("ask.bpmn", bpmn), ("ask-start.json", json.dumps(form or START_FORM).encode())]))


@pytest.fixture
def lifecycle(app):
    from pathlib import Path

    import app.projects  # noqa: F401 - the pmo/... operators

    root = Path(__file__).resolve().parents[2]
    return definitions.deploy_directory([root / name for name in WORKFLOWS_AND_FORMS], "admin")


def test_a_process_the_server_starts_cannot_be_started_by_hand(api, lifecycle):
    """carla started a change_request for another project with forged lane owners and approved it."""
    attack = {"process_key": "change_request", "business_key": "project:3", "data": {
        "project_id": 3, "lane_owners": {"project_manager": ["carla"], "sponsor": ["carla"]},
        "requested_by": "nobody"}}
    for user in ("carla", "maria", "admin"):
        body = assert_problem(api.post("/process-instances", user, json=attack), 403)
        assert "not started by hand" in body["detail"]
    assert_problem(api.post("/process-instances", "admin", json={"process_key": "project_lifecycle"}), 403)
    assert ProcessInstance.query.count() == 0
    listed = {d["key"]: d for d in api.get("/process-definitions", "carla").get_json()["items"]}
    assert listed["change_request"]["startable_by"] == []


def test_only_the_roles_the_process_names_may_start_it(api, deployed):
    body = assert_problem(api.post("/process-instances", "sam", json={"process_key": "simple_approval"}), 403)
    assert "project_manager" in body["detail"]
    assert api.post("/process-instances", "paul", json={"process_key": "simple_approval"}).status_code == 201
    definition = api.get("/process-definitions/simple_approval", "sam").get_json()
    assert definition["startable_by"] == ["project_manager"]


def test_start_data_never_carries_server_owned_or_undeclared_keys(api, deployed):
    data = {"title": "Laptops", "lane_owners": {"sponsor": ["maria"]}, "requested_by": "nobody",
            "project_id": 3, "process_initiator": "x", "colour": "red"}
    body = assert_problem(api.post("/process-instances", "maria", json={"process_key": "simple_approval",
                                                                        "data": data}), 422)
    assert set(body["errors"]) == {"lane_owners", "requested_by", "project_id", "process_initiator", "colour"}
    assert "server-owned" in body["errors"]["lane_owners"][0]
    assert body["errors"]["colour"] == ["not one of the fields this start takes (budget, cost, title)"]
    body = assert_problem(api.post("/process-instances", "maria", json={
        "process_key": "simple_approval", "business_key": "project:1"}), 422)
    assert set(body["errors"]) == {"business_key"}
    assert ProcessInstance.query.count() == 0


def test_start_data_is_validated_against_the_start_form(api, app):
    r = _deploy_ask(api)
    assert r.status_code == 201, r.get_json()
    body = assert_problem(api.post("/process-instances", "sam", json={"process_key": "ask", "data": {}}), 422)
    assert set(body["errors"]) == {"question"}
    body = assert_problem(api.post("/process-instances", "sam", json={
        "process_key": "ask", "data": {"question": "Why?", "kind": "urgent", "other": 1}}), 422)
    assert set(body["errors"]) == {"kind", "other"}
    assert "read-only" in body["errors"]["kind"][0]
    r = api.post("/process-instances", "sam", json={"process_key": "ask", "data": {"question": "Why?"}})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["ready_tasks"][0]["title"] == "Answer Why?"


def test_deploy_refuses_start_rules_that_would_open_a_hole(api, app):
    bad = START_FORM_BPMN.replace(b"project_manager, sponsor", b"project_manager, wizard")
    body = assert_problem(_deploy_ask(api, bad), 422)
    assert any("wizard" in p["message"] for p in body["errors"])
    form = {**START_FORM, "properties": {**START_FORM["properties"], "lane_owners": {"type": "object"}}}
    body = assert_problem(_deploy_ask(api, form=form), 422)
    assert any("lane_owners" in p["message"] for p in body["errors"])
    fields = START_FORM_BPMN.replace(b'name="startFormJsonSchemaFilename" value="ask-start.json"',
                                     b'name="startDataFields" value="question, requested_by"')
    body = assert_problem(_deploy_ask(api, fields), 422)
    assert any("requested_by" in p["message"] for p in body["errors"])


def test_the_projects_module_still_starts_lifecycles_with_its_binding(api, lifecycle, actors):
    from app.projects import operations as services
    project = services.create_project("Server-side start", "maria", "sam", actors["petra"])
    instance = db.session.get(ProcessInstance, project.lifecycle_instance_id)
    assert instance.status == "running" and instance.business_key == f"project:{project.id}"
    [task] = api.get("/tasks", "maria").get_json()["items"]
    assert task["candidate_users"] == ["maria"]            # lane_owners from the server's binding
