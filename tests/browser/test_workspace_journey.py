"""A project manager in Chromium: My projects, the project's workspace, raising a change request
from it, and the change then waiting for its assessment."""

from __future__ import annotations

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
    from tests.browser.conftest import serving

    app = shipped_app(tmp_path_factory, "workspace", demo=True)
    with app.app_context():
        project = db.session.scalars(select(Project).where(Project.phase == "execution")).first()
        facts = {"id": project.id, "name": project.name, "pm": project.project_manager}
        db.session.remove()
    with serving(app, "pmo-workspace") as url:
        yield {"url": url, "app": app, **facts}


def test_a_pm_opens_the_workspace_and_raises_a_change_request(live, new_page):
    from playwright.sync_api import expect

    page = new_page()
    sign_in(page, live["url"], live["pm"])
    page.get_by_role("link", name="Projects", exact=True).click()
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
