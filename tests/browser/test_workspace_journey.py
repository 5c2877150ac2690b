"""A project manager in Chromium: My projects, the project's workspace, raising a change request
from it, and the change then waiting for its assessment; proposing a project with a related lesson
applied; a risk added from the page landing in its heat-map cell; and a sponsor kept out of a
project that is not theirs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.core.extensions import db
from app.projects.models import ChangeRequest, Project
from tests.browser.conftest import SCREENSHOTS, shipped_app, sign_in

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from app.people import operations as users
    from app.people.models import User
    from tests.browser.conftest import serving

    app = shipped_app(tmp_path_factory, "workspace", demo=True)
    with app.app_context():
        project = db.session.scalars(select(Project).where(Project.phase == "execution")).first()
        sponsor = db.session.scalars(select(User).where(User.username == "sam")).one()
        facts = {"id": project.id, "name": project.name, "pm": project.project_manager,
                 "sponsor_name": sponsor.display_name or "sam"}
        users.create("sofia", "sofia-secret-1", ["sponsor"], display_name="Sofia Sponsor")  # sponsors nothing here
        db.session.remove()
    with serving(app, "pmo-workspace") as url:
        yield {"url": url, "app": app, **facts}


def test_a_pm_opens_the_workspace_and_raises_a_change_request(live, new_page):
    from playwright.sync_api import expect

    page = new_page()
    sign_in(page, live["url"], live["pm"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile(r"^Projects")).click()
    expect(page.get_by_role("heading", name="My projects")).to_be_visible()
    page.get_by_role("link", name=live["name"]).click()

    expect(page.get_by_role("heading", name=live["name"])).to_be_visible()
    expect(page.locator('[data-testid="lifecycle"] [aria-current="step"]')).to_contain_text("Execution")
    expect(page.get_by_test_id("heat-map")).to_be_visible()
    expect(page.get_by_test_id("milestones")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "workspace.png"), full_page=True)

    page.get_by_role("link", name="Raise a change request").click()
    page.get_by_role("button", name="Raise the change request").click()
    expect(page.locator(".error-summary")).to_be_visible()  # nothing filled in: refused, nothing started

    page.get_by_label("Title").fill("Add a second reporting database")
    page.get_by_label("What should change").fill("Finance needs month-end reports without load on production.")
    page.get_by_label("Why (business reason)").fill("Month-end close is slowed by reporting queries")
    page.get_by_label("Cost impact").fill("42000")
    page.get_by_label("Schedule impact (days)").fill("12")
    page.get_by_label("Scope impact").fill("One more database and its replication")
    page.locator("fieldset", has_text="Risk impact").get_by_label("Low").check()
    page.get_by_role("button", name="Raise the change request").click()

    expect(page.locator(".flash-success")).to_contain_text("Add a second reporting database")
    changes = page.get_by_test_id("changes")
    expect(changes).to_contain_text("Add a second reporting database")
    expect(changes).to_contain_text("€42,000")
    with live["app"].app_context():
        cr = db.session.scalars(select(ChangeRequest).where(ChangeRequest.title == "Add a second reporting database")).one()
        assert cr.requested_by == live["pm"] and cr.status == "submitted"
        db.session.remove()


def test_a_pm_proposes_a_project_with_a_related_lesson_applied(live, new_page):
    from playwright.sync_api import expect

    page = new_page()
    sign_in(page, live["url"], "maria")
    page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile(r"^Projects")).click()
    page.get_by_role("link", name="New project").click()
    expect(page.get_by_role("heading", name="Propose a new project")).to_be_visible()

    page.get_by_label("Project name").fill("Supplier invoice portal")
    page.get_by_label("Sponsor").select_option(label=live["sponsor_name"])
    page.get_by_label("Category").select_option("operational_improvement")
    page.get_by_label("Tags").fill("portal, sso")
    page.get_by_role("button", name="Find related lessons").click()
    lessons = page.get_by_test_id("related-lessons")
    lesson = lessons.locator("li.lesson", has_text="identity provider test tenant")
    expect(lesson).to_be_visible()  # the closed supplier portal's lesson, matched on its tags
    expect(page.get_by_label("Project name")).to_have_value("Supplier invoice portal")  # kept
    lesson.get_by_label("Mark as applied").check()

    for name, value in (("f:objectives/0", "Cut supplier invoice queries by a third"),
                        ("f:scope_in", "A supplier portal with single sign-on and invoice status."),
                        ("f:scope_out", "Payments engine changes."),
                        ("f:business_case/benefits", "Fewer calls to accounts payable."),
                        ("f:business_case/estimated_costs", "Build 300k, run 40k a year."),
                        ("f:budget_estimate", "320000"), ("f:start_date", "2027-02-01"),
                        ("f:target_end_date", "2027-09-30"),
                        ("f:stakeholders/0/name", "Head of procurement"), ("f:stakeholders/0/role", "Business owner"),
                        ("f:success_criteria/0", "Half of supplier queries answered in the portal")):
        page.locator(f'[name="{name}"]').fill(value)
    page.get_by_role("button", name=re.compile("to Key risks")).click()  # a row more; what was typed stays
    expect(page.locator('[name="f:scope_in"]')).to_have_value("A supplier portal with single sign-on and invoice status.")
    expect(lesson.get_by_label("Mark as applied")).to_be_checked()
    page.locator('[name="f:key_risks/0/description"]').fill("Identity provider tenant arrives late")
    for name, value in (("f:key_risks/0/probability", "3"), ("f:key_risks/0/impact", "4")):
        field = page.locator(f'[name="{name}"]')
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "new-project.png"), full_page=True)
    page.get_by_role("button", name="Propose the project").click()

    expect(page.locator(".flash-success")).to_contain_text("the charter is with the sponsor")
    expect(page.get_by_role("heading", name="Supplier invoice portal")).to_be_visible()
    expect(page.get_by_test_id("applied-lessons")).to_contain_text("identity provider test tenant")
    expect(page.get_by_test_id("waiting-steps")).to_contain_text("Authorise charter")


def test_a_pm_adds_a_risk_that_lands_in_its_heat_map_cell(live, new_page):
    from playwright.sync_api import expect

    page = new_page()
    sign_in(page, live["url"], live["pm"])
    page.goto(f"{live['url']}/projects/{live['id']}")
    page.get_by_role("link", name="Add a risk").click()
    page.get_by_label(re.compile(r"^Risk")).fill("Vendor API is retired early")
    page.get_by_label("Probability").select_option("4")
    page.get_by_label("Impact").select_option("2")
    page.get_by_label("Response", exact=True).select_option("transfer")
    page.get_by_role("button", name="Add the risk").click()

    expect(page.locator(".flash-success")).to_contain_text("Vendor API is retired early (score 8)")
    cell = page.locator('[data-testid="heat-map"] td[data-probability="4"][data-impact="2"] a')
    expect(cell).to_have_attribute("aria-label", re.compile("Vendor API is retired early"))
    cell.click()
    row = page.locator("tr", has_text="Vendor API is retired early")
    expect(row).to_contain_text("8")
    page.screenshot(path=str(SCREENSHOTS / "workspace-risk.png"), full_page=True)


def test_a_sponsor_cannot_open_a_project_they_have_nothing_to_do_with(live, new_page):
    page = new_page()
    sign_in(page, live["url"], "sofia", "sofia-secret-1")
    response = page.goto(f"{live['url']}/projects/{live['id']}")
    assert response is not None and response.status == 404


def test_the_charter_prints_without_the_site_navigation(live, new_page):
    from playwright.sync_api import expect

    page = new_page()
    sign_in(page, live["url"], live["pm"])
    page.goto(f"{live['url']}/projects/{live['id']}")
    page.get_by_test_id("documents").get_by_role("link", name="Project charter").click()
    expect(page.get_by_test_id("document")).to_contain_text("Objectives")
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.get_by_role("heading", name=re.compile("Project charter"))).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "charter-print.png"), full_page=True)
