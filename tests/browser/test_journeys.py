"""Approver journeys in a real browser (Chromium through Playwright) against a live server:
reject with a reason and approve the resubmission; a CCB member claims and votes; a validation
error shown at its field with the data kept; one user cannot see another's task.

Uses the fixture processes of tests/web/fixtures (purchase request, CCB vote), with the
notification / out-of-office hooks wired as in tests/web. Screenshots: test-output/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import create_app
from app.core.extensions import db
from app.definitions import operations as definitions
from app.instances import commands as instances
from app.migrations import upgrade
from app.people import operations as users
from app.people import queries as user_queries
from tests.browser.conftest import SCREENSHOTS, serving, sign_in

pytestmark = pytest.mark.browser

WEB_FIXTURES = Path(__file__).resolve().parents[1] / "inbox" / "fixtures"
REQUEST = {"title": "Laptops for the data team", "justification": "Old ones are five years old.", "amount": 12500,
           "quantity": 5, "needed_by": "2027-03-01", "category": "hardware", "urgency": "high", "budgeted": True,
           "items": [{"name": "Laptop", "cost": 2500}]}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    database = tmp_path_factory.mktemp("journeys") / "pmo.db"
    app = create_app({"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "browser-test-secret"})
    with app.app_context():
        upgrade()
        users.seed_demo_users()
        definitions.deploy_directory([WEB_FIXTURES], "admin")
        actor = {u: instances.Actor.of(user_queries.get(u)) for u in ("maria", "paul")}
        data = {"requested_by": "maria", "project_name": "Customer portal", "project_code": "CRM-0042"}
        approval = instances.start("purchase_request", actor["maria"], data)
        instances.complete(instances.ready_tasks(approval.id)[0].id, actor["maria"], REQUEST)
        draft = instances.start("purchase_request", actor["maria"], {**data, "requested_by": "maria"})
        others = instances.start("purchase_request", actor["paul"], {**data, "requested_by": "paul"})
        vote = instances.start("ccb_vote", actor["maria"], {"title": "Extend scope to mobile", "requested_by": "maria",
                                                            "cost_impact": 40000, "schedule_impact_days": 15})
        ids = {"approval": approval.id, "draft_task": instances.ready_tasks(draft.id)[0].id,
               "paul_task": instances.ready_tasks(others.id)[0].id, "vote": vote.id}
        db.session.remove()
    with serving(app, "pmo-journeys") as url:
        yield {"url": url, **ids}


def shot(page, name: str) -> None:  # noqa: ANN001
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_sponsor_rejects_pm_resubmits_sponsor_approves(live, new_page) -> None:
    from playwright.sync_api import expect

    url = live["url"]
    sam = new_page()
    sign_in(sam, url, "sam")
    sam.goto(f"{url}/inbox?view=available")
    row = sam.get_by_role("row", name=re.compile("Approve purchase Laptops for the data team"))
    expect(row).to_contain_text("CRM-0042")
    expect(row).to_contain_text("12,500")
    shot(sam, "inbox-sponsor-available")
    row.get_by_role("link", name=re.compile("Approve purchase")).click()
    expect(sam.get_by_role("heading", name="Approve purchase Laptops for the data team")).to_be_visible()
    expect(sam.get_by_role("heading", name="Earlier steps in this process")).to_be_visible()
    sam.wait_for_timeout(500)  # let the diagram draw for the screenshot
    shot(sam, "task-sponsor-review")
    sam.get_by_label("Reject").check()
    sam.get_by_role("button", name="Submit").click()
    expect(sam.get_by_role("alert")).to_contain_text("The form has errors")
    expect(sam.locator("#field-reviewer_note-error")).to_contain_text("This field is required")
    sam.get_by_role("textbox", name=re.compile("^Comment")).fill("Please get three quotes first.")
    sam.get_by_role("button", name="Submit").click()
    expect(sam.get_by_test_id("completed-banner")).to_contain_text("Approve purchase")

    maria = new_page()
    sign_in(maria, url, "maria")
    maria.goto(f"{url}/inbox?view=mine")
    maria.get_by_role("link", name=re.compile("Submit purchase request Laptops")).first.click()
    expect(maria.locator(".readonly-value").first).to_contain_text("Please get three quotes first.")
    expect(maria.get_by_label(re.compile("^Title"))).to_have_value("Laptops for the data team")
    shot(maria, "task-pm-resubmit")
    maria.get_by_label(re.compile("^Justification")).fill("Three quotes attached; cheapest chosen.")
    maria.get_by_role("button", name="Submit").click()
    expect(maria.get_by_test_id("completed-banner")).to_be_visible()

    sam.goto(f"{url}/inbox?view=available")
    sam.get_by_role("link", name=re.compile("Approve purchase Laptops")).click()
    expect(sam.get_by_text("Three quotes attached; cheapest chosen.").first).to_be_visible()
    sam.get_by_label("Approve", exact=True).check()
    sam.get_by_role("button", name="Submit").click()
    expect(sam.get_by_test_id("completed-banner")).to_be_visible()
    shot(sam, "inbox-after-approve")
    sam.goto(f"{url}/inbox?view=completed")
    expect(sam.get_by_role("row", name=re.compile("Approve purchase Laptops"))).to_have_count(2)


def test_ccb_member_claims_and_votes(live, new_page) -> None:
    from playwright.sync_api import expect

    url = live["url"]
    carla = new_page()
    sign_in(carla, url, "carla")
    carla.goto(f"{url}/inbox?view=available")
    row = carla.get_by_role("row", name=re.compile("CCB vote: Extend scope to mobile"))
    expect(row).to_contain_text("40,000")
    row.get_by_role("button", name=re.compile("Claim")).click()
    expect(carla.get_by_role("status").first).to_contain_text("You claimed")
    expect(carla.get_by_test_id("assignee")).to_have_text("carla")
    carla.get_by_label("Approve").check()
    shot(carla, "task-ccb-vote")
    carla.get_by_role("button", name="Submit").click()
    expect(carla.get_by_test_id("completed-banner")).to_contain_text("CCB vote")
    carla.goto(f"{url}/inbox?view=completed")
    expect(carla.get_by_role("row", name=re.compile("CCB vote: Extend scope"))).to_be_visible()


def test_validation_error_at_its_field_with_data_kept(live, new_page) -> None:
    from playwright.sync_api import expect

    url = live["url"]
    maria = new_page()
    sign_in(maria, url, "maria")
    maria.goto(f"{url}/tasks/{live['draft_task']}")
    maria.get_by_label(re.compile("^Title")).fill("ab")
    maria.get_by_label(re.compile("^Justification")).fill("Needed for the pilot.")
    maria.get_by_label(re.compile("^Amount")).fill("a lot")
    maria.get_by_label("Category").select_option("software")
    maria.get_by_role("button", name=re.compile("Add item")).click()
    maria.get_by_label("Item name").fill("Licence")
    maria.get_by_role("button", name="Submit").click()
    expect(maria.get_by_role("alert")).to_contain_text("The form has errors")
    expect(maria.locator("#field-title-error")).to_contain_text("Enter at least 3 characters")
    expect(maria.locator("#field-amount-error")).to_contain_text("Enter a number")
    expect(maria.get_by_label(re.compile("^Title"))).to_have_value("ab")
    expect(maria.get_by_label(re.compile("^Justification"))).to_have_value("Needed for the pilot.")
    expect(maria.get_by_label("Category")).to_have_value("software")
    expect(maria.get_by_label("Item name")).to_have_value("Licence")
    shot(maria, "task-validation-errors")


def test_one_user_cannot_see_anothers_task(live, new_page) -> None:
    from playwright.sync_api import expect

    url = live["url"]
    maria = new_page()
    sign_in(maria, url, "maria")
    response = maria.goto(f"{url}/tasks/{live['paul_task']}")
    assert response.status == 404
    maria.goto(f"{url}/inbox?view=available")
    expect(maria.locator("main")).not_to_contain_text(live["paul_task"])
