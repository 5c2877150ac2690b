"""User administration: admin only, never a password hash."""

from __future__ import annotations

from tests.support.api import assert_problem


def test_admin_lists_users_without_secrets(api):
    r = api.get("/users", "admin")
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert {"admin", "maria", "sam"} <= {u["username"] for u in items}
    text = r.get_data(as_text=True)
    assert "password" not in text and "token_generation" not in text
    maria = next(u for u in items if u["username"] == "maria")
    assert maria["roles"] == ["project_manager"] and maria["active"] is True


def test_non_admins_get_403(api):
    assert_problem(api.get("/users", "petra"), 403)
    assert_problem(api.post("/users", "maria", json={"username": "x", "password": "secret-pass", "roles": []}), 403)
    assert_problem(api.patch("/users/maria", "owen", json={"active": False}), 403)


def test_create_user_and_log_in(api):
    r = api.post("/users", "admin", json={"username": "sue", "password": "sue-secret", "roles": ["sponsor"],
                                          "email": "sue@pmo.example", "display_name": "Sue"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["username"] == "sue" and body["roles"] == ["sponsor"] and "password" not in body
    assert api.token("sue", "sue-secret")


def test_create_user_validation_errors_are_422(api):
    body = assert_problem(api.post("/users", "admin", json={"username": "bob", "email": "not-an-email"}), 422)
    assert set(body["errors"]) == {"password", "email"}
    body = assert_problem(api.post("/users", "admin", json={"username": "bob", "password": "secret-pass",
                                                            "roles": ["wizard"]}), 422)
    assert "roles" in body["errors"]
    body = assert_problem(api.post("/users", "admin", json={"username": "bob", "password": "ab"}), 422)
    assert "password" in body["errors"]


def test_create_existing_user_is_409(api):
    assert_problem(api.post("/users", "admin", json={"username": "maria", "password": "secret-pass"}), 409)


def test_update_user(api):
    r = api.patch("/users/maria", "admin", json={"roles": ["project_manager", "sponsor"], "display_name": "Maria P."})
    assert r.status_code == 200
    assert r.get_json()["roles"] == ["project_manager", "sponsor"]
    assert r.get_json()["display_name"] == "Maria P."
    r = api.patch("/users/maria", "admin", json={"active": False})
    assert r.get_json()["active"] is False
    assert_problem(api.client.post("/api/v1/auth/token", json={"username": "maria", "password": "maria"}), 401)


def test_update_errors(api):
    assert_problem(api.patch("/users/ghost", "admin", json={"active": False}), 404)
    assert_problem(api.patch("/users/admin", "admin", json={"active": False}), 400)
    body = assert_problem(api.patch("/users/maria", "admin", json={"active": "maybe", "username": "x"}), 422)
    assert set(body["errors"]) == {"active", "username"}
