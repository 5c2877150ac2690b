"""Where a workflow stands, per process (``engine.progress.workflow_progress``): completed steps,
current steps and the sequence flows taken, on a small trip process that calls an approval, chooses
at a gateway and joins two parallel branches."""

from __future__ import annotations

from app.engine import runtime
from app.engine.bundle import BundleFile, load_bundle
from app.engine.sandbox import Sandbox

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/'
        '20100524/MODEL" id="Definitions_{pid}" targetNamespace="http://bpmn.io/schema/bpmn">\n')
TRIP = HEAD.format(pid="trip") + """  <bpmn:process id="trip" name="Trip" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approval" />
    <bpmn:callActivity id="approval" name="Approval" calledElement="approval_flow" />
    <bpmn:sequenceFlow id="f2" sourceRef="approval" targetRef="approved" />
    <bpmn:exclusiveGateway id="approved" default="f_no" />
    <bpmn:sequenceFlow id="f_yes" sourceRef="approved" targetRef="split">
      <bpmn:conditionExpression>decision == "yes"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_no" sourceRef="approved" targetRef="refused" />
    <bpmn:endEvent id="refused" />
    <bpmn:parallelGateway id="split" />
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="hotel" />
    <bpmn:sequenceFlow id="f4" sourceRef="split" targetRef="train" />
    <bpmn:userTask id="hotel" name="Book the hotel" />
    <bpmn:userTask id="train" name="Book the train" />
    <bpmn:sequenceFlow id="f5" sourceRef="hotel" targetRef="join" />
    <bpmn:sequenceFlow id="f6" sourceRef="train" targetRef="join" />
    <bpmn:parallelGateway id="join" />
    <bpmn:sequenceFlow id="f7" sourceRef="join" targetRef="done" />
    <bpmn:endEvent id="done" />
  </bpmn:process>
</bpmn:definitions>
"""
APPROVAL = HEAD.format(pid="approval_flow") + """  <bpmn:process id="approval_flow" name="Approval flow" isExecutable="true">
    <bpmn:startEvent id="a_start" />
    <bpmn:sequenceFlow id="a1" sourceRef="a_start" targetRef="review" />
    <bpmn:userTask id="review" name="Review the trip" />
    <bpmn:sequenceFlow id="a2" sourceRef="review" targetRef="a_end" />
    <bpmn:endEvent id="a_end" />
  </bpmn:process>
</bpmn:definitions>
"""


def _workflow():  # noqa: ANN202
    bundle = load_bundle([BundleFile("trip.bpmn", TRIP.encode()), BundleFile("approval.bpmn", APPROVAL.encode())], [])
    trip = bundle.processes["trip"]
    engine = runtime.PmoScriptEngine(Sandbox(time_limit=2.0, isolated=False), {})
    workflow = runtime.new_workflow(trip.spec, trip.subprocess_specs, engine, {})
    runtime.advance(workflow)
    return workflow


def _complete(workflow, element: str, data: dict | None = None) -> None:  # noqa: ANN001
    task = next(t for t in runtime.ready_human_tasks(workflow) if t.element_id == element)
    runtime.complete_user_task(workflow, task.id, data or {})


def _seen(workflow) -> dict[str, tuple[set[str], set[str], set[tuple[str, str]], dict[str, str]]]:  # noqa: ANN001
    return {pid: (p.completed, p.current, p.flows, p.calls)
            for pid, p in runtime.workflow_progress(workflow).items()}


def test_a_running_call_activity_is_current_above_and_its_step_current_below():
    workflow = _workflow()
    progress = runtime.workflow_progress(workflow)
    assert list(progress) == ["trip", "approval_flow"]  # the top process first
    assert _seen(workflow) == {
        "trip": ({"start"}, {"approval"}, {("start", "approval")}, {"approval": "approval_flow"}),
        "approval_flow": ({"a_start"}, {"review"}, {("a_start", "review")}, {}),
    }


def test_a_branch_not_taken_is_no_flow_and_a_join_waits_as_the_current_step():
    workflow = _workflow()
    _complete(workflow, "review", {"decision": "yes"})
    _complete(workflow, "hotel")
    completed, current, flows, _calls = _seen(workflow)["trip"]
    assert completed == {"start", "approval", "approved", "split", "hotel"}
    assert current == {"train", "join"}  # the join waits for the train branch
    assert flows == {("start", "approval"), ("approval", "approved"), ("approved", "split"),
                     ("split", "hotel"), ("split", "train"), ("hotel", "join")}
    assert ("approved", "refused") not in flows and "refused" not in completed | current
    assert _seen(workflow)["approval_flow"][:3] == (
        {"a_start", "review", "a_end"}, set(), {("a_start", "review"), ("review", "a_end")})


def test_both_branches_into_a_join_are_taken_once_it_fires():
    workflow = _workflow()
    _complete(workflow, "review", {"decision": "yes"})
    _complete(workflow, "hotel")
    _complete(workflow, "train")  # the hotel branch's join task is cancelled when the join fires
    completed, current, flows, _calls = _seen(workflow)["trip"]
    assert workflow.is_completed()
    assert current == set()
    assert completed == {"start", "approval", "approved", "split", "hotel", "train", "join", "done"}
    assert flows == {("start", "approval"), ("approval", "approved"), ("approved", "split"), ("split", "hotel"),
                     ("split", "train"), ("hotel", "join"), ("train", "join"), ("join", "done")}


def test_the_default_branch_when_refused():
    workflow = _workflow()
    _complete(workflow, "review", {"decision": "no"})
    completed, current, flows, _calls = _seen(workflow)["trip"]
    assert completed == {"start", "approval", "approved", "refused"} and current == set()
    assert ("approved", "refused") in flows and ("approved", "split") not in flows
