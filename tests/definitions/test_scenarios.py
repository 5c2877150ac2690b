"""Running a bundle's process test scenarios: the shipped lifecycle's all pass, scenario files are
stored with a deployment but are neither forms nor part of a version, broken files are reported
by file, line and field, and ``pmo test-processes`` exits 1 on any failure."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from app.core.extensions import db
from app.definitions import operations as definitions
from app.definitions import scenarios
from app.definitions.models import Deployment
from app.engine.bundle import BundleFile, read_paths

ROOT = Path(__file__).parents[2]
WORKFLOWS, FORMS = ROOT / "workflows", ROOT / "forms"
FIXTURES = ROOT / "tests" / "fixtures"
LIFECYCLE = {"project_lifecycle", "project_initiation", "project_planning", "project_execution", "quality_gate",
             "change_request", "status_reporting", "project_closure"}

APPROVAL_SCENARIOS = {
    "approved_first_time": {
        "tasks": {"submit": {"data": [{"title": "New laptop", "cost": 1200}]},
                  "approve": {"data": [{"decision": "approve"}]}},
        "expected_exact_path": ["start", "submit", "approve", "decision", "record", "end"],
        "expected_end": "completed", "expected_data": {"approved": True, "approved_cost": "1200"}},
    "rejected_then_resubmitted": {
        "tasks": {"submit": {"data": [{"title": "New laptop", "cost": 3000}, {"title": "New laptop", "cost": 1200}]},
                  "approve": {"data": [{"decision": "reject", "comment": "Too expensive."}, {"decision": "approve"}]}},
        "expected_path": ["submit", "approve", "decision", "submit", "approve", "record", "end"],
        "expected_end": "completed"},
}


def fixture_bundle(scenario_text: str | None = None, name: str = "test_simple_approval.json") -> list[BundleFile]:
    files = read_paths([FIXTURES])
    if scenario_text is not None:
        files.append(BundleFile(name, scenario_text.encode()))
    return files


def test_every_shipped_lifecycle_process_has_scenarios_and_they_all_pass(app):
    started = time.monotonic()
    results = scenarios.run_scenarios(read_paths([WORKFLOWS, FORMS]))
    elapsed = time.monotonic() - started
    failed = [(r.process, r.scenario, r.reasons()) for r in results if not r.passed]
    assert not failed, failed
    assert {r.process for r in results} == LIFECYCLE | {"portfolio_report", "risk_escalation"}  # and the others
    for process in LIFECYCLE:
        assert len([r for r in results if r.process == process]) >= 4, process
    assert all(r.end in ("completed", "waiting") and r.path for r in results)
    assert elapsed < 30  # all of them, on a loaded 2-core machine (about 1.5 s when it is idle)


def test_a_bundle_with_scenarios_runs_them_and_reports_the_path(app):
    results = scenarios.run_scenarios(fixture_bundle(json.dumps(APPROVAL_SCENARIOS)))
    assert [(r.scenario, r.passed) for r in results] == [("approved_first_time", True),
                                                         ("rejected_then_resubmitted", True)]
    assert results[0].as_dict()["path"] == ["start", "submit", "approve", "decision", "record", "end"]
    assert results[0].as_dict()["file"] == "test_simple_approval.json"


def test_a_failing_scenario_names_the_step_and_the_task(app):
    doc = {"wrong": {**APPROVAL_SCENARIOS["approved_first_time"],
                     "expected_exact_path": ["start", "submit", "record", "end"]}}
    (result,) = scenarios.run_scenarios(fixture_bundle(json.dumps(doc)))
    assert not result.passed
    assert result.failures == [{"scenario": "wrong", "step": "expected_exact_path[2]", "task": "record",
                                "message": "expected record, got approve; path taken: start -> submit -> approve "
                                           "-> decision -> record -> end"}]


def test_submissions_are_checked_against_the_tasks_form(app):
    doc = {"bad_data": {"tasks": {"submit": {"data": [{"title": "No", "cost": -5, "approved": True}]}},
                        "expected_end": "completed"}}
    (result,) = scenarios.run_scenarios(fixture_bundle(json.dumps(doc)))
    (reason,) = result.reasons()
    assert reason.startswith("tasks.submit.data[0], task submit: the task's form refuses the data: ")
    assert "approved: not a field of this task's form" in reason
    assert "title: 'No' is too short" in reason and "cost: -5 is less than the minimum of 0" in reason


def test_a_task_without_a_form_takes_only_its_data_fields():
    check = scenarios.submission_check({})
    assert check({"dataFields": "note"}, {}, {"note": "x"}) == ({"note": "x"}, [])
    assert check({}, {}, {"note": "x"})[1] == ["note: this task has no form and takes no data"]


def test_a_read_only_field_may_come_back_only_unchanged():
    files = {"f.json": json.dumps({"type": "object", "properties": {"code": {"type": "string", "readOnly": True},
                                                                    "ok": {"type": "boolean"}}}).encode()}
    check = scenarios.submission_check(files)
    properties = {"formJsonSchemaFilename": "f.json"}
    assert check(properties, {"code": "A-1"}, {"code": "A-1", "ok": True}) == ({"ok": True}, [])
    assert check(properties, {"code": "A-1"}, {"code": "B-2"})[1] == ["code: read-only, the process sets it"]


def test_an_unreadable_scenario_file_is_one_failed_result_with_file_line_and_field(app):
    text = json.dumps({"s": {"tasks": {"submit": {"data": "title"}}, "expected_end": "completed"}}, indent=2)
    (result,) = scenarios.run_scenarios(fixture_bundle(text))
    assert result.scenario is None and not result.passed
    assert result.reasons() == ["test_simple_approval.json:5: s/tasks/submit/data: must be a list of submissions "
                                "(JSON objects), not text"]
    (result,) = scenarios.run_scenarios(fixture_bundle('{"s": {'))
    assert result.reasons()[0].startswith("test_simple_approval.json:1: -: not valid JSON")


def test_a_scenario_file_for_a_process_not_in_the_bundle(app):
    (result,) = scenarios.run_scenarios(fixture_bundle(json.dumps(APPROVAL_SCENARIOS), "test_nothing.json"))
    assert result.reasons() == ["test_nothing.json:1: -: no process 'nothing' and no nothing.bpmn in the bundle "
                                "(processes: simple_approval)"]


def test_scenario_files_are_kept_with_a_deployment_but_are_no_form_and_no_part_of_a_version(app):
    # Not a valid JSON Schema: as a form this bundle would be refused.
    first = definitions.deploy(fixture_bundle('{"type": 12}'), "owen")
    assert [v.process_key for v in first.created] == ["simple_approval"]
    deployment = db.session.get(Deployment, first.deployment_id)
    assert deployment.file("test_simple_approval.json").content == b'{"type": 12}'
    assert "test_simple_approval.json" not in first.created[0].forms
    # A changed scenario file, or none, changes no process: nothing new is deployed.
    assert definitions.deploy(fixture_bundle(json.dumps(APPROVAL_SCENARIOS)), "owen").created == []
    assert definitions.deploy(fixture_bundle(), "owen").created == []


# -- pmo test-processes ---------------------------------------------------------------------------

@pytest.fixture
def cli(tmp_path: Path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "SECRET_KEY": "cli-test-secret",
           "WORKFLOWS_DIR": str(tmp_path / "none"), "FORMS_DIR": str(tmp_path / "none")}

    def invoke(*args: str):  # noqa: ANN202
        return CliRunner().invoke(main, ["test-processes", *args], env=env, catch_exceptions=False)

    return invoke


def test_pmo_test_processes_runs_the_shipped_scenarios(cli):
    result = cli(str(WORKFLOWS), str(FORMS))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("pass  change_request: ")
    assert all(line.startswith("pass  ") for line in lines[:-1])
    assert " passed, 0 failed in " in lines[-1]


def shipped_copy(tmp_path: Path) -> tuple[Path, Path]:
    workflows, forms = tmp_path / "workflows", tmp_path / "forms"
    shutil.copytree(WORKFLOWS, workflows)
    shutil.copytree(FORMS, forms)
    return workflows, forms


def test_pmo_test_processes_exits_1_on_a_failing_scenario(cli, tmp_path):
    workflows, forms = shipped_copy(tmp_path)
    path = workflows / "test_status_reporting.json"
    doc = json.loads(path.read_text())
    doc["green_report_is_filed"]["expected_data"]["overall_rag"] = "amber"
    path.write_text(json.dumps(doc, indent=2))
    result = cli(str(workflows), str(forms))
    assert result.exit_code == 1, result.output
    assert "FAIL  status_reporting: green_report_is_filed" in result.output
    assert "      expected_data: data.overall_rag: expected \"amber\", got \"green\"" in result.output
    assert " passed, 1 failed in " in result.output.splitlines()[-1]


def test_pmo_test_processes_exits_1_on_an_unreadable_scenario_file(cli, tmp_path):
    workflows, forms = shipped_copy(tmp_path)
    (workflows / "test_quality_gate.json").write_text('{"go": {"steps": [{"advance_clock": "soon"}], '
                                                      '"expected_end": "completed"}}')
    result = cli(str(workflows), str(forms))
    assert result.exit_code == 1, result.output
    assert "FAIL  test_quality_gate.json: no scenario of this file could run" in result.output
    assert "test_quality_gate.json:1: go/steps/0/advance_clock: 'soon' is not an ISO 8601 duration" in result.output
    assert "1 scenario file(s) not run" in result.output


def test_pmo_test_processes_exits_1_when_the_files_do_not_validate(cli, tmp_path):
    workflows, forms = shipped_copy(tmp_path)
    (workflows / "change_request.bpmn").write_text("<bpmn")
    result = cli(str(workflows), str(forms))
    assert result.exit_code == 1
    assert "change_request.bpmn:1: -: malformed XML" in result.output
    assert "no scenario was run" in result.output


def test_pmo_test_processes_exits_1_without_scenario_files(cli):
    result = cli(str(FIXTURES))
    assert result.exit_code == 1
    assert "no scenario files (test_<process>.json) found" in result.output


def test_the_whole_run_is_bounded_in_time(app):
    app.config["SCENARIOS_TIME_LIMIT_SECONDS"] = 0
    results = scenarios.run_scenarios(fixture_bundle(json.dumps(APPROVAL_SCENARIOS)))
    assert [r.passed for r in results] == [False, False]
    assert results[0].reasons() == ["start: not run: the scenarios together took longer than the limit (0 s)"]


def test_pmo_test_processes_for_one_bpmn_file_runs_only_its_scenarios(cli):
    result = cli(str(WORKFLOWS / "quality_gate.bpmn"), str(WORKFLOWS / "gate_recommendation.dmn"), str(FORMS))
    assert result.exit_code == 0, result.output
    assert {line.split(":")[0] for line in result.output.splitlines()[:-1]} == {"pass  quality_gate"}
