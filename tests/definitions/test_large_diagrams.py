"""Large diagrams (issue 15): a deploy of any size succeeds or answers a clear 422 (413 above the body
limit, tests/api/test_auth_errors.py), long chains parse, and starting runs what it runs: prediction
stops a few steps ahead (``engine.prediction.HORIZON``) and the steps beyond still run."""

from __future__ import annotations

import json

from app.engine import runtime
from app.engine.bundle import MAX_PROCESS_ELEMENTS, BundleFile, load_bundle
from app.engine.prediction import HORIZON
from app.engine.sandbox import Sandbox
from app.instances import commands as instances
from tests.engine.conftest import ready
from tests.support.api import assert_problem, upload


def chain(steps: int, pid: str, user_every: int = 2) -> bytes:
    """start -> ``steps`` tasks (a user task every ``user_every``, script tasks between) -> end."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
           f'id="Definitions_{pid}" targetNamespace="http://bpmn.io/schema/bpmn">',
           f'<bpmn:process id="{pid}" name="Chain" isExecutable="true">', '<bpmn:startEvent id="start" />']
    previous = "start"
    for i in range(steps):
        node = f"t{i}"
        if i % user_every == 0:
            out.append(f'<bpmn:userTask id="{node}" name="Step {i}" />')
        else:
            out.append(f'<bpmn:scriptTask id="{node}"><bpmn:script>done_{i} = {i}</bpmn:script></bpmn:scriptTask>')
        out.append(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{previous}" targetRef="{node}" />')
        previous = node
    out.append(f'<bpmn:sequenceFlow id="f_end" sourceRef="{previous}" targetRef="end" />')
    out.append('<bpmn:endEvent id="end" /></bpmn:process></bpmn:definitions>')
    return "\n".join(out).encode()


def test_a_chain_of_4000_elements_deploys_and_starts_with_only_a_few_tasks_predicted(api, actors):
    # Before: RecursionError in SpiffWorkflow's parser from ~480 chained steps on.
    r = api.post("/process-definitions", "owen", **upload([("long.bpmn", chain(2000, "long"))]))
    assert r.status_code == 201, r.get_json()
    instance = instances.start("long", actors["maria"], {})
    assert [t.element_id for t in ready(instance.id)] == ["t0"]
    workflow_tasks = len(json.loads(instance.state_json)["tasks"])
    assert workflow_tasks <= HORIZON + 6  # the start helpers, the ready task and the horizon, not 4,000
    for step in range(0, 2 * HORIZON + 4, 2):  # past the horizon: the chain goes on
        task = ready(instance.id)
        assert [t.element_id for t in task] == [f"t{step}"]
        instances.complete(task[0].id, actors["maria"], {})
    data = instances.instance_data(instances.get(instance.id))
    assert data["done_1"] == 1 and data[f"done_{2 * HORIZON + 3}"] == 2 * HORIZON + 3


def test_a_chain_beyond_the_horizon_runs_to_its_end_with_the_same_data_as_before():
    process = load_bundle([BundleFile("c.bpmn", chain(3 * HORIZON, "c", user_every=5))], []).processes["c"]
    engine = runtime.PmoScriptEngine(Sandbox(time_limit=2.0, isolated=False), {})
    workflow = runtime.new_workflow(process.spec, process.subprocess_specs, engine, {"x": 1})
    runtime.advance(workflow)
    seen = []
    while not workflow.is_completed():
        task = runtime.ready_human_tasks(workflow)
        assert len(task) == 1
        seen.append(task[0].element_id)
        runtime.complete_user_task(workflow, task[0].id, {})
    assert seen == [f"t{i}" for i in range(0, 3 * HORIZON, 5)]
    assert workflow.data["x"] == 1
    assert all(workflow.data[f"done_{i}"] == i for i in range(3 * HORIZON) if i % 5)


def test_a_process_over_the_element_limit_answers_422_naming_the_file_and_the_count(api):
    steps = MAX_PROCESS_ELEMENTS // 2 + 10
    r = api.post("/process-definitions", "owen", **upload([("huge.bpmn", chain(steps, "huge"))]))
    body = assert_problem(r, 422)
    [problem] = body["errors"]
    assert problem["file"] == "huge.bpmn"
    assert f"{2 * steps + 3:,} elements" in problem["message"] and f"{MAX_PROCESS_ELEMENTS:,}" in problem["message"]
    validate = api.post("/process-definitions?validate_only=true", "owen", **upload([("huge.bpmn", chain(steps, "huge"))]))
    assert_problem(validate, 422)
