"""What every browser test shares: a live server for an app, Chromium, pages and signing in.

Chromium is Debian's (/usr/bin/chromium, installed by `make test`), driven by Playwright with
the flags this sandbox needs; screenshots go to test-output/screenshots/ for review.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app.core.extensions import db

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@contextmanager
def serving(app: Flask, name: str) -> Iterator[str]:
    """Serve ``app`` from a thread on a free loopback port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        with app.app_context():
            db.engine.dispose()


# The one Chromium of the session. Other test folders reuse this fixture (tests/studio/conftest.py
# imports it), which makes a second fixture of the same function: it must hand out the same
# browser, because a second sync Playwright cannot start while the first one runs.
_SESSION_BROWSER: list = []


@pytest.fixture(scope="session")
def browser():
    if _SESSION_BROWSER:
        yield _SESSION_BROWSER[0]
        return
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: install it with 'apt-get install -y chromium'"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        _SESSION_BROWSER.append(chromium)
        try:
            yield chromium
        finally:
            _SESSION_BROWSER.clear()
            chromium.close()


def page_factory(browser, **context_options):  # noqa: ANN001, ANN003, ANN201
    """Yield a factory of pages, each in its own browser context (its own cookies: one user each);
    the contexts are closed afterwards. ``context_options`` go to ``browser.new_context``."""
    contexts = []

    def make():  # noqa: ANN202
        context = browser.new_context(**context_options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def new_page(browser):
    """A factory of desktop-sized pages."""
    yield from page_factory(browser, viewport={"width": 1280, "height": 900})


def sign_in(page, url: str, username: str, password: str | None = None) -> None:  # noqa: ANN001
    """Sign in through the login form (demo users' passwords are their names) and leave /login."""
    from playwright.sync_api import expect

    page.goto(f"{url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password or username)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def shipped_app(tmp_path_factory: pytest.TempPathFactory, name: str, *, demo: bool = False) -> Flask:
    """An app on a fresh database with the demo users and the shipped lifecycle deployed (and, with
    ``demo``, the demo projects seeded): what the browser journeys start from."""
    from app import create_app
    from app.definitions import operations as definitions
    from app.migrations import upgrade
    from app.people import operations as users
    from app.projects import demo as demo_data

    database = tmp_path_factory.mktemp(name) / "pmo.db"
    app = create_app({"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "browser-test-secret"})
    with app.app_context():
        upgrade()
        users.seed_demo_users()
        definitions.deploy_directory([ROOT / "workflows", ROOT / "forms"], "admin")
        if demo:
            demo_data.seed()
        db.session.remove()
    return app
