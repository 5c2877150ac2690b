"""Fixtures for the web UI tests: the fixture processes deployed, signed-in clients, and the
notification / out-of-office hooks wired into the instance service the way the lead wires them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import g
from sqlalchemy import select

from app.core.extensions import db
from app.definitions import operations as definitions
from app.instances import commands as instances
from app.instances.models import HumanTask, TaskStatus
from app.projects import demo

WEB_FIXTURES = Path(__file__).parents[1] / "inbox" / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def web(app, demo_users):
    definitions.deploy_directory([WEB_FIXTURES], "admin")
    return app


def _forget_user() -> None:
    """The tests hold one app context, so Flask-Login's cached user (on ``g``) would leak between clients."""
    g.pop("_login_user", None)
    g.pop("csrf_token", None)


class _Client:
    def __init__(self, client) -> None:  # noqa: ANN001
        self._client = client

    def get(self, *a, **kw):  # noqa: ANN002, ANN003, ANN201
        _forget_user()
        return self._client.get(*a, **kw)

    def post(self, *a, **kw):  # noqa: ANN002, ANN003, ANN201
        _forget_user()
        return self._client.post(*a, **kw)


class Browser:
    """A signed-in test client that finds CSRF tokens itself."""

    def __init__(self, app, username: str) -> None:  # noqa: ANN001
        self.client = _Client(app.test_client())
        self.username = username
        page = self.client.get("/login")
        token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
        response = self.client.post("/login", data={"username": username, "password": username, "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)

    def get(self, path: str, **kw):  # noqa: ANN003, ANN201
        return self.client.get(path, **kw)

    def html(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_data(as_text=True)

    def token(self, path: str = "/inbox") -> str:
        return CSRF_RE.search(self.client.get(path).get_data(as_text=True)).group(1)

    def post(self, path: str, data: dict | None = None, token_from: str = "/inbox", **kw):  # noqa: ANN003, ANN201
        data = dict(data or {})
        data.setdefault("csrf_token", self.token(token_from))
        return self.client.post(path, data=data, **kw)


@pytest.fixture
def login(web):
    return lambda username: Browser(web, username)


def start_purchase(actors, user: str = "maria", **data):  # noqa: ANN001, ANN201, ANN003
    payload = {"requested_by": user, "project_name": "Customer portal", "project_code": "CRM-0042", **data}
    return instances.start("purchase_request", actors[user], payload)


GOOD_REQUEST = {
    "f:title": "Laptops for the data team", "f:justification": "Old ones are five years old.",
    "f:amount": "12500.50", "f:quantity": "5", "f:needed_by": "2027-03-01", "f:category": "hardware",
    "f:urgency": "high", "f:budgeted": "true", "n:items": "1", "f:items/0/name": "Laptop", "f:items/0/cost": "2500",
}


def submit_request(browser: Browser, instance_id: int, **override: str):  # noqa: ANN201
    task = instances.ready_tasks(instance_id)[0]
    data = {**GOOD_REQUEST, **override, "action": "complete"}
    return task, browser.post(f"/tasks/{task.id}", data, token_from=f"/tasks/{task.id}")


@pytest.fixture
def seeded(web):
    """The shipped lifecycle deployed and the demo projects seeded: realistic tasks in every phase."""
    definitions.deploy_directory([ROOT / "workflows", ROOT / "forms"], "admin")
    report = demo.seed()
    assert not [line for line in report if "failed" in line], report
    return web


def task_at(element_id: str, status: str = TaskStatus.READY) -> HumanTask:
    """The oldest task of one step in a given status (the demo has one of most)."""
    return db.session.scalars(select(HumanTask).where(HumanTask.element_id == element_id,
                                                      HumanTask.status == status)
                              .order_by(HumanTask.created_at)).first()
