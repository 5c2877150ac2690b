"""A PMO analyst in Chromium: the portfolio dashboard, a filter kept in the URL, a project's
workspace from it, the heat map of where approvals wait, and the CSV and XLSX exports read back."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator

import pytest
from openpyxl import load_workbook

from tests.browser.conftest import SCREENSHOTS, serving, shipped_app, sign_in
from tests.portfolio.conftest import seed_projects, seed_tasks

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from app.core.extensions import db

    app = shipped_app(tmp_path_factory, "portfolio")
    with app.app_context():
        seed_projects()
        seed_tasks()
        db.session.remove()
    with serving(app, "pmo-portfolio") as url:
        yield url


def test_the_pmo_reads_the_portfolio_and_exports_it(live, new_page, tmp_path):
    from playwright.sync_api import expect

    page = new_page()
    page.on("console", lambda m: m.type == "error" and pytest.fail(f"console error: {m.text}"))
    sign_in(page, live, "petra")
    page.get_by_role("link", name="Portfolio", exact=True).click()
    expect(page.get_by_role("heading", name="Portfolio", exact=True)).to_be_visible()
    expect(page.get_by_test_id("project-count")).to_have_text("3 projects")
    expect(page.locator("canvas[data-chart='chart-pipeline']")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "portfolio-dashboard.png"), full_page=True)

    filters = page.get_by_test_id("portfolio-filters")
    filters.get_by_label("Phase").select_option(label="Planning")
    filters.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/portfolio\?.*phase=planning"))
    expect(page.get_by_test_id("project-count")).to_have_text("1 project")
    expect(filters.get_by_label("Phase")).to_have_value("planning")

    with page.expect_download() as download_info:
        page.get_by_test_id("csv-cost").click()
    path = tmp_path / "cost.csv"
    download_info.value.save_as(path)
    rows = list(csv.reader(path.open(encoding="utf-8")))
    assert rows[0][:4] == ["Project", "Baseline", "Actuals", "Forecast"]
    assert rows[1][:4] == ["BET-002 Beta", "50000.0", "55000.0", "55000.0"]  # the filter holds

    with page.expect_download() as download_info:
        page.get_by_test_id("xlsx-all").click()
    path = tmp_path / "portfolio.xlsx"
    download_info.value.save_as(path)
    book = load_workbook(path)
    risky = next(book[n] for n in book.sheetnames if n.startswith("Projects with a risk"))
    assert [c.value for c in risky[2]] == ["BET-002 Beta", 16, 1]

    page.get_by_test_id("table-cost").get_by_role("link", name="BET-002 Beta").click()
    expect(page).to_have_url(re.compile(r"/projects/\d+$"))
    expect(page.get_by_role("heading", name="Beta")).to_be_visible()

    page.goto(f"{live}/portfolio")
    page.get_by_role("link", name="Process analytics").click()
    process_filters = page.get_by_test_id("process-filters")
    process_filters.get_by_label("Heat map of").select_option(label="Change request")
    process_filters.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("heat-map")).to_have_attribute("data-ready", "true")
    badges = page.get_by_test_id("heat-badge")
    expect(badges.first).to_be_visible()
    expect(page.locator(".djs-element.heat-low").first).to_be_attached()
    assert any("2 waiting" in t for t in badges.all_text_contents())
    expect(page.get_by_role("cell", name="Approve (PM tolerance)").first).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "portfolio-heat-map.png"), full_page=True)
