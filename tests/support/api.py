"""The API tests' client, tokens obtained through POST /auth/token, and a second small process
(two steps for the initiator, then a script that can fail)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parents[1] / "fixtures"
API = "/api/v1"

TWO_STEPS_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_two" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="two_steps" name="Two steps" isExecutable="true">
    <bpmn:extensionElements>
      <spiffworkflow:properties>
        <spiffworkflow:property name="startableBy" value="project_manager" />
        <spiffworkflow:property name="startDataFields" value="name" />
      </spiffworkflow:properties>
    </bpmn:extensionElements>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first" />
    <bpmn:userTask id="first" name="First step for {{ name }}">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="dataFields" value="value" />
        </spiffworkflow:properties>
        <spiffworkflow:instructionsForEndUser>Hello **{{ name }}** &lt;script&gt;alert(1)&lt;/script&gt;</spiffworkflow:instructionsForEndUser>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="second" />
    <bpmn:userTask id="second" name="Second step" />
    <bpmn:sequenceFlow id="f3" sourceRef="second" targetRef="divide" />
    <bpmn:scriptTask id="divide" name="Divide">
      <bpmn:script>result = 10 / value</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f4" sourceRef="divide" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


class Api:
    """Calls the API as a named demo user (password = username), with a token from the route."""

    def __init__(self, client) -> None:  # noqa: ANN001
        self.client = client
        self._tokens: dict[str, str] = {}

    def token(self, username: str, password: str | None = None) -> str:
        if username not in self._tokens:
            r = self.client.post(f"{API}/auth/token", json={"username": username, "password": password or username})
            assert r.status_code == 200, r.get_json()
            self._tokens[username] = r.get_json()["token"]
        return self._tokens[username]

    def headers(self, username: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"} if username else {}

    def call(self, method: str, path: str, user: str | None = None, **kwargs):  # noqa: ANN003, ANN201
        headers = {**self.headers(user), **kwargs.pop("headers", {})}
        return self.client.open(f"{API}{path}", method=method, headers=headers, **kwargs)

    def get(self, path: str, user: str | None = None, **kwargs):  # noqa: ANN003, ANN201
        return self.call("GET", path, user, **kwargs)

    def post(self, path: str, user: str | None = None, **kwargs):  # noqa: ANN003, ANN201
        return self.call("POST", path, user, **kwargs)

    def patch(self, path: str, user: str | None = None, **kwargs):  # noqa: ANN003, ANN201
        return self.call("PATCH", path, user, **kwargs)

    def start(self, user: str = "maria", process_key: str = "simple_approval", **body) -> dict:  # noqa: ANN003
        r = self.post("/process-instances", user, json={"process_key": process_key, **body})
        assert r.status_code == 201, r.get_json()
        return r.get_json()


def assert_problem(response, status: int) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    return body


def fixture_files() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(FIXTURES.iterdir()) if p.is_file()]


def zip_of(files: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, content in files:
            archive.writestr(f"bundle/{name}", content)
    return buf.getvalue()


def upload(files: list[tuple[str, bytes]]) -> dict:
    """A multipart body for POST /process-definitions."""
    return {"data": {"files": [(io.BytesIO(content), name) for name, content in files]},
            "content_type": "multipart/form-data"}



@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(client, demo_users) -> Api:
    return Api(client)


@pytest.fixture
def two_steps(api, app) -> None:
    r = api.post("/process-definitions", "owen", **upload([("two_steps.bpmn", TWO_STEPS_BPMN)]))
    assert r.status_code == 201, r.get_json()
