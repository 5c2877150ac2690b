"""The demo data of ``pmo init --demo``: projects in every phase, driven by the demo users, with work
in each role's inbox, nothing in error, and nothing new on a second run."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app import create_app
from app.cli import main
from app.core.audit import AuditEntry
from app.core.errors import Invalid
from app.core.extensions import db
from app.definitions import operations as definitions
from app.instances import queries
from app.instances.models import HumanTask, InstanceStatus, ProcessInstance
from app.projects import demo
from app.projects import queries as projects
from app.projects.models import ChangeRequest, LessonLearned, Project
from tests.conftest import fresh_database_url

ROOT = Path(__file__).resolve().parents[2]

EXPECTED_PHASES = {
    "Supplier self-service portal": ("closed", "closed", "SUP-0031"),
    "Customer portal relaunch": ("initiation", "proposed", None),
    "ERP upgrade": ("planning", "active", "ERP-0107"),
    "Data centre migration": ("execution", "active", "DCM-0058"),
    "Office move": ("closure", "active", "FAC-0023"),
}

# What each demo user finds in their inbox: (project, task element) pairs.
EXPECTED_INBOX = {
    "sam": {("Customer portal relaunch", "sponsor_review")},
    "rita": {("ERP upgrade", "review_resources")},
    "quinn": {("Data centre migration", "quality_review")},
    "carla": {("Data centre migration", "ccb_vote_task")},
    "chen": {("Data centre migration", "ccb_vote_task")},
    "maria": {("Data centre migration", "report")},
    "petra": {("Office move", "curate")},
    "paul": set(),
}


def _counts() -> dict[str, int]:
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Project, ProcessInstance, HumanTask, ChangeRequest, LessonLearned, AuditEntry)}


def _inbox(actor) -> set[tuple[str, str]]:  # noqa: ANN001
    names = {p.business_key: p.name for p in db.session.scalars(select(Project))}
    found = set()
    for task in queries.inbox(actor, per_page=200).items:
        instance = db.session.get(ProcessInstance, task.instance_id)
        found.add((names.get(instance.business_key, "?"), task.element_id))
    return found


def test_demo_seeding_creates_projects_in_every_phase_once(app, actors):
    definitions.deploy_directory([ROOT / "workflows", ROOT / "forms"], "admin")
    report = demo.seed()
    assert len([line for line in report if ": created" in line]) == len(EXPECTED_PHASES), report
    assert not [line for line in report if "failed" in line or "demo-" in line], report

    found = {p.name: (p.phase, p.status, p.code) for p in db.session.scalars(select(Project))}
    assert found == EXPECTED_PHASES
    assert db.session.scalar(select(func.count()).where(ProcessInstance.status == InstanceStatus.ERROR)) == 0

    for user, expected in EXPECTED_INBOX.items():
        assert _inbox(actors[user]) == expected, user
    erp = projects.get_project_by_code("ERP-0107")
    assert len([t for t in projects.open_tasks(erp) if t.element_id == "review_resources"]) == 3

    dcm = projects.get_project_by_code("DCM-0058")
    [cr] = dcm.change_requests
    from app.instances import commands as instances
    routed = instances.instance_data(instances.get(cr.instance_id))
    assert (routed["change_size"], routed["approval_route"], cr.status) == ("large", "ccb", "submitted")
    assert {t.element_id for t in projects.open_tasks(dcm)} == {"quality_review", "ccb_vote_task", "report"}
    assert float(dcm.budget_baseline) == 1800000 and dcm.risks and dcm.milestones[0].status == "achieved"

    # the closed project's lessons are published and shown to the new portal project at initiation
    closed = projects.get_project_by_code("SUP-0031")
    assert closed.lessons and all(lesson.published for lesson in closed.lessons)
    assert float(closed.budget_actual) == 412500
    assert projects.search_lessons("portal identity")[0].project_id == closed.id
    portal = next(p for p in db.session.scalars(select(Project)) if p.name == "Customer portal relaunch")
    charter_data = db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == portal.lifecycle_instance_id, HumanTask.element_id == "write_charter")).one()
    shown = instances.task_data(charter_data)["relevant_lessons"]
    assert {x["project_code"] for x in shown} == {"SUP-0031"}
    office = projects.get_project_by_code("FAC-0023")
    assert office.lessons == []                     # written, waiting for the PMO to curate

    before = _counts()
    again = demo.seed()
    assert all("already there" in line for line in again) and len(again) == len(EXPECTED_PHASES), again
    assert _counts() == before


def test_the_demo_projects_are_data_with_dates_relative_to_today(tmp_path):
    """The projects, their people, charters and steps come from demo_projects.toml, not from Python."""
    from datetime import date, timedelta

    plan = demo.project_plan()
    assert [p.name for p in plan] == list(EXPECTED_PHASES)
    assert "Identity provider" not in Path(demo.__file__).read_text(encoding="utf-8")
    charter = plan[0].steps[0]["data"]
    assert charter["start_date"] == (date.today() - timedelta(days=420)).isoformat()
    assert charter["business_case"]["payback_months"] == 28
    plan_step = next(s for s in plan[3].steps if s.get("task") == "prepare_plan")
    assert plan_step["data"]["communication_plan"][0]["audience"] == "Steering committee"  # a shared value
    broken = tmp_path / "broken.toml"
    broken.write_text('[[projects]]\nname = "No people"\n', encoding="utf-8")
    with pytest.raises(Invalid, match="not a valid demo projects file"):
        demo.project_plan(broken)


def test_demo_seeds_nothing_without_the_lifecycle(app, actors, deployed):
    """Only the fixture process deployed: the default plan still starts it; no projects."""
    report = demo.seed()
    assert any(line.startswith("demo-simple_approval-1: started") for line in report), report
    assert db.session.scalar(select(func.count()).select_from(Project)) == 0


# -- through the command ---------------------------------------------------------------------------

@pytest.fixture
def fresh_db(tmp_path: Path) -> str:
    return fresh_database_url(tmp_path, "demo")


def test_pmo_init_demo_prints_the_projects_and_is_idempotent(fresh_db):
    env = {"DATABASE_URL": fresh_db, "WORKFLOWS_DIR": str(ROOT / "workflows"), "FORMS_DIR": str(ROOT / "forms"),
           "SECRET_KEY": "demo-test-secret"}
    runner = CliRunner()
    first = runner.invoke(main, ["init", "--demo"], env=env, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    for name in EXPECTED_PHASES:
        assert f"demo data: project '{name}'" in first.output
    assert "created, execution" in first.output and "failed" not in first.output
    second = runner.invoke(main, ["init", "--demo"], env=env, catch_exceptions=False)
    assert second.exit_code == 0, second.output
    assert second.output.count("already there") >= len(EXPECTED_PHASES) and ": created" not in second.output
    app = create_app({"DATABASE_URL": fresh_db, "SECRET_KEY": "demo-test-secret"})
    with app.app_context():
        try:
            assert db.session.scalar(select(func.count()).select_from(Project)) == len(EXPECTED_PHASES)
            assert db.session.scalar(select(func.count()).where(
                ProcessInstance.status == InstanceStatus.ERROR)) == 0
        finally:
            db.session.remove()
            db.engine.dispose()
