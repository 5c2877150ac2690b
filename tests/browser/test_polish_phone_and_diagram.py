"""Issue 16 items 9, 10 and 17 in Chromium, and the walk through every demo user's pages.

- The inbox and the task page fit a 390 px phone (no horizontal scrollbar; the task table becomes
  stacked cards).
- The task page's diagram shows the current step at a readable size, zooms, goes full screen, and
  draws a quality-gate step in the quality-gate process, with its callers a click away.
- Every demo user: every page of the navigation and one task, at 390 px, with no 4xx/5xx response,
  no console error, no "just now ago", no ``{{`` in visible text and no horizontal scrollbar.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import select

from app.core.extensions import db
from app.instances.models import HumanTask, TaskStatus
from tests.browser.conftest import SCREENSHOTS, page_factory, shipped_app, sign_in

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from tests.browser.conftest import serving

    app = shipped_app(tmp_path_factory, "polish", demo=True)
    with app.app_context():
        ready = {t.element_id: t.id for t in db.session.scalars(
            select(HumanTask).where(HumanTask.status == TaskStatus.READY))}
        demo_users = [u.username for u in current_app.config["DEMO_USERS"]]
        db.session.remove()
    with serving(app, "pmo-polish") as url:
        yield {"url": url, "ready": ready, "users": demo_users}


@pytest.fixture
def phone(browser):
    """A factory of phone-sized touch pages."""
    yield from page_factory(browser, viewport=PHONE, is_mobile=True, has_touch=True)


TOUCH_DRAG = """() => {
  const box = document.getElementById("diagram"), r = box.getBoundingClientRect();
  const at = (type, id, x, y) => box.dispatchEvent(new PointerEvent(type, {pointerType: "touch", pointerId: id,
    clientX: r.left + x, clientY: r.top + y, bubbles: true}));
  at("pointerdown", 1, 200, 100); at("pointermove", 1, 150, 100); at("pointermove", 1, 100, 100);
  at("pointerup", 1, 100, 100);
}"""
TOUCH_PINCH = """() => {
  const box = document.getElementById("diagram"), r = box.getBoundingClientRect();
  const at = (type, id, x, y) => box.dispatchEvent(new PointerEvent(type, {pointerType: "touch", pointerId: id,
    clientX: r.left + x, clientY: r.top + y, bubbles: true}));
  at("pointerdown", 1, 150, 150); at("pointerdown", 2, 200, 150);
  at("pointermove", 1, 100, 150); at("pointermove", 2, 250, 150);
  at("pointerup", 1, 100, 150); at("pointerup", 2, 250, 150);
}"""


def _overflow(page) -> int:  # noqa: ANN001
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_inbox_and_task_page_fit_a_phone(live, phone) -> None:
    url = live["url"]
    page = phone()
    sign_in(page, url, "maria")
    for path in ("/inbox?view=mine", "/inbox?view=completed", "/", f"/tasks/{live['ready']['report']}"):
        page.goto(f"{url}{path}")
        page.wait_for_load_state("load")
        assert _overflow(page) <= 0, (path, _overflow(page))
    page.goto(f"{url}/inbox?view=completed")
    first = page.locator("table.inbox-table tbody tr").first
    assert first.bounding_box()["width"] <= PHONE["width"]  # a card, not a table row
    label = page.evaluate("getComputedStyle(document.querySelector('td[data-label=\"Project\"]'), '::before').content")
    assert "Project" in label
    page.screenshot(path=str(SCREENSHOTS / "polish-inbox-phone.png"), full_page=True)

    quinn = phone()
    sign_in(quinn, url, "quinn")
    quinn.goto(f"{url}/tasks/{live['ready']['quality_review']}")
    assert _overflow(quinn) <= 0
    widths = quinn.eval_on_selector_all('input[type="radio"], input[type="checkbox"]',
                                        "els => els.map(e => e.getBoundingClientRect().width)")
    assert widths and max(widths) < 40, widths  # full-width fields, but not stretched radio buttons
    textarea = quinn.locator("textarea").first.bounding_box()
    assert textarea["width"] >= PHONE["width"] - 100  # fields take the phone's width

    # The diagram: one finger drags it, two fingers pinch (bpmn-js alone follows a mouse only).
    quinn.locator("#diagram.loaded").wait_for(timeout=20_000)
    step = quinn.locator('#diagram .djs-element.current-step')
    before = step.bounding_box()
    quinn.evaluate(TOUCH_DRAG)
    after = step.bounding_box()
    assert after["x"] < before["x"] - 40, (before, after)
    quinn.evaluate(TOUCH_PINCH)
    assert step.bounding_box()["width"] > after["width"] * 1.3


def test_diagram_shows_the_step_readably_zooms_and_goes_full_screen(live, new_page) -> None:
    from playwright.sync_api import expect

    url = live["url"]
    page = new_page()
    sign_in(page, url, "quinn")
    page.goto(f"{url}/tasks/{live['ready']['quality_review']}")
    diagram = page.locator("#diagram")
    expect(diagram).to_have_class(re.compile(r"\bloaded\b"), timeout=20_000)
    step = diagram.locator('.djs-element.current-step[data-element-id="quality_review"]')
    expect(step).to_have_count(1)  # the quality-gate process, this step highlighted (item 17)
    shape, frame = step.bounding_box(), diagram.bounding_box()
    assert shape["width"] >= 90, shape  # readable: about its real size, not a thumbnail
    assert frame["x"] <= shape["x"] and shape["x"] + shape["width"] <= frame["x"] + frame["width"]  # in view
    page.get_by_role("button", name="Zoom in").click()
    assert step.bounding_box()["width"] > shape["width"] * 1.1
    page.get_by_role("button", name="Whole process").click()
    page.get_by_role("button", name="This step").click()
    assert abs(step.bounding_box()["width"] - shape["width"]) < 2

    page.get_by_role("button", name="Full screen").click()
    card = page.locator("#diagram-card").bounding_box()
    assert card["width"] >= 1270 and card["height"] >= 890, card
    page.screenshot(path=str(SCREENSHOTS / "polish-diagram-full-screen.png"))
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Full screen")).to_have_attribute("aria-pressed", "false")

    page.get_by_role("link", name="Project execution").click()  # the caller, for context
    expect(diagram.locator('.djs-element.current-step[data-element-id="quality_gate"]')).to_have_count(1)
    expect(page.locator("[data-diagram-name]")).to_have_text("Project execution")


def test_every_demo_user_walks_every_page_on_a_phone(live, phone) -> None:
    url = live["url"]
    problems: list[str] = []
    for username in live["users"]:
        page = phone()
        seen: list[str] = []
        page.on("response", lambda r, seen=seen: seen.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("console", lambda m, seen=seen: seen.append(f"console {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e, seen=seen: seen.append(f"script {e}"))
        sign_in(page, url, username)
        links = page.eval_on_selector_all('nav[aria-label="Main"] a', "els => els.map(e => e.href)")
        page.goto(f"{url}/inbox")
        task = page.locator("a.task-link").first
        if task.count():
            links.append(task.get_attribute("href"))
        for link in links:
            page.goto(link if link.startswith("http") else f"{url}{link}")
            page.wait_for_load_state("load")
            page.wait_for_timeout(150)
            text = page.inner_text("body")
            where = f"{username} {page.url}"
            problems += [f"{where}: {s}" for s in seen]
            seen.clear()
            if re.search(r"just now\s+ago", text):
                problems.append(f"{where}: 'just now ago'")
            if "{{" in text:
                problems.append(f"{where}: '{{{{' in the text")
            if _overflow(page) > 0:
                problems.append(f"{where}: {_overflow(page)} px wider than the phone")
        page.screenshot(path=str(SCREENSHOTS / f"polish-walk-{username}.png"), full_page=True)
        page.context.close()
    assert not problems, "\n".join(problems)
