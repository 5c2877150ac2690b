"""The studio's migration page through the web client: the dry run with counts and reasons, starting
a batch (all movable or a selection), the results with "Move back", the release, and who may see it."""

from __future__ import annotations

import re

import pytest

from app.core.extensions import db
from app.definitions import operations as definitions
from app.definitions import queries as definition_queries
from app.instances import commands as instances
from app.instances.models import MigrationBatch
from app.people import queries as user_queries
from app.people.actor import Actor
from tests.browser import conftest as browser_support
from tests.instances.test_migration import (
    PROCESS,
    add_pmo_check,
    at_pm_decision,
    deploy_version,
    raise_cr,
    slower_pm_reminder,
)
from tests.projects.conftest import FORMS, WORKFLOWS, Driver, initiated_project


@pytest.fixture
def pmo(web, actors):
    definitions.deploy_directory([WORKFLOWS, FORMS], "admin")
    return Driver(actors)


@pytest.fixture
def publish(tmp_path):
    return lambda edit: deploy_version(tmp_path / "v2", edit)


@pytest.fixture
def running(pmo):
    """Two change requests waiting for the assessment (movable to v2) and one past it (blocked)."""
    pid, _ = initiated_project(pmo)
    return {"waiting": [raise_cr(pmo, pid), raise_cr(pmo, pid)], "decided": at_pm_decision(pmo, pid)}


def test_the_dry_run_shows_counts_where_each_stands_and_why_one_is_blocked(login, running, publish):
    publish(add_pmo_check)
    html = login("owen").html(f"/studio/processes/{PROCESS}/migrate?to=2")
    assert re.search(r'data-testid="movable-count">2<', html)
    assert re.search(r'data-testid="blocked-count">1<', html)
    rows = re.findall(r'<tr data-instance-id="(\d+)" class="(\w+)"', html)
    assert sorted(rows) == sorted([*((str(i), "movable") for i in running["waiting"]),
                                   (str(running["decided"]), "blocked")])
    assert html.count("<label for=\"pick-") == 3 and "CRM-0042 Customer portal relaunch</label>" in html
    assert "Assess impact of CR-" in html and "Approve CR-" in html  # where they stand, by task name
    assert "PMO check of …" in html  # the new step
    assert "<strong>Assess impact of …</strong>: the instance has already passed this step" in html
    assert "Make version 2 current" not in html  # v2 is the newest: new instances start on it already
    assert 'data-testid="current-version">version 2<' in html
    assert "{{" not in html and "cr_reference" not in html  # names as people read them
    assert 'style="' not in html and "<script>" not in html  # CSP: no inline code or styles


def test_the_dry_run_says_a_changed_timer_restarts_and_when_it_falls_due(login, running, publish):
    publish(slower_pm_reminder)
    html = login("owen").html(f"/studio/processes/{PROCESS}/migrate?to=2")
    row = html[html.index(f'<tr data-instance-id="{running["decided"]}"'):]
    row = row[:row.index("</tr>")]
    assert re.search(r"timer &#39;2 working days&#39; on &#39;Approve … \(PM tolerance\)&#39; changed: it restarts "
                     r"from the migration, not from when it started \(due [A-Z][a-z]{2} \d+, \d{4}, \d\d:\d\d UTC\)", row)
    assert re.search(r'data-testid="movable-count">3<', html)


def test_migrate_all_movable_then_results_and_move_back(login, running, publish, actors):
    publish(add_pmo_check)
    owen = login("owen")
    page = f"/studio/processes/{PROCESS}/migrate?to=2"
    response = owen.post(f"/studio/processes/{PROCESS}/migrate", {"to": "2", "action": "all"}, token_from=page)
    assert response.status_code == 303
    batch_url = response.headers["Location"]
    html = owen.html(batch_url)
    assert 'data-batch-status="finished"' in html and "data-refresh-seconds" not in html
    assert re.search(r'data-testid="moved-count">2<', html)
    assert html.count('data-outcome="moved"') == 2 and html.count('data-outcome="blocked"') == 0
    for iid in running["waiting"]:
        assert instances.get(iid).process_version.version == 2
    assert html.count('data-testid="move-back"') == 2

    first = running["waiting"][0]
    batch_id = int(batch_url.rstrip("/").rsplit("/", 1)[1])
    back = owen.post(f"/studio/migrations/{batch_id}/instances/{first}/move-back", token_from=batch_url)
    assert back.status_code == 303
    html = owen.html(batch_url)
    assert "is back on version 1" in html and "Moved back" in html
    assert html.count('data-testid="move-back"') == 1
    db.session.expire_all()
    assert instances.get(first).process_version.version == 1


def test_migrate_a_selection_records_the_blocked_one_with_its_reason(login, running, publish):
    publish(add_pmo_check)
    owen = login("owen")
    page = f"/studio/processes/{PROCESS}/migrate?to=2"
    picked = [str(running["waiting"][0]), str(running["decided"])]
    owen.client.get(page)
    response = owen.post(f"/studio/processes/{PROCESS}/migrate", {"to": "2", "action": "selected",
                                                                  "instance_id": picked}, token_from=page)
    assert response.status_code == 303
    batch = db.session.scalars(db.select(MigrationBatch)).one()
    assert sorted(batch.instance_ids) == sorted(int(i) for i in picked)
    html = owen.html(response.headers["Location"])
    assert html.count('data-outcome="moved"') == 1 and html.count('data-outcome="blocked"') == 1
    assert "Stays: blocked" in html and "the instance has already passed this step" in html
    assert instances.get(running["waiting"][1]).process_version.version == 1  # not selected


def test_nothing_selected_is_said_and_starts_nothing(login, running, publish):
    publish(add_pmo_check)
    owen = login("owen")
    page = f"/studio/processes/{PROCESS}/migrate?to=2"
    response = owen.post(f"/studio/processes/{PROCESS}/migrate", {"to": "2", "action": "selected"}, token_from=page)
    assert response.status_code == 303 and response.headers["Location"].endswith("/migrate?to=2")
    assert "Select the instances to migrate" in owen.html(page)
    assert db.session.scalars(db.select(MigrationBatch)).first() is None


def test_make_an_earlier_version_current_and_back(login, running, publish, pmo):
    publish(add_pmo_check)
    owen = login("owen")
    page = f"/studio/processes/{PROCESS}/migrate?to=2"
    assert 'data-testid="release-form"' in owen.html(page)
    response = owen.post(f"/studio/processes/{PROCESS}/release", {"version": "1", "to": "2",
                                                                  "reason": "the PMO check is not staffed"},
                         token_from=page)
    assert response.status_code == 303
    html = owen.html(page)
    assert "now start on version 1" in html
    assert 'data-testid="current-version">version 1<' in html and "Make version 2 current" in html
    assert definition_queries.current_version(PROCESS).version == 1
    assert definition_queries.release_of(PROCESS).reason == "the PMO check is not staffed"
    owen.post(f"/studio/processes/{PROCESS}/release", {"version": "2", "to": "2"}, token_from=page)
    assert definition_queries.current_version(PROCESS).version == 2


def test_only_process_owners_and_admins(login, running, publish):
    publish(add_pmo_check)
    page = f"/studio/processes/{PROCESS}/migrate?to=2"
    assert login("admin").get(page).status_code == 200
    for who in ("maria", "petra"):
        browser = login(who)
        assert browser.get(page).status_code == 403
        assert browser.post(f"/studio/processes/{PROCESS}/migrate", {"to": "2", "action": "all"}).status_code == 403
        assert browser.post(f"/studio/processes/{PROCESS}/release", {"version": "1"}).status_code == 403
    assert login("owen").get(f"/studio/processes/{PROCESS}/migrate?to=9").status_code == 404
    assert login("owen").get("/studio/processes/no_such_process/migrate").status_code == 404
    assert definition_queries.current_version(PROCESS).version == 2


# -- in Chromium ---------------------------------------------------------------------------------------------



@pytest.mark.browser
def test_owner_sees_the_dry_run_migrates_all_movable_and_sees_the_result(tmp_path_factory, new_page):
    from playwright.sync_api import expect

    app = browser_support.shipped_app(tmp_path_factory, "migration")
    with app.app_context():
        driver = Driver({u.username: Actor.of(u) for u in user_queries.list_users()})
        pid, _ = initiated_project(driver)
        waiting = [raise_cr(driver, pid), raise_cr(driver, pid)]
        decided = at_pm_decision(driver, pid)
        deploy_version(tmp_path_factory.mktemp("v2"), add_pmo_check)
        db.session.remove()
    with browser_support.serving(app, "pmo-migration-journey") as url:
        page = new_page()
        csp_errors: list[str] = []
        page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
        browser_support.sign_in(page, url, "owen")
        page.goto(f"{url}/studio/processes/{PROCESS}/migrate?to=2")
        expect(page.get_by_test_id("movable-count")).to_have_text("2")
        expect(page.get_by_test_id("blocked-count")).to_have_text("1")
        blocked_row = page.locator(f'tr[data-instance-id="{decided}"]')
        expect(blocked_row).to_contain_text("Blocked")
        expect(blocked_row).to_contain_text("the instance has already passed this step")
        page.locator(f'input[name="instance_id"][value="{waiting[0]}"]').check()
        expect(page.get_by_test_id("migrate-selected")).to_have_text("Migrate 1 selected")
        page.screenshot(path=str(browser_support.SCREENSHOTS / "studio-migration-dry-run.png"), full_page=True)

        page.get_by_test_id("migrate-all").click()
        expect(page.get_by_test_id("batch-progress")).to_have_attribute("data-batch-status", "finished")
        expect(page.get_by_test_id("moved-count")).to_have_text("2")
        expect(page.locator('tr[data-outcome="moved"]')).to_have_count(2)
        expect(page.get_by_test_id("move-back")).to_have_count(2)
        page.screenshot(path=str(browser_support.SCREENSHOTS / "studio-migration-result.png"), full_page=True)

        page.locator(f'tr[data-instance-id="{waiting[1]}"]').get_by_test_id("move-back").click()
        expect(page.get_by_role("status").first).to_contain_text("is back on version 1")
        expect(page.get_by_test_id("move-back")).to_have_count(1)
        assert csp_errors == []  # the page script and the self-counting button run under the policy
    with app.app_context():
        assert [instances.get(i).process_version.version for i in waiting] == [2, 1]
        assert instances.get(decided).process_version.version == 1


def test_a_batch_not_done_yet_shows_its_progress_and_refreshes_itself(login, running, publish):
    """Scaled out, a worker takes the batch: until then the page says so and reloads itself."""
    from app.core.transactions import write_transaction

    v2 = publish(add_pmo_check)
    with write_transaction():
        batch = MigrationBatch(process_key=PROCESS, to_version_id=v2.id, requested_by="owen", status="queued",
                               instance_ids=running["waiting"], total=2, results=[])
        db.session.add(batch)
        db.session.flush()
        batch_id = batch.id
    html = login("owen").html(f"/studio/migrations/{batch_id}")
    assert 'data-refresh-seconds="2"' in html and "Waiting to start" in html and "0 of 2 done" in html
    assert '<script src="/static/migration.js">' in html
    from app.instances import migration

    assert migration.run_batch(batch_id) == "finished"
    html = login("owen").html(f"/studio/migrations/{batch_id}")
    assert "data-refresh-seconds" not in html and "<strong>Finished</strong>" in html
    assert re.search(r'data-testid="moved-count">2</span> moved, <span data-testid="blocked-result-count">0<', html)
