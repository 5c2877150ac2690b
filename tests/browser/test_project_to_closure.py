"""Issue 12's "done when", in Chromium: a project runs from proposal to closure in the browser alone,
guided by its workspace. The project manager proposes it on the New project page; after every step
the workspace says who holds the next one; that person signs in, opens the project, takes the step
from "Next for me" and fills its form as people do (rows added with the form's own buttons). The
test reads the database only to pick the right answers for the step it was led to."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.core.extensions import db
from app.instances.models import HumanTask
from app.people.models import User
from app.projects.models import LessonLearned, Project
from tests.browser.conftest import SCREENSHOTS, serving, shipped_app, sign_in

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
NAME = "Supplier invoice portal"
# The answers of the shipped lifecycle's own proposal-to-closure scenario (workflows/), by step.
SCENARIO = json.loads((ROOT / "workflows" / "test_project_lifecycle.json").read_text())["proposal_to_closure"]
ANSWERS: dict[str, list[Any]] = {key.split("/")[-1]: list(v["data"]) for key, v in SCENARIO["tasks"].items()}
STEPS_IN_ORDER = ["sponsor_review", "register", "prepare_plan", "review_resources", "review_resources",
                  "pmo_review", "sponsor_signoff", "deliver_milestone", "submit_evidence", "quality_review",
                  "gate_decision_task", "acceptance", "write_lessons", "curate", "admin_close"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    app = shipped_app(tmp_path_factory, "to-closure")
    with app.app_context():
        people = {u.display_name: u.username for u in db.session.scalars(select(User)) if u.display_name}
        db.session.remove()
    with serving(app, "pmo-to-closure") as url:
        yield {"url": url, "app": app, "people": people}


def _answer(step: str) -> dict[str, Any]:
    """The next answer for a step; a multi-instance step's answers come one ballot at a time."""
    queue = ANSWERS[step]
    first = queue[0]
    if isinstance(first, list):
        answer = first.pop(0)
        if not first:
            queue.pop(0)
        return answer
    return queue.pop(0)


def fill(page, data: dict[str, Any], path: str = "") -> None:  # noqa: ANN001
    """Fill a rendered task form from a submission, field by field, as a person would."""
    for key, value in data.items():
        where = f"{path}/{key}" if path else key
        if isinstance(value, dict):
            fill(page, value, where)
        elif isinstance(value, list):
            _fill_list(page, where, value)
        else:
            _fill_value(page, f"f:{where}", value)


def _fill_list(page, where: str, values: list[Any]) -> None:  # noqa: ANN001
    boxes = page.locator(f'input[type="checkbox"][name="f:{where}"]')
    if boxes.count():  # a set of options
        for box in boxes.all():
            box.set_checked(box.get_attribute("value") in {str(v) for v in values})
        return
    single = page.locator(f'[name="f:{where}"]')
    if single.count():  # a list typed as text ("sso, identity")
        single.fill(", ".join(str(v) for v in values))
        return
    count = page.locator(f'input[type="hidden"][name="n:{where}"]')
    rows = int(count.get_attribute("value") or 0) if count.count() else 0
    while rows < len(values):
        page.locator(f'button[name="action"][value="add:{where}"]').click()
        page.wait_for_load_state()
        rows += 1
        page.locator(f'input[type="hidden"][name="n:{where}"][value="{rows}"]').wait_for(state="attached")
    while rows > len(values):  # rows the form starts with that this submission leaves out
        page.locator(f'button[name="action"][value="remove:{where}/{rows - 1}"]').click()
        page.wait_for_load_state()
        rows -= 1
        page.locator(f'input[type="hidden"][name="n:{where}"][value="{rows}"]').wait_for(state="attached")
    for index, item in enumerate(values):
        if isinstance(item, dict):
            fill(page, item, f"{where}/{index}")
        else:
            _fill_value(page, f"f:{where}/{index}", item)


def _fill_value(page, name: str, value: Any) -> None:  # noqa: ANN001, ANN401
    field = page.locator(f'[name="{name}"]')
    assert field.count(), f"the form has no field {name}"
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    kind = field.first.evaluate("e => e.tagName === 'INPUT' ? e.type : e.tagName.toLowerCase()")
    if kind == "radio":
        page.locator(f'[name="{name}"][value="{text}"]').check()
    elif kind == "checkbox":
        field.set_checked(bool(value))
    elif kind == "select":
        field.select_option(text)
    else:
        field.fill(text)


def _holder_of_next_step(page, url: str, project_id: int, people: dict[str, str]) -> str:  # noqa: ANN001
    """The workspace, read by the project manager: who holds what is open now."""
    from playwright.sync_api import expect

    page.goto(f"{url}/projects/{project_id}")
    mine = page.get_by_test_id("my-steps")
    if mine.count():
        return "maria"
    waiting = page.get_by_test_id("waiting-steps").locator("li").first
    expect(waiting).to_contain_text("held by")
    text = waiting.inner_text()
    named = [(text.find(name), user) for name, user in people.items() if name in text]
    assert named, f"the workspace names nobody who holds: {text}"
    return min(named)[1]


def test_a_project_runs_from_proposal_to_closure_guided_by_its_workspace(live, new_page, browser) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    url, people = live["url"], live["people"]
    pm = new_page()
    sign_in(pm, url, "maria")
    pm.goto(f"{url}/projects/new")
    pm.get_by_label("Project name").fill(NAME)
    pm.get_by_label("Sponsor").select_option(label=next(n for n, u in people.items() if u == "sam"))
    charter = {k: v for k, v in ANSWERS["write_charter"][0].items() if k != "project_name"}
    fill(pm, charter)
    pm.get_by_role("button", name="Propose the project").click()
    expect(pm.locator(".flash-success")).to_contain_text("the charter is with the sponsor")
    with live["app"].app_context():
        project_id = db.session.scalars(select(Project.id).where(Project.name == NAME)).one()
        db.session.remove()

    pages = {"maria": pm}
    taken: list[str] = []
    for expected in STEPS_IN_ORDER:
        holder = _holder_of_next_step(pm, url, project_id, people)
        if holder not in pages:
            pages[holder] = new_page()
            sign_in(pages[holder], url, holder)
        page = pages[holder]
        page.goto(f"{url}/projects/{project_id}")
        step = page.get_by_test_id("my-steps").get_by_role("link").first
        expect(step).to_be_visible()
        step.click()
        task_id = page.url.rstrip("/").split("/")[-1]
        with live["app"].app_context():
            element = db.session.get(HumanTask, task_id).element_id
            db.session.remove()
        assert element == expected, f"after {taken} the workspace led {holder} to {element}, not {expected}"
        claim = page.get_by_role("button", name="Claim this task")
        if claim.count():
            claim.click()
        fill(page, _answer(element))
        page.get_by_role("button", name="Submit", exact=True).click()
        expect(page.locator(".flash-success")).to_be_visible()
        taken.append(f"{element} by {holder}")

    pm.goto(f"{url}/projects/{project_id}")
    expect(pm.locator('[data-testid="lifecycle"]')).to_contain_text("Closure")
    expect(pm.locator('[data-testid="lifecycle"] [aria-current="step"]')).to_have_count(0)  # every phase done
    expect(pm.get_by_test_id("waiting-steps")).to_have_count(0)
    expect(pm.get_by_text("Nothing is waiting for you on this project.")).to_be_visible()
    expect(pm.locator("#lessons")).to_contain_text("Book the identity provider test tenant at initiation")
    expect(pm.get_by_test_id("activity")).to_contain_text("Administrative closure")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pm.screenshot(path=str(SCREENSHOTS / "project-closed.png"), full_page=True)
    with live["app"].app_context():
        project = db.session.get(Project, project_id)
        assert project.phase == "closed", project.phase
        assert project.code == "CRM-0042"
        lessons = db.session.scalars(select(LessonLearned).where(LessonLearned.project_id == project_id)).all()
        assert [lesson.title for lesson in lessons] == ["Book the identity provider test tenant at initiation"]
        db.session.remove()
    assert len(taken) == len(STEPS_IN_ORDER)
    assert re.search(r"admin_close by \w+", taken[-1])
