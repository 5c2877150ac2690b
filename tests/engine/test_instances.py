"""The instance service end to end: start, complete, reject loop, forms, lanes, claims, lifecycle,
audit, titles, due dates, and what the stored state looks like."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.core.errors import Conflict, Forbidden, Invalid, NotFound
from app.instances import commands as instances
from tests.engine.conftest import audit_entries, fresh_instance, ready

REQUEST = {"title": "New laptop", "cost": 1200}


def _only(instance_id: int):
    tasks = ready(instance_id)
    assert len(tasks) == 1, [t.element_id for t in tasks]
    return tasks[0]


# -- the approval loop -------------------------------------------------------------------------

def test_start_complete_reject_loop_to_the_end(app, actors, deployed):
    pm, sponsor = actors["maria"], actors["sam"]
    instance = instances.start("simple_approval", pm, {"origin": "test"})
    assert instance.status == "running"
    submit = _only(instance.id)
    assert submit.element_id == "submit"
    assert submit.candidate_roles == ["project_manager"] and submit.assignee is None

    instances.complete(submit.id, pm, REQUEST)
    approve = _only(instance.id)
    assert approve.element_id == "approve" and approve.candidate_roles == ["sponsor"]

    instances.complete(approve.id, sponsor, {"decision": "reject", "comment": "too expensive"})
    again = _only(instance.id)
    assert again.element_id == "submit" and again.id != submit.id  # a new task for the loop

    instances.complete(again.id, pm, {"title": "Cheaper laptop", "cost": 800})
    approve2 = _only(instance.id)
    instance = instances.complete(approve2.id, sponsor, {"decision": "approve"})

    instance = fresh_instance(instance.id)
    assert instance.status == "completed" and instance.ended_at is not None
    assert ready(instance.id) == []
    data = instances.instance_data(instance)
    assert data["approved"] is True
    assert data["approved_cost"] == Decimal("800")
    assert data["title"] == "Cheaper laptop" and data["origin"] == "test"
    actions = [e.action for e in audit_entries(instance.id)]
    assert actions == ["start"] + ["complete_task"] * 4


def test_completed_task_cannot_be_completed_twice(app, actors, deployed):
    pm = actors["maria"]
    instance = instances.start("simple_approval", pm)
    submit = _only(instance.id)
    instances.complete(submit.id, pm, REQUEST)
    with pytest.raises(Conflict, match="already completed"):
        instances.complete(submit.id, pm, REQUEST)


def test_a_claim_that_lands_between_the_checks_and_the_lock_wins(app, actors, deployed, monkeypatch):
    """complete() checks the task, then locks the instance; a claim committed in between is seen
    under the lock, and the step changes nothing."""
    from sqlalchemy import update

    from app.core.extensions import db
    from app.instances.models import HumanTask

    pm = actors["maria"]
    instance = instances.start("simple_approval", pm)
    submit = _only(instance.id)
    real_lock = instances._lock

    def lock_after_someone_claims(instance_id: int):
        db.session.execute(update(HumanTask).where(HumanTask.id == submit.id).values(assignee="paul"))
        return real_lock(instance_id)

    monkeypatch.setattr(instances, "_lock", lock_after_someone_claims)
    with pytest.raises(Conflict, match="claimed by paul"):
        instances.complete(submit.id, pm, REQUEST)
    monkeypatch.undo()
    assert _only(instance.id).id == submit.id  # still open; the step and the stand-in claim rolled back
    assert [e.action for e in audit_entries(instance.id)] == ["start"]


def test_invalid_form_data_inside_the_command_changes_nothing(app, actors, deployed):
    pm = actors["maria"]
    instance = instances.start("simple_approval", pm)
    submit = _only(instance.id)
    with pytest.raises(Invalid) as caught:
        instances.complete(submit.id, pm, {"title": "", "cost": "a lot"})
    assert "cost" in str(caught.value.errors)
    assert _only(instance.id).id == submit.id and fresh_instance(instance.id).status == "running"
    assert [e.action for e in audit_entries(instance.id)] == ["start"]


def test_unknown_task_and_instance_are_not_found(app, actors, deployed):
    with pytest.raises(NotFound):
        instances.complete("00000000-0000-0000-0000-000000000000", actors["maria"], {})
    with pytest.raises(NotFound):
        instances.suspend(424242, actors["admin"])
    with pytest.raises(NotFound):
        instances.start("no_such_process", actors["maria"])


# -- forms ----------------------------------------------------------------------------------------

def test_form_errors_list_every_field_and_change_nothing(app, actors, deployed):
    pm = actors["maria"]
    instance = instances.start("simple_approval", pm)
    submit = _only(instance.id)
    before = fresh_instance(instance.id)
    state, lock = before.state, before.lock_version
    with pytest.raises(Invalid) as info:
        instances.complete(submit.id, pm, {"title": "x", "cost": -5})
    assert set(info.value.errors) == {"title", "cost"}
    with pytest.raises(Invalid) as info:
        instances.complete(submit.id, pm, {})
    assert set(info.value.errors) == {"title", "cost"}
    assert all("this field is required" in msgs for msgs in info.value.errors.values())
    after = fresh_instance(instance.id)
    assert after.state == state and after.lock_version == lock and after.status == "running"
    assert _only(instance.id).id == submit.id
    assert [e.action for e in audit_entries(instance.id)] == ["start"]


def test_missing_fields_are_reported_once(app, actors, deployed):
    pm = actors["maria"]
    submit = _only(instances.start("simple_approval", pm).id)
    with pytest.raises(Invalid) as info:
        instances.complete(submit.id, pm, {})
    assert info.value.errors == {"title": ["this field is required"], "cost": ["this field is required"]}


def test_conditional_form_rule(app, actors, deployed):
    pm, sponsor = actors["maria"], actors["sam"]
    instance = instances.start("simple_approval", pm)
    instances.complete(_only(instance.id).id, pm, REQUEST)
    approve = _only(instance.id)
    with pytest.raises(Invalid) as info:
        instances.complete(approve.id, sponsor, {"decision": "reject"})
    assert "comment" in info.value.errors


# -- lanes ----------------------------------------------------------------------------------------

def test_lane_assignment_initiator_owners_roles_and_no_lane(app, actors, engine_deployed):
    starter = actors["paul"]
    instance = instances.start("lanes", starter, {"project": "Apollo", "ccb_reviewer": "chen"})

    intake = _only(instance.id)  # process_initiator lane -> the starter
    assert intake.element_id == "intake"
    assert intake.candidate_users == ["paul"] and intake.candidate_roles == [] and intake.assignee == "paul"
    assert intake.title == "Intake for Apollo"
    with pytest.raises(Forbidden):  # another project manager: not the initiator
        instances.claim(intake.id, actors["petra"])
    instances.complete(intake.id, starter, {})

    ccb = _only(instance.id)  # lane_owners set by the script overrides the lane's role
    assert ccb.element_id == "ccb_review"
    assert ccb.candidate_users == ["chen"] and ccb.candidate_roles == [] and ccb.assignee == "chen"
    assert ccb.title == "CCB review of Apollo (1234.50)"
    with pytest.raises(NotFound):  # carla has the ccb_member role but is not the lane owner: hidden from her
        instances.complete(ccb.id, actors["carla"], {})
    instances.complete(ccb.id, actors["chen"], {})

    quality = _only(instance.id)  # no owner for this lane -> its role
    assert quality.candidate_roles == ["quality_lead"] and quality.candidate_users == []
    assert quality.assignee is None
    instances.complete(quality.id, actors["quinn"], {})

    wrap = _only(instance.id)  # no lane at all -> the starter
    assert wrap.lane is None and wrap.candidate_users == ["paul"] and wrap.assignee == "paul"
    instances.complete(wrap.id, starter, {})
    assert fresh_instance(instance.id).status == "completed"


def test_date_and_decimal_survive_a_round_trip(app, actors, engine_deployed):
    starter = actors["paul"]
    instance = instances.start("lanes", starter, {"project": "Apollo", "ccb_reviewer": "chen"})
    instances.complete(_only(instance.id).id, starter, {})
    instance = fresh_instance(instance.id)
    assert "spec" not in instance.state and "subprocess_specs" not in instance.state
    ccb = _only(instance.id)
    data = instances.task_data(ccb)
    assert data["kickoff"] == date(2024, 5, 17) and type(data["kickoff"]) is date
    assert data["budget"] == Decimal("1234.50") and isinstance(data["budget"], Decimal)
    assert data["kickoff_label"] == "17.05.2024"
    # ... and on through another step and to the end.
    instances.complete(ccb.id, actors["chen"], {})
    instances.complete(_only(instance.id).id, actors["quinn"], {})
    instances.complete(_only(instance.id).id, starter, {})
    final = instances.instance_data(fresh_instance(instance.id))
    assert final["kickoff"] == date(2024, 5, 17) and final["budget"] == Decimal("1234.50")


def test_due_date_from_due_in_property(app, actors, deployed, engine_deployed):
    before = datetime.now(UTC)
    instance = instances.start("lanes", actors["paul"], {"project": "X", "ccb_reviewer": "chen"})
    intake = _only(instance.id)
    assert before + timedelta(days=3) <= intake.due_at <= datetime.now(UTC) + timedelta(days=3)
    approval = instances.start("simple_approval", actors["maria"])
    instances.complete(_only(approval.id).id, actors["maria"], REQUEST)
    approve = _only(approval.id)
    assert approve.due_at - approve.created_at == timedelta(days=2)
    assert _only(instances.start("failures", actors["maria"], {"mode": "ok"}).id).due_at is None


def test_task_title_rendered_from_data(app, actors, deployed):
    pm = actors["maria"]
    instance = instances.start("simple_approval", pm, {"title": "Initial"})
    assert _only(instance.id).title == "Submit request Initial"
    instances.complete(_only(instance.id).id, pm, {"title": "Server rack", "cost": 5})
    assert _only(instance.id).title == "Approve Server rack"


# -- claim, unclaim, assign -------------------------------------------------------------------------

def test_claim_rules(app, actors, deployed):
    maria, paul, petra, sam = actors["maria"], actors["paul"], actors["petra"], actors["sam"]
    instance = instances.start("simple_approval", maria)
    submit = _only(instance.id)
    with pytest.raises(Forbidden, match="not a candidate"):
        instances.claim(submit.id, petra)  # the PMO sees the task but may not take it
    with pytest.raises(NotFound):
        instances.claim(submit.id, sam)  # not visible to a non-candidate without oversight
    task = instances.claim(submit.id, maria)
    assert task.assignee == "maria"
    with pytest.raises(Conflict, match="claimed by maria"):
        instances.claim(submit.id, paul)
    with pytest.raises(Forbidden, match="claimed by maria"):
        instances.complete(submit.id, paul, REQUEST)
    with pytest.raises(Forbidden):
        instances.unclaim(submit.id, paul)
    assert instances.unclaim(submit.id, maria).assignee is None
    assert instances.claim(submit.id, paul).assignee == "paul"
    instances.complete(submit.id, paul, REQUEST)
    actions = [(e.action, e.actor, e.details.get("assignee")) for e in audit_entries(instance.id)]
    assert actions[1:4] == [("claim", "maria", "maria"), ("unclaim", "maria", None), ("claim", "paul", "paul")]


def test_assign_rules(app, actors, deployed):
    maria, admin, petra = actors["maria"], actors["admin"], actors["petra"]
    instance = instances.start("simple_approval", maria)
    submit = _only(instance.id)
    with pytest.raises(Forbidden, match="only the assignee"):
        instances.assign(submit.id, maria, "paul")  # a candidate who does not hold the task
    with pytest.raises(Forbidden, match="sam may not take this task"):
        instances.assign(submit.id, admin, "sam")  # sam has no project_manager role
    assert instances.assign(submit.id, petra, "paul").assignee == "paul"
    [entry] = audit_entries(instance.id, "assign")
    assert entry.actor == "petra" and entry.details["assignee"] == "paul"
    assert entry.details["previous_assignee"] is None
    with pytest.raises(Forbidden):
        instances.complete(submit.id, maria, REQUEST)  # now held by paul


def test_complete_by_non_candidate_is_forbidden(app, actors, deployed):
    maria, sam, petra, admin = actors["maria"], actors["sam"], actors["petra"], actors["admin"]
    instance = instances.start("simple_approval", maria)
    submit = _only(instance.id)
    with pytest.raises(Forbidden, match="not a candidate"):
        instances.complete(submit.id, petra, REQUEST)
    with pytest.raises(Forbidden, match="not a candidate"):
        instances.complete(submit.id, admin, REQUEST)
    with pytest.raises(NotFound):
        instances.complete(submit.id, sam, REQUEST)
    assert _only(instance.id).id == submit.id
    assert [e.action for e in audit_entries(instance.id)] == ["start"]


# -- lifecycle --------------------------------------------------------------------------------------

def test_suspend_refuses_complete_and_resume_works(app, actors, deployed):
    maria, admin = actors["maria"], actors["admin"]
    instance = instances.start("simple_approval", maria)
    submit = _only(instance.id)
    instances.suspend(instance.id, admin, "waiting for budget")
    assert fresh_instance(instance.id).status == "suspended"
    with pytest.raises(Conflict, match="suspended"):
        instances.complete(submit.id, maria, REQUEST)
    with pytest.raises(Conflict):
        instances.suspend(instance.id, admin)
    instances.resume(instance.id, admin)
    assert fresh_instance(instance.id).status == "running"
    with pytest.raises(Conflict):
        instances.resume(instance.id, admin)
    instances.complete(submit.id, maria, REQUEST)
    assert _only(instance.id).element_id == "approve"
    actions = [e.action for e in audit_entries(instance.id)]
    assert actions == ["start", "suspend", "resume", "complete_task"]
    assert audit_entries(instance.id, "suspend")[0].details["reason"] == "waiting for budget"


def test_terminate_cancels_open_tasks(app, actors, deployed):
    maria, admin = actors["maria"], actors["admin"]
    instance = instances.start("simple_approval", maria)
    submit = _only(instance.id)
    instances.terminate(instance.id, admin, "project cancelled")
    instance = fresh_instance(instance.id)
    assert instance.status == "terminated" and instance.status_reason == "project cancelled"
    assert instance.ended_at is not None
    assert ready(instance.id) == []
    assert instances.get_task(submit.id).status == "cancelled"
    with pytest.raises(Conflict):
        instances.complete(submit.id, maria, REQUEST)
    with pytest.raises(Conflict):
        instances.terminate(instance.id, admin)
    [entry] = audit_entries(instance.id, "terminate")
    assert entry.actor == "admin" and entry.details["reason"] == "project cancelled"


def test_terminate_a_suspended_instance(app, actors, deployed):
    instance = instances.start("simple_approval", actors["maria"])
    instances.suspend(instance.id, actors["admin"])
    instances.terminate(instance.id, actors["admin"])
    assert fresh_instance(instance.id).status == "terminated"


# -- audit -------------------------------------------------------------------------------------------

def test_audit_has_every_action_with_submitted_data(app, actors, deployed):
    maria, sam = actors["maria"], actors["sam"]
    instance = instances.start("simple_approval", maria, {"origin": "audit"}, business_key="PRJ-1")
    submit = _only(instance.id)
    instances.claim(submit.id, maria)
    instances.complete(submit.id, maria, REQUEST)
    approve = _only(instance.id)
    instances.complete(approve.id, sam, {"decision": "approve"})
    entries = audit_entries(instance.id)
    assert [(e.action, e.actor) for e in entries] == [
        ("start", "maria"), ("claim", "maria"), ("complete_task", "maria"), ("complete_task", "sam")]
    start, _, first, second = entries
    assert start.details["data"] == {"origin": "audit"} and start.details["version"] == 1
    assert first.task_id == submit.id and first.details["data"] == REQUEST
    assert first.details["element_id"] == "submit"
    assert second.task_id == approve.id and second.details["data"] == {"decision": "approve"}
    assert all(e.process_key == "simple_approval" and e.at is not None for e in entries)


def test_spec_is_stored_once_per_version_not_in_the_instance(app, actors, deployed):
    instance = instances.start("simple_approval", actors["maria"])
    instance = fresh_instance(instance.id)
    assert "spec" not in instance.state and "subprocess_specs" not in instance.state
    assert instance.serializer_version.startswith("pmo-1/")
    assert "spec" in instance.process_version.spec
    assert instance.process_version.spec["spec"]["name"] == "simple_approval"
