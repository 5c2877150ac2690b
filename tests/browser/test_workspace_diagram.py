"""The workspace's "You are here" in Chromium: after the sponsor authorises the charter, the PM sees
the lifecycle diagram with Initiation as the current step, opens the Initiation phase from its call
activity and sees the registration marked as the current step (the charter steps done, the path
taken coloured); zoom, fit and full screen work, a phone does not scroll sideways, and without
JavaScript the current steps are said in words with the BPMN file a link away."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from app.core.extensions import db
from app.projects.models import Project
from tests.browser.conftest import SCREENSHOTS, page_factory, shipped_app, sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from app.instances import commands as instances
    from app.people.actor import Actor
    from app.people.models import User
    from tests.browser.conftest import serving

    app = shipped_app(tmp_path_factory, "workspace-diagram", demo=True)
    with app.app_context():
        project = db.session.scalars(select(Project).where(Project.name == "Customer portal relaunch")).one()
        facts = {"id": project.id, "name": project.name, "pm": project.project_manager}
        # The sponsor authorises the charter (the command the task form runs): registration is next.
        review = next(t for t in instances.ready_tasks(project.lifecycle_instance_id) if t.element_id == "sponsor_review")
        sponsor = Actor.of(db.session.scalars(select(User).where(User.username == project.sponsor)).one())
        instances.complete(review.id, sponsor, {"sponsor_decision": "approve"})
        db.session.remove()
    with serving(app, "pmo-workspace-diagram") as url:
        yield {"url": url, "app": app, **facts}


@pytest.fixture
def phone(browser):
    yield from page_factory(browser, viewport=PHONE, is_mobile=True, has_touch=True)


def test_the_pm_sees_the_new_current_step_and_opens_the_called_phase(live, new_page) -> None:
    from playwright.sync_api import expect

    page = new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    sign_in(page, live["url"], live["pm"])
    page.goto(f"{live['url']}/projects/{live['id']}")

    section = page.locator("#you-are-here")
    diagram = section.locator("#lifecycle-diagram")
    expect(diagram).to_have_class(re.compile(r"\bloaded\b"), timeout=20_000)
    expect(section.get_by_role("heading", name=re.compile("You are here"))).to_contain_text("Project lifecycle")
    initiation = diagram.locator('.djs-element[data-element-id="initiation"]')
    expect(initiation).to_have_class(re.compile(r"\bpmo-mark-current\b"))
    expect(diagram.locator('.djs-element[data-element-id="start"]')).to_have_class(re.compile(r"\bpmo-mark-done\b"))
    expect(diagram.locator('.djs-element[data-element-id="Flow_start_initiation"]')).to_have_class(
        re.compile(r"\bpmo-mark-path\b"))
    expect(diagram.locator('.djs-element[data-element-id="planning"]')).not_to_have_class(re.compile(r"pmo-mark-(done|current|path)"))
    expect(diagram.locator(".mark-badge-current")).to_have_text(["Here"])  # said in words, not only in colour
    box = diagram.bounding_box()
    assert box["height"] >= 470, box  # large enough to read
    shape = initiation.bounding_box()
    assert box["x"] <= shape["x"] and shape["x"] + shape["width"] <= box["x"] + box["width"]  # in view

    section.get_by_role("button", name="Zoom in").click()
    assert initiation.bounding_box()["width"] > shape["width"] * 1.1
    section.get_by_role("button", name="Fit").click()
    section.get_by_role("button", name="Full screen").click()
    full = section.bounding_box()
    assert full["width"] >= 1270 and full["height"] >= 890, full
    page.keyboard.press("Escape")
    expect(section.get_by_role("button", name="Full screen")).to_have_attribute("aria-pressed", "false")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    section.screenshot(path=str(SCREENSHOTS / "workspace-diagram-lifecycle.png"))

    initiation.click()  # the call activity opens the phase's own diagram
    expect(section.locator("[data-diagram-name]")).to_have_text("Project initiation")
    register = diagram.locator('.djs-element[data-element-id="register"]')
    expect(register).to_have_class(re.compile(r"\bpmo-mark-current\b"))
    for done in ("write_charter", "sponsor_review", "sponsor_decides"):
        expect(diagram.locator(f'.djs-element[data-element-id="{done}"]')).to_have_class(re.compile(r"\bpmo-mark-done\b"))
    expect(diagram.locator('.djs-element[data-element-id="Flow_sponsor_decides_register"]')).to_have_class(
        re.compile(r"\bpmo-mark-path\b"))
    expect(diagram.locator('.djs-element[data-element-id="Flow_send_back"]')).not_to_have_class(re.compile(r"pmo-mark-(done|current|path)"))
    expect(section.locator('.diagram-level[aria-current="true"]')).to_contain_text("Project initiation")
    expect(section.get_by_test_id("current-steps")).to_contain_text("Register project — with PMO analyst (")  # its holder
    assert page.url.endswith("?level=project_initiation#you-are-here")  # a reload keeps the phase
    section.screenshot(path=str(SCREENSHOTS / "workspace-diagram-initiation.png"))

    section.get_by_test_id("diagram-levels").get_by_role("link", name=re.compile("^Project lifecycle")).click()
    expect(diagram.locator('.djs-element[data-element-id="initiation"]')).to_have_class(
        re.compile(r"\bpmo-mark-current\b"))
    assert not problems, problems


def test_a_phone_shows_the_diagram_without_sideways_scrolling(live, phone) -> None:
    from playwright.sync_api import expect

    page = phone()
    sign_in(page, live["url"], live["pm"])
    page.goto(f"{live['url']}/projects/{live['id']}?level=project_initiation")
    diagram = page.locator("#lifecycle-diagram")
    expect(diagram).to_have_class(re.compile(r"\bloaded\b"), timeout=20_000)
    expect(page.locator("[data-diagram-name]")).to_have_text("Project initiation")
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    assert diagram.bounding_box()["width"] <= PHONE["width"]
    page.locator("#you-are-here").screenshot(path=str(SCREENSHOTS / "workspace-diagram-phone.png"))


def test_without_javascript_the_current_steps_are_in_words(live, browser) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, live["url"], live["pm"])
        page.goto(f"{live['url']}/projects/{live['id']}")
        words = page.get_by_test_id("current-steps")
        expect(words).to_contain_text("Project lifecycle is at:")
        words.get_by_role("link", name="open Project initiation").click()  # a plain link: the page again
        expect(page.get_by_test_id("current-steps")).to_contain_text("Project initiation is at:")
        expect(page.get_by_test_id("current-steps").locator("li")).to_contain_text(["Register project"])
        download = page.get_by_role("link", name="Download the BPMN file of Project initiation")
        href = download.get_attribute("href")
        response = page.request.get(f"{live['url']}{href}")
        assert response.ok and 'id="project_initiation"' in response.text()
    finally:
        context.close()


def test_a_diagram_that_cannot_load_says_so_and_the_next_level_still_draws(live, new_page) -> None:
    from playwright.sync_api import expect

    page = new_page()
    sign_in(page, live["url"], live["pm"])
    page.route(re.compile(r".*/diagram\.bpmn\?process=project_lifecycle$"), lambda route: route.fulfill(status=500))
    page.goto(f"{live['url']}/projects/{live['id']}")
    section = page.locator("#you-are-here")
    expect(section.locator(".diagram-error")).to_have_text("The diagram could not be shown.")
    section.get_by_test_id("diagram-levels").get_by_role("link", name=re.compile("^Project initiation")).click()
    expect(section.locator('.djs-element[data-element-id="register"]')).to_have_class(re.compile(r"\bpmo-mark-current\b"))
    expect(section.locator(".diagram-error")).to_have_count(0)
