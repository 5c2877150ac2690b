"""Issue 9, items 2 and 7: a completion sets only its form's fields, and a retried completion is
recognisable as already done (Idempotency-Key, or 409 "already completed by you" with the result)."""

from __future__ import annotations

import json

from app.core.audit import AuditEntry
from tests.support.api import assert_problem, upload

READONLY_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="D_ro" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="ro" name="Read-only" isExecutable="true">
    <bpmn:extensionElements>
      <spiffworkflow:properties>
        <spiffworkflow:property name="startableBy" value="project_manager" />
      </spiffworkflow:properties>
    </bpmn:extensionElements>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="seed" />
    <bpmn:scriptTask id="seed"><bpmn:script>note = "from the process"
code = "A-1"</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f1" sourceRef="seed" targetRef="fill" />
    <bpmn:userTask id="fill" name="Fill">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="ro-schema.json" />
          <spiffworkflow:property name="formUiSchemaFilename" value="ro-uischema.json" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""
RO_SCHEMA = {"type": "object", "required": ["answer"], "properties": {
    "answer": {"type": "string"}, "note": {"type": "string", "readOnly": True}, "code": {"type": "string"}}}
RO_UI = {"code": {"ui:readonly": True}}


def _submit_task(api) -> tuple[dict, str]:  # noqa: ANN001
    instance = api.start()
    return instance, instance["ready_tasks"][0]["id"]


def test_extra_keys_in_a_completion_are_refused_and_nothing_is_set(api, deployed):
    """maria added "requested_by" (and "lane_owners") to her form data: they reached the process."""
    instance, task_id = _submit_task(api)
    data = {"title": "Laptop", "cost": 10, "requested_by": "paul", "lane_owners": {"sponsor": ["maria"]}}
    body = assert_problem(api.post(f"/tasks/{task_id}/complete", "maria", json={"data": data}), 422)
    assert set(body["errors"]) == {"requested_by", "lane_owners"}
    assert body["errors"]["requested_by"] == ["not a field of this task's form"]
    assert api.get(f"/tasks/{task_id}", "maria").get_json()["status"] == "ready"
    r = api.post(f"/tasks/{task_id}/complete", "maria", json={"data": {"title": "Laptop", "cost": 10}})
    assert r.status_code == 200, r.get_json()
    assert "requested_by" not in api.get(f"/process-instances/{instance['id']}", "maria").get_json()["data"]


def test_a_task_without_a_form_takes_only_the_fields_its_process_declares(api, two_steps):
    instance = api.start("maria", "two_steps", data={"name": "Ann"})
    first = instance["ready_tasks"][0]["id"]
    body = assert_problem(api.post(f"/tasks/{first}/complete", "maria",
                                   json={"data": {"value": 2, "name": "Bob"}}), 422)
    assert set(body["errors"]) == {"name"} and "value" in body["errors"]["name"][0]
    second = api.post(f"/tasks/{first}/complete", "maria", json={"data": {"value": 2}}).get_json()["next_tasks"][0]
    body = assert_problem(api.post(f"/tasks/{second['id']}/complete", "maria", json={"data": {"value": 0}}), 422)
    assert body["errors"] == {"value": ["this task takes no data"]}


def test_read_only_fields_keep_the_process_value(api, app):
    files = [("ro.bpmn", READONLY_BPMN), ("ro-schema.json", json.dumps(RO_SCHEMA).encode()),
             ("ro-uischema.json", json.dumps(RO_UI).encode())]
    assert api.post("/process-definitions", "owen", **upload(files)).status_code == 201
    instance = api.start("maria", "ro")
    task_id = instance["ready_tasks"][0]["id"]
    body = assert_problem(api.post(f"/tasks/{task_id}/complete", "maria", json={
        "data": {"answer": "yes", "note": "mine now", "code": "B-2"}}), 422)
    assert set(body["errors"]) == {"note", "code"} and "read-only" in body["errors"]["note"][0]
    # Sent back unchanged (as the web form does): accepted and left as it was.
    r = api.post(f"/tasks/{task_id}/complete", "maria", json={
        "data": {"answer": "yes", "note": "from the process", "code": "A-1"}})
    assert r.status_code == 200, r.get_json()
    data = api.get(f"/process-instances/{instance['id']}", "maria").get_json()["data"]
    assert (data["answer"], data["note"], data["code"]) == ("yes", "from the process", "A-1")


def test_a_retried_completion_is_told_apart(api, deployed):
    """The commit went through, the answer was lost: the retry used to be a bare 409 (or 500)."""
    instance, task_id = _submit_task(api)
    data = {"data": {"title": "Laptop", "cost": 10}}
    first = api.post(f"/tasks/{task_id}/complete", "maria", json=data, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 200, first.get_json()
    again = api.post(f"/tasks/{task_id}/complete", "maria", json=data, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 200 and again.get_json()["instance"] == first.get_json()["instance"]
    assert again.get_json()["next_tasks"] == first.get_json()["next_tasks"]
    body = assert_problem(api.post(f"/tasks/{task_id}/complete", "maria", json=data), 409)
    assert body["type"].endswith("already-completed") and "already completed by you" in body["detail"]
    assert body["instance"]["id"] == instance["id"] and body["instance"]["status"] == "running"
    assert body["next_tasks"] == [] and body["task_id"] == task_id
    other_key = api.post(f"/tasks/{task_id}/complete", "maria", json=data, headers={"Idempotency-Key": "k-2"})
    assert assert_problem(other_key, 409)["type"].endswith("already-completed")
    # Someone else completing it again is a plain conflict, with no result.
    assert "instance" not in assert_problem(api.post(f"/tasks/{task_id}/complete", "paul", json=data), 409)
    assert AuditEntry.query.filter_by(action="complete_task", task_id=task_id).count() == 1
    assert_problem(api.post(f"/tasks/{task_id}/complete", "maria", json=data,
                            headers={"Idempotency-Key": "x" * 201}), 400)


def test_the_openapi_document_describes_the_rules(api):
    spec = api.get("/openapi.json").get_json()
    complete = spec["paths"]["/api/v1/tasks/{task_id}/complete"]["post"]
    assert any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in complete["parameters"])
    assert "already-completed" in complete["description"]
    start = spec["paths"]["/api/v1/process-instances"]["post"]
    assert "startableBy" in start["description"] and "403" in start["responses"]
