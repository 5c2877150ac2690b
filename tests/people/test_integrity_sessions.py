"""Issue 9 item 17 (sessions end on sign-out, password change and deactivation), and the web
side of items 9 and 10 (a product page for a body over the limit; 404 for ids beyond 64 bits).

Before: the session was only a signed cookie holding the user id, so a cookie copied before
sign-out (or before the password was reset) kept working for as long as the key did.
"""

from __future__ import annotations

from app.people import operations as users
from app.people import queries as user_queries
from tests.support.web import Browser


def _cookie(browser: Browser) -> str:
    return browser.client._client.get_cookie("session").value


def _with_cookie(web, value: str):  # noqa: ANN001, ANN201
    """A new client that only has a copy of someone's session cookie (a stolen or kept cookie)."""
    thief = Browser.__new__(Browser)
    from tests.support.web import _Client

    thief.client = _Client(web.test_client())
    thief.client._client.set_cookie("session", value)
    return thief


def _signed_in(browser: Browser) -> bool:
    response = browser.get("/")
    return response.status_code == 200 and "Sign out" in response.get_data(as_text=True)


def test_sign_out_ends_every_session_of_the_user(login, web):
    laptop, phone = login("maria"), login("maria")
    kept = _cookie(laptop)
    assert _signed_in(_with_cookie(web, kept))
    response = laptop.post("/logout", token_from="/")
    assert response.status_code == 302
    assert not _signed_in(_with_cookie(web, kept))  # the copied cookie: worthless now
    assert not _signed_in(phone)  # the other device too
    assert _signed_in(login("maria"))  # signing in again works
    assert _signed_in(login("sam"))  # and nobody else was touched


def test_a_password_change_ends_the_sessions(login, web):
    browser = login("paul")
    kept = _cookie(browser)
    users.update("paul", actor="admin", password="a-new-long-password")
    assert not _signed_in(browser)
    assert not _signed_in(_with_cookie(web, kept))


def test_deactivation_ends_the_sessions(login):
    browser = login("quinn")
    users.update("quinn", actor="admin", active=False)
    users.update("quinn", actor="admin", active=True)  # even when the account is back later
    assert not _signed_in(browser)


def test_a_session_without_a_generation_is_refused(web, demo_users):
    """A cookie in the old format (only the user id) loads nobody."""
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(web)
    admin_id = demo_users["admin"].id
    forged = serializer.dumps({"_user_id": str(admin_id), "_fresh": True})
    assert not _signed_in(_with_cookie(web, forged))
    assert user_queries.session_user(f"{admin_id}:0") is not None
    for value in ("", "x", f"{admin_id}", f"{admin_id}:1", f"{admin_id}:²", "9" * 40 + ":0"):
        assert user_queries.session_user(value) is None


def test_a_form_over_the_size_limit_gets_a_product_page(login, web):
    maria = login("maria")
    web.config["MAX_CONTENT_LENGTH"] = 2000
    response = maria.post("/account/out-of-office", {"note": "x" * 5000}, token_from="/account/out-of-office")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "Too much data" in page and "2,000 bytes" in page and 'class="site-header"' in page


def test_web_ids_beyond_64_bits_are_404(login):
    admin = login("admin")
    for big in ("9" * 30, str(2**31)):
        assert admin.post(f"/admin/instances/{big}/terminate", {"reason": "x"}).status_code == 404
    assert admin.post("/admin/messages/" + "9" * 30 + "/redeliver", {"reason": "x"}).status_code == 404
    # ids in a form: a digit that is not ASCII, or a huge one, is ignored (was a 500)
    response = admin.post("/notifications/read", {"id": ["²", str(2**31), "9" * 30, "9" * 5000]},
                          token_from="/notifications")
    assert response.status_code == 303
