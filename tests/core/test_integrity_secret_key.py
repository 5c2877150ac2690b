"""Issue 9 item 16: the documented default SECRET_KEY no longer signs anything.

Before: config/pmo.toml shipped ``SECRET_KEY = "dev-only-change-me"``; an app started as the README
says accepted an admin API token and an admin session cookie forged with that public value, also
with ``pmo serve --host 0.0.0.0`` and under gunicorn.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from app import create_app
from app.cli import main
from app.core.extensions import db
from app.core.security import InsecureSecretKey
from app.core.settings import load_file
from app.people import operations as users
from app.people import queries as user_queries

PUBLIC_KEY = "dev-only-change-me"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_key_in_env(monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)


@pytest.fixture
def default_app(app, demo_users, tmp_path, no_key_in_env):  # noqa: ANN001, ANN201
    """The app as the README starts it: no SECRET_KEY anywhere, on the test database."""
    started = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "TESTING": True,
                          "INSTANCE_PATH": str(tmp_path / "instance")})
    with started.app_context():
        yield started
        db.session.remove()


def _forged_token(user_id: int) -> str:
    return URLSafeTimedSerializer(PUBLIC_KEY, salt="pmo-api-token").dumps({"u": user_id, "g": 0})


def _forged_session(user_id: int, generation: int = 0) -> str:
    signer = Flask("forger")
    signer.secret_key = PUBLIC_KEY
    serializer = SecureCookieSessionInterface().get_signing_serializer(signer)
    return serializer.dumps({"_user_id": f"{user_id}:{generation}", "_fresh": True})


def test_the_shipped_config_has_no_usable_key():
    assert load_file()["settings"]["SECRET_KEY"] == ""


def test_tokens_and_cookies_forged_with_the_public_key_are_refused(default_app, demo_users):
    admin_id = demo_users["admin"].id
    assert default_app.config["SECRET_KEY"] not in ("", PUBLIC_KEY)
    client = default_app.test_client()
    r = client.get("/api/v1/users", headers={"Authorization": f"Bearer {_forged_token(admin_id)}"})
    assert r.status_code == 401
    for cookie in (_forged_session(admin_id), URLSafeTimedSerializer(PUBLIC_KEY).dumps({"_user_id": "1"})):
        client.set_cookie("session", cookie)
        r = client.get("/admin/operations")
        assert r.status_code == 302 and "/login" in r.headers["Location"]
    # ... and a token the app issues itself works (the generated key signs and checks)
    assert client.get("/api/v1/users", headers={
        "Authorization": f"Bearer {users.issue_token(user_queries.get('admin'))}"}).status_code == 200


def test_an_explicit_public_key_is_replaced_as_well(app, tmp_path, no_key_in_env):
    started = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": PUBLIC_KEY,
                          "INSTANCE_PATH": str(tmp_path / "instance")})
    assert started.config["SECRET_KEY"] != PUBLIC_KEY


def test_the_generated_key_is_made_once_and_kept_private(app, tmp_path, no_key_in_env):
    folder = tmp_path / "instance"
    first = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "INSTANCE_PATH": str(folder)})
    again = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "INSTANCE_PATH": str(folder)})
    key_file = folder / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.config["SECRET_KEY"] == again.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(first.config["SECRET_KEY"]) >= 43  # 48 random bytes, URL-safe base64
    other = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "INSTANCE_PATH": str(tmp_path / "other")})
    assert other.config["SECRET_KEY"] != first.config["SECRET_KEY"]  # every installation its own


def test_a_configured_key_is_used_as_is(app, tmp_path, no_key_in_env):
    started = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "a" * 40,
                          "INSTANCE_PATH": str(tmp_path / "instance")})
    assert started.config["SECRET_KEY"] == "a" * 40
    assert not (tmp_path / "instance" / "secret_key").exists()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "pmo.example.org"])
def test_serve_beyond_loopback_refuses_without_a_key(app, tmp_path, monkeypatch, no_key_in_env, host):
    ran = []
    monkeypatch.setattr(Flask, "run", lambda self, **kw: ran.append(kw))
    env = {"DATABASE_URL": app.config["DATABASE_URL"], "INSTANCE_PATH": str(tmp_path / "instance")}
    result = CliRunner().invoke(main, ["serve", "--host", host, "--no-scheduler"], env=env)
    assert result.exit_code == 1
    assert "SECRET_KEY is not set" in result.output and "Traceback" not in result.output
    assert not ran


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_serve_on_loopback_uses_the_generated_key(host, tmp_path, monkeypatch, no_key_in_env):
    from tests.conftest import fresh_database_url

    url = fresh_database_url(tmp_path, "secret")
    env = {"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance"),
           "WORKFLOWS_DIR": str(tmp_path), "FORMS_DIR": str(tmp_path)}
    runner = CliRunner()
    assert runner.invoke(main, ["init"], env=env).exit_code == 0
    ran = []
    monkeypatch.setattr(Flask, "run", lambda self, **kw: ran.append(kw))
    result = runner.invoke(main, ["serve", "--host", host, "--no-scheduler"], env=env)
    assert result.exit_code == 0, result.output
    assert ran and (tmp_path / "instance" / "secret_key").exists()


def test_gunicorn_refuses_to_load_the_app_without_a_key(app, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "SERVER_SOFTWARE")}
    env.update({"DATABASE_URL": app.config["DATABASE_URL"], "INSTANCE_PATH": str(tmp_path / "instance")})
    gunicorn = Path(sys.executable).parent / "gunicorn"
    done = subprocess.run([str(gunicorn), "-w", "1", "-b", f"127.0.0.1:{port}", "app:create_app()"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "SECRET_KEY is not set (running under gunicorn)" in done.stderr + done.stdout


def test_under_gunicorn_create_app_refuses_the_public_key(app, monkeypatch, tmp_path):
    monkeypatch.setenv("SERVER_SOFTWARE", "gunicorn/23.0.0")
    for key in ("", PUBLIC_KEY):
        with pytest.raises(InsecureSecretKey, match="SECRET_KEY is not set"):
            create_app({"DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": key,
                        "INSTANCE_PATH": str(tmp_path / "instance")})
    assert create_app({"DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "s" * 40}).secret_key == "s" * 40
