"""The resource manager in Chromium (issue 13): a resource request's task shows what approving it does
to capacity, at desktop width and at 390 px; approving the plan's requests changes the capacity page.

The demo's ERP upgrade plan waits for rita with three requests (ERP functional consultant 1 FTE,
Test manager 0.8, DBA 0.3 from today+30 to today+290). To give the DBA request a competitor, the
Data centre migration holds a DBA, Quinn Harper at 0.8 FTE, from today to today+120: with the DBA's
capacity of 1 the months both run in go to 1.1 (110%), the later ones hold 0.3 (30%).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.core.extensions import db
from app.projects.models import Project, ResourceAllocation
from tests.browser.conftest import SCREENSHOTS, page_factory, serving, shipped_app, sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = shipped_app(tmp_path_factory, "request-effect", demo=True)
    with app.app_context():
        migration = db.session.scalars(select(Project).where(Project.name == "Data centre migration")).one()
        today = date.today()
        migration.allocations.append(ResourceAllocation(
            role="DBA", requested_fte=Decimal("0.8"), fte=Decimal("0.8"), named_resource="quinn",
            start_date=today, end_date=today + timedelta(days=120), status="approved", decided_by="rita"))
        db.session.commit()
        db.session.remove()
    with serving(app, "pmo-request-effect") as url:
        yield url


def _rows(page, testid: str) -> list[list[str]]:  # noqa: ANN001
    return page.eval_on_selector_all(
        f'[data-testid="{testid}"] tbody tr',
        "rows => rows.map(r => [...r.children].map(c => c.innerText.replace(/\\s+/g, ' ').trim()))")


def _overflow(page) -> int:  # noqa: ANN001
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def _by_role(page) -> dict[str, list[str]]:  # noqa: ANN001
    return {row[0]: row[1:] for row in _rows(page, "table-by_role")}


def test_the_resource_manager_reads_the_effect_approves_and_the_capacity_page_changes(live, new_page, browser):
    from playwright.sync_api import expect

    page = new_page()
    page.on("console", lambda m: m.type == "error" and pytest.fail(f"console error: {m.text}"))
    sign_in(page, live, "rita")
    page.goto(f"{live}/portfolio/resources")
    before = _by_role(page)
    assert before["DBA"][:3] == ["1", "0.8", "80%"]  # capacity, this month allocated, utilisation
    assert "ERP functional consultant" not in before and "Test manager" not in before

    page.goto(f"{live}/inbox")
    page.get_by_role("link", name="Resource request: DBA (0.3 FTE) for ERP-0107").click()
    panel = page.get_by_test_id("request-effect")
    expect(panel.get_by_role("heading", name="Effect on capacity")).to_be_visible()
    expect(panel).to_contain_text("Approving adds 0.3 FTE of DBA from")
    months = _rows(page, "effect-months")
    over = [m for m in months if "Over capacity" in m[0]]
    within = [m for m in months if "Over capacity" not in m[0]]
    assert over and within and len(months) >= 9
    for row in over:  # capacity 1; allocated 0.8 (the migration), 1.1 if approved
        assert row[1:] == ["1", "0.8", "80%", "1.1", "110% over by 0.1 FTE"], row
    for row in within:
        assert row[1:] == ["1", "0", "0%", "0.3", "30%"], row
    assert months.index(over[-1]) < months.index(within[0])  # the migration's months come first
    summary = page.get_by_test_id("effect-summary")
    expect(summary).to_contain_text(f"Over capacity in {len(over)} of {len(months)} months if approved")
    expect(summary).to_contain_text(over[0][0].replace(" Over capacity", ""))
    competing = _rows(page, "effect-competing")
    assert [row[:3] for row in competing] == [["DCM-0058 Data centre migration", "Quinn Harper", "0.8"]]
    page.screenshot(path=str(SCREENSHOTS / "request-effect-desktop.png"), full_page=True)
    panel.screenshot(path=str(SCREENSHOTS / "request-effect-desktop-panel.png"))

    phone = next(page_factory(browser, viewport=PHONE, is_mobile=True, has_touch=True))()
    sign_in(phone, live, "rita")
    phone.goto(page.url)
    assert _overflow(phone) <= 0, _overflow(phone)
    card = phone.locator('[data-testid="effect-months"] tbody tr').first.bounding_box()
    assert card["width"] <= PHONE["width"]  # each month a card, each figure labelled
    label = phone.evaluate("getComputedStyle(document.querySelector("
                           "'[data-testid=\"effect-months\"] td[data-label]'), '::before').content")
    assert "Capacity" in label
    phone.screenshot(path=str(SCREENSHOTS / "request-effect-phone.png"), full_page=True)
    phone.get_by_test_id("request-effect").screenshot(path=str(SCREENSHOTS / "request-effect-phone-panel.png"))
    phone.context.close()

    # Approve this request and the plan's other two: the round is recorded, the page changes.
    for title in ("Resource request: DBA (0.3 FTE) for ERP-0107",
                  "Resource request: ERP functional consultant (1 FTE) for ERP-0107",
                  "Resource request: Test manager (0.8 FTE) for ERP-0107"):
        if not page.get_by_role("heading", name=title).count():
            page.goto(f"{live}/inbox")
            page.get_by_role("link", name=title).click()
        expect(page.get_by_test_id("request-effect")).to_be_visible()
        page.get_by_label("Approve as requested").check()
        page.get_by_role("button", name="Submit").click()
        expect(page).to_have_url(re.compile(r"/inbox\?"))
        expect(page.get_by_text(f"Done: {title}.")).to_be_visible()

    page.goto(f"{live}/portfolio/resources")
    after = _by_role(page)
    consultant, tester = after["ERP functional consultant"], after["Test manager"]
    assert consultant[0] == "2" and consultant[3:5] == ["1", "50%"]  # next month: 1 of 2 (from today+10)
    assert tester[0] == "1" and "0.8" in tester and "80%" in tester   # from today+60
    dba_over = page.locator('[data-testid="table-by_role"] tbody tr', has_text="DBA").locator("td.over")
    expect(dba_over.first).to_be_visible()  # a month at 1.1 of 1 is highlighted now
    assert "1.1 (over capacity)" in after["DBA"]  # read out, not only coloured
    assert _overflow(page) == 0  # the wide table scrolls in its card; its hidden notes do not widen the page
    page.screenshot(path=str(SCREENSHOTS / "request-effect-capacity-after.png"), full_page=True)
