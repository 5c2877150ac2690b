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


def test_camunda_user_expressions_are_not_guessed(app):
    """An assignee or candidateUsers computed at run time in Camunda is reported, not mapped."""
    text = (INTEROP / "camunda7_change.bpmn").read_text().replace(
        'camunda:candidateUsers="quinn"', 'camunda:candidateUsers="${reviewers}"').replace(
        'camunda:assignee="petra"', 'camunda:assignee="#{manager}"')
    parsed = definitions.validate_files([bundle_mod.BundleFile("c7.bpmn", text.encode()),
                                         *_files("change-review-schema.json")])
    report = {(f.element, f.what): (f.outcome, f.message) for f in parsed.notes}
    assert report[("review", "camunda:candidateUsers")][0] == "warning"
    assert "expression" in report[("sign_off", "camunda:assignee")][1]
    assert report[("sign_off", "camunda:assignee")][0] == "warning"


def test_camunda7_report(app):
    report = _report(_files("camunda7_change.bpmn", "change-review-schema.json"))
    assert report[("review", "camunda:candidateGroups")][0] == "mapped"
    assert "lane 'ccb_member'" in report[("review", "camunda:candidateGroups")][1]
    assert report[("review", "camunda:formKey")] == ("mapped", "the task's form is change-review-schema.json")
    assert report[("review", "camunda:dueDate")][0] == "mapped"
    assert report[("describe", "camunda:assignee")] == ("mapped", "the task goes to the process initiator")
    assert report[("review", "camunda:candidateUsers")][0] == "mapped"
    assert "user(s) quinn" in report[("review", "camunda:candidateUsers")][1]
    assert report[("sign_off", "camunda:assignee")] == (
        "mapped", "the task is assigned to user 'petra' (its owner, before its lane)")
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
    assert review.candidate_users == ["quinn"]  # camunda:candidateUsers, besides the candidate group
    assert not access.is_candidate(review, pm) and access.is_candidate(review, actors["chen"])
    assert access.is_candidate(review, actors["quinn"])
    instances.complete(review.id, actors["quinn"], {"approved": True})
    [sign_off] = ready(instance.id)  # camunda:assignee="petra": hers alone, assigned to her
    assert sign_off.assignee == "petra" and sign_off.candidate_users == ["petra"] and not sign_off.candidate_roles
    assert not access.is_candidate(sign_off, actors["chen"])
    instances.complete(sign_off.id, actors["petra"], {})
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
    assert report[("buddy", "zeebe:assignmentDefinition candidateUsers")] == (
        "mapped", "the task is offered to user(s) carla, chen (besides its lane's role or group, if it has a lane)")
    assert report[("equipment", "zeebe:assignmentDefinition assignee")][0] == "mapped"
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
    [buddy] = ready(instance.id)
    assert buddy.candidate_users == ["carla", "chen"] and buddy.assignee is None and not buddy.candidate_roles
    assert access.is_candidate(buddy, actors["carla"]) and not access.is_candidate(buddy, pm)
    instances.complete(buddy.id, actors["chen"], {})
    [equipment] = ready(instance.id)
    assert equipment.assignee == "rita" and access.may_act(equipment, actors["rita"])
    assert not access.may_act(equipment, pm)
    instances.complete(equipment.id, actors["rita"], {})
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
