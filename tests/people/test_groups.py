"""Lane groups on the admin's page and in the API: who is in each group, adding and removing users
and roles (admin only, CSRF, checked on the server, audited); the operations page lists the tasks
waiting for a group with nobody in it, with a link to fill it."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.definitions import operations as definitions
from app.instances import commands as instances
from app.people import queries as people_queries
from tests.engine.conftest import ready
from tests.support.api import assert_problem
from tests.support.web import Browser

FINANCE = Path(__file__).parents[1] / "engine" / "fixtures" / "interop" / "library" / "operations" / "finance-review"


@pytest.fixture
def waiting(app, actors) -> str:
    """The finance review deployed (its lane 'Finance Team' is a group) and one task waiting for it."""
    definitions.deploy_directory([FINANCE], "admin")
    instance = instances.start("finance_review", actors["maria"], {})
    return ready(instance.id)[0].id


def test_the_admin_fills_a_group_on_its_page_and_the_member_sees_the_waiting_task(app, waiting):
    admin = Browser(app, "admin")
    ops = admin.html("/admin/operations")
    assert "Tasks waiting for a group with nobody in it" in ops and 'data-testid="group-wait-finance_team"' in ops
    assert 'href="/admin/groups#group-finance_team"' in ops and "Check the budget" in ops
    page = admin.html("/admin/groups")
    assert 'href="/admin/groups"' in page and "Groups</a>" in page  # in the admin navigation
    assert "Finance Team" in page and "Nobody is in this group" in page
    assert 'for="user-1"' in page and 'for="role-1"' in page  # labelled fields
    quinn = Browser(app, "quinn")
    assert "Check the budget" not in quinn.html("/inbox?view=available")

    done = admin.post("/admin/groups/members", {"group": "finance_team", "username": "quinn"},
                      token_from="/admin/groups")
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/groups#group-finance_team")
    page = admin.html("/admin/groups")
    assert "Reaches 1 person" in page and "Nobody is in this group" not in page
    inbox = quinn.html("/inbox?view=available")
    assert "Check the budget" in inbox and "Finance Team <small>(group)</small>" in inbox
    assert 'data-testid="group-wait-finance_team"' not in admin.html("/admin/operations")
    assert quinn.get(f"/tasks/{waiting}").status_code == 200

    admin.post("/admin/groups/members", {"group": "finance_team", "role": "quality_lead"}, token_from="/admin/groups")
    admin.post("/admin/groups/members", {"group": "finance_team", "username": "quinn", "action": "remove"},
               token_from="/admin/groups")
    group = people_queries.get_group("finance_team")
    assert group.member_users == [] and group.member_roles == ["quality_lead"]
    assert "Check the budget" in quinn.html("/inbox?view=available")  # quinn is a quality lead


def test_the_groups_page_is_admin_only_and_checks_what_it_is_sent(app, waiting):
    petra = Browser(app, "petra")
    assert petra.get("/admin/groups").status_code == 403
    assert petra.post("/admin/groups/members", {"group": "finance_team", "username": "petra"}).status_code == 403
    admin = Browser(app, "admin")
    bad = admin.post("/admin/groups/members", {"group": "finance_team", "role": "wizard"}, token_from="/admin/groups",
                     follow_redirects=True)
    assert "Unknown role" in bad.get_data(as_text=True)
    no_csrf = admin.client.post("/admin/groups/members", data={"group": "finance_team", "username": "quinn"})
    assert no_csrf.status_code == 400
    assert people_queries.get_group("finance_team").members == []


def test_the_groups_api_lists_and_changes_members(api, waiting):
    r = api.get("/groups", "admin")
    assert r.status_code == 200
    [group] = r.get_json()["items"]
    assert (group["key"], group["name"], group["member_users"], group["reaches"]) == (
        "finance_team", "Finance Team", [], [])
    r = api.post("/groups/finance_team/members", "admin", json={"role": "resource_manager"})
    assert r.status_code == 200 and r.get_json()["reaches"] == ["rita"]
    tasks = api.get("/tasks", "rita").get_json()
    assert waiting in {t["id"] for t in tasks["items"]}
    assert_problem(api.post("/groups/finance_team/members", "admin", json={"role": "resource_manager"}), 409)
    assert_problem(api.post("/groups/finance_team/members", "admin", json={"username": "x", "role": "pmo"}), 422)
    assert_problem(api.post("/groups/finance_team/members", "admin", json={"username": "nobody"}), 422)
    assert_problem(api.post("/groups/nowhere/members", "admin", json={"username": "quinn"}), 404)
    assert_problem(api.post("/groups/finance_team/members", "petra", json={"username": "petra"}), 403)
    assert_problem(api.get("/groups", "maria"), 403)
    r = api.call("DELETE", "/groups/finance_team/members", "admin", json={"role": "resource_manager"})
    assert r.status_code == 200 and r.get_json()["member_roles"] == []
    assert_problem(api.call("DELETE", "/groups/finance_team/members", "admin", json={"role": "pmo"}), 404)


def test_the_groups_api_is_in_the_openapi_document(api):
    paths = api.get("/openapi.json").get_json()["paths"]
    assert {"get"} <= set(paths["/api/v1/groups"]) and {"post", "delete"} <= set(paths["/api/v1/groups/{key}/members"])


def test_the_studio_import_reports_the_lane_that_becomes_a_group(app, login):
    import io

    owner = login("owen")
    files = [(io.BytesIO((FINANCE / name).read_bytes()), f"finance-review/{name}")
             for name in ("process_model.json", "finance.bpmn")]
    response = owner.post("/studio/import", data={"files": files}, token_from="/studio/import",
                          content_type="multipart/form-data")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "is not a role: its tasks go to the group" in html and "/admin/groups" in html
