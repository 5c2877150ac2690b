"""Issue 16 item 17: a quality-gate step draws the quality-gate process (its own BPMN, the step
highlighted), not the execution process that calls it; the callers are offered for context, each
with the call activity on the way to the step."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app.core.extensions import db
from app.definitions import operations as definitions
from app.inbox import diagrams
from app.instances.models import HumanTask, TaskStatus
from app.projects import demo

ROOT = Path(__file__).resolve().parents[2]


def _gate_review() -> HumanTask:
    definitions.deploy_directory([ROOT / "workflows", ROOT / "forms"], "admin")
    demo.seed_projects()
    return db.session.scalars(select(HumanTask).where(HumanTask.element_id == "quality_review",
                                                      HumanTask.status == TaskStatus.READY)).one()


def test_quality_gate_step_draws_the_quality_gate_process_and_its_callers(login):
    task = _gate_review()
    assert [(lv.process_id, lv.element_id) for lv in diagrams.levels(task)] == [
        ("quality_gate", "quality_review"), ("project_execution", "quality_gate"), ("project_lifecycle", "execution")]
    quinn = login("quinn")
    own = quinn.get(f"/tasks/{task.id}/diagram.bpmn").get_data(as_text=True)
    assert '<bpmn:process id="quality_gate"' in own and 'id="quality_review"' in own
    assert '<bpmn:process id="project_execution"' not in own
    caller = quinn.get(f"/tasks/{task.id}/diagram.bpmn?process=project_execution").get_data(as_text=True)
    assert '<bpmn:process id="project_execution"' in caller
    assert quinn.get(f"/tasks/{task.id}/diagram.bpmn?process=project_closure").status_code == 404  # not on the path
    html = quinn.html(f"/tasks/{task.id}")
    assert 'data-element="quality_review"' in html
    assert f'href="/tasks/{task.id}/diagram.bpmn?process=project_execution"' in html and "called from" in html
    assert 'data-diagram-action="full"' in html and 'data-diagram-action="step"' in html


def test_a_step_of_the_instance_process_has_no_callers(login, actors):
    from app.instances import commands as instances
    definitions.deploy_directory([ROOT / "workflows", ROOT / "forms"], "admin")
    demo.seed_projects()
    report = db.session.scalars(select(HumanTask).where(HumanTask.element_id == "report",
                                                        HumanTask.status == TaskStatus.READY)).one()
    assert [lv.process_id for lv in diagrams.levels(report)] == ["status_reporting"]
    assert instances.get(report.instance_id).process_key == "status_reporting"
    assert "called from" not in login("maria").html(f"/tasks/{report.id}")
