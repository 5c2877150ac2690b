"""The admin operations page: health, incidents and audited repairs, admin only, CSRF-protected."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.core.audit import AuditEntry
from app.core.errors import StepFailed
from app.core.extensions import db
from app.definitions import operations as definitions
from app.instances import commands as instances
from tests.ops.test_operations import FINANCE, FIXTURES, _flaky_operator  # noqa: F401 - autouse fixture
from tests.test_web import csrf_token, login


@pytest.fixture
def client(app, demo_users):
    return app.test_client()


@pytest.fixture
def incident(app, actors) -> int:
    definitions.deploy_directory([FIXTURES], "admin")
    with pytest.raises(StepFailed) as failure:
        instances.start("flaky_call", actors["petra"], {"amount": 1200, "note": "<script>alert(1)</script>"})
    return failure.value.errors["instance_id"]


def test_only_admins_see_the_operations_page(client, incident):
    login(client, "maria")
    assert client.get("/admin/operations").status_code == 403


def test_the_page_lists_the_incident_with_its_error_and_health(client, incident):
    login(client, "admin")
    page = client.get("/admin/operations")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-testid="incident-{incident}"' in html
    assert "finance system unreachable" in html and "Book budget in finance system" in html
    assert "Timer scheduler" in html and "in-process (embedded)" in html


def test_repairs_are_audited_with_the_reason_and_need_csrf(client, incident, app):
    login(client, "admin")
    refused = client.post(f"/admin/instances/{incident}/terminate", data={"reason": "x"})
    assert refused.status_code == 400  # no CSRF token
    token = csrf_token(client, "/admin/operations")
    FINANCE["up"] = True
    done = client.post(f"/admin/instances/{incident}/retry", data={"csrf_token": token, "reason": "finance is back"},
                       follow_redirects=True)
    assert "retry done" in done.get_data(as_text=True)
    assert instances.get(incident).status == "running"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "retry")).one()
    assert entry.actor == "admin" and entry.details["reason"] == "finance is back"


def test_a_repair_that_fails_says_why(client, incident):
    login(client, "admin")
    token = csrf_token(client, "/admin/operations")
    page = client.post(f"/admin/instances/{incident}/skip", data={"csrf_token": token, "reason": ""},
                       follow_redirects=True)
    assert "a reason is required" in page.get_data(as_text=True)
    assert instances.get(incident).status == "error"
