"""Issue 9 item 19: security headers on every answer, and session cookies SameSite=Lax, Secure
over HTTPS. Before: no Content-Security-Policy, no frame protection, no nosniff, no referrer
policy; the session cookie had no SameSite and never Secure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.core.security import CONTENT_SECURITY_POLICY
from tests.support.web import CSRF_RE

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "web" / "templates"


def _directives(policy: str) -> dict[str, str]:
    return {part.split()[0]: part.split(None, 1)[1] if " " in part.strip() else ""
            for part in (p.strip() for p in policy.split(";")) if part}


@pytest.mark.parametrize("path", ["/login", "/", "/static/app.css", "/api/v1/health", "/api/v1/tasks", "/nowhere"])
def test_every_answer_carries_the_security_headers(web, path):
    response = web.test_client().get(path)
    csp = _directives(response.headers["Content-Security-Policy"])
    assert csp["script-src"] == "'self'"  # no inline script, no eval, no other host
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert csp["default-src"] == "'self'" and csp["base-uri"] == "'none'" and csp["form-action"] == "'self'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: not promised


def test_the_task_pages_need_nothing_the_policy_forbids(login, web, actors):
    """No inline <script> or <style>, no style= or on*= attribute, no javascript: URL anywhere."""
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert "<style" not in text and not re.search(r"\sstyle\s*=", text), template
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert "javascript:" not in text, template
    from tests.support.web import start_purchase, submit_request

    instance = start_purchase(actors)
    task, _ = submit_request(login("maria"), instance.id)
    from app.instances import commands as instances
    review = instances.ready_tasks(instance.id)[0]
    page = login("admin").html(f"/tasks/{review.id}")
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts and all(re.search(r'src="/(static|vendor)/', s) for s in scripts), scripts


def test_session_cookie_is_samesite_lax_and_secure_only_over_https(web, demo_users):
    def sign_in(base_url: str):  # noqa: ANN202
        from flask import g

        g.pop("_login_user", None)
        g.pop("csrf_token", None)
        client = web.test_client()
        page = client.get("/login", base_url=base_url)
        token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
        response = client.post("/login", base_url=base_url, headers={"Referer": f"{base_url}/login"},
                               data={"username": "maria", "password": "maria", "csrf_token": token})
        assert response.status_code == 302
        return response

    cookie = sign_in("http://pmo.example").headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie and "Secure" not in cookie
    over_https = sign_in("https://pmo.example")
    assert "Secure" in over_https.headers["Set-Cookie"] and "SameSite=Lax" in over_https.headers["Set-Cookie"]
    assert over_https.headers["Strict-Transport-Security"].startswith("max-age=")


def test_behind_a_proxy_the_forwarded_scheme_decides(database_url, tmp_path):
    from app import create_app

    proxied = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret", "PROXY_COUNT": 1})
    response = proxied.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in response.headers["Set-Cookie"]  # the CSRF token's session
    direct = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret"})
    response = direct.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in response.headers["Set-Cookie"]  # no proxy configured: the header is not believed


def test_the_policy_allows_nothing_inline():
    csp = _directives(CONTENT_SECURITY_POLICY)
    for directive in ("script-src", "style-src"):
        assert csp[directive] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval', no other host
