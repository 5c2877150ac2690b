"""Issue 9 item 18: sign-in throttling and the timing oracle, on the web form and the API.

Before: 49 wrong passwords in a row were all answered 401 at once, and an unknown name was
answered without any password-hash work (20 ms against 342 ms for a real user).
"""

from __future__ import annotations

import pytest
from flask import g
from werkzeug import security as wz_security

from app.people import operations as users
from app.people import queries as user_queries
from tests.support.web import CSRF_RE

API = "/api/v1"


def _sign_in(client, username: str, password: str):  # noqa: ANN001, ANN201
    g.pop("_login_user", None)  # the tests hold one app context (see conftest._forget_user)
    g.pop("csrf_token", None)
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def _token(client, username: str, password: str, address: str = "127.0.0.1"):  # noqa: ANN001, ANN201
    return client.post(f"{API}/auth/token", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_the_api_answers_429_with_retry_after_after_five_wrong_passwords(web):
    client = web.test_client()
    for _ in range(5):
        assert _token(client, "admin", "guess").status_code == 401
    refused = _token(client, "admin", "guess")
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["status"] == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # the right password does not get through either while the name is throttled
    assert _token(client, "admin", "admin").status_code == 429
    # ... from another address neither: the limit is per name
    assert _token(client, "admin", "admin", address="10.0.0.9").status_code == 429
    # another user is not affected
    assert _token(client, "maria", "maria").status_code == 200


def test_the_web_form_answers_429_with_a_message_and_shares_the_count_with_the_api(web):
    client = web.test_client()
    for _ in range(3):
        assert _token(client, "sam", "guess").status_code == 401
    for _ in range(2):
        assert _sign_in(client, "sam", "guess").status_code == 401
    refused = _sign_in(client, "sam", "sam")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    page = refused.get_data(as_text=True)
    assert "Too many failed sign-in attempts. Try again in" in page
    assert 'name="username"' in page and 'value="sam"' in page  # the form again, not a bare error


def test_many_names_from_one_address_are_throttled_per_address(web):
    web.config["LOGIN_LIMIT_PER_ADDRESS"] = "10 per minute"
    client = web.test_client()
    for i in range(10):
        assert _token(client, f"someone{i}", "guess", address="203.0.113.7").status_code == 401
    assert _token(client, "maria", "maria", address="203.0.113.7").status_code == 429
    assert _token(client, "maria", "maria", address="203.0.113.8").status_code == 200


def test_successful_sign_ins_are_never_counted(web):
    client = web.test_client()
    for _ in range(20):
        assert _token(client, "maria", "maria").status_code == 200
    for _ in range(20):
        response = _sign_in(web.test_client(), "chen", "chen")
        assert response.status_code == 302


def test_throttling_can_be_turned_off(web):
    web.config["RATELIMIT_ENABLED"] = False
    from app.core.throttle import limiter

    limiter.enabled = False
    try:
        client = web.test_client()
        assert all(_token(client, "admin", "guess").status_code == 401 for _ in range(8))
    finally:
        limiter.enabled = True


@pytest.mark.parametrize("username", ["admin", "nobody-here", "deactivated"])
def test_every_attempt_costs_exactly_one_password_hash_of_the_same_kind(web, monkeypatch, username):
    """No timing oracle: an unknown or deactivated name goes through the same key derivation."""
    if username == "deactivated":
        users.create("deactivated", "long-enough-password", ["pmo"])
        users.update("deactivated", actor="admin", active=False)
    real_method = user_queries.get("admin").password_hash.split("$", 1)[0]  # e.g. scrypt:32768:8:1
    checked: list[str] = []
    original = wz_security.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        checked.append(pwhash.split("$", 1)[0])
        return original(pwhash, password)

    monkeypatch.setattr(users, "check_password_hash", counting)
    assert _token(web.test_client(), username, "wrong password").status_code == 401
    assert checked == [real_method]
