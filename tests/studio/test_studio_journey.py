"""The process owner's whole change in Chromium, as issue 11 tells it: open the change-request
process, raise the DMN threshold for CCB routing, add a field to a form and see it in the preview,
break a gateway condition and see the error on that flow, fix it, update and run the scenarios,
publish with a note after the diff, run the migration dry run and migrate the running change
requests. Afterwards a new change request uses the new threshold, and a migrated one continues on
the new version."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app.core.extensions import db
from app.instances import commands as instances
from app.people import queries as user_queries
from app.people.actor import Actor
from tests.browser.conftest import SCREENSHOTS, serving, shipped_app, sign_in
from tests.instances.test_migration import raise_cr
from tests.projects.conftest import Driver, initiated_project
from tests.projects.data import assessment
from tests.studio.bundle_page import require_bundle

pytestmark = pytest.mark.browser

CONDITION_FLOW = "Flow_route_gw_pm_decision"


def _select(page, element_id: str) -> None:  # noqa: ANN001
    page.evaluate("(id) => document.getElementById('studio-editor').pmoStudio.files"
                  ".get('change_request.bpmn').editor.select(id)", element_id)


def _pmo_flow_group(page):  # noqa: ANN001, ANN202
    group = page.locator("[data-testid='studio-panel'] .bio-properties-panel-group", has_text="PMO Flow")
    header = group.locator(".bio-properties-panel-group-header").first
    if "open" not in (header.get_attribute("class") or ""):
        header.click()
    return group


def _tab(page, name: str) -> None:  # noqa: ANN001
    page.locator("[role='tab']", has_text=name).click()


def _save(page) -> None:  # noqa: ANN001
    page.get_by_test_id("studio-save").click()
    expect(page.get_by_test_id("studio-status")).to_have_text("All changes saved", timeout=15_000)


def _driver() -> Driver:
    return Driver({u.username: Actor.of(u) for u in user_queries.list_users()})


def _route_after_assessment(driver: Driver, instance_id: int, cost: int) -> list[str]:
    driver.do("maria", instance_id, "assess", assessment(cost, 1, "low"))
    return driver.ready(instance_id)


def test_owner_changes_tests_publishes_and_migrates_the_change_process(tmp_path_factory, new_page) -> None:  # noqa: ANN001
    require_bundle()
    app = shipped_app(tmp_path_factory, "studio-journey")
    with app.app_context():
        driver = _driver()
        project_id, _ = initiated_project(driver)
        running = [raise_cr(driver, project_id), raise_cr(driver, project_id)]  # waiting for the assessment
        db.session.remove()

    with serving(app, "studio-journey") as url:
        page = new_page()
        sign_in(page, url, "owen")
        page.goto(f"{url}/studio")
        page.get_by_role("link", name="Change request").click()
        page.get_by_test_id("open-draft").click()
        page.wait_for_selector("[data-testid='studio-canvas'] .djs-container")
        page.wait_for_function("() => document.getElementById('studio-editor').pmoStudio")
        page.evaluate("() => document.getElementById('studio-editor').pmoStudio.ready")
        draft_url = page.url

        # 1. The decision table: change control board from 75,000 instead of 50,000.
        _tab(page, "change_approval_route.dmn")
        cell = page.locator(".tjs-table td", has_text=re.compile(r"^>= 50000$")).first
        cell.click()
        page.keyboard.press("End")
        for _ in range(5):
            page.keyboard.press("Backspace")
        page.keyboard.type("75000")
        page.get_by_test_id("studio-hit-policies").click()  # leave the cell
        _save(page)

        # 2. A field added to the assessment form, seen in the task page's own rendering.
        _tab(page, "change-assessment-schema.json")
        preview = page.get_by_test_id("studio-preview")
        page.locator("[data-snippet='money']").click()
        expect(preview.get_by_label(re.compile("^Amount"))).to_be_visible(timeout=15_000)
        _save(page)

        # 3. A broken gateway condition is shown on its flow; fixed, the problem goes.
        _tab(page, "change_request.bpmn")
        page.wait_for_selector("[data-testid='studio-canvas'] .djs-container")
        _select(page, CONDITION_FLOW)
        condition = _pmo_flow_group(page).get_by_label("Condition (Python expression)")
        original = condition.input_value()
        condition.fill('approval_route == = "pm"')
        page.get_by_test_id("studio-validate").click()
        badge = page.locator(f".djs-overlays[data-container-id='{CONDITION_FLOW}'] .pmo-badge--error")
        expect(badge).to_have_count(1, timeout=20_000)
        page.screenshot(path=SCREENSHOTS / "studio-journey-broken-condition.png")
        _select(page, CONDITION_FLOW)
        _pmo_flow_group(page).get_by_label("Condition (Python expression)").fill(original)
        page.get_by_test_id("studio-validate").click()
        expect(badge).to_have_count(0, timeout=20_000)

        # 4. The scenarios pinned the old threshold: the owner moves them with it, and runs them.
        _tab(page, "test_change_request.json")
        area = page.locator("#studio-text")
        text = area.input_value()
        assert ": 50000," in text
        area.fill(text.replace(": 50000,", ": 80000,").replace("-60000", "-80000"))
        _save(page)
        page.get_by_test_id("studio-run-scenarios").click()
        expect(page.get_by_test_id("studio-message")).to_contain_text(re.compile(r"All \d+ scenarios passed"),
                                                                      timeout=60_000)

        # 5. Review: checks, scenarios and what changed; then publish with a note.
        page.get_by_test_id("review-publish").click()
        expect(page.get_by_test_id("checks-passed")).to_be_visible(timeout=60_000)
        expect(page.get_by_test_id("scenario-results")).not_to_contain_text("failed")
        expect(page.get_by_test_id("form-changes")).to_contain_text("amount")
        expect(page.get_by_test_id("decision-changes")).to_contain_text(">= 75000")
        expect(page.locator("[data-testid='publish-diff-viewer'][data-drawn='true']")).to_have_count(1,
                                                                                                   timeout=20_000)
        page.screenshot(path=SCREENSHOTS / "studio-journey-review.png", full_page=True)
        page.get_by_label(re.compile("^Publish note")).fill("CCB only from 75,000; the assessment records an amount")
        page.get_by_test_id("publish").click()
        expect(page.locator(".flash")).to_contain_text("version 2")
        expect(page.get_by_test_id("versions-table")).to_contain_text("CCB only from 75,000")
        assert page.url != draft_url

        # 6. The running change requests: a dry run, then all movable migrated in one action.
        page.get_by_test_id("migrate-hint").get_by_role("link").click()
        expect(page.get_by_test_id("movable-count")).to_have_text("2")
        page.screenshot(path=SCREENSHOTS / "studio-journey-dry-run.png", full_page=True)
        page.get_by_test_id("migrate-all").click()
        expect(page.get_by_test_id("batch-progress")).to_have_attribute("data-batch-status", "finished")
        expect(page.get_by_test_id("moved-count")).to_have_text("2")

    with app.app_context():
        driver = _driver()
        # A change request started now runs on version 2: 60,000 goes to the sponsor, not the CCB.
        fresh = raise_cr(driver, project_id)
        assert instances.get(fresh).process_version.version == 2
        assert _route_after_assessment(driver, fresh, 60000) == ["sponsor_decision"]
        # A migrated one continues on version 2 with the new threshold too.
        moved = running[0]
        assert instances.get(moved).process_version.version == 2
        assert _route_after_assessment(driver, moved, 60000) == ["sponsor_decision"]
        db.session.remove()
