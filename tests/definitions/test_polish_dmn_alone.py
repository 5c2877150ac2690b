"""Issue 16 item 20: a DMN table uploaded alone is deployed as a new version of every process that
uses it (built from their latest deployed files), or the answer says why nothing was deployed."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import app.projects  # noqa: F401 - the pmo/... operators the lifecycle uses
from app.definitions import operations as definitions
from app.definitions import queries as definition_queries
from tests.support.api import assert_problem, upload

ROOT = Path(__file__).resolve().parents[2]
DMN = ROOT / "workflows" / "status_escalation.dmn"


@pytest.fixture
def lifecycle(app):
    return definitions.deploy_directory([ROOT / "workflows", ROOT / "forms"], "admin")


def _changed() -> bytes:
    return DMN.read_bytes().replace(b'"the project is red"', b'"the project is red: escalate"')


def test_a_changed_decision_alone_deploys_the_processes_that_use_it(api, lifecycle):
    before = {v.process_key: v.version for v in definition_queries.list_latest()}
    r = api.post("/process-definitions", "owen", **upload([("status_escalation.dmn", _changed())]))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    created = {c["key"]: c["version"] for c in body["created"]}
    assert "status_reporting" in created and created["status_reporting"] == before["status_reporting"] + 1
    assert "change_request" not in created and "project_initiation" not in created
    assert "status_escalation" in body["note"] and "status_reporting" in body["note"]
    version = definition_queries.latest_version("status_reporting")
    names = {f.name: f.content for f in version.deployment.files}
    assert names["status_escalation.dmn"] == _changed() and "status_reporting.bpmn" in names
    spec, _ = definition_queries.spec_for(version)
    assert spec is not None
    # the same table again: nothing to do, and the answer says so
    again = api.post("/process-definitions", "owen", **upload([("status_escalation.dmn", _changed())]))
    assert again.status_code == 200 and again.get_json()["created"] == []
    assert "nothing was deployed" in again.get_json()["note"]


def test_a_decision_no_process_uses_is_422_saying_what_to_do(api, lifecycle):
    orphan = DMN.read_bytes().replace(b'id="status_escalation"', b'id="nobody_calls_me"')
    r = api.post("/process-definitions", "owen", **upload([("orphan.dmn", orphan)]))
    problem = assert_problem(r, 422)
    assert "no deployed process uses decision nobody_calls_me" in problem["detail"]
    assert "BPMN" in problem["detail"]


def test_cli_deploy_of_a_dmn_prints_what_happened(app, lifecycle, tmp_path, monkeypatch):
    from app import cli

    path = tmp_path / "status_escalation.dmn"
    path.write_bytes(_changed())
    monkeypatch.setattr(cli, "_make_app", lambda: app)
    result = CliRunner().invoke(cli.main, ["deploy", str(path)])
    assert result.exit_code == 0, result.output
    assert "created   status_reporting" in result.output
    assert "deployed as a new version of every process that uses it" in result.output
