"""The guided "New project" page: people checked against their roles, the charter from the deployed
initiation form, lessons of similar projects beside it (marked as applied, kept with the project),
and the lifecycle started on submit."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.core.audit import AuditEntry
from app.core.extensions import db
from app.inbox.models import TaskDraft
from app.instances import commands as instances
from app.people.models import User
from app.projects import queries as project_queries
from app.projects.models import AppliedLesson, LessonLearned, Project

CHARTER_FORM = {
    "n:objectives": "1", "f:objectives/0": "Cut supplier invoice queries by a third",
    "f:scope_in": "A supplier portal with single sign-on and invoice status.",
    "f:scope_out": "Payments engine changes.",
    "f:business_case/benefits": "Fewer calls to accounts payable, faster onboarding.",
    "f:business_case/estimated_costs": "Build 300k, run 40k a year.", "f:business_case/payback_months": "18",
    "f:budget_estimate": "320000", "f:start_date": "2027-02-01", "f:target_end_date": "2027-09-30",
    "n:key_risks": "1", "f:key_risks/0/description": "Identity provider tenant arrives late",
    "f:key_risks/0/probability": "3", "f:key_risks/0/impact": "4", "f:key_risks/0/mitigation": "Order it now",
    "n:stakeholders": "1", "f:stakeholders/0/name": "Head of procurement", "f:stakeholders/0/role": "Business owner",
    "f:stakeholders/0/interest": "high",
    "n:success_criteria": "1", "f:success_criteria/0": "Half of supplier queries answered in the portal",
}


def _portal_lesson() -> LessonLearned:
    return db.session.scalars(select(LessonLearned).where(LessonLearned.tags_text.like("%,sso,%"))).first()


def _proposal(**override: str) -> dict[str, str]:
    return {"name": "Supplier invoice portal", "project_manager": "maria", "sponsor": "sam",
            "category": "operational_improvement", "tags": "portal, sso", "action": "propose",
            **CHARTER_FORM, **override}


def _count() -> int:
    return db.session.scalar(select(db.func.count()).select_from(Project))


def test_the_page_offers_sponsors_by_name_and_the_deployed_charter_form(seeded, login):
    html = login("maria").html("/projects/new")
    assert 'name="f:scope_in"' in html and 'name="f:budget_estimate"' in html  # the deployed charter form
    assert 'name="f:project_name"' not in html  # asked once, as the project's name
    sponsor = re.search(r'<select id="f-sponsor".*?</select>', html, re.S).group(0)
    sam = db.session.scalars(select(User).where(User.username == "sam")).one()
    assert f'value="sam">{sam.display_name}</option>' in sponsor
    assert 'value="petra"' not in sponsor and 'value="maria"' not in sponsor  # only sponsors
    manager = re.search(r'<select id="f-project_manager".*?</select>', html, re.S).group(0)
    assert 'value="maria"' in manager and 'value="paul"' not in manager  # a PM proposes only their own
    assert 'href="/projects/new"' in login("maria").html("/projects")


def test_related_lessons_are_found_by_category_tags_and_words_best_first(seeded, login):
    lesson = _portal_lesson()
    html = login("maria").html("/projects/new?name=Supplier+portal&tags=sso,identity&category=operational_improvement")
    aside = re.search(r'data-testid="related-lessons">(.*?)</aside>', html, re.S).group(1)
    assert lesson.title in aside and f'name="applied" value="{lesson.id}"' in aside
    matches = project_queries.related_lessons("operational_improvement", ["sso", "identity"], "Supplier portal")
    assert matches[0].lesson.id == lesson.id  # same kind of project, two shared tags, its words
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)
    assert project_queries.related_lessons(None, [], "") == []


def test_a_pm_proposes_a_project_marks_a_lesson_applied_and_the_charter_goes_to_the_sponsor(seeded, login):
    lesson = _portal_lesson()
    maria = login("maria")
    response = maria.post("/projects/new", _proposal(applied=str(lesson.id)), token_from="/projects/new")
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    project = db.session.scalars(select(Project).where(Project.name == "Supplier invoice portal")).one()
    assert response.headers["Location"].endswith(f"/projects/{project.id}")
    assert (project.project_manager, project.sponsor, project.created_by) == ("maria", "sam", "maria")
    assert project.portfolio_category == "operational_improvement" and project.tags == ["portal", "sso"]
    assert [a.lesson_id for a in db.session.scalars(select(AppliedLesson).where(
        AppliedLesson.project_id == project.id))] == [lesson.id]
    ready = [t.element_id for t in instances.ready_tasks(project.lifecycle_instance_id)]
    assert ready == ["sponsor_review"]  # the charter was submitted: the sponsor authorises it
    assert project.charter["scope_in"].startswith("A supplier portal")
    assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "propose_project")).first() is not None
    page = maria.html(f"/projects/{project.id}")
    applied = re.search(r'data-testid="applied-lessons">(.*?)</ul>', page, re.S).group(1)
    assert lesson.title in applied
    assert "/documents/charter" in page


def test_the_pmo_proposes_for_a_pm_and_the_charter_waits_as_the_pms_draft(seeded, login):
    response = login("petra").post("/projects/new", _proposal(name="Warehouse scanners"), token_from="/projects/new")
    assert response.status_code == 303
    project = db.session.scalars(select(Project).where(Project.name == "Warehouse scanners")).one()
    task = next(t for t in instances.ready_tasks(project.lifecycle_instance_id) if t.element_id == "write_charter")
    draft = db.session.scalars(select(TaskDraft).where(TaskDraft.task_id == task.id)).one()
    assert draft.username == "maria" and draft.data["scope_in"].startswith("A supplier portal")


def test_people_are_checked_against_their_roles_and_nothing_starts_on_an_error(seeded, login):
    maria = login("maria")
    before = _count()
    for override, field in (({"sponsor": "petra"}, "sponsor"), ({"project_manager": "paul"}, "project_manager"),
                            ({"sponsor": "maria"}, "sponsor")):
        response = maria.post("/projects/new", _proposal(**override), token_from="/projects/new")
        assert response.status_code == 422, override
        assert f'id="f-{field}-error"' in response.get_data(as_text=True), override
    bad_charter = maria.post("/projects/new", _proposal(**{"f:scope_in": ""}), token_from="/projects/new")
    assert bad_charter.status_code == 422
    assert _count() == before


def test_find_related_lessons_and_add_row_keep_what_was_typed(seeded, login):
    maria = login("maria")
    response = maria.post("/projects/new", _proposal(action="add:objectives"), token_from="/projects/new")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'name="f:objectives/1"' in html
    assert 'value="Supplier invoice portal"' in html and "Cut supplier invoice queries" in html


def test_only_pms_the_pmo_and_admins_may_propose(seeded, login):
    assert login("sam").get("/projects/new").status_code == 403
    assert login("carla").get("/projects/new").status_code == 403
    assert 'href="/projects/new"' not in login("sam").html("/projects")


def test_lessons_are_marked_applied_and_unmarked_from_the_workspace(seeded, login):
    lesson = _portal_lesson()
    maria = login("maria")
    assert maria.post("/projects/new", _proposal(), token_from="/projects/new").status_code == 303
    project = db.session.scalars(select(Project).where(Project.name == "Supplier invoice portal")).one()
    page = maria.html(f"/projects/{project.id}")
    offered = re.search(r'data-testid="related-lessons">(.*?)</ul>', page, re.S).group(1)
    assert lesson.title in offered  # still being shaped: similar projects' lessons are offered
    path = f"/projects/{project.id}/lessons/{lesson.id}/applied"
    assert maria.post(path, {"applied": "1"}, token_from=f"/projects/{project.id}").status_code == 303
    assert maria.post(path, {"applied": "1"}, token_from=f"/projects/{project.id}").status_code == 303  # no twice
    rows = lambda: list(db.session.scalars(select(AppliedLesson).where(AppliedLesson.project_id == project.id)))  # noqa: E731
    assert [a.lesson_id for a in rows()] == [lesson.id]
    page = maria.html(f"/projects/{project.id}")
    assert lesson.title in re.search(r'data-testid="applied-lessons">(.*?)</ul>', page, re.S).group(1)
    assert login("sam").post(path, {"applied": "0"}, token_from=f"/projects/{project.id}").status_code == 403
    assert maria.post(path, {"applied": "0"}, token_from=f"/projects/{project.id}").status_code == 303
    assert rows() == []
    assert maria.post(f"/projects/{project.id}/lessons/999999/applied", {"applied": "1"},
                      token_from=f"/projects/{project.id}").status_code == 404
    actions = [e.action for e in db.session.scalars(select(AuditEntry).where(
        AuditEntry.instance_id == project.lifecycle_instance_id))]
    assert "apply_lesson" in actions and "unapply_lesson" in actions
