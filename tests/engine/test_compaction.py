"""Compaction (``engine.compaction``): a looping instance keeps a bounded state, and nothing that
reads the state loses what it needs. Past ~334 turns of a three-step loop SpiffWorkflow's own tree
walks (``TaskIterator(max_depth=1000)``) stop finding the ready task: the loops here go beyond."""

from __future__ import annotations

from app.definitions import operations as definitions
from app.engine import runtime
from app.engine.bundle import BundleFile, load_bundle
from app.engine.compaction import MIN_TASKS
from app.engine.migration import blockers
from app.engine.progress import pruned_record
from app.engine.sandbox import Sandbox
from app.instances import commands as instances
from tests.engine.conftest import audit_entries, bpmn, fresh_instance, ready

LOOP_BODY = """    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="report" />
    <bpmn:userTask id="report" name="Status report">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="dataFields" value="done, turn" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="report" targetRef="count" />
    <bpmn:scriptTask id="count"><bpmn:script>turns = turns + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="count" targetRef="split" />
    <bpmn:parallelGateway id="split" />
    <bpmn:sequenceFlow id="f4" sourceRef="split" targetRef="note_a" />
    <bpmn:sequenceFlow id="f5" sourceRef="split" targetRef="note_b" />
    <bpmn:scriptTask id="note_a"><bpmn:script>a = turns</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="note_b"><bpmn:script>b = turns * 2</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f6" sourceRef="note_a" targetRef="join" />
    <bpmn:sequenceFlow id="f7" sourceRef="note_b" targetRef="join" />
    <bpmn:parallelGateway id="join" />
    <bpmn:sequenceFlow id="f8" sourceRef="join" targetRef="more" />
    <bpmn:exclusiveGateway id="more" default="f_again" />
    <bpmn:sequenceFlow id="f_done" sourceRef="more" targetRef="end">
      <bpmn:conditionExpression>done</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_again" sourceRef="more" targetRef="report" />
    <bpmn:endEvent id="end" />
"""
LOOP = bpmn("status_loop", LOOP_BODY)


def _engine_workflow():  # noqa: ANN202
    process = load_bundle([BundleFile("loop.bpmn", LOOP.encode())], []).processes["status_loop"]
    engine = runtime.PmoScriptEngine(Sandbox(time_limit=2.0, isolated=False), {})
    workflow = runtime.new_workflow(process.spec, process.subprocess_specs, engine, {"turns": 0})
    runtime.advance(workflow)
    return process, engine, workflow


def test_a_loop_of_600_turns_always_has_its_next_task_and_the_same_data_as_without_compaction():
    process, engine, workflow = _engine_workflow()
    _p, _e, twin = _engine_workflow()  # never compacted: the reference while the library still copes
    sizes = []
    for turn in range(1, 601):
        text = runtime.state_to_json(workflow)
        sizes.append(len(text))
        workflow = runtime.state_from_json(text, process.spec, process.subprocess_specs, engine)
        ready_now = runtime.ready_human_tasks(workflow)
        assert [t.element_id for t in ready_now] == ["report"], turn
        assert ready_now[0].data["turns"] == turn - 1
        runtime.complete_user_task(workflow, ready_now[0].id, {"done": False, "turn": turn})
        runtime.compact(workflow)
        data = runtime.workflow_data(workflow)
        assert (data["turns"], data["b"], data["turn"]) == (turn, 2 * turn, turn)
        if turn <= 60:  # uncompacted, this loop dies of RecursionError near turn 120
            twin_task = runtime.ready_human_tasks(twin)[0]
            runtime.complete_user_task(twin, twin_task.id, {"done": False, "turn": turn})
            assert data == runtime.workflow_data(twin), turn
        assert not workflow.is_completed()
    assert len(twin.tasks) > 400 and len(workflow.tasks) < 3 * MIN_TASKS
    assert max(sizes[100:]) < 2 * max(sizes[:40])  # flat, not growing with the turns
    ready_now = runtime.ready_human_tasks(workflow)
    runtime.complete_user_task(workflow, ready_now[0].id, {"done": True})
    assert workflow.is_completed() and workflow.data["turns"] == 601


def test_progress_after_compaction_still_shows_every_step_and_flow_taken():
    _process, _engine, workflow = _engine_workflow()
    for turn in range(40):
        task = runtime.ready_human_tasks(workflow)[0]
        runtime.complete_user_task(workflow, task.id, {"done": False, "turn": turn})
        if turn == 0:
            before = runtime.workflow_progress(workflow)["status_loop"]
    assert runtime.compact(workflow) > 0
    assert pruned_record(workflow)["status_loop"]["completed"]
    after = runtime.workflow_progress(workflow)["status_loop"]
    assert after.current == {"report"}
    assert after.completed == before.completed | {"more"} - {"report"}
    assert after.completed >= {"start", "count", "split", "note_a", "note_b", "join", "more"}
    assert ("more", "report") in after.flows and ("start", "report") in after.flows
    assert after.flows >= before.flows


def test_a_version_that_removes_a_step_passed_only_in_dropped_turns_still_blocks():
    _process, _engine, workflow = _engine_workflow()
    for turn in range(40):
        task = runtime.ready_human_tasks(workflow)[0]
        runtime.complete_user_task(workflow, task.id, {"done": False, "turn": turn})
    runtime.compact(workflow)
    assert not any(t.task_spec.bpmn_id == "start" for t in workflow.tasks.values())  # dropped
    # The new version drops note_b's branch: split -> note_a -> join only.
    new_body = (LOOP_BODY.replace('    <bpmn:sequenceFlow id="f5" sourceRef="split" targetRef="note_b" />\n', "")
                .replace('    <bpmn:scriptTask id="note_b"><bpmn:script>b = turns * 2</bpmn:script></bpmn:scriptTask>\n', "")
                .replace('    <bpmn:sequenceFlow id="f7" sourceRef="note_b" targetRef="join" />\n', ""))
    new = load_bundle([BundleFile("loop.bpmn", bpmn("status_loop", new_body).encode())], []).processes["status_loop"]
    found = blockers(workflow, new.spec, new.subprocess_specs)
    assert any(b.element == "note_b" and "already passed" in b.reason for b in found), found


def test_an_instance_looping_through_the_commands_keeps_a_flat_state_and_a_complete_audit(app, actors):
    definitions.deploy([BundleFile("loop.bpmn", LOOP.encode())], "admin")
    actor = actors["maria"]
    instance = instances.start("status_loop", actor, {"turns": 0})
    sizes = []
    turns = 360
    for turn in range(1, turns + 1):
        tasks = ready(instance.id)
        assert [t.element_id for t in tasks] == ["report"], turn
        instances.complete(tasks[0].id, actor, {"done": False, "turn": turn})
        sizes.append(len(fresh_instance(instance.id).state_json))
    data = instances.instance_data(fresh_instance(instance.id))
    assert (data["turns"], data["turn"], data["b"]) == (turns, turns, 2 * turns)
    assert max(sizes[-50:]) < 2 * max(sizes[:30])
    completions = audit_entries(instance.id, "complete_task")
    assert len(completions) == turns
    assert [e.details["data"]["turn"] for e in completions] == list(range(1, turns + 1))
    progress = instances.instance_progress(fresh_instance(instance.id))["status_loop"]
    assert progress.current == {"report"} and "start" in progress.completed
    instances.complete(ready(instance.id)[0].id, actor, {"done": True})
    assert fresh_instance(instance.id).status == "completed"
