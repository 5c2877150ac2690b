"""Moving running change requests onto a new version of `workflows/change_request.bpmn`: the engine's
check and move, one instance's command (and its undo), batches, the release new instances start on.

Version 2 is the shipped diagram edited in the test (a step added, a step removed, a timer changed,
a completed step renamed) and deployed with the shipped forms, as a process owner would publish it.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.core.audit import AuditEntry
from app.core.errors import Conflict, Forbidden, Invalid
from app.core.extensions import db
from app.core.transactions import write_transaction
from app.definitions import operations as definitions
from app.definitions import queries as definition_queries
from app.definitions.models import ProcessVersion
from app.engine import clock
from app.engine import migration as engine_migration
from app.inbox import operations as inbox
from app.inbox.models import TaskComment, TaskDraft
from app.instances import commands as instances
from app.instances import migration
from app.instances.models import (
    HumanTask,
    InstanceMigration,
    InstanceTimer,
    MigrationBatch,
    MigrationBatchStatus,
    TaskStatus,
)
from app.projects import operations as services
from tests.projects.conftest import FORMS, WORKFLOWS, Driver, initiated_project
from tests.projects.data import CHANGE, assessment, d
from tests.support.api import assert_problem

PROCESS = "change_request"
SHIPPED = (WORKFLOWS / "change_request.bpmn").read_text()

# A PMO check added between the PM's assessment and the routing.
PMO_CHECK = """    <bpmn:userTask id="pmo_check" name="PMO check of {{ cr_reference }}">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="dataFields" value="pmo_check_note" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_assess_route_approval</bpmn:incoming>
      <bpmn:outgoing>Flow_pmo_check_route</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:businessRuleTask id="route_approval\""""


def add_pmo_check(xml: str) -> str:
    xml = xml.replace('    <bpmn:businessRuleTask id="route_approval"', PMO_CHECK, 1)
    xml = xml.replace('<bpmn:incoming>Flow_assess_route_approval</bpmn:incoming>\n      <bpmn:outgoing>'
                      'Flow_route_approval_route_gw',
                      '<bpmn:incoming>Flow_pmo_check_route</bpmn:incoming>\n      <bpmn:outgoing>'
                      'Flow_route_approval_route_gw', 1)
    xml = xml.replace('<bpmn:sequenceFlow id="Flow_assess_route_approval" sourceRef="assess" '
                      'targetRef="route_approval" />',
                      '<bpmn:sequenceFlow id="Flow_assess_route_approval" sourceRef="assess" targetRef="pmo_check" />'
                      '\n    <bpmn:sequenceFlow id="Flow_pmo_check_route" sourceRef="pmo_check" '
                      'targetRef="route_approval" />', 1)
    return xml.replace("<bpmn:flowNodeRef>escalated</bpmn:flowNodeRef>",
                       "<bpmn:flowNodeRef>escalated</bpmn:flowNodeRef>\n        "
                       "<bpmn:flowNodeRef>pmo_check</bpmn:flowNodeRef>", 1)


def remove_assess(xml: str) -> str:
    """The PM's assessment taken out: the registered request goes straight to routing."""
    xml = re.sub(r'    <bpmn:userTask id="assess".*?</bpmn:userTask>\n', "", xml, count=1, flags=re.S)
    xml = xml.replace('<bpmn:incoming>Flow_assess_route_approval</bpmn:incoming>',
                      '<bpmn:incoming>Flow_register_cr_assess</bpmn:incoming>', 1)
    xml = xml.replace('targetRef="assess" />', 'targetRef="route_approval" />', 1)
    xml = xml.replace('    <bpmn:sequenceFlow id="Flow_assess_route_approval" sourceRef="assess" '
                      'targetRef="route_approval" />\n', "", 1)
    xml = re.sub(r'      <bpmndi:BPMN(Shape|Edge) id="(assess_di|Flow_assess_route_approval_di)".*?</bpmndi:BPMN\1>\n',
                 "", xml, flags=re.S)
    return xml.replace("        <bpmn:flowNodeRef>assess</bpmn:flowNodeRef>\n", "", 1)


def slower_pm_reminder(xml: str) -> str:
    """The PM's reminder after 3 working days instead of 2 (the escalation stays at 5)."""
    marker = '<bpmn:timerEventDefinition id="remind_pm_timer">\n        <bpmn:timeDate>working_days_from_now(2)'
    assert marker in xml
    return xml.replace(marker, marker.replace("(2)", "(3)"), 1)


def rename_submit(xml: str) -> str:
    return xml.replace('name="Submit change request for {{ project_code }}"',
                       'name="Submit a change request for {{ project_code }}"', 1)


@pytest.fixture(autouse=True)
def _reset_clock():
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
def pmo(app, actors):
    definitions.deploy_directory([WORKFLOWS, FORMS], "admin")
    return Driver(actors)


@pytest.fixture
def project_id(pmo):
    pid, _ = initiated_project(pmo)
    return pid


def deploy_version(folder: Path, edit=lambda xml: xml, forms: dict[str, object] | None = None) -> ProcessVersion:
    """Deploy the shipped bundle from ``folder`` with change_request.bpmn (and forms) edited: the new version."""
    workflows, form_dir = folder / "workflows", folder / "forms"
    shutil.copytree(WORKFLOWS, workflows)
    shutil.copytree(FORMS, form_dir)
    (workflows / "change_request.bpmn").write_text(edit(SHIPPED))
    for name, content in (forms or {}).items():
        (form_dir / name).write_text(json.dumps(content))
    result = definitions.deploy_directory([workflows, form_dir], "owen")
    created = [v for v in result.created if v.process_key == PROCESS]
    assert created, result
    return created[0]


@pytest.fixture
def publish(tmp_path):
    counter = iter(range(100))
    return lambda *args, **kwargs: deploy_version(tmp_path / f"v{next(counter)}", *args, **kwargs)


def raise_cr(pmo, project_id, **changes) -> int:  # noqa: ANN001
    return services.start_change_request(project_id, pmo.actors["paul"], d(CHANGE) | changes).id


def at_pm_decision(pmo, project_id) -> int:  # noqa: ANN001
    iid = raise_cr(pmo, project_id)
    pmo.do("maria", iid, "assess", assessment(100, 1, "low"))
    assert pmo.ready(iid) == ["pm_decision"]
    return iid


def audit_of(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


# -- the engine -----------------------------------------------------------------------------------------

def _loaded(iid: int, actor):  # noqa: ANN001, ANN202
    instance = instances.get(iid)
    return instances._load(instance, instances._script_engine(instance, actor, PROCESS))


def test_engine_reports_a_removed_ready_task_and_never_moves_it(pmo, project_id, publish, actors):
    iid = raise_cr(pmo, project_id)
    v2 = publish(remove_assess)
    spec, subprocess_specs = definition_queries.spec_for(v2)
    workflow = _loaded(iid, actors["owen"])
    check = engine_migration.check(workflow, spec, subprocess_specs)
    assert not check.movable
    blocker = next(b for b in check.blockers if b.element == "assess")
    assert blocker.name == "Assess impact of …"
    assert "waits here" in blocker.reason and "can no longer be loaded" in blocker.reason
    with pytest.raises(engine_migration.MigrationRefused):
        engine_migration.migrate(workflow, spec, subprocess_specs)


def test_engine_keeps_ballots_and_unchanged_timers_and_restarts_a_changed_timer(pmo, project_id, publish, actors):
    """migrate_workflow resets every READY and WAITING branch; what did not change is put back."""
    iid = raise_cr(pmo, project_id)
    pmo.do("maria", iid, "assess", assessment(100000, 30, "high"))
    assert pmo.ready(iid) == ["ccb_vote_task", "ccb_vote_task"]
    v2 = publish(lambda xml: xml.replace("working_days_from_now(2)", "working_days_from_now(3)"))
    spec, subprocess_specs = definition_queries.spec_for(v2)
    workflow = _loaded(iid, actors["owen"])
    owners = {t.id: t.data["lane_owners"] for t in workflow.get_tasks() if t.task_spec.name.endswith("[child]")
              and t.data.get("lane_owners")}
    assert len(owners) == 2
    clock.advance(timedelta(hours=5))
    moved = engine_migration.migrate(workflow, spec, subprocess_specs)
    assert {t.id: t.data.get("lane_owners") for t in workflow.get_tasks() if t.id in owners} == owners
    assert [t["element"] for t in moved.restarted_timers] == ["remind_ccb"]


# -- one instance ---------------------------------------------------------------------------------------

def test_a_step_added_after_the_waiting_one_moves_keeping_task_claim_draft_and_comment(
        pmo, project_id, publish, actors):
    iid = raise_cr(pmo, project_id)
    assess = pmo.task(iid, "assess")
    instances.claim(assess.id, actors["maria"])
    inbox.save_draft(assess, "maria", {"assessment_notes": "half done"})
    inbox.add_comment(assess, "maria", "Waiting for the vendor quote.")
    timers_before = {t.element_id: t.due_at for t in db.session.scalars(
        select(InstanceTimer).where(InstanceTimer.instance_id == iid))}
    v2 = publish(add_pmo_check)

    plan = migration.plan(PROCESS, v2.version, actors["owen"])
    entry = next(p for p in plan.instances if p.instance_id == iid)
    assert entry.movable and entry.ready == [assess.title]
    assert {"element": "pmo_check", "name": "PMO check of …", "kind": "added",
            "detail": "a new step in the new version", "what": ""} in entry.changes

    moved = migration.migrate_instance(iid, v2.id, actors["owen"])
    assert moved.process_version_id == v2.id
    row = db.session.get(HumanTask, assess.id, populate_existing=True)
    assert row.status == TaskStatus.READY and row.assignee == "maria"
    assert db.session.scalar(select(TaskDraft.data).where(TaskDraft.task_id == assess.id)) == {
        "assessment_notes": "half done"}
    assert db.session.scalar(select(TaskComment.body).where(TaskComment.task_id == assess.id)) == (
        "Waiting for the vendor quote.")
    assert {t.element_id: t.due_at for t in db.session.scalars(
        select(InstanceTimer).where(InstanceTimer.instance_id == iid))} == timers_before
    # It goes on on the new path: the PMO check comes after the assessment.
    pmo.do("maria", iid, "assess", assessment(100, 1, "low"))
    assert pmo.ready(iid) == ["pmo_check"]
    pmo.do("petra", iid, "pmo_check", {"pmo_check_note": "ok"})
    assert pmo.ready(iid) == ["pm_decision"]
    entry = audit_of("instance_migrated")[-1]
    assert (entry.actor, entry.instance_id) == ("owen", iid)
    assert (entry.details["from_version"], entry.details["to_version"]) == (1, 2)


def test_a_removed_ready_task_refuses_and_nothing_changes(pmo, project_id, publish, actors):
    iid = raise_cr(pmo, project_id)
    state = instances.get(iid).state_json
    v2 = publish(remove_assess)
    entry = migration.plan(PROCESS, v2.version, actors["owen"]).instances[0]
    assert not entry.movable and "assess" in [b["element"] for b in entry.blockers]
    with pytest.raises(migration.MigrationBlocked) as refused:
        migration.migrate_instance(iid, v2.id, actors["owen"])
    assert refused.value.status == 409
    assert "assess" in [b["element"] for b in refused.value.errors["blockers"]]
    instance = instances.get(iid)
    db.session.refresh(instance)
    assert instance.process_version.version == 1 and instance.state_json == state
    assert not audit_of("instance_migrated")


def test_a_change_behind_a_completed_step_refuses(pmo, project_id, publish, actors):
    iid = raise_cr(pmo, project_id)
    v2 = publish(rename_submit)
    entry = migration.plan(PROCESS, v2.version, actors["owen"]).instances[0]
    assert not entry.movable
    assert entry.blockers == [{"element": "submit", "name": "Submit change request for …",
                               "reason": "the instance has already passed this step, and the new version "
                                         "changes it (name)"}]
    with pytest.raises(migration.MigrationBlocked):
        migration.migrate_instance(iid, v2.id, actors["owen"])


def test_a_changed_timer_is_reported_and_restarts_from_the_migration(pmo, project_id, publish, actors):
    iid = at_pm_decision(pmo, project_id)
    due = {t.element_id: t.due_at for t in db.session.scalars(
        select(InstanceTimer).where(InstanceTimer.instance_id == iid))}
    v2 = publish(slower_pm_reminder)
    clock.advance(timedelta(days=1))
    entry = migration.plan(PROCESS, v2.version, actors["owen"]).instances[0]
    assert entry.movable
    timer = next(c for c in entry.changes if c["kind"] == "timer")
    assert timer["element"] == "remind_pm"
    assert "timer '2 working days' on 'Approve … (PM tolerance)' changed: it restarts from the migration" in (
        timer["detail"])
    expected_due = clock.CALENDAR.add_working_days(clock.now(), 3)
    assert abs((timer["due_at"] - expected_due).total_seconds()) < 60
    migrated_at = clock.now()
    migration.migrate_instance(iid, v2.id, actors["owen"])
    after = {t.element_id: t.due_at for t in db.session.scalars(
        select(InstanceTimer).where(InstanceTimer.instance_id == iid))}
    assert after["escalate_pm"] == due["escalate_pm"]  # unchanged: keeps its due time
    # Changed: 3 working days counted from the migration (a day after the task started), not from then.
    expected = clock.CALENDAR.add_working_days(migrated_at, 3)
    assert abs((after["remind_pm"] - expected).total_seconds()) < 60
    entry = audit_of("instance_migrated")[-1]
    assert [t["element"] for t in entry.details["restarted_timers"]] == ["remind_pm"]
    # The scheduler's path: nothing is due before the new time; then the reminder fires, not the escalation.
    clock.advance(after["remind_pm"] - clock.now() - timedelta(minutes=5))
    assert instances.fire_due_timers(iid) is False
    clock.advance(timedelta(minutes=10))
    assert instances.fire_due_timers(iid) is True
    assert audit_of("timer_fired")[-1].details["timers"] == ["remind_pm"]
    assert pmo.ready(iid) == ["pm_decision"]


def test_a_changed_form_of_an_open_task_is_reported_not_blocking(pmo, project_id, publish, actors):
    iid = raise_cr(pmo, project_id)
    schema = json.loads((FORMS / "change-assessment-schema.json").read_text())
    schema["properties"]["vendor_quote"] = {"type": "string", "title": "Vendor quote"}
    v2 = publish(forms={"change-assessment-schema.json": schema})
    entry = migration.plan(PROCESS, v2.version, actors["owen"]).instances[0]
    assert entry.movable
    assert [c["kind"] for c in entry.changes if c["element"] == "assess"] == ["form"]
    assert "changed (form)" in next(c["detail"] for c in entry.changes if c["element"] == "assess")
    migration.migrate_instance(iid, v2.id, actors["owen"])
    assert instances.get(iid).process_version_id == v2.id


def test_move_back_restores_and_is_refused_once_a_step_ran(pmo, project_id, publish, actors):
    iid = raise_cr(pmo, project_id)
    assess = pmo.task(iid, "assess")
    v2 = publish(add_pmo_check)
    before = instances.get(iid)
    state, waiting = before.state_json, dict(before.waiting)
    migration.migrate_instance(iid, v2.id, actors["owen"])
    back = migration.migrate_back(iid, actors["owen"])
    assert back.process_version.version == 1 and back.waiting == waiting
    assert json.loads(back.state_json) == json.loads(state)
    assert db.session.get(HumanTask, assess.id, populate_existing=True).status == TaskStatus.READY
    entry = audit_of("instance_migration_reverted")[-1]
    assert (entry.details["from_version"], entry.details["to_version"]) == (2, 1)
    move = db.session.scalars(select(InstanceMigration).where(InstanceMigration.instance_id == iid)).one()
    assert move.reverted_by == "owen"
    with pytest.raises(Conflict, match="no migration to undo"):
        migration.migrate_back(iid, actors["owen"])

    # Moved again, then a step runs: the move can no longer be undone.
    migration.migrate_instance(iid, v2.id, actors["owen"])
    pmo.do("maria", iid, "assess", assessment(100, 1, "low"))
    with pytest.raises(Conflict, match="can no longer be moved back"):
        migration.migrate_back(iid, actors["owen"])
    assert instances.get(iid).process_version_id == v2.id


def test_a_claim_is_not_a_step_the_move_back_still_works(pmo, project_id, publish, actors):
    iid = raise_cr(pmo, project_id)
    v2 = publish(add_pmo_check)
    migration.migrate_instance(iid, v2.id, actors["owen"])
    instances.claim(pmo.task(iid, "assess").id, actors["maria"])
    assert migration.migrate_back(iid, actors["owen"]).process_version.version == 1
    assert pmo.task(iid, "assess").assignee == "maria"


def test_a_suspended_instance_moves_and_stays_suspended(pmo, project_id, publish, actors):
    iid = raise_cr(pmo, project_id)
    instances.suspend(iid, actors["admin"], "waiting for the budget round")
    v2 = publish(add_pmo_check)
    entry = migration.plan(PROCESS, v2.version, actors["owen"]).instances[0]
    assert (entry.instance_id, entry.status, entry.movable) == (iid, "suspended", True)
    moved = migration.migrate_instance(iid, v2.id, actors["owen"])
    assert (moved.status, moved.process_version.version) == ("suspended", 2)


def test_only_newer_versions_and_only_owners(pmo, project_id, publish, actors):
    iid = raise_cr(pmo, project_id)
    v2 = publish(add_pmo_check)
    for who in ("maria", "petra", "paul"):
        with pytest.raises(Forbidden):
            migration.migrate_instance(iid, v2.id, actors[who])
        with pytest.raises(Forbidden):
            migration.plan(PROCESS, v2.version, actors[who])
    migration.migrate_instance(iid, v2.id, actors["admin"])
    with pytest.raises(Conflict, match="already runs version 2"):
        migration.migrate_instance(iid, v2.id, actors["owen"])


# -- batches --------------------------------------------------------------------------------------------

def test_a_batch_moves_the_movable_and_records_the_blocked_with_its_reason(pmo, project_id, publish, actors):
    waiting = [raise_cr(pmo, project_id), raise_cr(pmo, project_id)]
    voting = raise_cr(pmo, project_id)
    pmo.do("maria", voting, "assess", assessment(100000, 30, "high"))
    # v2 changes how the ballots are prepared: the voting instance has passed that step already.
    v2 = publish(lambda xml: xml.replace("ccb_votes = {}\n", "ccb_votes = {}\nballots_prepared = True\n", 1))
    plan = migration.plan(PROCESS, v2.version, actors["owen"])
    assert (plan.total, plan.movable, plan.blocked) == (3, 2, 1)
    assert next(p for p in plan.instances if p.instance_id == voting).blockers == [
        {"element": "hide_owners", "name": "Prepare ballots",
         "reason": "the instance has already passed this step, and the new version changes it (script)"}]

    batch = migration.start_batch(PROCESS, v2.id, actors["owen"], instance_ids=[*waiting, voting])
    assert batch.status == MigrationBatchStatus.FINISHED  # embedded: the job ran in-process
    results = {r["instance_id"]: r for r in batch.results}
    assert (batch.total, batch.moved, batch.blocked, batch.failed) == (3, 2, 1, 0)
    assert results[voting]["outcome"] == "blocked"
    assert results[voting]["blockers"][0]["element"] == "hide_owners"
    assert "'Prepare ballots': the instance has already passed this step" in results[voting]["reason"]
    assert instances.get(voting).process_version.version == 1
    for iid in waiting:
        assert results[iid]["outcome"] == "moved"
        assert instances.get(iid).process_version_id == v2.id
    assert audit_of("migration_batch_started")[-1].details["batch_id"] == batch.id
    assert audit_of("migration_batch_finished")[-1].details["batch_id"] == batch.id
    assert {e.instance_id for e in audit_of("instance_migrated")} >= set(waiting)
    assert all(e.details["batch_id"] == batch.id for e in audit_of("instance_migrated"))


def test_an_open_vote_moves_with_its_ballots_and_their_titles_follow_the_new_version(
        pmo, project_id, publish, actors):
    iid = raise_cr(pmo, project_id)
    pmo.do("maria", iid, "assess", assessment(100000, 30, "high"))
    ballots = {t.id: t.candidate_users for t in pmo.tasks(iid, "ccb_vote_task")}
    assert sorted(map(tuple, ballots.values())) == [("carla",), ("chen",)]
    v2 = publish(lambda xml: xml.replace('name="CCB vote on {{ cr_reference }}"',
                                         'name="CCB ballot on {{ cr_reference }}"'))
    entry = migration.plan(PROCESS, v2.version, actors["owen"]).instances[0]
    assert entry.movable
    assert [c for c in entry.changes if c["kind"] == "changed"] == [
        {"element": "ccb_vote_task", "name": "CCB vote on …", "kind": "changed",
         "detail": "the open step changes (name)", "what": "name"}]
    migration.migrate_instance(iid, v2.id, actors["owen"])
    rows = {t.id: t for t in pmo.tasks(iid, "ccb_vote_task")}
    assert {k: r.candidate_users for k, r in rows.items()} == ballots
    assert all(r.title.startswith("CCB ballot on CR-") for r in rows.values())
    for task_id, (voter,) in ballots.items():
        pmo.do(voter, iid, "ccb_vote_task", {"ccb_vote": {"vote": "approve"}}, task=rows[task_id])
    assert "ccb_vote_task" not in pmo.ready(iid)


def test_a_batch_goes_on_past_a_blocked_instance(pmo, project_id, publish, actors):
    at_assess = raise_cr(pmo, project_id)
    at_decision = at_pm_decision(pmo, project_id)
    # The check added after the assessment changes what follows it: fine while it is open, a change
    # behind a completed step for the one already past it.
    v2 = publish(add_pmo_check)
    plan = migration.plan(PROCESS, v2.version, actors["owen"])
    by_id = {p.instance_id: p for p in plan.instances}
    assert by_id[at_assess].movable
    assert not by_id[at_decision].movable
    assert {b["element"] for b in by_id[at_decision].blockers} == {"assess", "route_approval"}
    assert (plan.movable, plan.blocked) == (1, 1)

    batch = migration.start_batch(PROCESS, v2.id, actors["owen"], instance_ids=[at_decision, at_assess])
    assert (batch.status, batch.total, batch.moved, batch.blocked, batch.failed) == (
        MigrationBatchStatus.FINISHED, 2, 1, 1, 0)
    blocked = next(r for r in batch.results if r["instance_id"] == at_decision)
    assert blocked["outcome"] == "blocked" and blocked["blockers"]
    assert "already passed" in blocked["reason"]
    assert instances.get(at_decision).process_version.version == 1
    assert instances.get(at_assess).process_version.version == 2

    # None: every movable one (here none is left).
    with pytest.raises(Invalid, match="no instance to migrate"):
        migration.start_batch(PROCESS, v2.id, actors["owen"])
    with pytest.raises(Forbidden):
        migration.start_batch(PROCESS, v2.id, actors["maria"])
    # A redelivered job changes nothing.
    assert migration.run_batch(batch.id) == "nothing to do"
    assert db.session.get(MigrationBatch, batch.id, populate_existing=True).moved == 1


def test_an_instance_ended_after_the_batch_was_asked_for_is_recorded_and_the_batch_goes_on(
        pmo, project_id, publish, actors):
    ended, movable = raise_cr(pmo, project_id), raise_cr(pmo, project_id)
    v2 = publish(add_pmo_check)
    with write_transaction():
        batch = MigrationBatch(process_key=PROCESS, to_version_id=v2.id, requested_by="owen",
                               status=MigrationBatchStatus.QUEUED, instance_ids=[ended, movable], total=2, results=[])
        db.session.add(batch)
        db.session.flush()
        batch_id = batch.id
    instances.terminate(ended, actors["admin"], "withdrawn")  # meanwhile
    assert migration.run_batch(batch_id) == "finished"
    batch = migration.get_batch(batch_id)
    assert (batch.moved, batch.blocked, batch.failed) == (1, 1, 0)
    results = {r["instance_id"]: r for r in batch.results}
    assert results[ended]["reason"] == ("the instance is terminated: only running, suspended or failed instances "
                                        "move between versions")
    assert results[movable]["outcome"] == "moved"


def test_a_failing_instance_is_recorded_and_a_redelivered_batch_resumes_where_it_stopped(
        pmo, project_id, publish, actors, monkeypatch):
    first, failing, last = raise_cr(pmo, project_id), raise_cr(pmo, project_id), raise_cr(pmo, project_id)
    v2 = publish(add_pmo_check)
    with write_transaction():
        # A worker died after recording the first instance: the batch is still running.
        batch = MigrationBatch(process_key=PROCESS, to_version_id=v2.id, requested_by="owen",
                               status=MigrationBatchStatus.RUNNING, instance_ids=[first, failing, last], total=3,
                               moved=1, results=[{"instance_id": first, "outcome": "moved", "from_version": 1,
                                                  "blockers": [], "reason": ""}])
        db.session.add(batch)
        db.session.flush()
        batch_id = batch.id
    real = migration.migrate_instance

    def flaky(instance_id, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if instance_id == failing:
            raise RuntimeError("disk full")
        return real(instance_id, *args, **kwargs)

    monkeypatch.setattr(migration, "migrate_instance", flaky)
    assert migration.run_batch(batch_id) == "finished"
    batch = migration.get_batch(batch_id)
    assert (batch.status, batch.moved, batch.blocked, batch.failed) == ("finished", 2, 0, 1)
    assert [r["instance_id"] for r in batch.results] == [first, failing, last]
    assert batch.results[1]["reason"] == "RuntimeError: disk full"
    assert instances.get(first).process_version.version == 1  # recorded before: not moved again here
    assert instances.get(last).process_version.version == 2


def test_a_batch_refuses_instances_that_are_not_running_on_an_older_version(pmo, project_id, publish, actors):
    iid = raise_cr(pmo, project_id)
    v2 = publish(add_pmo_check)
    with pytest.raises(Invalid) as wrong:
        migration.start_batch(PROCESS, v2.id, actors["owen"], instance_ids=[iid, 99999])
    assert wrong.value.errors["instance_ids"] == ["99999: not a running instance of an older version"]


# -- the release: the version new instances start on -----------------------------------------------------

def test_release_changes_what_new_instances_start_on(pmo, project_id, publish, actors):
    v2 = publish(add_pmo_check)
    assert definition_queries.current_version(PROCESS).version == 2
    definitions.set_release(PROCESS, 1, actors["owen"], "the PMO check is not staffed yet")
    assert definition_queries.current_version(PROCESS).version == 1
    assert instances.get(raise_cr(pmo, project_id)).process_version.version == 1
    entry = audit_of("release_set")[-1]
    assert entry.details == {"version": 1, "previous_version": 2, "newest_version": 2,
                             "reason": "the PMO check is not staffed yet"}
    definitions.set_release(PROCESS, 2, actors["admin"])
    assert definition_queries.release_of(PROCESS) is None
    assert instances.get(raise_cr(pmo, project_id)).process_version_id == v2.id
    with pytest.raises(Forbidden):
        definitions.set_release(PROCESS, 1, actors["petra"])


def test_a_change_request_is_checked_against_the_form_of_the_version_it_starts_on(pmo, project_id, publish, actors):
    schema = json.loads((FORMS / "change-submit-schema.json").read_text())
    schema["properties"]["vendor"] = {"type": "string", "title": "Vendor"}
    schema["required"] = [*schema.get("required", []), "vendor"]
    publish(forms={"change-submit-schema.json": schema})
    with pytest.raises(Invalid):
        services.raise_change_request(project_id, actors["paul"], d(CHANGE))
    definitions.set_release(PROCESS, 1, actors["owen"], "the vendor field is not agreed yet")
    _cr, instance = services.raise_change_request(project_id, actors["paul"], d(CHANGE))
    assert instance.process_version.version == 1


def test_the_plan_lists_instances_of_older_versions_only(pmo, project_id, publish, actors):
    old = raise_cr(pmo, project_id)
    v2 = publish(add_pmo_check)
    new = raise_cr(pmo, project_id)
    plan = migration.plan(PROCESS, v2.version, actors["owen"])
    assert [p.instance_id for p in plan.instances] == [old]
    assert new not in plan.movable_ids
    assert plan.instances[0].started_at <= datetime.now(plan.instances[0].started_at.tzinfo)
    # Read-only: the publish step may ask without an actor (pages and the API check the role).
    assert migration.plan(PROCESS, v2.version).movable_ids == [old]


# -- a called process (small fixture BPMN) ------------------------------------------------------------------

PARENT_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="parent_defs" targetNamespace="x">
  <bpmn:process id="parent" name="Parent" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
    <bpmn:callActivity id="call" name="Do the child" calledElement="child" />
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>"""


def child_bpmn(steps: list[str]) -> bytes:
    """The called process: manual steps in a row (``a`` open first)."""
    tasks = "".join(f'<bpmn:manualTask id="{s}" name="Step {s.upper()}" />' for s in steps)
    chain = ["start", *steps, "end"]
    flows = "".join(f'<bpmn:sequenceFlow id="g{i}" sourceRef="{a}" targetRef="{b}" />'
                    for i, (a, b) in enumerate(zip(chain, chain[1:], strict=False)))
    return (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
            f'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="child_defs" targetNamespace="x">'
            f'<bpmn:process id="child" name="Child" isExecutable="true"><bpmn:startEvent id="start" />{tasks}'
            f'{flows}<bpmn:endEvent id="end" /></bpmn:process></bpmn:definitions>').encode()


def deploy_parent(steps: list[str]) -> ProcessVersion:
    from app.engine.bundle import BundleFile

    result = definitions.deploy([BundleFile("parent.bpmn", PARENT_BPMN), BundleFile("child.bpmn", child_bpmn(steps))],
                                "owen")
    return next(v for v in result.created if v.process_key == "parent")


def test_a_running_called_process_moves_with_its_own_diff(app, actors):
    deploy_parent(["a", "b"])
    iid = instances.start("parent", actors["admin"]).id
    open_task = instances.ready_tasks(iid)[0]
    assert open_task.element_id == "a"
    v2 = deploy_parent(["a", "c", "b"])
    entry = migration.plan("parent", v2.version, actors["owen"]).instances[0]
    assert entry.movable
    assert {"element": "c", "name": "Step C", "kind": "added", "detail": "a new step in the new version",
            "what": ""} in (
        entry.changes)
    migration.migrate_instance(iid, v2.id, actors["owen"])
    assert instances.ready_tasks(iid)[0].id == open_task.id
    instances.complete(open_task.id, actors["admin"], {})
    assert [t.element_id for t in instances.ready_tasks(iid)] == ["c"]


def test_a_removed_open_step_of_a_called_process_refuses(app, actors):
    deploy_parent(["a", "b"])
    iid = instances.start("parent", actors["admin"]).id
    v2 = deploy_parent(["b"])
    entry = migration.plan("parent", v2.version, actors["owen"]).instances[0]
    assert not entry.movable
    assert {"element": "a", "name": "Step A", "reason": "the instance waits here and the new version removes this "
            "step: moving it would save a state that can no longer be loaded"} in entry.blockers
    with pytest.raises(migration.MigrationBlocked):
        migration.migrate_instance(iid, v2.id, actors["owen"])
    assert instances.get(iid).process_version.version == 1


def test_an_instance_in_error_is_in_the_dry_run_and_moves_keeping_its_incident(app, actors):
    from app.core.errors import StepFailed
    from app.engine.bundle import BundleFile
    from tests.support.api import TWO_STEPS_BPMN

    definitions.deploy([BundleFile("two_steps.bpmn", TWO_STEPS_BPMN)], "owen")
    iid = instances.start("two_steps", actors["maria"], {"name": "Ada"}).id
    instances.complete(instances.ready_tasks(iid)[0].id, actors["maria"], {"value": 0})
    second = instances.ready_tasks(iid)[0]
    with pytest.raises(StepFailed):
        instances.complete(second.id, actors["maria"], {})  # 10 / 0
    assert instances.get(iid).status == "error"
    v2_xml = TWO_STEPS_BPMN.replace(b'<bpmn:userTask id="second" name="Second step" />',
                                    b'<bpmn:userTask id="second" name="Second step, checked" />')
    v2 = next(v for v in definitions.deploy([BundleFile("two_steps.bpmn", v2_xml)], "owen").created)
    entry = migration.plan("two_steps", v2.version, actors["owen"]).instances[0]
    assert (entry.status, entry.movable, entry.ready) == ("error", True, ["Second step"])
    moved = migration.migrate_instance(iid, v2.id, actors["owen"])
    assert (moved.status, moved.process_version.version) == ("error", 2)
    assert moved.error["message"]  # still an incident: only a repair ends it
    row = db.session.get(HumanTask, second.id, populate_existing=True)
    assert (row.status, row.title) == (TaskStatus.READY, "Second step, checked")


# -- the API ----------------------------------------------------------------------------------------------

def test_api_dry_run_migrate_move_back_batch_and_release(api, pmo, project_id, publish):
    movable = raise_cr(pmo, project_id)
    blocked = at_pm_decision(pmo, project_id)
    v2 = publish(add_pmo_check)

    plan = api.get(f"/process-definitions/{PROCESS}/versions/2/migration-plan", "owen")
    assert plan.status_code == 200, plan.get_json()
    body = plan.get_json()
    assert (body["to_version"], body["total"], body["movable"], body["blocked"]) == (2, 2, 1, 1)
    rows = {r["instance_id"]: r for r in body["instances"]}
    assert rows[movable]["movable"] and rows[movable]["label"] == "CRM-0042 Customer portal relaunch"
    assert {b["element"] for b in rows[blocked]["blockers"]} == {"assess", "route_approval"}
    assert_problem(api.get(f"/process-definitions/{PROCESS}/versions/2/migration-plan", "maria"), 403)
    assert_problem(api.get(f"/process-definitions/{PROCESS}/versions/9/migration-plan", "owen"), 404)

    refused = assert_problem(api.post(f"/process-instances/{blocked}/migrate", "owen", json={"to_version": 2}), 409)
    assert {b["element"] for b in refused["errors"]["blockers"]} == {"assess", "route_approval"}
    assert_problem(api.post(f"/process-instances/{movable}/migrate", "owen", json={"to_version": "2"}), 422)
    assert_problem(api.post(f"/process-instances/{movable}/migrate", "sam", json={"to_version": 2}), 403)
    moved = api.post(f"/process-instances/{movable}/migrate", "owen", json={"to_version": 2})
    assert moved.status_code == 200 and moved.get_json()["version"] == 2
    back = api.post(f"/process-instances/{movable}/migrate-back", "owen")
    assert back.status_code == 200 and back.get_json()["version"] == 1
    assert_problem(api.post(f"/process-instances/{movable}/migrate-back", "owen"), 409)

    started = api.post("/migration-batches", "owen", json={"process_key": PROCESS, "to_version": 2})
    assert started.status_code == 202, started.get_json()
    batch = started.get_json()
    assert batch["instance_ids"] == [movable] and batch["to_version"] == 2
    read = api.get(f"/migration-batches/{batch['id']}", "owen").get_json()
    assert (read["status"], read["moved"], read["results"][0]["outcome"]) == ("finished", 1, "moved")
    assert_problem(api.post("/migration-batches", "petra", json={"process_key": PROCESS, "to_version": 2}), 403)
    assert_problem(api.post("/migration-batches", "owen", json={"process_key": PROCESS}), 422)
    assert_problem(api.get(f"/migration-batches/{batch['id']}", "maria"), 403)

    released = api.call("PUT", f"/process-definitions/{PROCESS}/release", "owen",
                        json={"version": 1, "reason": "roll back"})
    assert released.get_json() == {"process_key": PROCESS, "version": 1, "newest_version": v2.version}
    assert_problem(api.call("PUT", f"/process-definitions/{PROCESS}/release", "maria", json={"version": 1}), 403)
    assert_problem(api.call("PUT", f"/process-definitions/{PROCESS}/release", "owen", json={"version": 7}), 404)
    assert_problem(api.call("PUT", f"/process-definitions/{PROCESS}/release", "owen", json={}), 422)
