"""Tokens, authentication, and the problem+json answers for every kind of error."""

from __future__ import annotations

import io

import pytest

from app.definitions import queries as definition_queries
from tests.support.api import API, assert_problem


def test_token_for_good_credentials(api, client):
    r = client.post(f"{API}/auth/token", json={"username": "maria", "password": "maria"})
    assert r.status_code == 200
    body = r.get_json()
    assert body["username"] == "maria" and body["roles"] == ["project_manager"] and body["token"]
    assert "password" not in body


@pytest.mark.parametrize("creds", [{"username": "maria", "password": "wrong"},
                                   {"username": "nobody", "password": "x"}])
def test_token_wrong_credentials_is_401(api, client, creds):
    r = client.post(f"{API}/auth/token", json=creds)
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_missing_fields_is_422_listing_each(api, client):
    body = assert_problem(client.post(f"{API}/auth/token", json={}), 422)
    assert set(body["errors"]) == {"username", "password"}


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-token", "Basic bWFyaWE6bWFyaWE="])
def test_protected_routes_need_a_valid_bearer_token(api, client, header):
    headers = {"Authorization": header} if header else {}
    for path in ("/tasks", "/process-instances", "/process-definitions", "/users"):
        r = client.get(f"{API}{path}", headers=headers)
        assert_problem(r, 401)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_stops_working_after_password_change(api, client):
    token = api.token("maria")
    r = api.patch("/users/maria", "admin", json={"password": "new-secret"})
    assert r.status_code == 200
    r = client.get(f"{API}/tasks", headers={"Authorization": f"Bearer {token}"})
    assert_problem(r, 401)


def test_a_token_carries_the_users_current_roles_and_state(api, client):
    """Roles are read on every request: a role change counts at once, a deactivation ends the token."""
    token = api.token("maria")
    headers = {"Authorization": f"Bearer {token}"}
    assert_problem(client.get(f"{API}/users", headers=headers), 403)
    assert api.patch("/users/maria", "admin", json={"roles": ["project_manager", "admin"]}).status_code == 200
    assert client.get(f"{API}/users", headers=headers).status_code == 200
    assert api.patch("/users/maria", "admin", json={"active": False}).status_code == 200
    assert_problem(client.get(f"{API}/tasks", headers=headers), 401)


def test_unknown_api_url_is_problem_404(api, client):
    assert_problem(client.get(f"{API}/no-such-thing"), 404)
    assert_problem(client.get("/api/v2/tasks"), 404)


def test_wrong_method_is_problem_405(api, client):
    r = client.delete(f"{API}/users", headers=api.headers("admin"))
    assert_problem(r, 405)
    assert "GET" in r.headers["Allow"]


def test_malformed_json_is_problem_400(api):
    r = api.post("/process-instances", "maria", data="{not json", content_type="application/json")
    assert_problem(r, 400)


def test_non_object_json_is_problem_400(api):
    assert_problem(api.post("/process-instances", "maria", json=[1, 2]), 400)


def test_body_too_large_is_problem_413(api, app):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    r = api.post("/process-definitions", "owen", data={"files": [(io.BytesIO(b"x" * 5000), "a.bpmn")]},
                 content_type="multipart/form-data")
    assert_problem(r, 413)


def test_unexpected_error_is_problem_500_without_internals(api, monkeypatch):
    def boom():  # noqa: ANN202
        raise RuntimeError("secret internal detail /etc/passwd")

    monkeypatch.setattr(definition_queries, "list_latest", boom)
    r = api.get("/process-definitions", "maria")
    body = assert_problem(r, 500)
    assert "secret" not in r.get_data(as_text=True) and "Traceback" not in body["detail"]


def test_unknown_query_parameter_is_422(api):
    body = assert_problem(api.get("/tasks?colour=red", "maria"), 422)
    assert "colour" in body["errors"]


def test_non_api_urls_keep_their_own_errors(api, client):
    r = client.get("/definitely-not-here")
    assert r.status_code == 404
    assert r.mimetype != "application/problem+json"


def test_body_that_is_not_json_is_problem_415(api):
    r = api.post("/process-instances", "maria", data="process_key=x", content_type="application/x-www-form-urlencoded")
    assert_problem(r, 415)
