"""Camunda 7 and 8 diagrams: what has a meaning here is mapped (candidate groups -> lanes, the initiator,
due dates -> dueIn, form keys and generated forms -> form files), each attribute is reported, and what
would change behaviour (listeners, delegates, other script languages) is refused with its place."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from app.core.errors import Invalid
from app.definitions import forms
from app.definitions import operations as definitions
from app.engine import bundle as bundle_mod
from app.instances import access
from app.instances import commands as instances
from tests.engine.conftest import fresh_instance, ready

INTEROP = Path(__file__).parent / "fixtures" / "interop"


def _files(*names: str) -> list[bundle_mod.BundleFile]:
    return [bundle_mod.BundleFile(n, (INTEROP / n).read_bytes()) for n in names]


def _report(files: list[bundle_mod.BundleFile]) -> dict[tuple[str, str], tuple[str, str]]:
    parsed = definitions.validate_files(files)
    return {(f.element, f.what): (f.outcome, f.message) for f in parsed.notes}


def test_camunda7_report(app):
    report = _report(_files("camunda7_change.bpmn", "change-review-schema.json"))
    assert report[("review", "camunda:candidateGroups")][0] == "mapped"
    assert "lane 'ccb_member'" in report[("review", "camunda:candidateGroups")][1]
    assert report[("review", "camunda:formKey")] == ("mapped", "the task's form is change-review-schema.json")
    assert report[("review", "camunda:dueDate")][0] == "mapped"
    assert report[("describe", "camunda:assignee")] == ("mapped", "the task goes to the process initiator")
    assert report[("describe", "camunda:formData")][0] == "mapped"
    assert report[("c7_change", "camunda:historyTimeToLive")][0] == "warning"
    assert report[("start", "camunda:initiator")][0] == "warning"


def test_camunda7_diagram_runs_with_lanes_forms_and_due_dates(app, actors):
    result = definitions.deploy(_files("camunda7_change.bpmn", "change-review-schema.json"), "admin")
    assert "Camunda extensions:" in result.note and "camunda:candidateGroups" in result.note
    pm = actors["maria"]
    instance = instances.start("c7_change", pm, {})
    deployment_id = fresh_instance(instance.id).process_version.deployment_id
    [describe] = ready(instance.id)
    assert describe.form_schema_file == "describe-schema.json" and access.is_candidate(describe, pm)
    generated = forms.load_form(deployment_id, describe.form_schema_file, {})
    assert generated["required"] == ["summary"] and generated["properties"]["urgency"]["enum"] == ["low", "high"]
    with pytest.raises(Invalid):
        instances.complete(describe.id, pm, {"urgency": "high"})  # summary is required
    instances.complete(describe.id, pm, {"summary": "Move the go-live", "urgency": "high"})
    [review] = ready(instance.id)
    assert review.candidate_roles == ["ccb_member"] and review.form_schema_file == "change-review-schema.json"
    assert review.due_at is not None
    assert not access.is_candidate(review, pm) and access.is_candidate(review, actors["chen"])
    instances.complete(review.id, actors["chen"], {"approved": True})
    assert fresh_instance(instance.id).status == "completed"


def test_camunda7_behaviour_changing_extensions_are_refused(app):
    with pytest.raises(Invalid) as info:
        definitions.deploy(_files("camunda7_listener.bpmn"), "admin")
    problems = {(p["element"], p["message"].split(":")[0] + ":" + p["message"].split(":")[1]
                 if p["message"].startswith("camunda:") else p["message"][:20]) for p in info.value.errors}
    messages = " | ".join(p["message"] for p in info.value.errors)
    assert all(p["line"] and p["element"] for p in info.value.errors), info.value.errors
    assert "camunda:class: 'com.example.NotifyDelegate' runs code" in messages
    assert "camunda:executionListener: an execution listener runs code" in messages
    assert "script format 'groovy': scripts here are Python" in messages
    assert {e for e, _ in problems} == {"notify", "check"}


def test_camunda8_diagram_maps_zeebe_assignment_form_and_schedule(app, actors):
    files = _files("camunda8_onboarding.bpmn", "onboarding-plan-schema.json")
    report = _report(files)
    assert report[("plan", "zeebe:assignmentDefinition candidateGroups")][0] == "mapped"
    assert report[("plan", "zeebe:formDefinition")] == ("mapped", "the task's form is onboarding-plan-schema.json")
    assert report[("plan", "zeebe:taskSchedule dueDate")][0] == "mapped"
    assert report[("welcome", "zeebe:assignmentDefinition assignee")][0] == "mapped"
    assert report[("welcome", "zeebe:taskHeaders")][0] == "warning"
    definitions.deploy(files, "admin")
    pm = actors["maria"]
    instance = instances.start("c8_onboarding", pm, {})
    [plan] = ready(instance.id)
    assert plan.candidate_roles == ["pmo"] and plan.form_schema_file == "onboarding-plan-schema.json"
    assert plan.due_at is not None
    instances.complete(plan.id, actors["admin"], {"start_date": "2027-01-04"})
    [welcome] = ready(instance.id)
    assert access.is_candidate(welcome, pm) and not access.is_candidate(welcome, actors["sam"])
    instances.complete(welcome.id, pm, {})
    assert fresh_instance(instance.id).status == "completed"


def test_pmo_validate_prints_the_camunda_report(app, tmp_path):
    from app.cli import main

    for name in ("camunda8_onboarding.bpmn", "onboarding-plan-schema.json"):
        (tmp_path / name).write_bytes((INTEROP / name).read_bytes())
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "camunda8_onboarding.bpmn")],
                                env={"PMO_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]})
    assert result.exit_code == 0, result.output
    assert "camunda8_onboarding.bpmn:" in result.output and "mapped: zeebe:assignmentDefinition" in result.output
    assert "warning: zeebe:taskHeaders" in result.output
