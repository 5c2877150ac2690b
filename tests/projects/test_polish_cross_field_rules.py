"""Issue 16 item 15: a cross-field rule of a lifecycle form (a charter ending before it starts) is a
validation error at submit — 422 naming the field, the message at the field in the browser — not a
task sent back to the same person."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import g

from app.core.errors import Invalid
from app.definitions import forms
from app.engine.bundle import BundleFile, BundleInvalid, load_bundle
from app.instances import commands as instances
from app.projects import operations as services
from tests.projects.data import BASELINE, CHARTER, d
from tests.support.api import Api
from tests.test_web import csrf_token, login

ROOT = Path(__file__).resolve().parents[2]
BACKWARDS = {"start_date": "2026-12-18", "target_end_date": "2026-03-02"}


@pytest.fixture
def charter_task(pmo):
    project = services.create_project("Customer portal relaunch", "maria", "sam", pmo.actors["maria"])
    return pmo.task(project.lifecycle_instance_id, "write_charter")


def test_the_api_answers_422_at_the_end_date(app, pmo, charter_task):
    api = Api(app.test_client())
    r = api.post(f"/tasks/{charter_task.id}/complete", "maria", json={"data": d(CHARTER) | BACKWARDS})
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["errors"]
    assert errors["target_end_date"] == ["the target end date must be after the planned start"]
    assert instances.get_task(charter_task.id).status == "ready"          # nothing moved on
    with pytest.raises(Invalid):
        instances.complete(charter_task.id, pmo.actors["maria"], d(CHARTER) | {"target_end_date": "2026-03-02",
                                                                              "start_date": "2026-03-02"})
    pmo.do("maria", charter_task.instance_id, "write_charter", d(CHARTER))
    assert pmo.ready(charter_task.instance_id) == ["sponsor_review"]


def test_the_browser_shows_the_message_at_the_field(app, pmo, charter_task):
    g.pop("_login_user", None)
    client = app.test_client()
    login(client, "maria")
    g.pop("_login_user", None)
    token = csrf_token(client, f"/tasks/{charter_task.id}")
    g.pop("_login_user", None)
    form = {"csrf_token": token, "action": "complete", "f:project_name": "Customer portal relaunch",
            "n:objectives": "1", "f:objectives/0": "Cut call volume", "f:scope_in": "The new customer portal",
            "f:scope_out": "Mobile apps", "f:budget_estimate": "650000", "f:start_date": BACKWARDS["start_date"],
            "f:target_end_date": BACKWARDS["target_end_date"]}
    page = client.post(f"/tasks/{charter_task.id}", data=form)
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert 'id="field-target_end_date-error"' in html
    assert "The target end date must be after the planned start" in html


def test_rules_inside_array_rows_and_skipped_while_a_field_is_empty():
    baseline = json.loads((ROOT / "forms" / "planning-baseline-schema.json").read_text())
    rows = [dict(r) for r in BASELINE["resource_requests"]]
    assert forms.rule_errors(baseline, BASELINE | {"resource_requests": rows}) == {}
    rows[0] = rows[0] | {"start_date": "2026-06-01", "end_date": "2026-05-01"}
    assert list(forms.rule_errors(baseline, BASELINE | {"resource_requests": rows})) == ["resource_requests/0/end_date"]
    assert forms.rule_errors(baseline, {"resource_requests": [{"start_date": "2026-06-01"}]}) == {}


def test_deploy_refuses_a_rule_that_does_not_compile():
    schema = {"type": "object", "properties": {"a": {"type": "string"}},
              "validationRules": [{"field": "a", "assert": "a >", "message": "x"}]}
    with pytest.raises(BundleInvalid) as info:
        load_bundle([BundleFile("x-schema.json", json.dumps(schema).encode())], [])
    assert "does not compile" in str(info.value.problems[0])
