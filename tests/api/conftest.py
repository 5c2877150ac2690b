"""Fixtures for the API tests: a client, tokens obtained through POST /auth/token, and a second
small process (two steps for the initiator, then a script that can fail)."""

from __future__ import annotations

import pytest
from api_helpers import TWO_STEPS_BPMN, Api, upload


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(client, demo_users) -> Api:
    return Api(client)


@pytest.fixture
def two_steps(api, app) -> None:
    r = api.post("/process-definitions", "owen", **upload([("two_steps.bpmn", TWO_STEPS_BPMN)]))
    assert r.status_code == 201, r.get_json()
