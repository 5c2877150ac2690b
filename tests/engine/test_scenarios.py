"""Process test scenarios in the engine: a scenario file is read with a clear error per file, line
and field; a run drives the real engine and sandbox in memory and says where it went wrong."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import app.projects.operators  # noqa: F401 - registers the pmo/... operators the bundles name
from app.engine import clock
from app.engine import scenarios as sc
from app.engine.bundle import BundleFile, load_bundle
from app.engine.helpers import SCRIPT_HELPERS
from app.engine.sandbox import Sandbox
from tests.engine.conftest import bpmn

ROLES = ["admin", "pmo", "project_manager", "sponsor", "ccb_member"]
SANDBOX = Sandbox(time_limit=1.0, helpers=SCRIPT_HELPERS)

# start -> ask (user) -> score (script) -> big? -> approve (user) | small_end
APPROVAL = bpmn("approval", """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask" />
    <bpmn:userTask id="ask" name="Ask" />
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="score" />
    <bpmn:scriptTask id="score" scriptFormat="python"><bpmn:script>score = amount * 2</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="score" targetRef="big" />
    <bpmn:exclusiveGateway id="big" default="f_small" />
    <bpmn:sequenceFlow id="f_big" sourceRef="big" targetRef="approve">
      <bpmn:conditionExpression>score &gt; 100</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="big" targetRef="small_end" />
    <bpmn:endEvent id="small_end" />
    <bpmn:userTask id="approve" name="Approve" />
    <bpmn:sequenceFlow id="f4" sourceRef="approve" targetRef="big_end" />
    <bpmn:endEvent id="big_end" />
""")

# A user task with a 2-day reminder (non-interrupting) and a 5-day escalation (interrupting).
SLA = bpmn("sla", """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide" />
    <bpmn:userTask id="decide" name="Decide" />
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="done" />
    <bpmn:endEvent id="done" />
    <bpmn:boundaryEvent id="remind" attachedToRef="decide" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"P2D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="remind" targetRef="note" />
    <bpmn:scriptTask id="note" scriptFormat="python"><bpmn:script>reminded_at = now_iso()</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f4" sourceRef="note" targetRef="reminded" />
    <bpmn:endEvent id="reminded" />
    <bpmn:boundaryEvent id="escalate" attachedToRef="decide">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"P5D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f5" sourceRef="escalate" targetRef="escalated" />
    <bpmn:userTask id="escalated" name="Escalated" />
    <bpmn:sequenceFlow id="f6" sourceRef="escalated" targetRef="done_escalated" />
    <bpmn:endEvent id="done_escalated" />
""")

# Ballots (a service result) -> one vote per ballot -> count.
VOTE = bpmn("voting", """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ballots" />
    <bpmn:serviceTask id="ballots">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="pmo/CcbBallots" resultVariable="voters">
          <spiffworkflow:parameters><spiffworkflow:parameter id="exclude" type="str" value="'nobody'" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="ballots" targetRef="cast" />
    <bpmn:userTask id="cast" name="Vote">
      <bpmn:multiInstanceLoopCharacteristics>
        <bpmn:loopDataInputRef>voters</bpmn:loopDataInputRef>
        <bpmn:loopDataOutputRef>votes</bpmn:loopDataOutputRef>
        <bpmn:inputDataItem id="voter" name="voter" />
        <bpmn:outputDataItem id="vote" name="vote" />
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="cast" targetRef="count" />
    <bpmn:scriptTask id="count" scriptFormat="python">
      <bpmn:script>yes = len([v for v in votes.values() if v == 'yes'])</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f4" sourceRef="count" targetRef="end" />
    <bpmn:endEvent id="end" />
""")

CALLER = bpmn("caller", """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
    <bpmn:callActivity id="call" calledElement="approval" />
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end" />
    <bpmn:endEvent id="end" />
""")

MESSAGE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:message id="m_paid" name="invoice_paid" />
  <bpmn:process id="wait_paid" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="paid" />
    <bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="m_paid" />
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="paid" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""

LOOP = bpmn("loop", """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="spin" />
    <bpmn:scriptTask id="spin" scriptFormat="python"><bpmn:script>n = 1</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="spin" targetRef="again" />
    <bpmn:exclusiveGateway id="again" default="f_back" />
    <bpmn:sequenceFlow id="f_back" sourceRef="again" targetRef="spin" />
""")

BROKEN = bpmn("broken", """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:userTask id="work" name="Work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="calc" />
    <bpmn:scriptTask id="calc" scriptFormat="python"><bpmn:script>a = 1
b = a / divisor</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="calc" targetRef="end" />
    <bpmn:endEvent id="end" />
""")


def processes(*documents: tuple[str, str]) -> dict[str, Any]:
    return load_bundle([BundleFile(name, text.encode()) for name, text in documents], ROLES).processes


def scenarios_of(doc: Any, name: str = "test_approval.json") -> list[sc.Scenario]:
    found, problems = sc.parse_scenarios(name, json.dumps(doc, indent=2).encode())
    assert not problems, [str(p) for p in problems]
    return found


def run(doc: dict[str, Any], *documents: tuple[str, str], process: str = "approval", **kwargs: Any) -> sc.Outcome:
    parsed = processes(*(documents or [("approval.bpmn", APPROVAL)]))[process]
    (scenario,) = scenarios_of(doc, f"test_{process}.json")
    return sc.run_scenario(scenario, parsed.spec, parsed.subprocess_specs, SANDBOX, **kwargs)


BIG = {"big": {"tasks": {"ask": {"data": [{"amount": 80}]}, "approve": {"data": [{"ok": True}]}},
               "expected_exact_path": ["start", "ask", "score", "big", "approve", "big_end"],
               "expected_end": "completed", "expected_data": {"score": 160, "ok": True}}}


# -- running ------------------------------------------------------------------------------------

def test_a_passing_scenario_reports_the_path_taken():
    outcome = run(BIG)
    assert outcome.passed, [str(f) for f in outcome.failures]
    assert outcome.path == ["start", "ask", "score", "big", "approve", "big_end"]
    assert outcome.end == "completed" and outcome.data["score"] == 160


def test_a_wrong_expected_path_names_the_step_the_element_and_the_path_taken():
    doc = {"small": {"tasks": {"ask": {"data": [{"amount": 10}]}},
                     "expected_path": ["start", "ask", "approve", "big_end"]}}
    outcome = run(doc)
    assert not outcome.passed
    (failure,) = outcome.failures
    assert failure.scenario == "small" and failure.step == "expected_path[2]" and failure.task == "approve"
    assert "expected approve after ask; got path score -> big -> small_end" in failure.message


def test_an_exact_path_names_the_first_difference():
    doc = {"small": {"tasks": {"ask": {"data": [{"amount": 10}]}},
                     "expected_exact_path": ["start", "ask", "score", "big", "approve"]}}
    (failure,) = run(doc).failures
    assert failure.step == "expected_exact_path[4]"
    assert failure.message.startswith("expected approve, got small_end")


def test_end_state_not_visited_and_data_are_compared():
    doc = {"small": {"tasks": {"ask": {"data": [{"amount": 10}]}},
                     "expected_end": {"waiting_at": "approve"}, "expected_not_visited": ["small_end"],
                     "expected_data": {"score": 21, "amount": 10, "missing": 1}}}
    failures = {f.step: f.message for f in run(doc).failures}
    assert failures["expected_end"] == "expected waiting at approve; got completed"
    assert "expected small_end not to be visited" in failures["expected_not_visited"]
    messages = [f.message for f in run(doc).failures if f.step == "expected_data"]
    assert messages == ["data.score: expected 21, got 20", "data.missing: expected a value, got none (not set)"]


def test_a_scenario_that_stops_at_a_task_without_data_says_where_it_waits():
    doc = {"big": {"tasks": {"ask": {"data": [{"amount": 80}]}}, "expected_end": "completed"}}
    (failure,) = run(doc).failures
    assert failure.step == "expected_end" and failure.task == "approve"
    assert "expected the process to complete; got waiting at approve" in failure.message


def test_submissions_never_used_fail_the_scenario():
    doc = {"small": {"tasks": {"ask": {"data": [{"amount": 10}]}, "approve": {"data": [{"ok": True}]}},
                     "expected_end": "completed"}}
    (failure,) = run(doc).failures
    assert failure.step == "tasks.approve.data[0]" and failure.task == "approve"
    assert "1 submission(s) never used" in failure.message


def test_an_engine_failure_names_the_task_and_the_script_line():
    doc = {"x": {"tasks": {"work": {"data": [{"divisor": 0}]}}, "expected_end": "completed"}}
    outcome = run(doc, ("broken.bpmn", BROKEN), process="broken")
    (failure,) = outcome.failures
    assert failure.step == "tasks.work.data[0]" and failure.task == "calc"
    assert "division by zero" in failure.message and "line 2" in failure.message
    assert outcome.path == ["start", "work"]


def test_the_form_check_refuses_data_an_approver_could_not_send():
    def check(properties, current, submission):  # noqa: ANN001, ANN202
        return submission, [f"{key}: not a field of this task's form" for key in submission if key != "amount"]

    doc = {"x": {"tasks": {"ask": {"data": [{"amount": 10, "score": 999}]}}, "expected_end": "completed"}}
    (failure,) = run(doc, check_submission=check).failures
    assert failure.task == "ask" and "score: not a field of this task's form" in failure.message


def test_multi_instance_takes_one_submission_per_instance_and_service_results_from_the_scenario():
    doc = {"vote": {"results": {"ballots": {"ann": {}, "bob": {}, "cy": {}}},
                    "tasks": {"cast": {"data": [[{"vote": "yes"}, {"vote": "no"}, {"vote": "yes"}]]}},
                    "expected_exact_path": ["start", "ballots", "cast", "count", "end"],
                    "expected_data": {"votes": {"ann": "yes", "bob": "no", "cy": "yes"}, "yes": 2}}}
    outcome = run(doc, ("voting.bpmn", VOTE), process="voting")
    assert outcome.passed, [str(f) for f in outcome.failures]


def test_a_complete_step_with_a_list_completes_each_instance_in_turn():
    doc = {"vote": {"results": {"ballots": {"ann": {}, "bob": {}}},
                    "steps": [{"complete": "cast", "data": [{"vote": "no"}, {"vote": "no"}, {"vote": "yes"}]}],
                    "expected_end": "completed"}}
    (failure,) = run(doc, ("voting.bpmn", VOTE), process="voting").failures
    assert failure.step == "steps[0] (complete cast)" and failure.task == "cast"
    assert "expected task cast to be ready (submission 3); got ready: none" in failure.message


def test_service_results_per_call_and_spiffarena_task_data():
    doc = {"vote": {"results": {"ballots": {"per_call": [{"ann": {}}]}},
                    "tasks": {"cast": {"data": [{"vote": "yes"}]}}, "expected_data": {"yes": 1}}}
    assert run(doc, ("voting.bpmn", VOTE), process="voting").passed
    # SpiffArena's way: a service task's "data" is merged into its data; its operator is not called.
    doc = {"vote": {"tasks": {"ballots": {"data": [{"voters": {"dee": {}}}]}, "cast": {"data": [{"vote": "no"}]}},
                    "expected_data": {"votes": {"dee": "no"}, "yes": 0}}}
    assert run(doc, ("voting.bpmn", VOTE), process="voting").passed


def test_a_called_process_runs_from_the_bundle_its_tasks_addressed_with_its_id():
    doc = {"through": {"tasks": {"approval/ask": {"data": [{"amount": 80}]}, "approve": {"data": [{"ok": True}]}},
                       "expected_path": ["start", "approval/ask", "approval/approve", "approval/big_end", "call", "end"],
                       "expected_end": "completed", "expected_data": {"score": 160}}}
    outcome = run(doc, ("caller.bpmn", CALLER), ("approval.bpmn", APPROVAL), process="caller")
    assert outcome.passed, [str(f) for f in outcome.failures]
    assert outcome.path[:3] == ["start", "approval/start", "approval/ask"]


def test_a_message_step_delivers_its_payload():
    doc = {"paid": {"steps": [{"message": "invoice_paid", "payload": {"amount": 120}}],
                    "expected_exact_path": ["start", "paid", "end"], "expected_end": "completed"}}
    assert run(doc, ("paid.bpmn", MESSAGE), process="wait_paid").passed
    doc = {"paid": {"steps": [{"message": "invoice_lost"}], "expected_end": "completed"}}
    (failure,) = run(doc, ("paid.bpmn", MESSAGE), process="wait_paid").failures
    assert "expected a task waiting for message 'invoice_lost'; got waiting for: invoice_paid" in failure.message


# -- timers on the scenario's clock ----------------------------------------------------------------

def test_advancing_the_clock_fires_due_timers_in_their_order():
    doc = {"reminded": {"clock": "2026-03-02T09:00:00+00:00", "steps": [{"advance_clock": "P3D"}],
                        "expected_path": ["start", "remind", "note", "reminded"],
                        "expected_end": {"waiting_at": ["decide", "escalate"]}}}
    outcome = run(doc, ("sla.bpmn", SLA), process="sla")
    assert outcome.passed, [str(f) for f in outcome.failures]
    # The script ran on the scenario's clock: two days after the start, not today.
    assert outcome.data["reminded_at"].startswith("2026-03-04T09:00:00")


def test_firing_a_timer_by_its_id_moves_the_clock_to_its_due_time():
    doc = {"escalated": {"steps": [{"fire_timer": "escalate"}], "tasks": {"escalated": {"data": [{}]}},
                         "expected_exact_path": ["start", "remind", "note", "reminded", "escalate", "escalated",
                                                 "done_escalated"],
                         "expected_not_visited": ["decide"], "expected_end": "completed"}}
    assert run(doc, ("sla.bpmn", SLA), process="sla").passed
    doc = {"x": {"tasks": {"decide": {"data": [{}]}}, "steps": [{"fire_timer": "escalate"}], "expected_end": "completed"}}
    (failure,) = run(doc, ("sla.bpmn", SLA), process="sla").failures
    assert failure.step == "steps[0] (fire_timer escalate)"
    assert "expected timer escalate to be waiting; got waiting timers: none" in failure.message


def test_a_timer_not_yet_due_does_not_fire():
    doc = {"early": {"steps": [{"advance_clock": "P1DT23H"}], "expected_end": {"waiting_at": ["decide", "remind",
                                                                                              "escalate"]}}}
    outcome = run(doc, ("sla.bpmn", SLA), process="sla")
    assert outcome.passed, [str(f) for f in outcome.failures]
    assert outcome.path == ["start"]


def test_the_scenario_clock_is_its_threads_own():
    seen: list[datetime] = []
    release = threading.Event()
    started = threading.Event()

    def other_thread() -> None:
        started.set()
        release.wait(5)
        seen.append(clock.now())

    thread = threading.Thread(target=other_thread)
    thread.start()
    started.wait(5)
    with clock.simulated(datetime(2020, 1, 1, tzinfo=UTC)):
        clock.set_simulated(datetime(2020, 6, 1, tzinfo=UTC))
        assert clock.now() == datetime(2020, 6, 1, tzinfo=UTC)
        release.set()
        thread.join(5)
    assert abs(seen[0] - datetime.now(UTC)) < timedelta(minutes=1)  # the other thread kept real time
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(minutes=1)  # and so does this one afterwards


# -- bounds ---------------------------------------------------------------------------------------

def test_a_loop_without_a_person_stops_at_the_step_bound(monkeypatch):
    monkeypatch.setattr(sc, "MAX_ENGINE_STEPS", 200)
    outcome = run({"spin": {"expected_end": "completed"}}, ("loop.bpmn", LOOP), process="loop")
    (failure,) = outcome.failures
    assert failure.step == "start" and "more than 200 automatic steps" in failure.message
    assert outcome.end == "failed"


def test_a_scenario_stops_at_its_time_bound():
    outcome = run({"spin": {"expected_end": "completed"}}, ("loop.bpmn", LOOP), process="loop", max_seconds=0.05)
    (failure,) = outcome.failures
    assert "the scenario ran longer than 0.05 s" in failure.message and outcome.seconds < 5


# -- reading scenario files -------------------------------------------------------------------------

def problems(text: str, name: str = "test_approval.json") -> list[str]:
    found, reported = sc.parse_scenarios(name, text.encode())
    assert not found
    return [str(p) for p in reported]


def test_malformed_json_names_the_file_and_line():
    (problem,) = problems('{\n  "a": {\n    "tasks": {,}\n  }\n}')
    assert problem.startswith("test_approval.json:3: -: not valid JSON")


def test_a_wrong_field_names_the_file_the_line_and_the_field_path():
    text = json.dumps({"ok": {"expected_end": "completed"},
                       "bad": {"tasks": {"ask": {"data": {"amount": 1}}}, "expected_end": "done",
                               "steps": [{"advance_clock": "three days"}], "expectd_path": []}}, indent=2)
    found = problems(text)
    line_of_data = text.splitlines().index(next(line for line in text.splitlines() if '"data"' in line)) + 1
    assert f"test_approval.json:{line_of_data}: bad/tasks/ask/data: must be a list of submissions (JSON objects), " \
           "not an object" in found
    assert any(p.endswith('bad/expected_end: must be "completed" or {"waiting_at": [element ids]}') for p in found)
    assert any("bad/steps/0/advance_clock: 'three days' is not an ISO 8601 duration" in p for p in found)
    assert any("bad/expectd_path: unknown field 'expectd_path'" in p for p in found)


def test_a_scenario_that_expects_nothing_and_a_step_of_two_kinds_are_refused():
    found = problems(json.dumps({"idle": {"tasks": {}}, "odd": {"steps": [{"complete": "a", "fire_timer": "b"}],
                                                                  "expected_end": "completed"}}))
    assert any("idle: expects nothing" in p for p in found)
    assert any("odd/steps/0: a step holds exactly one of complete, advance_clock, fire_timer, message" in p
               for p in found)


def test_spiffarena_names_are_read():
    (scenario,) = scenarios_of({"t": {"tasks": {"approval:ask": {"data": [{"amount": 1}]}},
                                      "expected_output_json": {"amount": 1}}})
    assert scenario.tasks == {"approval/ask": [{"amount": 1}]} and scenario.expected_output_json == {"amount": 1}
    assert sc.process_of("test_change_request.json") == "change_request"
    assert sc.process_of("change_request.json") is None


@pytest.mark.parametrize("text", ["[]", "{}", '"x"'])
def test_a_file_that_is_no_object_of_scenarios_is_refused(text: str):
    (problem,) = problems(text)
    assert "a scenario file holds a JSON object: scenario name -> scenario" in problem


def test_names_the_process_does_not_have_are_reported_before_the_run():
    doc = {"typos": {"tasks": {"aks": {"data": [{"amount": 1}]}, "score": {"data": [{}]}},
                     "results": {"ask": 1}, "steps": [{"fire_timer": "remind"}],
                     "expected_path": ["approval/ask", "big_ned"]}}
    outcome = run(doc)
    assert {(f.step, f.message) for f in outcome.failures} == {
        ("tasks.aks", "no element aks in approval or the processes it calls (did you mean ask?)"),
        ("tasks.score", "score is not a user task (or a service task, SpiffArena's way)"),
        ("results.ask", "ask is not a service task"),
        ("steps[0] (fire_timer remind)", "no element remind in approval or the processes it calls"),
        ("expected_path", "no element big_ned in approval or the processes it calls (did you mean big_end, big?)"),
    }
    assert outcome.path == [] and outcome.end == "failed"  # nothing ran: "approval/ask" is just "ask" here


def test_too_deep_or_too_many_scenarios_are_refused():
    deep: Any = {"expected_end": "completed"}
    for _ in range(70):
        deep = {"x": deep}
    assert "nested more than 64 levels deep" in problems(json.dumps({"s": {"expected_data": deep}}))[0]
    many = {f"s{i}": {"expected_end": "completed"} for i in range(201)}
    assert "201 scenarios: at most 200 in one file" in problems(json.dumps(many))[0]


def _amount_only(properties, current, submission):  # noqa: ANN001, ANN202
    reasons = [f"{key}: not a field of this task's form" for key in submission if key != "amount"]
    if "amount" not in submission:
        reasons.append("amount: this field is required")
    return submission, reasons


def test_a_step_can_expect_the_form_to_refuse_the_data_and_the_task_stays_ready():
    doc = {"refused": {"steps": [{"complete": "ask", "data": {"score": 1}, "expect_refused": ["amount", "score"]},
                                 {"complete": "ask", "data": {"amount": 10}}],
                       "expected_exact_path": ["start", "ask", "score", "big", "small_end"]}}
    outcome = run(doc, check_submission=_amount_only)
    assert outcome.passed, [str(f) for f in outcome.failures]
    doc = {"accepted": {"steps": [{"complete": "ask", "data": {"amount": 10}, "expect_refused": True}],
                        "expected_end": "completed"}}
    (failure,) = run(doc, check_submission=_amount_only).failures
    assert failure.step == "steps[0] (complete ask)" and failure.task == "ask"
    assert failure.message == "expected the task's form to refuse the data; it accepted it"
    doc = {"other": {"steps": [{"complete": "ask", "data": {"score": 1, "amount": 2}, "expect_refused": ["amount"]}],
                     "expected_end": "completed"}}
    (failure,) = run(doc, check_submission=_amount_only).failures
    assert failure.message == "expected the form to refuse amount; it refused: score: not a field of this task's form"


def test_expected_calls_compare_the_parameters_each_service_call_was_given():
    doc = {"vote": {"results": {"ballots": {"ann": {}}}, "tasks": {"cast": {"data": [{"vote": "yes"}]}},
                    "expected_calls": {"ballots": [{"exclude": "nobody"}]}}}
    assert run(doc, ("voting.bpmn", VOTE), process="voting").passed
    doc["vote"]["expected_calls"] = {"ballots": [{"exclude": "carla"}, {"exclude": "nobody"}]}
    (failure,) = run(doc, ("voting.bpmn", VOTE), process="voting").failures
    assert (failure.step, failure.task, failure.message) == ("expected_calls.ballots", "ballots",
                                                             "expected 2 call(s), got 1")
    doc["vote"]["expected_calls"] = {"ballots": [{"exclude": "carla"}]}
    (failure,) = run(doc, ("voting.bpmn", VOTE), process="voting").failures
    assert failure.message == 'call[0].exclude: expected "carla", got "nobody"'


def test_a_step_that_breaks_the_run_fails_only_its_scenario():
    doc = {"far": {"clock": "9999-12-20T00:00:00+00:00", "steps": [{"advance_clock": "P30D"}],
                   "expected_end": "completed"}}
    outcome = run(doc, ("sla.bpmn", SLA), process="sla")
    (failure,) = outcome.failures
    assert failure.step == "steps[0] (advance_clock P30D)"
    assert failure.message.startswith("the scenario could not go on: OverflowError")
    assert outcome.end == "failed" and outcome.waiting_at == ["decide", "remind", "escalate"]
