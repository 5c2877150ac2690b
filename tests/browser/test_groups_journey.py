"""A lane that is not a role, in Chromium: its task waits on the operations page, the admin follows
the link and puts a user in the group, and that user finds the task in their inbox and completes it.
The groups page fits a 390 px phone."""

from __future__ import annotations

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
from tests.browser.conftest import SCREENSHOTS, page_factory, serving, sign_in

pytestmark = pytest.mark.browser

FINANCE = Path(__file__).resolve().parents[1] / "engine" / "fixtures" / "interop" / "library" / "operations" / "finance-review"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("groups") / "pmo.db"
    app = create_app({"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "browser-test-secret"})
    with app.app_context():
        upgrade()  # migration 0006 makes the group tables
        users.seed_demo_users()
        definitions.deploy_directory([FINANCE], "admin")
        instances.start("finance_review", instances.Actor.of(user_queries.get("maria")), {})
        db.session.remove()
    with serving(app, "pmo-groups-test-server") as url:
        yield url


def test_admin_fills_the_group_and_the_member_completes_the_waiting_task(live_server: str, new_page) -> None:
    from playwright.sync_api import expect

    quinn = new_page()
    sign_in(quinn, live_server, "quinn")
    quinn.goto(f"{live_server}/inbox?view=available")
    expect(quinn.get_by_text("Check the budget")).to_have_count(0)

    admin = new_page()
    sign_in(admin, live_server, "admin")
    admin.goto(f"{live_server}/admin/operations")
    waiting = admin.get_by_test_id("group-wait-finance_team")
    expect(waiting).to_contain_text("Check the budget")
    waiting.get_by_role("link", name="Fill the group Finance Team").click()
    card = admin.get_by_test_id("group-finance_team")
    expect(card).to_contain_text("Nobody is in this group")
    card.get_by_label("Add a user").select_option("quinn")
    card.get_by_role("button", name="Add user").click()
    expect(admin.get_by_text("Quinn Harper added to Finance Team.")).to_be_visible()
    expect(admin.get_by_test_id("group-finance_team")).to_contain_text("Reaches 1 person")
    admin.screenshot(path=str(SCREENSHOTS / "groups-admin.png"), full_page=True)
    admin.goto(f"{live_server}/admin/operations")
    expect(admin.get_by_test_id("group-wait-finance_team")).to_have_count(0)

    quinn.goto(f"{live_server}/inbox?view=available")
    quinn.get_by_role("link", name="Check the budget").first.click()
    quinn.get_by_role("button", name="Submit").click()
    quinn.goto(f"{live_server}/inbox?view=available")
    expect(quinn.get_by_role("link", name="Check the budget")).to_have_count(0)
    quinn.goto(f"{live_server}/inbox?view=completed")
    expect(quinn.get_by_role("link", name="Check the budget")).to_have_count(1)


@pytest.fixture
def phone(browser):
    yield from page_factory(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)


def test_the_groups_page_fits_a_phone(live_server: str, phone) -> None:
    page = phone()
    sign_in(page, live_server, "admin")
    page.goto(f"{live_server}/admin/groups")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, overflow
    page.screenshot(path=str(SCREENSHOTS / "groups-phone.png"), full_page=True)
