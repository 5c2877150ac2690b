"""Error pages are pages of the product (layout, a way back), not bare Werkzeug pages; the API
keeps answering problem+json."""

from __future__ import annotations

import pytest
from flask import Blueprint

from app.core.extensions import csrf


def _page(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


def test_not_found_is_a_product_page(login):  # noqa: ANN001
    html = _page(response := login("maria").get("/no/such/page"))
    assert response.status_code == 404
    assert "Page not found" in html and "Back to my tasks" in html
    assert 'class="card narrow"' in html  # the layout, not Werkzeug's bare page
    assert "The requested URL was not found on the server" not in html


def test_forbidden_is_a_product_page(login):  # noqa: ANN001
    response = login("maria").get("/admin/operations")
    assert response.status_code == 403
    assert "You cannot open this page" in _page(response)


def test_wrong_method_is_a_product_page_with_allow(login):  # noqa: ANN001
    response = login("maria").client.post("/")
    assert response.status_code == 405
    assert "That action is not possible here" in _page(response)
    assert "GET" in response.headers["Allow"]


def test_an_expired_form_says_so(web):  # noqa: ANN001
    web.config["WTF_CSRF_ENABLED"] = True
    response = web.test_client().post("/login", data={"username": "maria", "password": "maria",
                                                      "csrf_token": "stale"})
    assert response.status_code == 400
    html = _page(response)
    assert "This form has expired" in html and "Nothing was saved" in html


@pytest.fixture
def failing_app(web):  # noqa: ANN001
    """A route that fails unexpectedly, with exceptions handled as in production."""
    broken = Blueprint("broken", __name__)

    @broken.get("/broken")
    def explode():  # noqa: ANN202
        raise RuntimeError("boom")

    web.register_blueprint(broken)
    csrf.exempt(broken)
    web.config["PROPAGATE_EXCEPTIONS"] = False
    return web


def test_a_server_error_is_a_product_page(failing_app):  # noqa: ANN001
    response = failing_app.test_client().get("/broken")
    assert response.status_code == 500
    html = _page(response)
    assert "Something went wrong on our side" in html and "boom" not in html


def test_the_api_keeps_problem_json(login):  # noqa: ANN001
    response = login("maria").client.get("/api/v1/no-such-thing")
    assert response.status_code in (401, 404)
    assert response.mimetype == "application/problem+json"


def test_times_read_as_people_say_them(app):  # noqa: ANN001
    from datetime import timedelta

    from app.core.models import utcnow
    from app.web import ago_filter

    assert ago_filter(utcnow()) == "just now"
    assert ago_filter(utcnow() - timedelta(minutes=5)) == "5 min ago"
    assert ago_filter(None) == ""


def test_a_new_task_page_says_just_now_not_just_now_ago(login, actors):  # noqa: ANN001
    from app.instances import commands as instances
    from tests.support.web import start_purchase

    instance = start_purchase(actors)
    task = instances.ready_tasks(instance.id)[0]
    html = login("maria").html(f"/tasks/{task.id}")
    assert "just now" in html and "just now ago" not in html


def test_the_favicon_is_served(login):  # noqa: ANN001
    browser = login("maria")
    assert 'rel="icon"' in browser.html("/")
    for path in ("/favicon.ico", "/static/favicon.svg"):
        response = browser.get(path)
        assert response.status_code == 200 and response.mimetype == "image/svg+xml", path
