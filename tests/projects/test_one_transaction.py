"""Proposing a project is one transaction: the project row, its filing and audit entry, its
lifecycle instance and (for the PM's own proposal) the submitted charter, or the PM's draft of it.
A failure at any point, forced here in the engine, the charter step's check or the draft, leaves
nothing behind: no project, no instance, no task, no audit entry."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.core.audit import AuditEntry
from app.core.errors import Invalid
from app.core.extensions import db
from app.definitions import operations as definitions
from app.engine import runtime
from app.inbox import operations as inbox_operations
from app.inbox.models import TaskDraft
from app.instances import commands as instances
from app.instances.models import HumanTask, ProcessInstance
from app.projects.models import AppliedLesson, Project
from tests.projects.test_new_project import _portal_lesson, _proposal
from tests.support.api import assert_problem

ROOT = Path(__file__).resolve().parents[2]
TABLES = (Project, ProcessInstance, HumanTask, AuditEntry, AppliedLesson, TaskDraft)


def _counts() -> dict[str, int]:
    db.session.rollback()
    return {t.__name__: db.session.scalar(select(func.count()).select_from(t)) for t in TABLES}


def _engine_fails_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    def advance(workflow):  # noqa: ANN001, ANN202
        raise runtime.EngineError("the engine is down (forced by the test)", element_id="find_lessons")

    monkeypatch.setattr(runtime, "advance", advance)


def _charter_step_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def complete_user_task(workflow, task_id, data):  # noqa: ANN001, ANN202
        raise runtime.EngineError("the charter step failed (forced by the test)", task_id=task_id)

    monkeypatch.setattr(runtime, "complete_user_task", complete_user_task)


def _charter_check_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    real = instances._accepted_data

    def accepted_data(data, schema, ui, fields, current, errors, what, **kw):  # noqa: ANN001, ANN003, ANN202
        if what == "task":
            raise Invalid("the task data has 1 error(s)", errors={"scope_in": ["refused (forced by the test)"]})
        return real(data, schema, ui, fields, current, errors, what, **kw)

    monkeypatch.setattr(instances, "_accepted_data", accepted_data)


@pytest.mark.parametrize(("break_it", "words"), [
    (_engine_fails_to_start, "the engine is down"),
    (_charter_step_fails, "the charter step failed"),
    (_charter_check_refuses, "refused (forced by the test)"),
])
def test_a_failed_proposal_on_the_page_leaves_nothing(seeded, login, monkeypatch, break_it, words):
    lesson = _portal_lesson()
    maria = login("maria")
    token_page = "/projects/new"
    before = _counts()
    break_it(monkeypatch)
    response = maria.post("/projects/new", _proposal(applied=str(lesson.id)), token_from=token_page)
    assert response.status_code == 422
    assert words in response.get_data(as_text=True).lower()  # the reason, at the charter field or above the form
    assert _counts() == before
    assert db.session.scalars(select(Project).where(Project.name == "Supplier invoice portal")).first() is None
    monkeypatch.undo()
    # Nothing half-done blocks a second try: the same proposal now goes through whole.
    response = maria.post("/projects/new", _proposal(applied=str(lesson.id)), token_from=token_page)
    assert response.status_code == 303
    project = db.session.scalars(select(Project).where(Project.name == "Supplier invoice portal")).one()
    assert [t.element_id for t in instances.ready_tasks(project.lifecycle_instance_id)] == ["sponsor_review"]
    charter = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == project.lifecycle_instance_id,
                                                         HumanTask.element_id == "write_charter")).one()
    assert (charter.status, charter.completed_by) == ("completed", "maria")  # kept in the task history
    actions = list(db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.instance_id == project.lifecycle_instance_id).order_by(AuditEntry.id)))
    assert actions[-2:] == ["complete_task", "start"]  # the charter step, then the start it belongs to


def test_a_failed_draft_for_the_pm_leaves_nothing(seeded, login, monkeypatch):
    before = _counts()

    def put_draft(task_id, username, data):  # noqa: ANN001, ANN202
        raise RuntimeError("the draft could not be written (forced by the test)")

    monkeypatch.setattr(inbox_operations, "put_draft", put_draft)
    with pytest.raises(RuntimeError):
        login("petra").post("/projects/new", _proposal(name="Warehouse scanners"), token_from="/projects/new")
    assert _counts() == before


@pytest.fixture
def lifecycle(api, app):
    definitions.deploy_directory([ROOT / "workflows", ROOT / "forms"], "admin")
    return api


def test_a_failed_start_over_the_api_leaves_nothing(lifecycle, monkeypatch):
    before = _counts()
    _engine_fails_to_start(monkeypatch)
    body = assert_problem(lifecycle.post("/projects", "petra", json={"name": "ERP upgrade", "project_manager": "maria",
                                                                     "sponsor": "sam"}), 422)
    assert "nothing was saved" in body["detail"] and "the engine is down" in body["detail"]
    assert _counts() == before
    monkeypatch.undo()
    r = lifecycle.post("/projects", "petra", json={"name": "ERP upgrade", "project_manager": "maria", "sponsor": "sam"})
    assert r.status_code == 201
    assert r.get_json()["lifecycle_instance"]["status"] == "running"
