"""The web UI with Flask's test client: sign in and out, CSRF, the home page's task list, /vendor."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.core.extensions import db
from app.core.models import utcnow
from app.instances import commands as instances
from app.instances.models import HumanTask
from app.web import VENDOR_DIRS

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, "no csrf_token field in the form"
    return match.group(1)


def login(client, username: str, password: str | None = None, **extra: str):
    data = {"username": username, "password": username if password is None else password,
            "csrf_token": csrf_token(client), **extra}
    return client.post("/login", data=data)


@pytest.fixture
def client(app, demo_users):
    return app.test_client()


def _start_approval(actors, title: str = "New laptops"):
    return instances.start("simple_approval", actors["maria"], {"title": title})


# -- sign in / out ------------------------------------------------------------------------------

def test_login_page_is_an_accessible_form_with_csrf(client):
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<label for="username">' in html and '<label for="password">' in html
    assert "<main" in html and "<header" in html
    assert CSRF_RE.search(html)


def test_login_with_the_right_password_goes_home(client):
    response = login(client, "maria")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/")
    html = home.get_data(as_text=True)
    assert home.status_code == 200
    assert "PMO Flow" in html and "Maria Garcia" in html and "Project manager" in html
    assert "Sign out" in html


def test_login_with_a_wrong_password_shows_an_error(client):
    response = login(client, "maria", "not-her-password")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "Wrong username or password." in html
    assert 'value="maria"' in html  # the username is kept
    assert client.get("/").status_code == 302  # still signed out


def test_unknown_user_gets_the_same_error(client):
    response = login(client, "nobody", "whatever")
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(app, client):
    assert app.config.get("WTF_CSRF_ENABLED", True) is True
    response = client.post("/login", data={"username": "maria", "password": "maria"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302
    wrong = client.post("/login", data={"username": "maria", "password": "maria", "csrf_token": "forged"})
    assert wrong.status_code == 400


def test_home_requires_login_and_comes_back_after_it(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    signed_in = login(client, "maria", next="/?tab=mine")
    assert signed_in.headers["Location"] == "/?tab=mine"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)", "http:/evil.example"])
def test_next_cannot_redirect_elsewhere(client, target):
    response = login(client, "maria", next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_logout_needs_post_with_csrf_and_signs_out(client):
    login(client, "maria")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    token = csrf_token(client, "/")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    assert "You have signed out." in client.get("/login").get_data(as_text=True)


def test_deactivated_user_cannot_sign_in(client, demo_users):
    demo_users["paul"].active = False
    db.session.commit()
    assert login(client, "paul").status_code == 401


# -- the home page's tasks ----------------------------------------------------------------------

def test_home_lists_tasks_for_the_right_role_only(client, deployed, actors):
    instance = _start_approval(actors)
    login(client, "maria")  # project_manager: the 'submit' lane
    html = client.get("/").get_data(as_text=True)
    assert "Submit request New laptops" in html
    assert "Simple approval" in html and f"#{instance.id}" in html
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    login(client, "sam")  # sponsor: nothing to do yet
    html = client.get("/").get_data(as_text=True)
    assert "Submit request" not in html
    assert "You have no open tasks." in html


def test_the_next_task_shows_for_its_role_with_its_due_date(client, deployed, actors):
    instance = _start_approval(actors)
    submit = instances.ready_tasks(instance.id)[0]
    instances.complete(submit.id, actors["maria"], {"title": "New laptops", "cost": 1200})
    login(client, "sam")
    html = client.get("/").get_data(as_text=True)
    assert "Approve New laptops" in html
    assert "Overdue" not in html
    assert re.search(r"<time datetime=\"\d{4}-\d\d-\d\dT", html)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "maria")
    assert "Approve New laptops" not in client.get("/").get_data(as_text=True)


def test_overdue_tasks_are_marked(client, deployed, actors):
    instance = _start_approval(actors)
    task = db.session.get(HumanTask, instances.ready_tasks(instance.id)[0].id)
    task.due_at = utcnow() - timedelta(days=1)
    db.session.commit()
    login(client, "maria")
    html = client.get("/").get_data(as_text=True)
    assert 'class="overdue"' in html and "Overdue" in html


def test_claimed_task_shows_only_for_its_assignee(client, deployed, actors):
    instance = _start_approval(actors)
    task = instances.ready_tasks(instance.id)[0]
    instances.claim(task.id, actors["paul"])  # paul is a project manager too
    login(client, "maria")
    assert "Submit request" not in client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "paul")
    html = client.get("/").get_data(as_text=True)
    assert "Submit request" in html and ">paul<" in html


def test_inbox_counts_exists_not_joins(app, deployed, actors):
    """A task offered to two of a user's roles is listed once."""
    from app.inbox import queries as inbox
    from app.instances.models import HumanTaskCandidate
    instance = _start_approval(actors)
    task = db.session.get(HumanTask, instances.ready_tasks(instance.id)[0].id)
    task.candidates.append(HumanTaskCandidate(role="pmo"))
    db.session.commit()
    listed = inbox.open_tasks("admin-like", ["project_manager", "pmo"])
    assert [t.id for t in listed] == [task.id]


# -- /vendor ----------------------------------------------------------------------------------

def test_vendor_serves_only_the_dist_folders(client, tmp_path, monkeypatch):
    dist = tmp_path / "bpmn-js" / "dist"
    dist.mkdir(parents=True)
    (dist / "bpmn-viewer.js").write_text("window.BpmnJS = {};")
    (tmp_path / "bpmn-js" / "package.json").write_text("{}")
    monkeypatch.setitem(VENDOR_DIRS, "bpmn-js", dist)
    ok = client.get("/vendor/bpmn-js/bpmn-viewer.js")
    assert ok.status_code == 200 and b"BpmnJS" in ok.data
    ok.close()
    assert client.get("/vendor/bpmn-js/../package.json").status_code == 404
    assert client.get("/vendor/bpmn-js/%2e%2e/package.json").status_code == 404
    assert client.get("/vendor/other/x.js").status_code == 404
    assert client.get("/vendor/bpmn-js/missing.js").status_code == 404
