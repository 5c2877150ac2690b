"""Sign in and out in a real browser (Chromium through Playwright), against a live server.

The server runs in a background thread on a free port with its own SQLite database, migrated
like `pmo init` does, holding the demo users and one instance of the fixture process. Screenshots go to test-output/screenshots/.
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
from tests.browser.conftest import SCREENSHOTS, serving

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("browser") / "pmo.db"
    app = create_app({"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "browser-test-secret"})
    with app.app_context():
        upgrade()
        users.seed_demo_users()
        definitions.deploy_directory([FIXTURES], "admin")
        instances.start("simple_approval", instances.Actor.of(user_queries.get("maria")), {"title": "New laptops"})
        db.session.remove()
    with serving(app, "pmo-browser-test-server") as url:
        yield url


@pytest.fixture
def page(new_page):
    return new_page()


def test_sign_in_see_home_and_sign_out(live_server: str, page) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server}/")
    expect(page).to_have_url(f"{live_server}/login?next=%2F")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    page.get_by_label("Username").fill("maria")
    page.get_by_label("Password").fill("maria")
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{live_server}/")
    expect(page.get_by_test_id("user-name")).to_have_text("Maria Garcia")  # the demo users have names, as people write them
    expect(page.get_by_role("banner")).to_contain_text("Project manager")
    expect(page.get_by_role("heading", name="My open tasks")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Submit request New laptops"))).to_contain_text("Simple approval")
    page.screenshot(path=str(SCREENSHOTS / "home-maria.png"), full_page=True)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server}/login")
    expect(page.get_by_role("status")).to_contain_text("You have signed out.")
    page.goto(f"{live_server}/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_wrong_password_is_reported(live_server: str, page) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill("maria")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password.")
    page.screenshot(path=str(SCREENSHOTS / "login-error.png"))
