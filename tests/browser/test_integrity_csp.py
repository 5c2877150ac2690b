"""Issue 9 item 19 in a real browser: with the Content-Security-Policy on, every page works and
Chromium reports no violation (sign-in, inbox with live updates, a task page with its bpmn-js
diagram, out of office, notifications, operations)."""

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
from tests.browser.conftest import serving, sign_in

pytestmark = pytest.mark.browser

WEB_FIXTURES = Path(__file__).resolve().parents[1] / "inbox" / "fixtures"
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || ""));
});
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    database = tmp_path_factory.mktemp("csp") / "pmo.db"
    app = create_app({"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "browser-test-secret"})
    with app.app_context():
        upgrade()
        users.seed_demo_users()
        definitions.deploy_directory([WEB_FIXTURES], "admin")
        maria = instances.Actor.of(user_queries.get("maria"))
        started = instances.start("purchase_request", maria, {
            "requested_by": "maria", "project_name": "Customer portal", "project_code": "CRM-0042"})
        task_id = instances.ready_tasks(started.id)[0].id
        db.session.remove()
    with serving(app, "pmo-csp") as url:
        yield {"url": url, "task": task_id}


def _watched(new_page):  # noqa: ANN001, ANN202
    page = new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(RECORD_VIOLATIONS)
    return page, console


def _violations(page) -> list[str]:  # noqa: ANN001
    return page.evaluate("window.__csp || []")


def test_pages_work_under_the_policy_with_no_violation(live, new_page) -> None:
    from playwright.sync_api import expect

    url = live["url"]
    page, console = _watched(new_page)
    page.goto(f"{url}/login")
    assert "script-src 'self'" in (page.context.request.get(f"{url}/login").headers["content-security-policy"])
    sign_in(page, url, "maria")
    seen: list[str] = []
    for path in ("/", "/inbox?view=mine", "/account/out-of-office", "/notifications"):
        page.goto(f"{url}{path}")
        page.wait_for_load_state("load")
        seen += _violations(page)
    page.goto(f"{url}/tasks/{live['task']}")
    diagram = page.locator("#diagram")
    expect(diagram).to_have_class(re.compile(r"\bloaded\b"), timeout=20_000)  # bpmn-js drew it
    expect(diagram.locator(".djs-element.current-step")).to_have_count(1)
    box = diagram.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -200)  # zoom and pan: bpmn-js restyles the canvas
    page.wait_for_timeout(300)
    seen += _violations(page)
    admin, admin_console = _watched(new_page)
    sign_in(admin, url, "admin")
    admin.goto(f"{url}/admin/operations")
    seen += _violations(admin)
    assert seen == [] and console == [] and admin_console == [], (seen, console, admin_console)
